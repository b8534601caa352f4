//! Chert's JSON on the wire: exact out, tolerant in.
//!
//! Incoming fields are all optional, unknown fields are ignored, and a field of an unexpected
//! type reads as absent instead of failing the whole reply (see [`lenient`]).

use std::time::Duration;

use rosterkit_core::{Handle, NativeId};
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
    fn address(&self) -> Option<&str> {
        match self {
            Self::Address(a) => Some(a),
            Self::Object { address, handle } => address.as_deref().or(handle.as_deref()),
            Self::Other(_) => None,
        }
    }
}

/// The roster as handles. An entry that is neither a phone number nor an email is kept as a
/// native id; one that cannot be a handle at all (empty, whitespace) is skipped rather than
/// failing a reply that reports an applied change.
pub(crate) fn roster(entries: &[RosterEntry]) -> Vec<Handle> {
    entries
        .iter()
        .filter_map(RosterEntry::address)
        .filter_map(handle)
        .collect()
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
    pub(crate) fn to_duration(&self) -> Option<Duration> {
        match self {
            Self::Whole(s) => Some(Duration::from_secs(*s)),
            Self::Fraction(s) => Duration::try_from_secs_f64(*s).ok(),
            Self::Text(t) => t.trim().parse().ok().map(Duration::from_secs),
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
        let got: Vec<String> = roster(&s.participants.unwrap())
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
        assert_eq!(d("1e300"), None);
        assert_eq!(d("\"soon\""), None);
    }
}
