//! Reply decoders under arbitrary input (issue #10, item 3): every operation's `parse` (and
//! through it `wire`, `errors`, `identifier` and `rfc3339`) is fed arbitrary bytes, arbitrary
//! JSON built from ACS's field names, and valid replies mutated (truncated, bytes flipped or
//! inserted, fields deleted, values swapped for another type), with any status. It never
//! panics; a 2xx gives a value or a `Decode` error, any other status a typed error carrying
//! that status.

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use rosterkit_core::{Attempt, Bytes, ChatId, Endpoint, Error, ErrorKind, Operation, Secret, http};
use serde_json::Value;

use crate::{
    AccessKey, ChatContext, ChatParticipant, CommunicationIdentifier,
    ops::{AddParticipants, IssueAccessToken, ListParticipants, RemoveParticipant},
};

const CASES: u32 = 1_024;

/// Valid replies (status, body, how many of the checked parses give a value).
const VALID: &[(u16, &str, usize)] = &[
    (204, "", 2),
    (201, "{}", 3),
    (
        201,
        r#"{"invalidParticipants":[{"target":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_a34d2d65-d72f-4c48-a12c-2d5c9ac75a1a","code":"403","message":"Permissions check failed"},{"target":"4:+14155551234","code":"404","message":"Not found","details":[{"code":"x"}]}]}"#,
        3,
    ),
    (
        200,
        r#"{"value":[{"communicationIdentifier":{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715","communicationUser":{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715"}},"displayName":"Jane","shareHistoryTime":"2020-06-06T05:55:41Z"},{"communicationIdentifier":{"kind":"phoneNumber","rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}},"displayName":"Alex"},{"communicationIdentifier":{"rawId":"8:orgid:u1","microsoftTeamsUser":{"userId":"u1","isAnonymous":false,"cloud":"gcch"}}},{"communicationIdentifier":{"rawId":"99:x"}}],"nextLink":"https://contoso.westus.communications.azure.com/chat/threads/19:453dafb77b26481ea2e73bcada0324af@thread.v2/participants?skip=2&maxPageSize=2&api-version=2025-03-15"}"#,
        3,
    ),
    (
        200,
        r#"{"token":"eyJhbGciOiJSUzI1NiJ9.eyJza3lwZWlkIjoiYWNzOjExMTFfMjIyMiJ9.c2ln","expiresOn":"2023-10-10T21:39:39.3244584+00:00"}"#,
        4,
    ),
    (
        401,
        r#"{"error":{"code":"Unauthorized","message":"Request is not authorized."}}"#,
        0,
    ),
    (
        429,
        r#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded.","target":"thread","details":[]}}"#,
        0,
    ),
    (
        400,
        r#"{"Code":"BadRequest","Message":"Initiator is not a participant of the thread","InnerErrors":[{"Code":"NotAParticipant"}]}"#,
        0,
    ),
    (
        403,
        r#"{"error":{"code":"Forbidden","message":"x","innerError":{"code":"NotAParticipant","innererror":{"code":"Deeper"}}}}"#,
        0,
    ),
];

/// Field names ACS uses, for arbitrary JSON that gets past the first checks.
const KEYS: &[&str] = &[
    "value",
    "nextLink",
    "communicationIdentifier",
    "rawId",
    "kind",
    "communicationUser",
    "phoneNumber",
    "microsoftTeamsUser",
    "microsoftTeamsApp",
    "teamsExtensionUser",
    "id",
    "userId",
    "isAnonymous",
    "cloud",
    "displayName",
    "shareHistoryTime",
    "invalidParticipants",
    "target",
    "code",
    "message",
    "details",
    "error",
    "innererror",
    "token",
    "expiresOn",
];

/// Runs every operation's `parse` on the reply, checks the results without ensure mode, and
/// returns how many gave a value.
fn parse_all(status: u16, body: &[u8], ensure: bool, after_ambiguous: bool) -> usize {
    let endpoint = Endpoint::parse("https://contoso.communication.azure.com").unwrap();
    let ctx = ChatContext::new(endpoint.clone(), Secret::new("user-token"));
    let thread = ChatId::new("19:abc@thread.v2").unwrap();
    let who = CommunicationIdentifier::from_raw_id("8:acs:1111_2222");
    let attempt = Attempt::new(
        2,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        after_ambiguous,
    );
    let reply = || {
        http::Response::builder()
            .status(status)
            .header("x-ms-retry-after-ms", "250")
            .header("ms-cv", "trace-1")
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let remove = RemoveParticipant::new(ctx.clone(), thread.clone(), who.clone());
    let mut values = check(status, remove.parse(reply(), &attempt));
    let add = AddParticipants::new(
        ctx.clone(),
        thread.clone(),
        vec![ChatParticipant::new(who.clone())],
    );
    values += check(status, add.parse(reply(), &attempt));
    let list = ListParticipants::first_page(ctx.clone(), thread.clone());
    values += check(status, list.parse(reply(), &attempt));
    let key = AccessKey::from_base64("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let token = IssueAccessToken::new(endpoint, key, "8:acs:1111_2222");
    values += check(status, token.parse(reply(), &attempt));
    // Ensure mode and leave turn some errors into outcomes: only "never panics" holds there.
    let leave = RemoveParticipant::new(ctx, thread, who)
        .ensure(ensure)
        .leave(true)
        .after_ambiguous_failure(after_ambiguous);
    let _ = leave.parse(reply(), &attempt);
    values
}

/// A 2xx is a value or a `Decode` error; anything else an error with its status, provider and
/// a message, whose `Display` and `Debug` work. Returns 1 for a value.
fn check<T: std::fmt::Debug>(status: u16, result: Result<T, Error>) -> usize {
    let success = (200..300).contains(&status);
    match result {
        Ok(value) => {
            assert!(success, "HTTP {status} parsed as a value: {value:?}");
            1
        }
        Err(err) => {
            if success {
                assert_eq!(err.kind(), ErrorKind::Decode, "HTTP {status}: {err:?}");
            }
            assert_eq!(err.http_status(), Some(status), "{err:?}");
            assert_eq!(err.provider(), Some("acs"));
            assert!(!err.message().is_empty());
            let _ = (err.to_string(), format!("{err:?}"));
            0
        }
    }
}

// ---- mutations (the same in every adapter's decoder proptests) ----

/// One change to a reply.
#[derive(Debug, Clone)]
enum Mutation {
    /// Keep the first `n % (len + 1)` bytes.
    Truncate(usize),
    /// XOR one byte with a non-zero mask.
    Flip(usize, u8),
    /// Insert one byte.
    Insert(usize, u8),
    /// Remove one member of the n-th JSON object or array (if the body is still JSON).
    Delete(usize, usize),
    /// Replace the n-th JSON value by one of another type (if the body is still JSON).
    Swap(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Delete(n, k)),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Swap(n, k)),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Swap(n, k)),
    ]
}

/// Values of every JSON type, including edge cases of each.
fn replacement(k: usize) -> Value {
    let all = [
        Value::Null,
        Value::Bool(true),
        Value::Bool(false),
        Value::from(0),
        Value::from(-1),
        Value::from(u64::MAX),
        Value::from(i64::MIN),
        Value::from(1.5),
        Value::from(-1e300),
        Value::from(""),
        Value::from(" "),
        Value::from("x"),
        Value::from("+14155551234"),
        Value::from("\u{202E}\r\n\0"),
        Value::from("99999999999999999999999"),
        Value::Array(vec![]),
        Value::Array(vec![Value::Null, Value::from(1)]),
        serde_json::json!({}),
        serde_json::json!({"": null, "error": {"code": []}}),
        serde_json::json!([[[[[[[[[[]]]]]]]]]]),
    ];
    all[k % all.len()].clone()
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(count_nodes).sum(),
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Calls `f` on the `n`-th value in depth-first order; true when found.
fn visit(v: &mut Value, n: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *n == 0 {
        f(v);
        return true;
    }
    *n -= 1;
    match v {
        Value::Object(m) => m.values_mut().any(|c| visit(c, n, f)),
        Value::Array(a) => a.iter_mut().any(|c| visit(c, n, f)),
        _ => false,
    }
}

fn apply(body: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = body.to_vec();
    for m in mutations {
        match *m {
            Mutation::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
            Mutation::Flip(i, x) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] ^= x;
                }
            }
            Mutation::Insert(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.insert(i, b);
            }
            Mutation::Delete(n, k) | Mutation::Swap(n, k) => {
                let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
                    continue;
                };
                let mut target = n % count_nodes(&value);
                let delete = matches!(m, Mutation::Delete(..));
                visit(&mut value, &mut target, &mut |v| {
                    if !delete {
                        *v = replacement(k);
                    } else if let Value::Object(map) = v {
                        if let Some(key) = map.keys().nth(k % map.len().max(1)).cloned() {
                            map.remove(&key);
                        }
                    } else if let Value::Array(items) = v
                        && !items.is_empty()
                    {
                        items.remove(k % items.len());
                    }
                });
                bytes = serde_json::to_vec(&value).unwrap();
            }
        }
    }
    bytes
}

/// Arbitrary JSON whose object keys are mostly the provider's own field names.
fn json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        "[0-9+]{0,16}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        4 => proptest::sample::select(keys).prop_map(str::to_owned),
        1 => "[a-zA-Z_]{0,6}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => proptest::sample::select(&[200u16, 201, 202, 204, 400, 401, 404, 409, 429, 500, 502, 503][..]),
        1 => 100u16..600,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    /// Arbitrary bytes or arbitrary JSON, any status.
    #[test]
    fn arbitrary_replies(
        status in status(),
        body in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..512),
            json(KEYS).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        ],
        ensure in any::<bool>(),
        after_ambiguous in any::<bool>(),
    ) {
        parse_all(status, &body, ensure, after_ambiguous);
    }

    /// Valid replies, mutated, with their own status or another.
    #[test]
    fn mutated_valid_replies(
        pick in any::<usize>(),
        other_status in proptest::option::weighted(0.2, 100u16..600),
        mutations in proptest::collection::vec(mutation(), 1..5),
        ensure in any::<bool>(),
        after_ambiguous in any::<bool>(),
    ) {
        let (own_status, body, _) = VALID[pick % VALID.len()];
        let body = apply(body.as_bytes(), &mutations);
        parse_all(other_status.unwrap_or(own_status), &body, ensure, after_ambiguous);
    }
}

#[test]
fn valid_replies_decode() {
    for (status, body, expected) in VALID {
        let values = parse_all(*status, body.as_bytes(), false, false);
        assert_eq!(values, *expected, "{status} {body}");
    }
    // The mutations do what they say.
    assert_eq!(apply(b"{\"a\":1}", &[Mutation::Truncate(3)]), b"{\"a");
    assert_eq!(apply(b"{\"a\":1}", &[Mutation::Delete(0, 0)]), b"{}");
    assert_eq!(
        apply(b"{\"a\":1}", &[Mutation::Swap(1, 0)]),
        b"{\"a\":null}"
    );
}
