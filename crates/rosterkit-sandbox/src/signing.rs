//! The emulators' own HMAC-SHA256, written from the provider notes on `hmac` and `sha2`.
//!
//! Deliberately not shared with `rosterkit-sign`: an emulator that signed and verified with the
//! clients' library would mirror a signing bug instead of catching it. `cargo xtask ci` forbids
//! the dependency.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The length of an HMAC-SHA256 tag and of a SHA-256 digest.
pub(crate) const TAG_LEN: usize = 32;

/// HMAC-SHA256 under `key` of the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
    // HMAC takes keys of every length (longer ones are hashed first), so the fallback to an
    // all-zero key is never taken; it only spares an `expect`.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; TAG_LEN] {
    Sha256::digest(data).into()
}

/// HMAC-SHA256 over `"<timestamp>.<body>"`: the signed string of Chert request signatures and
/// of Chert and Linq webhooks (chert.md §1 and §6, linq.md "Webhooks"). `timestamp` is the
/// text exactly as sent; the key is the secret string's own bytes.
pub(crate) fn timestamp_dot_body(secret: &[u8], timestamp: &str, body: &[u8]) -> [u8; TAG_LEN] {
    hmac_sha256(secret, &[timestamp.as_bytes(), b".", body])
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// chert.md §8 A and C, linq.md §8 F: the known answers, computed here from the notes.
    #[test]
    fn known_answers_from_the_provider_notes() {
        let chert = b"0123456789abcdef0123456789abcdef";
        assert_eq!(
            hex(&timestamp_dot_body(chert, "1700000000", b"")),
            "6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648"
        );
        assert_eq!(
            hex(&timestamp_dot_body(
                chert,
                "1700000000",
                br#"{"address":"+14155551234"}"#
            )),
            "72565e0db38544f92a6d0d1c12198d9862498db168d402773d1eea04f429b511"
        );
        let linq_body = br#"{"api_version":"v3","event_id":"7d3c8a3e-0000-4000-8000-000000000001","event_type":"participant.removed","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+12052499136"}}"#;
        assert_eq!(
            hex(&timestamp_dot_body(
                b"whsec_test_0123456789",
                "1700000000",
                linq_body
            )),
            "8be1649b52ccd71b72f23aa07e0a96282b98fb08324384c6dd8f9280a8593e15"
        );
        // acs.md §8 A: the empty body's content hash, and the HMAC of the string to sign.
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            hex(&hmac_sha256(
                &key,
                &[b"POST\n/identities?api-version=2023-10-01\nTue, 14 Nov 2023 22:13:20 GMT;contoso.communication.azure.com;WTRvgEjjVd+bvyKw3WgXgDkU81aV8FWq+4/BE+he0+A="]
            )),
            "aaae5f0d58d886c12d272eb46bafec3e791d5a53439fe9699ade1fc2aee20bef"
        );
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
