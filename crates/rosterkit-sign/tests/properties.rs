//! Property tests: sign → verify round trips, and verifiers that never panic on any input.

use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;
use rosterkit_sign::{VerifyError, acs, chert, linq};

/// Dates an HTTP date can show (1970 to 9999).
const MAX_HTTP_DATE_SECS: u64 = 253_402_300_799;

proptest! {
    #[test]
    fn chert_round_trip(
        secret in proptest::collection::vec(any::<u8>(), 1..100),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        ts in any::<u64>(),
        skew in 0u64..=300,
        ahead in any::<bool>(),
    ) {
        let now = if ahead { ts.saturating_add(skew) } else { ts.saturating_sub(skew) };
        let tol = chert::DEFAULT_TOLERANCE;
        let legacy = chert::sign(&secret, ts, &body);
        let modern = chert::sign_webhook(&secret, ts, &body);
        prop_assert_eq!(chert::verify(&legacy, &body, &[&secret], now, tol), Ok(ts));
        prop_assert_eq!(chert::verify(&modern, &body, &[b"other", &secret], now, tol), Ok(ts));
        prop_assert_eq!(chert::verify_webhook(None, Some(&legacy), &body, &[&secret], now, tol), Ok(ts));

        let mut tampered = body;
        tampered.push(0);
        prop_assert_eq!(chert::verify(&legacy, &tampered, &[&secret], now, tol), Err(VerifyError::Mismatch));
    }

    #[test]
    fn linq_round_trip(
        secret in "whsec_[A-Za-z0-9]{0,40}",
        body in proptest::collection::vec(any::<u8>(), 0..512),
        ts in any::<u64>(),
    ) {
        let sig = linq::sign_webhook(secret.as_bytes(), ts, &body);
        prop_assert_eq!(sig.len(), 64);
        let ts_text = ts.to_string();
        prop_assert_eq!(
            linq::verify_webhook(Some(&ts_text), Some(&sig), &body, &[secret.as_bytes()], ts, linq::DEFAULT_TOLERANCE),
            Ok(ts)
        );
    }

    #[test]
    fn chert_verify_never_panics(header in any::<String>(), body in proptest::collection::vec(any::<u8>(), 0..64), now in any::<u64>()) {
        let _ = chert::verify(&header, &body, &[b"k"], now, chert::DEFAULT_TOLERANCE);
        let _ = chert::verify_webhook(Some(&header), Some(&header), &body, &[b"k"], now, Duration::MAX);
    }

    /// Strings shaped like the real headers reach the deeper parsing paths more often than
    /// arbitrary text does.
    #[test]
    fn chert_verify_never_panics_on_near_misses(
        header in r"(v[0-9]|t=[0-9]{0,22}|v1=[0-9a-fA-F]{0,66}|[0-9]{0,22}|[0-9a-f]{60,66}|[ =,]){0,6}",
        now in any::<u64>(),
    ) {
        let result = chert::verify(&header, b"", &[b"k", b"j"], now, chert::DEFAULT_TOLERANCE);
        prop_assert!(!matches!(result, Err(VerifyError::MissingHeader(_) | VerifyError::NoSecrets | VerifyError::EmptySecret)));
    }

    #[test]
    fn linq_verify_never_panics(ts in any::<String>(), sig in any::<String>(), now in any::<u64>()) {
        let _ = linq::verify_webhook(Some(&ts), Some(&sig), b"{}", &[b"k"], now, linq::DEFAULT_TOLERANCE);
    }

    #[test]
    fn acs_round_trip(
        key in proptest::collection::vec(any::<u8>(), 1..64),
        method in "(get|GET|post|POST|delete|Patch)",
        path in "/[ -~]{0,80}",
        host in "[a-z0-9.-]{1,30}(:[0-9]{1,5})?",
        body in proptest::collection::vec(any::<u8>(), 0..256),
        secs in 0..=MAX_HTTP_DATE_SECS,
        nanos in 0u32..1_000_000_000,
    ) {
        let date = UNIX_EPOCH + Duration::new(secs, nanos);
        let s = acs::sign_request(&key, &method, &path, &host, &body, date);
        prop_assert_eq!(
            acs::verify_request(
                &key, &method.to_ascii_uppercase(), &path, &host, &body,
                Some(&s.x_ms_date), Some(&s.x_ms_content_sha256), Some(&s.authorization),
                date, Duration::ZERO,
            ),
            Ok(())
        );
    }

    #[test]
    fn acs_verify_never_panics(
        date in any::<String>(),
        hash in any::<String>(),
        auth in any::<String>(),
        auth_tail in "[A-Za-z0-9+/=&; -]{0,60}",
        now in any::<u64>(),
    ) {
        let now = UNIX_EPOCH.checked_add(Duration::from_secs(now)).unwrap_or(UNIX_EPOCH);
        let shaped = format!("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={auth_tail}");
        for auth in [auth.as_str(), shaped.as_str()] {
            let _ = acs::verify_request(
                b"k", "POST", "/", "h", b"",
                Some(&date), Some(&hash), Some(auth), now, acs::DEFAULT_TOLERANCE,
            );
        }
        let _ = acs::decode_access_key(&auth);
    }

    #[test]
    fn acs_sign_never_panics_on_any_date(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
        // Far-future instants may not be representable; pre-epoch ones are built by subtracting.
        let dates = [
            UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
            UNIX_EPOCH.checked_sub(Duration::new(secs, nanos)),
        ];
        for date in dates.into_iter().flatten() {
            let s = acs::sign_request(b"k", "GET", "/", "h", b"", date);
            prop_assert!(s.x_ms_date.ends_with(" GMT"));
        }
    }
}
