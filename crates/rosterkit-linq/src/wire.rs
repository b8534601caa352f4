//! Linq's JSON on the wire: exact out, tolerant in.
//!
//! Incoming fields are all optional, unknown fields are ignored, and a field of an unexpected
//! type reads as absent instead of failing the whole reply (see [`lenient`]).

use std::time::Duration;

use rosterkit_core::{Handle, HintUnit, NativeId, retry_hint, retry_hint_f64, retry_hint_whole};
use serde::{Deserialize, Deserializer, Serialize};

/// The remove and add request body: exactly `{"handle":"<E.164 or email>"}`.
#[derive(Debug, Serialize)]
pub(crate) struct HandleBody<'a> {
    pub(crate) handle: &'a str,
}

/// A queued mutation's reply: `{"message", "status": "accepted", "trace_id"}` (all optional in
/// the official SDK's types).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Accepted {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) message: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) trace_id: Option<String>,
}

/// `GET /v3/chats/{chatId}`: a bare `Chat` object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chat {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) display_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) service: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) handles: Option<Vec<Lenient<ChatHandle>>>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) is_archived: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) is_group: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) updated_at: Option<String>,
}

/// One `ChatHandle`: `{id, handle, service, joined_at, is_me?, left_at?, status?}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChatHandle {
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) handle: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) service: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) joined_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) left_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub(crate) is_me: Option<bool>,
}

/// A list element that reads as `None` when it has another shape, so one odd entry never loses
/// the whole list.
#[derive(Debug)]
pub(crate) struct Lenient<T>(pub(crate) Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(Self(T::deserialize(value).ok()))
    }
}

/// The error envelope:
/// `{"success"?: false, "error": {"status", "code", "message", "doc_url"?, "retry_after"?}, "trace_id"?}`.
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
    pub(crate) retry_after: Option<Seconds>,
}

/// `error.code`: an integer (documented) or a string (tolerated).
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

/// A handle string from a reply or a webhook as a [`Handle`]: E.164 or email, else a native
/// id, else `None` (empty or unusable).
pub(crate) fn handle(text: &str) -> Option<Handle> {
    let text = text.trim();
    match text.parse::<Handle>() {
        Ok(handle @ (Handle::Phone(_) | Handle::Email(_))) => Some(handle),
        _ => NativeId::new(text).ok().map(Handle::Native),
    }
}

/// Deserializes a field as `Some(value)`, or `None` when the value has another type, so one odd
/// field never loses the whole reply.
pub(crate) fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

/// Parses a JSON object reply; an empty body reads as `{}`, anything but an object (serde
/// would read `[..]` into a struct field by field) is refused.
pub(crate) fn parse<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Option<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(T::default());
    }
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|value| serde_json::from_value(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_body_is_exact() {
        let body = serde_json::to_vec(&HandleBody {
            handle: "+12052499136",
        })
        .unwrap();
        assert_eq!(body, br#"{"handle":"+12052499136"}"#);
    }

    #[test]
    fn odd_fields_read_as_absent() {
        let a: Accepted =
            parse(br#"{"message":1,"status":"accepted","trace_id":["x"],"x":{}}"#).unwrap();
        assert_eq!(a.message, None);
        assert_eq!(a.status.as_deref(), Some("accepted"));
        assert_eq!(a.trace_id, None);
        let e: Envelope =
            parse(br#"{"error":{"code":"2013","message":7,"retry_after":"12"},"trace_id":3}"#)
                .unwrap();
        let body = e.error.unwrap();
        assert_eq!(
            body.code.and_then(Code::into_string).as_deref(),
            Some("2013")
        );
        assert_eq!(body.message, None);
        assert_eq!(
            body.retry_after.and_then(|s| s.to_duration()),
            Some(Duration::from_secs(12))
        );
        assert_eq!(e.trace_id, None);
        let c: Chat = parse(br#"{"id":"x","handles":[{"handle":"+14155551234"},7,null]}"#).unwrap();
        assert!(parse::<Accepted>(br#"["m","accepted","t"]"#).is_none());
        assert!(parse::<Envelope>(b"null").is_none());
        let handles = c.handles.unwrap();
        assert_eq!(handles.len(), 3);
        assert!(handles[0].0.is_some());
        assert!(handles[1].0.is_none() && handles[2].0.is_none());
    }

    #[test]
    fn retry_after_forms() {
        let d = |json: &str| {
            serde_json::from_str::<Seconds>(json)
                .ok()
                .and_then(|s| s.to_duration())
        };
        assert_eq!(d("12"), Some(Duration::from_secs(12)));
        assert_eq!(d("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(d("\" 3 \""), Some(Duration::from_secs(3)));
        assert_eq!(d("-1"), None);
        // Issue #16 (the forms are core's `retry_hint`): saturate or ignore, never panic.
        assert_eq!(
            d("18446744073709551615000"),
            Some(rosterkit_core::MAX_RETRY_HINT)
        );
        assert_eq!(d("\"-7\""), None);
        assert_eq!(d("\"later\""), None);
    }

    #[test]
    fn handles_from_replies() {
        let kind = |s: &str| handle(s).map(|h| format!("{}:{}", h.kind_name(), h.as_str()));
        assert_eq!(kind("+14155551234").as_deref(), Some("phone:+14155551234"));
        assert_eq!(
            kind(" bob@example.com ").as_deref(),
            Some("email:bob@example.com")
        );
        assert_eq!(kind("4155551234").as_deref(), Some("native:4155551234"));
        assert_eq!(kind(""), None);
        assert_eq!(kind("  "), None);
    }
}
