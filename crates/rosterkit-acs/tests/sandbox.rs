//! AcsClient end to end over real loopback HTTP against the ACS emulator: every operation,
//! documented failures, token minting and refresh, paging, pacing, ensure mode, and the wire
//! itself from the sandbox journal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rosterkit_acs::{
    AcsClient, AcsClientBuilder, ChatParticipant, CommunicationIdentifier, Pacing,
};
use rosterkit_core::{
    ChangeOptions, ChatId, Error, ErrorKind, FixedClock, Handle, HttpClient, Membership, Outcome,
    ReqwestClient, RetryPolicy,
};
use rosterkit_sandbox::acs::{DEFAULT_USER_ID, DEFAULT_USER_TOKEN};
use rosterkit_sandbox::{Fault, FaultAction, JournalEntry, Method, Provider, Sandbox, StatusCode};
use serde_json::Value;

const ALICE: &str = "8:acs:1111_2222";
const BOB: &str = "8:acs:1111_3333";
const CAROL: &str = "8:acs:1111_4444";

fn ensure() -> ChangeOptions {
    ChangeOptions::ensure()
}

fn plain() -> ChangeOptions {
    ChangeOptions::default()
}

fn id(raw: &str) -> CommunicationIdentifier {
    CommunicationIdentifier::from_raw_id(raw)
}

fn chat(thread: &str) -> ChatId {
    ChatId::new(thread).unwrap()
}

/// Retries without noticeable waits.
fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .with_jitter(false)
}

/// The service user with the sandbox's fixed token; no pacing.
fn builder(sandbox: &Sandbox) -> AcsClientBuilder {
    let info = sandbox.info().acs;
    AcsClient::builder()
        .base_url(info.endpoint)
        .user_token(info.user_token)
        .retry_policy(quick())
        .pacing(Pacing::off())
}

/// The service user with tokens minted from the connection string.
fn minting(sandbox: &Sandbox) -> AcsClientBuilder {
    let info = sandbox.info().acs;
    AcsClient::builder()
        .connection_string(info.connection_string)
        .user_id(info.user_id)
        .retry_policy(quick())
        .pacing(Pacing::off())
}

fn acs_entries(sandbox: &Sandbox) -> Vec<JournalEntry> {
    sandbox.journal().entries_for(Provider::Acs)
}

fn body_json(entry: &JournalEntry) -> Value {
    serde_json::from_slice(&entry.body).unwrap()
}

#[tokio::test]
async fn remove_sends_exactly_the_documented_request() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = sandbox
        .acs()
        .seed_thread(rosterkit_sandbox::acs::AcsThreadSeed {
            id: Some("19:abc@thread.v2".into()),
            participants: vec![ALICE.into(), BOB.into()],
            ..Default::default()
        });
    let acs = builder(&sandbox).build().unwrap();
    let outcome = acs
        .remove(&chat(&thread), &id(ALICE), plain())
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Applied { roster: None, .. }),
        "{outcome:?}"
    );

    let entries = acs_entries(&sandbox);
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry.method, "POST");
    assert_eq!(
        entry.path,
        "/acs/chat/threads/19%3Aabc%40thread.v2/participants/:remove?api-version=2025-03-15"
    );
    assert_eq!(
        entry.header("authorization"),
        Some(format!("Bearer {DEFAULT_USER_TOKEN}").as_str())
    );
    assert_eq!(entry.header("content-type"), Some("application/json"));
    assert_eq!(
        entry.body_text(),
        r#"{"rawId":"8:acs:1111_2222","communicationUser":{"id":"8:acs:1111_2222"}}"#
    );
    let body = body_json(entry);
    assert_eq!(body["communicationUser"]["id"], ALICE);
    assert_eq!(body["rawId"], ALICE);
    assert_eq!(entry.status, Some(204));
    assert_eq!(
        entry.effects,
        vec![format!("acs:remove 19:abc@thread.v2 {ALICE}")]
    );
    assert_eq!(
        sandbox.acs().participants(&thread).unwrap(),
        vec![DEFAULT_USER_ID, BOB]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn membership_remove_add_list_and_handles() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE, "4:+14155551234"]));
    let acs = builder(&sandbox).build().unwrap();
    let membership: &dyn Membership = &acs;
    assert_eq!(membership.provider(), "acs");
    let caps = membership.capabilities();
    assert!(caps.remove && caps.add && caps.leave && caps.list && caps.batch);
    assert_eq!(caps.max_batch, Some(200));
    assert!(caps.handles.phone && caps.handles.native && !caps.handles.email);

    // A phone number maps to a phoneNumber identifier with rawId 4:+1...
    let phone: Handle = "+14155551234".parse().unwrap();
    let outcome = membership
        .remove_participant(&thread, &phone, plain())
        .await
        .unwrap();
    assert_eq!(outcome.as_str(), "applied");
    assert_eq!(
        acs_entries(&sandbox)[0].body_text(),
        r#"{"rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}}"#
    );

    let bob: Handle = BOB.parse().unwrap();
    let outcome = membership
        .add_participant(&thread, &bob, plain())
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::applied(None));
    let add = acs_entries(&sandbox).pop().unwrap();
    assert!(
        add.path
            .ends_with("/participants/:add?api-version=2025-03-15"),
        "{}",
        add.path
    );
    assert_eq!(
        add.body_text(),
        r#"{"participants":[{"communicationIdentifier":{"rawId":"8:acs:1111_3333","communicationUser":{"id":"8:acs:1111_3333"}}}]}"#
    );
    assert_eq!(add.status, Some(201));

    let members = membership.participants(&thread).await.unwrap();
    let handles: Vec<String> = members.iter().map(|p| p.handle.to_string()).collect();
    assert_eq!(handles, [DEFAULT_USER_ID, ALICE, BOB]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = minting(&sandbox).build().unwrap();
    let email: Handle = "a@example.com".parse().unwrap();
    let lid: Handle = "1234@lid".parse().unwrap();
    for handle in [&email, &lid] {
        let err = acs
            .remove_participant(&thread, handle, plain())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = acs
            .add_participant(&thread, handle, plain())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    let bad_thread = chat("ch_not_an_acs_thread");
    let alice: Handle = ALICE.parse().unwrap();
    for err in [
        acs.remove_participant(&bad_thread, &alice, plain())
            .await
            .unwrap_err(),
        acs.leave(&bad_thread, ensure()).await.unwrap_err(),
        acs.participants(&bad_thread).await.unwrap_err(),
        acs.add_participants(&bad_thread, std::slice::from_ref(&alice), plain())
            .await
            .pop()
            .unwrap()
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
    // Not even a token was minted.
    assert!(
        sandbox.journal().is_empty(),
        "{:?}",
        sandbox.journal().entries()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bulk_add_maps_invalid_participants_back_to_each_handle() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    sandbox
        .acs()
        .set_invalid_participant(CAROL, "403", "Permissions check failed");
    let acs = builder(&sandbox).build().unwrap();
    let handles: Vec<Handle> = [BOB, CAROL, "99:unknown:x", ALICE]
        .iter()
        .map(|h| h.parse().unwrap())
        .chain(["a@example.com".parse().unwrap()])
        .collect();
    let results = acs.add_participants(&thread, &handles, plain()).await;
    let summary: Vec<Result<&str, ErrorKind>> = results
        .iter()
        .map(|r| r.as_ref().map(Outcome::as_str).map_err(Error::kind))
        .collect();
    assert_eq!(
        summary,
        [
            Ok("applied"),
            Err(ErrorKind::Forbidden),
            Err(ErrorKind::InvalidInput),
            Ok("applied"),
            Err(ErrorKind::InvalidInput),
        ]
    );
    let refused = results[1].as_ref().unwrap_err();
    assert_eq!(refused.code(), Some("403"));
    assert!(
        refused.to_string().contains("Permissions check failed"),
        "{refused}"
    );
    // One request for the four ACS handles; the email never left.
    let entries = acs_entries(&sandbox);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        body_json(&entries[0])["participants"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        entries[0].effects,
        vec![format!("acs:add {} {BOB}", thread.as_str())]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn adds_over_200_go_in_several_calls() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[]));
    let acs = builder(&sandbox).build().unwrap();
    let participants: Vec<ChatParticipant> = (0..201)
        .map(|i| {
            ChatParticipant::new(id(&format!("8:acs:r_{i:04}"))).with_display_name(format!("P{i}"))
        })
        .collect();
    let result = acs.add(&thread, &participants).await.unwrap();
    assert!(result.invalid_participants.is_empty());
    let sizes: Vec<usize> = acs_entries(&sandbox)
        .iter()
        .map(|e| body_json(e)["participants"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [200, 1]);
    assert_eq!(
        sandbox.acs().participants(thread.as_str()).unwrap().len(),
        202
    );
    let listed = acs.list(&thread).await.unwrap();
    assert_eq!(listed.len(), 202);
    assert_eq!(listed[1].display_name.as_deref(), Some("P0"));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn listing_follows_same_host_next_links() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[
        ALICE,
        BOB,
        CAROL,
        "4:+14155551234",
        "8:orgid:teams-user",
    ]));
    let acs = builder(&sandbox).page_size(2).build().unwrap();
    let members = acs.list(&thread).await.unwrap();
    let raw: Vec<&str> = members.iter().map(|p| p.identifier.raw_id()).collect();
    assert_eq!(
        raw,
        [
            DEFAULT_USER_ID,
            ALICE,
            BOB,
            CAROL,
            "4:+14155551234",
            "8:orgid:teams-user"
        ]
    );
    let kinds: Vec<&str> = members.iter().map(|p| p.identifier.kind()).collect();
    assert_eq!(kinds[4..], ["phoneNumber", "microsoftTeamsUser"]);
    let entries = acs_entries(&sandbox);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let encoded =
        "19%3A".to_owned() + &thread.as_str()[3..thread.as_str().len() - 10] + "%40thread.v2";
    assert_eq!(
        paths[0],
        format!("/acs/chat/threads/{encoded}/participants?maxPageSize=2&api-version=2025-03-15")
    );
    // The next pages are the emulator's nextLinks, followed verbatim (raw `19:..@thread.v2`).
    assert_eq!(
        paths[1..],
        [
            format!(
                "/acs/chat/threads/{}/participants?skip=2&maxPageSize=2&api-version=2025-03-15",
                thread.as_str()
            ),
            format!(
                "/acs/chat/threads/{}/participants?skip=4&maxPageSize=2&api-version=2025-03-15",
                thread.as_str()
            ),
        ]
    );
    assert!(entries.iter().all(|e| {
        e.header("authorization")
            .is_some_and(|a| a.starts_with("Bearer "))
    }));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn listing_refuses_a_next_link_to_another_host() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE, BOB]));
    sandbox
        .acs()
        .set_foreign_next_link(Some("http://127.0.0.2:9"));
    let acs = builder(&sandbox).page_size(1).build().unwrap();
    let err = acs.list(&thread).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.to_string()
            .contains("refused to follow nextLink to another host"),
        "{err}"
    );
    // Only the first page was fetched; nothing went to the other host with our token.
    assert_eq!(acs_entries(&sandbox).len(), 1);
    // Same port, other host name: refused too.
    let port = sandbox.addr().port();
    sandbox
        .acs()
        .set_foreign_next_link(Some(&format!("http://localhost:{port}")));
    assert_eq!(
        acs.list(&thread).await.unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn tokens_are_minted_with_the_access_key_and_reused() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE, BOB]));
    let acs = minting(&sandbox).build().unwrap();
    acs.remove(&thread, &id(ALICE), plain()).await.unwrap();
    acs.remove(&thread, &id(BOB), plain()).await.unwrap();
    let entries = acs_entries(&sandbox);
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths.len(), 3, "{paths:?}");
    let mint = &entries[0];
    assert_eq!(
        mint.path,
        "/acs/identities/8%3Aacs%3Asandbox_service/:issueAccessToken?api-version=2023-10-01"
    );
    assert_eq!(
        mint.body_text(),
        r#"{"scopes":["chat"],"expiresInMinutes":60}"#
    );
    assert!(
        mint.header("authorization")
            .unwrap()
            .starts_with("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=")
    );
    assert_eq!(mint.status, Some(200));
    // Both chat calls used the one minted token.
    let bearer = |e: &JournalEntry| e.header("authorization").unwrap().to_owned();
    assert_eq!(bearer(&entries[1]), bearer(&entries[2]));
    assert_ne!(bearer(&entries[1]), format!("Bearer {DEFAULT_USER_TOKEN}"));
    assert!(entries[1..].iter().all(|e| e.status == Some(204)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_wrong_access_key_is_unauthorized() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let info = sandbox.info().acs;
    let acs = AcsClient::builder()
        .base_url(info.endpoint)
        .access_key("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
        .user_id(info.user_id)
        .retry_policy(quick())
        .build()
        .unwrap();
    let err = acs.remove(&thread, &id(ALICE), plain()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.operation(), Some("issue_access_token"));
    assert_eq!(acs_entries(&sandbox).len(), 1, "401 is not retried");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn minted_tokens_are_refreshed_before_they_expire() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE, BOB, CAROL]));
    let now = sandbox.now_unix();
    let clock = Arc::new(MovableClock::at(now));
    let acs = minting(&sandbox).clock(clock.clone()).build().unwrap();
    sandbox.pin_clock(Some(now));
    acs.remove(&thread, &id(ALICE), plain()).await.unwrap();
    // 54 minutes later the token (60 minutes) is still good; at 56 it is refreshed. The
    // emulator's clock moves along, so the signature's date stays in its window.
    for (minutes, who) in [(54, BOB), (56, CAROL)] {
        clock.set(now + minutes * 60);
        sandbox.pin_clock(Some(now + minutes * 60));
        acs.remove(&thread, &id(who), plain()).await.unwrap();
    }
    let mints = acs_entries(&sandbox)
        .iter()
        .filter(|e| e.path.contains(":issueAccessToken"))
        .count();
    assert_eq!(mints, 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_mint_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let members: Vec<String> = (0..8).map(|i| format!("8:acs:c_{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let thread = chat(&sandbox.acs().create_thread(&refs));
    let acs = minting(&sandbox).build().unwrap();
    let mut tasks = Vec::new();
    for member in &members {
        let (acs, thread, who) = (acs.clone(), thread.clone(), id(member));
        tasks.push(tokio::spawn(async move {
            acs.remove(&thread, &who, plain()).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mints = acs_entries(&sandbox)
        .iter()
        .filter(|e| e.path.contains(":issueAccessToken"))
        .count();
    assert_eq!(mints, 1, "single-flight");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_401_with_a_minted_token_refreshes_once_and_retries() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = minting(&sandbox).build().unwrap();
    sandbox.faults().inject(
        Fault::new(
            Provider::Acs,
            FaultAction::acs_error(StatusCode::UNAUTHORIZED, "Unauthorized", None, None),
        )
        .path_contains("/participants/:remove"),
    );
    acs.remove(&thread, &id(ALICE), plain()).await.unwrap();
    let statuses: Vec<(bool, Option<u16>)> = acs_entries(&sandbox)
        .iter()
        .map(|e| (e.path.contains(":issueAccessToken"), e.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (true, Some(200)),
            (false, Some(401)),
            (true, Some(200)),
            (false, Some(204))
        ]
    );
    // A second 401 in a row is returned, not looped on.
    sandbox.faults().inject(
        Fault::new(
            Provider::Acs,
            FaultAction::acs_error(StatusCode::UNAUTHORIZED, "Unauthorized", None, None),
        )
        .path_contains("/participants?")
        .times(2),
    );
    assert_eq!(
        acs.list(&thread).await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    // With a fixed user token there is nothing to refresh: one attempt.
    sandbox.journal().clear();
    sandbox.faults().inject(Fault::new(
        Provider::Acs,
        FaultAction::acs_error(StatusCode::UNAUTHORIZED, "Unauthorized", None, None),
    ));
    let fixed = builder(&sandbox).build().unwrap();
    assert_eq!(
        fixed.list(&thread).await.unwrap_err().kind(),
        ErrorKind::Unauthorized
    );
    assert_eq!(acs_entries(&sandbox).len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn documented_failures_map_to_kinds_and_permanent_ones_are_sent_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = builder(&sandbox).build().unwrap();
    // Unknown thread: 404 NotFound from the emulator.
    let unknown = chat("19:doesnotexist@thread.v2");
    let err = acs.list(&unknown).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code(), err.http_status()),
        (ErrorKind::ChatNotFound, Some("NotFound"), Some(404))
    );
    // ... and on remove too (a non-member's removal answers 204, so a 404 is the thread),
    // in ensure mode as well.
    let err = acs.remove(&unknown, &id(ALICE), plain()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    let err = acs
        .remove(&unknown, &id(ALICE), ensure())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    // A thread we are not in: 403.
    let foreign = chat(
        &sandbox
            .acs()
            .seed_thread(rosterkit_sandbox::acs::AcsThreadSeed {
                participants: vec![ALICE.into()],
                include_service_user: false,
                ..Default::default()
            }),
    );
    let err = acs
        .remove(&foreign, &id(ALICE), ensure())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Forbidden, Some("Forbidden"))
    );
    // An unsupported api-version: 400 BadRequest.
    let old = builder(&sandbox).api_version("2020-01-01").build().unwrap();
    let err = old.list(&thread).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::InvalidInput, Some("BadRequest"))
    );
    assert!(err.to_string().contains("api-version"), "{err}");
    // Each of those was sent once.
    let statuses: Vec<Option<u16>> = acs_entries(&sandbox).iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [Some(404), Some(404), Some(404), Some(403), Some(400)]
    );
    // Removing a non-member: 204 from the emulator.
    assert_eq!(
        acs.remove(&thread, &id(BOB), plain())
            .await
            .unwrap()
            .as_str(),
        "applied"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn throttled_calls_are_retried_after_the_servers_delay() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = builder(&sandbox).build().unwrap();
    for header in ["retry-after-ms", "x-ms-retry-after-ms"] {
        sandbox.journal().clear();
        sandbox.faults().inject(Fault::new(
            Provider::Acs,
            FaultAction::Respond {
                status: StatusCode::TOO_MANY_REQUESTS,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    (header.into(), "20".into()),
                ],
                body: r#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded."}}"#
                    .into(),
            },
        ));
        let started = std::time::Instant::now();
        acs.list(&thread).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(20), "{header}");
        let statuses: Vec<Option<u16>> = acs_entries(&sandbox).iter().map(|e| e.status).collect();
        assert_eq!(statuses, [Some(429), Some(200)], "{header}");
    }
    // A 429 on remove did nothing: retried even without ensure.
    sandbox.journal().clear();
    sandbox.faults().inject(
        Fault::new(
            Provider::Acs,
            FaultAction::Respond {
                status: StatusCode::TOO_MANY_REQUESTS,
                headers: vec![("retry-after-ms".into(), "1".into())],
                body: Default::default(),
            },
        )
        .method(Method::POST),
    );
    acs.remove(&thread, &id(ALICE), plain()).await.unwrap();
    let statuses: Vec<Option<u16>> = acs_entries(&sandbox).iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(429), Some(204)]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_remove_is_not_repeated_without_ensure() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = builder(&sandbox).build().unwrap();
    sandbox.faults().inject(
        Fault::new(
            Provider::Acs,
            FaultAction::acs_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                None,
                None,
            ),
        )
        .method(Method::POST),
    );
    let err = acs.remove(&thread, &id(ALICE), plain()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert!(err.is_ambiguous() && err.is_retryable());
    assert_eq!(acs_entries(&sandbox).len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn ensure_checks_membership_before_repeating_an_ambiguous_remove() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE, BOB]));
    let acs = builder(&sandbox).build().unwrap();

    // The remove went through but the reply was lost: the list shows Alice gone.
    sandbox
        .faults()
        .inject(Fault::new(Provider::Acs, FaultAction::DropAfterApply).path_contains(":remove"));
    let outcome = acs.remove(&thread, &id(ALICE), ensure()).await.unwrap();
    assert_eq!(outcome, Outcome::already_done());
    let calls: Vec<(String, Option<u16>)> = acs_entries(&sandbox)
        .iter()
        .map(|e| (e.method.clone(), e.status))
        .collect();
    assert_eq!(
        calls,
        [("POST".to_owned(), None), ("GET".to_owned(), Some(200))]
    );

    // A 503 before anything happened: the list shows Bob present, so the remove is repeated.
    sandbox.journal().clear();
    sandbox.faults().inject(
        Fault::new(
            Provider::Acs,
            FaultAction::acs_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                None,
                None,
            ),
        )
        .path_contains(":remove"),
    );
    let outcome = acs.remove(&thread, &id(BOB), ensure()).await.unwrap();
    assert_eq!(outcome.as_str(), "applied");
    let calls: Vec<(String, Option<u16>)> = acs_entries(&sandbox)
        .iter()
        .map(|e| (e.method.clone(), e.status))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST".to_owned(), Some(503)),
            ("GET".to_owned(), Some(200)),
            ("POST".to_owned(), Some(204)),
        ]
    );
    assert_eq!(
        sandbox.acs().participants(thread.as_str()).unwrap(),
        vec![DEFAULT_USER_ID]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn leave_removes_our_own_identity_from_the_token_claims() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = builder(&sandbox).build().unwrap();
    assert_eq!(acs.own_identity().unwrap().raw_id(), DEFAULT_USER_ID);
    let outcome = acs.leave(&thread, plain()).await.unwrap();
    assert_eq!(outcome.as_str(), "applied");
    let entry = acs_entries(&sandbox).pop().unwrap();
    assert!(
        entry
            .path
            .ends_with("/participants/:remove?api-version=2025-03-15")
    );
    assert_eq!(body_json(&entry)["rawId"], DEFAULT_USER_ID);
    assert_eq!(
        sandbox.acs().participants(thread.as_str()).unwrap(),
        vec![ALICE]
    );
    // Once out, we cannot act on the thread: a plain leave is refused...
    let err = acs.leave(&thread, plain()).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::Forbidden, Some("leave"))
    );
    // ... and in ensure mode the listing, refused too, shows we are out.
    assert_eq!(
        acs.leave(&thread, ensure()).await.unwrap(),
        Outcome::already_done()
    );
    let last = acs_entries(&sandbox).pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("GET", Some(403)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn an_ambiguous_leave_in_ensure_mode_is_already_done() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let acs = minting(&sandbox).build().unwrap();
    sandbox
        .faults()
        .inject(Fault::new(Provider::Acs, FaultAction::DropAfterApply).path_contains(":remove"));
    assert_eq!(
        acs.leave(&thread, ensure()).await.unwrap(),
        Outcome::already_done()
    );
    // The check after the lost reply was a list, answered 403: we are out.
    let last = acs_entries(&sandbox).pop().unwrap();
    assert_eq!((last.method.as_str(), last.status), ("GET", Some(403)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn leave_without_a_known_identity_explains_how_to_configure_it() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[]));
    let acs = AcsClient::builder()
        .base_url(sandbox.info().acs.endpoint)
        .user_token("opaque-token-without-claims")
        .build()
        .unwrap();
    let err = acs.leave(&thread, plain()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("ACS_USER_ID"), "{err}");
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn pacing_keeps_a_bulk_remove_under_the_emulators_limits() {
    let sandbox = Sandbox::start().await.unwrap();
    let members: Vec<String> = (0..31).map(|i| format!("8:acs:p_{i:02}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let thread = chat(&sandbox.acs().create_thread(&refs));
    let acs = builder(&sandbox)
        .pacing(rosterkit_acs::documented_pacing())
        .retry_policy(RetryPolicy::no_retries().with_attempt_timeout(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let handles: Vec<Handle> = members.iter().map(|m| m.parse().unwrap()).collect();
    let started = tokio::time::Instant::now();
    let results = acs.remove_participants(&thread, &handles, plain()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // 10 + 10 + 10 in the first 20 s, the 31st only once a minute has passed.
    assert!(
        started.elapsed() >= Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let statuses: Vec<Option<u16>> = acs_entries(&sandbox).iter().map(|e| e.status).collect();
    assert_eq!(statuses, vec![Some(204); 31], "no 429 met");
    sandbox.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn without_pacing_the_emulator_throttles_with_retry_after() {
    let sandbox = Sandbox::start().await.unwrap();
    let members: Vec<String> = (0..11).map(|i| format!("8:acs:q_{i:02}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let thread = chat(&sandbox.acs().create_thread(&refs));
    let acs = builder(&sandbox)
        .retry_policy(RetryPolicy::no_retries().with_attempt_timeout(Duration::from_secs(3600)))
        .build()
        .unwrap();
    for member in &members[..10] {
        acs.remove(&thread, &id(member), plain()).await.unwrap();
    }
    let err = acs
        .remove(&thread, &id(&members[10]), plain())
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::RateLimited, Some("TooManyRequests"))
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
    let last = acs_entries(&sandbox).pop().unwrap();
    assert_eq!(last.status, Some(429));
    assert!(last.effects.is_empty());
    // With retries, the executor waits the 10 s and gets through.
    let patient = builder(&sandbox)
        .retry_policy(quick().with_attempt_timeout(Duration::from_secs(3600)))
        .build()
        .unwrap();
    patient
        .remove(&thread, &id(&members[10]), plain())
        .await
        .unwrap();
    sandbox.shutdown().await;
}

#[tokio::test]
async fn emulator_checks_api_version_and_auth_on_raw_requests() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = sandbox.acs().create_thread(&[ALICE]);
    let http = ReqwestClient::new().unwrap();
    let endpoint = sandbox.info().acs.endpoint;
    let encoded = rosterkit_core::encode::path_segment(&thread);
    let send = |path: String, auth: Option<String>| {
        let mut request = http::Request::builder()
            .method("GET")
            .uri(format!("{endpoint}{path}"));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let request = request.body(bytes::Bytes::new()).unwrap();
        let http = http.clone();
        async move { http.send(request).await.unwrap() }
    };
    let bearer = Some(format!("Bearer {DEFAULT_USER_TOKEN}"));
    for (path, auth, status, code) in [
        (
            format!("/chat/threads/{encoded}/participants"),
            bearer.clone(),
            400,
            "BadRequest",
        ),
        (
            format!("/chat/threads/{encoded}/participants?api-version=1999-01-01"),
            bearer.clone(),
            400,
            "BadRequest",
        ),
        (
            format!("/chat/threads/{encoded}/participants?api-version=2025-03-15"),
            None,
            401,
            "Unauthorized",
        ),
        (
            format!("/chat/threads/{encoded}/participants?api-version=2025-03-15"),
            Some("Bearer nope".into()),
            401,
            "Unauthorized",
        ),
        (
            "/chat/nothing-here".to_owned(),
            bearer.clone(),
            404,
            "NotFound",
        ),
    ] {
        let reply = send(path.clone(), auth).await;
        assert_eq!(reply.status().as_u16(), status, "{path}");
        assert_eq!(reply.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_slice(reply.body()).unwrap();
        assert_eq!(body["error"]["code"], code, "{path}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    // A good request lists identifiers with kind, rawId and the kind's object.
    let reply = send(
        format!("/chat/threads/{thread}/participants?api-version=2025-03-15"),
        bearer,
    )
    .await;
    assert_eq!(reply.status().as_u16(), 200);
    assert!(reply.headers().contains_key("api-supported-versions"));
    let body: Value = serde_json::from_slice(reply.body()).unwrap();
    assert_eq!(
        body["value"][1]["communicationIdentifier"],
        serde_json::json!({"kind":"communicationUser","rawId":ALICE,"communicationUser":{"id":ALICE}})
    );
    assert_eq!(body["value"][1]["shareHistoryTime"], "1970-01-01T00:00:00Z");
    assert!(body.get("nextLink").is_none());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn the_emulator_verifies_signatures_at_a_fixed_clock() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE, BOB]));
    // The client signs at T0; the emulator's clock agrees, then drifts past ±15 minutes.
    const T0: u64 = 1_700_000_000;
    sandbox.pin_clock(Some(T0 + 14 * 60));
    let acs = minting(&sandbox)
        .clock(Arc::new(FixedClock::at_unix(T0)))
        .build()
        .unwrap();
    acs.remove(&thread, &id(ALICE), plain()).await.unwrap();
    let mint = acs_entries(&sandbox).remove(0);
    assert_eq!(
        mint.header("x-ms-date"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    sandbox.pin_clock(Some(T0 + 16 * 60));
    let stale = minting(&sandbox)
        .clock(Arc::new(FixedClock::at_unix(T0)))
        .build()
        .unwrap();
    let err = stale.remove(&thread, &id(BOB), plain()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn from_env_style_configuration_reaches_the_sandbox() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = chat(&sandbox.acs().create_thread(&[ALICE]));
    let info = sandbox.info().acs;
    // The connection string as ACS_CONNECTION_STRING would give it (trailing `/` and all).
    assert!(
        info.connection_string
            .starts_with("endpoint=http://127.0.0.1:")
    );
    let acs = AcsClient::builder()
        .connection_string(info.connection_string.clone())
        .user_id(info.user_id.clone())
        .pacing(Pacing::off())
        .build()
        .unwrap();
    assert_eq!(acs.own_identity().unwrap().raw_id(), DEFAULT_USER_ID);
    acs.remove(&thread, &id(ALICE), ensure()).await.unwrap();
    assert!(!format!("{acs:?}").contains(&info.access_key));
    sandbox.shutdown().await;
}

/// A clock tests can move.
#[derive(Debug)]
struct MovableClock(std::sync::atomic::AtomicU64);

impl MovableClock {
    fn at(unix: u64) -> Self {
        Self(std::sync::atomic::AtomicU64::new(unix))
    }

    fn set(&self, unix: u64) {
        self.0.store(unix, std::sync::atomic::Ordering::SeqCst);
    }
}

impl rosterkit_core::Clock for MovableClock {
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
