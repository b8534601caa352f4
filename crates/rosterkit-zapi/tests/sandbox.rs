//! End to end over loopback HTTP against the Z-API emulator of `rosterkit-sandbox`: every
//! operation, every documented failure, retries and their absence, pacing, and the exact wire
//! (from the sandbox journal).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rosterkit_core::{ChangeOptions, ChatId, ErrorKind, Handle, Membership, Outcome, RetryPolicy};
use rosterkit_sandbox::zapi::{ZapiCommunitySeed, ZapiGroupSeed};
use rosterkit_sandbox::{Fault, FaultAction, JournalEntry, Method, Provider, Sandbox, StatusCode};
use rosterkit_zapi::{ZapiClient, ZapiClientBuilder};

const INSTANCE: &str = "/zapi/instances/3C01A2B3C4/token/TOKEN123";
const A: &str = "5544999999999";
const B: &str = "5544888888888";
const C: &str = "5544777777777";
const ME: &str = "5511999999999";

fn h(s: &str) -> Handle {
    s.parse().unwrap()
}

fn phone(digits: &str) -> Handle {
    h(&format!("+{digits}"))
}

fn chat(id: &str) -> ChatId {
    ChatId::new(id).unwrap()
}

fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .with_jitter(false)
}

/// A client for the sandbox: no pacing (tests of pacing set it back), tiny retry backoffs.
fn builder(sandbox: &Sandbox) -> ZapiClientBuilder {
    let info = sandbox.info().zapi;
    ZapiClient::builder()
        .base_url(info.base_url)
        .instance_id(info.instance_id)
        .instance_token(info.instance_token)
        .client_token(info.client_token)
        .pacing(Duration::ZERO)
        .retry_policy(fast())
}

fn client(sandbox: &Sandbox) -> ZapiClient {
    builder(sandbox).build().unwrap()
}

fn entries(sandbox: &Sandbox) -> Vec<JournalEntry> {
    sandbox.journal().entries_for(Provider::Zapi)
}

/// Method and path suffix (after the instance prefix) of every request, in order.
fn calls(sandbox: &Sandbox) -> Vec<(String, String)> {
    entries(sandbox)
        .into_iter()
        .map(|e| {
            let suffix = e.path.strip_prefix(INSTANCE).unwrap_or(&e.path).to_owned();
            (e.method, suffix)
        })
        .collect()
}

fn call(method: &str, suffix: &str) -> (String, String) {
    (method.to_owned(), suffix.to_owned())
}

#[track_caller]
fn assert_kind(result: &Result<Outcome, rosterkit_core::Error>, kind: ErrorKind) {
    match result {
        Err(e) => assert_eq!(e.kind(), kind, "{e}"),
        Ok(o) => panic!("expected {kind}, got {o:?}"),
    }
}

#[track_caller]
fn assert_outcome(result: &Result<Outcome, rosterkit_core::Error>, name: &str) {
    match result {
        Ok(o) => assert_eq!(o.as_str(), name, "{o:?}"),
        Err(e) => panic!("expected {name}, got {e}"),
    }
}

/// The issue's "done when": one request for two phones of a community, exact wire; an email
/// sends nothing.
#[tokio::test]
async fn remove_two_from_a_community_sends_exactly_one_request() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.zapi().create_community_with(ZapiCommunitySeed {
        id: Some("120363186053925765".into()),
        members: vec![A.into(), B.into()],
        ..ZapiCommunitySeed::default()
    });
    let zapi = client(&sandbox);
    let community = chat("120363186053925765");
    let results = zapi
        .remove_participants(
            &community,
            &[h("+5544999999999"), h("+5544888888888")],
            ChangeOptions::default(),
        )
        .await;
    assert_eq!(results.len(), 2);
    for r in &results {
        assert_outcome(r, "unconfirmed");
    }
    let journal = entries(&sandbox);
    assert_eq!(journal.len(), 1);
    let e = &journal[0];
    assert_eq!(e.method, "POST");
    assert_eq!(e.path, format!("{INSTANCE}/remove-participant"));
    assert_eq!(e.header("client-token"), Some("acct-secret"));
    assert_eq!(e.header("content-type"), Some("application/json"));
    assert_eq!(
        e.body_text(),
        r#"{"communityId":"120363186053925765","phones":["5544999999999","5544888888888"]}"#
    );
    assert_eq!(e.status, Some(200));
    assert_eq!(
        sandbox.zapi().members("120363186053925765").unwrap(),
        vec![ME]
    );

    // An email is InvalidInput and sends nothing.
    sandbox.journal().clear();
    let email = h("alice@example.com");
    let err = zapi
        .remove_participant(&community, &email, ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.provider(), Some("zapi"));
    assert!(err.message().contains("email"), "{err}");
    assert_eq!(err.attempts(), 0);
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn verify_turns_value_true_into_applied_with_the_roster() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A, B]);
    let zapi = builder(&sandbox).verify(true).build().unwrap();
    assert!(zapi.verifies());
    let result = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::default())
        .await
        .unwrap();
    let Outcome::Applied { roster, .. } = result else {
        panic!("{result:?}")
    };
    assert_eq!(roster.unwrap(), vec![phone(ME), phone(B)]);
    assert_eq!(
        calls(&sandbox),
        vec![
            call("POST", "/remove-participant"),
            call("GET", &format!("/light-group-metadata/{group}")),
        ]
    );
    let read = &entries(&sandbox)[1];
    assert_eq!(read.header("accept"), Some("application/json"));
    assert_eq!(read.header("client-token"), Some("acct-secret"));
    assert!(read.body.is_empty());

    // An add through verify: present afterwards → Applied.
    let added = zapi
        .add_participant(&chat(&group), &phone(C), ChangeOptions::default())
        .await;
    assert_outcome(&added, "applied");
    assert_eq!(
        entries(&sandbox)[2].body_text(),
        format!(r#"{{"autoInvite":false,"groupId":"{group}","phones":["{C}"]}}"#)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bulk_refuses_bad_handles_locally_and_batches_the_rest() {
    let sandbox = Sandbox::start().await.unwrap();
    let lid = "999999999999999@lid";
    let group = sandbox.zapi().create_group(&[A, B, lid]);
    let zapi = client(&sandbox);
    let handles = [
        phone(A),
        h("bob@example.com"),
        phone(B),
        h("8:acs:1111_2222"),
        h(lid),
        phone(A), // a duplicate: sent once, reported twice
    ];
    let results = zapi
        .remove_participants(&chat(&group), &handles, ChangeOptions::default())
        .await;
    assert_eq!(results.len(), 6);
    assert_outcome(&results[0], "unconfirmed");
    assert_kind(&results[1], ErrorKind::InvalidInput);
    assert_outcome(&results[2], "unconfirmed");
    assert_kind(&results[3], ErrorKind::InvalidInput);
    assert_outcome(&results[4], "unconfirmed");
    assert_outcome(&results[5], "unconfirmed");
    let journal = entries(&sandbox);
    assert_eq!(journal.len(), 1);
    assert_eq!(
        journal[0].body_text(),
        format!(r#"{{"groupId":"{group}","phones":["{A}","{B}","{lid}"]}}"#)
    );
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME]);

    // Nothing valid: nothing sent.
    sandbox.journal().clear();
    let results = zapi
        .add_participants(&chat(&group), &[h("a@b.co")], ChangeOptions::default())
        .await;
    assert_kind(&results[0], ErrorKind::InvalidInput);
    let results = zapi
        .add_participants(&chat(&group), &[], ChangeOptions::default())
        .await;
    assert!(results.is_empty());
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn invalid_chat_ids_send_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let zapi = client(&sandbox);
    for bad in [
        "ch_01HTEST",
        "19:abc@thread.v2",
        "+5511999999999",
        "group:a/b",
    ] {
        let results = zapi
            .remove_participants(&chat(bad), &[phone(A), phone(B)], ChangeOptions::default())
            .await;
        assert_eq!(results.len(), 2);
        for r in &results {
            assert_kind(r, ErrorKind::InvalidInput);
        }
        assert_eq!(
            zapi.leave(&chat(bad), ChangeOptions::default())
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            zapi.participants(&chat(bad)).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

/// More than 50 phones: several requests, paced 2 s apart by default (tokio time is paused, so
/// the waits take no real time), one result per handle in order.
#[tokio::test(start_paused = true)]
async fn large_lists_are_split_and_paced() {
    let sandbox = Sandbox::start().await.unwrap();
    let members: Vec<String> = (0..120).map(|i| format!("55449{i:08}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let group = sandbox.zapi().create_group(&refs);
    let zapi = builder(&sandbox)
        .pacing(rosterkit_zapi::DEFAULT_PACING)
        .build()
        .unwrap();
    assert_eq!(
        zapi.pacing(),
        rosterkit_core::Pacing::from(Duration::from_secs(2))
    );
    let handles: Vec<Handle> = members.iter().map(|m| phone(m)).collect();
    let start = tokio::time::Instant::now();
    let results = zapi
        .remove_participants(&chat(&group), &handles, ChangeOptions::default())
        .await;
    let elapsed = start.elapsed();
    assert_eq!(results.len(), 120);
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(Outcome::Unconfirmed { .. })))
    );
    let journal = entries(&sandbox);
    let sizes: Vec<usize> = journal
        .iter()
        .map(|e| {
            let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
            body["phones"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    let first: serde_json::Value = serde_json::from_slice(&journal[0].body).unwrap();
    assert_eq!(first["phones"][0], members[0]);
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME]);

    // Mutations of clones and of different methods share the pacing; reads are not paced.
    let clone = zapi.clone();
    let start = tokio::time::Instant::now();
    let _ = clone.participants(&chat(&group)).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(1));
    let _ = clone
        .leave(&chat(&group), ChangeOptions::default())
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn value_false_fails_the_whole_batch_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);
    let zapi = client(&sandbox);
    // A is a member, C is not: Z-API answers value:false for both (A is gone anyway).
    let results = zapi
        .remove_participants(
            &chat(&group),
            &[phone(A), phone(C)],
            ChangeOptions::default(),
        )
        .await;
    for r in &results {
        assert_kind(r, ErrorKind::DeliveryFailed);
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.code(), Some("value_false"));
        assert_eq!(e.http_status(), Some(200));
        assert!(!e.is_retryable());
    }
    assert_eq!(entries(&sandbox).len(), 1, "value:false is never retried");
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn ensure_reconciles_with_the_roster() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);
    let zapi = client(&sandbox);
    let ensure = ChangeOptions::ensure();

    // §8 B: value:false, then metadata shows the phone absent → AlreadyDone.
    let r = zapi
        .remove_participant(&chat(&group), &phone(C), ensure)
        .await;
    assert_outcome(&r, "already_done");
    assert_eq!(
        calls(&sandbox),
        vec![
            call("POST", "/remove-participant"),
            call("GET", &format!("/light-group-metadata/{group}")),
        ]
    );

    // value:false while the phone is still listed: sent once more (only that phone).
    sandbox.journal().clear();
    sandbox.faults().inject(
        Fault::new(Provider::Zapi, FaultAction::zapi_value(false))
            .path_contains("/remove-participant"),
    );
    let results = zapi
        .remove_participants(&chat(&group), &[phone(A), phone(C)], ensure)
        .await;
    assert_outcome(&results[0], "unconfirmed");
    assert_outcome(&results[1], "already_done");
    let journal = entries(&sandbox);
    assert_eq!(journal.len(), 3);
    assert_eq!(
        journal[2].body_text(),
        format!(r#"{{"groupId":"{group}","phones":["{A}"]}}"#)
    );
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME]);

    // Adding a present member in ensure mode is AlreadyDone; without ensure (verify) it is
    // Unconfirmed with the roster: Z-API does not say whether this call added it.
    let verify = builder(&sandbox).verify(true).build().unwrap();
    let r = verify
        .add_participant(&chat(&group), &phone(ME), ensure)
        .await;
    assert_outcome(&r, "already_done");
    let r = verify
        .add_participant(&chat(&group), &phone(ME), ChangeOptions::default())
        .await;
    assert_outcome(&r, "unconfirmed");
    assert!(r.unwrap().roster().unwrap().contains(&phone(ME)));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn adds_of_non_contacts_and_auto_invite() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);
    sandbox.zapi().set_contact(C, false);
    let zapi = builder(&sandbox).verify(true).build().unwrap();
    let r = zapi
        .add_participant(&chat(&group), &phone(C), ChangeOptions::default())
        .await;
    assert_kind(&r, ErrorKind::DeliveryFailed);

    let inviting = builder(&sandbox)
        .verify(true)
        .auto_invite(true)
        .build()
        .unwrap();
    assert!(inviting.auto_invite());
    sandbox.journal().clear();
    let r = inviting
        .add_participant(&chat(&group), &phone(C), ChangeOptions::default())
        .await;
    // value:true but not a member: an invite is pending.
    assert_outcome(&r, "unconfirmed");
    assert_eq!(sandbox.zapi().invites(&group), vec![C]);
    assert_eq!(
        entries(&sandbox)[0].body_text(),
        format!(r#"{{"autoInvite":true,"groupId":"{group}","phones":["{C}"]}}"#)
    );

    // Native add: one request, the flag as given.
    sandbox.journal().clear();
    zapi.add(&chat(&group), &[phone(B)], false, ChangeOptions::default())
        .await
        .unwrap();
    assert!(
        sandbox
            .zapi()
            .members(&group)
            .unwrap()
            .contains(&B.to_owned())
    );
    assert_eq!(entries(&sandbox).len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn leave_groups_not_communities() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A, B]);
    let community = sandbox.zapi().create_community(&[A]);
    let zapi = client(&sandbox);

    let r = zapi.leave(&chat(&group), ChangeOptions::default()).await;
    assert_outcome(&r, "unconfirmed");
    let e = &entries(&sandbox)[0];
    assert_eq!(e.path, format!("{INSTANCE}/leave-group"));
    assert_eq!(e.body_text(), format!(r#"{{"groupId":"{group}"}}"#));
    assert_eq!(e.header("content-type"), Some("application/json"));
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![A, B]);

    // Again: value:false; in ensure mode the group is gone for us (only members read its
    // metadata) → AlreadyDone.
    let again = zapi
        .leave(&chat(&group), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::DeliveryFailed);
    assert_eq!(again.code(), Some("value_false"));
    let ensured = zapi.leave(&chat(&group), ChangeOptions::ensure()).await;
    assert_outcome(&ensured, "already_done");

    sandbox.journal().clear();
    let err = zapi
        .leave(&chat(&community), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("community"), "{err}");
    let err = zapi
        .leave_group(
            &chat(&format!("community:{community}")),
            ChangeOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn participants_of_groups_and_communities() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group_with(ZapiGroupSeed {
        admins: vec![B.into()],
        ..ZapiGroupSeed::with_members(&[A, B])
    });
    let zapi = client(&sandbox);
    let people = zapi.participants(&chat(&group)).await.unwrap();
    let handles: Vec<Handle> = people.iter().map(|p| p.handle.clone()).collect();
    assert_eq!(handles, vec![phone(ME), phone(A), phone(B)]);
    let admins: Vec<Option<bool>> = people.iter().map(|p| p.is_admin).collect();
    assert_eq!(admins, vec![Some(true), Some(false), Some(true)]);
    assert_eq!(
        calls(&sandbox),
        vec![call("GET", &format!("/light-group-metadata/{group}"))]
    );

    // A community: its metadata, then its announcement group's light metadata.
    let community = sandbox.zapi().create_community(&[C]);
    let announcement = sandbox
        .zapi()
        .community(&community)
        .unwrap()
        .announcement_group
        .unwrap();
    sandbox.journal().clear();
    let people = zapi.participants(&chat(&community)).await.unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(people[1].handle, phone(C));
    assert_eq!(
        calls(&sandbox),
        vec![
            call("GET", &format!("/communities-metadata/{community}")),
            call("GET", &format!("/light-group-metadata/{announcement}")),
        ]
    );

    // No announcement group listed: Unsupported, with a reason.
    let bare = sandbox.zapi().create_community_with(ZapiCommunitySeed {
        announcement: false,
        ..ZapiCommunitySeed::default()
    });
    let err = zapi.participants(&chat(&bare)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.message().contains("announcement"), "{err}");

    // Unknown group: ChatNotFound, not retried.
    sandbox.journal().clear();
    let err = zapi.participants(&chat("1-group")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    assert_eq!(err.code(), Some("group not found"));
    assert_eq!(err.http_status(), Some(404));
    assert_eq!(entries(&sandbox).len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn native_reads_in_full() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group_with(ZapiGroupSeed {
        id: Some("5511999999999-1623281429".into()),
        subject: "Old style".into(),
        ..ZapiGroupSeed::with_members(&[A])
    });
    let community = sandbox.zapi().create_community_with(ZapiCommunitySeed {
        name: "Comm".into(),
        sub_groups: vec![group.clone()],
        ..ZapiCommunitySeed::default()
    });
    let zapi = client(&sandbox);
    let light = zapi.light_group_metadata(&chat(&group)).await.unwrap();
    assert_eq!(light.phone.as_deref(), Some(group.as_str()));
    assert_eq!(light.subject.as_deref(), Some("Old style"));
    assert_eq!(light.invitation_link, None);
    assert_eq!(light.community_id.as_deref(), Some(community.as_str()));
    assert!(light.participants[0].is_super_admin);
    let full = zapi.group_metadata(&chat(&group)).await.unwrap();
    assert!(
        full.invitation_link
            .unwrap()
            .starts_with("https://chat.whatsapp.com/")
    );
    let meta = zapi.community_metadata(&chat(&community)).await.unwrap();
    assert_eq!(meta.name.as_deref(), Some("Comm"));
    assert_eq!(meta.sub_groups.len(), 2);
    assert!(meta.announcement_group().is_some());
    let roster = zapi.roster(&chat(&community)).await.unwrap();
    assert_eq!(roster.is_group_announcement, Some(true));
    assert_eq!(
        calls(&sandbox)[..3],
        [
            call("GET", &format!("/light-group-metadata/{group}")),
            call("GET", &format!("/group-metadata/{group}")),
            call("GET", &format!("/communities-metadata/{community}")),
        ]
    );
    // Kinds are checked before any request.
    sandbox.journal().clear();
    assert_eq!(
        zapi.light_group_metadata(&chat(&community))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        zapi.community_metadata(&chat(&group))
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn auth_failures_are_answered_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);

    let wrong_client = builder(&sandbox).client_token("nope").build().unwrap();
    let r = wrong_client
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::ensure())
        .await;
    assert_kind(&r, ErrorKind::Unauthorized);
    let e = r.unwrap_err();
    assert_eq!(e.code(), Some("null not allowed"));
    assert_eq!(e.http_status(), Some(401));
    assert!(!e.to_string().contains("nope"));

    let wrong_token = builder(&sandbox).instance_token("WRONG").build().unwrap();
    let e = wrong_token.participants(&chat(&group)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthorized);
    assert_eq!(e.code(), Some("invalid instance or token"));
    assert!(!format!("{e} {e:?}").contains("WRONG"));

    sandbox.faults().inject(Fault::new(
        Provider::Zapi,
        FaultAction::zapi_error(StatusCode::FORBIDDEN, "[IP request] not allowed"),
    ));
    let e = client(&sandbox)
        .participants(&chat(&group))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Forbidden);
    assert_eq!(entries(&sandbox).len(), 3, "no retries");
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME, A]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn documented_statuses_405_and_415_are_invalid_input() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);
    let zapi = client(&sandbox);
    for status in [
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    ] {
        sandbox
            .faults()
            .inject(Fault::new(Provider::Zapi, FaultAction::status(status)));
        let e = zapi
            .remove(&chat(&group), &[phone(A)], ChangeOptions::ensure())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.code(), Some(status.as_str()));
    }
    assert_eq!(entries(&sandbox).len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn server_errors_retried_only_when_safe() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A, B]);
    let zapi = client(&sandbox);
    let fail = |status| {
        Fault::new(
            Provider::Zapi,
            FaultAction::json(status, "<html>oops</html>"),
        )
        .method(Method::POST)
    };

    // A mutation after a 502: ambiguous, not retried without ensure.
    sandbox.faults().inject(fail(StatusCode::BAD_GATEWAY));
    let r = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::default())
        .await;
    assert_kind(&r, ErrorKind::ServerError);
    let e = r.unwrap_err();
    assert!(e.is_ambiguous() && e.is_retryable());
    assert_eq!(e.code(), Some("502"));
    assert_eq!(entries(&sandbox).len(), 1);

    // In ensure mode it is retried, and the retry applies it.
    sandbox.journal().clear();
    sandbox
        .faults()
        .inject(fail(StatusCode::SERVICE_UNAVAILABLE));
    let r = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::ensure())
        .await;
    assert_outcome(&r, "unconfirmed");
    assert_eq!(entries(&sandbox).len(), 2);
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME, B]);

    // Reads are retried on 5xx.
    sandbox.journal().clear();
    sandbox.faults().inject(
        Fault::new(
            Provider::Zapi,
            FaultAction::status(StatusCode::SERVICE_UNAVAILABLE),
        )
        .times(2),
    );
    let people = zapi.participants(&chat(&group)).await.unwrap();
    assert_eq!(people.len(), 2);
    assert_eq!(entries(&sandbox).len(), 3);

    // Retries give up after the policy's attempts.
    sandbox.journal().clear();
    sandbox
        .faults()
        .inject(Fault::new(Provider::Zapi, FaultAction::status(StatusCode::BAD_GATEWAY)).times(5));
    let e = zapi.participants(&chat(&group)).await.unwrap_err();
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::ServerError, 3));
    sandbox.faults().clear();

    // 429 with Retry-After: retried (not ambiguous), even for a mutation without ensure.
    sandbox.journal().clear();
    sandbox.faults().inject(Fault::new(
        Provider::Zapi,
        FaultAction::Respond {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: vec![("retry-after".into(), "0".into())],
            body: "".into(),
        },
    ));
    let r = zapi
        .add_participant(&chat(&group), &phone(A), ChangeOptions::default())
        .await;
    assert_outcome(&r, "unconfirmed");
    assert_eq!(entries(&sandbox).len(), 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn dropped_connections_after_apply() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A, B]);
    let zapi = client(&sandbox);
    let drop_post = || Fault::new(Provider::Zapi, FaultAction::DropAfterApply).method(Method::POST);

    // Without ensure: the transport error, once (the change did happen).
    sandbox.faults().inject(drop_post());
    let r = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::default())
        .await;
    let e = r.unwrap_err();
    assert!(e.is_ambiguous(), "{e}");
    assert_eq!(entries(&sandbox).len(), 1);
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME, B]);

    // Ensure: retried; the repeat answers value:false; the roster says B is gone → AlreadyDone.
    sandbox.journal().clear();
    sandbox.faults().inject(drop_post());
    let r = zapi
        .remove_participant(&chat(&group), &phone(B), ChangeOptions::ensure())
        .await;
    assert_outcome(&r, "already_done");
    assert_eq!(
        calls(&sandbox),
        vec![
            call("POST", "/remove-participant"),
            call("POST", "/remove-participant"),
            call("GET", &format!("/light-group-metadata/{group}")),
        ]
    );

    // An add with autoInvite is never re-sent, not even in ensure mode.
    sandbox.journal().clear();
    sandbox.zapi().set_contact(C, false);
    let inviting = builder(&sandbox).auto_invite(true).build().unwrap();
    sandbox.faults().inject(drop_post());
    let r = inviting
        .add_participant(&chat(&group), &phone(C), ChangeOptions::ensure())
        .await;
    assert_outcome(&r, "unconfirmed");
    assert_eq!(
        calls(&sandbox),
        vec![
            call("POST", "/add-participant"),
            call("GET", &format!("/light-group-metadata/{group}")),
        ]
    );
    assert_eq!(sandbox.zapi().invites(&group), vec![C]);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn disconnected_instance_and_unknown_groups() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);
    let zapi = client(&sandbox);
    sandbox.zapi().set_connected(false);
    let r = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::default())
        .await;
    assert_kind(&r, ErrorKind::DeliveryFailed);
    let e = zapi.participants(&chat(&group)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ProviderMisconfigured);
    assert_eq!(e.code(), Some("value_false"));
    // Ensure mode cannot confirm anything when the read fails: the original error stays.
    let r = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::ensure())
        .await;
    assert_kind(&r, ErrorKind::DeliveryFailed);
    sandbox.zapi().set_connected(true);

    let r = zapi
        .add_participant(
            &chat("120363000000000000-group"),
            &phone(A),
            ChangeOptions::default(),
        )
        .await;
    assert_kind(&r, ErrorKind::DeliveryFailed);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn works_as_dyn_membership() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A]);
    let zapi: Box<dyn Membership> = Box::new(client(&sandbox));
    assert_eq!(zapi.provider(), "zapi");
    let caps = zapi.capabilities();
    assert!(caps.remove && caps.add && caps.leave && caps.list && caps.batch);
    assert_eq!(caps.max_batch, Some(50));
    assert!(caps.handles.phone && !caps.handles.email && caps.handles.native);
    let r = zapi
        .add_participant(
            &chat(&format!("group:{group}")),
            &phone(B),
            ChangeOptions::default(),
        )
        .await;
    assert_outcome(&r, "unconfirmed");
    assert_eq!(zapi.participants(&chat(&group)).await.unwrap().len(), 3);
    sandbox.shutdown().await;
}

/// Found by the soak (issue #10): after the retries of an ambiguous failure ran out, ensure
/// mode's roster read and repeat went out at once, ignoring the failure's `Retry-After`. They
/// wait for it now (tokio time is paused: the waits take no real time).
#[tokio::test(start_paused = true)]
async fn ensure_follow_ups_honour_retry_after() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A, B]);
    let zapi = client(&sandbox);
    sandbox.faults().inject(
        Fault::new(
            Provider::Zapi,
            FaultAction::Respond {
                status: StatusCode::SERVICE_UNAVAILABLE,
                headers: vec![("retry-after".into(), "7".into())],
                body: "".into(),
            },
        )
        .method(Method::POST)
        .times(3),
    );
    let start = tokio::time::Instant::now();
    let r = zapi
        .remove_participant(&chat(&group), &phone(A), ChangeOptions::ensure())
        .await;
    assert_outcome(&r, "unconfirmed");
    // 3 attempts 7 s apart, then 7 s more before the roster read and the repeat.
    assert!(
        start.elapsed() >= Duration::from_secs(21),
        "{:?}",
        start.elapsed()
    );
    let suffix = format!("/light-group-metadata/{group}");
    assert_eq!(
        calls(&sandbox),
        [
            call("POST", "/remove-participant"),
            call("POST", "/remove-participant"),
            call("POST", "/remove-participant"),
            call("GET", &suffix),
            call("POST", "/remove-participant"),
        ]
    );
    assert_eq!(sandbox.zapi().members(&group).unwrap(), vec![ME, B]);

    // A leave after an ambiguous failure waits too before reading the group.
    sandbox.journal().clear();
    sandbox.faults().inject(
        Fault::new(
            Provider::Zapi,
            FaultAction::Respond {
                status: StatusCode::BAD_GATEWAY,
                headers: vec![("retry-after".into(), "5".into())],
                body: "".into(),
            },
        )
        .method(Method::POST)
        .times(3),
    );
    let start = tokio::time::Instant::now();
    let r = zapi.leave(&chat(&group), ChangeOptions::ensure()).await;
    assert_kind(&r, ErrorKind::ServerError);
    assert!(
        start.elapsed() >= Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(calls(&sandbox).len(), 4);
    sandbox.shutdown().await;
}

/// What one run of a batch left behind: each phone's result (its full `Debug`: kind, code,
/// attempts, message), the requests in order (group id left out) and the roster after.
type Run = (Vec<String>, Vec<(String, String)>, Vec<String>);

/// Removes A (a member) and C (not one) under `fault`, through the client's `Membership`
/// method or through the executor running the batch operation.
async fn batch_run(
    fault: Fault,
    confirm: rosterkit_core::Confirm,
    options: ChangeOptions,
    via_executor: bool,
) -> Run {
    use rosterkit_zapi::ZapiChat;
    use rosterkit_zapi::ops::{ChangeParticipants, ZapiChange};
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&[A, B]);
    sandbox.faults().inject(fault);
    let zapi = builder(&sandbox)
        .verify(confirm == rosterkit_core::Confirm::ReadBack)
        .build()
        .unwrap();
    let handles = [phone(A), phone(C)];
    let results = if via_executor {
        let op = ChangeParticipants::new(
            zapi.config(),
            &ZapiChat::from_chat_id(&chat(&group)).unwrap(),
            ZapiChange::Remove,
            &handles,
        )
        .unwrap()
        .ensure(options.ensure)
        .confirm(confirm)
        .pause(zapi.pacing().interval());
        zapi.executor().execute(&op).await.unwrap()
    } else {
        zapi.remove_participants(&chat(&group), &handles, options)
            .await
    };
    let results = results.iter().map(|r| format!("{r:?}")).collect();
    let requests = calls(&sandbox)
        .into_iter()
        .map(|(method, path)| (method, path.replace(&group, "{group}")))
        .collect();
    let roster = sandbox.zapi().members(&group).unwrap();
    sandbox.shutdown().await;
    (results, requests, roster)
}

/// Issue 14: the resend round and the roster reads are the executor's, so running
/// `ChangeParticipants` with `executor()` gives exactly what `remove_participants` gives,
/// request for request.
#[tokio::test]
async fn the_batch_operation_run_by_the_executor_is_the_client_method() {
    use rosterkit_core::Confirm;
    let value_false =
        || Fault::new(Provider::Zapi, FaultAction::zapi_value(false)).path_contains("/remove-");
    let unavailable = || {
        Fault::new(
            Provider::Zapi,
            FaultAction::status(StatusCode::SERVICE_UNAVAILABLE),
        )
        .method(Method::POST)
        .times(3)
    };
    let dropped = || Fault::new(Provider::Zapi, FaultAction::DropAfterApply).method(Method::POST);
    let cases = [
        (value_false(), Confirm::Trust, ChangeOptions::ensure()),
        (value_false(), Confirm::ReadBack, ChangeOptions::default()),
        (unavailable(), Confirm::Trust, ChangeOptions::ensure()),
        (unavailable(), Confirm::ReadBack, ChangeOptions::ensure()),
        (dropped(), Confirm::Trust, ChangeOptions::ensure()),
        (dropped(), Confirm::ReadBack, ChangeOptions::default()),
    ];
    let mut resent = 0;
    for (i, (fault, confirm, options)) in cases.into_iter().enumerate() {
        let client = batch_run(fault.clone(), confirm, options, false).await;
        let executor = batch_run(fault, confirm, options, true).await;
        assert_eq!(client, executor, "case {i}");
        assert_eq!(client.0.len(), 2, "case {i}");
        let posts = client.1.iter().filter(|(m, _)| m == "POST").count();
        if client.1.iter().any(|(m, _)| m == "GET") && posts > 1 {
            resent += 1;
        }
    }
    // The cases do exercise the resend round (a send after the roster read).
    assert!(resent >= 1, "no case resent");
}
