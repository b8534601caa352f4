//! AcsClient logic against a scripted transport: replies no sane server sends (endless or
//! looping `nextLink`s, short-lived tokens), and what the client sends in response.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rosterkit_acs::{AcsClient, Pacing};
use rosterkit_core::{ChatId, ErrorKind, HttpClient, RetryPolicy, TransportError, async_trait};

/// Answers from a script (the last reply repeats) and records every request.
#[derive(Debug, Default)]
struct Scripted {
    replies: Mutex<VecDeque<(u16, String)>>,
    seen: Mutex<Vec<String>>,
}

impl Scripted {
    fn new(replies: &[(u16, &str)]) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.iter().map(|(s, b)| (*s, (*b).to_owned())).collect()),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl HttpClient for Scripted {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri()));
        let mut replies = self.replies.lock().unwrap();
        let (status, body) = if replies.len() > 1 {
            replies.pop_front().unwrap()
        } else {
            replies.front().cloned().unwrap()
        };
        Ok(http::Response::builder()
            .status(status)
            .body(Bytes::from(body))
            .unwrap())
    }
}

const ENDPOINT: &str = "https://contoso.communication.azure.com";
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn thread() -> ChatId {
    ChatId::new("19:abc@thread.v2").unwrap()
}

fn page(next: &str) -> String {
    format!(
        r#"{{"value":[{{"communicationIdentifier":{{"rawId":"8:acs:a_b"}}}}],"nextLink":"{ENDPOINT}{next}"}}"#
    )
}

fn client(transport: &Arc<Scripted>) -> AcsClient {
    AcsClient::builder()
        .base_url(ENDPOINT)
        .user_token("tok")
        .http_client(transport.clone())
        .retry_policy(RetryPolicy::no_retries())
        .pacing(Pacing::off())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_next_link_to_the_same_page_is_a_decode_error() {
    let loop_page = page("/chat/threads/x/participants?skip=1");
    let transport = Scripted::new(&[(200, &loop_page)]);
    let err = client(&transport).list(&thread()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("same page"), "{err}");
    assert_eq!(transport.seen().len(), 2);
}

#[tokio::test]
async fn listings_stop_after_max_pages() {
    let pages: Vec<String> = (1..=5)
        .map(|i| page(&format!("/chat/threads/x/participants?skip={i}")))
        .collect();
    let script: Vec<(u16, &str)> = pages.iter().map(|p| (200, p.as_str())).collect();
    let transport = Scripted::new(&script);
    let acs = AcsClient::builder()
        .base_url(ENDPOINT)
        .user_token("tok")
        .http_client(transport.clone())
        .max_pages(3)
        .build()
        .unwrap();
    let err = acs.list(&thread()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("within 3 pages"), "{err}");
    assert_eq!(transport.seen().len(), 3);
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_at_half_its_life() {
    // Minted at T0, the service says it expires 4 minutes later: less than the 5-minute margin,
    // so it is used for half its life (2 minutes), not replaced on every call.
    const T0: u64 = 1_700_000_000; // 2023-11-14T22:13:20Z
    let first = r#"{"token":"t1","expiresOn":"2023-11-14T22:17:20Z"}"#;
    let second = r#"{"token":"t2","expiresOn":"2023-11-14T23:17:20Z"}"#;
    let transport = Scripted::new(&[(200, first), (204, ""), (204, ""), (200, second), (204, "")]);
    let clock = Arc::new(MovableClock(AtomicU64::new(T0)));
    let acs = AcsClient::builder()
        .connection_string(format!("endpoint={ENDPOINT}/;accesskey={KEY}"))
        .user_id("8:acs:me_1")
        .http_client(transport.clone())
        .clock(clock.clone())
        .pacing(Pacing::off())
        .build()
        .unwrap();
    let who = rosterkit_acs::CommunicationIdentifier::from_raw_id("8:acs:a_b");
    let options = rosterkit_core::ChangeOptions::default();
    for at in [0, 100, 130] {
        clock.0.store(T0 + at, Ordering::SeqCst);
        acs.remove(&thread(), &who, options).await.unwrap();
    }
    let seen: Vec<bool> = transport
        .seen()
        .iter()
        .map(|s| s.contains(":issueAccessToken"))
        .collect();
    assert_eq!(seen, [true, false, false, true, false]);
}

/// A clock tests can move.
#[derive(Debug)]
struct MovableClock(AtomicU64);

impl rosterkit_core::Clock for MovableClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}
