//! ACS authentication: bearer user tokens on chat routes, access-key HMAC on the identity route.

use std::time::UNIX_EPOCH;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::HeaderMap;
use http::header::{AUTHORIZATION, HOST};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::error::AcsError;
use super::{AcsEmulator, DEFAULT_USER_ID, DEFAULT_USER_TOKEN};
use crate::signing;
use crate::sync::lock;

/// The replay window: Azure documents none; ours is 15 minutes either side (acs.md §1).
const TOLERANCE_SECS: u64 = 15 * 60;

/// The `Authorization` scheme of access-key signing, and the only `SignedHeaders` value.
const SCHEME: &str = "HMAC-SHA256";
const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

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

/// Checks an access-key signature over the request exactly as received (acs.md §1):
/// `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<b64>`
/// where the signature is base64(HMAC-SHA256(base64-decoded access key,
/// `VERB\npathAndQuery\n<x-ms-date>;<host>;<x-ms-content-sha256>`)), the content hash is
/// base64(SHA-256(body)) and the date is within 15 minutes of the emulator's clock.
pub(super) fn verify_hmac(
    emulator: &AcsEmulator,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), AcsError> {
    let refused = |why: &'static str| {
        tracing::debug!(why, "ACS access-key signature refused");
        AcsError::unauthorized()
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (Some(date), Some(content_hash), Some(authorization)) = (
        header("x-ms-date"),
        header("x-ms-content-sha256"),
        header(AUTHORIZATION.as_str()),
    ) else {
        return Err(refused("a signed header is missing"));
    };
    let provided = signature_of(authorization).ok_or_else(|| refused("malformed Authorization"))?;
    let key = STANDARD
        .decode(emulator.access_key().trim())
        .map_err(|_| refused("the access key is not base64"))?;
    let verb = method.to_ascii_uppercase();
    let host = header(HOST.as_str()).unwrap_or_default();
    let expected = signing::hmac_sha256(
        &key,
        &[
            verb.as_bytes(),
            b"\n",
            path_and_query.as_bytes(),
            b"\n",
            date.as_bytes(),
            b";",
            host.as_bytes(),
            b";",
            content_hash.as_bytes(),
        ],
    );
    if !signing::constant_time_eq(&expected, &provided) {
        return Err(refused("signature mismatch"));
    }
    let body_hash = STANDARD.encode(signing::sha256(body));
    if !signing::constant_time_eq(content_hash.as_bytes(), body_hash.as_bytes()) {
        return Err(refused("x-ms-content-sha256 is not the body's hash"));
    }
    let signed_at = httpdate::parse_http_date(date)
        .map_err(|_| refused("x-ms-date is not an HTTP date"))?
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if signed_at.abs_diff(emulator.clock.now_unix()) > TOLERANCE_SECS {
        return Err(refused("x-ms-date outside the replay window"));
    }
    Ok(())
}

/// The decoded `Signature` of an access-key `Authorization` value; `None` unless the scheme is
/// `HMAC-SHA256` and `SignedHeaders` is exactly `x-ms-date;host;x-ms-content-sha256` (names
/// matched without regard to case).
fn signature_of(authorization: &str) -> Option<Vec<u8>> {
    let (scheme, params) = authorization.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return None;
    }
    let (mut signed_headers, mut signature) = (None, None);
    for param in params.trim().split('&') {
        let (name, value) = param.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("SignedHeaders") {
            signed_headers = Some(value.trim());
        } else if name.trim().eq_ignore_ascii_case("Signature") {
            signature = Some(value.trim());
        }
    }
    if !signed_headers?.eq_ignore_ascii_case(SIGNED_HEADERS) {
        return None;
    }
    STANDARD.decode(signature?).ok()
}
