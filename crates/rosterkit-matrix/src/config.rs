//! [`MatrixConfig`]: what every Matrix operation is built from.

use std::fmt;

use rosterkit_core::{
    Attempt, Authenticate, Bytes, Endpoint, Error, Secret,
    http::{self, HeaderValue, header},
};

use crate::generated::PROVIDER;

/// Where Matrix requests go and the `Authorization` value they carry (built once, marked
/// sensitive so `http` redacts it in `Debug`): the whole input of an [`ops`](crate::ops) value
/// besides its own arguments, so operations are built (and tested) without a client. A
/// [`MatrixClient`](crate::MatrixClient) holds one behind an `Arc`
/// ([`MatrixClient::config`](crate::MatrixClient::config)). `Debug` never shows the token.
///
/// ```
/// use rosterkit_core::{Endpoint, Secret};
/// use rosterkit_matrix::MatrixConfig;
/// let config = MatrixConfig::new(
///     Endpoint::parse("https://matrix.example.org")?,
///     &Secret::new("syt_example"),
/// )?;
/// assert_eq!(config.base_url().as_str(), "https://matrix.example.org");
/// assert!(!format!("{config:?}").contains("syt_example"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MatrixConfig {
    endpoint: Endpoint,
    authorization: HeaderValue,
}

impl MatrixConfig {
    /// A configuration for the homeserver at `endpoint`, acting as `access_token`'s user.
    ///
    /// # Errors
    /// `InvalidInput` when the token cannot travel in an HTTP header.
    pub fn new(endpoint: Endpoint, access_token: &Secret) -> Result<Self, Error> {
        let mut authorization = HeaderValue::try_from(format!("Bearer {}", access_token.expose()))
            .map_err(|_| {
                Error::invalid_input("the access token cannot travel in a header")
                    .with_provider(PROVIDER)
            })?;
        authorization.set_sensitive(true);
        Ok(Self {
            endpoint,
            authorization,
        })
    }

    /// The homeserver's base URL.
    pub fn base_url(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Matrix's authentication: the access token as a bearer token, the same header every attempt.
impl Authenticate for MatrixConfig {
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        _attempt: &Attempt,
    ) -> Result<(), Error> {
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, self.authorization.clone());
        Ok(())
    }
}

impl fmt::Debug for MatrixConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatrixConfig")
            .field("endpoint", &self.endpoint)
            .field("access_token", &Secret::new(""))
            .finish()
    }
}
