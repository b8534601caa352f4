//! Transport safety (issue #10, item 7): plain `http://` to a non-loopback host is refused
//! unless explicitly allowed (every provider's builder, and the reqwest transport itself); an
//! ACS `nextLink` to another host is refused before anything is sent to it; a reply body over
//! the cap is refused as an error without being read whole, whether its length is declared or
//! it comes chunked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};

use rosterkit::{
    ChangeOptions, ChatId, ErrorKind, Handle, HttpClient, Membership, ReqwestClient, RetryPolicy,
    acs::{AcsClient, Pacing},
    adapter::{Bytes, TransportErrorKind, http},
    chert::ChertClient,
    linq::LinqClient,
    zapi::ZapiClient,
};
use rosterkit_sandbox::{Fault, FaultAction, Provider, Sandbox, StatusCode};

const REMOTE: &str = "http://example.com/api";
const MIB: usize = 1024 * 1024;

/// `build()` of each provider's builder with `base` and `allow_insecure_http(allow)`.
fn build_all(base: &str, allow: bool) -> Vec<(&'static str, Result<(), rosterkit::Error>)> {
    vec![
        (
            "chert",
            ChertClient::builder()
                .base_url(base)
                .tenant("acme")
                .signing_secret("0123456789abcdef0123456789abcdef")
                .allow_insecure_http(allow)
                .build()
                .map(drop),
        ),
        (
            "linq",
            LinqClient::builder()
                .base_url(base)
                .api_key("token")
                .allow_insecure_http(allow)
                .build()
                .map(drop),
        ),
        (
            "zapi",
            ZapiClient::builder()
                .base_url(base)
                .instance_id("3C01A2B3C4")
                .instance_token("TOKEN123")
                .client_token("client-token")
                .allow_insecure_http(allow)
                .build()
                .map(drop),
        ),
        (
            "acs",
            AcsClient::builder()
                .base_url(base)
                .user_token("user-token")
                .allow_insecure_http(allow)
                .build()
                .map(drop),
        ),
        (
            "acs (connection string)",
            AcsClient::builder()
                .connection_string(format!(
                    "endpoint={base}/;accesskey=AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
                ))
                .user_id("8:acs:1111_2222")
                .allow_insecure_http(allow)
                .build()
                .map(drop),
        ),
    ]
}

#[test]
fn builders_refuse_plain_http_to_remote_hosts_unless_allowed() {
    for (name, result) in build_all(REMOTE, false) {
        let err = result.expect_err(name);
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("http"),
            "{name}: the message should say why: {text}"
        );
    }
    for (name, result) in build_all(REMOTE, true) {
        assert!(result.is_ok(), "{name}: {result:?}");
    }
    // Loopback plain http (the sandbox) and https need no permission.
    for base in [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "https://example.com/api",
    ] {
        for (name, result) in build_all(base, false) {
            assert!(result.is_ok(), "{name} {base}: {result:?}");
        }
    }
}

fn get(url: &str) -> http::Request<Bytes> {
    http::Request::builder()
        .uri(url)
        .body(Bytes::new())
        .unwrap()
}

#[tokio::test]
async fn reqwest_client_refuses_plain_http_to_remote_hosts() {
    let strict = ReqwestClient::new().unwrap();
    for url in [
        "http://example.com/x",
        "http://10.0.0.1/x",
        "http://[2001:db8::1]/x",
        "ftp://127.0.0.1/x",
    ] {
        let err = strict.send(get(url)).await.unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Refused, "{url}: {err}");
        assert!(!err.request_may_have_been_sent(), "{url}");
    }
    // Loopback is fine.
    let sandbox = Sandbox::start().await.unwrap();
    let health = format!("{}/_sandbox/health", sandbox.base_url());
    let reply = strict.send(get(&health)).await.unwrap();
    assert_eq!(reply.status(), 200);
    sandbox.shutdown().await;
}

/// An adapter given an insecure-permitting endpoint but a strict transport still refuses:
/// the check is in the transport too, not only in the builder.
#[tokio::test]
async fn a_strict_transport_refuses_even_when_the_builder_allowed_http() {
    let chert = ChertClient::builder()
        .base_url(REMOTE)
        .tenant("acme")
        .signing_secret("0123456789abcdef0123456789abcdef")
        .allow_insecure_http(true)
        .http_client(Arc::new(ReqwestClient::new().unwrap()))
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let err = chert
        .leave(
            &ChatId::new("ch_01HTEST").unwrap(),
            ChangeOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("http"), "{err}");
}

#[tokio::test]
async fn acs_refuses_a_next_link_to_another_host() {
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().acs;
    let thread = ChatId::new(sandbox.acs().create_thread(&[
        "8:acs:1111_2222",
        "8:acs:1111_3333",
        "8:acs:1111_4444",
    ]))
    .unwrap();
    let acs = AcsClient::builder()
        .base_url(info.endpoint)
        .user_token(info.user_token)
        .page_size(1)
        .pacing(Pacing::off())
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    // Same origin: every page is followed.
    let all = acs.participants(&thread).await.unwrap();
    assert_eq!(all.len(), 4, "three members and the service user: {all:?}");
    let pages = sandbox.journal().entries_for(Provider::Acs).len();
    assert!(pages >= 4, "one request per page: {pages}");

    // Another origin: refused before sending, with a message saying so.
    for origin in [
        "https://attacker.example",
        "http://127.0.0.1:9",
        "https://contoso.communication.azure.com",
    ] {
        sandbox.journal().clear();
        sandbox.acs().set_foreign_next_link(Some(origin));
        let err = acs.participants(&thread).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{origin}: {err}");
        assert!(
            err.to_string().contains("nextLink to another host"),
            "{err}"
        );
        assert!(!err.is_retryable());
        let sent = sandbox.journal().entries_for(Provider::Acs);
        assert_eq!(sent.len(), 1, "only the first page was fetched: {sent:?}");
        assert!(!sent[0].path.contains("skip="), "{}", sent[0].path);
    }
    sandbox.shutdown().await;
}

fn capped() -> ReqwestClient {
    ReqwestClient::builder().body_limit(MIB).build().unwrap()
}

#[tokio::test]
async fn declared_bodies_over_the_cap_are_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let big = vec![b'x'; 2 * MIB];
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::json(StatusCode::OK, big.clone()),
        )
        .times(2),
    );
    // The transport alone.
    let url = format!("{}/chats/ch_1/leave", sandbox.info().chert.base_url);
    let err = capped().send(get(&url)).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge, "{err}");
    assert!(err.request_may_have_been_sent());

    // Through an adapter: a `Decode` error that says so, marked ambiguous (the change may have
    // been applied), after one attempt.
    let info = sandbox.info().chert;
    let chert = ChertClient::builder()
        .base_url(info.base_url)
        .tenant(info.tenant)
        .signing_secret(info.signing_secret)
        .http_client(Arc::new(capped()))
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let chat = ChatId::new(sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155550400",
    ]))
    .unwrap();
    let who: Handle = "+14155550400".parse().unwrap();
    let err = chert
        .remove_participant(&chat, &who, ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
    assert!(err.is_ambiguous());
    assert_eq!(err.attempts(), 1);
    // Within the cap the same reply size is read.
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::json(StatusCode::OK, big),
    ));
    let roomy = ReqwestClient::builder()
        .body_limit(4 * MIB)
        .build()
        .unwrap();
    let reply = roomy.send(get(&url)).await.unwrap();
    assert_eq!(reply.body().len(), 2 * MIB);
    sandbox.shutdown().await;
}

/// A raw HTTP/1.1 server that answers one request with `head` and then `body_chunks` (already
/// framed), and then holds the connection open without finishing the body until the client
/// closes it. Returns the address and a handle that yields how many body bytes it wrote.
fn stalling_server(
    head: &'static str,
    chunk: Vec<u8>,
    chunks: usize,
) -> (String, JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_head(&mut stream);
        stream.write_all(head.as_bytes()).unwrap();
        let mut written = 0;
        for _ in 0..chunks {
            if stream.write_all(&chunk).is_err() {
                return written;
            }
            written += chunk.len();
        }
        // Never finish the body: a client that reads it whole waits forever. Wait for the
        // client to close the connection instead.
        let mut buf = [0u8; 64];
        while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        written
    });
    (format!("http://{addr}/"), handle)
}

fn read_head(stream: &mut TcpStream) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 1024];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Fails the test instead of hanging if the client does read the whole (endless) body.
async fn within_a_minute<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("the client kept reading a body over the cap")
}

#[tokio::test]
async fn a_declared_length_over_the_cap_is_refused_without_reading_the_body() {
    // Content-Length says 2 MiB; only 1 KiB follows, then nothing.
    let (url, server) = stalling_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2097152\r\n\r\n",
        vec![b'x'; 1024],
        1,
    );
    let err = within_a_minute(capped().send(get(&url))).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge, "{err}");
    let written = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
    assert_eq!(written, 1024, "the server closed once the client gave up");
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_is_refused_as_soon_as_it_passes_the_cap() {
    // 64 KiB chunks, 20 of them (1.25 MiB) and then the body never ends: no length to check
    // up front, so the cap must stop the read part-way.
    let payload = vec![b'y'; 64 * 1024];
    let mut chunk = format!("{:x}\r\n", payload.len()).into_bytes();
    chunk.extend_from_slice(&payload);
    chunk.extend_from_slice(b"\r\n");
    let (url, server) = stalling_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        chunk,
        20,
    );
    let err = within_a_minute(capped().send(get(&url))).await.unwrap_err();
    assert_eq!(err.kind(), TransportErrorKind::BodyTooLarge, "{err}");
    assert!(err.to_string().contains("cap"), "{err}");
    let _ = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();

    // The same framing under the cap, finished, is read in full.
    let (url, server) = stalling_server(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\n".to_vec(),
        1,
    );
    let reply = within_a_minute(capped().send(get(&url))).await.unwrap();
    assert_eq!(reply.body().as_ref(), b"hello");
    drop(reply);
    let _ = tokio::task::spawn_blocking(move || server.join().unwrap())
        .await
        .unwrap();
}
