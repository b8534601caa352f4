//! Reply decoders under arbitrary input (issue #10, item 3): every operation's `parse` (and
//! through it `wire` and `errors`) is fed arbitrary bytes, arbitrary JSON built from Chert's
//! field names, and valid replies mutated (truncated, bytes flipped or inserted, fields
//! deleted, values swapped for another type), with any status. It never panics; a 2xx gives a
//! value or a `Decode` error, any other status a typed error carrying that status.

use std::time::{Duration, SystemTime};

use rosterkit_core::testing::{DecoderProps, check_result};
use rosterkit_core::{Attempt, Bytes, ChatId, Error, Handle, Operation, http};

use crate::{
    ChertClient,
    ops::{AddParticipant, Leave, RemoveParticipant},
};

const CASES: u32 = 1_024;

/// Valid replies (status, body, how many of the checked parses give a value): the documented
/// successes and error envelopes.
const VALID: &[(u16, &str, usize)] = &[
    (
        200,
        r#"{"chat_id":"ch_01HTEST","removed":"+14155551234","participants":["+14155550100","+14155550200","alice@example.com"],"trace_id":"t-1"}"#,
        3,
    ),
    (
        200,
        r#"{"chat_id":"ch_01HTEST","added":"bob@example.com","participants":["+14155550100",{"service":"imessage","address":"bob@example.com"},{"handle":"+14155550300","is_me":false}]}"#,
        3,
    ),
    (200, r#"{"chat_id":"ch_01HTEST","status":"left"}"#, 3),
    (
        400,
        r#"{"success":false,"error":{"status":400,"code":1001,"message":"address not in the group","retryable":false},"trace_id":"t-2"}"#,
        0,
    ),
    (
        400,
        r#"{"success":false,"error":{"status":400,"code":1002,"message":"group is at the minimum size of 3","retryable":false},"trace_id":"t-3"}"#,
        0,
    ),
    (
        429,
        r#"{"success":false,"error":{"status":429,"code":1007,"message":"slow down","retryable":true,"retry_after":30},"trace_id":"t-4"}"#,
        0,
    ),
    (
        401,
        r#"{"success":false,"error":{"status":401,"code":2013,"message":"timestamp outside the 5 minute window","retryable":false},"trace_id":"t-5"}"#,
        0,
    ),
    (
        503,
        r#"{"success":false,"error":{"status":503,"code":4002,"message":"upstream unavailable","retryable":true,"retry_after":"5"}}"#,
        0,
    ),
];

/// Field names Chert uses, for arbitrary JSON that gets past the first checks.
const KEYS: &[&str] = &[
    "chat_id",
    "removed",
    "added",
    "participants",
    "status",
    "trace_id",
    "success",
    "error",
    "code",
    "message",
    "retryable",
    "retry_after",
    "address",
    "handle",
    "service",
];

fn client() -> ChertClient {
    ChertClient::builder()
        .tenant("acme")
        .signing_secret("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap()
}

/// Runs every operation's `parse` on the reply and checks the results without ensure mode;
/// returns how many of those were values.
fn parse_all(status: u16, body: &[u8], ensure: bool, after_ambiguous: bool) -> usize {
    let client = client();
    let chat = ChatId::new("ch_01HTEST").unwrap();
    let who: Handle = "+14155551234".parse().unwrap();
    let attempt = Attempt::new(
        2,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        after_ambiguous,
    );
    let reply = || {
        http::Response::builder()
            .status(status)
            .header("retry-after", "3")
            .header("x-trace-id", "t-header")
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let remove = RemoveParticipant::new(client.config(), &chat, &who).unwrap();
    let mut values = check(status, remove.parse(reply(), &attempt));
    let add = AddParticipant::new(client.config(), &chat, &who).unwrap();
    values += check(status, add.parse(reply(), &attempt));
    let leave = Leave::new(client.config(), &chat).unwrap();
    values += check(status, leave.parse(reply(), &attempt));
    // Ensure mode turns some errors into outcomes: only "never panics" holds there.
    let remove = RemoveParticipant::new(client.config(), &chat, &who)
        .unwrap()
        .ensure(ensure);
    let _ = remove.parse(reply(), &attempt);
    let leave = Leave::new(client.config(), &chat).unwrap().ensure(ensure);
    let _ = leave.parse(reply(), &attempt);
    values
}

/// The decoder contract ([`check_result`]) for this provider.
fn check<T: std::fmt::Debug>(status: u16, result: Result<T, Error>) -> usize {
    check_result("chert", status, result)
}

rosterkit_core::decoder_tests!(
    DecoderProps {
        provider: "chert",
        keys: KEYS,
        valid: VALID,
        cases: CASES,
    },
    parse_all
);
