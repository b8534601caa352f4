//! `rosterkit_sign::chert::verify` on arbitrary headers and bodies, and the sign → verify
//! round trip in both header forms with both secrets of a rotation.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::{arbitrary::Unstructured, fuzz_target};
use rosterkit_sign::{VerifyError, chert};

const SECRETS: [&[u8]; 2] = [
    b"0123456789abcdef0123456789abcdef",
    b"chert_next_secret_after_rotation",
];

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let header: &str = u.arbitrary().unwrap_or_default();
    let now: u64 = u.arbitrary().unwrap_or_default();
    let tolerance = Duration::from_secs(u.arbitrary::<u16>().unwrap_or(300).into());
    let body = u.take_rest();

    // Arbitrary header: no panic, and a success only inside the window.
    if let Ok(ts) = chert::verify(header, body, &SECRETS, now, tolerance) {
        assert!(ts.abs_diff(now) <= tolerance.as_secs());
    }
    let _ = chert::verify(header, body, &[], now, tolerance);

    // Round trip: either secret, either form.
    for secret in SECRETS {
        for signed in [
            chert::sign(secret, now, body),
            chert::sign_webhook(secret, now, body),
        ] {
            assert_eq!(
                chert::verify(&signed, body, &SECRETS, now, tolerance),
                Ok(now)
            );
            // A rotated-out secret alone, or a changed body, never verifies.
            assert_eq!(
                chert::verify(&signed, body, &[b"rotated_out".as_slice()], now, tolerance),
                Err(VerifyError::Mismatch)
            );
            let mut tampered = body.to_vec();
            tampered.push(b' ');
            assert_eq!(
                chert::verify(&signed, &tampered, &SECRETS, now, tolerance),
                Err(VerifyError::Mismatch)
            );
        }
    }
});
