//! The Communication Identity API as Azure's identity SDKs call it with a connection string:
//! create a user (optionally with a token), issue a token, revoke tokens, delete a user. Every
//! call is signed with the access key (HMAC) and carries `api-version=2023-10-01`.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde_json::{Map, Value, json};

use super::api::{Ctx, api_version, json_body, json_response, no_such_resource};
use super::error::AcsError;
use super::{AcsEmulator, IDENTITY_API_VERSION, auth};
use crate::framework::RawTarget;

/// The token lifetime when `expiresInMinutes` is absent, and its bounds.
const DEFAULT_TOKEN_MINUTES: u64 = 1440;
const TOKEN_MINUTES: std::ops::RangeInclusive<u64> = 60..=1440;

/// Checks the api-version and the access-key signature over the request exactly as received;
/// returns the buffered body.
async fn signed(emulator: &AcsEmulator, request: Request) -> Result<(Parts, Bytes), AcsError> {
    let (parts, body) = request.into_parts();
    // The framework layer already buffered the body within its limit.
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    api_version(parts.uri.query(), &[IDENTITY_API_VERSION])?;
    let path_and_query = RawTarget::of(&parts);
    auth::verify_hmac(
        emulator,
        parts.method.as_str(),
        &path_and_query,
        &parts.headers,
        &body,
    )?;
    Ok((parts, body))
}

/// A Communication Services user id (`8:acs:...` and the sovereign-cloud variants).
fn check_user(user_id: &str) -> Result<(), AcsError> {
    if ["8:acs:", "8:dod-acs:", "8:gcch-acs:", "8:spool:"]
        .iter()
        .any(|p| user_id.starts_with(p) && user_id.len() > p.len())
    {
        Ok(())
    } else {
        Err(AcsError::bad_request(
            "The identity must be a Communication Services user (8:acs:...).",
        ))
    }
}

/// `scopes` (or `createTokenWithScopes`): a non-empty array of non-empty strings.
fn scopes(value: Option<&Value>, name: &str) -> Result<Vec<String>, AcsError> {
    let bad = || AcsError::bad_request(format!("{name} must be a non-empty array of strings."));
    let items = value.and_then(Value::as_array).ok_or_else(bad)?;
    let scopes = items
        .iter()
        .map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    if scopes.is_empty() {
        return Err(bad());
    }
    Ok(scopes)
}

fn minutes(body: &Value) -> Result<u64, AcsError> {
    match body.get("expiresInMinutes") {
        None | Some(Value::Null) => Ok(DEFAULT_TOKEN_MINUTES),
        Some(v) => v
            .as_u64()
            .filter(|m| TOKEN_MINUTES.contains(m))
            .ok_or_else(|| AcsError::bad_request("expiresInMinutes must be 60 to 1440.")),
    }
}

fn token_json(token: &str, expires_on: &str) -> Value {
    json!({ "token": token, "expiresOn": expires_on })
}

/// `POST /identities` with `{"createTokenWithScopes"?, "expiresInMinutes"?}` → 201
/// `{"identity":{"id"},"accessToken"?}`. Not idempotent: every call creates a user.
pub(super) async fn create(State(ctx): State<Ctx>, request: Request) -> Result<Response, AcsError> {
    let emulator = &ctx.emulator;
    let (_parts, body) = signed(emulator, request).await?;
    let body = if body.is_empty() {
        json!({})
    } else {
        json_body(&body)?
    };
    let token_scopes = match body.get("createTokenWithScopes") {
        None | Some(Value::Null) => None,
        some => Some(scopes(some, "createTokenWithScopes")?),
    };
    let minutes = minutes(&body)?;
    let user_id = emulator.create_identity();
    let mut reply = Map::new();
    reply.insert("identity".to_owned(), json!({ "id": user_id }));
    if let Some(token_scopes) = token_scopes {
        let (token, expires_on) = emulator.issue_scoped_token(&user_id, &token_scopes, minutes);
        reply.insert("accessToken".to_owned(), token_json(&token, &expires_on));
    }
    Ok(json_response(StatusCode::CREATED, &Value::Object(reply)))
}

/// `DELETE /identities/{id}` → 204: the user and its tokens are gone.
pub(super) async fn delete(
    State(ctx): State<Ctx>,
    Path(user_id): Path<String>,
    request: Request,
) -> Result<Response, AcsError> {
    signed(&ctx.emulator, request).await?;
    check_user(&user_id)?;
    ctx.emulator.delete_identity(&user_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /identities/{id}/:issueAccessToken` (`{"scopes","expiresInMinutes"?}` → 200
/// `{"token","expiresOn"}`) and `POST /identities/{id}/:revokeAccessTokens` (→ 204).
pub(super) async fn action(
    State(ctx): State<Ctx>,
    Path((user_id, action)): Path<(String, String)>,
    request: Request,
) -> Result<Response, AcsError> {
    if action != ":issueAccessToken" && action != ":revokeAccessTokens" {
        return Err(no_such_resource());
    }
    let emulator = &ctx.emulator;
    let (_parts, body) = signed(emulator, request).await?;
    check_user(&user_id)?;
    if action == ":revokeAccessTokens" {
        emulator.revoke_tokens(&user_id);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let body = json_body(&body)?;
    let token_scopes = scopes(body.get("scopes"), "scopes")?;
    let minutes = minutes(&body)?;
    let (token, expires_on) = emulator.issue_scoped_token(&user_id, &token_scopes, minutes);
    Ok(json_response(
        StatusCode::OK,
        &token_json(&token, &expires_on),
    ))
}
