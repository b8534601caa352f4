//! Sans-IO tests of every operation: the exact request each builds and how each parses the
//! documented replies (fixtures from linq.md §8, the seed page and the OpenAPI file).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use rosterkit_core::{
    Attempt, Bytes, ChatId, ErrorKind, Handle, NativeId, Operation, http::Response,
    http::StatusCode,
};
use rosterkit_linq::{
    HandleStatus, LinqChange, LinqClient, QueueStatus, Service,
    ops::{AddParticipant, GetChat, Leave, RemoveParticipant},
};

const CHAT: &str = "550e8400-e29b-41d4-a716-446655440000";
const BASE: &str = "https://api.linqapp.com/api/partner";

fn client() -> LinqClient {
    LinqClient::builder().api_key("test-token").build().unwrap()
}

fn chat() -> ChatId {
    ChatId::new(CHAT).unwrap()
}

fn handle(s: &str) -> Handle {
    s.parse().unwrap()
}

fn attempt() -> Attempt {
    Attempt::first(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

fn reply(status: u16, body: &str) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Bytes::copy_from_slice(body.as_bytes()))
        .unwrap()
}

fn header<'a>(request: &'a rosterkit_core::http::Request<Bytes>, name: &str) -> Option<&'a str> {
    request.headers().get(name).map(|v| v.to_str().unwrap())
}

/// linq.md §8 A: the exact request.
#[test]
fn remove_request_is_exact() {
    let op = RemoveParticipant::new(client().config(), &chat(), &handle("+12052499136")).unwrap();
    let request = op.build(&attempt()).unwrap();
    assert_eq!(request.method(), "DELETE");
    assert_eq!(
        request.uri().to_string(),
        format!("{BASE}/v3/chats/{CHAT}/participants")
    );
    assert_eq!(header(&request, "authorization"), Some("Bearer test-token"));
    assert!(request.headers()["authorization"].is_sensitive());
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(request.body().as_ref(), br#"{"handle":"+12052499136"}"#);
    assert_eq!(request.headers().len(), 3);
    assert_eq!(op.name(), "remove_participant");
    assert_eq!(op.provider(), "linq");
    assert!(!op.idempotent());
    assert!(op.ensure(true).idempotent());
}

#[test]
fn add_leave_and_get_requests_are_exact() {
    let add = AddParticipant::new(client().config(), &chat(), &handle("alice@example.com"))
        .unwrap()
        .build(&attempt())
        .unwrap();
    assert_eq!(add.method(), "POST");
    assert_eq!(
        add.uri().to_string(),
        format!("{BASE}/v3/chats/{CHAT}/participants")
    );
    assert_eq!(add.body().as_ref(), br#"{"handle":"alice@example.com"}"#);
    assert_eq!(header(&add, "content-type"), Some("application/json"));

    let leave_op = Leave::new(client().config(), &chat()).unwrap();
    let leave = leave_op.build(&attempt()).unwrap();
    assert_eq!(leave.method(), "POST");
    assert_eq!(
        leave.uri().to_string(),
        format!("{BASE}/v3/chats/{CHAT}/leave")
    );
    assert!(leave.body().is_empty());
    assert_eq!(header(&leave, "content-type"), None);
    assert_eq!(header(&leave, "authorization"), Some("Bearer test-token"));
    assert!(!leave_op.idempotent());

    let get_op = GetChat::new(client().config(), &chat()).unwrap();
    let get = get_op.build(&attempt()).unwrap();
    assert_eq!(get.method(), "GET");
    assert_eq!(get.uri().to_string(), format!("{BASE}/v3/chats/{CHAT}"));
    assert!(get.body().is_empty());
    assert!(get_op.idempotent());
}

#[test]
fn chat_ids_are_uuids_in_any_case_sent_lowercased() {
    let upper = ChatId::new(CHAT.to_ascii_uppercase()).unwrap();
    let request = GetChat::new(client().config(), &upper)
        .unwrap()
        .build(&attempt())
        .unwrap();
    assert_eq!(
        request.uri().path(),
        format!("/api/partner/v3/chats/{CHAT}")
    );
    for bad in [
        "ch_01HTEST",
        "550e8400-e29b-41d4-a716-44665544000",
        "550e8400e29b41d4a716446655440000",
        "550e8400-e29b-41d4-a716-44665544000g",
        "../../v2/chats",
        "550e8400-e29b-41d4-a716-446655440000/leave",
    ] {
        let id = ChatId::new(bad).unwrap();
        let err =
            RemoveParticipant::new(client().config(), &id, &handle("+12052499136")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(err.to_string().contains("UUID"), "{err}");
        assert!(Leave::new(client().config(), &id).is_err());
        assert!(GetChat::new(client().config(), &id).is_err());
    }
}

#[test]
fn native_handles_are_refused() {
    let native = Handle::Native(NativeId::new("8:acs:1234").unwrap());
    let err = RemoveParticipant::new(client().config(), &chat(), &native).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.provider(), Some("linq"));
    assert!(err.to_string().contains("phone numbers and email"), "{err}");
    assert!(AddParticipant::new(client().config(), &chat(), &native).is_err());
}

#[test]
fn the_base_url_path_is_kept() {
    let linq = LinqClient::builder()
        .api_key("k")
        .base_url("http://127.0.0.1:9/linq/api/partner/")
        .build()
        .unwrap();
    let request = Leave::new(linq.config(), &chat())
        .unwrap()
        .build(&attempt())
        .unwrap();
    assert_eq!(
        request.uri().to_string(),
        format!("http://127.0.0.1:9/linq/api/partner/v3/chats/{CHAT}/leave")
    );
}

/// linq.md §8 A and C, and the seed page's example body.
#[test]
fn queued_replies() {
    let remove =
        RemoveParticipant::new(client().config(), &chat(), &handle("+12052499136")).unwrap();
    let LinqChange::Queued(accepted) = remove
        .parse(
            reply(
                202,
                r#"{"message":"Participant removal queued","status":"accepted","trace_id":"trace-0001"}"#,
            ),
            &attempt(),
        )
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(accepted.trace_id.as_deref(), Some("trace-0001"));
    assert_eq!(accepted.status, Some(QueueStatus::Accepted));
    assert_eq!(
        accepted.message.as_deref(),
        Some("Participant removal queued")
    );

    let leave = Leave::new(client().config(), &chat()).unwrap();
    let change = leave
        .parse(
            reply(
                202,
                r#"{"message":"Leave group chat queued","status":"accepted","trace_id":"trace-0002"}"#,
            ),
            &attempt(),
        )
        .unwrap();
    assert_eq!(change.trace_id(), Some("trace-0002"));

    // The seed's example, any 2xx, an empty body, unknown fields and values.
    for (status, body, trace) in [
        (
            202,
            r#"{"message":"Participant removal queued","status":"accepted","trace_id":"trace_id"}"#,
            Some("trace_id"),
        ),
        (200, r#"{"status":"queued","extra":{"a":1}}"#, None),
        (204, "", None),
    ] {
        let change = remove.parse(reply(status, body), &attempt()).unwrap();
        assert_eq!(change.trace_id(), trace, "{body}");
    }
    // Any other 2xx without Linq's JSON object is not its reply: an ambiguous decode error
    // (the change may have been queued), never a success.
    for body in ["", "null", "<html>ok</html>", "[]"] {
        let err = remove.parse(reply(202, body), &attempt()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}");
        assert!(err.is_ambiguous(), "{body}");
    }
    let LinqChange::Queued(odd) = remove
        .parse(reply(202, r#"{"status":"pending"}"#), &attempt())
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(odd.status, Some(QueueStatus::Unknown("pending".into())));
}

#[test]
fn leave_in_ensure_mode_turns_2013_into_already_done() {
    let body = r#"{"error":{"status":409,"code":2013,"message":"This chat is unavailable"},"trace_id":"t-9"}"#;
    let plain = Leave::new(client().config(), &chat()).unwrap();
    let err = plain.parse(reply(409, body), &attempt()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatUnavailable);
    let ensure = plain.ensure(true);
    assert!(ensure.idempotent());
    assert_eq!(
        ensure.parse(reply(409, body), &attempt()).unwrap(),
        LinqChange::AlreadyDone {
            trace_id: Some("t-9".into())
        }
    );
    // Ensure does not swallow other errors, and remove keeps 2013 an error.
    let err = ensure
        .parse(
            reply(
                409,
                r#"{"error":{"status":409,"code":1006,"message":"dm"}}"#,
            ),
            &attempt(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAGroup);
    let remove = RemoveParticipant::new(client().config(), &chat(), &handle("+12052499136"))
        .unwrap()
        .ensure(true);
    assert_eq!(
        remove
            .parse(reply(409, body), &attempt())
            .unwrap_err()
            .kind(),
        ErrorKind::ChatUnavailable
    );
}

/// The OpenAPI `Chat` schema's example and linq.md §8 D.
#[test]
fn get_chat_replies() {
    let op = GetChat::new(client().config(), &chat()).unwrap();
    let body = r#"{"id":"550e8400-e29b-41d4-a716-446655440000","display_name":"+14155551234, +14155559876",
        "service":"iMessage","is_archived":false,"is_group":true,"created_at":"2024-01-15T10:30:00Z",
        "updated_at":"2024-01-15T10:30:00Z","health_score":0.9,
        "handles":[{"id":"550e8400-e29b-41d4-a716-446655440010","handle":"+14155551234","service":"iMessage","status":"active","joined_at":"2025-05-21T15:30:00.000Z","is_me":true},
                   {"id":"550e8400-e29b-41d4-a716-446655440011","handle":"+14155559876","service":"iMessage","status":"active","joined_at":"2025-05-21T15:30:00.000Z","is_me":false},
                   {"id":"550e8400-e29b-41d4-a716-446655440012","handle":"+12052499136","service":"iMessage","status":"removed","joined_at":"2025-05-21T15:30:00.000Z","left_at":"2025-11-23T17:45:00Z","is_me":false}]}"#;
    let read = op.parse(reply(200, body), &attempt()).unwrap();
    assert_eq!(read.id, CHAT);
    assert_eq!(read.service, Some(Service::IMessage));
    assert!(read.is_group && !read.is_archived);
    assert_eq!(
        read.display_name.as_deref(),
        Some("+14155551234, +14155559876")
    );
    assert_eq!(read.handles.len(), 3);
    assert_eq!(
        read.participants(),
        vec![handle("+14155551234"), handle("+14155559876")]
    );
    assert_eq!(read.me().unwrap().handle, handle("+14155551234"));
    let removed = read.handle(&handle("+12052499136")).unwrap();
    assert_eq!(removed.status, HandleStatus::Removed);
    assert_eq!(removed.left_at.as_deref(), Some("2025-11-23T17:45:00Z"));
    assert_eq!(
        removed.id.as_deref(),
        Some("550e8400-e29b-41d4-a716-446655440012")
    );

    // Minimal and odd chats still parse.
    let minimal = op.parse(reply(200, "{}"), &attempt()).unwrap();
    assert_eq!(minimal.id, CHAT);
    assert!(minimal.handles.is_empty() && !minimal.is_group);
    let odd = op
        .parse(
            reply(
                200,
                r#"{"handles":[{"handle":"+14155551234","service":"WhatsApp","status":"paused"}],"service":"sms"}"#,
            ),
            &attempt(),
        )
        .unwrap();
    assert_eq!(odd.service, Some(Service::Sms));
    assert_eq!(
        odd.handles[0].service,
        Some(Service::Unknown("WhatsApp".into()))
    );
    assert!(
        odd.participants().is_empty(),
        "unknown status is not active"
    );

    for bad in ["", "[]", "<html>", "null", "\"chat\""] {
        let err = op.parse(reply(200, bad), &attempt()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{bad:?}");
        assert_eq!(err.body().map(|b| b.as_ref()), Some(bad.as_bytes()));
    }
    let err = op
        .parse(
            reply(
                404,
                r#"{"error":{"status":404,"code":2001,"message":"Resource not found"},"success":false}"#,
            ),
            &attempt(),
        )
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    assert_eq!(err.operation(), Some("get_chat"));
}

/// Every documented code on the mutation routes, through the op's own parse.
#[test]
fn documented_codes_through_parse() {
    let op = RemoveParticipant::new(client().config(), &chat(), &handle("+12052499136")).unwrap();
    for (status, code, kind, retryable) in [
        (400, 1001, ErrorKind::InvalidInput, false),
        (400, 1002, ErrorKind::InvalidInput, false),
        (400, 1003, ErrorKind::InvalidInput, false),
        (400, 1005, ErrorKind::InvalidInput, false),
        (409, 1006, ErrorKind::NotAGroup, false),
        (429, 1007, ErrorKind::RateLimited, true),
        (404, 2001, ErrorKind::ChatNotFound, false),
        (401, 2004, ErrorKind::Unauthorized, false),
        (403, 2005, ErrorKind::Forbidden, false),
        (403, 2006, ErrorKind::Forbidden, false),
        (403, 2008, ErrorKind::Forbidden, false),
        (409, 2009, ErrorKind::Conflict, true),
        (409, 2013, ErrorKind::ChatUnavailable, false),
        (409, 2015, ErrorKind::Conflict, true),
        (409, 2016, ErrorKind::Unsupported, false),
        (409, 2017, ErrorKind::Unsupported, false),
        (500, 3001, ErrorKind::ServerError, true),
        (504, 3005, ErrorKind::Timeout, true),
        (500, 3006, ErrorKind::ServerError, true),
        (500, 4001, ErrorKind::DeliveryFailed, true),
        (500, 4002, ErrorKind::DeliveryFailed, true),
        (503, 4004, ErrorKind::ServerError, true),
    ] {
        let body = format!(
            r#"{{"success":false,"error":{{"status":{status},"code":{code},"message":"m","doc_url":"https://docs.linqapp.com/error/codes/{}xxx/{code}/"}},"trace_id":"tr"}}"#,
            code / 1000
        );
        let err = op.parse(reply(status, &body), &attempt()).unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(err.is_retryable(), retryable, "{code}");
        assert_eq!(err.code(), Some(code.to_string().as_str()));
        assert_eq!(err.trace_id(), Some("tr"));
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(err.provider(), Some("linq"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No reply, however odd, makes a parser panic.
    #[test]
    fn parsers_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let Ok(status) = StatusCode::from_u16(status) else { return Ok(()); };
        let response = || Response::builder().status(status).body(Bytes::from(body.clone())).unwrap();
        let c = client();
        let who = handle("+12052499136");
        let _ = RemoveParticipant::new(c.config(), &chat(), &who).unwrap().parse(response(), &attempt());
        let _ = AddParticipant::new(c.config(), &chat(), &who).unwrap().parse(response(), &attempt());
        let _ = Leave::new(c.config(), &chat()).unwrap().ensure(true).parse(response(), &attempt());
        let _ = GetChat::new(c.config(), &chat()).unwrap().parse(response(), &attempt());
        let _ = rosterkit_linq::webhook::parse_event(&body);
    }

    /// JSON-shaped replies with random fields of random types.
    #[test]
    fn json_shaped_replies_never_panic(
        status in prop::sample::select(vec![200u16, 202, 400, 404, 409, 429, 500, 503]),
        code in prop::option::of(prop_oneof![Just("2013".to_owned()), Just("2009".to_owned()), "[0-9]{1,6}", "\\PC{0,8}"]),
        retry in prop::option::of(prop_oneof![Just("12".to_owned()), Just("-1".to_owned()), Just("1e999".to_owned()), Just("\"x\"".to_owned())]),
        handles in prop::collection::vec("\\PC{0,20}", 0..4),
    ) {
        let code = code.map_or("null".to_owned(), |c| serde_json::to_string(&c).unwrap());
        let retry = retry.unwrap_or_else(|| "null".to_owned());
        let list: Vec<String> = handles.iter().map(|h| format!(r#"{{"handle":{},"status":{}}}"#, serde_json::to_string(h).unwrap(), serde_json::to_string(h).unwrap())).collect();
        let body = format!(r#"{{"error":{{"status":{status},"code":{code},"message":null,"retry_after":{retry}}},"trace_id":{code},"handles":[{}]}}"#, list.join(","));
        let response = || Response::builder().status(status).body(Bytes::from(body.clone())).unwrap();
        let c = client();
        let _ = GetChat::new(c.config(), &chat()).unwrap().parse(response(), &attempt());
        let _ = Leave::new(c.config(), &chat()).unwrap().parse(response(), &attempt());
    }
}
