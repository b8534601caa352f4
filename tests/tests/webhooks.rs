//! Webhook verification (issue #10, item 6): during a key rotation a delivery signed with either
//! current secret is accepted; one signed with a rotated-out secret, a stale or future
//! timestamp, a tampered body, a missing signature header, or a body that was parsed and
//! serialized again (different bytes, same JSON) is rejected. Linq through its adapter's
//! `webhook` module (also on a real delivery from the sandbox emulator), Chert through
//! `rosterkit_sign::chert::verify_webhook` in both of its header forms. Every signature the
//! verifiers are fed is computed by the sandbox's own signing code, never by rosterkit-sign.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{Read, Write},
    net::TcpListener,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rosterkit::{
    ChangeOptions, ChatId, ErrorKind,
    adapter::http::{HeaderMap, HeaderName, HeaderValue},
    linq::{
        LinqClient,
        webhook::{EventKind, WebhookError, WebhookVerifier},
    },
};
use rosterkit_sandbox::Sandbox;
use rosterkit_sign::{VerifyError, chert};

/// Secrets of a rotation: `OLD` was rotated out, `CURRENT` and `NEXT` are both live.
const OLD: &str = "whsec_old_0000000000000000";
const CURRENT: &str = "whsec_current_1111111111111";
const NEXT: &str = "whsec_next_22222222222222222";

const NOW: u64 = 1_700_000_000;

/// A delivery as Linq formats it: spaces after colons and a key order serde would not keep, so
/// re-serializing it changes the bytes.
const LINQ_BODY: &str = r#"{"event_type": "participant.removed", "api_version": "v3", "event_id": "7d3c8a3e-0000-4000-8000-000000000001", "data": {"handle": "+12052499136", "chat_id": "550e8400-e29b-41d4-a716-446655440000"}}"#;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn rotating() -> WebhookVerifier {
    WebhookVerifier::new(CURRENT)
        .unwrap()
        .with_secret(NEXT)
        .unwrap()
}

/// Signatures come from the sandbox's own signing code, not from rosterkit-sign: a verifier
/// that agrees with the library it shares code with proves little.
fn linq_sig(secret: &str, ts: u64, body: &[u8]) -> String {
    rosterkit_sandbox::linq::webhook_signature(secret, ts, body)
}

/// Chert's legacy webhook form, `v1,<ts>,<hex>` (the request-signature layout).
fn chert_legacy(secret: &[u8], ts: u64, body: &[u8]) -> String {
    let secret = std::str::from_utf8(secret).unwrap();
    rosterkit_sandbox::chert::request_signature(secret, ts, body)
}

/// Chert's modern webhook form, `t=<ts>,v1=<hex>`, over the same `"<ts>.<body>"`.
fn chert_modern(secret: &[u8], ts: u64, body: &[u8]) -> String {
    let legacy = chert_legacy(secret, ts, body);
    format!("t={ts},v1={}", legacy.rsplit(',').next().unwrap())
}

fn linq_verify(ts: Option<&str>, sig: Option<&str>, body: &[u8]) -> Result<u64, WebhookError> {
    rotating().verify(ts, sig, body, at(NOW)).map(|_| 0)
}

fn reserialized(body: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    let again = serde_json::to_vec(&value).unwrap();
    assert_ne!(
        again, body,
        "re-serializing must change the bytes for this test to mean anything"
    );
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&again).unwrap(),
        value
    );
    again
}

#[test]
fn linq_accepts_either_current_secret_and_rejects_everything_else() {
    let body = LINQ_BODY.as_bytes();
    let ts = NOW - 10;
    let ts_text = ts.to_string();
    let ts_h = Some(ts_text.as_str());

    // Either secret of the rotation.
    for secret in [CURRENT, NEXT] {
        let event = rotating()
            .verify(ts_h, Some(&linq_sig(secret, ts, body)), body, at(NOW))
            .unwrap();
        let EventKind::ParticipantRemoved(removed) = event.kind else {
            panic!("{:?}", event.kind)
        };
        assert_eq!(removed.handle.unwrap().as_str(), "+12052499136");
    }
    // Each verifier alone accepts only its own secret.
    let sig_next = linq_sig(NEXT, ts, body);
    assert!(
        WebhookVerifier::new(CURRENT)
            .unwrap()
            .verify(ts_h, Some(&sig_next), body, at(NOW))
            .is_err()
    );

    let mismatch = Err(WebhookError::Signature(VerifyError::Mismatch));
    // Rotated out.
    assert_eq!(
        linq_verify(ts_h, Some(&linq_sig(OLD, ts, body)), body),
        mismatch
    );
    // Tampered: a flipped byte, the handle changed, a byte added, truncated.
    let good = linq_sig(CURRENT, ts, body);
    let mut flipped = body.to_vec();
    flipped[20] ^= 0x01;
    let other_handle = LINQ_BODY.replace("+12052499136", "+12052499137");
    let mut longer = body.to_vec();
    longer.push(b' ');
    for tampered in [
        &flipped[..],
        other_handle.as_bytes(),
        &longer,
        &body[..body.len() - 1],
    ] {
        assert_eq!(linq_verify(ts_h, Some(&good), tampered), mismatch);
    }
    // The timestamp header changed under a valid signature.
    let later = (ts + 1).to_string();
    assert_eq!(linq_verify(Some(&later), Some(&good), body), mismatch);
    // Re-serialized JSON: same value, other bytes.
    assert_eq!(
        linq_verify(ts_h, Some(&good), &reserialized(body)),
        mismatch
    );
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(body).unwrap())
            .unwrap();
    assert_eq!(linq_verify(ts_h, Some(&good), &pretty), mismatch);

    // Stale and future timestamps, properly signed, just outside the 5-minute window.
    for ts in [NOW - 301, NOW + 301] {
        let result = linq_verify(
            Some(&ts.to_string()),
            Some(&linq_sig(CURRENT, ts, body)),
            body,
        );
        assert!(
            matches!(
                result,
                Err(WebhookError::Signature(VerifyError::Stale { .. }))
            ),
            "{ts}: {result:?}"
        );
    }
    // Just inside the window.
    for ts in [NOW - 300, NOW + 300] {
        assert!(
            linq_verify(
                Some(&ts.to_string()),
                Some(&linq_sig(CURRENT, ts, body)),
                body
            )
            .is_ok()
        );
    }

    // Missing or blank headers are failures, never a skipped check.
    for (ts_h, sig, header) in [
        (ts_h, None, "X-Webhook-Signature"),
        (ts_h, Some(""), "X-Webhook-Signature"),
        (ts_h, Some("   "), "X-Webhook-Signature"),
        (None, Some(good.as_str()), "X-Webhook-Timestamp"),
        (None, None, "X-Webhook-Timestamp"),
    ] {
        assert_eq!(
            linq_verify(ts_h, sig, body),
            Err(WebhookError::Signature(VerifyError::MissingHeader(header)))
        );
    }
    // From a header map: without the signature header it fails; with it, it passes.
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-webhook-timestamp",
        HeaderValue::from_str(&ts_text).unwrap(),
    );
    let missing = rotating()
        .verify_headers(&headers, body, at(NOW))
        .unwrap_err();
    assert_eq!(
        missing,
        WebhookError::Signature(VerifyError::MissingHeader("X-Webhook-Signature"))
    );
    let err: rosterkit::Error = missing.into();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    headers.insert("x-webhook-signature", HeaderValue::from_str(&good).unwrap());
    assert!(rotating().verify_headers(&headers, body, at(NOW)).is_ok());
    // The verifier's Debug never shows a secret.
    let dbg = format!("{:?}", rotating());
    for secret in [CURRENT, NEXT] {
        assert!(!dbg.contains(secret), "{dbg}");
    }
}

#[test]
fn chert_accepts_either_current_secret_in_both_header_forms() {
    let body = br#"{"event": "message.received", "data": {"chat": {"id": "ch_01HTEST", "handles": [{"handle": "+14155551234"}]}}}"#;
    let (current, next, old) = (
        b"chert_whsec_current_0123456789".as_slice(),
        b"chert_whsec_next_9876543210".as_slice(),
        b"chert_whsec_old_5555555555".as_slice(),
    );
    let secrets = [current, next];
    let ts = NOW - 30;
    let verify = |modern: Option<&str>, legacy: Option<&str>, body: &[u8]| {
        chert::verify_webhook(
            modern,
            legacy,
            body,
            &secrets,
            NOW,
            chert::DEFAULT_TOLERANCE,
        )
    };

    // Either secret, either form, either header.
    for secret in secrets {
        let modern = chert_modern(secret, ts, body);
        let legacy = chert_legacy(secret, ts, body);
        assert!(modern.starts_with("t=") && legacy.starts_with("v1,"));
        assert_eq!(verify(Some(&modern), None, body), Ok(ts));
        assert_eq!(verify(None, Some(&legacy), body), Ok(ts));
        assert_eq!(verify(Some(&legacy), None, body), Ok(ts));
    }
    // Chert's own rotation form: several `v1=` entries, one of them current.
    let old_tag = chert_modern(old, ts, body);
    let next_tag = chert_modern(next, ts, body);
    let both = format!("{old_tag},v1={}", next_tag.rsplit("v1=").next().unwrap());
    assert_eq!(verify(Some(&both), None, body), Ok(ts));

    let good = chert_modern(current, ts, body);
    // Rotated out, alone.
    assert_eq!(
        verify(Some(&old_tag), None, body),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(None, Some(&chert_legacy(old, ts, body)), body),
        Err(VerifyError::Mismatch)
    );
    // Tampered bodies.
    let mut flipped = body.to_vec();
    flipped[12] ^= 0x20;
    let other = String::from_utf8_lossy(body).replace("+14155551234", "+14155551235");
    for tampered in [&flipped[..], other.as_bytes(), &body[1..]] {
        assert_eq!(
            verify(Some(&good), None, tampered),
            Err(VerifyError::Mismatch)
        );
    }
    // Re-serialized JSON.
    assert_eq!(
        verify(Some(&good), None, &reserialized(body)),
        Err(VerifyError::Mismatch)
    );
    // Stale and future.
    for ts in [NOW - 301, NOW + 301] {
        let result = verify(Some(&chert_modern(current, ts, body)), None, body);
        assert!(
            matches!(result, Err(VerifyError::Stale { .. })),
            "{ts}: {result:?}"
        );
    }
    // Missing: neither header, or blank ones.
    for (modern, legacy) in [(None, None), (Some(""), None), (Some("  "), Some(""))] {
        assert_eq!(
            verify(modern, legacy, body),
            Err(VerifyError::MissingHeader("X-Webhook-Signature"))
        );
    }
    // A signature for another timestamp, and malformed headers.
    let shifted = good.replacen(&format!("t={ts}"), &format!("t={}", ts + 1), 1);
    assert_eq!(
        verify(Some(&shifted), None, body),
        Err(VerifyError::Mismatch)
    );
    for malformed in ["v2,1,abc", "t=1", "v1=00", "t=x,v1=00", "garbage"] {
        assert!(
            matches!(
                verify(Some(malformed), None, body),
                Err(VerifyError::Malformed(_))
            ),
            "{malformed}"
        );
    }
}

/// Reads one HTTP/1.1 request (head and `content-length` body) and answers 200.
fn receive_one(listener: &TcpListener) -> (HeaderMap, Vec<u8>) {
    let (mut stream, _) = listener.accept().unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed early");
        raw.extend_from_slice(&buf[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut headers = HeaderMap::new();
        for line in head.lines().skip(1) {
            let (name, value) = line.split_once(':').unwrap();
            headers.insert(
                HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                HeaderValue::from_str(value.trim()).unwrap(),
            );
        }
        let len: usize = headers["content-length"].to_str().unwrap().parse().unwrap();
        if raw.len() >= split + 4 + len {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .unwrap();
            return (headers, raw[split + 4..split + 4 + len].to_vec());
        }
    }
}

/// A real delivery from the sandbox's Linq emulator, signed with the new secret of a rotation.
#[tokio::test]
async fn linq_emulator_delivery_verifies_during_a_rotation() {
    let sandbox = Sandbox::start().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    sandbox.linq().add_webhook(&url, NEXT);
    let receiver = std::thread::spawn(move || receive_one(&listener));

    let info = sandbox.info().linq;
    let linq = LinqClient::builder()
        .base_url(info.base_url)
        .api_key(info.api_key)
        .build()
        .unwrap();
    let chat =
        ChatId::new(
            sandbox
                .linq()
                .create_group(&["+14155550100", "+14155550200", "+12052499136"]),
        )
        .unwrap();
    linq.remove(
        &chat,
        &"+12052499136".parse().unwrap(),
        ChangeOptions::default(),
    )
    .await
    .unwrap();
    let (headers, body) = tokio::task::spawn_blocking(move || receiver.join().unwrap())
        .await
        .unwrap();
    sandbox.shutdown().await;

    let now = SystemTime::now();
    let event = rotating().verify_headers(&headers, &body, now).unwrap();
    assert!(
        matches!(event.kind, EventKind::ParticipantRemoved(_)),
        "{:?}",
        event.kind
    );
    // Only the rotated-out secret: rejected.
    assert_eq!(
        WebhookVerifier::new(OLD)
            .unwrap()
            .verify_headers(&headers, &body, now),
        Err(WebhookError::Signature(VerifyError::Mismatch))
    );
    // The same delivery, re-serialized or tampered, or without its signature: rejected.
    let again: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut reordered = serde_json::to_vec_pretty(&again).unwrap();
    assert_ne!(reordered, body);
    assert!(
        rotating()
            .verify_headers(&headers, &reordered, now)
            .is_err()
    );
    reordered.clone_from(&body);
    let last = reordered.len() - 2;
    reordered[last] ^= 0x01;
    assert!(
        rotating()
            .verify_headers(&headers, &reordered, now)
            .is_err()
    );
    let mut unsigned = headers.clone();
    unsigned.remove("x-webhook-signature");
    assert_eq!(
        rotating().verify_headers(&unsigned, &body, now),
        Err(WebhookError::Signature(VerifyError::MissingHeader(
            "X-Webhook-Signature"
        )))
    );
    // Ten minutes later the same delivery is stale.
    assert!(matches!(
        rotating().verify_headers(&headers, &body, now + Duration::from_secs(600)),
        Err(WebhookError::Signature(VerifyError::Stale { .. }))
    ));
}
