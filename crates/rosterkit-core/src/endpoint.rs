//! Base URLs of provider APIs.

use std::{fmt, net::IpAddr, str::FromStr};

use crate::input::{ParseError, Rule};

/// A validated API base URL: absolute `https://`, or `http://` to a loopback host (or to any
/// host when explicitly allowed); no query, fragment or credentials; no trailing slash.
///
/// ```
/// use rosterkit_core::Endpoint;
/// let e = Endpoint::parse("https://console.trychert.com/api/v1/")?;
/// assert_eq!(e.url("/chats/x/leave"), "https://console.trychert.com/api/v1/chats/x/leave");
/// assert!(Endpoint::parse("http://127.0.0.1:8080/chert").is_ok());
/// assert!(Endpoint::parse("http://example.com").is_err());
/// # Ok::<(), rosterkit_core::ParseError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    base: String,
    scheme: String,
    authority: String,
    host: String,
    port: Option<u16>,
}

const WHAT: &str = "base URL";

impl Endpoint {
    /// Parses `url`, refusing plain `http://` to non-loopback hosts.
    ///
    /// # Errors
    /// [`ParseError`] saying which rule failed.
    pub fn parse(url: &str) -> Result<Self, ParseError> {
        Self::parse_with(url, false)
    }

    /// Parses `url`; `allow_insecure_http` permits plain `http://` to any host.
    ///
    /// # Errors
    /// [`ParseError`] saying which rule failed.
    pub fn parse_with(url: &str, allow_insecure_http: bool) -> Result<Self, ParseError> {
        let fail = |why| ParseError::new(WHAT, Rule::Url(why));
        crate::input::check_text(WHAT, url, 2048)?;
        if url.chars().any(char::is_whitespace) {
            return Err(ParseError::new(WHAT, Rule::Whitespace));
        }
        let trimmed = url.trim_end_matches('/');
        let uri = http::Uri::from_str(trimmed)
            .map_err(|_| fail("not a valid absolute URL (https://host/path)"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| fail("not an absolute URL: it needs https://"))?;
        let authority = uri.authority().ok_or_else(|| fail("the URL has no host"))?;
        if authority.as_str().contains('@') {
            return Err(fail("credentials in the URL are not allowed"));
        }
        if uri.query().is_some() || trimmed.contains('#') {
            return Err(fail("a base URL cannot carry a query or fragment"));
        }
        match scheme {
            "https" => {}
            "http" if allow_insecure_http || is_loopback(authority.host()) => {}
            "http" => {
                return Err(fail(
                    "plain http:// is allowed only to loopback hosts (127.0.0.1, ::1, localhost); use https://",
                ));
            }
            _ => return Err(fail("the scheme must be https (or http to loopback)")),
        }
        Ok(Self {
            base: trimmed.to_owned(),
            scheme: scheme.to_owned(),
            authority: authority.as_str().to_owned(),
            host: authority.host().to_owned(),
            port: authority.port_u16(),
        })
    }

    /// The base URL without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `host[:port]` as written.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The base followed by `path` (which should start with `/` and be already encoded).
    pub fn url(&self, path: &str) -> String {
        let mut url = String::with_capacity(self.base.len() + path.len());
        url.push_str(&self.base);
        url.push_str(path);
        url
    }

    /// The path part of the base (`/api/v1`), empty when none.
    pub fn path(&self) -> &str {
        self.base
            .get(self.scheme.len() + 3 + self.authority.len()..)
            .unwrap_or_default()
    }

    /// Whether `url` has the same scheme, host and port as this endpoint (for following
    /// provider-supplied links such as ACS `nextLink`).
    pub fn same_origin(&self, url: &str) -> bool {
        let Ok(uri) = http::Uri::from_str(url) else {
            return false;
        };
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return false;
        };
        scheme.eq_ignore_ascii_case(&self.scheme)
            && authority.host().eq_ignore_ascii_case(&self.host)
            && authority.port_u16() == self.port
    }

    /// The host name or address, without the port.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// Whether `host` is a loopback name or address (`localhost`, `127.0.0.0/8`, `[::1]`).
pub(crate) fn is_loopback(host: &str) -> bool {
    // The sandbox's own address, checked on every request: skip the address parser.
    if host == "127.0.0.1" {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.base).finish()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)
    }
}

impl FromStr for Endpoint {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_loopback() {
        for ok in [
            "https://api.z-api.io",
            "http://127.0.0.1:9000/chert/api/v1",
            "http://localhost:1/x",
            "http://[::1]:8080/acs",
            "http://127.9.9.9",
        ] {
            assert!(Endpoint::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://x.y",
            "/relative",
            "https://user:pw@host.com",
            "https://h.com/?q=1",
            "https://h.com/a b",
            "https://h.com/\r\n",
            "",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert!(Endpoint::parse_with("http://example.com", true).is_ok());
    }

    #[test]
    fn parts() {
        let e = Endpoint::parse("http://127.0.0.1:8443/acs/").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:8443/acs");
        assert_eq!(e.authority(), "127.0.0.1:8443");
        assert_eq!(e.path(), "/acs");
        assert_eq!(Endpoint::parse("https://h.com").unwrap().path(), "");
    }

    #[test]
    fn same_origin() {
        let e = Endpoint::parse("https://contoso.communication.azure.com").unwrap();
        assert!(e.same_origin(
            "https://contoso.communication.azure.com/chat/threads/x/participants?skip=2"
        ));
        assert!(e.same_origin("https://CONTOSO.communication.azure.com/x"));
        assert!(!e.same_origin("https://evil.example/x"));
        assert!(!e.same_origin("http://contoso.communication.azure.com/x"));
        assert!(!e.same_origin("https://contoso.communication.azure.com:8443/x"));
        assert!(!e.same_origin("https://contoso.communication.azure.com.evil.example/x"));
        assert!(!e.same_origin("/relative"));
        let local = Endpoint::parse("http://127.0.0.1:8443/acs").unwrap();
        assert!(local.same_origin("http://127.0.0.1:8443/acs/chat/threads/x/participants"));
        assert!(!local.same_origin("http://127.0.0.1:8444/acs/chat"));
    }
}
