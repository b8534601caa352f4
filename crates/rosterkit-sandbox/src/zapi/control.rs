//! Z-API's control-plane routes, mounted under `/_sandbox/zapi`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ZapiCommunitySeed, ZapiEmulator, ZapiGroupSeed};
use crate::control::{ControlError, parse_json};

pub(super) fn router(emulator: ZapiEmulator) -> Router {
    Router::new()
        .route("/groups", post(create_group))
        .route("/groups/{id}", get(group))
        .route("/communities", post(create_community))
        .route("/communities/{id}", get(community))
        .route("/connection", put(put_connection))
        .route("/contacts/{phone}", put(put_contact))
        .route("/credentials", put(put_credentials))
        .with_state(emulator)
}

/// `POST /_sandbox/zapi/groups` with a [`ZapiGroupSeed`] → 201 `{"id": ..}`.
async fn create_group(
    State(emulator): State<ZapiEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: ZapiGroupSeed = parse_json(&body)?;
    let id = emulator.create_group_with(seed);
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response())
}

/// `GET /_sandbox/zapi/groups/{id}` → the group's state.
async fn group(
    State(emulator): State<ZapiEmulator>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    emulator
        .group(&id)
        .map(|group| axum::Json(group).into_response())
        .ok_or_else(|| ControlError::not_found(format!("no group {id:?}")))
}

/// `POST /_sandbox/zapi/communities` with a [`ZapiCommunitySeed`] → 201
/// `{"id": .., "announcement_group": ..}`.
async fn create_community(
    State(emulator): State<ZapiEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: ZapiCommunitySeed = parse_json(&body)?;
    let id = emulator.create_community_with(seed);
    let announcement = emulator.community(&id).and_then(|c| c.announcement_group);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "id": id, "announcement_group": announcement })),
    )
        .into_response())
}

/// `GET /_sandbox/zapi/communities/{id}` → the community's state.
async fn community(
    State(emulator): State<ZapiEmulator>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    emulator
        .community(&id)
        .map(|community| axum::Json(community).into_response())
        .ok_or_else(|| ControlError::not_found(format!("no community {id:?}")))
}

#[derive(Deserialize)]
struct ConnectionBody {
    connected: bool,
}

/// `PUT /_sandbox/zapi/connection` with `{"connected": bool}` → 204.
async fn put_connection(
    State(emulator): State<ZapiEmulator>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body: ConnectionBody = parse_json(&body)?;
    emulator.set_connected(body.connected);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ContactBody {
    contact: bool,
}

/// `PUT /_sandbox/zapi/contacts/{phone}` with `{"contact": bool}` → 204.
async fn put_contact(
    State(emulator): State<ZapiEmulator>,
    Path(phone): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body: ContactBody = parse_json(&body)?;
    emulator.set_contact(&phone, body.contact);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsBody {
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    instance_token: Option<String>,
    #[serde(default)]
    client_token: Option<String>,
}

/// `PUT /_sandbox/zapi/credentials` with any of `{"instance_id","instance_token",
/// "client_token"}` → 204.
async fn put_credentials(
    State(emulator): State<ZapiEmulator>,
    body: Bytes,
) -> Result<StatusCode, ControlError> {
    let body: CredentialsBody = parse_json(&body)?;
    emulator.set_credentials(
        body.instance_id.as_deref(),
        body.instance_token.as_deref(),
        body.client_token.as_deref(),
    );
    Ok(StatusCode::NO_CONTENT)
}
