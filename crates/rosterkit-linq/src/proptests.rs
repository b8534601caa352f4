//! Reply decoders under arbitrary input (issue #10, item 3): every operation's `parse` (and
//! through it `wire`, `errors` and `chat`) and the webhook body parser are fed arbitrary bytes,
//! arbitrary JSON built from Linq's field names, and valid replies mutated (truncated, bytes
//! flipped or inserted, fields deleted, values swapped for another type), with any status. They
//! never panic; a 2xx gives a value or a `Decode` error, any other status a typed error carrying
//! that status, and a webhook body that is JSON always parses into an event.

use std::time::{Duration, SystemTime};

use rosterkit_core::testing::{DecoderProps, check_result};
use rosterkit_core::{Attempt, Bytes, ChatId, Error, Handle, Operation, http};

use crate::{
    LinqClient,
    ops::{AddParticipant, GetChat, Leave, RemoveParticipant},
    webhook,
};

const CASES: u32 = 1_024;

/// Valid replies and webhook bodies (status, body, how many of the checked parses give a
/// value).
const VALID: &[(u16, &str, usize)] = &[
    (
        202,
        r#"{"message":"Participant removal queued","status":"accepted","trace_id":"trace-0001"}"#,
        4,
    ),
    (
        200,
        r#"{"id":"550e8400-e29b-41d4-a716-446655440000","display_name":null,"is_group":true,"is_archived":false,"created_at":"2024-01-15T10:30:00Z","updated_at":"2024-01-15T10:30:00Z","service":"iMessage","handles":[{"id":"550e8400-e29b-41d4-a716-446655440010","handle":"+14155551234","service":"iMessage","status":"active","joined_at":"2025-05-21T15:30:00.000Z","is_me":true},{"id":"550e8400-e29b-41d4-a716-446655440011","handle":"+12052499136","service":"iMessage","status":"removed","joined_at":"2025-05-21T15:30:00.000Z","left_at":"2025-11-23T17:45:00Z","is_me":false}]}"#,
        4,
    ),
    (
        400,
        r#"{"error":{"status":400,"code":1002,"message":"Phone number must be in E.164 format"},"success":false}"#,
        0,
    ),
    (
        401,
        r#"{"error":{"status":401,"code":2004,"message":"Unauthorized - missing or invalid authentication token"},"success":false}"#,
        0,
    ),
    (
        409,
        r#"{"error":{"status":409,"code":2013,"message":"This chat is unavailable"}}"#,
        0,
    ),
    (
        429,
        r#"{"success":false,"error":{"status":429,"code":1007,"message":"Rate limit exceeded","retry_after":12,"doc_url":"https://docs.linqapp.com/error/codes/"},"trace_id":"trace-0003"}"#,
        0,
    ),
    (
        500,
        r#"{"error":{"status":500,"code":3006,"message":"Internal server error"},"success":false}"#,
        0,
    ),
    (
        200,
        r#"{"api_version":"v3","webhook_version":"2026-02-03","event_id":"7d3c8a3e-0000-4000-8000-000000000001","event_type":"participant.removed","created_at":"2025-11-23T17:45:00Z","trace_id":"trace-0001","partner_id":"p","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+12052499136","participant":{"id":"h1","handle":"+12052499136","service":"iMessage","status":"removed","joined_at":"2025-05-21T15:30:00.000Z","left_at":"2025-11-23T17:45:00Z","is_me":false},"removed_at":"2025-11-23T17:45:00Z"}}"#,
        4,
    ),
    (
        200,
        r#"{"api_version":"v3","event_id":"e2","event_type":"participant.added","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","participant":{"handle":"bob@example.com","status":"active"},"added_at":"2025-11-23T17:45:00Z"}}"#,
        4,
    ),
];

/// Field names Linq uses, for arbitrary JSON that gets past the first checks.
const KEYS: &[&str] = &[
    "message",
    "status",
    "trace_id",
    "success",
    "error",
    "code",
    "retry_after",
    "doc_url",
    "id",
    "display_name",
    "service",
    "handles",
    "handle",
    "is_me",
    "is_group",
    "is_archived",
    "joined_at",
    "left_at",
    "event_type",
    "event_id",
    "data",
    "chat_id",
    "participant",
    "added_at",
    "removed_at",
];

fn client() -> LinqClient {
    LinqClient::builder().api_key("test-token").build().unwrap()
}

/// Runs every operation's `parse` on the reply and the webhook parser on the body, checks the
/// results without ensure mode, and returns how many operations gave a value.
fn parse_all(status: u16, body: &[u8], ensure: bool, later_attempt: bool) -> usize {
    let client = client();
    let chat = ChatId::new("550e8400-e29b-41d4-a716-446655440000").unwrap();
    let who: Handle = "+12052499136".parse().unwrap();
    let attempt = Attempt::new(
        if later_attempt { 2 } else { 1 },
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        later_attempt,
    );
    let reply = || {
        http::Response::builder()
            .status(status)
            .header("retry-after", "3")
            .header("x-should-retry", if ensure { "true" } else { "maybe" })
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let remove = RemoveParticipant::new(client.config(), &chat, &who).unwrap();
    let mut values = check(status, remove.parse(reply(), &attempt));
    let add = AddParticipant::new(client.config(), &chat, &who).unwrap();
    values += check(status, add.parse(reply(), &attempt));
    let leave = Leave::new(client.config(), &chat).unwrap();
    values += check(status, leave.parse(reply(), &attempt));
    let get = GetChat::new(client.config(), &chat).unwrap();
    values += check(status, get.parse(reply(), &attempt));
    // Ensure mode turns some errors into outcomes: only "never panics" holds there.
    let leave = Leave::new(client.config(), &chat).unwrap().ensure(ensure);
    let _ = leave.parse(reply(), &attempt);
    // Webhook bodies: any JSON is an event (unknown types are `Other`), anything else `Decode`.
    let event = webhook::parse_event(body);
    let is_json = serde_json::from_slice::<serde_json::Value>(body).is_ok();
    assert_eq!(event.is_ok(), is_json, "{event:?}");
    if let Err(e) = event {
        let _ = (e.to_string(), Error::from(e).to_string());
    }
    values
}

/// The decoder contract ([`check_result`]) for this provider.
fn check<T: std::fmt::Debug>(status: u16, result: Result<T, Error>) -> usize {
    check_result("linq", status, result)
}

rosterkit_core::decoder_tests!(
    DecoderProps {
        provider: "linq",
        keys: KEYS,
        valid: VALID,
        cases: CASES,
    },
    parse_all
);
