//! The HTTP transport: a trait any client can implement, and a reqwest implementation.

use std::{error::Error as StdError, fmt::Debug, sync::Arc};

use async_trait::async_trait;
use bytes::Bytes;

#[cfg(feature = "reqwest")]
mod reqwest_client;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use reqwest_client::{ReqwestClient, ReqwestClientBuilder};

/// Default cap on a reply body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Sends one HTTP request and returns the whole reply. Implement it to plug in your own client;
/// rosterkit's retries, timeouts and signing live above it, in the [`crate::Executor`].
///
/// Implementations should cap reply bodies and refuse plain `http://` to non-loopback hosts
/// unless told otherwise, as [`ReqwestClient`] does.
#[async_trait]
pub trait HttpClient: Send + Sync + Debug {
    /// Sends `request`.
    ///
    /// # Errors
    /// A [`TransportError`] saying whether the request may have reached the server.
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError>;
}

/// Forwards to the shared client. Written without `#[async_trait]` so it hands back the inner
/// client's boxed future as is: an `async` body here would box (and poll through) a second
/// future on every request.
impl<T: HttpClient + ?Sized> HttpClient for Arc<T> {
    fn send<'life0, 'async_trait>(
        &'life0 self,
        request: http::Request<Bytes>,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<http::Response<Bytes>, TransportError>>
                + Send
                + 'async_trait,
        >,
    >
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (**self).send(request)
    }
}

/// Why a request got no reply.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

/// The classes of transport failure, by what they imply for a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection was made: the request was not sent.
    Connect,
    /// The request was refused before sending (bad URL, plain `http://` to a remote host).
    Refused,
    /// The connection broke after the request may have been sent.
    Io,
    /// No reply in time; the request may have been applied.
    Timeout,
    /// The reply body was larger than the cap.
    BodyTooLarge,
}

impl std::fmt::Display for TransportErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connection failed",
            Self::Refused => "request refused",
            Self::Io => "connection error",
            Self::Timeout => "timed out",
            Self::BodyTooLarge => "reply body too large",
        })
    }
}

impl TransportError {
    /// A new transport error.
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps the underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The class of failure.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Whether the server may have received (and applied) the request.
    pub fn request_may_have_been_sent(&self) -> bool {
        matches!(
            self.kind,
            TransportErrorKind::Io | TransportErrorKind::Timeout | TransportErrorKind::BodyTooLarge
        )
    }
}

/// Refuses plain `http://` to a host that is not loopback, unless `allow_insecure_http`.
///
/// # Errors
/// [`TransportErrorKind::Refused`] for a scheme other than `https`/`http`, a missing host, or
/// plain `http` to a remote host.
pub fn check_scheme(uri: &http::Uri, allow_insecure_http: bool) -> Result<(), TransportError> {
    let refused = |m: &str| Err(TransportError::new(TransportErrorKind::Refused, m));
    let Some(host) = uri.host() else {
        return refused("the URL has no host");
    };
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if allow_insecure_http || crate::endpoint::is_loopback(host) => Ok(()),
        Some("http") => refused(
            "plain http:// is allowed only to loopback hosts; use https:// or allow insecure http explicitly",
        ),
        _ => refused("only https:// (or http:// to loopback) URLs are supported"),
    }
}
