//! `rosterkit_sign::linq::verify_webhook` on arbitrary (or missing) headers and bodies, and the
//! round trip of a delivery signed with either secret of a rotation.
#![no_main]

use libfuzzer_sys::{arbitrary::Unstructured, fuzz_target};
use rosterkit_sign::{VerifyError, linq};

const SECRETS: [&[u8]; 2] = [
    b"whsec_linq_current_0123456789",
    b"whsec_linq_next_9876543210",
];

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let timestamp: Option<&str> = u.arbitrary().unwrap_or_default();
    let signature: Option<&str> = u.arbitrary().unwrap_or_default();
    let now: u64 = u.arbitrary().unwrap_or_default();
    let body = u.take_rest();
    let tolerance = linq::DEFAULT_TOLERANCE;

    if let Ok(ts) = linq::verify_webhook(timestamp, signature, body, &SECRETS, now, tolerance) {
        assert!(ts.abs_diff(now) <= tolerance.as_secs());
    }

    let ts = now.saturating_sub(10);
    let ts_text = ts.to_string();
    for secret in SECRETS {
        let sig = linq::sign_webhook(secret, ts, body);
        assert_eq!(
            linq::verify_webhook(Some(&ts_text), Some(&sig), body, &SECRETS, now, tolerance),
            Ok(ts)
        );
        assert_eq!(
            linq::verify_webhook(
                Some(&ts_text),
                Some(&sig),
                body,
                &[b"rotated_out".as_slice()],
                now,
                tolerance
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            linq::verify_webhook(Some(&ts_text), None, body, &SECRETS, now, tolerance),
            Err(VerifyError::MissingHeader("X-Webhook-Signature"))
        );
        let mut tampered = body.to_vec();
        tampered.push(b'\n');
        assert_eq!(
            linq::verify_webhook(
                Some(&ts_text),
                Some(&sig),
                &tampered,
                &SECRETS,
                now,
                tolerance
            ),
            Err(VerifyError::Mismatch)
        );
    }
});
