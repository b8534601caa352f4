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
        format!("the reply body is over the {}-byte cap", grouped(limit)),
    )
}

/// `n` with thousands separators from 7 digits on (`1,048,576`): error messages mask runs of 7
/// or more digits as phone numbers, which turned the default cap into `***8576`.
fn grouped(n: usize) -> String {
    let digits = n.to_string();
    if digits.len() < 7 {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        check_scheme(request.uri(), self.allow_insecure_http)?;
        let request = to_reqwest(request)?;
        let response = self.client.execute(request).await.map_err(classify)?;
        let limit = self.body_limit;
        if response
            .content_length()
            .is_some_and(|len| len > limit as u64)
        {
            return Err(too_large(limit));
        }
        // Status, version and headers move into the reply as they are (no builder to re-check
        // them), and the body is read frame by frame through `http_body::Body`. reqwest's own
        // `bytes()` / `chunk()` futures made this future 1,264 bytes, boxed on every request
        // (object-safe trait) past the allocator's small-size cache.
        let (parts, mut body) = http::Response::<reqwest::Body>::from(response).into_parts();
        let body = read_capped(&mut body, limit).await?;
        Ok(http::Response::from_parts(parts, body))
    }
}

/// The whole of `body`, refused as soon as it passes `limit` bytes. A body that arrives in one
/// frame (any reply with a `Content-Length` that fits, on hyper) is kept without a copy.
async fn read_capped(body: &mut reqwest::Body, limit: usize) -> Result<Bytes, TransportError> {
    use http_body::Body as _;
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)).await;
        let Some(frame) = frame else { break };
        let Ok(data) = frame.map_err(classify)?.into_data() else {
            continue; // trailers: not part of the body
        };
        let len = first.as_ref().map_or(0, Bytes::len) + rest.len();
        if len + data.len() > limit {
            return Err(too_large(limit));
        }
        match first.take() {
            None if rest.is_empty() => first = Some(data),
            None => rest.extend_from_slice(&data),
            Some(earlier) => {
                rest.reserve(earlier.len() + data.len());
                rest.extend_from_slice(&earlier);
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| rest.freeze()))
}

/// `reqwest::Request::try_from(request)`, with the URL written once into a buffer of its size
/// (reqwest's own conversion formats it through a growing `String`).
fn to_reqwest(request: http::Request<Bytes>) -> Result<reqwest::Request, TransportError> {
    use std::fmt::Write as _;
    let (parts, body) = request.into_parts();
    let uri = &parts.uri;
    let len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |p| p.as_str().len());
    let mut text = String::with_capacity(len);
    let _ = write!(text, "{uri}");
    let url = reqwest::Url::parse(&text).map_err(|e| {
        TransportError::new(TransportErrorKind::Refused, "the request URL is not valid")
            .with_source(e)
    })?;
    // The WHATWG parser reqwest uses resolves dot segments, `%2E%2E` included, which http::Uri
    // leaves alone: a path it rewrites would reach a different route from the one the
    // operation built, so it is refused rather than sent.
    if url.path() != uri.path() {
        return Err(TransportError::new(
            TransportErrorKind::Refused,
            "the request path contains a dot segment that would change the route",
        ));
    }
    let mut out = reqwest::Request::new(parts.method, url);
    *out.headers_mut() = parts.headers;
    *out.version_mut() = parts.version;
    *out.body_mut() = Some(body.into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(uri: &str) -> Result<reqwest::Request, TransportError> {
        let request = http::Request::builder()
            .uri(uri)
            .body(Bytes::new())
            .map_err(|e| TransportError::new(TransportErrorKind::Refused, e.to_string()))?;
        to_reqwest(request)
    }

    #[test]
    fn paths_the_url_parser_would_rewrite_are_refused() {
        for uri in [
            "http://127.0.0.1:1/chats/../admin",
            "http://127.0.0.1:1/chats/%2E%2E/admin",
            "http://127.0.0.1:1/chats/%2e/participants",
            "http://127.0.0.1:1/chats/./participants",
        ] {
            let err = convert(uri).map(|r| r.url().to_string());
            assert!(
                matches!(&err, Err(e) if e.kind() == TransportErrorKind::Refused),
                "{uri}: {err:?}"
            );
        }
        for uri in [
            "http://127.0.0.1:1/chats/..x/participants/%2B1415",
            "http://127.0.0.1:1/chats/a.b/participants?x=%2E%2E",
            "http://127.0.0.1:1/",
        ] {
            let request = convert(uri);
            assert!(request.is_ok(), "{uri}: {:?}", request.err());
        }
    }

    #[test]
    fn the_cap_stays_readable_in_masked_messages() {
        assert_eq!(grouped(1024), "1024");
        assert_eq!(grouped(999_999), "999999");
        assert_eq!(grouped(1_048_576), "1,048,576");
        assert_eq!(grouped(1_234_567_890), "1,234,567,890");
        let err = crate::Error::new(crate::ErrorKind::Decode, too_large(1_048_576).to_string());
        assert!(
            err.to_string().contains("over the 1,048,576-byte cap"),
            "{err}"
        );
    }
}
