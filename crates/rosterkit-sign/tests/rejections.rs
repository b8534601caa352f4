//! What must be rejected, and with which error: tampered bodies, wrong lengths, non-hex, missing
//! headers, skewed clocks in both directions, key rotation, malformed headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rosterkit_sign::{VerifyError, acs, chert, linq};

const NOW: u64 = 1_700_000_000;
const OLD: &[u8] = b"old-secret-0123456789abcdef012345";
const NEW: &[u8] = b"new-secret-0123456789abcdef012345";
const BODY: &[u8] = br#"{"address":"+14155551234"}"#;

fn stale(timestamp: u64, now: u64, tolerance_secs: u64) -> Result<u64, VerifyError> {
    Err(VerifyError::Stale {
        timestamp,
        now,
        tolerance_secs,
    })
}

mod chert_rejects {
    use super::*;

    fn verify(header: &str, body: &[u8], secrets: &[&[u8]]) -> Result<u64, VerifyError> {
        chert::verify(header, body, secrets, NOW, chert::DEFAULT_TOLERANCE)
    }

    #[test]
    fn tampered_body() {
        let header = chert::sign(NEW, NOW, BODY);
        let mut tampered = BODY.to_vec();
        tampered.push(b' ');
        assert_eq!(
            verify(&header, &tampered, &[NEW]),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify(&header, b"", &[NEW]), Err(VerifyError::Mismatch));
        // The timestamp is signed too: the same tag under another ts does not verify.
        let hex = header.rsplit(',').next().unwrap();
        assert_eq!(
            verify(&format!("v1,{},{hex}", NOW + 1), BODY, &[NEW]),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn wrong_length_and_non_hex_are_malformed() {
        let header = chert::sign(NEW, NOW, BODY);
        let hex = header.rsplit(',').next().unwrap().to_owned();
        let bad_hex = Err(VerifyError::Malformed(
            "signature header: signature is not 64 hex digits",
        ));
        let candidates = [
            format!("v1,{NOW},{}", &hex[..62]),
            format!("v1,{NOW},{hex}00"),
            format!("v1,{NOW},{}", &hex[..63]),
            format!("v1,{NOW},{}x", &hex[..63]),
            format!("t={NOW},v1={}", &hex[..32]),
            format!("t={NOW},v1={}", "zz".repeat(32)),
            format!("t={NOW},v1="),
        ];
        for header in candidates {
            assert_eq!(verify(&header, BODY, &[NEW]), bad_hex, "{header}");
        }
        // 64 valid hex digits that are simply wrong: Mismatch, not Malformed.
        assert_eq!(
            verify(&format!("v1,{NOW},{}", "0".repeat(64)), BODY, &[NEW]),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn missing_webhook_headers() {
        let tol = chert::DEFAULT_TOLERANCE;
        let missing = Err(VerifyError::MissingHeader("X-Webhook-Signature"));
        assert_eq!(
            chert::verify_webhook(None, None, BODY, &[NEW], NOW, tol),
            missing
        );
        assert_eq!(
            chert::verify_webhook(Some(""), Some(" "), BODY, &[NEW], NOW, tol),
            missing
        );
    }

    #[test]
    fn skewed_clock_past_and_future() {
        let tol = chert::DEFAULT_TOLERANCE;
        let header = chert::sign(NEW, NOW, BODY);
        // The verifier's clock is behind (the request looks future-dated) or ahead.
        assert_eq!(
            chert::verify(&header, BODY, &[NEW], NOW - 300, tol),
            Ok(NOW)
        );
        assert_eq!(
            chert::verify(&header, BODY, &[NEW], NOW - 301, tol),
            stale(NOW, NOW - 301, 300)
        );
        assert_eq!(
            chert::verify(&header, BODY, &[NEW], NOW + 300, tol),
            Ok(NOW)
        );
        assert_eq!(
            chert::verify(&header, BODY, &[NEW], NOW + 301, tol),
            stale(NOW, NOW + 301, 300)
        );
        // A custom window (the vendor sample's 600 s).
        let wide = Duration::from_secs(600);
        assert_eq!(
            chert::verify(&header, BODY, &[NEW], NOW + 600, wide),
            Ok(NOW)
        );
        assert_eq!(
            chert::verify(&header, BODY, &[NEW], NOW - 601, wide),
            stale(NOW, NOW - 601, 600)
        );
        // A wrong signature is reported as Mismatch even when it is also stale.
        let forged = format!("v1,{NOW},{}", "ab".repeat(32));
        assert_eq!(
            chert::verify(&forged, BODY, &[NEW], NOW + 10_000, tol),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn rotated_secrets() {
        let by_old = chert::sign(OLD, NOW, BODY);
        let by_new = chert::sign_webhook(NEW, NOW, BODY);
        // Only the new secret configured: the old one's signature is refused.
        assert_eq!(verify(&by_old, BODY, &[NEW]), Err(VerifyError::Mismatch));
        // During the rotation either secret is accepted, in any order.
        for secrets in [[OLD, NEW], [NEW, OLD]] {
            assert_eq!(verify(&by_old, BODY, &secrets), Ok(NOW));
            assert_eq!(verify(&by_new, BODY, &secrets), Ok(NOW));
        }
        // A secret that is neither is refused.
        assert_eq!(
            verify(&chert::sign(b"intruder", NOW, BODY), BODY, &[OLD, NEW]),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify(&by_new, BODY, &[]), Err(VerifyError::NoSecrets));
    }

    /// Issue #16: anyone can sign with an empty secret, so one is refused before the header is
    /// even read, alone or in a rotation list, and even when the signature would match it.
    #[test]
    fn empty_secrets_are_refused() {
        let by_empty = chert::sign(b"", NOW, BODY);
        let by_new = chert::sign(NEW, NOW, BODY);
        for secrets in [&[b"".as_slice()][..], &[NEW, b""], &[b"", NEW]] {
            assert_eq!(
                verify(&by_empty, BODY, secrets),
                Err(VerifyError::EmptySecret)
            );
            assert_eq!(
                verify(&by_new, BODY, secrets),
                Err(VerifyError::EmptySecret)
            );
            assert_eq!(verify("", BODY, secrets), Err(VerifyError::EmptySecret));
            assert_eq!(
                chert::verify_webhook(Some(&by_empty), None, BODY, secrets, NOW, Duration::MAX),
                Err(VerifyError::EmptySecret)
            );
        }
    }

    #[test]
    fn malformed_headers() {
        let hex = "6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648";
        let cases = [
            (
                format!("v2,{NOW},{hex}"),
                "signature header: unsupported version (expected `v1`)",
            ),
            (
                format!("{NOW},{hex}"),
                "signature header: expected `v1,<ts>,<hex>` (three comma-separated parts)",
            ),
            (
                format!("v1,{hex}"),
                "signature header: expected `v1,<ts>,<hex>` (three comma-separated parts)",
            ),
            (
                "v1".to_owned(),
                "signature header: expected `v1,<ts>,<hex>` (three comma-separated parts)",
            ),
            (
                format!("v1,1700000000.5,{hex}"),
                "signature header: timestamp is not an unsigned integer",
            ),
            (
                format!("v1,now,{hex}"),
                "signature header: timestamp is not an unsigned integer",
            ),
            (
                format!("t=,v1={hex}"),
                "signature header: timestamp is not an unsigned integer",
            ),
            (format!("t={NOW}"), "signature header: no `v1=` signature"),
            (
                format!("t={NOW},v0={hex}"),
                "signature header: no `v1=` signature",
            ),
            (format!("v1={hex}"), "signature header: no `t=` timestamp"),
            ("".to_owned(), "signature header: empty"),
        ];
        for (header, reason) in cases {
            assert_eq!(
                verify(&header, b"", &[NEW]),
                Err(VerifyError::Malformed(reason)),
                "{header}"
            );
        }
    }
}

mod linq_rejects {
    use super::*;

    fn verify(
        ts: Option<&str>,
        sig: Option<&str>,
        body: &[u8],
        secrets: &[&[u8]],
        now: u64,
    ) -> Result<u64, VerifyError> {
        linq::verify_webhook(ts, sig, body, secrets, now, linq::DEFAULT_TOLERANCE)
    }

    #[test]
    fn tampered_body_and_timestamp() {
        let sig = linq::sign_webhook(NEW, NOW, BODY);
        assert_eq!(
            verify(Some("1700000000"), Some(&sig), b"{}", &[NEW], NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(Some("1700000001"), Some(&sig), BODY, &[NEW], NOW),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn wrong_length_and_non_hex_are_malformed() {
        let sig = linq::sign_webhook(NEW, NOW, BODY);
        let bad = Err(VerifyError::Malformed(
            "X-Webhook-Signature: not 64 hex digits",
        ));
        for s in [
            &sig[..62],
            &format!("{sig}ff"),
            &format!("sha256={sig}"),
            &"g".repeat(64),
        ] {
            assert_eq!(
                verify(Some("1700000000"), Some(s), BODY, &[NEW], NOW),
                bad,
                "{s}"
            );
        }
        assert_eq!(
            verify(Some("17e8"), Some(&sig), BODY, &[NEW], NOW),
            Err(VerifyError::Malformed(
                "X-Webhook-Timestamp: not an unsigned integer"
            ))
        );
    }

    #[test]
    fn missing_headers() {
        let sig = linq::sign_webhook(NEW, NOW, BODY);
        assert_eq!(
            verify(None, Some(&sig), BODY, &[NEW], NOW),
            Err(VerifyError::MissingHeader("X-Webhook-Timestamp"))
        );
        assert_eq!(
            verify(Some("1700000000"), None, BODY, &[NEW], NOW),
            Err(VerifyError::MissingHeader("X-Webhook-Signature"))
        );
    }

    #[test]
    fn skewed_clock_past_and_future() {
        let sig = linq::sign_webhook(NEW, NOW, BODY);
        let check = |now| verify(Some("1700000000"), Some(&sig), BODY, &[NEW], now);
        assert_eq!(check(NOW + 300), Ok(NOW));
        assert_eq!(check(NOW - 300), Ok(NOW));
        assert_eq!(check(NOW + 301), stale(NOW, NOW + 301, 300));
        assert_eq!(check(NOW - 301), stale(NOW, NOW - 301, 300));
    }

    #[test]
    fn rotated_secrets() {
        let by_old = linq::sign_webhook(OLD, NOW, BODY);
        let ts = Some("1700000000");
        assert_eq!(
            verify(ts, Some(&by_old), BODY, &[NEW], NOW),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(verify(ts, Some(&by_old), BODY, &[NEW, OLD], NOW), Ok(NOW));
        let by_new = linq::sign_webhook(NEW, NOW, BODY);
        assert_eq!(verify(ts, Some(&by_new), BODY, &[NEW, OLD], NOW), Ok(NOW));
        assert_eq!(
            verify(ts, Some(&by_new), BODY, &[], NOW),
            Err(VerifyError::NoSecrets)
        );
    }

    /// Issue #16: an empty secret, alone or in a rotation list, is refused.
    #[test]
    fn empty_secrets_are_refused() {
        let ts = Some("1700000000");
        let by_empty = linq::sign_webhook(b"", NOW, BODY);
        for secrets in [&[b"".as_slice()][..], &[NEW, b""]] {
            assert_eq!(
                verify(ts, Some(&by_empty), BODY, secrets, NOW),
                Err(VerifyError::EmptySecret)
            );
        }
    }
}

mod acs_rejects {
    use super::*;

    const KEY: &[u8] = &[7; 32];
    const PATH: &str = "/acs/identities?api-version=2023-10-01";
    const HOST: &str = "127.0.0.1:8443";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    struct Req<'a> {
        key: &'a [u8],
        method: &'a str,
        path: &'a str,
        host: &'a str,
        body: &'a [u8],
        date: Option<&'a str>,
        hash: Option<&'a str>,
        auth: Option<&'a str>,
        now: u64,
    }

    impl Req<'_> {
        fn check(&self) -> Result<(), VerifyError> {
            acs::verify_request(
                self.key,
                self.method,
                self.path,
                self.host,
                self.body,
                self.date,
                self.hash,
                self.auth,
                at(self.now),
                acs::DEFAULT_TOLERANCE,
            )
        }
    }

    fn signed() -> acs::SignedHeaders {
        acs::sign_request(KEY, "POST", PATH, HOST, BODY, at(NOW))
    }

    fn base(s: &acs::SignedHeaders) -> Req<'_> {
        Req {
            key: KEY,
            method: "POST",
            path: PATH,
            host: HOST,
            body: BODY,
            date: Some(&s.x_ms_date),
            hash: Some(&s.x_ms_content_sha256),
            auth: Some(&s.authorization),
            now: NOW,
        }
    }

    #[test]
    fn genuine_request_passes_with_any_verb_case() {
        let s = signed();
        assert_eq!(base(&s).check(), Ok(()));
        assert_eq!(
            Req {
                method: "post",
                ..base(&s)
            }
            .check(),
            Ok(())
        );
    }

    /// Issue #16: a request signed with an empty key is refused, not verified.
    #[test]
    fn an_empty_key_is_refused() {
        let s = acs::sign_request(b"", "POST", PATH, HOST, BODY, at(NOW));
        assert_eq!(
            Req {
                key: b"",
                ..base(&s)
            }
            .check(),
            Err(VerifyError::EmptySecret)
        );
    }

    #[test]
    fn tampered_body_is_a_content_hash_mismatch() {
        let s = signed();
        assert_eq!(
            Req {
                body: b"{}",
                ..base(&s)
            }
            .check(),
            Err(VerifyError::ContentHashMismatch)
        );
        // Replacing the hash header too breaks the signature.
        let other_hash = acs::content_sha256(b"{}");
        assert_eq!(
            Req {
                body: b"{}",
                hash: Some(&other_hash),
                ..base(&s)
            }
            .check(),
            Err(VerifyError::Mismatch)
        );
    }

    #[test]
    fn every_signed_part_matters() {
        let s = signed();
        let later = acs::sign_request(KEY, "POST", PATH, HOST, BODY, at(NOW + 1)).x_ms_date;
        let cases = [
            Req {
                key: &[8; 32],
                ..base(&s)
            },
            Req {
                method: "PUT",
                ..base(&s)
            },
            Req {
                path: "/identities?api-version=2023-10-01",
                ..base(&s)
            },
            Req {
                path: "/acs/identities?api-version=2023-10-02",
                ..base(&s)
            },
            Req {
                host: "127.0.0.1:8444",
                ..base(&s)
            },
            Req {
                host: "127.0.0.1",
                ..base(&s)
            },
            Req {
                date: Some(&later),
                ..base(&s)
            },
        ];
        for (i, req) in cases.iter().enumerate() {
            assert_eq!(req.check(), Err(VerifyError::Mismatch), "case {i}");
        }
    }

    #[test]
    fn missing_headers() {
        let s = signed();
        assert_eq!(
            Req {
                date: None,
                ..base(&s)
            }
            .check(),
            Err(VerifyError::MissingHeader("x-ms-date"))
        );
        assert_eq!(
            Req {
                hash: Some(""),
                ..base(&s)
            }
            .check(),
            Err(VerifyError::MissingHeader("x-ms-content-sha256"))
        );
        assert_eq!(
            Req {
                auth: None,
                ..base(&s)
            }
            .check(),
            Err(VerifyError::MissingHeader("Authorization"))
        );
    }

    #[test]
    fn malformed_headers() {
        let s = signed();
        assert_eq!(
            Req {
                date: Some("yesterday"),
                ..base(&s)
            }
            .check(),
            Err(VerifyError::Malformed("x-ms-date: not an HTTP date"))
        );
        assert_eq!(
            Req {
                auth: Some("Bearer abc"),
                ..base(&s)
            }
            .check(),
            Err(VerifyError::Malformed(
                "Authorization: scheme is not HMAC-SHA256"
            ))
        );
        let short = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=qq5fDVjYhsEtJy60a6/sPnkdWlNDn+lpmt4fwq7iC+=";
        assert_eq!(
            Req {
                auth: Some(short),
                ..base(&s)
            }
            .check(),
            Err(VerifyError::Malformed(
                "Authorization: Signature is not base64 of 32 bytes"
            ))
        );
    }

    #[test]
    fn skewed_clock_past_and_future() {
        let s = signed();
        let tol = acs::DEFAULT_TOLERANCE.as_secs();
        assert_eq!(tol, 900);
        assert_eq!(
            Req {
                now: NOW + tol,
                ..base(&s)
            }
            .check(),
            Ok(())
        );
        assert_eq!(
            Req {
                now: NOW - tol,
                ..base(&s)
            }
            .check(),
            Ok(())
        );
        let err = |now| {
            Err(VerifyError::Stale {
                timestamp: NOW,
                now,
                tolerance_secs: tol,
            })
        };
        assert_eq!(
            Req {
                now: NOW + tol + 1,
                ..base(&s)
            }
            .check(),
            err(NOW + tol + 1)
        );
        assert_eq!(
            Req {
                now: NOW - tol - 1,
                ..base(&s)
            }
            .check(),
            err(NOW - tol - 1)
        );
    }

    #[test]
    fn invalid_access_keys() {
        assert_eq!(
            acs::decode_access_key(""),
            Err(VerifyError::InvalidKey("empty"))
        );
        assert_eq!(
            acs::decode_access_key("  "),
            Err(VerifyError::InvalidKey("empty"))
        );
        assert_eq!(
            acs::decode_access_key("accesskey=AAEC"),
            Err(VerifyError::InvalidKey("not standard base64"))
        );
    }
}

#[test]
fn error_messages_name_the_rule() {
    let cases = [
        (
            VerifyError::MissingHeader("X-Webhook-Signature"),
            "missing header `X-Webhook-Signature`",
        ),
        (
            VerifyError::Stale {
                timestamp: 1_700_000_301,
                now: 1_700_000_000,
                tolerance_secs: 300,
            },
            "timestamp 1700000301 is 301 s away from now (1700000000), outside the allowed 300 s",
        ),
        (
            VerifyError::Mismatch,
            "signature does not match any configured secret",
        ),
        (
            VerifyError::NoSecrets,
            "no secret configured to verify against",
        ),
        (
            VerifyError::ContentHashMismatch,
            "x-ms-content-sha256 does not match the SHA-256 of the body",
        ),
        (
            VerifyError::EmptySecret,
            "an empty secret is configured: anyone could sign with it",
        ),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}
