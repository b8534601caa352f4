//! Chert reply → [`Error`], through the generated per-route code table.

use std::time::SystemTime;

use rosterkit_core::{
    Bytes, Error, ErrorKind,
    http::{HeaderMap, HeaderName, StatusCode},
    retry_after_from_headers,
};

use crate::{
    generated::{PROVIDER, Route, error_entry},
    wire,
};

/// The response header carrying Chert's trace id (equal to the body's `trace_id`), parsed once.
static TRACE_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// Chert's trace id from the `X-Trace-ID` header.
pub(crate) fn header_trace_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(&TRACE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Maps a non-2xx reply on `route` to an [`Error`].
///
/// - Kind, default retryability and ambiguity come from the route's row for the code (the same
///   code means different things on different routes); an unknown code falls back to the HTTP
///   status.
/// - `error.retryable` in the reply is authoritative when present.
/// - The wait is the longer of `error.retry_after` and the `Retry-After` header (Chert sends
///   both on 1007 and 4002).
/// - The trace id comes from `trace_id`, else `X-Trace-ID`; the raw body is kept.
/// - A body that is not Chert's JSON envelope is a `ServerError` on 5xx, `RateLimited` on 429
///   and a `Decode` error otherwise.
pub(crate) fn from_reply(
    route: Route,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    now: SystemTime,
) -> Error {
    let code = status.as_u16();
    let envelope = wire::parse::<wire::Envelope>(&body).ok();
    let trace_id = envelope
        .as_ref()
        .and_then(|e| e.trace_id.clone())
        .or_else(|| header_trace_id(headers));
    let header_wait = retry_after_from_headers(headers, now);
    let mut err = match envelope.and_then(|e| e.error) {
        Some(reply) => from_error_body(route, code, reply, header_wait),
        None => without_envelope(code),
    };
    err = err
        .with_provider(PROVIDER)
        .with_operation(route.name())
        .with_http_status(code)
        .with_body(body);
    if let Some(trace_id) = trace_id {
        err = err.with_trace_id(trace_id);
    }
    err
}

fn from_error_body(
    route: Route,
    status: u16,
    reply: wire::ErrorBody,
    header_wait: Option<std::time::Duration>,
) -> Error {
    let code = reply.code.and_then(wire::Code::into_string);
    let entry = code.as_deref().and_then(|c| error_entry(route, c));
    let message = reply
        .message
        .filter(|m| !m.trim().is_empty())
        .or_else(|| entry.map(|e| e.meaning.to_owned()))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let mut err = match (entry, code) {
        (Some(entry), _) => {
            let message = if entry.code == "2013" {
                format!(
                    "clock skew: {message}; Chert accepts signatures within 300 s of its clock, so check this host's time"
                )
            } else {
                message
            };
            entry.to_error(PROVIDER, message)
        }
        (None, code) => {
            let err = unknown_status(status, message);
            match code {
                Some(code) => err.with_code(code),
                None => err,
            }
        }
    };
    if let Some(retryable) = reply.retryable {
        err = err.with_retryable(retryable);
    }
    let body_wait = reply.retry_after.and_then(|s| s.to_duration());
    if let Some(wait) = body_wait.max(header_wait) {
        err = err.with_retry_after(wait);
    }
    err
}

/// An error for a status with no code we know: the kind the status suggests, retried on 429
/// and 5xx (not 501), ambiguous on 5xx.
fn unknown_status(status: u16, message: String) -> Error {
    let retryable = status == 429 || (status >= 500 && status != 501);
    Error::new(ErrorKind::from_status(status), message)
        .with_retryable(retryable)
        .with_ambiguous(status >= 500)
}

/// A reply that is not Chert's envelope (a gateway page, an empty body, other JSON).
fn without_envelope(status: u16) -> Error {
    let message = format!("HTTP {status} without a Chert error body");
    if status >= 500 || status == 429 {
        let kind = if status == 429 {
            ErrorKind::RateLimited
        } else {
            ErrorKind::ServerError
        };
        Error::new(kind, message)
            .with_retryable(status != 501)
            .with_ambiguous(status >= 500)
    } else {
        Error::decode(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::http::HeaderValue;
    use std::time::Duration;

    fn reply(route: Route, status: u16, body: &str) -> Error {
        from_reply(
            route,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            Bytes::copy_from_slice(body.as_bytes()),
            SystemTime::UNIX_EPOCH,
        )
    }

    fn envelope(status: u16, code: &str, retryable: Option<bool>) -> String {
        let retryable = retryable.map_or(String::new(), |r| format!(r#","retryable":{r}"#));
        format!(
            r#"{{"success":false,"error":{{"status":{status},"code":{code},"message":"m"{retryable}}},"trace_id":"t-1"}}"#
        )
    }

    /// Every row of the spec maps to its kind on each of its routes, with the table's
    /// retryability when the reply omits `retryable`.
    #[test]
    fn every_documented_code_maps_per_route() {
        for route in Route::ALL {
            for entry in crate::generated::ERRORS {
                let Some(row) = error_entry(*route, entry.code) else {
                    continue;
                };
                let err = reply(
                    *route,
                    row.http_status,
                    &envelope(row.http_status, row.code, None),
                );
                assert_eq!(err.kind(), row.kind, "{route:?} {}", row.code);
                assert_eq!(err.code(), Some(row.code));
                assert_eq!(err.is_retryable(), row.retryable, "{route:?} {}", row.code);
                assert_eq!(err.is_ambiguous(), row.ambiguous, "{route:?} {}", row.code);
                assert_eq!(err.http_status(), Some(row.http_status));
                assert_eq!(err.trace_id(), Some("t-1"));
                assert_eq!(err.provider(), Some("chert"));
                assert_eq!(err.operation(), Some(route.name()));
            }
        }
    }

    #[test]
    fn codes_mean_different_things_per_route() {
        let kind = |route, status, code| reply(route, status, &envelope(status, code, None)).kind();
        assert_eq!(
            kind(Route::RemoveParticipant, 400, "1001"),
            ErrorKind::NotAMember
        );
        assert_eq!(
            kind(Route::AddParticipant, 400, "1001"),
            ErrorKind::InvalidInput
        );
        assert_eq!(kind(Route::Leave, 400, "1002"), ErrorKind::GroupTooSmall);
        assert_eq!(
            kind(Route::RemoveParticipant, 422, "4099"),
            ErrorKind::ProviderMisconfigured
        );
        assert_eq!(
            kind(Route::Leave, 501, "4099"),
            ErrorKind::ProviderMisconfigured
        );
        assert_eq!(kind(Route::Leave, 400, "1006"), ErrorKind::NotAGroup);
        // 1002 is not documented on add: it falls back to the status.
        assert_eq!(
            kind(Route::AddParticipant, 400, "1002"),
            ErrorKind::InvalidInput
        );
        let remove_4001 = reply(
            Route::RemoveParticipant,
            502,
            &envelope(502, "4001", Some(true)),
        );
        let add_4001 = reply(
            Route::AddParticipant,
            502,
            &envelope(502, "4001", Some(true)),
        );
        assert!(remove_4001.is_retryable() && remove_4001.is_ambiguous());
        assert!(add_4001.is_retryable() && !add_4001.is_ambiguous());
    }

    #[test]
    fn reply_retryable_is_authoritative() {
        let r = |code, retryable| {
            reply(
                Route::RemoveParticipant,
                429,
                &envelope(429, code, Some(retryable)),
            )
            .is_retryable()
        };
        assert!(!r("1007", false), "the reply says no");
        assert!(r("1002", true), "the reply says yes");
        // An unknown code without `retryable`: by status.
        let unknown =
            |status| reply(Route::Leave, status, &envelope(status, "9999", None)).is_retryable();
        assert!(unknown(429) && unknown(500) && unknown(503));
        assert!(!unknown(400) && !unknown(409) && !unknown(501));
    }

    #[test]
    fn code_as_digit_string_and_unknown_codes() {
        let err = reply(
            Route::RemoveParticipant,
            400,
            &envelope(400, "\"1002\"", None),
        );
        assert_eq!(err.kind(), ErrorKind::GroupTooSmall);
        let err = reply(Route::RemoveParticipant, 409, &envelope(409, "1011", None));
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.code(), Some("1011"));
        let err = reply(Route::Leave, 400, r#"{"error":{"message":"no code"}}"#);
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(err.code(), None);
        assert!(err.message().contains("no code"));
    }

    #[test]
    fn message_falls_back_to_the_table_and_2013_says_clock_skew() {
        let err = reply(
            Route::RemoveParticipant,
            400,
            r#"{"error":{"status":400,"code":1002}}"#,
        );
        assert!(err.message().contains("minimum size"), "{err}");
        let err = reply(
            Route::Leave,
            401,
            r#"{"success":false,"error":{"status":401,"code":2013,"message":"timestamp outside the 5 minute window","retryable":false},"trace_id":"t-0001"}"#,
        );
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        assert!(err.message().contains("clock skew"), "{err}");
        assert_eq!(err.trace_id(), Some("t-0001"));
    }

    #[test]
    fn retry_after_body_header_and_the_longer_wins() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("45"));
        headers.insert("x-trace-id", HeaderValue::from_static("from-header"));
        let body = r#"{"error":{"status":429,"code":1007,"message":"slow down","retryable":true,"retry_after":30}}"#;
        let err = from_reply(
            Route::RemoveParticipant,
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            Bytes::from_static(body.as_bytes()),
            SystemTime::UNIX_EPOCH,
        );
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(45)));
        assert_eq!(err.trace_id(), Some("from-header"));
        let err = reply(Route::RemoveParticipant, 429, body);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn bodies_that_are_not_the_envelope() {
        for (status, kind, retryable) in [
            (502, ErrorKind::ServerError, true),
            (503, ErrorKind::ServerError, true),
            (501, ErrorKind::ServerError, false),
            (429, ErrorKind::RateLimited, true),
            (400, ErrorKind::Decode, false),
            (404, ErrorKind::Decode, false),
        ] {
            for body in [
                "<html>Bad gateway</html>",
                "",
                "[1,2]",
                r#"{"error":"text"}"#,
            ] {
                let err = reply(Route::RemoveParticipant, status, body);
                assert_eq!(err.kind(), kind, "{status} {body:?}");
                assert_eq!(err.is_retryable(), retryable, "{status} {body:?}");
                assert_eq!(err.body().map(|b| b.as_ref()), Some(body.as_bytes()));
                assert_eq!(err.http_status(), Some(status));
            }
        }
        assert!(reply(Route::Leave, 502, "<html>").is_ambiguous());
    }
}
