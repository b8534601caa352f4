//! The emulated Linq API: routes, the auth/trace layer, and the chat operations.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::error::{LinqError, new_trace_id, render};
use super::{Change, LinqChat, LinqEmulator, is_uuid, same_handle};
use crate::framework::Effects;
use crate::sync::lock;

/// A removal needs this many active handles (ours included) before it: 3 remain after.
pub(super) const MIN_ACTIVE_BEFORE_REMOVE: usize = 4;
/// Leaving needs this many active handles, ours included.
pub(super) const MIN_ACTIVE_TO_LEAVE: usize = 4;
/// Adding needs this many active handles already.
pub(super) const MIN_ACTIVE_TO_ADD: usize = 3;

/// The request's trace id, put in the request's extensions by [`linq_layer`].
#[derive(Debug, Clone)]
struct TraceId(String);

pub(super) fn router(emulator: LinqEmulator) -> Router {
    Router::new()
        .route("/v3/chats/{id}", get(get_chat))
        .route(
            "/v3/chats/{id}/participants",
            post(add_participant).delete(remove_participant),
        )
        .route("/v3/chats/{id}/leave", post(leave))
        .method_not_allowed_fallback(not_found)
        .fallback(not_found)
        .with_state(emulator.clone())
        .layer(middleware::from_fn_with_state(emulator, linq_layer))
}

/// Checks the bearer token on every request (unknown routes included), gives the request a
/// trace id, and renders [`LinqError`]s into the envelope.
async fn linq_layer(
    State(emulator): State<LinqEmulator>,
    mut request: Request,
    next: Next,
) -> Response {
    let trace_id = new_trace_id();
    let response = if authorized(&emulator, request.headers()) {
        request.extensions_mut().insert(TraceId(trace_id.clone()));
        next.run(request).await
    } else {
        LinqError::unauthorized().into_response()
    };
    finish(response, &trace_id)
}

fn finish(mut response: Response, trace_id: &str) -> Response {
    match response.extensions_mut().remove::<LinqError>() {
        Some(error) => render(&error, trace_id),
        None => response,
    }
}

fn authorized(emulator: &LinqEmulator, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
    else {
        return false;
    };
    let expected = emulator.api_key();
    bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn not_found() -> LinqError {
    LinqError::not_found()
}

#[derive(Serialize)]
struct Queued<'a> {
    message: &'static str,
    status: &'static str,
    trace_id: &'a str,
}

fn queued(message: &'static str, trace_id: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        axum::Json(Queued {
            message,
            status: "accepted",
            trace_id,
        }),
    )
        .into_response()
}

fn trace_of(request_trace: Option<axum::Extension<TraceId>>) -> String {
    request_trace.map_or_else(new_trace_id, |axum::Extension(TraceId(t))| t)
}

/// The chat id from the path: a UUID (else 400/1005), lowercased.
fn chat_key(id: &str) -> Result<String, LinqError> {
    if is_uuid(id) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(LinqError::invalid_parameter(
            "Invalid parameter value: chatId must be a UUID",
        ))
    }
}

/// `GET /v3/chats/{chatId}`: the chat, also after our line left it.
async fn get_chat(
    State(emulator): State<LinqEmulator>,
    Path(id): Path<String>,
) -> Result<Response, LinqError> {
    let key = chat_key(&id)?;
    let chat = emulator.chat(&key).ok_or_else(LinqError::not_found)?;
    Ok(axum::Json(chat).into_response())
}

/// The `handle` of a remove or add body, validated as Linq does.
fn body_handle(body: &[u8]) -> Result<String, LinqError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(missing_handle());
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid_body())?;
    let object = value.as_object().ok_or_else(invalid_body)?;
    let handle = match object.get("handle") {
        None | Some(Value::Null) => return Err(missing_handle()),
        Some(Value::String(s)) if s.is_empty() => return Err(missing_handle()),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(invalid_body()),
    };
    if handle.contains('@') {
        if !is_email(&handle) {
            return Err(LinqError::invalid_parameter(
                "Invalid parameter value: handle is not a valid email address",
            ));
        }
    } else if !is_e164(&handle) {
        return Err(LinqError::new(
            StatusCode::BAD_REQUEST,
            1002,
            "Phone number must be in E.164 format",
        ));
    }
    Ok(handle)
}

fn missing_handle() -> LinqError {
    LinqError::new(
        StatusCode::BAD_REQUEST,
        1001,
        "Missing required field: handle",
    )
}

fn invalid_body() -> LinqError {
    LinqError::new(StatusCode::BAD_REQUEST, 1003, "Invalid request body")
}

/// Linq's pattern: `+[1-9][0-9]{1,14}`.
fn is_e164(handle: &str) -> bool {
    let Some(digits) = handle.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

fn is_email(handle: &str) -> bool {
    let Some((local, domain)) = handle.split_once('@') else {
        return false;
    };
    handle.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !handle.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A state rejection: an error, or, with `async_reject`, a 202 whose change is dropped.
enum Verdict {
    Accept(Change),
    Reject(LinqError),
}

fn decide(
    emulator: &LinqEmulator,
    effects: &Effects,
    verdict: Verdict,
    message: &'static str,
    trace_id: &str,
) -> Result<Response, LinqError> {
    match verdict {
        Verdict::Accept(change) => {
            effects.record(emulator.accept(change, trace_id));
            Ok(queued(message, trace_id))
        }
        Verdict::Reject(error) if emulator.async_reject() => {
            tracing::debug!(code = error.code, "linq: async_reject drops the change");
            Ok(queued(message, trace_id))
        }
        Verdict::Reject(error) => Err(error),
    }
}

/// Finds the chat, refusing an unknown one (404/2001) and one our line left (409/2013).
fn with_chat<T>(
    emulator: &LinqEmulator,
    key: &str,
    f: impl FnOnce(&LinqChat, &super::LinqState) -> T,
) -> Result<T, LinqError> {
    let state = lock(&emulator.state);
    let chat = state.chats.get(key).ok_or_else(LinqError::not_found)?;
    if chat.has_left() {
        return Err(LinqError::unavailable());
    }
    Ok(f(chat, &state))
}

fn dm() -> LinqError {
    LinqError::new(
        StatusCode::CONFLICT,
        1006,
        "Cannot update a direct message chat",
    )
}

/// `DELETE /v3/chats/{chatId}/participants` with `{"handle": ..}`.
async fn remove_participant(
    State(emulator): State<LinqEmulator>,
    Path(id): Path<String>,
    trace: Option<axum::Extension<TraceId>>,
    effects: Effects,
    body: Bytes,
) -> Result<Response, LinqError> {
    let trace_id = trace_of(trace);
    let key = chat_key(&id)?;
    with_chat(&emulator, &key, |_, _| ())?;
    let handle = body_handle(&body)?;
    let verdict = with_chat(&emulator, &key, |chat, _| {
        if !chat.is_group {
            return Verdict::Reject(dm());
        }
        let entry = chat.position(&handle).and_then(|i| chat.handles.get(i));
        match entry {
            Some(h) if h.is_active() && h.is_me => Verdict::Reject(LinqError::invalid_parameter(
                "Invalid parameter value: use /leave to remove your own handle",
            )),
            Some(h) if h.is_active() => {
                if chat.active_count() < MIN_ACTIVE_BEFORE_REMOVE {
                    Verdict::Reject(LinqError::invalid_parameter(
                        "Invalid parameter value: a group must keep 3+ participants after removal",
                    ))
                } else {
                    Verdict::Accept(Change::Remove {
                        chat: key.clone(),
                        handle: h.handle.clone(),
                    })
                }
            }
            _ => Verdict::Reject(LinqError::invalid_parameter(
                "Invalid parameter value: handle is not an active participant of this chat",
            )),
        }
    })?;
    decide(
        &emulator,
        &effects,
        verdict,
        "Participant removal queued",
        &trace_id,
    )
}

/// `POST /v3/chats/{chatId}/participants` with `{"handle": ..}`.
async fn add_participant(
    State(emulator): State<LinqEmulator>,
    Path(id): Path<String>,
    trace: Option<axum::Extension<TraceId>>,
    effects: Effects,
    body: Bytes,
) -> Result<Response, LinqError> {
    let trace_id = trace_of(trace);
    let key = chat_key(&id)?;
    with_chat(&emulator, &key, |_, _| ())?;
    let handle = body_handle(&body)?;
    const MESSAGE: &str = "Participant addition queued";
    let verdict = with_chat(&emulator, &key, |chat, state| {
        if !chat.is_group {
            return Some(Verdict::Reject(dm()));
        }
        if let Some(service) = state.handle_services.get(&handle.to_ascii_lowercase())
            && !service.eq_ignore_ascii_case(&chat.service)
        {
            return Some(Verdict::Reject(LinqError::new(
                StatusCode::CONFLICT,
                2017,
                "Not supported on this service: the handle cannot join a group of another service; create a new chat",
            )));
        }
        if chat.active_count() < MIN_ACTIVE_TO_ADD {
            return Some(Verdict::Reject(LinqError::invalid_parameter(
                "Invalid parameter value: adding needs a group with 3+ participants",
            )));
        }
        let active = chat
            .handles
            .iter()
            .any(|h| h.is_active() && same_handle(&h.handle, &handle));
        // Adding an active member: accepted, nothing changes.
        (!active).then(|| {
            Verdict::Accept(Change::Add {
                chat: key.clone(),
                handle: handle.clone(),
            })
        })
    })?;
    match verdict {
        Some(verdict) => decide(&emulator, &effects, verdict, MESSAGE, &trace_id),
        None => Ok(queued(MESSAGE, &trace_id)),
    }
}

/// `POST /v3/chats/{chatId}/leave` (any body is ignored).
async fn leave(
    State(emulator): State<LinqEmulator>,
    Path(id): Path<String>,
    trace: Option<axum::Extension<TraceId>>,
    effects: Effects,
) -> Result<Response, LinqError> {
    let trace_id = trace_of(trace);
    let key = chat_key(&id)?;
    let verdict = with_chat(&emulator, &key, |chat, _| {
        if !chat.is_group {
            return Verdict::Reject(dm());
        }
        if !chat.service.eq_ignore_ascii_case("iMessage") {
            return Verdict::Reject(LinqError::new(
                StatusCode::CONFLICT,
                2017,
                "Not supported on this service: only iMessage groups can be left",
            ));
        }
        if chat.active_count() < MIN_ACTIVE_TO_LEAVE {
            return Verdict::Reject(LinqError::invalid_parameter(
                "Invalid parameter value: leaving needs a group with 4+ participants including yourself",
            ));
        }
        Verdict::Accept(Change::Leave { chat: key.clone() })
    })?;
    decide(
        &emulator,
        &effects,
        verdict,
        "Leave group chat queued",
        &trace_id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_email_rules() {
        for ok in ["+12052499136", "+44", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "12052499136",
            "+0123",
            "+1",
            "+1234567890123456",
            "+1 205",
            "+1-205",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert!(is_email("bob@example.com"));
        for bad in [
            "@example.com",
            "bob@",
            "bob@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn bodies() {
        let code = |b: &[u8]| body_handle(b).err().map(|e| e.code);
        assert_eq!(code(b""), Some(1001));
        assert_eq!(code(b"{}"), Some(1001));
        assert_eq!(code(br#"{"handle":null}"#), Some(1001));
        assert_eq!(code(br#"{"handle":""}"#), Some(1001));
        assert_eq!(code(b"not json"), Some(1003));
        assert_eq!(code(br#"["+12052499136"]"#), Some(1003));
        assert_eq!(code(br#"{"handle":12052499136}"#), Some(1003));
        assert_eq!(code(br#"{"handle":"2052499136"}"#), Some(1002));
        assert_eq!(code(br#"{"handle":"bob@"}"#), Some(1005));
        assert_eq!(
            body_handle(br#"{"handle":"+12052499136","extra":1}"#).ok(),
            Some("+12052499136".to_owned())
        );
    }
}
