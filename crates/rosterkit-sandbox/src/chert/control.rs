//! Chert's control-plane routes, mounted under `/_sandbox/chert`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ChertChatSeed, ChertEmulator};
use crate::control::{ControlError, parse_json};

pub(super) fn router(emulator: ChertEmulator) -> Router {
    Router::new()
        .route("/chats", post(create_chat))
        .route("/chats/{id}", get(chat))
        .route("/tenants/{slug}", put(put_tenant))
        .with_state(emulator)
}

/// `POST /_sandbox/chert/chats` with a [`ChertChatSeed`] → 201 `{"id": ..}`.
async fn create_chat(
    State(emulator): State<ChertEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: ChertChatSeed = parse_json(&body)?;
    let id = emulator.create_chat(seed);
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response())
}

/// `GET /_sandbox/chert/chats/{id}` → the chat's state.
async fn chat(
    State(emulator): State<ChertEmulator>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    emulator
        .chat(&id)
        .map(|chat| axum::Json(chat).into_response())
        .ok_or_else(|| ControlError::not_found(format!("no chat {id:?}")))
}

#[derive(Deserialize)]
struct TenantBody {
    signing_secret: String,
}

/// `PUT /_sandbox/chert/tenants/{slug}` with `{"signing_secret": ..}` → 204.
async fn put_tenant(
    State(emulator): State<ChertEmulator>,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body: TenantBody = parse_json(&body)?;
    emulator.add_tenant(slug, body.signing_secret);
    Ok(StatusCode::NO_CONTENT)
}
