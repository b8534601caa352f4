//! HTTPS (feature `tls`): the generated certificate verifies for 127.0.0.1 and localhost
//! against the CA the sandbox hands out, and absolute URLs in replies use `https`.

#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.

use std::sync::Arc;

use rosterkit_sandbox::{Sandbox, SandboxConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request over TLS to `server_name`, trusting only the sandbox's CA; returns status and
/// body.
async fn https(sandbox: &Sandbox, server_name: &str, target: &str, headers: &str) -> (u16, Value) {
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(sandbox.ca_pem().unwrap().as_bytes()).unwrap();
    roots.add(ca).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(sandbox.addr()).await.unwrap();
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let port = sandbox.addr().port();
    let request = format!(
        "GET {target} HTTP/1.1\r\nhost: {server_name}:{port}\r\n{headers}connection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    // A peer may end TLS without close_notify; what was read is enough.
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1;
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn https_with_the_generated_ca_and_https_next_links() {
    let mut config = SandboxConfig::default();
    config.tls = true;
    let sandbox = Sandbox::start_with(config).await.unwrap();
    assert!(sandbox.base_url().starts_with("https://127.0.0.1:"));
    let info = sandbox.info();
    assert!(
        info.acs.endpoint.starts_with("https://"),
        "{}",
        info.acs.endpoint
    );
    assert!(info.linq.base_url.starts_with("https://"));
    assert!(
        sandbox
            .ca_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let port = sandbox.addr().port();
    for name in ["127.0.0.1", "localhost"] {
        let (status, body) = https(&sandbox, name, "/_sandbox/health", "").await;
        assert_eq!(
            (status, body),
            (200, serde_json::json!({"ok": true})),
            "{name}"
        );
        // Absolute URLs use the scheme and host the client used.
        let (_, info) = https(&sandbox, name, "/_sandbox/info", "").await;
        assert_eq!(info["base_url"], format!("https://{name}:{port}"), "{info}");
    }

    let thread = sandbox
        .acs()
        .create_thread(&["8:acs:a_1", "8:acs:a_2", "8:acs:a_3"]);
    let token = rosterkit_sandbox::acs::DEFAULT_USER_TOKEN;
    let (status, page) = https(
        &sandbox,
        "localhost",
        &format!("/acs/chat/threads/{thread}/participants?maxPageSize=2&api-version=2025-03-15"),
        &format!("authorization: Bearer {token}\r\n"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let next = page["nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("https://localhost:{port}/acs/chat/threads/")),
        "{next}"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn plain_http_next_links_stay_http() {
    let sandbox = Sandbox::start().await.unwrap();
    assert!(sandbox.base_url().starts_with("http://"));
    assert_eq!(sandbox.ca_pem(), None);
    sandbox.shutdown().await;
}
