//! Linq's control-plane routes, mounted under `/_sandbox/linq`.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{LinqChatSeed, LinqEmulator, LinqWebhookSeed};
use crate::control::{ControlError, parse_json};

pub(super) fn router(emulator: LinqEmulator) -> Router {
    Router::new()
        .route("/chats", post(create_chat))
        .route("/chats/{id}", get(chat))
        .route("/settings", get(settings).put(put_settings))
        .route("/pending/apply", post(apply_pending))
        .route("/webhooks", post(add_webhook).delete(clear_webhooks))
        .route("/deliveries", get(deliveries))
        .route("/handle-services", put(put_handle_service))
        .with_state(emulator)
}

/// `POST /_sandbox/linq/chats` with a [`LinqChatSeed`] → 201 `{"id": ..}`.
async fn create_chat(
    State(emulator): State<LinqEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: LinqChatSeed = parse_json(&body)?;
    let id = emulator.create_chat(seed);
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response())
}

/// `GET /_sandbox/linq/chats/{id}` → the chat exactly as `GET /v3/chats/{id}` returns it.
async fn chat(
    State(emulator): State<LinqEmulator>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    emulator
        .chat(&id)
        .map(|chat| axum::Json(chat).into_response())
        .ok_or_else(|| ControlError::not_found(format!("no chat {id:?}")))
}

fn settings_json(emulator: &LinqEmulator) -> Response {
    axum::Json(json!({
        "api_key": emulator.api_key(),
        "apply_delay_ms": u64::try_from(emulator.apply_delay().as_millis()).unwrap_or(u64::MAX),
        "async_reject": emulator.async_reject(),
        "pending": emulator.pending_count(),
    }))
    .into_response()
}

/// `GET /_sandbox/linq/settings` → `{"api_key","apply_delay_ms","async_reject","pending"}`.
async fn settings(State(emulator): State<LinqEmulator>) -> Response {
    settings_json(&emulator)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    api_key: Option<String>,
    apply_delay_ms: Option<u64>,
    async_reject: Option<bool>,
}

/// `PUT /_sandbox/linq/settings` with any of `api_key`, `apply_delay_ms`, `async_reject` →
/// 200 with the settings.
async fn put_settings(
    State(emulator): State<LinqEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let body: SettingsBody = parse_json(&body)?;
    if let Some(key) = body.api_key {
        emulator.set_api_key(key);
    }
    if let Some(ms) = body.apply_delay_ms {
        emulator.set_apply_delay(Duration::from_millis(ms));
    }
    if let Some(on) = body.async_reject {
        emulator.set_async_reject(on);
    }
    Ok(settings_json(&emulator))
}

/// `POST /_sandbox/linq/pending/apply` → `{"applied": n}`.
async fn apply_pending(State(emulator): State<LinqEmulator>) -> Response {
    axum::Json(json!({ "applied": emulator.apply_pending() })).into_response()
}

/// `POST /_sandbox/linq/webhooks` with a [`LinqWebhookSeed`] → 201 `{"id": ..}`.
async fn add_webhook(
    State(emulator): State<LinqEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: LinqWebhookSeed = parse_json(&body)?;
    super::check_target_url(&seed.target_url).map_err(ControlError::bad_request)?;
    let id = emulator.add_webhook_subscription(seed);
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response())
}

/// `DELETE /_sandbox/linq/webhooks` → 204.
async fn clear_webhooks(State(emulator): State<LinqEmulator>) -> StatusCode {
    emulator.clear_webhooks();
    StatusCode::NO_CONTENT
}

/// `GET /_sandbox/linq/deliveries` → `{"deliveries": [..]}`.
async fn deliveries(State(emulator): State<LinqEmulator>) -> Response {
    axum::Json(json!({ "deliveries": emulator.deliveries() })).into_response()
}

#[derive(Deserialize)]
struct HandleService {
    handle: String,
    service: String,
}

/// `PUT /_sandbox/linq/handle-services` with `{"handle","service"}` → 204.
async fn put_handle_service(
    State(emulator): State<LinqEmulator>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body: HandleService = parse_json(&body)?;
    emulator.set_handle_service(&body.handle, &body.service);
    Ok(StatusCode::NO_CONTENT)
}
