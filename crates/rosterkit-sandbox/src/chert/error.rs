//! Chert's error envelope and trace ids.

use std::borrow::Cow;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{HeaderName, StatusCode};
use serde::Serialize;

use crate::fault::FaultAction;

/// The trace header Chert sends on every response.
pub(super) const TRACE_HEADER: HeaderName = HeaderName::from_static("x-trace-id");

/// A Chert error. As a response it carries no body yet: the Chert layer renders it with the
/// request's trace id (see [`render`]).
#[derive(Debug, Clone)]
pub(super) struct ChertError {
    pub(super) status: StatusCode,
    pub(super) code: u32,
    pub(super) message: Cow<'static, str>,
    pub(super) retryable: bool,
    pub(super) retry_after: Option<u64>,
}

impl ChertError {
    /// A non-retryable error.
    pub(super) fn new(status: StatusCode, code: u32, message: &'static str) -> Self {
        ChertError {
            status,
            code,
            message: Cow::Borrowed(message),
            retryable: false,
            retry_after: None,
        }
    }

    pub(super) fn chat_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, 2002, "chat not found")
    }

    pub(super) fn not_a_group(left: bool) -> Self {
        if left {
            Self::new(
                StatusCode::BAD_REQUEST,
                1006,
                "chat is no longer a group for this line",
            )
        } else {
            Self::new(StatusCode::BAD_REQUEST, 1006, "chat is a direct message")
        }
    }

    pub(super) fn misconfigured(status: StatusCode) -> Self {
        Self::new(
            status,
            4099,
            "group is missing its chat key or has no pinned line",
        )
    }
}

impl IntoResponse for ChertError {
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
    retryable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The envelope's bytes.
fn envelope(error: &ChertError, trace_id: &str) -> Vec<u8> {
    let envelope = Envelope {
        success: false,
        error: ErrorBody {
            status: error.status.as_u16(),
            code: error.code,
            message: &error.message,
            retryable: error.retryable,
            retry_after: error.retry_after,
        },
        trace_id,
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// The complete error response: envelope, `content-type`, `X-Trace-ID` and, with
/// `retry_after`, `Retry-After`.
pub(super) fn render(error: &ChertError, trace_id: &str) -> Response {
    let mut response = Response::new(Body::from(envelope(error, trace_id)));
    *response.status_mut() = error.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(trace_id) {
        headers.insert(TRACE_HEADER, value);
    }
    if let Some(seconds) = error.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A fresh trace id: 16 lowercase hex characters.
pub(super) fn new_trace_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// Our message for a Chert code (the texts are ours; only status, code and `retryable` are
/// contract).
fn default_message(code: u32) -> &'static str {
    match code {
        1001 => "address missing or not in the group",
        1002 => "group is at the minimum size of 3",
        1003 => "invalid phone number",
        1004 => "invalid JSON",
        1006 => "chat is a direct message",
        1007 => "rate limited",
        1011 => "conflict",
        2001 => "tenant not found",
        2002 => "chat not found",
        2004 => "invalid signature",
        2005 => "tenant suspended or insufficient permission",
        2006 => "phone number does not belong to this tenant",
        2012 => "missing credentials",
        2013 => "timestamp outside the 5 minute window",
        3001 => "internal error",
        3002 => "service unavailable",
        3003 => "internal error",
        3004 => "upstream error",
        4001 => "delivery failed",
        4002 => "all lines are saturated",
        4098 => "unknown effect",
        4099 => "group is missing its chat key or has no pinned line",
        _ => "error",
    }
}

impl FaultAction {
    /// A contract-exact Chert error reply: the envelope with `status`, `code`, our message
    /// for the code, `retryable` and `retry_after`, plus `content-type`, `X-Trace-ID` (equal to
    /// the body's `trace_id`) and `Retry-After` when `retry_after` is set.
    ///
    /// Codes 1007 and 4002 always carry a retry delay, as Chert's do: `None` becomes 1 second.
    /// The trace id is fixed when the action is built, so every reply of a fault with
    /// `times > 1` repeats it.
    #[must_use]
    pub fn chert_error(
        status: StatusCode,
        code: u32,
        retryable: bool,
        retry_after: Option<u64>,
    ) -> FaultAction {
        Self::chert_error_with_message(status, code, default_message(code), retryable, retry_after)
    }

    /// Like [`chert_error`](Self::chert_error) with a message of your own.
    #[must_use]
    pub fn chert_error_with_message(
        status: StatusCode,
        code: u32,
        message: &str,
        retryable: bool,
        retry_after: Option<u64>,
    ) -> FaultAction {
        let retry_after = match (code, retry_after) {
            (1007 | 4002, None) => Some(1),
            (_, given) => given,
        };
        let error = ChertError {
            status,
            code,
            message: Cow::Owned(message.to_owned()),
            retryable,
            retry_after,
        };
        let trace_id = new_trace_id();
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-trace-id".to_owned(), trace_id.clone()),
        ];
        if let Some(seconds) = retry_after {
            headers.push(("retry-after".to_owned(), seconds.to_string()));
        }
        FaultAction::Respond {
            status,
            headers,
            body: envelope(&error, &trace_id).into(),
        }
    }
}
