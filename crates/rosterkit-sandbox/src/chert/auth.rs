//! Chert request authentication (contract §1): signature first, then bearer.

use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};

use super::ChertEmulator;
use super::error::ChertError;
use crate::signing;
use crate::sync::lock;

/// The replay window: |server now − ts| ≤ 300 s.
const TOLERANCE_SECS: u64 = 300;

/// Checks the request's credentials and returns the tenant they belong to.
pub(super) fn authenticate(
    emulator: &ChertEmulator,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, ChertError> {
    let tenant = headers.get("x-chert-tenant").map(|v| v.to_str().ok());
    if let Some(signature) = headers.get("x-chert-signature") {
        let tenant = match tenant {
            None => {
                return Err(unauthorized(
                    2012,
                    "x-chert-tenant is required with x-chert-signature",
                ));
            }
            Some(tenant) => tenant.unwrap_or_default(),
        };
        let secret = tenant_secret(emulator, tenant)?;
        let signature = signature.to_str().map_err(|_| malformed_signature())?;
        verify_signature(signature, body, &secret, emulator.clock.now_unix())?;
        return Ok(tenant.to_owned());
    }
    if let Some(authorization) = headers.get(AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(bearer_token)
            .ok_or_else(|| unauthorized(2004, "invalid bearer token"))?;
        return match tenant {
            Some(tenant) => {
                let tenant = tenant.unwrap_or_default();
                let secret = tenant_secret(emulator, tenant)?;
                if constant_time_eq(token, &secret) {
                    Ok(tenant.to_owned())
                } else {
                    Err(unauthorized(2004, "invalid bearer token"))
                }
            }
            None => {
                let state = lock(&emulator.state);
                // Compare against every tenant so the time taken does not depend on which one
                // matched.
                let mut found = None;
                for (slug, secret) in &state.tenants {
                    if constant_time_eq(token, secret) && found.is_none() {
                        found = Some(slug.clone());
                    }
                }
                found.ok_or_else(|| unauthorized(2004, "invalid bearer token"))
            }
        };
    }
    Err(unauthorized(
        2012,
        "missing credentials: send x-chert-tenant and x-chert-signature, or Authorization: Bearer",
    ))
}

fn tenant_secret(emulator: &ChertEmulator, tenant: &str) -> Result<String, ChertError> {
    lock(&emulator.state)
        .tenants
        .get(tenant)
        .cloned()
        .ok_or_else(|| ChertError::new(StatusCode::NOT_FOUND, 2001, "tenant not found"))
}

/// `v1,<digits>,<hex>` only (the webhook form `t=..,v1=..` is not a request signature): lowercase
/// hex of HMAC-SHA256 keyed with the secret string's bytes over `"<ts>.<raw body>"` (chert.md
/// §1). The MAC is checked before the window, so only an authentic but stale signature gets 2013.
fn verify_signature(
    header: &str,
    body: &[u8],
    secret: &str,
    now_unix: u64,
) -> Result<(), ChertError> {
    let mut parts = header.split(',');
    let (Some(version), Some(ts), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed_signature());
    };
    if version != "v1" || ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed_signature());
    }
    let expected = signing::hex(&signing::timestamp_dot_body(secret.as_bytes(), ts, body));
    let provided = mac.trim().to_ascii_lowercase();
    if !signing::constant_time_eq(provided.as_bytes(), expected.as_bytes()) {
        return Err(unauthorized(2004, "invalid signature"));
    }
    // Digits only, so a parse failure is an overflow: as far from now as it gets.
    let signed_at = ts.parse::<u64>().unwrap_or(u64::MAX);
    if signed_at.abs_diff(now_unix) > TOLERANCE_SECS {
        return Err(unauthorized(2013, "timestamp outside the 5 minute window"));
    }
    Ok(())
}

/// An `x-chert-signature` value, `v1,<ts>,<hex>`, for `body` at `unix_secs` with `secret`,
/// computed by the emulator's own code (not `rosterkit-sign`): what end-to-end tests compare a
/// client's signature with.
///
/// ```
/// // chert.md §8 A: every bodiless request at this second carries this header.
/// assert_eq!(
///     rosterkit_sandbox::chert::request_signature(
///         "0123456789abcdef0123456789abcdef",
///         1_700_000_000,
///         b"",
///     ),
///     "v1,1700000000,6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648"
/// );
/// ```
pub fn request_signature(secret: &str, unix_secs: u64, body: &[u8]) -> String {
    let ts = unix_secs.to_string();
    let mac = signing::timestamp_dot_body(secret.as_bytes(), &ts, body);
    format!("v1,{ts},{}", signing::hex(&mac))
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    signing::constant_time_eq(a.as_bytes(), b.as_bytes())
}

fn unauthorized(code: u32, message: &'static str) -> ChertError {
    ChertError::new(StatusCode::UNAUTHORIZED, code, message)
}

fn malformed_signature() -> ChertError {
    unauthorized(
        2004,
        "malformed x-chert-signature: expected v1,<unix seconds>,<hex>",
    )
}
