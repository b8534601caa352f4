//! Linq reply → [`Error`], through the generated code table.

use rosterkit_core::{
    Attempt, Bytes, Error, ErrorKind, http::HeaderMap, http::StatusCode, retry_after_from_headers,
};

use crate::{
    generated::{PROVIDER, Route, error_entry},
    wire,
};

/// The header Linq's own SDK honours to force (`true`) or forbid (`false`) a retry.
const SHOULD_RETRY: &str = "x-should-retry";

/// Maps a non-2xx reply on `route` to an [`Error`].
///
/// - Kind, retryability and ambiguity come from the table row for `error.code` (retries are
///   decided by code, never by status: most 409s are permanent, 2009 is not). A code the
///   table does not know takes the kind its HTTP status suggests and is retried only on 429
///   and 5xx (not 501), ambiguous on 5xx.
/// - 2015 ("refresh and retry") is retried once: it is retryable on the first attempt only.
/// - `x-should-retry: true|false` overrides the retryability either way.
/// - The wait is the longer of `error.retry_after` and the headers' (`retry-after-ms`,
///   `Retry-After` in seconds or as a date).
/// - `trace_id` is optional, `success` is ignored, the raw body is kept.
/// - A body that is not Linq's envelope (a gateway page, an empty body) maps by status.
pub(crate) fn from_reply(
    route: Route,
    status: StatusCode,
    headers: &HeaderMap,
    body: Bytes,
    attempt: &Attempt,
) -> Error {
    let http_status = status.as_u16();
    let envelope = wire::parse::<wire::Envelope>(&body);
    let trace_id = envelope.as_ref().and_then(|e| e.trace_id.clone());
    let reply = envelope.and_then(|e| e.error).unwrap_or_default();

    let code = reply.code.and_then(wire::Code::into_string);
    let entry = code.as_deref().and_then(|c| error_entry(route, c));
    let message = reply
        .message
        .filter(|m| !m.trim().is_empty())
        .or_else(|| entry.map(|e| e.meaning.to_owned()))
        .unwrap_or_else(|| format!("HTTP {http_status} without a Linq error body"));

    let mut err = match (entry, code) {
        (Some(entry), _) => {
            let err = entry.to_error(PROVIDER, message);
            if entry.code == "2015" && attempt.number > 1 {
                err.with_retryable(false)
            } else {
                err
            }
        }
        (None, code) => {
            let err = by_status(http_status, message);
            match code {
                Some(code) => err.with_code(code),
                None => err,
            }
        }
    };
    if let Some(retry) = should_retry(headers) {
        err = err.with_retryable(retry);
    }
    let body_wait = reply.retry_after.and_then(|s| s.to_duration());
    let header_wait = retry_after_from_headers(headers, attempt.now);
    if let Some(wait) = body_wait.max(header_wait) {
        err = err.with_retry_after(wait);
    }
    err = err
        .with_provider(PROVIDER)
        .with_operation(route.name())
        .with_http_status(http_status)
        .with_body(body);
    if let Some(trace_id) = trace_id {
        err = err.with_trace_id(trace_id);
    }
    err
}

/// An error for a code the table does not know (or no code): the kind the status suggests,
/// retried on 429 and 5xx except 501, ambiguous on 5xx.
fn by_status(status: u16, message: String) -> Error {
    let retryable = status == 429 || (status >= 500 && status != 501);
    Error::new(ErrorKind::from_status(status), message)
        .with_retryable(retryable)
        .with_ambiguous(status >= 500)
}

/// `x-should-retry: true|false` (case-insensitive); anything else is no opinion.
fn should_retry(headers: &HeaderMap) -> Option<bool> {
    let value = headers.get(SHOULD_RETRY)?.to_str().ok()?.trim();
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::http::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    fn attempt(number: u32) -> Attempt {
        Attempt::new(
            number,
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            false,
        )
    }

    fn reply_with(
        route: Route,
        status: u16,
        headers: &[(&'static str, &str)],
        body: &str,
    ) -> Error {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        from_reply(
            route,
            StatusCode::from_u16(status).unwrap(),
            &map,
            Bytes::copy_from_slice(body.as_bytes()),
            &attempt(1),
        )
    }

    fn reply(route: Route, status: u16, body: &str) -> Error {
        reply_with(route, status, &[], body)
    }

    fn envelope(status: u16, code: &str) -> String {
        format!(
            r#"{{"success":false,"error":{{"status":{status},"code":{code},"message":"m","doc_url":"https://docs.linqapp.com/error/codes/"}},"trace_id":"t-1"}}"#
        )
    }

    /// Every row of the spec maps to its kind, retryability and ambiguity on every route.
    #[test]
    fn every_documented_code_maps_on_every_route() {
        for route in Route::ALL {
            for row in crate::generated::ERRORS {
                let entry = error_entry(*route, row.code).unwrap();
                let err = reply(
                    *route,
                    entry.http_status,
                    &envelope(entry.http_status, entry.code),
                );
                assert_eq!(err.kind(), entry.kind, "{route:?} {}", entry.code);
                assert_eq!(err.code(), Some(entry.code));
                assert_eq!(err.is_retryable(), entry.retryable, "{}", entry.code);
                assert_eq!(err.is_ambiguous(), entry.ambiguous, "{}", entry.code);
                assert_eq!(err.http_status(), Some(entry.http_status));
                assert_eq!(err.trace_id(), Some("t-1"));
                assert_eq!(err.provider(), Some("linq"));
                assert_eq!(err.operation(), Some(route.name()));
                assert_eq!(err.message(), "m");
            }
        }
    }

    /// The issue's table: which 409s are permanent and which are transient.
    #[test]
    fn conflicts_are_decided_by_code() {
        let r = |code: &str| reply(Route::RemoveParticipant, 409, &envelope(409, code));
        for permanent in ["2013", "1006", "2014", "2016", "2017", "2018"] {
            assert!(!r(permanent).is_retryable(), "{permanent}");
        }
        assert_eq!(r("2013").kind(), ErrorKind::ChatUnavailable);
        assert_eq!(r("1006").kind(), ErrorKind::NotAGroup);
        assert_eq!(r("2016").kind(), ErrorKind::Unsupported);
        assert_eq!(r("2014").kind(), ErrorKind::Conflict, "unknown: by status");
        for transient in ["2009", "2015"] {
            let err = r(transient);
            assert!(err.is_retryable() && !err.is_ambiguous(), "{transient}");
            assert_eq!(err.kind(), ErrorKind::Conflict);
        }
        // 1006 is documented as 400 by the spec and 409 by the docs: mapped by code either way.
        assert_eq!(
            reply(Route::Leave, 400, &envelope(400, "1006")).kind(),
            ErrorKind::NotAGroup
        );
    }

    #[test]
    fn code_2015_is_retried_once() {
        let second = from_reply(
            Route::AddParticipant,
            StatusCode::CONFLICT,
            &HeaderMap::new(),
            Bytes::from(envelope(409, "2015")),
            &attempt(2),
        );
        assert!(!second.is_retryable());
    }

    #[test]
    fn infrastructure_and_delivery_codes() {
        let r =
            |status, code: &str| reply(Route::RemoveParticipant, status, &envelope(status, code));
        for code in ["3001", "3002", "3003", "3004", "3006", "3007"] {
            let err = r(500, code);
            assert_eq!(err.kind(), ErrorKind::ServerError);
            assert!(err.is_retryable() && err.is_ambiguous(), "{code}");
        }
        let timeout = r(504, "3005");
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
        assert!(timeout.is_retryable() && timeout.is_ambiguous());
        let unavailable = r(503, "4004");
        assert!(unavailable.is_retryable() && !unavailable.is_ambiguous());
        let delivery = r(500, "4001");
        assert_eq!(delivery.kind(), ErrorKind::DeliveryFailed);
        assert!(delivery.is_retryable() && !delivery.is_ambiguous());
    }

    #[test]
    fn unknown_codes_map_by_status() {
        for (status, kind, retryable) in [
            (400, ErrorKind::InvalidInput, false),
            (403, ErrorKind::Forbidden, false),
            (409, ErrorKind::Conflict, false),
            (429, ErrorKind::RateLimited, true),
            (500, ErrorKind::ServerError, true),
            (501, ErrorKind::Unsupported, false),
            (503, ErrorKind::ServerError, true),
        ] {
            let err = reply(Route::GetChat, status, &envelope(status, "1008"));
            assert_eq!(err.kind(), kind, "{status}");
            assert_eq!(err.is_retryable(), retryable, "{status}");
            assert_eq!(err.is_ambiguous(), status >= 500, "{status}");
            assert_eq!(err.code(), Some("1008"));
        }
    }

    #[test]
    fn x_should_retry_overrides_the_table() {
        let err = reply_with(
            Route::RemoveParticipant,
            409,
            &[("x-should-retry", "true")],
            &envelope(409, "2013"),
        );
        assert!(err.is_retryable());
        let err = reply_with(
            Route::RemoveParticipant,
            409,
            &[("x-should-retry", " FALSE ")],
            &envelope(409, "2009"),
        );
        assert!(!err.is_retryable());
        let err = reply_with(
            Route::RemoveParticipant,
            409,
            &[("x-should-retry", "maybe")],
            &envelope(409, "2009"),
        );
        assert!(err.is_retryable());
    }

    /// linq.md §8 B: the production 409 shape, without `success` or `trace_id`.
    #[test]
    fn worked_example_b() {
        let err = reply(
            Route::RemoveParticipant,
            409,
            r#"{"error":{"status":409,"code":2013,"message":"This chat is unavailable"}}"#,
        );
        assert_eq!(err.kind(), ErrorKind::ChatUnavailable);
        assert_eq!(err.trace_id(), None);
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "linq remove_participant: This chat is unavailable (chat_unavailable, code 2013, HTTP 409)"
        );
    }

    /// linq.md §8 E: the body's `retry_after` and the header; the longer wins.
    #[test]
    fn worked_example_e_and_waits() {
        let body = r#"{"success":false,"error":{"status":429,"code":1007,"message":"Rate limit exceeded","retry_after":12},"trace_id":"trace-0003"}"#;
        let err = reply_with(
            Route::RemoveParticipant,
            429,
            &[("retry-after", "12")],
            body,
        );
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(err.is_retryable());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
        assert_eq!(err.trace_id(), Some("trace-0003"));
        let err = reply(Route::RemoveParticipant, 429, body);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
        let err = reply_with(
            Route::RemoveParticipant,
            429,
            &[("retry-after", "30")],
            body,
        );
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        let err = reply_with(
            Route::RemoveParticipant,
            429,
            &[("retry-after-ms", "1500")],
            &envelope(429, "1007"),
        );
        assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
        let date = httpdate_of(1_700_000_020);
        let err = reply_with(Route::GetChat, 429, &[("retry-after", &date)], "");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(20)));
        assert_eq!(err.kind(), ErrorKind::RateLimited);
    }

    fn httpdate_of(unix: u64) -> String {
        // Tue, 14 Nov 2023 22:13:20 GMT is 1_700_000_000.
        assert!((1_700_000_000..1_700_000_040).contains(&unix));
        format!(
            "Tue, 14 Nov 2023 22:13:{:02} GMT",
            20 + (unix - 1_700_000_000)
        )
    }

    /// The seed's error bodies (shared/seeds/linq-v3-remove-participant.txt).
    #[test]
    fn seed_error_bodies() {
        for (status, body, kind) in [
            (
                400,
                r#"{"error":{"status":400,"code":1002,"message":"Phone number must be in E.164 format"},"success":false}"#,
                ErrorKind::InvalidInput,
            ),
            (
                401,
                r#"{"error":{"status":401,"code":2004,"message":"Unauthorized - missing or invalid authentication token"},"success":false}"#,
                ErrorKind::Unauthorized,
            ),
            (
                404,
                r#"{"error":{"status":404,"code":2001,"message":"Resource not found"},"success":false}"#,
                ErrorKind::ChatNotFound,
            ),
            (
                409,
                r#"{"error":{"status":409,"code":2013,"message":"This chat is unavailable"}}"#,
                ErrorKind::ChatUnavailable,
            ),
            (
                500,
                r#"{"error":{"status":500,"code":3006,"message":"Internal server error"},"success":false}"#,
                ErrorKind::ServerError,
            ),
        ] {
            let err = reply(Route::RemoveParticipant, status, body);
            assert_eq!(err.kind(), kind, "{body}");
            assert_eq!(err.http_status(), Some(status));
            assert_eq!(err.body().map(|b| b.as_ref()), Some(body.as_bytes()));
        }
    }

    #[test]
    fn bodies_that_are_not_the_envelope() {
        for (status, kind, retryable) in [
            (502, ErrorKind::ServerError, true),
            (504, ErrorKind::Timeout, true),
            (429, ErrorKind::RateLimited, true),
            (401, ErrorKind::Unauthorized, false),
            (404, ErrorKind::ChatNotFound, false),
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
                assert_eq!(err.code(), None);
                assert_eq!(err.http_status(), Some(status));
                assert!(err.message().contains(&status.to_string()));
            }
        }
        assert!(reply(Route::Leave, 502, "<html>").is_ambiguous());
        assert!(!reply(Route::Leave, 429, "").is_ambiguous());
    }

    #[test]
    fn message_falls_back_to_the_table() {
        let err = reply(
            Route::Leave,
            409,
            r#"{"error":{"status":409,"code":"2009"}}"#,
        );
        assert_eq!(
            err.message(),
            "chat still being created; retry in a few seconds"
        );
        assert!(err.is_retryable());
    }
}
