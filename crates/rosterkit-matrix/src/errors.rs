//! Matrix reply → [`Error`], through the generated per-route code table.

use std::time::{Duration, SystemTime};

use rosterkit_core::{
    Bytes, Error, ErrorKind, HintUnit,
    http::{HeaderMap, StatusCode},
    retry_after_from_headers, retry_hint_whole,
};
use serde_json::Value;

use crate::generated::{PROVIDER, Route, error_entry};

/// Longest `error` text kept from a reply; a hostile server's essay is cut here.
const MAX_MESSAGE: usize = 512;
/// Longest `errcode` believed; Matrix codes are short `M_…` names.
const MAX_CODE: usize = 64;

/// The standard error body: `{"errcode", "error", "retry_after_ms"?}`. Fields of the wrong type
/// are ignored rather than failing the whole body.
#[derive(Debug, Default)]
pub(crate) struct ErrorBody {
    pub(crate) errcode: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) retry_after_ms: Option<u64>,
}

impl ErrorBody {
    /// The body's fields, or `None` when it is not a JSON object.
    pub(crate) fn parse(body: &[u8]) -> Option<Self> {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return None;
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(Self {
            errcode: text("errcode").filter(|c| {
                !c.is_empty()
                    && c.len() <= MAX_CODE
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            }),
            error: text("error").map(|m| truncate(m.trim(), MAX_MESSAGE)),
            retry_after_ms: map.get("retry_after_ms").and_then(Value::as_u64),
        })
    }
}

/// Maps a non-2xx reply on `route` to an [`Error`].
///
/// - Kind, retryability and ambiguity come from the route's row for the `errcode` when the
///   row's status matches the reply's (the same code means different things per route and per
///   status); otherwise the status decides and the code is kept.
/// - The wait is the longer of `retry_after_ms` and `Retry-After`.
/// - A body that is not the standard error object is a `ServerError` on 5xx, `RateLimited` on
///   429 and a `Decode` error otherwise. The raw body is kept.
pub(crate) fn from_reply(
    route: Route,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    now: SystemTime,
) -> Error {
    let code = status.as_u16();
    let header_wait = retry_after_from_headers(headers, now);
    let err = match ErrorBody::parse(&body) {
        Some(reply) if reply.errcode.is_some() => from_error_body(route, code, reply, header_wait),
        _ => without_error_body(code, header_wait),
    };
    err.with_provider(PROVIDER)
        .with_operation(route.name())
        .with_http_status(code)
        .with_body(body)
}

fn from_error_body(
    route: Route,
    status: u16,
    reply: ErrorBody,
    header_wait: Option<Duration>,
) -> Error {
    let errcode = reply.errcode.unwrap_or_default();
    let entry = error_entry(route, &errcode).filter(|e| e.http_status == status);
    let message = reply
        .error
        .filter(|m| !m.is_empty())
        .or_else(|| entry.map(|e| e.meaning.to_owned()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let err = match entry {
        Some(entry) => entry.to_error(PROVIDER, message),
        None => by_status(status, message).with_code(errcode),
    };
    let body_wait = reply
        .retry_after_ms
        .map(|ms| retry_hint_whole(ms, HintUnit::Millis));
    match body_wait.max(header_wait) {
        Some(wait) => err.with_retry_after(wait),
        None => err,
    }
}

/// An error for a code we have no row for: the kind the status suggests, retried on 429 and
/// 5xx (not 501), ambiguous on 5xx.
fn by_status(status: u16, message: String) -> Error {
    let retryable = status == 429 || (status >= 500 && status != 501);
    Error::new(ErrorKind::from_status(status), message)
        .with_retryable(retryable)
        .with_ambiguous(status >= 500)
}

/// A reply that is not Matrix's error object (a proxy's page, an empty body, other JSON).
fn without_error_body(status: u16, header_wait: Option<Duration>) -> Error {
    let message = format!("HTTP {status} without a Matrix error body");
    let err = if status >= 500 || status == 429 {
        by_status(status, message)
    } else {
        Error::decode(message)
    };
    match header_wait {
        Some(wait) => err.with_retry_after(wait),
        None => err,
    }
}

/// A 2xx whose body is not what the route returns.
pub(crate) fn decode(route: Route, status: StatusCode, body: Bytes, what: &str) -> Error {
    Error::decode(format!("HTTP {status}: {what}"))
        .with_provider(PROVIDER)
        .with_operation(route.name())
        .with_http_status(status.as_u16())
        .with_body(body)
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::http::HeaderValue;

    fn reply(route: Route, status: u16, body: &str) -> Error {
        from_reply(
            route,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            Bytes::copy_from_slice(body.as_bytes()),
            SystemTime::UNIX_EPOCH,
        )
    }

    /// Every row of the spec maps to its kind on each of its routes.
    #[test]
    fn every_documented_code_maps_per_route() {
        for route in Route::ALL {
            for entry in crate::generated::ERRORS {
                let Some(row) = error_entry(*route, entry.code) else {
                    continue;
                };
                let body = format!(r#"{{"errcode":"{}","error":"m"}}"#, row.code);
                let err = reply(*route, row.http_status, &body);
                assert_eq!(err.kind(), row.kind, "{route:?} {}", row.code);
                assert_eq!(err.code(), Some(row.code));
                assert_eq!(err.is_retryable(), row.retryable, "{route:?} {}", row.code);
                assert_eq!(err.is_ambiguous(), row.ambiguous, "{route:?} {}", row.code);
                assert_eq!(err.http_status(), Some(row.http_status));
                assert_eq!(err.provider(), Some("matrix"));
                assert_eq!(err.operation(), Some(route.name()));
                assert_eq!(err.message(), "m");
            }
        }
    }

    #[test]
    fn the_same_code_means_different_things_per_route_and_status() {
        let forbidden = r#"{"errcode":"M_FORBIDDEN","error":"x"}"#;
        assert_eq!(
            reply(Route::Kick, 403, forbidden).kind(),
            ErrorKind::Forbidden
        );
        assert_eq!(
            reply(Route::Leave, 403, forbidden).kind(),
            ErrorKind::NotAMember
        );
        assert_eq!(
            reply(Route::JoinedMembers, 403, forbidden).kind(),
            ErrorKind::ChatUnavailable
        );
        let unknown = r#"{"errcode":"M_UNKNOWN","error":"Not a known room"}"#;
        assert_eq!(
            reply(Route::Kick, 404, unknown).kind(),
            ErrorKind::ChatNotFound
        );
        // M_UNKNOWN with another status is whatever the status says.
        let err = reply(Route::Kick, 400, unknown);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.code(), Some("M_UNKNOWN"));
        let err = reply(Route::Kick, 500, unknown);
        assert!(err.is_retryable() && err.is_ambiguous());
    }

    #[test]
    fn rate_limits_take_the_longer_wait() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("1"));
        let body =
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":3911}"#;
        let err = from_reply(
            Route::Kick,
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            Bytes::from_static(body.as_bytes()),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_millis(3911)));
        headers.insert("retry-after", HeaderValue::from_static("9"));
        let err = from_reply(
            Route::Kick,
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            Bytes::from_static(body.as_bytes()),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(9)));
    }

    #[test]
    fn bodies_that_are_not_the_error_object() {
        for (status, kind, retryable) in [
            (502, ErrorKind::ServerError, true),
            (501, ErrorKind::Unsupported, false),
            (429, ErrorKind::RateLimited, true),
            (403, ErrorKind::Decode, false),
        ] {
            for body in ["<html>Bad gateway</html>", "", "[1]", r#"{"errcode":7}"#] {
                let err = reply(Route::Invite, status, body);
                assert_eq!(err.kind(), kind, "{status} {body:?}");
                assert_eq!(err.is_retryable(), retryable, "{status} {body:?}");
                assert_eq!(err.body().map(|b| b.as_ref()), Some(body.as_bytes()));
            }
        }
    }

    #[test]
    fn hostile_fields_are_capped_or_ignored() {
        let long = "é".repeat(1000);
        let body = format!(r#"{{"errcode":"M_FORBIDDEN\r\nX: y","error":"{long}"}}"#);
        let err = reply(Route::Kick, 403, &body);
        assert_eq!(err.kind(), ErrorKind::Decode, "a bad errcode is no errcode");
        let body = format!(r#"{{"errcode":"M_FORBIDDEN","error":"{long}","retry_after_ms":-1}}"#);
        let err = reply(Route::Kick, 403, &body);
        assert!(err.message().len() <= MAX_MESSAGE);
        assert_eq!(err.retry_after(), None);
    }
}
