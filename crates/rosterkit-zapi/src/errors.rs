//! Z-API reply → [`Error`], through the generated per-route table.
//!
//! Z-API has no error codes, so the table is keyed (see `specs/zapi.toml`) by the text of
//! `{"error": "<text>"}`, by `value_false` for `200 {"value": false}`, or by the HTTP status as
//! a string. Texts are matched whatever the status, since Z-API documents no status for them.

use rosterkit_core::{Bytes, Error, ErrorKind, http::StatusCode};

use crate::{
    generated::{PROVIDER, Route, error_entry},
    wire,
};

/// The table key of `200 {"value": false}`.
pub(crate) const VALUE_FALSE: &str = "value_false";

/// The stable key of the IP allow-list refusal, whose text carries the caller's address.
const IP_NOT_ALLOWED: &str = "[IP request] not allowed";

/// The longest error text kept in a message.
const MAX_TEXT: usize = 300;

/// The table key for an error text: the text itself, except that any "<address> not allowed"
/// other than "null not allowed" is the IP allow-list refusal.
pub(crate) fn text_key(text: &str) -> &str {
    let text = text.trim();
    if text != "null not allowed" && text.ends_with(" not allowed") {
        IP_NOT_ALLOWED
    } else {
        text
    }
}

/// Maps any reply that is not a success of `route` to an [`Error`], keeping the raw body.
///
/// 1. `{"value": false}` / `{"success": false}` on a 2xx: the `value_false` row.
/// 2. `{"error": "<text>"}`: the row for the text's key; an unknown text falls back to the
///    status (a 2xx with an error text is a `DeliveryFailed`).
/// 3. Otherwise the row for the status (`"405"`, `"415"`, `"429"`), else the kind
///    [`ErrorKind::from_status`] suggests: retried on 5xx (not 501) and 429, ambiguous on 5xx
///    for mutations (Z-API may have applied the change). A 2xx without a recognisable body is a
///    `Decode` error, ambiguous for mutations.
pub(crate) fn from_reply(route: Route, status: StatusCode, body: Bytes) -> Error {
    let code = status.as_u16();
    let map = wire::object(&body);
    let value = map.as_ref().and_then(wire::value_of);
    let text = map.as_ref().and_then(wire::error_text);
    let err = if status.is_success() && value == Some(false) {
        by_key(route, VALUE_FALSE, None)
            .unwrap_or_else(|| Error::new(ErrorKind::DeliveryFailed, "value: false"))
    } else if let Some(text) = text {
        let shown = shorten(&text);
        match by_key(route, text_key(&text), Some(&shown)) {
            Some(err) => err,
            None => unknown(route, code, format!("Z-API: {shown}"), true),
        }
    } else {
        match by_key(route, code.to_string().as_str(), None) {
            Some(err) => err,
            None => unknown(route, code, without_text(code, map.is_some(), &body), false),
        }
    };
    err.with_provider(PROVIDER)
        .with_operation(route.name())
        .with_http_status(code)
        .with_body(body)
}

/// An error from the table row for `key` on `route`: Z-API's own text (when it sent one), the
/// row's meaning and what to do.
fn by_key(route: Route, key: &str, text: Option<&str>) -> Option<Error> {
    let entry = error_entry(route, key)?;
    let explained = format!("{} ({})", entry.meaning, hint(entry.kind));
    let message = match text {
        Some(text) => format!("Z-API: {text}; {explained}"),
        None => explained,
    };
    Some(entry.to_error(PROVIDER, message))
}

/// What to do about a kind, for messages.
fn hint(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Unauthorized => {
            "check ZAPI_INSTANCE_ID, ZAPI_INSTANCE_TOKEN and ZAPI_CLIENT_TOKEN (the account security token)"
        }
        ErrorKind::Forbidden => "add this server's IP to the account's allow-list",
        ErrorKind::ProviderMisconfigured => "connect the instance to a phone in the Z-API panel",
        ErrorKind::DeliveryFailed => "not retried: a repeat is not safe; use ensure mode or verify",
        ErrorKind::InvalidInput => "the request was refused as sent",
        ErrorKind::RateLimited => "slow down",
        ErrorKind::ChatNotFound => "check the group or community id",
        _ => "see the raw body",
    }
}

fn shorten(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_owned(),
    }
}

fn without_text(status: u16, json: bool, body: &Bytes) -> String {
    let what = if body.is_empty() {
        "an empty body"
    } else if json {
        "a JSON body that is neither {\"value\": ..} nor {\"error\": ..}"
    } else {
        "a body that is not JSON"
    };
    format!("HTTP {status} with {what}")
}

/// A reply the table does not know, by status class; `code` is the status as a string.
/// `has_text`: the body said why (`{"error": ..}`).
fn unknown(route: Route, status: u16, message: String, has_text: bool) -> Error {
    let mutation = !route.idempotent();
    let err = if (200..300).contains(&status) {
        if has_text {
            // A 2xx that says it failed: like `value: false`, but with a reason.
            Error::new(ErrorKind::DeliveryFailed, message)
                .with_retryable(false)
                .with_ambiguous(false)
        } else {
            Error::decode(format!(
                "{message}{}",
                if mutation {
                    "; the change may have been applied"
                } else {
                    ""
                }
            ))
            .with_retryable(false)
            .with_ambiguous(mutation)
        }
    } else {
        let retryable = status == 429 || (status >= 500 && status != 501);
        Error::new(ErrorKind::from_status(status), message)
            .with_retryable(retryable)
            .with_ambiguous(mutation && status >= 500)
    };
    err.with_code(status.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::ERRORS;

    fn reply(route: Route, status: u16, body: &str) -> Error {
        from_reply(
            route,
            StatusCode::from_u16(status).unwrap(),
            Bytes::copy_from_slice(body.as_bytes()),
        )
    }

    /// The body that carries each kind of key.
    fn body_for(code: &str) -> String {
        if code == VALUE_FALSE {
            r#"{"value":false}"#.to_owned()
        } else if code.bytes().all(|b| b.is_ascii_digit()) {
            String::new()
        } else {
            serde_json::json!({ "error": code }).to_string()
        }
    }

    /// Every row of the spec maps to its kind on each of its routes.
    #[test]
    fn every_documented_code_maps_per_route() {
        let mut checked = 0;
        for route in Route::ALL {
            for entry in ERRORS {
                let Some(row) = error_entry(*route, entry.code) else {
                    continue;
                };
                let err = reply(*route, row.http_status, &body_for(row.code));
                assert_eq!(err.kind(), row.kind, "{route:?} {}", row.code);
                assert_eq!(err.code(), Some(row.code), "{route:?}");
                assert_eq!(err.is_retryable(), row.retryable, "{route:?} {}", row.code);
                assert_eq!(err.is_ambiguous(), row.ambiguous, "{route:?} {}", row.code);
                assert_eq!(err.http_status(), Some(row.http_status));
                assert_eq!(err.provider(), Some("zapi"));
                assert_eq!(err.operation(), Some(route.name()));
                checked += 1;
            }
        }
        assert!(checked >= ERRORS.len(), "{checked}");
    }

    #[test]
    fn the_issue_s_cases() {
        let e = reply(
            Route::RemoveParticipant,
            401,
            r#"{"error":"null not allowed"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.code(), Some("null not allowed"));
        assert!(e.message().contains("Client-Token"), "{e}");
        // Texts decide whatever the status (Z-API documents none).
        for status in [200, 400, 401, 403, 500] {
            let e = reply(Route::Leave, status, r#"{"error":"null not allowed"}"#);
            assert_eq!(e.kind(), ErrorKind::Unauthorized, "{status}");
        }
        let e = reply(
            Route::AddParticipant,
            403,
            r#"{"error":"[IP request] not allowed"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        let e = reply(
            Route::AddParticipant,
            403,
            r#"{"error":"[IP da chamada] not allowed"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        let e = reply(
            Route::LightGroupMetadata,
            400,
            r#"{"error":"189.10.20.30 not allowed"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Forbidden);
        assert_eq!(e.code(), Some("[IP request] not allowed"));
        for (status, code) in [(405, "405"), (415, "415")] {
            let e = reply(Route::RemoveParticipant, status, "");
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert_eq!(e.code(), Some(code));
            assert!(!e.is_retryable());
        }
        let e = reply(Route::RemoveParticipant, 200, r#"{"value":false}"#);
        assert_eq!(e.kind(), ErrorKind::DeliveryFailed);
        assert_eq!(e.code(), Some("value_false"));
        assert!(!e.is_retryable() && !e.is_ambiguous());
        let e = reply(Route::LightGroupMetadata, 200, r#"{"value":false}"#);
        assert_eq!(e.kind(), ErrorKind::ProviderMisconfigured);
        let e = reply(Route::GroupMetadata, 404, r#"{"error":"group not found"}"#);
        assert_eq!(e.kind(), ErrorKind::ChatNotFound);
        let e = reply(Route::Leave, 400, r#"{"error":"You are not connected."}"#);
        assert_eq!(e.kind(), ErrorKind::ProviderMisconfigured);
    }

    #[test]
    fn server_errors_and_unknown_bodies() {
        for body in ["<html>Bad gateway</html>", "", "[1]", r#"{"other":1}"#] {
            let e = reply(Route::RemoveParticipant, 502, body);
            assert_eq!(e.kind(), ErrorKind::ServerError, "{body:?}");
            assert!(e.is_retryable() && e.is_ambiguous(), "{body:?}");
            assert_eq!(e.code(), Some("502"));
            assert_eq!(e.body().map(|b| b.as_ref()), Some(body.as_bytes()));
            let read = reply(Route::LightGroupMetadata, 503, body);
            assert!(read.is_retryable() && !read.is_ambiguous());
        }
        let e = reply(Route::AddParticipant, 500, r#"{"error":"Something broke"}"#);
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert!(e.message().contains("Something broke"));
        assert_eq!(e.code(), Some("500"));
        assert!(!reply(Route::Leave, 501, "").is_retryable());
        let e = reply(Route::Leave, 504, "");
        assert_eq!(e.kind(), ErrorKind::Timeout);
        let e = reply(Route::Leave, 429, "");
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert!(e.is_retryable() && !e.is_ambiguous());
        let e = reply(Route::Leave, 401, r#"{"error":"some new text"}"#);
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
        assert_eq!(e.code(), Some("401"));
        assert!(!e.is_retryable());
        let e = reply(Route::Leave, 404, "<html>");
        assert_eq!(e.kind(), ErrorKind::ChatNotFound);
    }

    #[test]
    fn two_hundreds_that_are_not_success() {
        let e = reply(Route::RemoveParticipant, 200, r#"{"error":"nope"}"#);
        assert_eq!(e.kind(), ErrorKind::DeliveryFailed);
        assert!(!e.is_ambiguous());
        let e = reply(Route::RemoveParticipant, 200, "<html>");
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.is_ambiguous() && !e.is_retryable());
        let e = reply(Route::LightGroupMetadata, 200, "[]");
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(!e.is_ambiguous());
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "x".repeat(1000);
        let e = reply(
            Route::Leave,
            400,
            &serde_json::json!({ "error": long }).to_string(),
        );
        assert!(e.message().len() < 400, "{}", e.message().len());
        assert_eq!(e.body().map(Bytes::len), Some(1012));
    }
}
