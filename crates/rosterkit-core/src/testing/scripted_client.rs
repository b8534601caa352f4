//! A scripted, recording [`HttpClient`]: replies by request, records what was sent.

use std::{collections::VecDeque, sync::Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

use crate::{HttpClient, TransportError, TransportErrorKind};

/// An [`HttpClient`] that answers from a script and records every request, for testing an
/// adapter's client code (retries, reconciliation reads, headers and bodies) with no server.
///
/// Each scripted reply answers one request with the given method and path (the URI's
/// percent-encoded path, query ignored), in the order scripted; a request nothing answers
/// fails with [`TransportErrorKind::Refused`] naming it, which the executor does not retry.
///
/// ```
/// use std::sync::Arc;
/// use rosterkit_core::{
///     Attempt, Bytes, Error, Executor, Operation, RouteName, http, testing::ScriptedClient,
/// };
///
/// // A toy operation: GET /ping, 200 → "pong".
/// struct Ping;
/// impl Operation for Ping {
///     type Output = String;
///     fn route(&self) -> RouteName { RouteName::new("toy", "ping") }
///     fn idempotent(&self) -> bool { true }
///     fn build(&self, _: &Attempt) -> Result<http::Request<Bytes>, Error> {
///         Ok(http::Request::get("https://api.example.com/ping").body(Bytes::new()).unwrap())
///     }
///     fn parse(&self, r: http::Response<Bytes>, _: &Attempt) -> Result<String, Error> {
///         Ok(String::from_utf8_lossy(r.body()).into_owned())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let http = Arc::new(ScriptedClient::new().reply("GET", "/ping", 200, "pong"));
/// let executor = Executor::new(http.clone());
/// assert_eq!(executor.execute(&Ping).await?, "pong");
/// let sent = http.sent();
/// assert_eq!(sent.len(), 1);
/// assert_eq!(sent[0].uri.to_string(), "https://api.example.com/ping");
/// assert_eq!(http.unused(), 0, "every scripted reply was used");
/// // Nothing is scripted any more: refused, not retried.
/// assert!(executor.execute(&Ping).await.is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Default)]
pub struct ScriptedClient {
    script: Mutex<VecDeque<Step>>,
    sent: Mutex<Vec<SentRequest>>,
}

#[derive(Debug)]
struct Step {
    method: Method,
    path: String,
    reply: Reply,
}

#[derive(Debug)]
enum Reply {
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    Fail(TransportErrorKind),
}

/// One request the client was asked to send.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SentRequest {
    /// The method.
    pub method: Method,
    /// The full URI.
    pub uri: Uri,
    /// The headers (an `Authorization` value is kept as sent: assert on it, don't print it).
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Bytes,
}

impl SentRequest {
    /// The URI's path, still percent-encoded.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A header's value as text, when present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl ScriptedClient {
    /// A client with an empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers the next `method` request to `path` with `status` and `body`.
    ///
    /// # Panics
    /// When `method` is not a valid method or `status` not a valid status (a test mistake).
    #[must_use]
    #[allow(clippy::panic)] // A script that cannot be built is a mistake in the test.
    pub fn reply(self, method: &str, path: &str, status: u16, body: impl Into<Bytes>) -> Self {
        let response = http::Response::builder()
            .status(status)
            .body(body.into())
            .unwrap_or_else(|e| panic!("scripted reply: {e}"));
        self.reply_with(method, path, response)
    }

    /// Answers the next `method` request to `path` with `response` (to script headers such as
    /// `Retry-After`).
    ///
    /// # Panics
    /// When `method` is not a valid method (a test mistake).
    #[must_use]
    pub fn reply_with(self, method: &str, path: &str, response: http::Response<Bytes>) -> Self {
        let (parts, body) = response.into_parts();
        self.push(
            method,
            path,
            Reply::Response {
                status: parts.status,
                headers: parts.headers,
                body,
            },
        )
    }

    /// Fails the next `method` request to `path` with a transport error of `kind` (a dropped
    /// connection is [`TransportErrorKind::Io`], a timeout [`TransportErrorKind::Timeout`]).
    ///
    /// # Panics
    /// When `method` is not a valid method (a test mistake).
    #[must_use]
    pub fn fail(self, method: &str, path: &str, kind: TransportErrorKind) -> Self {
        self.push(method, path, Reply::Fail(kind))
    }

    #[allow(clippy::panic)] // A script that cannot be built is a mistake in the test.
    fn push(self, method: &str, path: &str, reply: Reply) -> Self {
        let method = Method::from_bytes(method.as_bytes())
            .unwrap_or_else(|e| panic!("scripted method {method:?}: {e}"));
        lock(&self.script).push_back(Step {
            method,
            path: path.to_owned(),
            reply,
        });
        self
    }

    /// Every request sent so far, in order.
    pub fn sent(&self) -> Vec<SentRequest> {
        lock(&self.sent).clone()
    }

    /// How many scripted replies have not been used.
    pub fn unused(&self) -> usize {
        lock(&self.script).len()
    }
}

#[async_trait]
impl HttpClient for ScriptedClient {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let (parts, body) = request.into_parts();
        let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
        lock(&self.sent).push(SentRequest {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        });
        let step = {
            let mut script = lock(&self.script);
            script
                .iter()
                .position(|s| s.method == method && s.path == path)
                .and_then(|i| script.remove(i))
        };
        match step.map(|s| s.reply) {
            Some(Reply::Response {
                status,
                headers,
                body,
            }) => {
                let mut response = http::Response::new(body);
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                Ok(response)
            }
            Some(Reply::Fail(kind)) => Err(TransportError::new(kind, "scripted failure")),
            None => Err(TransportError::new(
                TransportErrorKind::Refused,
                format!("no scripted reply for {method} {path}"),
            )),
        }
    }
}

/// The lock, even if a panicking test poisoned it: the data is still what was recorded.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
