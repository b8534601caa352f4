//! Shared building blocks: the HMAC itself, constant-time matching, timestamps and windows.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq as _};

use crate::VerifyError;

/// Length in bytes of an HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;

/// HMAC-SHA256 of the concatenation of `parts`, keyed with `key` (any length, empty included).
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
    MacKey::new(key).tag(parts)
}

/// An HMAC-SHA256 key with its inner and outer pads already hashed, so each tag costs only the
/// message's blocks: a client that signs every request with one secret prepares it once.
///
/// RustCrypto's `hmac` + `sha2` compute it (the design card's crates); the prepared state is
/// the keyed MAC itself, cloned per tag. The known-answer tests cover empty, 64-byte and longer
/// keys.
#[derive(Clone)]
pub(crate) struct MacKey(Hmac<Sha256>);

impl MacKey {
    /// Prepares `key` (any length, empty included; RFC 2104 §2).
    pub(crate) fn new(key: &[u8]) -> Self {
        // HMAC takes keys of any length (hashed when over one block, zero-padded otherwise), so
        // `new_from_slice` has no error to return; the fallback is never taken.
        let mac = Hmac::<Sha256>::new_from_slice(key)
            .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        Self(mac)
    }

    /// The tag of the concatenation of `parts`.
    pub(crate) fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Appends `bytes` as lowercase hex to `out`.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
}

/// The decimal digits of `n`, in a stack buffer (no allocation): `(buffer, start)`, the digits
/// being `buffer[start..]`.
pub(crate) fn decimal(mut n: u64) -> ([u8; 20], usize) {
    let mut buffer = [0u8; 20];
    let mut start = buffer.len();
    for slot in buffer.iter_mut().rev() {
        // `n % 10` < 10, so the cast cannot truncate.
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    (buffer, start)
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; TAG_LEN] {
    Sha256::digest(data).into()
}

/// Refuses a list of secrets a verifier cannot trust: [`VerifyError::NoSecrets`] when empty,
/// [`VerifyError::EmptySecret`] when any entry is empty (anyone can sign with an empty key).
pub(crate) fn check_secrets(secrets: &[&[u8]]) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        Err(VerifyError::NoSecrets)
    } else if secrets.iter().any(|s| s.is_empty()) {
        Err(VerifyError::EmptySecret)
    } else {
        Ok(())
    }
}

/// Whether `provided` equals the tag of any key in `keys`, compared in constant time.
///
/// Every key is tried (no early exit), so the time taken does not depend on which key matched
/// or on how many leading bytes were right.
pub(crate) fn matches_any(keys: &[&[u8]], parts: &[&[u8]], provided: &[[u8; TAG_LEN]]) -> bool {
    let mut found = Choice::from(0);
    for key in keys {
        let expected = hmac_sha256(key, parts);
        for candidate in provided {
            found |= expected.ct_eq(candidate);
        }
    }
    found.into()
}

/// Decodes a hex signature (either case) into a tag; anything but 64 hex digits is `Malformed`.
pub(crate) fn decode_hex_tag(
    hex_text: &str,
    what: &'static str,
) -> Result<[u8; TAG_LEN], VerifyError> {
    let mut tag = [0u8; TAG_LEN];
    match hex::decode_to_slice(hex_text, &mut tag) {
        Ok(()) => Ok(tag),
        Err(_) => Err(VerifyError::Malformed(what)),
    }
}

/// Parses a Unix timestamp in seconds: ASCII digits only (no sign, no spaces), fitting in a u64.
pub(crate) fn parse_unix_ts(text: &str, what: &'static str) -> Result<u64, VerifyError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::Malformed(what));
    }
    text.parse::<u64>()
        .map_err(|_| VerifyError::Malformed(what))
}

/// Accepts `timestamp` when `|now - timestamp| <= tolerance` (whole seconds; sub-second parts of
/// the tolerance are ignored). Future timestamps are judged like past ones.
pub(crate) fn check_window(
    timestamp: u64,
    now: u64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let tolerance_secs = tolerance.as_secs();
    if timestamp.abs_diff(now) <= tolerance_secs {
        Ok(())
    } else {
        Err(VerifyError::Stale {
            timestamp,
            now,
            tolerance_secs,
        })
    }
}

/// Treats a header that is absent or blank (only whitespace) as missing; trims the rest.
pub(crate) fn required_header<'a>(
    value: Option<&'a str>,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(VerifyError::MissingHeader(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked with python3: `hmac.new(key, msg, hashlib.sha256).hexdigest()` for keys of 0, 64,
    /// 65 and 100 bytes, which exercise each branch of the RFC 2104 key step.
    #[test]
    fn key_lengths_match_python() {
        let msg: &[&[u8]] = &[b"1700000000.", b"hello"];
        let cases: [(&[u8], &str); 4] = [
            (
                b"",
                "57867bfbda13e7e14983798749a2a98c6326e56b558fd46ffb36f0a854bbc1d7",
            ),
            (
                &[0x61; 64],
                "5454b4cc79aa31e94a4d141ec9fdb1db08991daa5697cfdb811415c47c2c66d5",
            ),
            (
                &[0x61; 65],
                "d28c0e415cfc82d8f041922c4dff2263612405cd86281fcca841bc9e3af0e046",
            ),
            (
                &[0x61; 100],
                "4453a0928ef773c672e0a51ec0c21c4c92314dc054f39c5aacf83eceab38342a",
            ),
        ];
        for (key, want) in cases {
            assert_eq!(
                hex::encode(hmac_sha256(key, msg)),
                want,
                "key of {} bytes",
                key.len()
            );
        }
    }

    #[test]
    fn secret_lists_need_entries_and_no_empty_one() {
        assert_eq!(check_secrets(&[]), Err(VerifyError::NoSecrets));
        assert_eq!(check_secrets(&[b""]), Err(VerifyError::EmptySecret));
        assert_eq!(check_secrets(&[b"old", b""]), Err(VerifyError::EmptySecret));
        assert_eq!(check_secrets(&[b"old", b"new"]), Ok(()));
    }

    #[test]
    fn decimal_and_hex_match_std() {
        for n in [0, 7, 10, 1_700_000_000, u64::MAX] {
            let (buffer, start) = decimal(n);
            assert_eq!(buffer.get(start..), Some(n.to_string().as_bytes()));
        }
        let mut out = String::new();
        push_hex(&mut out, &[0x00, 0x0f, 0xa5, 0xff]);
        assert_eq!(out, "000fa5ff");
    }

    #[test]
    fn a_prepared_key_signs_like_a_fresh_one() {
        let key = MacKey::new(b"secret");
        for _ in 0..2 {
            assert_eq!(key.tag(&[b"a", b"b"]), hmac_sha256(b"secret", &[b"ab"]));
        }
    }

    /// FIPS 180-2 test vectors.
    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn parts_are_concatenated() {
        assert_eq!(
            hmac_sha256(b"k", &[b"ab", b"", b"c"]),
            hmac_sha256(b"k", &[b"abc"])
        );
    }

    #[test]
    fn window_is_inclusive_and_symmetric() {
        let t = Duration::from_secs(300);
        assert_eq!(check_window(1_700_000_300, 1_700_000_000, t), Ok(()));
        assert_eq!(check_window(1_699_999_700, 1_700_000_000, t), Ok(()));
        assert_eq!(
            check_window(1_700_000_301, 1_700_000_000, t),
            Err(VerifyError::Stale {
                timestamp: 1_700_000_301,
                now: 1_700_000_000,
                tolerance_secs: 300
            })
        );
        assert!(check_window(1_699_999_699, 1_700_000_000, t).is_err());
        assert!(check_window(u64::MAX, 0, Duration::MAX).is_ok());
        assert!(check_window(0, u64::MAX, t).is_err());
        // Sub-second parts of the tolerance do not widen the window.
        assert!(check_window(301, 0, Duration::from_millis(300_999)).is_err());
    }

    #[test]
    fn timestamps_are_plain_digits() {
        assert_eq!(parse_unix_ts("1700000000", "ts"), Ok(1_700_000_000));
        assert_eq!(parse_unix_ts("0", "ts"), Ok(0));
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1.5",
            "1e9",
            "abc",
            "18446744073709551616",
        ] {
            assert_eq!(
                parse_unix_ts(bad, "ts"),
                Err(VerifyError::Malformed("ts")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hex_tags_must_be_64_digits() {
        let good = "6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648";
        assert!(decode_hex_tag(good, "sig").is_ok());
        assert!(decode_hex_tag(&good.to_ascii_uppercase(), "sig").is_ok());
        for bad in [
            "",
            &good[..62],
            &format!("{good}00"),
            &good.replace('6', "g"),
        ] {
            assert_eq!(
                decode_hex_tag(bad, "sig"),
                Err(VerifyError::Malformed("sig"))
            );
        }
    }

    #[test]
    fn blank_headers_are_missing() {
        assert_eq!(required_header(Some(" x "), "H"), Ok("x"));
        assert_eq!(
            required_header(Some("  "), "H"),
            Err(VerifyError::MissingHeader("H"))
        );
        assert_eq!(
            required_header(None, "H"),
            Err(VerifyError::MissingHeader("H"))
        );
    }
}
