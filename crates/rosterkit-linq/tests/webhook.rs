//! Webhook verification with known-answer vectors computed independently with Python's
//! `hmac`/`hashlib` (see the comment on each vector), and event parsing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rosterkit_core::{ErrorKind, Handle, http::HeaderMap};
use rosterkit_linq::{
    HandleStatus,
    webhook::{EventKind, WebhookError, WebhookVerifier, parse_event},
};
use rosterkit_sign::VerifyError;

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// linq.md §8 F. `hmac.new(b"whsec_test_0123456789", b"1700000000." + body, sha256).hexdigest()`
const F_SECRET: &str = "whsec_test_0123456789";
const F_BODY: &[u8] = br#"{"api_version":"v3","event_id":"7d3c8a3e-0000-4000-8000-000000000001","event_type":"participant.removed","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+12052499136"}}"#;
const F_SIG: &str = "8be1649b52ccd71b72f23aa07e0a96282b98fb08324384c6dd8f9280a8593e15";

/// The OpenAPI `participant.added` example in a full envelope (533 bytes), secret
/// `whsec_abc123def456`, timestamp 1763919600; signature by Python as above.
const ADDED_SECRET: &str = "whsec_abc123def456";
const ADDED_BODY: &[u8] = br#"{"api_version":"v3","webhook_version":"2026-02-03","event_type":"participant.added","event_id":"550e8400-e29b-41d4-a716-446655440000","created_at":"2025-11-23T17:40:00Z","trace_id":"abc123def456","partner_id":"partner_abc123","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+14155559876","participant":{"id":"550e8400-e29b-41d4-a716-446655440011","handle":"+14155559876","is_me":false,"service":"iMessage","status":"active","joined_at":"2025-11-23T17:40:00.000Z","left_at":null},"added_at":"2025-11-23T17:40:00Z"}}"#;
const ADDED_SIG: &str = "7027db330cffd0f2c458273da8908930ba36e4e7139bd1e1278893b1bb5aefea";

/// An unknown event, signed with a rotated secret `whsec_rotated_new` at 1700000100.
const OTHER_BODY: &[u8] = br#"{"event_type":"message.received","data":{"text":"hi"}}"#;
const OTHER_SIG: &str = "5d5ea806959e53a924a9bc8850602d0f6cf9791a66255a54c9a272e608a3eb43";

#[test]
fn worked_example_f_verifies_and_parses() {
    assert_eq!(F_BODY.len(), 187);
    let verifier = WebhookVerifier::new(F_SECRET).unwrap();
    let event = verifier
        .verify(Some("1700000000"), Some(F_SIG), F_BODY, at(1_700_000_000))
        .unwrap();
    assert_eq!(event.event_type, "participant.removed");
    assert_eq!(event.api_version.as_deref(), Some("v3"));
    assert_eq!(
        event.event_id.as_deref(),
        Some("7d3c8a3e-0000-4000-8000-000000000001")
    );
    let EventKind::ParticipantRemoved(removed) = event.kind else {
        panic!("{:?}", event.kind)
    };
    // No `participant`: the deprecated `handle` is the fallback.
    assert!(removed.participant.is_none());
    assert_eq!(
        removed.handle,
        Some("+12052499136".parse::<Handle>().unwrap())
    );
    assert_eq!(
        removed.chat_id.as_deref(),
        Some("550e8400-e29b-41d4-a716-446655440000")
    );
}

#[test]
fn worked_example_f_rejections() {
    let verifier = WebhookVerifier::new(F_SECRET).unwrap();
    // Five minutes and one second later: stale.
    assert!(matches!(
        verifier.verify(Some("1700000000"), Some(F_SIG), F_BODY, at(1_700_000_301)),
        Err(WebhookError::Signature(VerifyError::Stale { .. }))
    ));
    // Exactly five minutes either way is still inside the window.
    for now in [1_699_999_700, 1_700_000_300] {
        assert!(
            verifier
                .verify(Some("1700000000"), Some(F_SIG), F_BODY, at(now))
                .is_ok()
        );
    }
    // One byte of the body changed.
    let mut tampered = F_BODY.to_vec();
    let index = tampered.len() - 4;
    tampered[index] = b'7';
    assert_eq!(
        verifier.verify(
            Some("1700000000"),
            Some(F_SIG),
            &tampered,
            at(1_700_000_000)
        ),
        Err(WebhookError::Signature(VerifyError::Mismatch))
    );
    // Another timestamp, a wrong secret, a missing header, a `v1=` form.
    assert_eq!(
        verifier.verify(Some("1700000001"), Some(F_SIG), F_BODY, at(1_700_000_000)),
        Err(WebhookError::Signature(VerifyError::Mismatch))
    );
    assert_eq!(
        WebhookVerifier::new("test_0123456789").unwrap().verify(
            Some("1700000000"),
            Some(F_SIG),
            F_BODY,
            at(1_700_000_000)
        ),
        Err(WebhookError::Signature(VerifyError::Mismatch)),
        "the key is the whole whsec_ string"
    );
    assert_eq!(
        verifier.verify(None, Some(F_SIG), F_BODY, at(1_700_000_000)),
        Err(WebhookError::Signature(VerifyError::MissingHeader(
            "X-Webhook-Timestamp"
        )))
    );
    assert_eq!(
        verifier.verify(Some("1700000000"), None, F_BODY, at(1_700_000_000)),
        Err(WebhookError::Signature(VerifyError::MissingHeader(
            "X-Webhook-Signature"
        )))
    );
    assert!(matches!(
        verifier.verify(
            Some("1700000000"),
            Some(&format!("v1={F_SIG}")),
            F_BODY,
            at(1_700_000_000)
        ),
        Err(WebhookError::Signature(VerifyError::Malformed(_)))
    ));
    // Upper-case hex is the same signature.
    assert!(
        verifier
            .verify(
                Some("1700000000"),
                Some(&F_SIG.to_ascii_uppercase()),
                F_BODY,
                at(1_700_000_000)
            )
            .is_ok()
    );
    let err: rosterkit_core::Error = verifier
        .verify(Some("1700000000"), Some(F_SIG), b"{}", at(1_700_000_000))
        .unwrap_err()
        .into();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
}

#[test]
fn openapi_added_example_reads_the_participant_object() {
    assert_eq!(ADDED_BODY.len(), 533);
    let mut headers = HeaderMap::new();
    headers.insert("x-webhook-timestamp", "1763919600".parse().unwrap());
    headers.insert("x-webhook-signature", ADDED_SIG.parse().unwrap());
    headers.insert("x-webhook-event", "participant.added".parse().unwrap());
    let event = WebhookVerifier::new(ADDED_SECRET)
        .unwrap()
        .verify_headers(&headers, ADDED_BODY, at(1_763_919_660))
        .unwrap();
    assert_eq!(event.webhook_version.as_deref(), Some("2026-02-03"));
    assert_eq!(event.trace_id.as_deref(), Some("abc123def456"));
    assert_eq!(event.partner_id.as_deref(), Some("partner_abc123"));
    assert_eq!(event.created_at.as_deref(), Some("2025-11-23T17:40:00Z"));
    let EventKind::ParticipantAdded(added) = event.kind else {
        panic!("{:?}", event.kind)
    };
    let participant = added.participant.unwrap();
    assert_eq!(participant.status, HandleStatus::Active);
    assert!(!participant.is_me);
    assert_eq!(participant.left_at, None);
    assert_eq!(added.handle, Some(participant.handle));
    assert_eq!(added.at.as_deref(), Some("2025-11-23T17:40:00Z"));
}

#[test]
fn rotation_and_unknown_events() {
    let verifier = WebhookVerifier::new("whsec_rotated_old")
        .unwrap()
        .with_secret("whsec_rotated_new")
        .unwrap();
    let event = verifier
        .verify(
            Some("1700000100"),
            Some(OTHER_SIG),
            OTHER_BODY,
            at(1_700_000_000),
        )
        .unwrap();
    assert_eq!(event.event_type, "message.received");
    let EventKind::Other(raw) = event.kind else {
        panic!()
    };
    assert_eq!(raw["data"]["text"], "hi");
    assert!(!format!("{verifier:?}").contains("whsec_rotated"));
    let tight = WebhookVerifier::new("whsec_rotated_new")
        .unwrap()
        .with_tolerance(Duration::from_secs(10));
    assert!(matches!(
        tight.verify(
            Some("1700000100"),
            Some(OTHER_SIG),
            OTHER_BODY,
            at(1_700_000_000)
        ),
        Err(WebhookError::Signature(VerifyError::Stale { .. }))
    ));
}

#[test]
fn participant_handle_wins_over_the_deprecated_field() {
    let event = parse_event(
        br#"{"event_type":"participant.removed","data":{"handle":"+14155550000",
            "participant":{"handle":"Bob@Example.com","status":"left","is_me":true,"service":"iMessage"},
            "removed_at":"2025-11-23T17:45:00Z"}}"#,
    )
    .unwrap();
    let EventKind::ParticipantRemoved(removed) = event.kind else {
        panic!()
    };
    assert_eq!(removed.handle.unwrap().as_str(), "Bob@Example.com");
    let p = removed.participant.unwrap();
    assert!(p.is_me);
    assert_eq!(p.status, HandleStatus::Left);
    assert_eq!(removed.at.as_deref(), Some("2025-11-23T17:45:00Z"));
}

#[test]
fn odd_deliveries_never_fail_when_json() {
    for body in [
        &br#"{}"#[..],
        br#"[1,2]"#,
        br#"{"event_type":7}"#,
        br#"{"event_type":"participant.added","data":"nope"}"#,
        br#"{"event_type":"participant.added","data":{"participant":{"status":"x"},"handle":5}}"#,
        br#"{"event_type":"chat.created","data":{}}"#,
    ] {
        let event = parse_event(body).unwrap();
        if let EventKind::ParticipantAdded(added) = &event.kind {
            assert!(added.handle.is_none() && added.participant.is_none());
        }
    }
    assert!(matches!(
        parse_event(b"not json"),
        Err(WebhookError::Decode(_))
    ));
    // Authentic but not JSON: a decode error, after the signature passed.
    // python: hmac.new(b"whsec_test_0123456789", b"1700000000.", sha256).hexdigest()
    let empty_sig = "d4e31ce0d70fd6d14abe8159e527246a783634bb5fe72b7d4910e35957819212";
    assert!(matches!(
        WebhookVerifier::new(F_SECRET).unwrap().verify(
            Some("1700000000"),
            Some(empty_sig),
            b"",
            at(1_700_000_000)
        ),
        Err(WebhookError::Decode(_))
    ));
}

/// Issue #16: an empty signing secret is refused when the verifier is made, alone or as the
/// second secret of a rotation (anyone can sign with an empty key).
#[test]
fn empty_secrets_are_refused_at_construction() {
    let err = WebhookVerifier::new("").unwrap_err();
    assert_eq!(err.kind(), rosterkit_core::ErrorKind::InvalidInput, "{err}");
    let err = WebhookVerifier::new(F_SECRET)
        .unwrap()
        .with_secret("")
        .unwrap_err();
    assert_eq!(err.kind(), rosterkit_core::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("empty"), "{err}");
}
