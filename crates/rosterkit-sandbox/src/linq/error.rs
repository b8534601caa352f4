//! Linq's error envelope and trace ids.

use std::borrow::Cow;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;

use crate::fault::FaultAction;

/// A Linq error. As a response it carries no body yet: the Linq layer renders it with the
/// request's trace id (see [`render`]).
#[derive(Debug, Clone)]
pub(super) struct LinqError {
    pub(super) status: StatusCode,
    pub(super) code: u32,
    pub(super) message: Cow<'static, str>,
    pub(super) retry_after: Option<u64>,
}

impl LinqError {
    pub(super) fn new(
        status: StatusCode,
        code: u32,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        LinqError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub(super) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 2001, "Resource not found")
    }

    pub(super) fn unavailable() -> Self {
        Self::new(StatusCode::CONFLICT, 2013, "This chat is unavailable")
    }

    pub(super) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            2004,
            "Unauthorized - missing or invalid authentication token",
        )
    }

    pub(super) fn invalid_parameter(why: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 1005, why)
    }
}

impl IntoResponse for LinqError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    success: bool,
    error: ErrorBody<'a>,
    trace_id: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    status: u16,
    code: u32,
    message: &'a str,
    doc_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// `https://docs.linqapp.com/error/codes/<N>xxx/<code>/`.
fn doc_url(code: u32) -> String {
    format!(
        "https://docs.linqapp.com/error/codes/{}xxx/{code}/",
        code / 1000
    )
}

/// The envelope's bytes.
fn envelope(error: &LinqError, trace_id: &str) -> Vec<u8> {
    let envelope = Envelope {
        success: false,
        error: ErrorBody {
            status: error.status.as_u16(),
            code: error.code,
            message: &error.message,
            doc_url: doc_url(error.code),
            retry_after: error.retry_after,
        },
        trace_id,
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// The complete error response: envelope, `content-type` and, with `retry_after`,
/// `Retry-After`.
pub(super) fn render(error: &LinqError, trace_id: &str) -> Response {
    let mut response = Response::new(Body::from(envelope(error, trace_id)));
    *response.status_mut() = error.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(seconds) = error.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A fresh trace id: 32 lowercase hex characters, like Linq's.
pub(super) fn new_trace_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Linq's message for a code (from Linq's docs where they give one).
fn default_message(code: u32) -> &'static str {
    match code {
        1001 => "Missing required field",
        1002 => "Phone number must be in E.164 format",
        1003 => "Invalid request body",
        1005 => "Invalid parameter value",
        1006 => "Cannot update a direct message chat",
        1007 => "Rate limit exceeded",
        2001 => "Resource not found",
        2004 => "Unauthorized - missing or invalid authentication token",
        2005 => "Access denied - insufficient permissions for this resource",
        2009 => "Chat is still being created",
        2013 => "This chat is unavailable",
        2015 => "Request conflicts with the current state; refresh and retry",
        2016 => "Not supported in group chats",
        2017 => "Not supported on this service",
        3005 => "Network operation timed out",
        3006 => "Internal server error",
        4004 => "Service temporarily unavailable",
        c if (3000..4000).contains(&c) => "Internal server error",
        c if (4000..5000).contains(&c) => "Delivery failed",
        _ => "Error",
    }
}

impl FaultAction {
    /// A contract-exact Linq error reply: the complete envelope (`success: false`, `status`,
    /// `code`, Linq's message for the code, `doc_url`, `trace_id`) with `content-type`, plus
    /// `error.retry_after` and a `Retry-After` header when `retry_after` is set.
    ///
    /// The trace id is fixed when the action is built, so every reply of a fault with
    /// `times > 1` repeats it.
    #[must_use]
    pub fn linq_error(status: StatusCode, code: u32, retry_after: Option<u64>) -> FaultAction {
        Self::linq_error_with_message(status, code, default_message(code), retry_after)
    }

    /// Like [`linq_error`](Self::linq_error) with a message of your own.
    #[must_use]
    pub fn linq_error_with_message(
        status: StatusCode,
        code: u32,
        message: &str,
        retry_after: Option<u64>,
    ) -> FaultAction {
        let error = LinqError {
            status,
            code,
            message: Cow::Owned(message.to_owned()),
            retry_after,
        };
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(seconds) = retry_after {
            headers.push(("retry-after".to_owned(), seconds.to_string()));
        }
        FaultAction::Respond {
            status,
            headers,
            body: envelope(&error, &new_trace_id()).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_complete_and_ordered() {
        let body = envelope(
            &LinqError::unavailable(),
            "2eff5df5c6f688733c007523c4d61cd9",
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"success":false,"error":{"status":409,"code":2013,"message":"This chat is unavailable","doc_url":"https://docs.linqapp.com/error/codes/2xxx/2013/"},"trace_id":"2eff5df5c6f688733c007523c4d61cd9"}"#
        );
        let mut limited =
            LinqError::new(StatusCode::TOO_MANY_REQUESTS, 1007, "Rate limit exceeded");
        limited.retry_after = Some(12);
        let body = String::from_utf8(envelope(&limited, "t")).unwrap();
        assert!(
            body.contains(
                r#""doc_url":"https://docs.linqapp.com/error/codes/1xxx/1007/","retry_after":12}"#
            ),
            "{body}"
        );
        assert_eq!(new_trace_id().len(), 32);
    }
}
