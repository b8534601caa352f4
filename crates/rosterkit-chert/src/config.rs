//! [`ChertConfig`]: what every Chert operation is built from (endpoint and credentials).

use std::{fmt, str::FromStr, sync::Arc};

use rosterkit_core::{
    Attempt, Authenticate, Bytes, Endpoint, Error, Secret,
    http::{self, HeaderMap, HeaderName, HeaderValue},
};

use crate::PROVIDER;

/// The auth-mode variable.
pub(crate) const ENV_AUTH: &str = "CHERT_AUTH";

/// Where Chert requests go and how they are authenticated: the whole input of an
/// [`ops`](crate::ops) value besides its own arguments, so operations are built (and tested)
/// without a client. A [`ChertClient`](crate::ChertClient) holds one behind an `Arc`
/// ([`ChertClient::config`](crate::ChertClient::config)). `Debug` never shows the secret.
///
/// ```
/// use rosterkit_core::{Endpoint, Secret};
/// use rosterkit_chert::{AuthMode, ChertConfig};
/// let config = ChertConfig::new(
///     Endpoint::parse("https://console.trychert.com/api/v1")?,
///     AuthMode::Hmac,
///     Some("acme"),
///     &Secret::new("0123456789abcdef"),
/// )?;
/// assert_eq!(config.auth_mode(), AuthMode::Hmac);
/// assert!(!format!("{config:?}").contains("0123456789abcdef"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChertConfig {
    endpoint: Endpoint,
    auth: Arc<Auth>,
}

impl ChertConfig {
    /// A configuration for `endpoint`, authenticating with `secret` in `mode`; `tenant` is
    /// sent as `x-chert-tenant` (required for [`AuthMode::Hmac`]).
    ///
    /// # Errors
    /// `InvalidInput` when the tenant or secret cannot be sent in a header, or the tenant is
    /// missing in HMAC mode.
    pub fn new(
        endpoint: Endpoint,
        mode: AuthMode,
        tenant: Option<&str>,
        secret: &Secret,
    ) -> Result<Self, Error> {
        let invalid = |message: String| Error::invalid_input(message).with_provider(PROVIDER);
        let tenant = match tenant {
            Some(tenant) => Some(tenant_header(tenant).map_err(invalid)?),
            None if mode == AuthMode::Hmac => {
                return Err(invalid(
                    "missing Chert tenant: HMAC signing needs x-chert-tenant".to_owned(),
                ));
            }
            None => None,
        };
        Ok(Self {
            endpoint,
            auth: Arc::new(Auth::new(mode, tenant, secret)?),
        })
    }

    pub(crate) fn from_parts(endpoint: Endpoint, auth: Arc<Auth>) -> Self {
        Self { endpoint, auth }
    }

    /// The API base URL.
    pub fn base_url(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The former name of [`base_url`](Self::base_url).
    #[deprecated(note = "renamed `base_url`, as on the clients")]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How requests are authenticated.
    pub fn auth_mode(&self) -> AuthMode {
        self.auth.mode()
    }

    pub(crate) fn auth(&self) -> &Arc<Auth> {
        &self.auth
    }
}

/// The tenant slug as a header value: non-empty, visible ASCII, no whitespace.
pub(crate) fn tenant_header(tenant: &str) -> Result<HeaderValue, String> {
    let ok = !tenant.is_empty() && tenant.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| HeaderValue::from_str(tenant).ok())
        .flatten()
        .ok_or_else(|| {
            "invalid Chert tenant: it must be non-empty visible ASCII without spaces (.tenant(..) or CHERT_TENANT)".to_owned()
        })
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMode {
    /// `x-chert-tenant` + `x-chert-signature: v1,<ts>,<hex>`, HMAC-SHA256 keyed with the
    /// signing secret over `"<ts>.<exact body bytes>"`, signed afresh on every attempt. Chert's
    /// preferred mode; the tenant is required.
    #[default]
    Hmac,
    /// `Authorization: Bearer <signing secret>`; `x-chert-tenant` is sent when configured
    /// (Chert requires it for multi-tenant accounts).
    Bearer,
}

impl AuthMode {
    /// The name used in `CHERT_AUTH` (`"hmac"`, `"bearer"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hmac => "hmac",
            Self::Bearer => "bearer",
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMode {
    type Err = Error;

    /// Parses `hmac` or `bearer` (case-insensitive, surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hmac" => Ok(Self::Hmac),
            "bearer" => Ok(Self::Bearer),
            _ => Err(Error::invalid_input(format!(
                "invalid Chert auth mode {:?}: expected `hmac` or `bearer` ({ENV_AUTH})",
                s.trim()
            ))
            .with_provider(PROVIDER)),
        }
    }
}

/// Header names, parsed once rather than on every request.
static TENANT_HEADER: HeaderName = HeaderName::from_static("x-chert-tenant");
static SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-chert-signature");

/// The credentials every request is authenticated with.
/// Prepared once when the client is built: the HMAC key with its pads hashed, or the complete
/// (sensitive) `Authorization` value.
#[derive(Debug)]
pub(crate) struct Auth {
    tenant: Option<HeaderValue>,
    credential: Credential,
}

enum Credential {
    /// `x-chert-signature`, computed per attempt. `Signer`'s `Debug` is redacted.
    Hmac(rosterkit_sign::chert::Signer),
    /// `Authorization: Bearer ..`, marked sensitive (its `Debug` is redacted by `http`).
    Bearer(HeaderValue),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hmac(signer) => f.debug_tuple("Hmac").field(signer).finish(),
            Self::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

impl Auth {
    pub(crate) fn new(
        mode: AuthMode,
        tenant: Option<HeaderValue>,
        secret: &Secret,
    ) -> Result<Self, Error> {
        let credential = match mode {
            AuthMode::Hmac => Credential::Hmac(rosterkit_sign::chert::Signer::new(
                secret.expose().as_bytes(),
            )),
            AuthMode::Bearer => {
                let mut value = header_value(format!("Bearer {}", secret.expose()))?;
                value.set_sensitive(true);
                Credential::Bearer(value)
            }
        };
        Ok(Self { tenant, credential })
    }

    pub(crate) fn mode(&self) -> AuthMode {
        match self.credential {
            Credential::Hmac(_) => AuthMode::Hmac,
            Credential::Bearer(_) => AuthMode::Bearer,
        }
    }

    /// Adds the authentication headers for a request sent at `unix_seconds` with `body`.
    pub(crate) fn apply(
        &self,
        headers: &mut HeaderMap,
        unix_seconds: u64,
        body: &[u8],
    ) -> Result<(), Error> {
        if let Some(tenant) = &self.tenant {
            headers.insert(TENANT_HEADER.clone(), tenant.clone());
        }
        match &self.credential {
            Credential::Hmac(signer) => {
                let signature = signer.sign(unix_seconds, body);
                headers.insert(SIGNATURE_HEADER.clone(), header_value(signature)?);
            }
            Credential::Bearer(value) => {
                headers.insert(rosterkit_core::http::header::AUTHORIZATION, value.clone());
            }
        }
        Ok(())
    }
}

/// Chert's authentication: the tenant header, then an HMAC signature over the attempt's time
/// and the exact body, or the bearer token.
impl Authenticate for Auth {
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        attempt: &Attempt,
    ) -> Result<(), Error> {
        // A reference-counted handle on the same bytes, so the headers can be borrowed.
        let body = request.body().clone();
        self.apply(request.headers_mut(), attempt.unix_seconds(), &body)
    }
}

fn header_value(value: String) -> Result<HeaderValue, Error> {
    HeaderValue::try_from(value).map_err(|_| {
        Error::invalid_input("the Chert credentials cannot be sent in an HTTP header")
            .with_provider(PROVIDER)
    })
}
