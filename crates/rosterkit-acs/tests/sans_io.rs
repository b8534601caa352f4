//! Sans-IO tests of every ACS operation: requests built against the REST spec's examples and
//! the contract notes' worked examples (acs.md §8), replies parsed from the spec's examples and
//! from reply shapes seen in the Azure SDKs' recorded sessions, every documented code mapped.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use proptest::prelude::*;
use rosterkit_acs::ops::{AddParticipants, IssueAccessToken, ListParticipants, RemoveParticipant};
use rosterkit_acs::{
    AccessKey, ChatContext, ChatParticipant, CommunicationIdentifier, InvalidParticipant,
};
use rosterkit_core::{Attempt, ChatId, Endpoint, ErrorKind, Operation, Outcome, Secret};
use serde_json::Value;

const CONTOSO: &str = "https://contoso.westus.communications.azure.com";
const THREAD: &str = "19:f2167429acf6482880c6b7790a9086c1@thread.v2";
const THREAD_ENC: &str = "19%3Af2167429acf6482880c6b7790a9086c1%40thread.v2";
const PETER: &str =
    "8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0e59221d-0c1d-46ae-9544-c963ce56c10b";
const T0: u64 = 1_700_000_000;
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ctx(endpoint: &str) -> ChatContext {
    ChatContext::new(
        Endpoint::parse(endpoint).unwrap(),
        Secret::new("user-token"),
    )
}

fn thread(id: &str) -> ChatId {
    ChatId::new(id).unwrap()
}

fn attempt() -> Attempt {
    Attempt::first(UNIX_EPOCH + Duration::from_secs(T0))
}

fn after_ambiguous() -> Attempt {
    Attempt::new(2, UNIX_EPOCH + Duration::from_secs(T0), true)
}

fn reply(status: u16, body: impl Into<Bytes>) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

fn json_reply(status: u16, body: &Value) -> http::Response<Bytes> {
    reply(status, serde_json::to_vec(body).unwrap())
}

fn header<'a>(request: &'a http::Request<Bytes>, name: &str) -> &'a str {
    request.headers().get(name).unwrap().to_str().unwrap()
}

fn remove_op(participant: &str) -> RemoveParticipant {
    RemoveParticipant::new(
        ctx(CONTOSO),
        thread(THREAD),
        CommunicationIdentifier::from_raw_id(participant),
    )
}

// ---- remove ----

#[test]
fn remove_request_is_acs_md_example_d() {
    let request = remove_op(PETER).build(&attempt()).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri().to_string(),
        format!("{CONTOSO}/chat/threads/{THREAD_ENC}/participants/:remove?api-version=2025-03-15")
    );
    assert_eq!(header(&request, "authorization"), "Bearer user-token");
    assert_eq!(header(&request, "content-type"), "application/json");
    // Byte for byte as in acs.md §8 D: rawId, then the kind's object, no `kind`.
    assert_eq!(
        std::str::from_utf8(request.body()).unwrap(),
        format!(r#"{{"rawId":"{PETER}","communicationUser":{{"id":"{PETER}"}}}}"#)
    );
    // And the same JSON as the REST spec's example body.
    let example = fixture("Participants_RemoveChatParticipant.json");
    let sent: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(
        sent,
        example["parameters"]["participantCommunicationIdentifier"]
    );
}

#[test]
fn remove_request_of_the_issue() {
    let op = RemoveParticipant::new(
        ctx("https://contoso.communication.azure.com"),
        thread("19:abc@thread.v2"),
        CommunicationIdentifier::from_raw_id("8:acs:1111_2222"),
    );
    let request = op.build(&attempt()).unwrap();
    assert_eq!(
        request.uri().to_string(),
        "https://contoso.communication.azure.com/chat/threads/19%3Aabc%40thread.v2/participants/:remove?api-version=2025-03-15"
    );
    let body: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["communicationUser"]["id"], "8:acs:1111_2222");
    assert_eq!(body["rawId"], "8:acs:1111_2222");
    assert!(body.get("kind").is_none());
}

#[test]
fn api_version_and_mount_path() {
    let op = RemoveParticipant::new(
        ctx("http://127.0.0.1:8443/acs/").with_api_version("2021-09-07"),
        thread("19:abc@thread.v2"),
        CommunicationIdentifier::from_raw_id("4:+14155551234"),
    );
    let request = op.build(&attempt()).unwrap();
    assert_eq!(
        request.uri().to_string(),
        "http://127.0.0.1:8443/acs/chat/threads/19%3Aabc%40thread.v2/participants/:remove?api-version=2021-09-07"
    );
    assert_eq!(
        std::str::from_utf8(request.body()).unwrap(),
        r#"{"rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}}"#
    );
}

#[test]
fn malformed_thread_ids_are_refused_before_sending() {
    for bad in [
        "ch_123",
        "19:@thread.v2",
        "abc@thread.v2",
        "19:abc",
        "19:abc@thread.",
    ] {
        let op = RemoveParticipant::new(
            ctx(CONTOSO),
            thread(bad),
            CommunicationIdentifier::from_raw_id(PETER),
        );
        let err = op.build(&attempt()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(err.to_string().contains("19:<id>@thread.v2"), "{err}");
    }
}

#[test]
fn remove_204_is_applied_without_roster() {
    let mut response = reply(204, Bytes::new());
    response
        .headers_mut()
        .insert("ms-cv", http::HeaderValue::from_static("cv.0"));
    let outcome = remove_op(PETER).parse(response, &attempt()).unwrap();
    assert_eq!(
        outcome,
        Outcome::Applied {
            roster: None,
            trace_id: Some("cv.0".into())
        }
    );
}

#[test]
fn remove_spec_error_examples() {
    let example = fixture("Participants_RemoveChatParticipant.json");
    let cases = [
        ("401", ErrorKind::Unauthorized, "Unauthorized", false, false),
        ("403", ErrorKind::Forbidden, "Forbidden", false, false),
        (
            "429",
            ErrorKind::RateLimited,
            "TooManyRequests",
            true,
            false,
        ),
        (
            "503",
            ErrorKind::ServerError,
            "ServiceUnavailable",
            true,
            true,
        ),
    ];
    for (status, kind, code, retryable, ambiguous) in cases {
        let body = &example["responses"][status]["body"];
        let err = remove_op(PETER)
            .parse(json_reply(status.parse().unwrap(), body), &attempt())
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
        assert_eq!(err.code(), Some(code));
        assert_eq!(err.http_status(), Some(status.parse().unwrap()));
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert_eq!(err.is_ambiguous(), ambiguous, "{status}");
        assert_eq!(err.provider(), Some("acs"));
        assert_eq!(err.message(), body["error"]["message"].as_str().unwrap());
        assert!(err.body().is_some());
    }
}

#[test]
fn throttled_remove_is_acs_md_example_g() {
    let mut response = reply(
        429,
        r#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded."}}"#,
    );
    response
        .headers_mut()
        .insert("retry-after", http::HeaderValue::from_static("10"));
    let err = remove_op(PETER).parse(response, &attempt()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable() && !err.is_ambiguous());
    // The executor reads `Retry-After` (and the ms headers); the op does not guess.
    assert_eq!(err.retry_after(), None);
    assert!(!remove_op(PETER).idempotent());
}

#[test]
fn remove_404_is_the_thread_even_in_ensure_mode() {
    // A non-member's removal answers 204 (acs.md §3.1), so a 404 names the thread (§4).
    let not_found = || reply(404, r#"{"error":{"code":"NotFound","message":"x"}}"#);
    let err = remove_op(PETER).parse(not_found(), &attempt()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    let err = remove_op(PETER)
        .ensure(true)
        .parse(not_found(), &attempt())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    // A gateway's empty 404 is keyed by status, with the same result.
    let err = remove_op(PETER)
        .ensure(true)
        .parse(reply(404, Bytes::new()), &attempt())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    // Ensure mode does not make remove idempotent for the executor.
    assert!(!remove_op(PETER).ensure(true).idempotent());
}

#[test]
fn leave_403_after_an_ambiguous_attempt_is_already_done() {
    let forbidden = || reply(403, r#"{"error":{"code":"Forbidden","message":"x"}}"#);
    let leave = || {
        remove_op(PETER)
            .removal(rosterkit_acs::ops::Removal::Leave)
            .ensure(true)
    };
    assert_eq!(leave().name(), "leave");
    assert_eq!(remove_op(PETER).name(), "remove_participant");
    assert_eq!(
        leave().parse(forbidden(), &attempt()).unwrap_err().kind(),
        ErrorKind::Forbidden
    );
    assert_eq!(
        leave().parse(forbidden(), &after_ambiguous()).unwrap(),
        Outcome::already_done()
    );
    assert_eq!(
        leave()
            .after_ambiguous_failure(true)
            .parse(forbidden(), &attempt())
            .unwrap(),
        Outcome::already_done()
    );
    // Not for a plain remove, nor without ensure.
    assert!(
        remove_op(PETER)
            .ensure(true)
            .parse(forbidden(), &after_ambiguous())
            .is_err()
    );
    assert!(
        remove_op(PETER)
            .removal(rosterkit_acs::ops::Removal::Leave)
            .parse(forbidden(), &after_ambiguous())
            .is_err()
    );
}

// ---- errors ----

#[test]
fn pascal_case_unwrapped_bodies() {
    // Azure/azure-sdk-for-java#21723.
    let err = remove_op(PETER)
        .parse(
            reply(
                400,
                r#"{"Code":"BadRequest","Message":"Initiator is not a participant of the thread","InnerErrors":[]}"#,
            ),
            &attempt(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.code(), Some("BadRequest"));
    assert_eq!(
        err.message(),
        "Initiator is not a participant of the thread"
    );
}

#[test]
fn gateway_bodies_classify_by_status() {
    for (status, body, kind, retryable, ambiguous) in [
        (502, "", ErrorKind::ServerError, true, true),
        (
            503,
            "<html>Service Unavailable</html>",
            ErrorKind::ServerError,
            true,
            true,
        ),
        (504, "upstream timed out", ErrorKind::Timeout, true, true),
        (500, "{}", ErrorKind::ServerError, true, true),
        (408, "", ErrorKind::Timeout, true, true),
        (401, "", ErrorKind::Unauthorized, false, false),
        (429, "", ErrorKind::RateLimited, true, false),
    ] {
        let err = remove_op(PETER)
            .parse(reply(status, body), &attempt())
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert_eq!(err.is_ambiguous(), ambiguous, "{status}");
        assert_eq!(err.code(), None, "{status}: no code was sent");
        assert_eq!(err.body().unwrap().as_ref(), body.as_bytes());
    }
}

#[test]
fn every_documented_code_maps_to_its_kind() {
    let cases = [
        ("Unauthorized", 401, ErrorKind::Unauthorized),
        ("Forbidden", 403, ErrorKind::Forbidden),
        ("TooManyRequests", 429, ErrorKind::RateLimited),
        ("ServiceUnavailable", 503, ErrorKind::ServerError),
        ("BadRequest", 400, ErrorKind::InvalidInput),
        ("NotFound", 404, ErrorKind::ChatNotFound),
        ("RequestTimeout", 408, ErrorKind::Timeout),
        ("InternalServerError", 500, ErrorKind::ServerError),
        ("BadGateway", 502, ErrorKind::ServerError),
        ("GatewayTimeout", 504, ErrorKind::Timeout),
    ];
    let list = ListParticipants::first_page(ctx(CONTOSO), thread(THREAD));
    for (code, status, kind) in cases {
        let body = format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
        let err = list.parse(reply(status, body), &attempt()).unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(err.code(), Some(code));
    }
    // NotFound on remove (and leave) is the thread too.
    let err = remove_op(PETER)
        .parse(
            reply(404, r#"{"error":{"code":"NotFound","message":"m"}}"#),
            &attempt(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
}

// ---- add ----

fn example_participants(example: &Value) -> Vec<ChatParticipant> {
    example["parameters"]["addChatParticipantsRequest"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            ChatParticipant::new(CommunicationIdentifier::from_raw_id(
                p["communicationIdentifier"]["rawId"].as_str().unwrap(),
            ))
            .with_display_name(p["displayName"].as_str().unwrap())
            .with_share_history_time(p["shareHistoryTime"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn add_request_is_the_spec_example() {
    let example = fixture("Participants_AddChatParticipants.json");
    let op = AddParticipants::new(ctx(CONTOSO), thread(THREAD), example_participants(&example));
    let request = op.build(&attempt()).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri().to_string(),
        format!("{CONTOSO}/chat/threads/{THREAD_ENC}/participants/:add?api-version=2025-03-15")
    );
    assert_eq!(header(&request, "authorization"), "Bearer user-token");
    let sent: Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(sent, example["parameters"]["addChatParticipantsRequest"]);
    assert!(op.idempotent());
}

#[test]
fn add_201_partial_failure_is_acs_md_example_e() {
    let example = fixture("Participants_AddChatParticipants.json");
    let op = AddParticipants::new(ctx(CONTOSO), thread(THREAD), example_participants(&example));
    let result = op
        .parse(
            json_reply(201, &example["responses"]["201"]["body"]),
            &attempt(),
        )
        .unwrap();
    let kinds: Vec<_> = result
        .invalid_participants
        .iter()
        .map(InvalidParticipant::kind)
        .collect();
    assert_eq!(kinds, [ErrorKind::Forbidden, ErrorKind::InvalidInput]);
    let first = &result.invalid_participants[0];
    assert_eq!(first.code, "403");
    assert_eq!(first.message, "Permissions check failed");
    let err = first.to_error();
    assert_eq!(
        (err.kind(), err.code()),
        (ErrorKind::Forbidden, Some("403"))
    );
    let target = CommunicationIdentifier::from_raw_id(first.target.as_deref().unwrap());
    assert_eq!(result.invalid_for(&target), Some(first));
    // The three requested participants were not refused.
    for p in example_participants(&example) {
        assert_eq!(result.invalid_for(&p.identifier), None);
    }
}

#[test]
fn add_201_all_added() {
    let op = AddParticipants::new(
        ctx(CONTOSO),
        thread(THREAD),
        vec![ChatParticipant::new(CommunicationIdentifier::from_raw_id(
            PETER,
        ))],
    );
    // `{}` as in the SDK recordings, an unknown field, and a 204 without a body.
    for (status, body) in [
        (201, "{}"),
        (201, r#"{"somethingNew":1}"#),
        (201, r#"{"invalidParticipants":null}"#),
        (204, ""),
    ] {
        let result = op.parse(reply(status, body), &attempt()).unwrap();
        assert!(result.invalid_participants.is_empty(), "{body}");
    }
    // A 201 with an empty, `null` or non-JSON body is not ACS's reply: the add may have
    // happened, so it is an ambiguous decode error, never a success.
    for body in ["", "null", "<html>ok</html>"] {
        let err = op.parse(reply(201, body), &attempt()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}");
        assert!(err.is_ambiguous(), "{body}");
    }
    let weird = op
        .parse(
            reply(201, r#"{"invalidParticipants":[{"target":"8:acs:x","code":409,"message":"m"},{"target":"8:acs:y","code":"teapot"}]}"#),
            &attempt(),
        )
        .unwrap();
    let kinds: Vec<_> = weird
        .invalid_participants
        .iter()
        .map(InvalidParticipant::kind)
        .collect();
    assert_eq!(kinds, [ErrorKind::Conflict, ErrorKind::ServerError]);
    assert_eq!(
        op.parse(reply(201, "not json"), &attempt())
            .unwrap_err()
            .kind(),
        ErrorKind::Decode
    );
}

#[test]
fn add_batch_limits() {
    let many = |n: usize| -> Vec<ChatParticipant> {
        (0..n)
            .map(|i| {
                ChatParticipant::new(CommunicationIdentifier::from_raw_id(&format!(
                    "8:acs:r_{i}"
                )))
            })
            .collect()
    };
    assert!(
        AddParticipants::new(ctx(CONTOSO), thread(THREAD), many(200))
            .build(&attempt())
            .is_ok()
    );
    for n in [0, 201] {
        let err = AddParticipants::new(ctx(CONTOSO), thread(THREAD), many(n))
            .build(&attempt())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{n}");
    }
}

// ---- list ----

#[test]
fn list_first_page_and_spec_example_reply() {
    let example = fixture("Participants_ListChatParticipantsWithPageSize.json");
    let op = ListParticipants::page(ctx(CONTOSO), thread(THREAD), Some(2), None);
    let request = op.build(&attempt()).unwrap();
    assert_eq!(request.method(), http::Method::GET);
    assert_eq!(
        request.uri().to_string(),
        format!(
            "{CONTOSO}/chat/threads/{THREAD_ENC}/participants?maxPageSize=2&api-version=2025-03-15"
        )
    );
    assert_eq!(header(&request, "authorization"), "Bearer user-token");
    assert!(request.body().is_empty());
    let skip = ListParticipants::page(ctx(CONTOSO), thread(THREAD), Some(2), Some(4))
        .build(&attempt())
        .unwrap();
    assert!(
        skip.uri()
            .to_string()
            .ends_with("/participants?maxPageSize=2&skip=4&api-version=2025-03-15")
    );
    let first = ListParticipants::first_page(ctx(CONTOSO), thread(THREAD))
        .build(&attempt())
        .unwrap();
    assert!(
        first
            .uri()
            .to_string()
            .ends_with("/participants?api-version=2025-03-15")
    );

    let page = op
        .parse(
            json_reply(200, &example["responses"]["200"]["body"]),
            &attempt(),
        )
        .unwrap();
    let names: Vec<_> = page
        .participants
        .iter()
        .map(|p| p.display_name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["Jane", "Alex"]);
    assert!(
        page.participants
            .iter()
            .all(|p| p.identifier.kind() == "communicationUser")
    );
    assert_eq!(
        page.participants[0].share_history_time.as_deref(),
        Some("2020-06-06T05:55:41Z")
    );
    let next = page.next_link.unwrap();
    assert_eq!(
        next,
        example["responses"]["200"]["body"]["nextLink"]
            .as_str()
            .unwrap()
    );
    // The example's nextLink is on the same host: followed verbatim (acs.md §7 #5: it names
    // another thread, which is the service's business).
    let request = ListParticipants::next_page(ctx(CONTOSO), next.clone())
        .build(&attempt())
        .unwrap();
    assert_eq!(request.uri().to_string(), next);
    assert_eq!(header(&request, "authorization"), "Bearer user-token");
}

#[test]
fn list_reply_of_2021_without_kind_is_acs_md_example_f() {
    // The shape of the 2021-09-07 recordings: no `kind`, `shareHistoryTime` 1970 for "unset",
    // no displayName on one participant, and an unknown field.
    let body = r#"{"value":[
        {"communicationIdentifier":{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715","communicationUser":{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715"}},"displayName":"Jane","shareHistoryTime":"2020-06-06T05:55:41Z"},
        {"communicationIdentifier":{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0e59221d-0c1d-46ae-9544-c963ce56c10b","communicationUser":{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_0e59221d-0c1d-46ae-9544-c963ce56c10b"}},"shareHistoryTime":"1970-01-01T00:00:00Z","futureField":{"x":1}},
        {"communicationIdentifier":{"rawId":"4:+14155551234"},"metadata":{"team":"blue","n":3}},
        {"communicationIdentifier":{"kind":"hologram","rawId":"77:holo:1"}}
      ],"nextLink":"https://contoso.westus.communications.azure.com/chat/threads/19:f2167429acf6482880c6b7790a9086c1@thread.v2/participants?skip=2&maxPageSize=2&api-version=2025-03-15"}"#;
    let page = ListParticipants::first_page(ctx(CONTOSO), thread(THREAD))
        .parse(reply(200, body), &attempt())
        .unwrap();
    let kinds: Vec<_> = page
        .participants
        .iter()
        .map(|p| p.identifier.kind())
        .collect();
    assert_eq!(
        kinds,
        [
            "communicationUser",
            "communicationUser",
            "phoneNumber",
            "unknown"
        ]
    );
    assert_eq!(page.participants[1].display_name, None);
    assert_eq!(
        page.participants[2].metadata.get("n").map(String::as_str),
        Some("3")
    );
    assert!(page.next_link.is_some());
    // Raw `19:..@thread.v2` in the link is followed as given.
    let next = ListParticipants::next_page(ctx(CONTOSO), page.next_link.unwrap())
        .build(&attempt())
        .unwrap();
    assert!(
        next.uri()
            .path()
            .contains("19:f2167429acf6482880c6b7790a9086c1@thread.v2")
    );
    // Tolerated: no `value`, empty nextLink.
    let page = ListParticipants::first_page(ctx(CONTOSO), thread(THREAD))
        .parse(reply(200, r#"{"nextLink":""}"#), &attempt())
        .unwrap();
    assert!(page.participants.is_empty() && page.next_link.is_none());
}

#[test]
fn foreign_next_links_are_refused_before_sending() {
    for foreign in [
        "https://evil.example/chat/threads/x/participants?skip=2",
        "http://contoso.westus.communications.azure.com/chat/threads/x/participants",
        "https://contoso.westus.communications.azure.com:8443/chat/threads/x/participants",
        "https://contoso.westus.communications.azure.com.evil.example/x",
        "//evil.example/x",
        "not a url",
    ] {
        let err = ListParticipants::next_page(ctx(CONTOSO), foreign)
            .build(&attempt())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{foreign}");
        assert!(!err.is_retryable());
        assert!(
            err.to_string()
                .contains("refused to follow nextLink to another host"),
            "{err}"
        );
    }
    // A path on the endpoint's origin is joined to it.
    let request = ListParticipants::next_page(
        ctx("http://127.0.0.1:8443/acs"),
        "/acs/chat/threads/x/participants?skip=2",
    )
    .build(&attempt())
    .unwrap();
    assert_eq!(
        request.uri().to_string(),
        "http://127.0.0.1:8443/acs/chat/threads/x/participants?skip=2"
    );
}

// ---- identity ----

const USER: &str =
    "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";
const USER_ENC: &str =
    "8%3Aacs%3A2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";

fn token_op(endpoint: &str) -> IssueAccessToken {
    IssueAccessToken::new(
        Endpoint::parse(endpoint).unwrap(),
        AccessKey::from_base64(KEY).unwrap(),
        USER,
    )
}

/// Known-answer vectors computed with Python's `hmac` over the exact request, with the key and
/// date of acs.md §8 A.
#[test]
fn identity_call_is_signed_over_the_exact_request() {
    let request = token_op("https://my-resource.communication.azure.com")
        .build(&attempt())
        .unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(
        request.uri().to_string(),
        format!(
            "https://my-resource.communication.azure.com/identities/{USER_ENC}/:issueAccessToken?api-version=2023-10-01"
        )
    );
    assert_eq!(
        request.body().as_ref(),
        br#"{"scopes":["chat"],"expiresInMinutes":60}"#
    );
    assert_eq!(
        header(&request, "x-ms-date"),
        "Tue, 14 Nov 2023 22:13:20 GMT"
    );
    assert_eq!(
        header(&request, "x-ms-content-sha256"),
        "E55T2AR1et0dXg9viVUjwxjce4gxp+nmLcQffc3NPsA="
    );
    assert_eq!(
        header(&request, "authorization"),
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=/lJiXAAHjFWi9AMINZQICA5b48u35cd3JOlIMwNl9JM="
    );
    assert_eq!(header(&request, "content-type"), "application/json");
    // The body matches the spec's example request shape (with our one scope).
    let sent: Value = serde_json::from_slice(request.body()).unwrap();
    let example = fixture("Identity_IssueAccessToken.json");
    assert_eq!(
        sent["expiresInMinutes"],
        example["parameters"]["body"]["expiresInMinutes"]
    );
    assert_eq!(example["parameters"]["id"], USER);
}

#[test]
fn identity_call_signs_the_mount_path_and_port() {
    // acs.md §8 B: against the emulator the `/acs` prefix is part of the signed path.
    let request = token_op("http://127.0.0.1:8443/acs")
        .build(&attempt())
        .unwrap();
    let path = format!("/acs/identities/{USER_ENC}/:issueAccessToken?api-version=2023-10-01");
    assert_eq!(
        request.uri().to_string(),
        format!("http://127.0.0.1:8443{path}")
    );
    assert_eq!(
        header(&request, "authorization"),
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=6YU93sEeYNY0tFe5DL9rt23ReUYh5LYT/99mJETtBCE="
    );
    // The server-side check accepts it as received, and refuses it without the prefix.
    let key = rosterkit_sign::acs::decode_access_key(KEY).unwrap();
    let verify = |path: &str, host: &str| {
        rosterkit_sign::acs::verify_request(
            &key,
            "POST",
            path,
            host,
            request.body(),
            Some(header(&request, "x-ms-date")),
            Some(header(&request, "x-ms-content-sha256")),
            Some(header(&request, "authorization")),
            UNIX_EPOCH + Duration::from_secs(T0),
            rosterkit_sign::acs::DEFAULT_TOLERANCE,
        )
    };
    assert!(verify(&path, "127.0.0.1:8443").is_ok());
    assert!(verify(path.trim_start_matches("/acs"), "127.0.0.1:8443").is_err());
    // A default port is not part of the signed host.
    let request = token_op("https://my-resource.communication.azure.com:443")
        .build(&attempt())
        .unwrap();
    assert!(
        header(&request, "authorization").ends_with("/lJiXAAHjFWi9AMINZQICA5b48u35cd3JOlIMwNl9JM=")
    );
    // Every attempt is signed afresh with its own time.
    let later = Attempt::new(2, UNIX_EPOCH + Duration::from_secs(T0 + 60), false);
    let again = token_op("https://my-resource.communication.azure.com")
        .build(&later)
        .unwrap();
    assert_eq!(header(&again, "x-ms-date"), "Tue, 14 Nov 2023 22:14:20 GMT");
}

#[test]
fn identity_reply_of_the_spec_example() {
    let example = fixture("Identity_IssueAccessToken.json");
    let token = token_op("https://my-resource.communication.azure.com")
        .parse(
            json_reply(200, &example["responses"]["200"]["body"]),
            &attempt(),
        )
        .unwrap();
    assert_eq!(token.token.expose(), "token");
    assert_eq!(
        token.expires_on,
        UNIX_EPOCH + Duration::new(1_696_973_979, 324_458_400)
    );
    assert!(!format!("{token:?}").contains("\"token\""));
    for bad in [
        r#"{"token":"t"}"#,
        r#"{"expiresOn":"2023-10-10T21:39:39Z"}"#,
        r#"{"token":"t","expiresOn":"tomorrow"}"#,
        r#"{"token":"a b","expiresOn":"2023-10-10T21:39:39Z"}"#,
        "[]",
    ] {
        let err = token_op("https://my-resource.communication.azure.com")
            .parse(reply(200, bad), &attempt())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{bad}");
        assert!(!err.to_string().contains("a b"));
    }
    let err = token_op("https://my-resource.communication.azure.com")
        .parse(
            reply(
                401,
                r#"{"error":{"code":"Unauthorized","message":"Request is not authorized."}}"#,
            ),
            &attempt(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[test]
fn access_keys_are_checked_and_never_shown() {
    let err = AccessKey::from_base64("not base64!").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(!err.to_string().contains("not base64!"));
    let key = AccessKey::from_base64(KEY).unwrap();
    assert_eq!(format!("{key:?}"), "AccessKey(** redacted **)");
    let text = format!("{:?}", token_op("https://x.communication.azure.com"));
    assert!(!text.contains("AAEC"), "{text}");
}

// ---- decoders never panic ----

fn ops_parse(status: u16, body: &[u8]) {
    let response = || {
        http::Response::builder()
            .status(status)
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let _ = remove_op(PETER)
        .ensure(true)
        .removal(rosterkit_acs::ops::Removal::Leave)
        .parse(response(), &after_ambiguous());
    let _ = AddParticipants::new(ctx(CONTOSO), thread(THREAD), Vec::new())
        .parse(response(), &attempt());
    let _ =
        ListParticipants::first_page(ctx(CONTOSO), thread(THREAD)).parse(response(), &attempt());
    let _ = token_op(CONTOSO).parse(response(), &attempt());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoders_never_panic_on_bytes(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        ops_parse(status, &body);
    }

    #[test]
    fn decoders_never_panic_on_json_like_text(status in prop::sample::select(vec![200u16, 201, 204, 400, 401, 403, 404, 429, 500, 503]), body in r#"[\{\}\[\]":,a-zA-Z0-9 ]{0,200}"#) {
        ops_parse(status, body.as_bytes());
    }

    #[test]
    fn raw_ids_survive_a_request(raw in "[0-9]{1,2}:[a-z-]{0,10}:?[A-Za-z0-9_+-]{1,40}") {
        let id = CommunicationIdentifier::from_raw_id(&raw);
        prop_assert_eq!(id.raw_id(), raw.as_str());
        let request = RemoveParticipant::new(ctx(CONTOSO), thread(THREAD), id).build(&attempt()).unwrap();
        let sent: Value = serde_json::from_slice(request.body()).unwrap();
        prop_assert_eq!(sent["rawId"].as_str(), Some(raw.as_str()));
    }
}
