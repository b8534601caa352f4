//! A tiny HTTP/1.1 client over a raw TCP stream: it sends exactly the bytes given (so a path
//! keeps its `%2B` or literal `+`, and a body its exact bytes) and reports a connection closed
//! without a response as an error.

#![allow(dead_code, unreachable_pub, clippy::expect_used, clippy::panic)]

use std::io;
use std::net::SocketAddr;

use rosterkit_sandbox::Sandbox;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts a Chert error envelope with this status, code and `retryable`, and that the
    /// body's `trace_id` equals `X-Trace-ID`. Returns the body.
    #[track_caller]
    pub fn assert_chert_error(&self, status: u16, code: u64, retryable: bool) -> Value {
        assert_eq!(self.status, status, "status; body: {}", self.text());
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body = self.json();
        assert_eq!(body["success"], Value::Bool(false), "{body}");
        assert_eq!(body["error"]["status"], Value::from(status), "{body}");
        assert_eq!(body["error"]["code"], Value::from(code), "{body}");
        assert_eq!(body["error"]["retryable"], Value::Bool(retryable), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        let trace = body["trace_id"].as_str().expect("trace_id");
        assert!(!trace.is_empty());
        assert_eq!(
            self.header("x-trace-id"),
            Some(trace),
            "X-Trace-ID = trace_id"
        );
        body
    }
}

/// Sends one request on a fresh connection (`connection: close`) and reads the reply.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Reply> {
    let mut stream = TcpStream::connect(addr).await?;
    // The control plane answers loopback `Host`s and JSON bodies only.
    let typed = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    let host = match (target.starts_with("/_sandbox"), body.is_empty() || typed) {
        (false, _) => "host: sandbox\r\n".to_owned(),
        (true, true) => format!("host: {addr}\r\n"),
        (true, false) => format!("host: {addr}\r\ncontent-type: application/json\r\n"),
    };
    let mut head = format!("{method} {target} HTTP/1.1\r\n{host}connection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse(&raw)
}

fn parse(raw: &[u8]) -> io::Result<Reply> {
    if raw.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed without a response",
        ));
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split])
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "non-UTF-8 head"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    })
}

/// Helpers for the Chert emulator of one sandbox.
pub struct Chert<'a> {
    pub sandbox: &'a Sandbox,
}

pub const PREFIX: &str = "/chert/api/v1";

impl<'a> Chert<'a> {
    pub fn new(sandbox: &'a Sandbox) -> Self {
        Chert { sandbox }
    }

    /// Sends with a valid signature for the default tenant, signed now.
    pub async fn signed(&self, method: &str, path: &str, body: &[u8]) -> io::Result<Reply> {
        let signature = self.sandbox.chert().sign_now(body);
        let tenant = self.sandbox.chert().tenant();
        let mut headers = vec![
            ("x-chert-tenant", tenant.as_str()),
            ("x-chert-signature", signature.as_str()),
        ];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        send(
            self.sandbox.addr(),
            method,
            &format!("{PREFIX}{path}"),
            &headers,
            body,
        )
        .await
    }

    /// Sends with `Authorization: Bearer <default secret>`.
    pub async fn bearer(&self, method: &str, path: &str, body: &[u8]) -> io::Result<Reply> {
        let auth = format!("Bearer {}", self.sandbox.chert().signing_secret());
        let mut headers = vec![("authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        send(
            self.sandbox.addr(),
            method,
            &format!("{PREFIX}{path}"),
            &headers,
            body,
        )
        .await
    }

    pub async fn remove(&self, chat: &str, raw_address: &str) -> io::Result<Reply> {
        self.signed(
            "DELETE",
            &format!("/chats/{chat}/participants/{raw_address}"),
            b"",
        )
        .await
    }

    pub async fn leave(&self, chat: &str) -> io::Result<Reply> {
        self.signed("POST", &format!("/chats/{chat}/leave"), b"")
            .await
    }

    pub async fn add(&self, chat: &str, body: &str) -> io::Result<Reply> {
        self.signed(
            "POST",
            &format!("/chats/{chat}/participants"),
            body.as_bytes(),
        )
        .await
    }
}

/// The members of a healthy four-member group (five with the line).
pub const FOUR: [&str; 4] = [
    "+14155550100",
    "+14155550200",
    "+14155550300",
    "+14155551234",
];
