//! Linq v3: webhook signing and verification (`X-Webhook-Timestamp` + `X-Webhook-Signature`).
//!
//! Linq signs `"<X-Webhook-Timestamp>.<raw body>"` with HMAC-SHA256 keyed with the **whole**
//! subscription `signing_secret` string, `whsec_` prefix included, and sends the bare lowercase
//! hex in `X-Webhook-Signature` (no `t=`, no `v1=`). API requests themselves use a bearer token
//! and are not signed.
//!
//! ```
//! use rosterkit_sign::linq;
//!
//! let secret = b"whsec_test_0123456789";
//! let body = br#"{"event_type":"participant.removed"}"#;
//! let signature = linq::sign_webhook(secret, 1_700_000_000, body);
//! let ts = linq::verify_webhook(
//!     Some("1700000000"),
//!     Some(&signature),
//!     body,
//!     &[secret],
//!     1_700_000_010,
//!     linq::DEFAULT_TOLERANCE,
//! );
//! assert_eq!(ts, Ok(1_700_000_000));
//! ```

use std::time::Duration;

use crate::VerifyError;
use crate::mac::{
    check_secrets, check_window, decode_hex_tag, hmac_sha256, matches_any, parse_unix_ts,
    required_header,
};

/// Default replay window: 5 minutes (300 s) either side of the verifier's clock, as Linq
/// recommends.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

const TIMESTAMP_HEADER: &str = "X-Webhook-Timestamp";
const SIGNATURE_HEADER: &str = "X-Webhook-Signature";
const BAD_TS: &str = "X-Webhook-Timestamp: not an unsigned integer";
const BAD_HEX: &str = "X-Webhook-Signature: not 64 hex digits";

/// Signs a Linq webhook delivery: the `X-Webhook-Signature` value, bare lowercase hex of
/// HMAC-SHA256 keyed with the whole signing secret string's bytes over `"<ts>.<raw body>"`.
/// The matching `X-Webhook-Timestamp` is `unix_ts` in decimal.
#[must_use]
pub fn sign_webhook(secret: &[u8], unix_ts: u64, body: &[u8]) -> String {
    let ts = unix_ts.to_string();
    hex::encode(hmac_sha256(secret, &[ts.as_bytes(), b".", body]))
}

/// Verifies a Linq webhook delivery from its `X-Webhook-Timestamp` and `X-Webhook-Signature`
/// header values as received, over the raw `body`, against any of `secrets` (pass two during a
/// rotation), with `|now_unix - ts| <= tolerance`. Returns the signed timestamp.
///
/// Whitespace around either value is ignored and hex may be in either case; the timestamp is
/// signed exactly as the header spells it. Every secret is tried, and tags are compared in
/// constant time.
///
/// # Errors
///
/// Checked in this order:
/// - [`VerifyError::MissingHeader`] (`"X-Webhook-Timestamp"`, then `"X-Webhook-Signature"`) if
///   a header is absent or blank;
/// - [`VerifyError::NoSecrets`] if `secrets` is empty, [`VerifyError::EmptySecret`] if one of
///   them is (anyone could sign with it);
/// - [`VerifyError::Malformed`] if the timestamp is not an unsigned integer or the signature is
///   not 64 hex digits (a wrong-length or non-hex signature is *Malformed*, not *Mismatch*);
/// - [`VerifyError::Mismatch`] if no secret produced the signature over `"<ts>.<body>"`;
/// - [`VerifyError::Stale`] if the (authentic) timestamp is more than `tolerance` away from
///   `now_unix`, in either direction.
pub fn verify_webhook(
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
    now_unix: u64,
    tolerance: Duration,
) -> Result<u64, VerifyError> {
    let ts_text = required_header(timestamp, TIMESTAMP_HEADER)?;
    let signature = required_header(signature, SIGNATURE_HEADER)?;
    check_secrets(secrets)?;
    let ts = parse_unix_ts(ts_text, BAD_TS)?;
    let tag = decode_hex_tag(signature, BAD_HEX)?;
    if !matches_any(secrets, &[ts_text.as_bytes(), b".", body], &[tag]) {
        return Err(VerifyError::Mismatch);
    }
    check_window(ts, now_unix, tolerance)?;
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789";

    fn check(ts: Option<&str>, sig: Option<&str>) -> Result<u64, VerifyError> {
        verify_webhook(ts, sig, b"{}", &[SECRET], 1_700_000_000, DEFAULT_TOLERANCE)
    }

    #[test]
    fn check_order_and_reasons() {
        let good = sign_webhook(SECRET, 1_700_000_000, b"{}");
        assert_eq!(
            check(Some(" 1700000000 "), Some(&format!(" {good} "))),
            Ok(1_700_000_000)
        );
        assert_eq!(
            check(None, None),
            Err(VerifyError::MissingHeader("X-Webhook-Timestamp"))
        );
        assert_eq!(
            check(Some("1700000000"), Some("")),
            Err(VerifyError::MissingHeader("X-Webhook-Signature"))
        );
        assert_eq!(
            check(Some("now"), Some(&good)),
            Err(VerifyError::Malformed(BAD_TS))
        );
        assert_eq!(
            check(Some("1700000000"), Some(&format!("t=1700000000,v1={good}"))),
            Err(VerifyError::Malformed(BAD_HEX))
        );
        assert_eq!(
            verify_webhook(Some("1"), Some(&good), b"{}", &[], 1, DEFAULT_TOLERANCE),
            Err(VerifyError::NoSecrets)
        );
    }
}
