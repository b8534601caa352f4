//! [`HttpClient`] over reqwest with rustls.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::{DEFAULT_BODY_LIMIT, HttpClient, TransportError, TransportErrorKind, check_scheme};

/// An [`HttpClient`] over a pooled reqwest client (rustls, HTTP/1.1 and HTTP/2).
///
/// These rules hold whichever `reqwest::Client` carries the requests, yours included
/// ([`ReqwestClient::from_client`]):
///
/// - **Scheme**: plain `http://` is refused except to loopback hosts unless
///   [`ReqwestClientBuilder::allow_insecure_http`] is set.
/// - **No proxy for plain `http://`**: those requests go through a client of rosterkit's own
///   built without any proxy, so a request in clear text (its credentials included) never
///   reaches a proxy, whatever `HTTP_PROXY` / `ALL_PROXY` say. `https://` requests honour the
///   proxy environment the way reqwest does: `HTTPS_PROXY` (or `https_proxy`), else `ALL_PROXY`
///   (or `all_proxy`), except hosts listed in `NO_PROXY`; `HTTP_PROXY` is never used for them.
///   A client you bring uses the proxies you configured on it.
/// - **Body cap**: reply bodies over the cap are refused without reading them whole: by
///   `Content-Length` when given, else as soon as the streamed body passes the cap.
/// - **No redirects**: the client rosterkit builds follows none (a 3xx is the reply). Build
///   your own with `redirect(reqwest::redirect::Policy::none())` too: a reply that comes from
///   another URL than the one requested (your client followed a redirect) is refused, but by
///   then the redirected request has been sent.
///
/// Cloning is cheap: reqwest clients are reference-counted handles to one connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    /// Carries `https://`.
    client: reqwest::Client,
    /// Carries plain `http://`: built with no proxy at all.
    direct: reqwest::Client,
    /// Whether `client` is the caller's, whose redirect policy rosterkit did not set.
    foreign: bool,
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
    client: Option<reqwest::Client>,
}

impl Default for ReqwestClientBuilder {
    fn default() -> Self {
        Self {
            body_limit: DEFAULT_BODY_LIMIT,
            allow_insecure_http: false,
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            user_agent: concat!("rosterkit/", env!("CARGO_PKG_VERSION")).to_owned(),
            client: None,
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

    /// Allows plain `http://` to any host (default: loopback only). Such requests still never
    /// go through a proxy.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Sets the TCP/TLS connect timeout (default 10 s; not applied to a client you bring).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long idle pooled connections are kept (default 90 s; not applied to a client
    /// you bring).
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// Sets the `User-Agent` (default `rosterkit/<version>`; not applied to a client you bring).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Sends `https://` requests through `client` (custom CA, mTLS, proxy, a connection pool
    /// shared with the rest of your app) instead of one rosterkit builds. The rules on
    /// [`ReqwestClient`] still apply; build it with `redirect(reqwest::redirect::Policy::none())`.
    #[must_use]
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// A reqwest client with this builder's settings and no redirects.
    fn reqwest(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .tls_backend_rustls()
            .https_only(false)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            .user_agent(self.user_agent.as_str())
            .redirect(reqwest::redirect::Policy::none())
    }

    /// Builds the client.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn build(self) -> Result<ReqwestClient, TransportError> {
        let built = |builder: reqwest::ClientBuilder| {
            builder.build().map_err(|e| {
                TransportError::new(
                    TransportErrorKind::Refused,
                    "could not build the HTTP client",
                )
                .with_source(e)
            })
        };
        let direct = built(self.reqwest().no_proxy())?;
        let (client, foreign) = match self.client {
            Some(client) => (client, true),
            None => (built(self.reqwest())?, false),
        };
        Ok(ReqwestClient {
            client,
            direct,
            foreign,
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

    /// Sends `https://` requests through your own `client`, with the defaults of
    /// [`ReqwestClientBuilder`] otherwise (use [`ReqwestClientBuilder::client`] to change them).
    /// The scheme check, the body cap, the no-redirect rule and the no-proxy rule for plain
    /// `http://` still apply (see [`ReqwestClient`]).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let yours = reqwest::Client::builder()
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()?;
    /// let client = rosterkit_core::ReqwestClient::from_client(yours)?;
    /// assert_eq!(client.body_limit(), rosterkit_core::DEFAULT_BODY_LIMIT);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// When the TLS backend of the proxy-free client for plain `http://` cannot be initialised.
    pub fn from_client(client: reqwest::Client) -> Result<Self, TransportError> {
        Self::builder().client(client).build()
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
        let plain_http = request.uri().scheme_str() == Some("http");
        let request = to_reqwest(request)?;
        let response = if plain_http {
            self.direct.execute(request).await.map_err(classify)?
        } else if self.foreign {
            let sent = request.url().clone();
            let response = self.client.execute(request).await.map_err(classify)?;
            if *response.url() != sent {
                return Err(TransportError::new(
                    TransportErrorKind::Io,
                    "the HTTP client followed a redirect; build it with redirect::Policy::none()",
                ));
            }
            response
        } else {
            self.client.execute(request).await.map_err(classify)?
        };
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
    use std::{
        net::SocketAddr,
        sync::{Arc, Mutex},
    };

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A loopback HTTP/1.1 server that records the request line of every request it reads
    /// (keep-alive included) and answers with `reply(request_line)`.
    async fn recorder(reply: fn(&str) -> String) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while let Ok(n) = socket.read(&mut chunk).await {
                        if n == 0 {
                            break;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
                            buffer.drain(..end + 4);
                            let line = head.lines().next().unwrap_or_default().to_owned();
                            log.lock().unwrap().push(line.clone());
                            if socket.write_all(reply(&line).as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, seen)
    }

    fn ok(_: &str) -> String {
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_owned()
    }

    fn get(url: &str) -> http::Request<Bytes> {
        http::Request::get(url).body(Bytes::new()).unwrap()
    }

    /// Issue #16: plain `http://` never goes through a proxy, even one set on the caller's
    /// client (as `HTTP_PROXY` / `ALL_PROXY` would set it), while `https://` does use it.
    #[tokio::test]
    async fn plain_http_never_reaches_a_proxy_while_https_uses_it() {
        let (proxy, proxied) =
            recorder(|_| "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n".to_owned()).await;
        let (target, served) = recorder(ok).await;
        let yours = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(format!("http://{proxy}")).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let client = ReqwestClient::from_client(yours).unwrap();

        let reply = client
            .send(get(&format!("http://{target}/chats/1")))
            .await
            .unwrap();
        assert_eq!(reply.body().as_ref(), b"ok");
        assert_eq!(*served.lock().unwrap(), ["GET /chats/1 HTTP/1.1"]);
        assert!(proxied.lock().unwrap().is_empty(), "{proxied:?}");

        // https:// honours the client's proxy: the tunnel is asked of it (and refused here).
        let err = client
            .send(get(&format!("https://{target}/chats/1")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::Connect, "{err}");
        assert_eq!(
            *proxied.lock().unwrap(),
            [format!("CONNECT {target} HTTP/1.1")]
        );
        assert_eq!(served.lock().unwrap().len(), 1);
    }

    /// Plain `http://` follows no redirect even when the caller's client would: it goes
    /// through rosterkit's own client.
    #[tokio::test]
    async fn plain_http_follows_no_redirect_whatever_the_callers_client_does() {
        let (target, served) = recorder(|line| {
            if line.starts_with("GET /moved ") {
                "HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n".to_owned()
            } else {
                ok(line)
            }
        })
        .await;
        let follows = reqwest::Client::builder().no_proxy().build().unwrap();
        let client = ReqwestClient::builder()
            .client(follows)
            .allow_insecure_http(true)
            .build()
            .unwrap();
        // Plain http:// goes through rosterkit's own client, which follows nothing.
        let reply = client
            .send(get(&format!("http://{target}/moved")))
            .await
            .unwrap();
        assert_eq!(reply.status(), 302);
        assert_eq!(*served.lock().unwrap(), ["GET /moved HTTP/1.1"]);
    }

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
