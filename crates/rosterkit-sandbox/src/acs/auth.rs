//! ACS authentication: bearer user tokens on chat routes, access-key HMAC on the identity route.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HOST};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::error::AcsError;
use super::{AcsEmulator, DEFAULT_USER_ID, DEFAULT_USER_TOKEN};
use crate::sync::lock;

/// A JWT-shaped token (unsigned: `alg: none`) whose payload carries the claims ACS tokens
/// do and the SDKs read: `exp` (refresh timing), `iat`/`nbf`, `skypeid` (the user without
/// `8:`), `acsScope` (the scopes, comma-separated), `resourceId`.
pub(super) fn mint_token(
    user_id: &str,
    scopes: &[String],
    now_unix: u64,
    expires_unix: u64,
) -> String {
    let skype_id = user_id.strip_prefix("8:").unwrap_or(user_id);
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = json!({
        "skypeid": skype_id,
        "scp": 1792,
        "csi": now_unix,
        "iat": now_unix,
        "nbf": now_unix,
        "exp": expires_unix,
        "acsScope": scopes.join(","),
        "resourceId": super::SANDBOX_RESOURCE_ID,
        "jti": format!("{:016x}", fastrand::u64(..)),
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{payload}.sandbox")
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The user a chat request acts as: the default token's, or an issued unexpired token's.
pub(super) fn caller(emulator: &AcsEmulator, headers: &HeaderMap) -> Result<String, AcsError> {
    let token = bearer(headers).ok_or_else(AcsError::unauthorized)?;
    if bool::from(token.as_bytes().ct_eq(DEFAULT_USER_TOKEN.as_bytes())) {
        return Ok(DEFAULT_USER_ID.to_owned());
    }
    let now = emulator.clock.now_unix();
    let state = lock(&emulator.state);
    match state.tokens.get(token) {
        Some(issued)
            if now < issued.expires_unix
                && issued
                    .scopes
                    .iter()
                    .any(|s| s == "chat" || s.starts_with("chat.")) =>
        {
            Ok(issued.user_id.clone())
        }
        _ => Err(AcsError::unauthorized()),
    }
}

/// Checks an access-key signature over the request exactly as received.
pub(super) fn verify_hmac(
    emulator: &AcsEmulator,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AcsError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = rosterkit_sign::acs::decode_access_key(&emulator.access_key())
        .map_err(|_| AcsError::unauthorized())?;
    let now = UNIX_EPOCH + Duration::from_secs(emulator.clock.now_unix());
    rosterkit_sign::acs::verify_request(
        &key,
        method,
        path_and_query,
        header(HOST.as_str()).unwrap_or_default(),
        body,
        header("x-ms-date"),
        header("x-ms-content-sha256"),
        header(AUTHORIZATION.as_str()),
        now,
        rosterkit_sign::acs::DEFAULT_TOLERANCE,
    )
    .map_err(|error| {
        tracing::debug!(%error, "ACS access-key signature refused");
        AcsError::unauthorized()
    })
}
