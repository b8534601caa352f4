//! Linq webhook deliveries: `participant.*` events POSTed to subscriptions, signed as Linq
//! signs them, retried as Linq retries them.
//!
//! The sender is a minimal HTTP/1.1 client over a TCP stream (`http://` targets only, one
//! request per connection): enough for a local receiver under test, and no extra dependency.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

use super::{LinqEmulator, LinqHandle, Subscription, new_uuid, rfc3339};
use crate::signing;
use crate::sync::lock;

/// An `X-Webhook-Signature` value: bare lowercase hex of HMAC-SHA256 keyed with the whole
/// signing secret (prefix included) over `"<X-Webhook-Timestamp>.<raw body>"` (linq.md
/// "Webhooks"), computed by the emulator's own code, not `rosterkit-sign`.
///
/// ```
/// // linq.md §8 F.
/// let body = br#"{"api_version":"v3","event_id":"7d3c8a3e-0000-4000-8000-000000000001","event_type":"participant.removed","data":{"chat_id":"550e8400-e29b-41d4-a716-446655440000","handle":"+12052499136"}}"#;
/// assert_eq!(
///     rosterkit_sandbox::linq::webhook_signature("whsec_test_0123456789", 1_700_000_000, body),
///     "8be1649b52ccd71b72f23aa07e0a96282b98fb08324384c6dd8f9280a8593e15"
/// );
/// ```
pub fn webhook_signature(secret: &str, timestamp: u64, body: &[u8]) -> String {
    let mac = signing::timestamp_dot_body(secret.as_bytes(), &timestamp.to_string(), body);
    signing::hex(&mac)
}

/// The default wait before each delivery attempt, in seconds: 10 attempts over about 24
/// minutes (Linq's current docs say 10 over ~25 min; the Feb-2026 spec says 6 over ~60 s).
pub const DEFAULT_WEBHOOK_RETRY_DELAYS: [u64; 10] = [0, 2, 4, 8, 16, 30, 60, 120, 300, 900];

/// How long a receiver has to answer, as on Linq.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// One delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinqDelivery {
    /// The subscription it was for.
    pub subscription_id: String,
    /// The event's id (the same on every attempt).
    pub event_id: String,
    /// `participant.added` or `participant.removed`.
    pub event_type: String,
    /// Where it was sent.
    pub target_url: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// The `X-Webhook-Timestamp` sent.
    pub timestamp: u64,
    /// The `X-Webhook-Signature` sent.
    pub signature: String,
    /// The exact body sent.
    pub body: String,
    /// The receiver's status, or `None` when there was no reply.
    pub status: Option<u16>,
    /// Why there was no reply (connection refused, timeout, unsupported URL).
    pub error: Option<String>,
}

/// An applied change to announce.
#[derive(Debug, Clone)]
pub(super) struct Event {
    pub(super) event_type: &'static str,
    pub(super) chat_id: String,
    pub(super) participant: LinqHandle,
    pub(super) at: String,
    pub(super) trace_id: String,
    pub(super) partner_id: String,
    pub(super) created_unix: u64,
}

#[derive(Serialize)]
struct Envelope<'a> {
    api_version: &'static str,
    webhook_version: &'a str,
    event_type: &'a str,
    event_id: &'a str,
    created_at: String,
    trace_id: &'a str,
    partner_id: &'a str,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    chat_id: &'a str,
    handle: &'a str,
    participant: &'a LinqHandle,
    #[serde(skip_serializing_if = "Option::is_none")]
    added_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed_at: Option<&'a str>,
}

/// The payload version a target URL asks for with `?version=`, else `2026-02-03`.
fn webhook_version(target_url: &str) -> &str {
    target_url
        .split_once('?')
        .and_then(|(_, query)| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix("version="))
        })
        .filter(|v| !v.is_empty())
        .unwrap_or("2026-02-03")
}

fn body(event: &Event, event_id: &str, version: &str) -> Vec<u8> {
    let added = event.event_type == "participant.added";
    let envelope = Envelope {
        api_version: "v3",
        webhook_version: version,
        event_type: event.event_type,
        event_id,
        created_at: rfc3339(event.created_unix),
        trace_id: &event.trace_id,
        partner_id: &event.partner_id,
        data: Data {
            chat_id: &event.chat_id,
            handle: &event.participant.handle,
            participant: &event.participant,
            added_at: added.then_some(event.at.as_str()),
            removed_at: (!added).then_some(event.at.as_str()),
        },
    };
    serde_json::to_vec(&envelope).unwrap_or_default()
}

/// Sends `event` to every matching subscription, each in its own task (needs a Tokio
/// runtime; without one nothing is sent).
pub(super) fn dispatch(emulator: &LinqEmulator, event: &Event) {
    let (subscriptions, delays) = {
        let state = lock(&emulator.state);
        let subscriptions: Vec<Subscription> = state
            .subscriptions
            .iter()
            .filter(|s| {
                s.seed.subscribed_events.is_empty()
                    || s.seed
                        .subscribed_events
                        .iter()
                        .any(|e| e == event.event_type)
            })
            .cloned()
            .collect();
        (subscriptions, state.retry_delays.clone())
    };
    if subscriptions.is_empty() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("linq webhook not sent: no Tokio runtime");
        return;
    };
    for subscription in subscriptions {
        let emulator = emulator.clone();
        let event = event.clone();
        let delays = delays.clone();
        runtime.spawn(async move {
            deliver(&emulator, &subscription, &event, &delays).await;
        });
    }
}

async fn deliver(
    emulator: &LinqEmulator,
    subscription: &Subscription,
    event: &Event,
    delays: &[Duration],
) {
    let event_id = new_uuid();
    let target = &subscription.seed.target_url;
    let body = body(event, &event_id, webhook_version(target));
    let schedule: Vec<Duration> = if delays.is_empty() {
        vec![Duration::ZERO]
    } else {
        delays.to_vec()
    };
    for (attempt, delay) in (1u32..).zip(schedule) {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let timestamp = emulator.clock.now_unix();
        let signature = webhook_signature(&subscription.seed.signing_secret, timestamp, &body);
        let headers = [
            ("X-Webhook-Event", event.event_type.to_owned()),
            ("X-Webhook-Subscription-ID", subscription.id.clone()),
            ("X-Webhook-Timestamp", timestamp.to_string()),
            ("X-Webhook-Signature", signature.clone()),
        ];
        let result = tokio::time::timeout(RESPONSE_TIMEOUT, post(target, &headers, &body))
            .await
            .unwrap_or_else(|_| Err("timed out after 10 s".to_owned()));
        let (status, error) = match result {
            Ok(status) => (Some(status), None),
            Err(error) => (None, Some(error)),
        };
        lock(&emulator.state).deliveries.push(LinqDelivery {
            subscription_id: subscription.id.clone(),
            event_id: event_id.clone(),
            event_type: event.event_type.to_owned(),
            target_url: target.clone(),
            attempt,
            timestamp,
            signature,
            body: String::from_utf8_lossy(&body).into_owned(),
            status,
            error,
        });
        let retry = match status {
            Some(s) => s == 429 || s >= 500,
            None => true,
        };
        if !retry {
            return;
        }
    }
}

/// POSTs `body` to an `http://host[:port]/path` URL and returns the reply's status.
async fn post(url: &str, headers: &[(&str, String)], body: &[u8]) -> Result<u16, String> {
    super::check_target_url(url)?;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// webhook targets are supported by the sandbox".to_owned())?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let address = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let stream = TcpStream::connect(&address)
        .await
        .map_err(|e| format!("connect {address}: {e}"))?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: rosterkit-sandbox-linq\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    write_all(&stream, head.as_bytes()).await?;
    write_all(&stream, body).await?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 1024];
    while !reply.windows(2).any(|w| w == b"\r\n") {
        stream.readable().await.map_err(|e| e.to_string())?;
        match stream.try_read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&reply);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "no HTTP status line in the reply".to_owned())
}

/// Writes all of `bytes` (without tokio's `io-util` extension traits).
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> Result<(), String> {
    while !bytes.is_empty() {
        stream.writable().await.map_err(|e| e.to_string())?;
        match stream.try_write(bytes) {
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_the_target_url() {
        assert_eq!(webhook_version("http://h/x"), "2026-02-03");
        assert_eq!(
            webhook_version("http://h/x?version=2025-01-01"),
            "2025-01-01"
        );
        assert_eq!(
            webhook_version("http://h/x?a=1&version=2026-02-03"),
            "2026-02-03"
        );
    }
}
