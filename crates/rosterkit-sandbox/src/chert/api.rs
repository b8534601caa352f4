//! The emulated Chert API: routes, the trace/auth layer, and the participant operations.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use http::StatusCode;
use http::header::HeaderValue;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::Value;

use super::auth::authenticate;
use super::error::{ChertError, TRACE_HEADER, new_trace_id, render};
use super::{ChertEmulator, normalize_address};
use crate::framework::Effects;
use crate::sync::lock;

/// The smallest group (line included) that a remove or leave may start from: 3 must remain.
const MIN_SIZE_BEFORE_SHRINK: usize = 4;

pub(super) fn router(emulator: ChertEmulator) -> Router {
    Router::new()
        .route("/chats/{id}/participants/{address}", delete(remove))
        // An empty address segment is "address missing" (1001), not an unknown route.
        .route("/chats/{id}/participants/", delete(remove))
        .route("/chats/{id}/participants", post(add))
        .route("/chats/{id}/leave", post(leave))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(emulator.clone())
        .layer(middleware::from_fn_with_state(emulator, chert_layer))
}

/// Authenticates every request (unknown routes included), renders [`ChertError`]s into the
/// envelope and puts `X-Trace-ID` on every response.
async fn chert_layer(
    State(emulator): State<ChertEmulator>,
    request: Request,
    next: Next,
) -> Response {
    let trace_id = new_trace_id();
    let (parts, body) = request.into_parts();
    // The framework layer already buffered the body, so this cannot fail or be large.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let response = match authenticate(&emulator, &parts.headers, &body) {
        Ok(_tenant) => next.run(Request::from_parts(parts, Body::from(body))).await,
        Err(error) => error.into_response(),
    };
    finish(response, &trace_id)
}

fn finish(mut response: Response, trace_id: &str) -> Response {
    if let Some(error) = response.extensions_mut().remove::<ChertError>() {
        return render(&error, trace_id);
    }
    if let Ok(value) = HeaderValue::from_str(trace_id) {
        response.headers_mut().insert(TRACE_HEADER, value);
    }
    response
}

async fn not_found() -> ChertError {
    ChertError::new(StatusCode::NOT_FOUND, 2000, "no such route")
}

async fn method_not_allowed() -> ChertError {
    ChertError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        2000,
        "method not allowed on this route",
    )
}

#[derive(Serialize)]
struct Removed<'a> {
    chat_id: &'a str,
    removed: &'a str,
    participants: &'a [String],
}

#[derive(Serialize)]
struct Added<'a> {
    chat_id: &'a str,
    added: &'a str,
    participants: &'a [String],
}

#[derive(Serialize)]
struct Left<'a> {
    chat_id: &'a str,
    status: &'static str,
}

/// Percent-decodes one raw path segment (`%2B` → `+`; a literal `+` stays `+`).
fn decode_segment(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// The raw path's segments from the end: `rsplit('/')` over the still-encoded path.
fn tail_segments(uri: &Uri) -> impl Iterator<Item = &str> {
    uri.path().rsplit('/')
}

fn missing_address() -> ChertError {
    ChertError::new(StatusCode::BAD_REQUEST, 1001, "address is missing")
}

/// `DELETE /chats/{id}/participants/{address}`.
async fn remove(
    State(emulator): State<ChertEmulator>,
    effects: Effects,
    uri: Uri,
) -> Result<Response, ChertError> {
    let mut tail = tail_segments(&uri);
    let address = tail.next().map(decode_segment).unwrap_or_default();
    let _participants = tail.next();
    let chat_id = tail.next().map(decode_segment).unwrap_or_default();

    let mut state = lock(&emulator.state);
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(ChertError::chat_not_found)?;
    if !chat.is_group || chat.left {
        return Err(ChertError::not_a_group(chat.left));
    }
    if address.is_empty() {
        return Err(missing_address());
    }
    let address = normalize_address(&address);
    let Some(index) = chat.members.iter().position(|m| *m == address) else {
        return Err(ChertError::new(
            StatusCode::BAD_REQUEST,
            1001,
            "address is not in the group",
        ));
    };
    if chat.members.len() + 1 < MIN_SIZE_BEFORE_SHRINK {
        return Err(ChertError::new(
            StatusCode::BAD_REQUEST,
            1002,
            "group is at the minimum size of 3",
        ));
    }
    if !(chat.chat_key && chat.pinned_line) {
        return Err(ChertError::misconfigured(StatusCode::UNPROCESSABLE_ENTITY));
    }
    chat.members.remove(index);
    effects.record(format!("chert:remove {chat_id} {address}"));
    Ok(axum::Json(Removed {
        chat_id: &chat_id,
        removed: &address,
        participants: &chat.members,
    })
    .into_response())
}

/// `POST /chats/{id}/leave`.
async fn leave(
    State(emulator): State<ChertEmulator>,
    effects: Effects,
    uri: Uri,
) -> Result<Response, ChertError> {
    let mut tail = tail_segments(&uri);
    let _leave = tail.next();
    let chat_id = tail.next().map(decode_segment).unwrap_or_default();

    let mut state = lock(&emulator.state);
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(ChertError::chat_not_found)?;
    if !chat.is_group || chat.left {
        return Err(ChertError::not_a_group(chat.left));
    }
    if chat.members.len() + 1 < MIN_SIZE_BEFORE_SHRINK {
        return Err(ChertError::new(
            StatusCode::BAD_REQUEST,
            1002,
            "group would have fewer than 3 members after leaving",
        ));
    }
    if !(chat.chat_key && chat.pinned_line) {
        return Err(ChertError::misconfigured(StatusCode::NOT_IMPLEMENTED));
    }
    chat.left = true;
    effects.record(format!("chert:leave {chat_id}"));
    Ok(axum::Json(Left {
        chat_id: &chat_id,
        status: "left",
    })
    .into_response())
}

/// `POST /chats/{id}/participants` with `{"address": ..}` (alias `handle`).
async fn add(
    State(emulator): State<ChertEmulator>,
    effects: Effects,
    uri: Uri,
    body: Bytes,
) -> Result<Response, ChertError> {
    let mut tail = tail_segments(&uri);
    let _participants = tail.next();
    let chat_id = tail.next().map(decode_segment).unwrap_or_default();

    let mut state = lock(&emulator.state);
    let max_group_size = state.max_group_size;
    let chat = state
        .chats
        .get_mut(&chat_id)
        .ok_or_else(ChertError::chat_not_found)?;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(&body).map_err(|_| {
            ChertError::new(
                StatusCode::BAD_REQUEST,
                1004,
                "request body is not valid JSON",
            )
        })?
    };
    if !chat.is_group || chat.left {
        return Err(ChertError::not_a_group(chat.left));
    }
    let address = ["address", "handle"]
        .iter()
        .filter_map(|field| body.get(field))
        .find(|value| !value.is_null())
        .and_then(Value::as_str)
        .filter(|address| !address.is_empty())
        .ok_or_else(missing_address)?;
    if !is_valid_address(address) {
        return Err(ChertError::new(
            StatusCode::BAD_REQUEST,
            1003,
            "address is not a valid E.164 phone number or email",
        ));
    }
    let address = normalize_address(address);
    let present = chat.members.contains(&address);
    if !present && max_group_size.is_some_and(|max| chat.members.len() + 2 > max) {
        return Err(ChertError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            1006,
            "group is at its maximum size",
        ));
    }
    if !(chat.chat_key && chat.pinned_line) {
        return Err(ChertError::misconfigured(StatusCode::UNPROCESSABLE_ENTITY));
    }
    if !present {
        chat.members.push(address.clone());
        effects.record(format!("chert:add {chat_id} {address}"));
    }
    Ok(axum::Json(Added {
        chat_id: &chat_id,
        added: &address,
        participants: &chat.members,
    })
    .into_response())
}

/// E.164 (`+`, first digit 1-9, 8 to 15 digits) or a structurally plausible email.
fn is_valid_address(address: &str) -> bool {
    if let Some(digits) = address.strip_prefix('+') {
        return (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
    }
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    address.len() <= 254
        && !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(is_valid_address("+14155551234"));
        assert!(is_valid_address("alice@example.com"));
        assert!(!is_valid_address("14155551234"));
        assert!(!is_valid_address("+0123456789"));
        assert!(!is_valid_address("+1234"));
        assert!(!is_valid_address(" 14155551234"));
        assert!(!is_valid_address("a b@example.com"));
        assert!(!is_valid_address("@example.com"));
    }

    #[test]
    fn segments_decode_percent_but_not_plus() {
        assert_eq!(decode_segment("%2B14155551234"), "+14155551234");
        assert_eq!(decode_segment("+14155551234"), "+14155551234");
        assert_eq!(decode_segment("alice%40example.com"), "alice@example.com");
    }
}
