//! Property tests for reply decoders (feature `testing`): what every rosterkit adapter checks
//! its decoders with, for downstream adapters to check theirs the same way.
//!
//! A decoder is called through a `parse_all(status, body, ensure, after_ambiguous)` function
//! of the adapter's own, which runs every operation's [`Operation::parse`](crate::Operation)
//! on one reply, checks each result with [`check_result`] and returns how many were values.
//! [`DecoderProps`] then feeds it arbitrary bytes, arbitrary JSON built mostly from the
//! provider's field names, and the provider's valid replies mutated (truncated, bytes flipped
//! or inserted, JSON members deleted, values swapped for another type), with any status.
//!
//! ```
//! use rosterkit_core::{Error, ErrorKind, testing::{DecoderProps, check_result}};
//!
//! // A toy decoder: a 2xx body must be the JSON `true`.
//! fn parse(status: u16, body: &[u8]) -> Result<bool, Error> {
//!     let error = |kind, message: &str| {
//!         Err(Error::new(kind, message).with_provider("toy").with_http_status(status))
//!     };
//!     match (status, body) {
//!         (200..=299, b"true") => Ok(true),
//!         (200..=299, _) => error(ErrorKind::Decode, "not `true`"),
//!         _ => error(ErrorKind::ServerError, "failed"),
//!     }
//! }
//! let parse_all = |status: u16, body: &[u8], _ensure: bool, _after_ambiguous: bool| {
//!     check_result("toy", status, parse(status, body))
//! };
//! let props = DecoderProps {
//!     provider: "toy",
//!     keys: &["ok"],
//!     valid: &[(200, "true", 1), (500, "{\"ok\":false}", 0)],
//!     cases: 64,
//! };
//! props.valid_replies(&parse_all)?;
//! props.arbitrary_replies(&parse_all)?;
//! props.mutated_valid_replies(&parse_all)?;
//! # Ok::<(), String>(())
//! ```
//!
//! For tests of client code and of applications, two doubles: [`ScriptedClient`], an
//! [`HttpClient`](crate::HttpClient) that answers from a script and records what was sent, and
//! [`FakeMembership`], a [`Membership`](crate::Membership) over in-memory rosters.

use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::Value;

use crate::{Error, ErrorKind, Handle, Outcome};

mod fake_membership;
mod scripted_client;

pub use fake_membership::FakeMembership;
pub use scripted_client::{ScriptedClient, SentRequest};

/// The adapter's reply-checking function: `(status, body, ensure, after_ambiguous)` to the
/// number of operations that decoded the reply into a value.
pub type ParseAll<'a> = &'a dyn Fn(u16, &[u8], bool, bool) -> usize;

/// One provider's decoders and the replies to start from.
#[derive(Debug, Clone, Copy)]
pub struct DecoderProps {
    /// The provider id every error must carry.
    pub provider: &'static str,
    /// The provider's field names, the keys arbitrary JSON objects mostly use.
    pub keys: &'static [&'static str],
    /// Documented replies: status, body, and how many of `parse_all`'s operations decode it
    /// into a value.
    pub valid: &'static [(u16, &'static str, usize)],
    /// Cases per property.
    pub cases: u32,
}

impl DecoderProps {
    /// Every valid reply decodes into the documented number of values.
    ///
    /// # Errors
    /// The first reply that does not, described.
    pub fn valid_replies(&self, parse_all: ParseAll<'_>) -> Result<(), String> {
        for (status, body, expected) in self.valid {
            let values = parse_all(*status, body.as_bytes(), false, false);
            if values != *expected {
                return Err(format!(
                    "{}: HTTP {status} {body}: {values} values, expected {expected}",
                    self.provider
                ));
            }
        }
        Ok(())
    }

    /// Arbitrary bytes or arbitrary JSON, with any status and either mode.
    ///
    /// # Errors
    /// The smallest failing case proptest found, described.
    pub fn arbitrary_replies(&self, parse_all: ParseAll<'_>) -> Result<(), String> {
        let strategy = (
            status(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..512),
                json(self.keys).prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
            ],
            any::<bool>(),
            any::<bool>(),
        );
        self.runner()
            .run(&strategy, |(status, body, ensure, after_ambiguous)| {
                parse_all(status, &body, ensure, after_ambiguous);
                Ok(())
            })
            .map_err(|e| format!("{}: arbitrary replies: {e}", self.provider))
    }

    /// Valid replies mutated, with their own status or (one time in five) another.
    ///
    /// # Errors
    /// The smallest failing case proptest found, described.
    pub fn mutated_valid_replies(&self, parse_all: ParseAll<'_>) -> Result<(), String> {
        if self.valid.is_empty() {
            return Err(format!("{}: no valid replies to mutate", self.provider));
        }
        let strategy = (
            0..self.valid.len(),
            proptest::option::weighted(0.2, 100u16..600),
            proptest::collection::vec(mutation(), 1..5),
            any::<bool>(),
            any::<bool>(),
        );
        self.runner()
            .run(
                &strategy,
                |(pick, other_status, mutations, ensure, after_ambiguous)| {
                    if let Some((own_status, body, _)) = self.valid.get(pick) {
                        let body = apply(body.as_bytes(), &mutations);
                        parse_all(
                            other_status.unwrap_or(*own_status),
                            &body,
                            ensure,
                            after_ambiguous,
                        );
                    }
                    Ok(())
                },
            )
            .map_err(|e| format!("{}: mutated valid replies: {e}", self.provider))
    }

    fn runner(&self) -> TestRunner {
        TestRunner::new(Config {
            cases: self.cases,
            // Shrinking a failure is worth far more than its time here.
            failure_persistence: None,
            ..Config::default()
        })
    }
}

/// Defines the three decoder tests (`valid_replies_decode`, `arbitrary_replies`,
/// `mutated_valid_replies`) for a [`DecoderProps`] and an adapter's `parse_all`.
///
/// ```ignore
/// rosterkit_core::decoder_tests!(
///     DecoderProps { provider: "chert", keys: KEYS, valid: VALID, cases: 1_024 },
///     parse_all
/// );
/// ```
#[macro_export]
macro_rules! decoder_tests {
    ($props:expr, $parse_all:path) => {
        /// Every documented reply decodes into the documented number of values.
        #[test]
        fn valid_replies_decode() {
            if let Err(e) = $props.valid_replies(&$parse_all) {
                panic!("{e}");
            }
        }

        /// Arbitrary bytes or arbitrary JSON, any status.
        #[test]
        fn arbitrary_replies() {
            if let Err(e) = $props.arbitrary_replies(&$parse_all) {
                panic!("{e}");
            }
        }

        /// Valid replies, mutated, with their own status or another.
        #[test]
        fn mutated_valid_replies() {
            if let Err(e) = $props.mutated_valid_replies(&$parse_all) {
                panic!("{e}");
            }
        }
    };
}

/// Checks one decoded reply against the contract every decoder keeps, and returns 1 for a
/// value, 0 for an error: a 2xx is a value or a [`ErrorKind::Decode`] error; any other status
/// is an error carrying that status, the provider and a message, whose `Display` and `Debug`
/// work.
///
/// # Panics
/// When the result breaks that contract: this is a test assertion.
pub fn check_result<T: std::fmt::Debug>(
    provider: &str,
    status: u16,
    result: Result<T, Error>,
) -> usize {
    check_result_with(provider, status, false, result)
}

/// [`check_result`] for a provider that answers some failures with a 2xx (Z-API's
/// `{"value": false}`): when `body_says_failed`, a 2xx may be any typed error.
///
/// # Panics
/// When the result breaks the contract: this is a test assertion.
pub fn check_result_with<T: std::fmt::Debug>(
    provider: &str,
    status: u16,
    body_says_failed: bool,
    result: Result<T, Error>,
) -> usize {
    let success = (200..300).contains(&status);
    match result {
        Ok(value) => {
            assert!(success, "HTTP {status} parsed as a value: {value:?}");
            1
        }
        Err(err) => {
            if success && !body_says_failed {
                assert_eq!(err.kind(), ErrorKind::Decode, "HTTP {status}: {err:?}");
            }
            assert_eq!(err.http_status(), Some(status), "{err:?}");
            assert_eq!(err.provider(), Some(provider), "{err:?}");
            assert!(!err.message().is_empty(), "{err:?}");
            let _ = (err.to_string(), format!("{err:?}"));
            0
        }
    }
}

/// What a reply's own bytes say a decoded value holds, read by the test — not by the decoder
/// under test — so the two can be compared ([`check_outcome`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplySays {
    /// The roster entries' text, trimmed, in the reply's order; `None` when the reply carries
    /// no roster.
    pub roster: Option<Vec<String>>,
    /// The trace id; `None` when the reply carries none.
    pub trace_id: Option<String>,
    /// Whether the body is valid UTF-8 JSON. When it is not (read here with U+FFFD for the
    /// broken bytes), a strict decoder may have read less of it, so only what it did decode is
    /// checked — nothing invented — not what it left out.
    pub exact: bool,
}

impl ReplySays {
    /// Reads a JSON body: the roster is the array at the JSON pointer `roster`, each item a
    /// string or an object whose first string field among `fields` is the entry (other items
    /// are not entries); the trace id is the string at the JSON pointer `trace_id`, else
    /// `header_trace`. A body that is not JSON (invalid UTF-8 aside) says only `header_trace`.
    #[must_use]
    pub fn from_json(
        body: &[u8],
        roster: Option<(&str, &[&str])>,
        trace_id: Option<&str>,
        header_trace: Option<&str>,
    ) -> Self {
        // Invalid UTF-8 read as U+FFFD, as a tolerant decoder reads it.
        let exact = serde_json::from_slice::<Value>(body).is_ok();
        let json = serde_json::from_str::<Value>(&String::from_utf8_lossy(body)).ok();
        let roster = json
            .as_ref()
            .zip(roster)
            .and_then(|(json, (pointer, fields))| {
                let items = json.pointer(pointer)?.as_array()?;
                Some(
                    items
                        .iter()
                        .filter_map(|item| match item {
                            Value::String(s) => Some(s.trim().to_owned()),
                            Value::Object(map) => fields
                                .iter()
                                .find_map(|f| map.get(*f).and_then(Value::as_str))
                                .map(|s| s.trim().to_owned()),
                            _ => None,
                        })
                        .collect(),
                )
            });
        let trace_id = json
            .as_ref()
            .zip(trace_id)
            .and_then(|(json, pointer)| json.pointer(pointer)?.as_str().map(str::to_owned))
            .or_else(|| header_trace.map(str::to_owned));
        Self {
            roster,
            trace_id,
            exact,
        }
    }

    /// The same, with every roster entry passed through `f` (say, a provider's bare digits
    /// made E.164 by prefixing `+`).
    #[must_use]
    pub fn map_roster(mut self, f: impl Fn(&str) -> String) -> Self {
        if let Some(roster) = self.roster.as_mut() {
            for entry in roster {
                *entry = f(entry);
            }
        }
        self
    }
}

/// [`check_result_with`] for an operation that decodes into an [`Outcome`], plus the value
/// compared with what the reply says:
///
/// - a roster in the outcome is the reply's roster: each handle's text is one of the reply's
///   entries, in the reply's order (none invented, none repeated), and every entry that
///   [`Handle`]'s own parser reads as a phone number or an email is in it (none dropped; a
///   tolerant decoder may skip only entries that are not handles);
/// - a trace id in the reply is the outcome's;
/// - when `ensure` (the operation runs in ensure mode), a non-2xx may also decode into
///   `already_done` or `unconfirmed` — the end state reached some other way — and into nothing
///   else.
///
/// Returns 1 for a value, 0 for an error.
///
/// # Panics
/// When the result breaks the contract: this is a test assertion.
pub fn check_outcome(
    provider: &str,
    status: u16,
    body_says_failed: bool,
    ensure: bool,
    says: &ReplySays,
    result: Result<Outcome, Error>,
) -> usize {
    let success = (200..300).contains(&status);
    let outcome = match result {
        Ok(outcome) if !success && ensure => {
            assert!(
                matches!(outcome.as_str(), "already_done" | "unconfirmed"),
                "HTTP {status} in ensure mode parsed as {outcome:?}"
            );
            outcome
        }
        Ok(outcome) => {
            check_result_with(provider, status, body_says_failed, Ok::<_, Error>(&outcome));
            outcome
        }
        Err(err) => return check_result_with::<()>(provider, status, body_says_failed, Err(err)),
    };
    let reply_roster = says.roster.as_deref().unwrap_or_default();
    match outcome.roster() {
        Some(roster) if says.exact => check_roster(roster, reply_roster),
        Some(roster) => invents_nothing(roster, reply_roster),
        None => {}
    }
    if let Some(trace) = &says.trace_id
        && (says.exact || outcome.trace_id().is_some())
    {
        assert_eq!(
            outcome.trace_id(),
            Some(trace.as_str()),
            "HTTP {status}: the reply's trace id, decoded as {outcome:?}"
        );
    }
    1
}

/// A decoded roster against the reply's entries (see [`check_outcome`]).
///
/// # Panics
/// When the roster invents, repeats or drops a handle.
pub fn check_roster(decoded: &[Handle], reply: &[String]) {
    invents_nothing(decoded, reply);
    for entry in reply {
        let handle = matches!(
            entry.parse::<Handle>(),
            Ok(Handle::Phone(_) | Handle::Email(_))
        );
        assert!(
            !handle || decoded.iter().any(|h| h.as_str() == entry),
            "the reply's {entry:?} is missing from the decoded roster {decoded:?}"
        );
    }
}

/// Every decoded handle is one of the reply's entries, in the reply's order.
fn invents_nothing(decoded: &[Handle], reply: &[String]) {
    let mut rest = reply.iter();
    for handle in decoded {
        let text = handle.as_str();
        assert!(
            rest.any(|entry| entry == text),
            "decoded handle {text:?} is not one of the reply's entries (in order): {reply:?}, \
             decoded {decoded:?}"
        );
    }
}

/// One change to a reply.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Mutation {
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

/// Any [`Mutation`], swaps twice as often as the others.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Delete(n, k)),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Swap(n, k)),
        (any::<usize>(), any::<usize>()).prop_map(|(n, k)| Mutation::Swap(n, k)),
    ]
}

/// `body` with `mutations` applied in order.
#[must_use]
pub fn apply(body: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = body.to_vec();
    for m in mutations {
        match *m {
            Mutation::Truncate(n) => bytes.truncate(n % (bytes.len() + 1)),
            Mutation::Flip(i, x) => {
                let len = bytes.len().max(1);
                if let Some(b) = bytes.get_mut(i % len) {
                    *b ^= x;
                }
            }
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
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
                if let Ok(mutated) = serde_json::to_vec(&value) {
                    bytes = mutated;
                }
            }
        }
    }
    bytes
}

/// Arbitrary JSON whose object keys are mostly `keys`.
pub fn json(keys: &'static [&'static str]) -> impl Strategy<Value = Value> {
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

/// HTTP statuses, mostly the ones providers answer.
pub fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => proptest::sample::select(&[200u16, 201, 202, 204, 400, 401, 404, 409, 429, 500, 502, 503][..]),
        1 => 100u16..600,
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
    all.get(k % all.len()).cloned().unwrap_or(Value::Null)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_do_what_they_say() {
        assert_eq!(apply(b"{\"a\":1}", &[Mutation::Truncate(3)]), b"{\"a");
        assert_eq!(apply(b"{\"a\":1}", &[Mutation::Delete(0, 0)]), b"{}");
        assert_eq!(
            apply(b"{\"a\":1}", &[Mutation::Swap(1, 0)]),
            b"{\"a\":null}"
        );
        assert_eq!(apply(b"ab", &[Mutation::Flip(1, 0x20)]), b"aB");
        assert_eq!(apply(b"ab", &[Mutation::Insert(5, b'!')]), b"ab!");
        assert_eq!(apply(b"", &[Mutation::Flip(3, 1)]), b"");
    }

    /// A decoder that panics on some input is caught, and reported with the input.
    #[test]
    fn a_panicking_decoder_is_reported() {
        let props = DecoderProps {
            provider: "toy",
            keys: &["ok"],
            valid: &[(200, "{\"ok\":true}", 1)],
            cases: 256,
        };
        let parse_all = |_: u16, body: &[u8], _: bool, _: bool| {
            assert!(body.len() < 4, "too long");
            0
        };
        let err = props.arbitrary_replies(&parse_all).unwrap_err();
        assert!(err.contains("toy: arbitrary replies"), "{err}");
        assert!(err.contains("too long"), "{err}");
    }

    /// The comparison with the reply can fail: an invented, dropped or reordered handle, a
    /// wrong trace id, and a non-2xx decoded into anything but an ensure-mode end state.
    #[test]
    fn the_outcome_is_compared_with_the_reply() {
        let says = ReplySays::from_json(
            br#"{"participants":["+14155550100",{"address":"bob@example.com"}," chat-bot ",7],"trace_id":"t-1"}"#,
            Some(("/participants", &["address", "handle"])),
            Some("/trace_id"),
            Some("header"),
        );
        assert_eq!(
            says.roster.as_deref(),
            Some(
                &[
                    "+14155550100".to_owned(),
                    "bob@example.com".to_owned(),
                    "chat-bot".to_owned()
                ][..]
            )
        );
        assert_eq!(says.trace_id.as_deref(), Some("t-1"));
        let handles =
            |list: &[&str]| -> Vec<Handle> { list.iter().map(|h| h.parse().unwrap()).collect() };
        let applied = |roster: &[&str], trace: &str| Outcome::Applied {
            roster: Some(handles(roster)),
            trace_id: Some(trace.to_owned()),
        };
        let ok = |outcome: Outcome| check_outcome("p", 200, false, false, &says, Ok(outcome));
        assert_eq!(ok(applied(&["+14155550100", "bob@example.com"], "t-1")), 1);
        let fails = |outcome: Outcome| std::panic::catch_unwind(|| ok(outcome)).is_err();
        assert!(fails(applied(&["+14155550100"], "t-1")), "dropped");
        assert!(
            fails(applied(
                &["+14155550100", "bob@example.com", "+14155550199"],
                "t-1"
            )),
            "invented"
        );
        assert!(
            fails(applied(&["bob@example.com", "+14155550100"], "t-1")),
            "reordered"
        );
        assert!(
            fails(applied(&["+14155550100", "bob@example.com"], "t-2")),
            "trace id"
        );
        let non_2xx = |ensure, outcome: Outcome| {
            std::panic::catch_unwind(|| {
                check_outcome("p", 400, false, ensure, &ReplySays::default(), Ok(outcome))
            })
            .is_ok()
        };
        assert!(non_2xx(true, Outcome::AlreadyDone { trace_id: None }));
        assert!(!non_2xx(false, Outcome::AlreadyDone { trace_id: None }));
        assert!(!non_2xx(true, applied(&[], "t")));
    }

    #[test]
    fn the_contract_check_counts_values() {
        assert_eq!(check_result::<()>("p", 200, Ok(())), 1);
        let decode = Error::new(ErrorKind::Decode, "bad")
            .with_provider("p")
            .with_http_status(200);
        assert_eq!(check_result::<()>("p", 200, Err(decode)), 0);
    }
}
