//! Known-answer vectors: the worked examples of `shared/providers/{chert,linq,acs}.md` §8, plus a
//! few of our own.
//!
//! Every expected value below was recomputed independently with python3 (`hmac`, `hashlib`,
//! `base64`, `email.utils.formatdate`) before it was written here, and matched the provider notes
//! wherever they give one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rosterkit_sign::{VerifyError, acs, chert, linq};

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

mod chert_doc {
    use super::*;

    /// chert.md §8: the tenant signing secret; its 32 ASCII bytes are the key.
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const TS: u64 = 1_700_000_000;
    const NOW: u64 = 1_700_000_000;

    fn verify(header: &str, body: &[u8]) -> Result<u64, VerifyError> {
        chert::verify(header, body, &[SECRET], NOW, chert::DEFAULT_TOLERANCE)
    }

    /// §8 A (remove) and B (leave): both bodiless, canonical string `1700000000.` (11 bytes).
    /// Checked with python3: hmac.new(SECRET, b"1700000000.", sha256).hexdigest().
    #[test]
    fn a_remove_and_b_leave_sign_the_empty_body() {
        let want = "v1,1700000000,6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648";
        assert_eq!(chert::sign(SECRET, TS, b""), want);
        assert_eq!(verify(want, b""), Ok(TS));
    }

    /// §8 C: add with `{"address":"+14155551234"}` (26 bytes) and the `handle` alias body
    /// (30 bytes). Checked with python3.
    #[test]
    fn c_add_and_alias_body() {
        let body = br#"{"address":"+14155551234"}"#;
        assert_eq!(body.len(), 26);
        let want = "v1,1700000000,72565e0db38544f92a6d0d1c12198d9862498db168d402773d1eea04f429b511";
        assert_eq!(chert::sign(SECRET, TS, body), want);
        assert_eq!(verify(want, body), Ok(TS));

        let alias = br#"{"handle":"alice@example.com"}"#;
        let want = "v1,1700000000,b4f95deeb7519c302e3cc08df666185d5071db8c4da8b818d7065de44d8882ed";
        assert_eq!(chert::sign(SECRET, TS, alias), want);
        assert_eq!(verify(want, alias), Ok(TS));
    }

    /// §8 D: the signature made with the hex-*decoded* secret (16 bytes) is the wrong answer.
    /// Checked with python3: hmac.new(bytes.fromhex(SECRET), b"1700000000.", sha256).
    #[test]
    fn d_hex_decoded_key_is_rejected() {
        let wrong =
            "v1,1700000000,24f2385989b79a03d37b147a39a018c818efd7b4984014bb4158204d866fb88e";
        assert_eq!(verify(wrong, b""), Err(VerifyError::Mismatch));
    }

    /// §8 D: an authentic signature at ts 1700000301 is 301 s off a 1700000000 clock → stale;
    /// 1700000300 is still inside the window. Checked with python3.
    #[test]
    fn d_window_edges() {
        let at_301 =
            "v1,1700000301,bc5c638fc3e9ff6b11d62bc47e298caf8baefda7a08e655dd83bb562a5c539a4";
        assert_eq!(chert::sign(SECRET, 1_700_000_301, b""), at_301);
        assert_eq!(
            verify(at_301, b""),
            Err(VerifyError::Stale {
                timestamp: 1_700_000_301,
                now: NOW,
                tolerance_secs: 300
            })
        );
        let at_300 = chert::sign(SECRET, 1_700_000_300, b"");
        assert_eq!(verify(&at_300, b""), Ok(1_700_000_300));
    }

    /// §8 F: the ensure-mode retry re-signed at ts 1700000005. Checked with python3.
    #[test]
    fn f_retry_is_re_signed() {
        let want = "v1,1700000005,66a20b6c84eb23f09a34d746f7b2f522522655b1afd427f89db816b47c871548";
        assert_eq!(chert::sign(SECRET, 1_700_000_005, b""), want);
        assert_eq!(verify(want, b""), Ok(1_700_000_005));
    }

    /// §8 G: webhook with the subscription secret, body of 108 bytes, modern and legacy forms of
    /// the same signature, in either header. Checked with python3.
    #[test]
    fn g_webhook_modern_and_legacy() {
        let secret: &[u8] = b"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let body = br#"{"event":"message.received","event_id":"chert:msg:0001","data":{"chat":{"id":"ch_01HTEST","is_group":true}}}"#;
        assert_eq!(body.len(), 108);
        let hex = "b7c677be4d4067b36679ff1d6295457c6fdc9f9dbc6236d0c545ad4ff0d48fd9";
        let modern = format!("t=1700000000,v1={hex}");
        let legacy = format!("v1,1700000000,{hex}");
        assert_eq!(chert::sign_webhook(secret, TS, body), modern);
        assert_eq!(chert::sign(secret, TS, body), legacy);

        let tol = chert::DEFAULT_TOLERANCE;
        let check = |x_webhook: Option<&str>, x_chert: Option<&str>| {
            chert::verify_webhook(x_webhook, x_chert, body, &[secret], NOW, tol)
        };
        assert_eq!(check(Some(&modern), None), Ok(TS));
        assert_eq!(check(Some(&legacy), None), Ok(TS));
        assert_eq!(check(None, Some(&legacy)), Ok(TS));
        // X-Webhook-Signature wins when both are present, even if x-chert-signature is garbage.
        assert_eq!(check(Some(&modern), Some("garbage")), Ok(TS));
        // The API signing secret does not verify a webhook unless the caller configures it.
        assert_eq!(
            chert::verify_webhook(Some(&modern), None, body, &[SECRET], NOW, tol),
            Err(VerifyError::Mismatch)
        );
    }
}

mod linq_doc {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789";
    const BODY: &[u8] = br#"{"api_version":"v3","event_id":"7d3c8a3e-0000-4000-8000-000000000001","event_type":"participant.removed","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+12052499136"}}"#;
    const SIG: &str = "8be1649b52ccd71b72f23aa07e0a96282b98fb08324384c6dd8f9280a8593e15";

    fn verify(body: &[u8], now: u64) -> Result<u64, VerifyError> {
        linq::verify_webhook(
            Some("1700000000"),
            Some(SIG),
            body,
            &[SECRET],
            now,
            linq::DEFAULT_TOLERANCE,
        )
    }

    /// linq.md §8 F: key = the whole `whsec_…` string, over `1700000000.` + the 187-byte body.
    /// Checked with python3.
    #[test]
    fn f_webhook() {
        assert_eq!(BODY.len(), 187);
        assert_eq!(linq::sign_webhook(SECRET, 1_700_000_000, BODY), SIG);
        assert_eq!(verify(BODY, 1_700_000_000), Ok(1_700_000_000));
        assert_eq!(verify(BODY, 1_700_000_300), Ok(1_700_000_000));
    }

    /// §8 F: with now = 1700000301 the (authentic) delivery is stale.
    #[test]
    fn f_stale_at_301() {
        assert_eq!(
            verify(BODY, 1_700_000_301),
            Err(VerifyError::Stale {
                timestamp: 1_700_000_000,
                now: 1_700_000_301,
                tolerance_secs: 300
            })
        );
    }

    /// §8 F: one body byte changed → mismatch (the comparison itself is constant time).
    #[test]
    fn f_one_byte_changed() {
        for i in [0, 10, BODY.len() / 2, BODY.len() - 1] {
            let mut tampered = BODY.to_vec();
            if let Some(b) = tampered.get_mut(i) {
                *b ^= 0x01;
            }
            assert_eq!(
                verify(&tampered, 1_700_000_000),
                Err(VerifyError::Mismatch),
                "byte {i}"
            );
        }
    }
}

mod acs_doc {
    use super::*;

    const ACCESS_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const BODY: &[u8] = br#"{"createTokenWithScopes":["chat"]}"#;
    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const HASH: &str = "WTRvgEjjVd+bvyKw3WgXgDkU81aV8FWq+4/BE+he0+A=";
    const PREFIX: &str = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=";

    /// The decoded access key, bytes 0x00 to 0x1f (checked in `a_known_answer`).
    fn key() -> Vec<u8> {
        (0u8..32).collect()
    }

    fn verify(path: &str, host: &str, authorization: &str) -> Result<(), VerifyError> {
        acs::verify_request(
            &key(),
            "POST",
            path,
            host,
            BODY,
            Some(DATE),
            Some(HASH),
            Some(authorization),
            at(1_700_000_000),
            acs::DEFAULT_TOLERANCE,
        )
    }

    /// acs.md §8 A: decoded key, content hash (34-byte body), the 146-byte string to sign and
    /// the Authorization value. Checked with python3 (base64.b64decode, hashlib.sha256,
    /// email.utils.formatdate(1700000000, usegmt=True), hmac).
    #[test]
    fn a_known_answer() {
        assert_eq!(acs::decode_access_key(ACCESS_KEY), Ok(key()));
        assert_eq!(
            hex::encode(key()),
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        );
        assert_eq!(BODY.len(), 34);
        assert_eq!(acs::content_sha256(BODY), HASH);
        assert_eq!(
            acs::content_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );

        let signed = acs::sign_request(
            &key(),
            "post",
            "/identities?api-version=2023-10-01",
            "contoso.communication.azure.com",
            BODY,
            at(1_700_000_000),
        );
        let auth = format!("{PREFIX}qq5fDVjYhsEtJy60a6/sPnkdWlNDn+lpmt4fwq7iC+8=");
        assert_eq!(signed.x_ms_date, DATE);
        assert_eq!(signed.x_ms_content_sha256, HASH);
        assert_eq!(signed.authorization, auth);
        assert_eq!(
            verify(
                "/identities?api-version=2023-10-01",
                "contoso.communication.azure.com",
                &auth
            ),
            Ok(())
        );
    }

    /// §8 A negative: the base64 *text* used as the key gives a different signature, which the
    /// verifier (holding the decoded key) rejects. Checked with python3.
    #[test]
    fn a_base64_text_as_key_is_rejected() {
        let wrong = acs::sign_request(
            ACCESS_KEY.as_bytes(),
            "POST",
            "/identities?api-version=2023-10-01",
            "contoso.communication.azure.com",
            BODY,
            at(1_700_000_000),
        );
        let want = format!("{PREFIX}OqTO5cNmiXPeoQu2eEunFUTT3ElZ0wUrrHGxFMhmErA=");
        assert_eq!(wrong.authorization, want);
        assert_eq!(
            verify(
                "/identities?api-version=2023-10-01",
                "contoso.communication.azure.com",
                &want
            ),
            Err(VerifyError::Mismatch)
        );
    }

    /// §8 B: against the emulator the `/acs` mount prefix is part of the signed path (string to
    /// sign of 133 bytes). Checked with python3.
    #[test]
    fn b_emulator_path_is_signed() {
        let signed = acs::sign_request(
            &key(),
            "POST",
            "/acs/identities?api-version=2023-10-01",
            "127.0.0.1:8443",
            BODY,
            at(1_700_000_000),
        );
        let want = format!("{PREFIX}CoYitVPed+s+ZkB4f9wkjQptM9s1mFNBcr97jEE686A=");
        assert_eq!(signed.authorization, want);
        assert_eq!(
            verify(
                "/acs/identities?api-version=2023-10-01",
                "127.0.0.1:8443",
                &want
            ),
            Ok(())
        );
    }

    /// §8 B negative: the same request signed without the `/acs` prefix gives
    /// `vJgDbEsC…QF98=`, which the emulator (seeing `/acs/…`) must reject. Checked with python3.
    #[test]
    fn b_wrong_path_is_rejected() {
        let signed = acs::sign_request(
            &key(),
            "POST",
            "/identities?api-version=2023-10-01",
            "127.0.0.1:8443",
            BODY,
            at(1_700_000_000),
        );
        let wrong = format!("{PREFIX}vJgDbEsCLfThNUupNgQe6ThbIiB5RajVpytMXVGQF98=");
        assert_eq!(signed.authorization, wrong);
        assert_eq!(
            verify(
                "/acs/identities?api-version=2023-10-01",
                "127.0.0.1:8443",
                &wrong
            ),
            Err(VerifyError::Mismatch)
        );
    }
}

/// Vectors of our own, each computed with python3 before being written here.
mod extra {
    use super::*;

    /// A 256-byte body holding every byte value 0x00..=0xff (not UTF-8).
    #[test]
    fn chert_256_byte_binary_body() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let body: Vec<u8> = (0u8..=255).collect();
        let want = "v1,1700000000,5ed1c89d78b69a15cfd59fefe74f1090ed202fc7dc81bf66cbcb93c889ff7098";
        assert_eq!(chert::sign(secret, 1_700_000_000, &body), want);
        assert_eq!(
            chert::verify(
                want,
                &body,
                &[secret],
                1_700_000_000,
                chert::DEFAULT_TOLERANCE
            ),
            Ok(1_700_000_000)
        );
    }

    /// An empty secret is a valid HMAC key to sign with (ts 0 and an empty body sign `0.`), but
    /// a verifier refuses it (issue #16): anyone can make that signature.
    #[test]
    fn chert_empty_secret() {
        let want = "v1,0,b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3";
        assert_eq!(chert::sign(b"", 0, b""), want);
        assert_eq!(
            chert::verify(want, b"", &[b""], 0, Duration::ZERO),
            Err(rosterkit_sign::VerifyError::EmptySecret)
        );
    }

    /// The largest timestamp: `18446744073709551615.x`.
    #[test]
    fn chert_max_timestamp() {
        let want = "t=18446744073709551615,v1=78419d936db7803d3bd78ace9429a3439cb42268748c2f812f4fa071723b1650";
        let secret = b"0123456789abcdef0123456789abcdef";
        assert_eq!(chert::sign_webhook(secret, u64::MAX, b"x"), want);
        assert_eq!(
            chert::verify(want, b"x", &[secret], u64::MAX, chert::DEFAULT_TOLERANCE),
            Ok(u64::MAX)
        );
    }

    /// A UTF-8 body with 2-, 3- and 4-byte characters (29 bytes), signed as its bytes.
    #[test]
    fn linq_utf8_body() {
        let body = r#"{"text":"héllo 👋 日本"}"#.as_bytes();
        assert_eq!(body.len(), 29);
        let want = "06fbf7ad6923545a3dbecd06df6a85e487dbe287f08f57573a5607eb5e73eb71";
        assert_eq!(
            linq::sign_webhook(b"whsec_test_0123456789", 1_700_000_000, body),
            want
        );
    }

    /// A bodiless GET with a lowercase verb, an encoded path with a query, and a port.
    #[test]
    fn acs_get_with_port_and_query() {
        let key: Vec<u8> = (0u8..32).collect();
        let path =
            "/chat/threads/19%3Aabc%40thread.v2/participants?maxPageSize=2&api-version=2025-03-15";
        let signed = acs::sign_request(&key, "get", path, "127.0.0.1:8443", b"", at(1_700_000_123));
        assert_eq!(signed.x_ms_date, "Tue, 14 Nov 2023 22:15:23 GMT");
        assert_eq!(
            signed.x_ms_content_sha256,
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(
            signed.authorization,
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=AEaHNjemH871nCWLAxnP/q3RUdn1B7z/BZjz615dftI="
        );
    }

    /// SHA-256 of the 256-byte body, base64.
    #[test]
    fn acs_content_hash_of_binary_body() {
        let body: Vec<u8> = (0u8..=255).collect();
        assert_eq!(
            acs::content_sha256(&body),
            "QK/y6dLYki5Hr9RkjmlnSXFYeF+9Hahw5xECZr+USIA="
        );
    }
}
