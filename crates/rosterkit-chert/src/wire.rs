//! Chert's JSON on the wire: exact out, tolerant in.
//!
//! Incoming fields are all optional, unknown fields are ignored, and a field of an unexpected
//! type reads as absent instead of failing the whole reply (see [`lenient`]).

use std::time::Duration;

use rosterkit_core::{
    E164, Handle, HintUnit, NativeId, retry_hint, retry_hint_f64, retry_hint_whole,
};
use serde::{Deserialize, Deserializer, Serialize, de::IgnoredAny};

/// The add request body: exactly `{"address":"<E.164 or email>"}`.
#[derive(Debug, Serialize)]
pub(crate) struct AddBody<'a> {
    pub(crate) address: &'a str,
}

/// Every success reply: remove (`chat_id`, `removed`, `participants`), add (`chat_id`,
/// `added`, `participants`) and leave (`chat_id`, `status`).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Success {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) chat_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) removed: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) added: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) participants: Option<Vec<RosterEntry>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) trace_id: Option<String>,
}

/// One roster entry: a plain address as documented, or (tolerated) a handle object as in
/// Chert's create reply (`{service, address}`) and webhooks (`{handle, service, is_me}`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RosterEntry {
    Address(String),
    Object {
        #[serde(default, deserialize_with = "lenient")]
        address: Option<String>,
        #[serde(default, deserialize_with = "lenient")]
        handle: Option<String>,
    },
    Other(IgnoredAny),
}

impl RosterEntry {
    fn into_address(self) -> Option<String> {
        match self {
            Self::Address(a) => Some(a),
            Self::Object { address, handle } => address.or(handle),
            Self::Other(_) => None,
        }
    }
}

/// The roster as handles. An entry that is neither a phone number nor an email is kept as a
/// native id; one that cannot be a handle at all (empty, whitespace) is skipped rather than
/// failing a reply that reports an applied change.
pub(crate) fn roster(entries: Vec<RosterEntry>) -> Vec<Handle> {
    // Sized once: `filter_map` would start small and grow.
    let mut handles = Vec::with_capacity(entries.len());
    handles.extend(
        entries
            .into_iter()
            .filter_map(RosterEntry::into_address)
            .filter_map(handle_owned),
    );
    handles
}

/// As [`handle`], for an address the reply gave us by value: an E.164 number (the documented
/// roster entry: `+`, then 8 to 15 digits, the first not 0) becomes the handle in its own
/// buffer, without a copy; anything else takes the general path.
pub(crate) fn handle_owned(address: String) -> Option<Handle> {
    let bytes = address.as_bytes();
    let e164 = (9..=16).contains(&bytes.len())
        && bytes.first() == Some(&b'+')
        && bytes.get(1).is_some_and(|b| (b'1'..=b'9').contains(b))
        && bytes.iter().skip(2).all(u8::is_ascii_digit);
    if e164 {
        return E164::try_from(address).ok().map(Handle::Phone);
    }
    handle(&address)
}

/// An address from a reply as a [`Handle`]: E.164 or email, else a native id, else `None`.
pub(crate) fn handle(address: &str) -> Option<Handle> {
    let address = address.trim();
    match address.parse::<Handle>() {
        Ok(handle @ (Handle::Phone(_) | Handle::Email(_))) => Some(handle),
        _ => NativeId::new(address).ok().map(Handle::Native),
    }
}

/// The error envelope:
/// `{"success":false,"error":{"status","code","message","retryable","retry_after"},"trace_id"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) error: Option<ErrorBody>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) trace_id: Option<String>,
}

/// The envelope's `error` object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) code: Option<Code>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) message: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) retryable: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) retry_after: Option<Seconds>,
}

/// `error.code`: an integer (documented) or a string of digits (tolerated; any string is kept).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Code {
    Number(u64),
    Text(String),
}

impl Code {
    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Self::Number(n) => Some(n.to_string()),
            Self::Text(t) => Some(t.trim().to_owned()).filter(|t| !t.is_empty()),
        }
    }
}

/// `error.retry_after`: seconds, as an integer, a number or a string of digits.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Seconds {
    Whole(u64),
    Fraction(f64),
    Text(String),
}

impl Seconds {
    /// The server's wait: saturated at [`rosterkit_core::MAX_RETRY_HINT`]; `None` when negative,
    /// NaN or not a number.
    pub(crate) fn to_duration(&self) -> Option<Duration> {
        match self {
            Self::Whole(s) => Some(retry_hint_whole(*s, HintUnit::Seconds)),
            Self::Fraction(s) => retry_hint_f64(*s, HintUnit::Seconds),
            Self::Text(t) => retry_hint(t, HintUnit::Seconds),
        }
    }
}

/// Deserializes a field as `Some(value)`, or `None` when the value has another type, so one odd
/// field never loses the whole reply.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

/// The documented success shape with plain types: read directly, without [`lenient`]'s
/// per-field `serde_json::Value` buffering (which cost the remove path more than the whole JSON
/// parse of a hand-written client, see BENCHMARKS.md).
#[derive(Deserialize)]
struct StrictSuccess {
    chat_id: Option<String>,
    removed: Option<String>,
    added: Option<String>,
    participants: Option<Vec<String>>,
    status: Option<String>,
    trace_id: Option<String>,
}

/// Parses a success reply: the documented shape on the fast path, anything else (odd field
/// types, object roster entries) through the tolerant [`Success`]. Both read a documented reply
/// the same way. Every success Chert documents has a JSON object body, so an empty one is an
/// error too (the caller reports it as an ambiguous `Decode`), never a silent success.
pub(crate) fn parse_success(body: &[u8]) -> Result<Success, serde_json::Error> {
    if let Ok(s) = serde_json::from_slice::<StrictSuccess>(body) {
        return Ok(Success {
            chat_id: s.chat_id,
            removed: s.removed,
            added: s.added,
            participants: s
                .participants
                .map(|p| p.into_iter().map(RosterEntry::Address).collect()),
            status: s.status,
            trace_id: s.trace_id,
        });
    }
    serde_json::from_slice(body)
}

/// Parses a JSON object reply; an empty body reads as `{}`.
pub(crate) fn parse<T: serde::de::DeserializeOwned + Default>(
    body: &[u8],
) -> Result<T, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_body_is_exact() {
        let body = serde_json::to_vec(&AddBody {
            address: "+14155551234",
        })
        .unwrap();
        assert_eq!(body, br#"{"address":"+14155551234"}"#);
        assert_eq!(body.len(), 26);
    }

    #[test]
    fn odd_fields_read_as_absent() {
        let s: Success = parse(
            br#"{"chat_id":7,"removed":"+14155551234","participants":"nope","status":["x"],"extra":{"a":1}}"#,
        )
        .unwrap();
        assert_eq!(s.chat_id, None);
        assert_eq!(s.removed.as_deref(), Some("+14155551234"));
        assert!(s.participants.is_none());
        assert!(s.status.is_none());
        let e: Envelope = parse(
            br#"{"error":{"code":"1007","retryable":"yes","retry_after":"30"},"trace_id":1}"#,
        )
        .unwrap();
        let body = e.error.unwrap();
        assert_eq!(
            body.code.and_then(Code::into_string).as_deref(),
            Some("1007")
        );
        assert_eq!(body.retryable, None);
        assert_eq!(
            body.retry_after.and_then(|s| s.to_duration()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(e.trace_id, None);
    }

    #[test]
    fn roster_entries_become_handles() {
        let s: Success = parse(
            br#"{"participants":["+14155550100","Alice@Example.com","4155550100","chat-bot",
                 {"service":"imessage","address":"+14155550200"},{"handle":"bob@example.com"},
                 "", " ", 7, null, {"x":1}]}"#,
        )
        .unwrap();
        let got: Vec<String> = roster(s.participants.unwrap())
            .iter()
            .map(|h| format!("{}:{}", h.kind_name(), h.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                "phone:+14155550100",
                "email:Alice@Example.com",
                "native:4155550100",
                "native:chat-bot",
                "phone:+14155550200",
                "email:bob@example.com",
            ]
        );
    }

    #[test]
    fn retry_after_forms() {
        let d = |json: &str| {
            serde_json::from_str::<Seconds>(json)
                .ok()
                .and_then(|s| s.to_duration())
        };
        assert_eq!(d("30"), Some(Duration::from_secs(30)));
        assert_eq!(d("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(d("\" 2 \""), Some(Duration::from_secs(2)));
        assert_eq!(d("-1"), None);
        // Issue #16: an absurd wait saturates (and ends the retries); NaN is ignored.
        assert_eq!(d("1e300"), Some(rosterkit_core::MAX_RETRY_HINT));
        assert_eq!(d("\"NaN\""), None);
        assert_eq!(d("\"soon\""), None);
    }

    /// A value for a success field: mostly the documented types, sometimes not.
    fn field_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let text = "\\PC{0,16}|\\+[0-9]{0,16}|[a-z]{1,6}@[a-z]{1,6}\\.com|native:x|[ ]?\\+1415555[0-9]{4}[ ]?";
        prop_oneof![
            4 => text.prop_map(Value::String),
            1 => Just(Value::Null),
            1 => any::<i64>().prop_map(Value::from),
            2 => proptest::collection::vec(
                prop_oneof![
                    6 => text.prop_map(Value::String),
                    1 => Just(Value::Null),
                    1 => Just(serde_json::json!({"address": "+14155550100"})),
                ],
                0..6
            )
            .prop_map(Value::Array),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn fast_and_tolerant_success_parsing_agree(
            fields in proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "chat_id", "removed", "added", "participants", "status", "trace_id", "extra",
                ]),
                field_value(),
                0..7,
            )
        ) {
            let body = serde_json::to_vec(&fields).unwrap();
            let fast = parse_success(&body).map(|s| format!("{s:?}")).ok();
            let tolerant = parse::<Success>(&body).map(|s| format!("{s:?}")).ok();
            proptest::prop_assert_eq!(fast, tolerant);
        }

        #[test]
        fn owned_and_borrowed_addresses_agree(address in "\\PC{0,20}|[ ]?\\+[0-9]{0,17}[ ]?|[0-9]{1,4}@lid|native:[a-z]{0,4}") {
            proptest::prop_assert_eq!(handle_owned(address.clone()), handle(&address));
        }
    }
}
