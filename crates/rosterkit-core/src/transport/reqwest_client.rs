//! [`HttpClient`] over reqwest with rustls.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::{DEFAULT_BODY_LIMIT, HttpClient, TransportError, TransportErrorKind, check_scheme};

/// An [`HttpClient`] over a pooled reqwest client (rustls, HTTP/1.1 and HTTP/2).
///
/// Reply bodies over the cap are refused without reading them whole: by `Content-Length` when
/// given, else as soon as the streamed body passes the cap. Plain `http://` is refused except to
/// loopback hosts unless [`ReqwestClientBuilder::allow_insecure_http`] is set.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    body_limit: usize,
    allow_insecure_http: bool,
}

/// Builds a [`ReqwestClient`].
#[derive(Debug, Clone)]
pub struct ReqwestClientBuilder {
    body_limit: usize,
    allow_insecure_http: bool,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    user_agent: String,
}

impl Default for ReqwestClientBuilder {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            allow_insecure_http: false,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            user_agent: concat!("rosterkit/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl ReqwestClientBuilder {
    /// Caps reply bodies at `bytes` (default 1 MiB).
    #[must_use]
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Allows plain `http://` to any host (default: loopback only).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sets the TCP/TLS connect timeout (default 10 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long idle pooled connections are kept (default 90 s).
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Sets the `User-Agent` (default `rosterkit/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn build(self) -> Result<ReqwestClient, TransportError> {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(false)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            .user_agent(self.user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Refused,
                    "could not build the HTTP client",
                )
                .with_source(e)
            })?;
        Ok(ReqwestClient {
            client,
            body_limit: self.body_limit,
            allow_insecure_http: self.allow_insecure_http,
        })
    }
}

impl ReqwestClient {
    /// A client with the defaults of [`ReqwestClientBuilder`].
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new() -> Result<Self, TransportError> {
        Self::builder().build()
    }

    /// A builder.
    pub fn builder() -> ReqwestClientBuilder {
        ReqwestClientBuilder::default()
    }

    /// The body cap in bytes.
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }
}

/// Maps a reqwest error. The URL is stripped first: some providers carry credentials in the
/// path (Z-API's instance token), and the error's text would otherwise print it.
fn classify(e: reqwest::Error) -> TransportError {
    let e = e.without_url();
    let kind = if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_builder() {
        TransportErrorKind::Refused
    } else {
        TransportErrorKind::Io
    };
    let message = match kind {
        TransportErrorKind::Connect => "could not connect",
        TransportErrorKind::Timeout => "no reply in time",
        TransportErrorKind::Refused => "the request could not be built",
        _ => "the connection failed before the reply was complete",
    };
    TransportError::new(kind, message).with_source(e)
}

fn too_large(limit: usize) -> TransportError {
    TransportError::new(
        TransportErrorKind::BodyTooLarge,
        format!("the reply body is over the {limit}-byte cap"),
    )
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        check_scheme(request.uri(), self.allow_insecure_http)?;
        let request = reqwest::Request::try_from(request).map_err(classify)?;
        let mut response = self.client.execute(request).await.map_err(classify)?;
        let limit = self.body_limit;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large(limit));
        }
        let mut builder = http::Response::builder()
            .status(response.status())
            .version(response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        // A declared length within the cap is enforced by hyper: read it in one go.
        if response.content_length().is_some() {
            let body = response.bytes().await.map_err(classify)?;
            return builder.body(body).map_err(assemble_error);
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > limit {
                return Err(too_large(limit));
            }
            body.extend_from_slice(&chunk);
        }
        builder.body(body.freeze()).map_err(assemble_error)
    }
}

fn assemble_error(e: http::Error) -> TransportError {
    TransportError::new(TransportErrorKind::Io, "the reply could not be assembled").with_source(e)
}
