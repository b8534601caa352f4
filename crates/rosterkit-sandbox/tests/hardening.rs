//! The sandbox against hostile local clients: web pages driving the control plane, header
//! injection through webhook targets, half-open connections, floods of large bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.

mod common;

use std::time::Duration;

use common::send;
use rosterkit_sandbox::{Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const FAULT: &[u8] = br#"{"provider":"chert","action":{"kind":"drop_connection"}}"#;

#[tokio::test]
async fn the_control_plane_refuses_what_a_web_page_can_send() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    // A "simple" cross-site POST: text/plain, or a form.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let reply = send(
            addr,
            "POST",
            "/_sandbox/faults",
            &[("content-type", content_type)],
            FAULT,
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 415, "{content_type}: {}", reply.text());
        assert!(
            reply.json()["error"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    // A foreign Origin, even with a JSON body.
    let reply = send(
        addr,
        "POST",
        "/_sandbox/faults",
        &[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ],
        FAULT,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert!(sandbox.faults().is_empty(), "nothing was injected");

    // DNS rebinding: the page's own host name in `Host`.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /_sandbox/info HTTP/1.1\r\nhost: attacker.example:8080\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");
    assert!(!raw.contains("signing_secret"), "{raw}");

    // Loopback hosts and origins are fine.
    for host in ["localhost:1234", "127.0.0.1", "[::1]:9", "app.localhost"] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /_sandbox/faults HTTP/1.1\r\nhost: {host}\r\norigin: http://localhost:3000\r\n\
             content-type: application/json; charset=utf-8\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n",
            FAULT.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        stream.write_all(FAULT).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 201"), "{host}: {raw}");
    }
    assert_eq!(sandbox.faults().len(), 4);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_webhook_target_with_control_characters_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    for target in [
        "http://127.0.0.1:9/hook\r\nX-Injected: 1",
        "http://127.0.0.1:9/a b",
        "http://127.0.0.1:9/\u{0}",
        "https://127.0.0.1:9/",
        "http:///nohost",
    ] {
        let body = serde_json::json!({ "target_url": target, "signing_secret": "whsec_x" });
        let reply = send(
            sandbox.addr(),
            "POST",
            "/_sandbox/linq/webhooks",
            &[],
            body.to_string().as_bytes(),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 400, "{target:?}: {}", reply.text());
    }
    sandbox.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn half_open_connections_are_closed_and_idle_keep_alive_is_not() {
    let sandbox = Sandbox::start().await.unwrap();
    // A keep-alive client that sent one request and then waits a long time.
    let mut idle = TcpStream::connect(sandbox.addr()).await.unwrap();
    idle.write_all(b"GET /_sandbox/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));

    // Half-open: nothing at all, and headers that never end.
    let mut silent = TcpStream::connect(sandbox.addr()).await.unwrap();
    let mut partial = TcpStream::connect(sandbox.addr()).await.unwrap();
    partial
        .write_all(b"GET /_sandbox/health HTTP/1.1\r\nhost: local")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(
        silent.read(&mut buf).await.unwrap(),
        0,
        "closed by the sandbox"
    );
    assert_eq!(
        partial.read(&mut buf).await.unwrap(),
        0,
        "closed by the sandbox"
    );
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(9)..=Duration::from_secs(11)).contains(&waited),
        "{waited:?}"
    );

    // Much later, the idle keep-alive connection still serves.
    tokio::time::sleep(Duration::from_secs(120)).await;
    idle.write_all(
        b"GET /_sandbox/health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut rest = Vec::new();
    idle.read_to_end(&mut rest).await.unwrap();
    assert!(
        rest.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&rest)
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn large_unauthenticated_bodies_stay_within_the_journal_byte_cap() {
    let mut config = SandboxConfig::default();
    config.journal_max_bytes = 3 * 1024 * 1024;
    let sandbox = Sandbox::start_with(config).await.unwrap();
    let body = vec![b'x'; 1024 * 1024];
    for _ in 0..10 {
        let reply = send(
            sandbox.addr(),
            "POST",
            "/chert/api/v1/chats/x/participants",
            &[],
            &body,
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 401, "{}", reply.text());
    }
    let journal = sandbox.journal();
    assert!(journal.bytes() <= 3 * 1024 * 1024, "{}", journal.bytes());
    assert_eq!(journal.len(), 2, "two 1 MiB entries fit in 3 MiB");
    assert_eq!(journal.max_bytes(), 3 * 1024 * 1024);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_half_open_connections_does_not_lock_out_a_client() {
    let sandbox = Sandbox::start().await.unwrap();
    // More silent connections than may wait for a first request (128) and than are served
    // at once (512).
    let mut silent = Vec::new();
    for _ in 0..600 {
        silent.push(TcpStream::connect(sandbox.addr()).await.unwrap());
    }
    // A client that sends its request at once is answered, well before any deadline.
    let reply = tokio::time::timeout(
        Duration::from_secs(5),
        send(sandbox.addr(), "GET", "/_sandbox/health", &[], b""),
    )
    .await
    .expect("answered while 600 half-open connections are open")
    .unwrap();
    assert_eq!(reply.status, 200);
    // The oldest silent connections were closed to make room.
    let mut buf = [0u8; 1];
    let first = tokio::time::timeout(Duration::from_secs(5), silent[0].read(&mut buf))
        .await
        .expect("closed by the sandbox")
        .unwrap();
    assert_eq!(first, 0);
    sandbox.shutdown().await;
}
