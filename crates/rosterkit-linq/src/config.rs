//! [`LinqConfig`]: what every Linq operation is built from.

use rosterkit_core::{
    Attempt, Authenticate, Bytes, Endpoint, Error, Secret,
    http::{self, HeaderMap, HeaderValue, header::AUTHORIZATION},
};

use crate::generated::PROVIDER;

/// Where Linq requests go and the bearer token they carry: the whole input of an
/// [`ops`](crate::ops) value besides its own arguments, so operations are built (and tested)
/// without a client. A [`LinqClient`](crate::LinqClient) holds one behind an `Arc`
/// ([`LinqClient::config`](crate::LinqClient::config)). `Debug` never shows the key.
///
/// ```
/// use rosterkit_core::{Endpoint, Secret};
/// use rosterkit_linq::LinqConfig;
/// let config = LinqConfig::new(Endpoint::parse("https://api.linqapp.com/api/partner")?, Secret::new("sk_test"));
/// assert!(!format!("{config:?}").contains("sk_test"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LinqConfig {
    endpoint: Endpoint,
    api_key: Secret,
}

impl LinqConfig {
    /// A configuration for `endpoint` with `api_key`.
    pub fn new(endpoint: Endpoint, api_key: Secret) -> Self {
        Self { endpoint, api_key }
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

    /// Adds `Authorization: Bearer <api key>` (marked sensitive).
    pub(crate) fn authorize(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.api_key.expose()))
            .map_err(|_| {
                Error::invalid_input("the Linq API key cannot be sent in an HTTP header")
                    .with_provider(PROVIDER)
            })?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        Ok(())
    }
}

/// Linq's authentication: the API key as a bearer token.
impl Authenticate for LinqConfig {
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        _attempt: &Attempt,
    ) -> Result<(), Error> {
        self.authorize(request.headers_mut())
    }
}
