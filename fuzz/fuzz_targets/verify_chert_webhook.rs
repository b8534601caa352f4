//! `rosterkit_sign::chert::verify_webhook` on arbitrary (or missing) headers and bodies, and
//! the round trip of a delivery signed with either secret of a rotation.
#![no_main]

use libfuzzer_sys::{arbitrary::Unstructured, fuzz_target};
use rosterkit_sign::{VerifyError, chert};

const SECRETS: [&[u8]; 2] = [
    b"whsec_chert_current_0123456789",
    b"whsec_chert_next_9876543210",
];

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let modern: Option<&str> = u.arbitrary().unwrap_or_default();
    let legacy: Option<&str> = u.arbitrary().unwrap_or_default();
    let now: u64 = u.arbitrary().unwrap_or_default();
    let ts: u64 = u.arbitrary().unwrap_or_default();
    let body = u.take_rest();
    let tolerance = chert::DEFAULT_TOLERANCE;

    match chert::verify_webhook(modern, legacy, body, &SECRETS, now, tolerance) {
        Ok(signed) => assert!(signed.abs_diff(now) <= tolerance.as_secs()),
        Err(VerifyError::MissingHeader(_)) => {
            let blank = |h: Option<&str>| h.is_none_or(|v| v.trim().is_empty());
            assert!(blank(modern) && blank(legacy));
        }
        Err(_) => {}
    }

    for secret in SECRETS {
        let header = chert::sign_webhook(secret, ts, body);
        let verdict = chert::verify_webhook(Some(&header), None, body, &SECRETS, now, tolerance);
        if ts.abs_diff(now) <= tolerance.as_secs() {
            assert_eq!(verdict, Ok(ts));
        } else {
            assert!(
                matches!(verdict, Err(VerifyError::Stale { .. })),
                "{verdict:?}"
            );
        }
        // The legacy header form, alone, verifies the same way.
        let legacy = chert::sign(secret, ts, body);
        assert_eq!(
            chert::verify_webhook(None, Some(&legacy), body, &SECRETS, ts, tolerance),
            Ok(ts)
        );
    }
    assert_eq!(
        chert::verify_webhook(None, None, body, &SECRETS, now, tolerance),
        Err(VerifyError::MissingHeader("X-Webhook-Signature"))
    );
});
