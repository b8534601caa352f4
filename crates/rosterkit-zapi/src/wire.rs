//! Z-API's JSON on the wire: exact out, tolerant in.
//!
//! Request bodies are serialised with the key order of Z-API's own examples. Replies are read
//! through [`serde_json::Value`]: every field is optional, unknown fields are ignored, and a
//! field of an unexpected type reads as absent (booleans also accept `"true"`/`"false"`, since
//! the docs type `isAdmin` as a string while the examples send a boolean), so one odd field
//! never loses a whole reply.

use serde::Serialize;
use serde_json::{Map, Value};

/// `POST /remove-participant` and `POST /add-participant`:
/// `{"autoInvite"?, "groupId" | "communityId", "phones"}`, in this order (the order of
/// zapi.md's add example; remove has no `autoInvite`).
#[derive(Debug, Serialize)]
pub(crate) struct PhonesBody<'a> {
    #[serde(rename = "autoInvite", skip_serializing_if = "Option::is_none")]
    pub(crate) auto_invite: Option<bool>,
    #[serde(rename = "groupId", skip_serializing_if = "Option::is_none")]
    pub(crate) group_id: Option<&'a str>,
    #[serde(rename = "communityId", skip_serializing_if = "Option::is_none")]
    pub(crate) community_id: Option<&'a str>,
    pub(crate) phones: &'a [String],
}

/// `POST /leave-group`: `{"groupId"}`.
#[derive(Debug, Serialize)]
pub(crate) struct LeaveBody<'a> {
    #[serde(rename = "groupId")]
    pub(crate) group_id: &'a str,
}

/// A reply body read as a JSON object; `None` when it is not JSON or not an object.
pub(crate) fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A boolean, also written as the string `"true"`/`"false"` (any case) or `1`/`0`.
pub(crate) fn flex_bool(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_u64()? {
            1 => Some(true),
            0 => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A non-empty string.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// An integer, also written as a string of digits.
pub(crate) fn integer(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The outcome a mutation reply states: `{"value": bool}` (or `{"success": bool}`, which the
/// community link routes use).
pub(crate) fn value_of(map: &Map<String, Value>) -> Option<bool> {
    flex_bool(map.get("value")).or_else(|| flex_bool(map.get("success")))
}

/// The failure text of `{"error": "<text>"}` (or `{"message": ...}` next to an `error` flag).
pub(crate) fn error_text(map: &Map<String, Value>) -> Option<String> {
    text(map.get("error")).or_else(|| {
        map.get("error")
            .is_some_and(|e| !e.is_null())
            .then(|| text(map.get("message")))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(b: &PhonesBody<'_>) -> String {
        String::from_utf8(serde_json::to_vec(b).unwrap()).unwrap()
    }

    #[test]
    fn bodies_are_exact_and_ordered() {
        let phones = ["5544999999999".to_owned(), "5544888888888".to_owned()];
        assert_eq!(
            body(&PhonesBody {
                auto_invite: None,
                group_id: Some("120363019502650977-group"),
                community_id: None,
                phones: &phones,
            }),
            r#"{"groupId":"120363019502650977-group","phones":["5544999999999","5544888888888"]}"#
        );
        assert_eq!(
            body(&PhonesBody {
                auto_invite: Some(false),
                group_id: None,
                community_id: Some("120363186053925765"),
                phones: &phones[..1],
            }),
            r#"{"autoInvite":false,"communityId":"120363186053925765","phones":["5544999999999"]}"#
        );
        assert_eq!(
            serde_json::to_string(&LeaveBody {
                group_id: "5511999999999-1623281429"
            })
            .unwrap(),
            r#"{"groupId":"5511999999999-1623281429"}"#
        );
    }

    #[test]
    fn tolerant_scalars() {
        let v = serde_json::json!({
            "a": true, "b": "TRUE", "c": "false", "d": 1, "e": "yes", "f": null, "g": 2,
            "n": 1588721491000_i64, "s": "1617805323000", "x": [1]
        });
        let m = v.as_object().unwrap();
        assert_eq!(flex_bool(m.get("a")), Some(true));
        assert_eq!(flex_bool(m.get("b")), Some(true));
        assert_eq!(flex_bool(m.get("c")), Some(false));
        assert_eq!(flex_bool(m.get("d")), Some(true));
        assert_eq!(flex_bool(m.get("e")), None);
        assert_eq!(flex_bool(m.get("f")), None);
        assert_eq!(flex_bool(m.get("g")), None);
        assert_eq!(flex_bool(m.get("missing")), None);
        assert_eq!(integer(m.get("n")), Some(1_588_721_491_000));
        assert_eq!(integer(m.get("s")), Some(1_617_805_323_000));
        assert_eq!(integer(m.get("x")), None);
        assert_eq!(text(m.get("x")), None);
    }

    #[test]
    fn values_and_error_texts() {
        let m = object(br#"{"value":true}"#).unwrap();
        assert_eq!(value_of(&m), Some(true));
        let m = object(br#"{"success":false,"extra":1}"#).unwrap();
        assert_eq!(value_of(&m), Some(false));
        let m = object(br#"{"value":"false"}"#).unwrap();
        assert_eq!(value_of(&m), Some(false));
        let m = object(br#"{"error":"null not allowed"}"#).unwrap();
        assert_eq!(error_text(&m).as_deref(), Some("null not allowed"));
        let m = object(br#"{"error":true,"message":"You are not connected."}"#).unwrap();
        assert_eq!(error_text(&m).as_deref(), Some("You are not connected."));
        let m = object(br#"{"message":"hello"}"#).unwrap();
        assert_eq!(error_text(&m), None);
        assert!(object(b"[1]").is_none());
        assert!(object(b"<html>").is_none());
        assert!(object(b"").is_none());
    }
}
