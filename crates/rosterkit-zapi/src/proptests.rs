//! Reply decoders under arbitrary input (issue #10, item 3): every operation's `parse` (and
//! through it `wire`, `errors` and `reply`) is fed arbitrary bytes, arbitrary JSON built from
//! Z-API's field names, and valid replies mutated (truncated, bytes flipped or inserted, fields
//! deleted, values swapped for another type), with any status. It never panics; a 2xx gives a
//! value, a `Decode` error, or (Z-API reports failures as 200) a typed error for a body that
//! says `value: false` or carries an `error` text; any other status gives a typed error
//! carrying that status.

use std::time::SystemTime;

use proptest::prelude::*;
use rosterkit_core::{Attempt, Bytes, Error, ErrorKind, Handle, Operation, http};
use serde_json::Value;

use crate::{
    ZapiChat,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, LeaveGroup, RemoveParticipants,
    },
    wire,
};

const CASES: u32 = 1_024;

/// Valid replies (status, body, how many of the checked parses give a value).
const VALID: &[(u16, &str, usize)] = &[
    (200, r#"{"value":true}"#, 3),
    (201, r#"{"success":true}"#, 3),
    (200, r#"{"value":false}"#, 0),
    (200, r#"{"error":"You need to restore the session."}"#, 0),
    (401, r#"{"error":"null not allowed"}"#, 0),
    (404, r#"{"error":"group not found"}"#, 0),
    (
        200,
        r#"{ "phone": "120363019502650977-group", "owner": "5511999999999", "subject": "My group",
  "creation": 1588721491000, "invitationLink": "https://chat.whatsapp.com/abc",
  "invitationLinkError": null, "communityId": null, "adminOnlyMessage": false,
  "adminOnlySettings": false, "requireAdminApproval": false, "isGroupAnnouncement": false,
  "participants": [ {"phone": "5511888888888", "isAdmin": false, "isSuperAdmin": false},
                    {"phone": "5511777777777", "isAdmin": true, "isSuperAdmin": false,
                     "short": "ZAPIs", "name": "ZAPIs Boys"}, {"phone": "1234@lid", "isAdmin": "true"} ],
  "subjectTime": 1617805323000, "subjectOwner": "554497050785" }"#,
        2,
    ),
    (
        200,
        r#"{"name":"Community","id":"120363186053925765","description":null,"subGroups":[{"name":"Announcements","phone":"120363186053925765-group","isGroupAnnouncement":true},{"name":"Other","phone":"120363019502650977-group","isGroupAnnouncement":"false"}]}"#,
        2,
    ),
];

/// Field names Z-API uses, for arbitrary JSON that gets past the first checks.
const KEYS: &[&str] = &[
    "value",
    "success",
    "error",
    "message",
    "phone",
    "owner",
    "subject",
    "creation",
    "participants",
    "isAdmin",
    "isSuperAdmin",
    "name",
    "id",
    "description",
    "subGroups",
    "isGroupAnnouncement",
    "communityId",
    "invitationLink",
];

fn client() -> crate::ZapiClient {
    crate::client::testing::builder()
        .instance_id("3C01A2B3C4")
        .instance_token("TOKEN123")
        .client_token("acct-secret")
        .build()
        .unwrap()
}

/// Runs every operation's `parse` on the reply, checks the results, and returns how many gave
/// a value.
fn parse_all(status: u16, body: &[u8], community: bool, _unused: bool) -> usize {
    let client = client();
    let group = ZapiChat::parse("120363019502650977-group").unwrap();
    let community_id = ZapiChat::parse("120363186053925765").unwrap();
    let chat = if community { &community_id } else { &group };
    let phones: Vec<Handle> = vec![
        "+5544999999999".parse().unwrap(),
        "+5544888888888".parse().unwrap(),
    ];
    let attempt = Attempt::first(SystemTime::UNIX_EPOCH);
    let reply = || {
        http::Response::builder()
            .status(status)
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let says_failed = wire::object(body)
        .is_some_and(|m| wire::value_of(&m) == Some(false) || wire::error_text(&m).is_some());
    let check = |result: Result<(), Error>| check(status, says_failed, result);
    let mut values = check(
        RemoveParticipants::new(&client, chat, &phones)
            .unwrap()
            .parse(reply(), &attempt),
    );
    values += check(
        AddParticipants::new(&client, chat, &phones)
            .unwrap()
            .parse(reply(), &attempt),
    );
    values += check(
        LeaveGroup::new(&client, &group)
            .unwrap()
            .parse(reply(), &attempt),
    );
    values += check(
        GetGroupMetadata::new(&client, &group)
            .unwrap()
            .parse(reply(), &attempt)
            .map(drop),
    );
    values += check(
        GetCommunityMetadata::new(&client, &community_id)
            .unwrap()
            .parse(reply(), &attempt)
            .map(drop),
    );
    values
}

/// A 2xx is a value, a `Decode` error, or a typed error when the body says it failed; anything
/// else an error with its status, provider and a message, whose `Display` and `Debug` work.
/// Returns 1 for a value.
fn check(status: u16, says_failed: bool, result: Result<(), Error>) -> usize {
    let success = (200..300).contains(&status);
    match result {
        Ok(()) => {
            assert!(success, "HTTP {status} parsed as a value");
            1
        }
        Err(err) => {
            if success && !says_failed {
                assert_eq!(err.kind(), ErrorKind::Decode, "HTTP {status}: {err:?}");
            }
            assert_eq!(err.http_status(), Some(status), "{err:?}");
            assert_eq!(err.provider(), Some("zapi"));
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
