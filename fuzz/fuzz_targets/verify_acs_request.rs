//! `rosterkit_sign::acs::verify_request` (the sandbox's server-side check) on arbitrary header
//! values and request parts, and the sign → verify round trip.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::{arbitrary::Unstructured, fuzz_target};
use rosterkit_sign::{VerifyError, acs};

/// The latest instant an HTTP date can show (9999-12-31T23:59:59Z).
const MAX_HTTP_DATE_SECS: u64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let key: &[u8] = u.arbitrary().unwrap_or_default();
    let method: &str = u.arbitrary().unwrap_or_default();
    let path: &str = u.arbitrary().unwrap_or_default();
    let host: &str = u.arbitrary().unwrap_or_default();
    let date: Option<&str> = u.arbitrary().unwrap_or_default();
    let hash: Option<&str> = u.arbitrary().unwrap_or_default();
    let authorization: Option<&str> = u.arbitrary().unwrap_or_default();
    let now = UNIX_EPOCH
        + Duration::from_secs(u.arbitrary::<u64>().unwrap_or_default() % MAX_HTTP_DATE_SECS);
    let body = u.take_rest();
    let tolerance = acs::DEFAULT_TOLERANCE;
    let key = if key.is_empty() { b"k".as_slice() } else { key };

    let _ = acs::verify_request(
        key,
        method,
        path,
        host,
        body,
        date,
        hash,
        authorization,
        now,
        tolerance,
    );
    let _ = acs::decode_access_key(path);

    let signed = acs::sign_request(key, method, path, host, body, now);
    let verify = |key: &[u8], body: &[u8]| {
        acs::verify_request(
            key,
            method,
            path,
            host,
            body,
            Some(&signed.x_ms_date),
            Some(&signed.x_ms_content_sha256),
            Some(&signed.authorization),
            now,
            tolerance,
        )
    };
    assert_eq!(verify(key, body), Ok(()));
    // Another key (not one with a zero byte appended: HMAC pads keys with zeros, so that
    // would be the same key).
    let mut other_key = key.to_vec();
    other_key[0] ^= 1;
    assert_eq!(verify(&other_key, body), Err(VerifyError::Mismatch));
    let mut tampered = body.to_vec();
    tampered.push(0);
    assert_eq!(
        verify(key, &tampered),
        Err(VerifyError::ContentHashMismatch)
    );
});
