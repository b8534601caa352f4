//! Reply → [`Error`], through the generated table.
//!
//! ACS error bodies come in two shapes: the documented `{"error":{"code","message",...}}` and
//! an old PascalCase, unwrapped `{"Code","Message","InnerErrors"}`. Keys are matched without
//! regard to case, and either shape is accepted. The code is looked up per route; a reply with
//! no code (empty or non-JSON body, e.g. from a gateway) is looked up under its status's
//! PascalCase reason phrase (`NotFound`), an unknown code falls back to that row too, and a
//! status with no row to [`ErrorKind::from_status`]. The raw body is always kept.

use bytes::Bytes;
use rosterkit_core::{Error, ErrorKind};
use serde_json::{Map, Value};

use crate::generated::{PROVIDER, Route, error_entry};

/// The code ACS (and Azure generally) uses for a status: its reason phrase in PascalCase. It is
/// the key of status-only rows in `specs/acs.toml`.
pub(crate) fn status_code_name(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        408 => "RequestTimeout",
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => return None,
    })
}

/// The service's request id, for `Error::trace_id` and `Outcome` trace ids.
pub(crate) fn trace_id(headers: &http::HeaderMap) -> Option<String> {
    ["x-ms-request-id", "ms-cv", "x-ms-client-request-id"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// What an error body said, whichever shape it had.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    /// Codes of the inner errors, outermost first (for the message only).
    pub(crate) inner_codes: Vec<String>,
}

/// Case-insensitive lookup of `key` in a JSON object.
fn get_ci<'a>(object: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| keys.iter().any(|key| k.eq_ignore_ascii_case(key)))
        .map(|(_, v)| v)
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl ErrorBody {
    /// Parses `{"error":{...}}` or a top-level error object; `None` for anything else.
    pub(crate) fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let top = value.as_object()?;
        let object = match get_ci(top, &["error"]) {
            Some(Value::Object(inner)) => inner,
            _ => top,
        };
        let mut parsed = ErrorBody {
            code: text(get_ci(object, &["code"])),
            message: text(get_ci(object, &["message"])),
            inner_codes: Vec::new(),
        };
        // innererror / innerError (an object, nested) or InnerErrors (an array).
        let mut inner = get_ci(object, &["innererror", "innererrors"]);
        for _ in 0..8 {
            let next = match inner {
                Some(Value::Object(o)) => o,
                Some(Value::Array(items)) => match items.first() {
                    Some(Value::Object(o)) => o,
                    _ => break,
                },
                _ => break,
            };
            if let Some(code) = text(get_ci(next, &["code"])) {
                parsed.inner_codes.push(code);
            }
            inner = get_ci(next, &["innererror", "innererrors"]);
        }
        (parsed.code.is_some() || parsed.message.is_some()).then_some(parsed)
    }
}

/// The error for a reply that is not the route's success.
pub(crate) fn from_reply(route: Route, response: &http::Response<Bytes>) -> Error {
    let status = response.status().as_u16();
    let body = response.body();
    let parsed = ErrorBody::parse(body).unwrap_or_default();
    let message = match (&parsed.message, parsed.inner_codes.is_empty()) {
        (Some(m), true) => m.clone(),
        (Some(m), false) => format!("{m} (inner: {})", parsed.inner_codes.join(", ")),
        (None, _) if body.iter().all(u8::is_ascii_whitespace) => {
            format!("HTTP {status} with an empty body")
        }
        (None, _) => format!("HTTP {status} without an ACS error body"),
    };
    let by_code = parsed
        .code
        .as_deref()
        .and_then(|code| error_entry(route, code));
    let mut error = match by_code {
        Some(entry) => entry.to_error(PROVIDER, message),
        None => {
            let fallback = status_code_name(status).and_then(|name| error_entry(route, name));
            let error = match fallback {
                Some(entry) => Error::new(entry.kind, message)
                    .with_retryable(entry.retryable)
                    .with_ambiguous(entry.ambiguous),
                None => {
                    let retryable = status == 429 || (status >= 500 && status != 501);
                    let ambiguous = status == 408 || (status >= 500 && status != 501);
                    Error::new(ErrorKind::from_status(status), message)
                        .with_retryable(retryable)
                        .with_ambiguous(ambiguous)
                }
            };
            let error = error.with_provider(PROVIDER);
            match parsed.code {
                Some(code) => error.with_code(code),
                None => error,
            }
        }
    };
    error = error.with_http_status(status).with_body(body.clone());
    if let Some(trace) = trace_id(response.headers()) {
        error = error.with_trace_id(trace);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> http::Response<Bytes> {
        http::Response::builder()
            .status(status)
            .body(Bytes::from(body.to_owned()))
            .unwrap()
    }

    #[test]
    fn both_shapes_and_any_case() {
        let wrapped = ErrorBody::parse(
            br#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded."}}"#,
        )
        .unwrap();
        assert_eq!(wrapped.code.as_deref(), Some("TooManyRequests"));
        let pascal = ErrorBody::parse(
            br#"{"Code":"BadRequest","Message":"Initiator is not a participant of the thread","InnerErrors":[]}"#,
        )
        .unwrap();
        assert_eq!(pascal.code.as_deref(), Some("BadRequest"));
        assert_eq!(
            pascal.message.as_deref(),
            Some("Initiator is not a participant of the thread")
        );
        let inner = ErrorBody::parse(
            br#"{"ERROR":{"CODE":"Forbidden","message":"x","innerError":{"code":"NotAParticipant","innererror":{"code":"Deeper"}}}}"#,
        )
        .unwrap();
        assert_eq!(inner.inner_codes, ["NotAParticipant", "Deeper"]);
        let array = ErrorBody::parse(br#"{"Code":"X","InnerErrors":[{"Code":"Y"}]}"#).unwrap();
        assert_eq!(array.inner_codes, ["Y"]);
        for junk in [
            &b""[..],
            b"<html>502</html>",
            b"[]",
            b"{}",
            b"null",
            b"{\"error\":5}",
        ] {
            assert_eq!(ErrorBody::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn status_only_replies_use_the_status_row() {
        let e = from_reply(Route::ListParticipants, &reply(404, ""));
        assert_eq!(e.kind(), ErrorKind::ChatNotFound);
        assert_eq!(e.code(), None);
        let e = from_reply(Route::RemoveParticipant, &reply(404, "not json"));
        assert_eq!(e.kind(), ErrorKind::ChatNotFound);
        let e = from_reply(Route::RemoveParticipant, &reply(500, ""));
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert!(e.is_retryable() && e.is_ambiguous());
        assert_eq!(e.body().map(Bytes::len), Some(0));
        let e = from_reply(Route::AddParticipants, &reply(400, "{}"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(!e.is_retryable());
        // No row at all: by status.
        let e = from_reply(Route::AddParticipants, &reply(409, ""));
        assert_eq!(e.kind(), ErrorKind::Conflict);
        let e = from_reply(Route::AddParticipants, &reply(507, ""));
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert!(e.is_retryable() && e.is_ambiguous());
    }

    #[test]
    fn unknown_codes_fall_back_to_the_status_row_and_keep_the_code() {
        let e = from_reply(
            Route::RemoveParticipant,
            &reply(
                403,
                r#"{"error":{"code":"NotAParticipant","message":"nope"}}"#,
            ),
        );
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert_eq!(e.code(), Some("NotAParticipant"));
        assert_eq!(e.message(), "nope");
    }

    #[test]
    fn trace_ids() {
        let mut r = reply(429, "");
        r.headers_mut()
            .insert("ms-cv", http::HeaderValue::from_static("cv-1"));
        assert_eq!(
            from_reply(Route::ListParticipants, &r).trace_id(),
            Some("cv-1")
        );
    }
}
