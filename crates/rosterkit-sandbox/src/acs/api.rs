//! The emulated ACS API: the identity token route and the three participant routes.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};

use super::error::AcsError;
use super::{AcsEmulator, AcsParticipant, CHAT_API_VERSIONS, auth, identity, ids};
use crate::framework::{ClientOrigin, Effects, RawTarget};
use crate::provider::Provider;
use crate::sync::lock;

/// Participants one add may carry, and a thread may hold.
const MAX_ADD: usize = 200;
const MAX_THREAD: usize = 250;
/// The page size when `maxPageSize` is absent (ours: undocumented).
const DEFAULT_PAGE_SIZE: usize = 100;
/// What ACS lists for a participant without a history-sharing time.
const UNSET_SHARE_HISTORY_TIME: &str = "1970-01-01T00:00:00Z";

#[derive(Debug, Clone)]
pub(super) struct Ctx {
    pub(super) emulator: AcsEmulator,
    base_url: Arc<str>,
}

pub(super) fn router(emulator: AcsEmulator, base_url: &str) -> Router {
    let ctx = Ctx {
        emulator,
        base_url: Arc::from(base_url),
    };
    // The action segments (`:add`, `:remove`, `:issueAccessToken`) start with a colon, which
    // axum 0.8 refuses in route paths (an axum 0.7 capture), so they are captured and matched
    // by the handlers.
    Router::new()
        .route("/identities", post(identity::create))
        .route("/identities/{id}", delete(identity::delete))
        .route("/identities/{id}/{action}", post(identity::action))
        .route("/chat/threads/{thread}/participants", get(list))
        .route(
            "/chat/threads/{thread}/participants/{action}",
            post(participant_action),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .with_state(ctx)
        .layer(middleware::from_fn(acs_headers))
}

/// Headers on every ACS reply: `ms-cv`, `api-supported-versions`, and the echoed
/// `x-ms-client-request-id`.
async fn acs_headers(request: Request, next: Next) -> Response {
    let client_request_id = request.headers().get("x-ms-client-request-id").cloned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(cv) = HeaderValue::from_str(&format!(
        "{:016x}{:06x}.0",
        fastrand::u64(..),
        fastrand::u32(..0xff_ffff)
    )) {
        headers.insert("ms-cv", cv);
    }
    if let Ok(versions) = HeaderValue::from_str(&CHAT_API_VERSIONS.join(", ")) {
        headers.insert("api-supported-versions", versions);
    }
    if let Some(id) = client_request_id {
        headers.insert("x-ms-client-request-id", id);
    }
    response
}

pub(super) fn no_such_resource() -> AcsError {
    AcsError::not_found("The requested resource was not found.")
}

async fn not_found() -> AcsError {
    no_such_resource()
}

async fn method_not_allowed() -> AcsError {
    AcsError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The method is not allowed on this resource.",
    )
}

/// The first value of `name` in a raw query, percent-decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy().into_owned())
}

pub(super) fn api_version(query: Option<&str>, accepted: &[&str]) -> Result<String, AcsError> {
    let version = query_param(query, "api-version")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AcsError::bad_request("The api-version query parameter is required."))?;
    if accepted.contains(&version.as_str()) {
        Ok(version)
    } else {
        Err(AcsError::bad_request(format!(
            "Unsupported api-version '{version}'. The supported versions are: {}.",
            accepted.join(", ")
        )))
    }
}

pub(super) fn json_body(body: &[u8]) -> Result<Value, AcsError> {
    serde_json::from_slice(body)
        .map_err(|_| AcsError::bad_request("The request body is not valid JSON."))
}

pub(super) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut response = (status, serde_json::to_vec(value).unwrap_or_default()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Runs the chat-route checks shared by all three routes: version, token, thread, caller.
fn chat_caller(
    emulator: &AcsEmulator,
    query: Option<&str>,
    headers: &HeaderMap,
    thread: &str,
) -> Result<(String, String), AcsError> {
    let version = api_version(query, &CHAT_API_VERSIONS)?;
    let caller = auth::caller(emulator, headers)?;
    let state = lock(&emulator.state);
    let thread = state
        .threads
        .get(thread)
        .ok_or_else(|| AcsError::not_found("The chat thread was not found."))?;
    if !thread.participants.iter().any(|p| p.raw_id == caller) {
        return Err(AcsError::forbidden());
    }
    Ok((version, caller))
}

/// `POST /chat/threads/{id}/participants/{:add | :remove}`.
async fn participant_action(
    State(ctx): State<Ctx>,
    Path((thread, action)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    effects: Effects,
    body: Bytes,
) -> Result<Response, AcsError> {
    match action.as_str() {
        ":add" => add(&ctx, &thread, query.as_deref(), &headers, &effects, &body),
        ":remove" => remove(&ctx, &thread, query.as_deref(), &headers, &effects, &body),
        _ => Err(no_such_resource()),
    }
}

/// `POST /chat/threads/{id}/participants/:remove` with the bare identifier → 204.
fn remove(
    ctx: &Ctx,
    thread: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    effects: &Effects,
    body: &[u8],
) -> Result<Response, AcsError> {
    let emulator = &ctx.emulator;
    let (_version, caller) = chat_caller(emulator, query, headers, thread)?;
    let target = ids::raw_id_of(&json_body(body)?).ok_or_else(|| {
        AcsError::bad_request(
            "The body must be a CommunicationIdentifierModel with a rawId or a kind object.",
        )
    })?;
    let mut state = lock(&emulator.state);
    if target != caller && !state.settings.members_may_remove_others {
        return Err(AcsError::forbidden());
    }
    if state.settings.rate_limits {
        emulator
            .limiter
            .admit(thread)
            .map_err(AcsError::too_many_requests)?;
    }
    if let Some(t) = state.threads.get_mut(thread)
        && let Some(index) = t.participants.iter().position(|p| p.raw_id == target)
    {
        t.participants.remove(index);
        effects.record(format!("acs:remove {thread} {target}"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// One participant of an add request, validated.
fn parse_participant(value: &Value) -> Result<AcsParticipant, AcsError> {
    let bad = |m: &'static str| AcsError::bad_request(m);
    let identifier = value
        .get("communicationIdentifier")
        .ok_or_else(|| bad("Each participant needs a communicationIdentifier."))?;
    let raw_id = ids::raw_id_of(identifier)
        .ok_or_else(|| bad("A communicationIdentifier needs a rawId or a kind object."))?;
    let text = |key: &str| -> Result<Option<String>, AcsError> {
        match value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad("displayName and shareHistoryTime must be strings.")),
        }
    };
    let mut metadata = BTreeMap::new();
    match value.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let Value::String(v) = v else {
                    return Err(bad("metadata values must be strings."));
                };
                metadata.insert(k.clone(), v.clone());
            }
        }
        Some(_) => return Err(bad("metadata must be an object of strings.")),
    }
    Ok(AcsParticipant {
        raw_id,
        display_name: text("displayName")?,
        share_history_time: text("shareHistoryTime")?,
        metadata,
    })
}

/// `POST /chat/threads/{id}/participants/:add` → 201 `{}` or `{"invalidParticipants":[..]}`.
fn add(
    ctx: &Ctx,
    thread: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    effects: &Effects,
    body: &[u8],
) -> Result<Response, AcsError> {
    let emulator = &ctx.emulator;
    chat_caller(emulator, query, headers, thread)?;
    let body = json_body(body)?;
    let items = body
        .get("participants")
        .and_then(Value::as_array)
        .ok_or_else(|| AcsError::bad_request("The participants array is required."))?;
    if items.is_empty() || items.len() > MAX_ADD {
        return Err(AcsError::bad_request(format!(
            "An add carries 1 to {MAX_ADD} participants, got {}.",
            items.len()
        )));
    }
    let participants = items
        .iter()
        .map(parse_participant)
        .collect::<Result<Vec<_>, _>>()?;

    let mut state = lock(&emulator.state);
    if state.settings.rate_limits {
        emulator
            .limiter
            .admit(thread)
            .map_err(AcsError::too_many_requests)?;
    }
    let refused = state.settings.invalid_participants.clone();
    let Some(t) = state.threads.get_mut(thread) else {
        return Err(AcsError::not_found("The chat thread was not found."));
    };
    let mut invalid = Vec::new();
    let mut accepted: Vec<AcsParticipant> = Vec::new();
    for participant in participants {
        if let Some(refusal) = refused.get(&participant.raw_id) {
            invalid.push(json!({
                "target": participant.raw_id,
                "code": refusal.code,
                "message": refusal.message,
            }));
        } else if !ids::is_known_kind(&participant.raw_id) {
            invalid.push(
                json!({ "target": participant.raw_id, "code": "404", "message": "Not found" }),
            );
        } else if !t
            .participants
            .iter()
            .any(|p| p.raw_id == participant.raw_id)
            && !accepted.iter().any(|p| p.raw_id == participant.raw_id)
        {
            accepted.push(participant);
        }
    }
    if t.participants.len() + accepted.len() > MAX_THREAD {
        return Err(AcsError::bad_request(format!(
            "A thread holds at most {MAX_THREAD} participants."
        )));
    }
    for participant in accepted {
        effects.record(format!("acs:add {thread} {}", participant.raw_id));
        t.participants.push(participant);
    }
    let reply = if invalid.is_empty() {
        json!({})
    } else {
        json!({ "invalidParticipants": invalid })
    };
    Ok(json_response(StatusCode::CREATED, &reply))
}

/// Path characters kept as they are in a `nextLink` (ACS writes `19:..@thread.v2` raw).
const LINK_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'@');

fn page_param(query: Option<&str>, name: &str) -> Result<Option<usize>, AcsError> {
    match query_param(query, name) {
        None => Ok(None),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Some)
            .ok_or_else(|| {
                AcsError::bad_request(format!("{name} must be a non-negative 32-bit integer."))
            }),
    }
}

/// `GET /chat/threads/{id}/participants?maxPageSize=&skip=` → 200 `{"value":[..],"nextLink"?}`.
async fn list(
    State(ctx): State<Ctx>,
    Path(thread): Path<String>,
    RawQuery(query): RawQuery,
    ClientOrigin(client_origin): ClientOrigin,
    raw_target: Option<Extension<RawTarget>>,
    headers: HeaderMap,
) -> Result<Response, AcsError> {
    let emulator = &ctx.emulator;
    let (version, _caller) = chat_caller(emulator, query.as_deref(), &headers, &thread)?;
    let size = page_param(query.as_deref(), "maxPageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if size == 0 {
        return Err(AcsError::bad_request("maxPageSize must be at least 1."));
    }
    let skip = page_param(query.as_deref(), "skip")?.unwrap_or(0);
    let state = lock(&emulator.state);
    let participants = state
        .threads
        .get(&thread)
        .map(|t| t.participants.as_slice())
        .unwrap_or_default();
    let value: Vec<Value> = participants
        .iter()
        .skip(skip)
        .take(size)
        .map(|p| {
            let mut item = Map::new();
            item.insert(
                "communicationIdentifier".to_owned(),
                ids::identifier_json(&p.raw_id),
            );
            if let Some(name) = &p.display_name {
                item.insert("displayName".to_owned(), Value::from(name.as_str()));
            }
            item.insert(
                "shareHistoryTime".to_owned(),
                Value::from(
                    p.share_history_time
                        .as_deref()
                        .unwrap_or(UNSET_SHARE_HISTORY_TIME),
                ),
            );
            if !p.metadata.is_empty() {
                item.insert("metadata".to_owned(), json!(p.metadata));
            }
            Value::Object(item)
        })
        .collect();
    let mut reply = Map::new();
    reply.insert("value".to_owned(), Value::Array(value));
    let next = skip.saturating_add(size);
    if next < participants.len() {
        let origin = match &state.settings.foreign_next_link {
            Some(origin) => origin.clone(),
            None => client_origin.unwrap_or_else(|| ctx.base_url.to_string()),
        };
        // Keep the client's prefix: `/acs`, or none when it came through the root alias.
        let at_root = raw_target.is_some_and(|Extension(raw)| raw.0.starts_with("/chat/"));
        let prefix = if at_root {
            ""
        } else {
            Provider::Acs.mount_path()
        };
        let link = format!(
            "{origin}{prefix}/chat/threads/{}/participants?skip={next}&maxPageSize={size}&api-version={version}",
            utf8_percent_encode(&thread, LINK_SEGMENT),
        );
        reply.insert("nextLink".to_owned(), Value::from(link));
    }
    Ok(json_response(StatusCode::OK, &Value::Object(reply)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let q = Some("maxPageSize=2&api-version=2025%2D03%2D15&flag");
        assert_eq!(query_param(q, "api-version").as_deref(), Some("2025-03-15"));
        assert_eq!(query_param(q, "maxPageSize").as_deref(), Some("2"));
        assert_eq!(query_param(q, "flag").as_deref(), Some(""));
        assert_eq!(query_param(q, "skip"), None);
        assert_eq!(query_param(None, "skip"), None);
    }
}
