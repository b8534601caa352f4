//! Chert: request signing (`x-chert-signature`) and webhook verification (`X-Webhook-Signature`).
//!
//! Chert signs `"<unix seconds>.<raw body>"` with HMAC-SHA256 and sends lowercase hex. The key is
//! the secret string's own bytes (the API `signing_secret` for requests, the subscription secret
//! for webhooks): do **not** hex-decode it, even though it looks like hex. Method and path are not
//! signed, and a bodiless request (GET, DELETE, `POST /leave`) signs the empty body, so the input
//! is `"<ts>."`.
//!
//! Two header forms carry the same signature:
//!
//! | form | shape | where |
//! |---|---|---|
//! | request / legacy webhook | `v1,<ts>,<hex>` | `x-chert-signature`, old webhooks |
//! | modern webhook | `t=<ts>,v1=<hex>` | `X-Webhook-Signature` |
//!
//! [`verify`] accepts both. Whitespace around the header and around each comma-separated part is
//! ignored, hex digits may be in either case, and the timestamp is signed exactly as the header
//! spells it.
//!
//! ```
//! use rosterkit_sign::chert;
//!
//! let secret = b"0123456789abcdef0123456789abcdef";
//! let header = chert::sign(secret, 1_700_000_000, b"");
//! assert_eq!(
//!     header,
//!     "v1,1700000000,6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648"
//! );
//! let ts = chert::verify(&header, b"", &[secret], 1_700_000_120, chert::DEFAULT_TOLERANCE);
//! assert_eq!(ts, Ok(1_700_000_000));
//! ```

use std::time::Duration;

use crate::VerifyError;
use crate::mac::{
    MacKey, TAG_LEN, check_secrets, check_window, decimal, decode_hex_tag, matches_any,
    parse_unix_ts, push_hex,
};

/// Default replay window: 300 s either side of the verifier's clock (Chert answers 401/2013
/// outside it).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

const HEADER_EMPTY: &str = "signature header: empty";
const BAD_VERSION: &str = "signature header: unsupported version (expected `v1`)";
const BAD_LEGACY_SHAPE: &str =
    "signature header: expected `v1,<ts>,<hex>` (three comma-separated parts)";
const BAD_PAIR: &str = "signature header: expected `t=<ts>,v1=<hex>` (comma-separated key=value)";
const NO_T: &str = "signature header: no `t=` timestamp";
const REPEATED_T: &str = "signature header: `t=` given more than once";
const NO_V1: &str = "signature header: no `v1=` signature";
const BAD_TS: &str = "signature header: timestamp is not an unsigned integer";
const BAD_HEX: &str = "signature header: signature is not 64 hex digits";

/// Signs a Chert API request: returns the `x-chert-signature` value
/// `v1,<ts>,<lowercase hex HMAC-SHA256(secret, "<ts>.<body>")>`.
///
/// `secret` is the key as is (the signing secret string's own bytes); `body` is the exact bytes
/// sent, empty for GET, DELETE and `POST /leave`. Sign again on every attempt. A client that
/// signs many requests with one secret should keep a [`Signer`] instead.
#[must_use]
pub fn sign(secret: &[u8], unix_ts: u64, body: &[u8]) -> String {
    Signer::new(secret).sign(unix_ts, body)
}

/// Signs a Chert webhook delivery in the modern form Chert sends today:
/// `t=<ts>,v1=<lowercase hex HMAC-SHA256(secret, "<ts>.<body>")>` (what the emulator sends in
/// `X-Webhook-Signature`). The legacy form of the same signature is [`sign`]'s output.
#[must_use]
pub fn sign_webhook(secret: &[u8], unix_ts: u64, body: &[u8]) -> String {
    Signer::new(secret).sign_webhook(unix_ts, body)
}

/// A signing secret prepared once for many signatures: the HMAC key's pads are hashed when it
/// is made, and each signature is then one allocation (the header value itself).
///
/// Its `Debug` output never shows the secret.
///
/// ```
/// use rosterkit_sign::chert::{self, Signer};
///
/// let signer = Signer::new(b"0123456789abcdef0123456789abcdef");
/// assert_eq!(
///     signer.sign(1_700_000_000, b""),
///     chert::sign(b"0123456789abcdef0123456789abcdef", 1_700_000_000, b"")
/// );
/// assert_eq!(format!("{signer:?}"), "Signer { secret: \"<redacted>\" }");
/// ```
#[derive(Clone)]
pub struct Signer {
    key: MacKey,
}

impl Signer {
    /// Prepares `secret` (the signing secret's own bytes, not hex-decoded).
    #[must_use]
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: MacKey::new(secret),
        }
    }

    /// The `x-chert-signature` value for a request sent at `unix_ts` with `body`:
    /// `v1,<ts>,<hex>`, as [`sign`].
    #[must_use]
    pub fn sign(&self, unix_ts: u64, body: &[u8]) -> String {
        self.header("v1,", ",", unix_ts, body)
    }

    /// The webhook form `t=<ts>,v1=<hex>` of the same signature, as [`sign_webhook`].
    #[must_use]
    pub fn sign_webhook(&self, unix_ts: u64, body: &[u8]) -> String {
        self.header("t=", ",v1=", unix_ts, body)
    }

    /// `{prefix}{ts}{separator}{hex tag}`, written into one buffer of the exact size.
    fn header(&self, prefix: &str, separator: &str, unix_ts: u64, body: &[u8]) -> String {
        let (digits, start) = decimal(unix_ts);
        let ts = digits.get(start..).unwrap_or_default();
        let tag = self.key.tag(&[ts, b".", body]);
        let mut out =
            String::with_capacity(prefix.len() + ts.len() + separator.len() + 2 * TAG_LEN);
        out.push_str(prefix);
        // ASCII digits: one char per byte.
        out.extend(ts.iter().map(|&b| char::from(b)));
        out.push_str(separator);
        push_hex(&mut out, &tag);
        out
    }
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Verifies a request or webhook signature header in either form, `v1,<ts>,<hex>` or
/// `t=<ts>,v1=<hex>`, over the raw `body`, against any of `secrets` (pass two during a key
/// rotation), with `|now_unix - ts| <= tolerance`. Returns the signed timestamp.
///
/// In the `t=` form, keys other than `t` and `v1` are ignored, and several `v1=` entries may be
/// given (any one matching is enough). Every secret is tried, and tags are compared in constant
/// time.
///
/// # Errors
///
/// Checked in this order:
/// - [`VerifyError::NoSecrets`] if `secrets` is empty, [`VerifyError::EmptySecret`] if one
///   of them is (anyone could sign with it);
/// - [`VerifyError::Malformed`] if the header is blank, not one of the two forms, has a version
///   other than `v1`, a timestamp that is not an unsigned integer, or a signature that is not 64
///   hex digits (so a wrong-length or non-hex signature is *Malformed*, not *Mismatch*);
/// - [`VerifyError::Mismatch`] if no secret produced the signature over `"<ts>.<body>"`;
/// - [`VerifyError::Stale`] if the (authentic) timestamp is more than `tolerance` away from
///   `now_unix`, in either direction.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now_unix: u64,
    tolerance: Duration,
) -> Result<u64, VerifyError> {
    check_secrets(secrets)?;
    let parsed = parse_header(header)?;
    if !matches_any(
        secrets,
        &[parsed.ts_text.as_bytes(), b".", body],
        &parsed.tags,
    ) {
        return Err(VerifyError::Mismatch);
    }
    check_window(parsed.ts, now_unix, tolerance)?;
    Ok(parsed.ts)
}

/// Verifies a Chert webhook delivery from the headers as received: `X-Webhook-Signature` if
/// present, else the legacy `x-chert-signature`; either header may hold either form (see
/// [`verify`]). A header that is present but blank counts as absent.
///
/// Pass every subscription secret currently configured in `secrets`; to accept legacy deliveries
/// signed with the API signing secret (as Chert's sample app does), add that secret too.
/// [`DEFAULT_TOLERANCE`] (300 s) is the documented window; Chert's sample app uses 600 s.
///
/// # Errors
///
/// [`VerifyError::MissingHeader`]`("X-Webhook-Signature")` if neither header is present, then
/// every error of [`verify`].
pub fn verify_webhook(
    x_webhook_signature: Option<&str>,
    x_chert_signature: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
    now_unix: u64,
    tolerance: Duration,
) -> Result<u64, VerifyError> {
    let header = present(x_webhook_signature)
        .or(present(x_chert_signature))
        .ok_or(VerifyError::MissingHeader("X-Webhook-Signature"))?;
    verify(header, body, secrets, now_unix, tolerance)
}

/// A header value, unless it is absent or blank.
fn present(header: Option<&str>) -> Option<&str> {
    header.filter(|v| !v.trim().is_empty())
}

/// A header taken apart: the timestamp as spelled (it is what was signed), its value, and the
/// candidate tags.
#[derive(Debug)]
struct Parsed<'a> {
    ts_text: &'a str,
    ts: u64,
    tags: Vec<[u8; TAG_LEN]>,
}

fn parse_header(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let header = header.trim();
    if header.is_empty() {
        return Err(VerifyError::Malformed(HEADER_EMPTY));
    }
    let first = header.split(',').next().unwrap_or_default();
    if first.contains('=') {
        parse_modern(header)
    } else {
        parse_legacy(header)
    }
}

/// `v1,<ts>,<hex>`.
fn parse_legacy(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let mut parts = header.split(',').map(str::trim);
    let (Some(version), Some(ts_text), Some(hex_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(BAD_LEGACY_SHAPE));
    };
    if version != "v1" {
        return Err(VerifyError::Malformed(BAD_VERSION));
    }
    let ts = parse_unix_ts(ts_text, BAD_TS)?;
    let tag = decode_hex_tag(hex_sig, BAD_HEX)?;
    Ok(Parsed {
        ts_text,
        ts,
        tags: vec![tag],
    })
}

/// `t=<ts>,v1=<hex>[,v1=<hex>…]`, keys in any order, unknown keys ignored.
fn parse_modern(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let mut ts_text = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            return Err(VerifyError::Malformed(BAD_PAIR));
        };
        let value = value.trim();
        match key.trim() {
            "t" if ts_text.is_some() => return Err(VerifyError::Malformed(REPEATED_T)),
            "t" => ts_text = Some(value),
            "v1" => tags.push(decode_hex_tag(value, BAD_HEX)?),
            _ => {}
        }
    }
    let ts_text = ts_text.ok_or(VerifyError::Malformed(NO_T))?;
    let ts = parse_unix_ts(ts_text, BAD_TS)?;
    if tags.is_empty() {
        return Err(VerifyError::Malformed(NO_V1));
    }
    Ok(Parsed { ts_text, ts, tags })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac::hmac_sha256;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const HEX_A: &str = "6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648";

    fn check(header: &str) -> Result<u64, VerifyError> {
        verify(header, b"", &[SECRET], 1_700_000_000, DEFAULT_TOLERANCE)
    }

    #[test]
    fn both_forms_and_tolerated_spacing() {
        for header in [
            format!("v1,1700000000,{HEX_A}"),
            format!("t=1700000000,v1={HEX_A}"),
            format!("v1={HEX_A},t=1700000000"),
            format!("  t = 1700000000 , v1 = {HEX_A} "),
            format!(" v1 , 1700000000 , {} ", HEX_A.to_ascii_uppercase()),
            format!("t=1700000000,v0=whatever,v1={HEX_A}"),
            format!("t=1700000000,v1={},v1={HEX_A}", "00".repeat(32)),
        ] {
            assert_eq!(check(&header), Ok(1_700_000_000), "{header}");
        }
    }

    #[test]
    fn malformed_headers_say_why() {
        let cases = [
            (String::new(), HEADER_EMPTY),
            ("   ".to_owned(), HEADER_EMPTY),
            (format!("v2,1700000000,{HEX_A}"), BAD_VERSION),
            (format!("V1,1700000000,{HEX_A}"), BAD_VERSION),
            ("v1".to_owned(), BAD_LEGACY_SHAPE),
            ("v1,1700000000".to_owned(), BAD_LEGACY_SHAPE),
            (format!("v1,1700000000,{HEX_A},extra"), BAD_LEGACY_SHAPE),
            (format!("v1,,{HEX_A}"), BAD_TS),
            (format!("v1,17e8,{HEX_A}"), BAD_TS),
            (format!("v1,-1700000000,{HEX_A}"), BAD_TS),
            ("v1,1700000000,".to_owned(), BAD_HEX),
            (format!("v1,1700000000,{}", &HEX_A[..63]), BAD_HEX),
            ("t=1700000000".to_owned(), NO_V1),
            ("t=1700000000,v2=00".to_owned(), NO_V1),
            (format!("v1={HEX_A}"), NO_T),
            (format!("t=1,t=1700000000,v1={HEX_A}"), REPEATED_T),
            (format!("t=1700000000,v1={HEX_A},junk"), BAD_PAIR),
            (format!("t=abc,v1={HEX_A}"), BAD_TS),
            ("t=1700000000,v1=zz".to_owned(), BAD_HEX),
        ];
        for (header, reason) in cases {
            assert_eq!(
                check(&header),
                Err(VerifyError::Malformed(reason)),
                "{header:?}"
            );
        }
    }

    #[test]
    fn no_secrets_is_its_own_error() {
        assert_eq!(
            verify(&sign(SECRET, 1, b""), b"", &[], 1, DEFAULT_TOLERANCE),
            Err(VerifyError::NoSecrets)
        );
    }

    #[test]
    fn timestamp_is_signed_as_spelled() {
        // A signer that zero-pads its timestamp signed "01700000000."; we verify those bytes
        // rather than a re-formatted number (Checked with python3: hmac over b"01700000000.").
        let padded = hex::encode(hmac_sha256(SECRET, &[b"01700000000."]));
        assert_eq!(
            check(&format!("v1,01700000000,{padded}")),
            Ok(1_700_000_000)
        );
        assert_eq!(
            check(&format!("v1,01700000000,{HEX_A}")),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn blank_webhook_header_falls_back_to_legacy() {
        let legacy = sign(SECRET, 1_700_000_000, b"{}");
        let got = verify_webhook(
            Some(" "),
            Some(&legacy),
            b"{}",
            &[SECRET],
            1_700_000_000,
            DEFAULT_TOLERANCE,
        );
        assert_eq!(got, Ok(1_700_000_000));
    }
}
