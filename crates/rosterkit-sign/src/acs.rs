//! Azure Communication Services: access-key (HMAC-SHA256) request signing and its server-side
//! check.
//!
//! Three headers authenticate a request:
//!
//! | header | value |
//! |---|---|
//! | `x-ms-date` | RFC 1123 date in GMT, e.g. `Tue, 14 Nov 2023 22:13:20 GMT` |
//! | `x-ms-content-sha256` | base64(SHA-256(body)) |
//! | `Authorization` | `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>` |
//!
//! The signature is base64(HMAC-SHA256(key, string to sign)) with the string to sign
//! `VERB + "\n" + pathAndQuery + "\n" + x-ms-date + ";" + host + ";" + contentHash`, where the key
//! is the **base64-decoded** access key ([`decode_access_key`]), never the base64 text itself.
//! `pathAndQuery` is the path and query exactly as sent, including any mount prefix such as the
//! emulator's `/acs`; `host` is the URI authority (`host[:port]`, port only when non-default).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use rosterkit_sign::acs;
//!
//! let key = acs::decode_access_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
//! let date = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let body = br#"{"createTokenWithScopes":["chat"]}"#;
//! let signed = acs::sign_request(
//!     &key,
//!     "POST",
//!     "/identities?api-version=2023-10-01",
//!     "contoso.communication.azure.com",
//!     body,
//!     date,
//! );
//! assert_eq!(signed.x_ms_date, "Tue, 14 Nov 2023 22:13:20 GMT");
//! assert_eq!(
//!     signed.authorization,
//!     "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256\
//!      &Signature=qq5fDVjYhsEtJy60a6/sPnkdWlNDn+lpmt4fwq7iC+8="
//! );
//! # Ok::<(), rosterkit_sign::VerifyError>(())
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use subtle::ConstantTimeEq as _;

use crate::VerifyError;
use crate::mac::{TAG_LEN, check_secrets, check_window, hmac_sha256, required_header, sha256};

/// Replay window the sandbox emulator allows by default: 15 minutes either side. Azure does not
/// document one; this is rosterkit's choice.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(15 * 60);

/// The `Authorization` value up to the signature.
const AUTH_PREFIX: &str = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=";
const SCHEME: &str = "HMAC-SHA256";
const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

const BAD_SCHEME: &str = "Authorization: scheme is not HMAC-SHA256";
const BAD_PARAMS: &str = "Authorization: expected `SignedHeaders=...&Signature=...`";
const BAD_SIGNED_HEADERS: &str =
    "Authorization: SignedHeaders is not `x-ms-date;host;x-ms-content-sha256`";
const BAD_SIGNATURE: &str = "Authorization: Signature is not base64 of 32 bytes";
const BAD_DATE: &str = "x-ms-date: not an HTTP date";

/// Latest instant an HTTP date can show: 9999-12-31T23:59:59Z.
const MAX_HTTP_DATE_SECS: u64 = 253_402_300_799;

/// Standard-alphabet base64 that accepts the key with or without its `=` padding.
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The three headers of a request signed with an ACS access key. Send them as they are (with
/// the body whose hash is in `x_ms_content_sha256`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedHeaders {
    /// The `x-ms-date` value, an RFC 1123 date in GMT.
    pub x_ms_date: String,
    /// The `x-ms-content-sha256` value, base64(SHA-256(body)).
    pub x_ms_content_sha256: String,
    /// The `Authorization` value, `HMAC-SHA256 SignedHeaders=...&Signature=...`.
    pub authorization: String,
}

/// Decodes a base64 access key (the `accesskey=` part of a connection string) into the HMAC key
/// bytes. Surrounding whitespace is ignored and the `=` padding is optional.
///
/// # Errors
///
/// [`VerifyError::InvalidKey`] if the text is not standard-alphabet base64 or decodes to no bytes.
pub fn decode_access_key(access_key_b64: &str) -> Result<Vec<u8>, VerifyError> {
    let key = KEY_BASE64
        .decode(access_key_b64.trim())
        .map_err(|_| VerifyError::InvalidKey("not standard base64"))?;
    if key.is_empty() {
        return Err(VerifyError::InvalidKey("empty"));
    }
    Ok(key)
}

/// base64(SHA-256(body)), the `x-ms-content-sha256` value. The empty body gives
/// `47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=`.
#[must_use]
pub fn content_sha256(body: &[u8]) -> String {
    STANDARD.encode(sha256(body))
}

/// Signs a request with an ACS access key and returns the three headers to send.
///
/// `key` is the decoded access key ([`decode_access_key`]); `method` is upper-cased here;
/// `path_and_query` is exactly what goes on the request line (starts with `/`, query included,
/// mount prefix included); `host` is the authority (`host[:port]`). `date` is written with
/// one-second precision; a time before 1970 or after 9999 cannot be written as an HTTP date and
/// is clamped to the nearest one that can. Sign again on every attempt.
#[must_use]
pub fn sign_request(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    host: &str,
    body: &[u8],
    date: SystemTime,
) -> SignedHeaders {
    let x_ms_date = http_date(date);
    let x_ms_content_sha256 = content_sha256(body);
    let tag = request_tag(
        key,
        method,
        path_and_query,
        host,
        &x_ms_date,
        &x_ms_content_sha256,
    );
    SignedHeaders {
        authorization: format!("{AUTH_PREFIX}{}", STANDARD.encode(tag)),
        x_ms_date,
        x_ms_content_sha256,
    }
}

/// Checks an access-key signed request on the server side (the sandbox emulator's check):
/// recomputes the signature from the headers and request line as received and compares it in
/// constant time, then checks that `x-ms-content-sha256` is the hash of `body`, then that
/// `x-ms-date` is within `tolerance` of `now` (either direction, whole seconds).
///
/// Arguments are as for [`sign_request`], with the header values as received (surrounding
/// whitespace ignored). In `Authorization`, the scheme and parameter names are matched without
/// regard to case, `SignedHeaders` must be exactly `x-ms-date;host;x-ms-content-sha256` and
/// unknown parameters are ignored.
///
/// # Errors
///
/// Checked in this order:
/// - [`VerifyError::MissingHeader`] (`"x-ms-date"`, `"x-ms-content-sha256"`, then
///   `"Authorization"`) if a header is absent or blank;
/// - [`VerifyError::EmptySecret`] if `key` is empty (anyone could sign with it);
/// - [`VerifyError::Malformed`] if `Authorization` is not of the shape above, its signature is
///   not base64 of 32 bytes, or `x-ms-date` is not an HTTP date;
/// - [`VerifyError::Mismatch`] if the signature is not the one `key` gives for this method, path,
///   host, date and content hash;
/// - [`VerifyError::ContentHashMismatch`] if the (signed) content hash is not that of `body`;
/// - [`VerifyError::Stale`] if the (signed) date is more than `tolerance` away from `now`; the
///   error carries both as Unix seconds.
#[expect(
    clippy::too_many_arguments,
    reason = "the signature is fixed by the workspace contract; each argument is one request part"
)]
pub fn verify_request(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    host: &str,
    body: &[u8],
    x_ms_date: Option<&str>,
    x_ms_content_sha256: Option<&str>,
    authorization: Option<&str>,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let date_text = required_header(x_ms_date, "x-ms-date")?;
    let hash_text = required_header(x_ms_content_sha256, "x-ms-content-sha256")?;
    let authorization = required_header(authorization, "Authorization")?;
    check_secrets(&[key])?;
    let provided = parse_authorization(authorization)?;
    let date =
        httpdate::parse_http_date(date_text).map_err(|_| VerifyError::Malformed(BAD_DATE))?;

    let expected = request_tag(key, method, path_and_query, host, date_text, hash_text);
    if !bool::from(expected.ct_eq(&provided)) {
        return Err(VerifyError::Mismatch);
    }
    if !bool::from(hash_text.as_bytes().ct_eq(content_sha256(body).as_bytes())) {
        return Err(VerifyError::ContentHashMismatch);
    }
    check_window(unix_secs(date), unix_secs(now), tolerance)
}

/// HMAC-SHA256 over `VERB\npathAndQuery\n<date>;<host>;<hash>`.
fn request_tag(
    key: &[u8],
    method: &str,
    path_and_query: &str,
    host: &str,
    date: &str,
    content_hash: &str,
) -> [u8; TAG_LEN] {
    let verb = method.to_ascii_uppercase();
    hmac_sha256(
        key,
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
    )
}

/// Takes `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=<base64>` apart
/// and returns the decoded signature.
fn parse_authorization(value: &str) -> Result<[u8; TAG_LEN], VerifyError> {
    let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(VerifyError::Malformed(BAD_SCHEME));
    }
    let mut signed_headers = None;
    let mut signature = None;
    for param in params.trim().split('&') {
        // Base64 never contains `&`, and its `=` padding comes after the first `=`.
        let Some((name, value)) = param.split_once('=') else {
            return Err(VerifyError::Malformed(BAD_PARAMS));
        };
        let slot = if name.trim().eq_ignore_ascii_case("SignedHeaders") {
            &mut signed_headers
        } else if name.trim().eq_ignore_ascii_case("Signature") {
            &mut signature
        } else {
            continue;
        };
        if slot.replace(value.trim()).is_some() {
            return Err(VerifyError::Malformed(BAD_PARAMS));
        }
    }
    let (Some(signed_headers), Some(signature)) = (signed_headers, signature) else {
        return Err(VerifyError::Malformed(BAD_PARAMS));
    };
    if !signed_headers.eq_ignore_ascii_case(SIGNED_HEADERS) {
        return Err(VerifyError::Malformed(BAD_SIGNED_HEADERS));
    }
    let decoded = STANDARD
        .decode(signature)
        .map_err(|_| VerifyError::Malformed(BAD_SIGNATURE))?;
    <[u8; TAG_LEN]>::try_from(decoded.as_slice()).map_err(|_| VerifyError::Malformed(BAD_SIGNATURE))
}

/// Formats `t` as an HTTP date, clamped into the years 1970 to 9999 that the format (and
/// `httpdate`, which panics outside them) can represent.
fn http_date(t: SystemTime) -> String {
    let secs = unix_secs(t).min(MAX_HTTP_DATE_SECS);
    let clamped = UNIX_EPOCH
        .checked_add(Duration::from_secs(secs))
        .unwrap_or(UNIX_EPOCH);
    httpdate::fmt_http_date(clamped)
}

/// Whole seconds since the Unix epoch; 0 for earlier times.
fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"acs-test-key";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn check_auth(auth: &str) -> Result<(), VerifyError> {
        let s = sign_request(KEY, "GET", "/x", "h", b"", at(1_700_000_000));
        verify_request(
            KEY,
            "GET",
            "/x",
            "h",
            b"",
            Some(&s.x_ms_date),
            Some(&s.x_ms_content_sha256),
            Some(auth),
            at(1_700_000_000),
            DEFAULT_TOLERANCE,
        )
    }

    #[test]
    fn authorization_parsing() {
        let good = sign_request(KEY, "GET", "/x", "h", b"", at(1_700_000_000)).authorization;
        let sig = good.trim_start_matches(AUTH_PREFIX);
        assert_eq!(check_auth(&good), Ok(()));
        let tolerated = [
            format!("hmac-sha256 Signature={sig}&SignedHeaders=X-MS-DATE;HOST;X-MS-CONTENT-SHA256"),
            format!("HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={sig}&extra=1"),
        ];
        for auth in tolerated {
            assert_eq!(check_auth(&auth), Ok(()), "{auth}");
        }
        let cases = [
            (format!("Bearer {sig}"), BAD_SCHEME),
            ("HMAC-SHA256".to_owned(), BAD_PARAMS),
            (format!("HMAC-SHA256 Signature={sig}"), BAD_PARAMS),
            (
                format!("HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}"),
                BAD_PARAMS,
            ),
            (format!("{good}&Signature={sig}"), BAD_PARAMS),
            (
                format!("HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&{sig}"),
                BAD_PARAMS,
            ),
            (
                format!(
                    "HMAC-SHA256 SignedHeaders=host;x-ms-date;x-ms-content-sha256&Signature={sig}"
                ),
                BAD_SIGNED_HEADERS,
            ),
            (format!("{AUTH_PREFIX}not*base64"), BAD_SIGNATURE),
            (format!("{AUTH_PREFIX}AAAA"), BAD_SIGNATURE),
            (AUTH_PREFIX.to_owned(), BAD_SIGNATURE),
        ];
        for (auth, reason) in cases {
            assert_eq!(
                check_auth(&auth),
                Err(VerifyError::Malformed(reason)),
                "{auth}"
            );
        }
    }

    #[test]
    fn dates_outside_the_http_range_are_clamped() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let before = UNIX_EPOCH.checked_sub(Duration::from_secs(86_400)).unwrap();
        assert_eq!(http_date(before), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(at(MAX_HTTP_DATE_SECS + 1_000_000)),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn access_keys() {
        let want: Vec<u8> = (0u8..32).collect();
        let padded = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        assert_eq!(decode_access_key(padded), Ok(want.clone()));
        assert_eq!(decode_access_key(&format!(" {padded}\n")), Ok(want.clone()));
        assert_eq!(decode_access_key(padded.trim_end_matches('=')), Ok(want));
        assert_eq!(decode_access_key(""), Err(VerifyError::InvalidKey("empty")));
        for bad in ["not base64!", "AAEC-wQF", "A"] {
            assert_eq!(
                decode_access_key(bad),
                Err(VerifyError::InvalidKey("not standard base64")),
                "{bad}"
            );
        }
    }
}
