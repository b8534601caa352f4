//! ACS's control-plane routes, mounted under `/_sandbox/acs`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{AcsEmulator, AcsRefusal, AcsThreadSeed};
use crate::control::{ControlError, parse_json};
use crate::sync::lock;

pub(super) fn router(emulator: AcsEmulator) -> Router {
    Router::new()
        .route("/threads", post(create_thread))
        .route("/threads/{id}", get(thread))
        .route("/settings", get(settings).put(put_settings))
        .route("/tokens", post(issue_token))
        .with_state(emulator)
}

/// `POST /_sandbox/acs/threads` with an [`AcsThreadSeed`] → 201 `{"id": ..}`.
async fn create_thread(
    State(emulator): State<AcsEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let seed: AcsThreadSeed = parse_json(&body)?;
    let id = emulator.seed_thread(seed);
    Ok((StatusCode::CREATED, axum::Json(json!({ "id": id }))).into_response())
}

/// `GET /_sandbox/acs/threads/{id}` (id raw or percent-encoded) → the thread's state.
async fn thread(
    State(emulator): State<AcsEmulator>,
    Path(id): Path<String>,
) -> Result<Response, ControlError> {
    emulator
        .thread(&id)
        .map(|thread| axum::Json(thread).into_response())
        .ok_or_else(|| ControlError::not_found(format!("no thread {id:?}")))
}

async fn settings(State(emulator): State<AcsEmulator>) -> Response {
    axum::Json(emulator.settings()).into_response()
}

/// Any subset of the settings' fields; `foreign_next_link: null` restores the emulator's own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    rate_limits: Option<bool>,
    #[serde(default, with = "patch")]
    foreign_next_link: Option<Option<String>>,
    members_may_remove_others: Option<bool>,
    invalid_participants: Option<std::collections::BTreeMap<String, AcsRefusal>>,
}

mod patch {
    use serde::{Deserialize, Deserializer};

    /// Present (even as `null`) → `Some(..)`; absent → `None` (via `default`).
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

/// `PUT /_sandbox/acs/settings` with a subset of [`super::AcsSettings`] → 200 the settings.
async fn put_settings(
    State(emulator): State<AcsEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let patch: SettingsPatch = parse_json(&body)?;
    {
        let mut state = lock(&emulator.state);
        let settings = &mut state.settings;
        if let Some(on) = patch.rate_limits {
            settings.rate_limits = on;
        }
        if let Some(origin) = patch.foreign_next_link {
            settings.foreign_next_link = origin.map(|o| o.trim_end_matches('/').to_owned());
        }
        if let Some(allow) = patch.members_may_remove_others {
            settings.members_may_remove_others = allow;
        }
        if let Some(refused) = patch.invalid_participants {
            settings.invalid_participants = refused;
        }
    }
    Ok(axum::Json(emulator.settings()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    user_id: String,
    #[serde(default = "default_minutes")]
    expires_in_minutes: u64,
}

fn default_minutes() -> u64 {
    60
}

/// `POST /_sandbox/acs/tokens` with `{"user_id", "expires_in_minutes"?}` → 201
/// `{"token","expiresOn"}`, without an access-key signature.
async fn issue_token(
    State(emulator): State<AcsEmulator>,
    body: Bytes,
) -> Result<Response, ControlError> {
    let request: TokenRequest = parse_json(&body)?;
    if request.user_id.is_empty() {
        return Err(ControlError::bad_request("user_id must not be empty"));
    }
    let (token, expires_on) = emulator.issue_token(&request.user_id, request.expires_in_minutes);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "token": token, "expiresOn": expires_on })),
    )
        .into_response())
}
