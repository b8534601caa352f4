//! Linq webhook deliveries: verify the signature, then read `participant.added` and
//! `participant.removed` events.
//!
//! Linq signs `"<X-Webhook-Timestamp>.<raw body>"` with HMAC-SHA256 keyed with the whole
//! subscription `signing_secret` (`whsec_…` prefix included) and sends the bare lowercase hex
//! in `X-Webhook-Signature`. [`WebhookVerifier`] checks it with
//! [`rosterkit_sign::linq::verify_webhook`] (constant-time, several secrets during a rotation,
//! a 5-minute window either side of your clock) over the **raw** body bytes, never re-serialized
//! JSON, and then parses the event. Deliveries are at-least-once: deduplicate on
//! [`Event::event_id`].
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use rosterkit_linq::webhook::{EventKind, WebhookVerifier};
//!
//! let verifier = WebhookVerifier::new("whsec_test_0123456789")?;
//! let body = br#"{"api_version":"v3","event_id":"7d3c8a3e-0000-4000-8000-000000000001","event_type":"participant.removed","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+12052499136"}}"#;
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
//! let event = verifier.verify(
//!     Some("1700000000"),
//!     Some("8be1649b52ccd71b72f23aa07e0a96282b98fb08324384c6dd8f9280a8593e15"),
//!     body,
//!     now,
//! )?;
//! let EventKind::ParticipantRemoved(removed) = &event.kind else { unreachable!() };
//! assert_eq!(removed.handle.as_ref().map(|h| h.as_str()), Some("+12052499136"));
//! assert_eq!(removed.chat_id.as_deref(), Some("550e8400-e29b-41d4-a716-446655440000"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{
    fmt,
    time::{Duration, SystemTime},
};

use rosterkit_core::{Error, ErrorKind, Handle, Secret, http::HeaderMap, unix_seconds};
use rosterkit_sign::VerifyError;
use serde::Deserialize;

use crate::{PROVIDER, chat::ChatHandle, wire};

pub use rosterkit_sign::linq::DEFAULT_TOLERANCE;

/// The delivery's Unix timestamp header.
pub const TIMESTAMP_HEADER: &str = "X-Webhook-Timestamp";
/// The delivery's signature header (bare hex).
pub const SIGNATURE_HEADER: &str = "X-Webhook-Signature";
/// The event type header (also in the body's `event_type`).
pub const EVENT_HEADER: &str = "X-Webhook-Event";
/// The subscription id header.
pub const SUBSCRIPTION_HEADER: &str = "X-Webhook-Subscription-ID";

/// Verifies Linq webhook deliveries against one or more subscription signing secrets.
///
/// Its `Debug` output never shows a secret.
#[derive(Debug, Clone)]
pub struct WebhookVerifier {
    secrets: Vec<Secret>,
    tolerance: Duration,
}

impl WebhookVerifier {
    /// A verifier for one subscription's `signing_secret` (the whole `whsec_…` string), with
    /// the 5-minute window Linq recommends.
    ///
    /// # Errors
    /// `InvalidInput` for an empty secret: anyone could sign with it.
    pub fn new(signing_secret: impl Into<String>) -> Result<Self, Error> {
        Ok(Self {
            secrets: vec![non_empty(signing_secret)?],
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Also accepts `signing_secret` (during a rotation, pass the other one here).
    ///
    /// # Errors
    /// `InvalidInput` for an empty secret, as [`new`](Self::new).
    pub fn with_secret(mut self, signing_secret: impl Into<String>) -> Result<Self, Error> {
        self.secrets.push(non_empty(signing_secret)?);
        Ok(self)
    }

    /// Sets how far the delivery's timestamp may be from `now`, either way.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Verifies a delivery from its header values and raw body, then parses the event.
    ///
    /// # Errors
    /// [`WebhookError::Signature`] for a missing header, a malformed value, a signature no
    /// secret produced, or a timestamp outside the window; [`WebhookError::Decode`] for an
    /// authentic body that is not JSON.
    pub fn verify(
        &self,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        let secrets: Vec<&[u8]> = self.secrets.iter().map(|s| s.expose().as_bytes()).collect();
        rosterkit_sign::linq::verify_webhook(
            timestamp,
            signature,
            body,
            &secrets,
            unix_seconds(now),
            self.tolerance,
        )
        .map_err(WebhookError::Signature)?;
        parse_event(body)
    }

    /// Like [`verify`](Self::verify), reading `X-Webhook-Timestamp` and `X-Webhook-Signature`
    /// from `headers` (a header that is not visible ASCII counts as missing).
    ///
    /// # Errors
    /// As [`verify`](Self::verify).
    pub fn verify_headers(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Event, WebhookError> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        self.verify(get(TIMESTAMP_HEADER), get(SIGNATURE_HEADER), body, now)
    }
}

/// A signing secret, unless it is empty.
fn non_empty(signing_secret: impl Into<String>) -> Result<Secret, Error> {
    let secret = signing_secret.into();
    if secret.is_empty() {
        return Err(Error::invalid_input(
            "the webhook signing secret is empty: anyone could sign with it",
        ));
    }
    Ok(Secret::new(secret))
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookError {
    /// The signature check failed (missing header, malformed, mismatch, stale).
    Signature(VerifyError),
    /// The body is not JSON.
    Decode(String),
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signature(e) => write!(f, "linq webhook rejected: {e}"),
            Self::Decode(why) => write!(f, "linq webhook body is not JSON: {why}"),
        }
    }
}

impl std::error::Error for WebhookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Signature(e) => Some(e),
            Self::Decode(_) => None,
        }
    }
}

impl From<WebhookError> for Error {
    /// `Unauthorized` for a signature failure, `Decode` for a body that is not JSON.
    fn from(e: WebhookError) -> Self {
        let kind = match e {
            WebhookError::Signature(_) => ErrorKind::Unauthorized,
            WebhookError::Decode(_) => ErrorKind::Decode,
        };
        Error::new(kind, e.to_string())
            .with_provider(PROVIDER)
            .with_retryable(false)
            .with_ambiguous(false)
            .with_source(e)
    }
}

/// One delivery: the envelope's fields and what happened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// `"v3"`.
    pub api_version: Option<String>,
    /// The payload version (`"2025-01-01"` or `"2026-02-03"`).
    pub webhook_version: Option<String>,
    /// The event type as sent (`"participant.removed"`); empty when absent.
    pub event_type: String,
    /// The event's id: deduplicate on it (deliveries are at-least-once).
    pub event_id: Option<String>,
    /// When the event was created (RFC 3339, as sent).
    pub created_at: Option<String>,
    /// Linq's trace id (the one a queued change's reply returned, when it caused this event).
    pub trace_id: Option<String>,
    /// Your partner id.
    pub partner_id: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// `participant.added`.
    ParticipantAdded(ParticipantEvent),
    /// `participant.removed` (also for our own `/leave`, with `participant.is_me`).
    ParticipantRemoved(ParticipantEvent),
    /// Any other event type, kept as the whole delivery's JSON (never an error).
    Other(serde_json::Value),
}

/// The `data` of a `participant.added` or `participant.removed` event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParticipantEvent {
    /// The chat (a UUID).
    pub chat_id: Option<String>,
    /// Who: `participant.handle`, else the deprecated `data.handle`.
    pub handle: Option<Handle>,
    /// The participant as a full handle object, when sent (status `active` after an add,
    /// `removed` or `left` after a removal).
    pub participant: Option<ChatHandle>,
    /// `added_at` or `removed_at`.
    pub at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "wire::lenient")]
    api_version: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    webhook_version: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    event_type: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    event_id: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    created_at: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    trace_id: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    partner_id: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    data: Option<ParticipantData>,
}

#[derive(Debug, Default, Deserialize)]
struct ParticipantData {
    #[serde(default, deserialize_with = "wire::lenient")]
    chat_id: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    handle: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    participant: Option<wire::ChatHandle>,
    #[serde(default, deserialize_with = "wire::lenient")]
    added_at: Option<String>,
    #[serde(default, deserialize_with = "wire::lenient")]
    removed_at: Option<String>,
}

impl ParticipantData {
    fn into_event(self) -> ParticipantEvent {
        let participant = self.participant.and_then(ChatHandle::from_wire);
        let handle = participant
            .as_ref()
            .map(|p| p.handle.clone())
            .or_else(|| self.handle.as_deref().and_then(wire::handle));
        ParticipantEvent {
            chat_id: self.chat_id,
            handle,
            participant,
            at: self.added_at.or(self.removed_at),
        }
    }
}

/// Parses a delivery's body **without** verifying it (use [`WebhookVerifier`] for deliveries
/// from the network). Unknown event types are [`EventKind::Other`]; odd fields read as absent.
///
/// # Errors
/// [`WebhookError::Decode`] when the body is not JSON.
pub fn parse_event(body: &[u8]) -> Result<Event, WebhookError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::Decode(e.to_string()))?;
    let envelope = Envelope::deserialize(&value).unwrap_or_default();
    let event_type = envelope.event_type.unwrap_or_default();
    let data = || envelope.data.unwrap_or_default().into_event();
    let kind = match event_type.as_str() {
        "participant.added" => EventKind::ParticipantAdded(data()),
        "participant.removed" => EventKind::ParticipantRemoved(data()),
        _ => EventKind::Other(value),
    };
    Ok(Event {
        api_version: envelope.api_version,
        webhook_version: envelope.webhook_version,
        event_type,
        event_id: envelope.event_id,
        created_at: envelope.created_at,
        trace_id: envelope.trace_id,
        partner_id: envelope.partner_id,
        kind,
    })
}
