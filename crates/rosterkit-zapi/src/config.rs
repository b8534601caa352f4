//! [`ZapiConfig`]: what every Z-API operation is built from (endpoint and credentials).

use rosterkit_core::{
    Attempt, Authenticate, Bytes, Endpoint, Error, Secret, encode::push_path_segment, http,
};

use crate::{PROVIDER, generated::Route};

/// Z-API's production base URL; requests go to `{base}/instances/{id}/token/{token}/...`.
pub const DEFAULT_BASE_URL: &str = "https://api.z-api.io";

/// The most phones one add or remove request carries; larger lists are split.
pub const MAX_BATCH: usize = 50;

/// Where Z-API requests go and the credentials they carry (the instance path with its token,
/// and the `Client-Token`): the whole input of an [`ops`](crate::ops) value besides its own
/// arguments, so operations are built (and tested) without a client. A
/// [`ZapiClient`](crate::ZapiClient) holds one behind an `Arc`
/// ([`ZapiClient::config`](crate::ZapiClient::config)). `Debug` never shows a secret.
///
/// ```
/// use rosterkit_core::{Endpoint, Secret};
/// use rosterkit_zapi::ZapiConfig;
/// let config = ZapiConfig::new(
///     Endpoint::parse("https://api.z-api.io")?,
///     "3C01A2B3C4".to_owned(),
///     &Secret::new("TOKEN123"),
///     Secret::new("acct-secret"),
/// );
/// assert_eq!(config.instance_id(), "3C01A2B3C4");
/// assert!(!format!("{config:?}").contains("TOKEN123"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ZapiConfig {
    endpoint: Endpoint,
    instance_id: String,
    /// `/instances/{id}/token/{token}`, percent-encoded: it carries the instance token.
    instance_path: Secret,
    client_token: Secret,
}

impl ZapiConfig {
    /// A configuration for one instance. Each credential is percent-encoded as one path
    /// segment; [`ZapiClientBuilder`](crate::ZapiClientBuilder) also checks their shape.
    pub fn new(
        endpoint: Endpoint,
        instance_id: String,
        instance_token: &Secret,
        client_token: Secret,
    ) -> Self {
        let mut instance_path = String::from("/instances/");
        push_path_segment(&mut instance_path, &instance_id);
        instance_path.push_str("/token/");
        push_path_segment(&mut instance_path, instance_token.expose());
        Self {
            endpoint,
            instance_id,
            instance_path: Secret::new(instance_path),
            client_token,
        }
    }

    /// The API base URL (without the instance path).
    pub fn base_url(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The former name of [`base_url`](Self::base_url).
    #[deprecated(note = "renamed `base_url`, as on the clients")]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The full URL of `path` (already encoded, starting with `/`) on this instance.
    #[cfg(test)]
    pub(crate) fn url(&self, path: &str) -> String {
        self.endpoint
            .url(&format!("{}{path}", self.instance_path.expose()))
    }

    /// The URI of `route` filled with `params`, under the instance prefix (core's request
    /// template).
    pub(crate) fn route_uri(&self, route: Route, params: &[&str]) -> Result<http::Uri, Error> {
        rosterkit_core::route_uri(
            self.endpoint.as_str(),
            self.instance_path.expose(),
            route,
            params,
        )
    }

    /// The `Client-Token` header, marked sensitive.
    pub(crate) fn client_token_header(&self) -> Result<http::HeaderValue, Error> {
        let mut value = http::HeaderValue::from_str(self.client_token.expose()).map_err(|_| {
            Error::invalid_input("the Z-API Client-Token cannot be sent in an HTTP header")
                .with_provider(PROVIDER)
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// Z-API's authentication: the account's `Client-Token` header on every request (the
/// instance token travels in the path).
impl Authenticate for ZapiConfig {
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        _attempt: &Attempt,
    ) -> Result<(), Error> {
        let token = self.client_token_header()?;
        request.headers_mut().insert("client-token", token);
        Ok(())
    }
}
