//! ACS's error envelope: `{"error":{"code","message"}}`, camelCase and wrapped.

use std::borrow::Cow;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde_json::json;

use crate::fault::FaultAction;

/// An ACS error reply.
#[derive(Debug, Clone)]
pub(super) struct AcsError {
    pub(super) status: StatusCode,
    pub(super) code: Cow<'static, str>,
    pub(super) message: Cow<'static, str>,
    pub(super) retry_after: Option<u64>,
}

impl AcsError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        AcsError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            retry_after: None,
        }
    }

    pub(super) fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub(super) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Request is not authorized.",
        )
    }

    pub(super) fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "User is not allowed to perform specified action.",
        )
    }

    pub(super) fn not_found(message: &'static str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }

    pub(super) fn too_many_requests(retry_after: u64) -> Self {
        AcsError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Rate limit exceeded.",
            )
        }
    }
}

fn envelope(code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({ "error": { "code": code, "message": message } }))
        .unwrap_or_default()
}

impl IntoResponse for AcsError {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(envelope(&self.code, &self.message)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The message ACS's swagger examples give for a code (ours for the others).
fn default_message(code: &str) -> &'static str {
    match code {
        "Unauthorized" => "Request is not authorized.",
        "Forbidden" => "User is not allowed to perform specified action.",
        "TooManyRequests" => "Rate limit exceeded.",
        "ServiceUnavailable" => "The server is currently unable to handle the request.",
        "BadRequest" => "The request is invalid.",
        "NotFound" => "Not found.",
        "InternalServerError" => "An internal error occurred.",
        _ => "error",
    }
}

impl FaultAction {
    /// A contract-exact ACS error reply: `{"error":{"code","message"}}` with `status`, `code`,
    /// `message` (the swagger's message for the code when `None`), `content-type:
    /// application/json`, and `Retry-After` when `retry_after` is set.
    #[must_use]
    pub fn acs_error(
        status: StatusCode,
        code: &str,
        message: Option<&str>,
        retry_after: Option<u64>,
    ) -> FaultAction {
        let message = message.unwrap_or_else(|| default_message(code));
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(seconds) = retry_after {
            headers.push(("retry-after".to_owned(), seconds.to_string()));
        }
        FaultAction::Respond {
            status,
            headers,
            body: envelope(code, message).into(),
        }
    }
}
