//! Provider-agnostic construction from the environment.

use std::sync::Arc;

use rosterkit_core::{ClientBuilder, ClientOptions, Error, HttpClient, Membership, RetryPolicy};

use crate::ProviderKind;

/// Overrides for [`connect_with`]; everything else comes from the provider's environment
/// variables.
///
/// ```
/// use rosterkit::{ClientOptions, ConnectOptions, Confirm, RetryPolicy};
/// let options = ConnectOptions::default()
///     .with_base_url("http://127.0.0.1:8080/chert/api/v1")
///     .with_client_options(
///         ClientOptions::default()
///             .retry_policy(RetryPolicy::no_retries())
///             .confirm(Confirm::ReadBack),
///     );
/// assert_eq!(options.client.confirms(), Confirm::ReadBack);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Use this base URL instead of the environment's or the provider's default.
    pub base_url: Option<String>,
    /// The options every provider's builder embeds: transport, retry policy, clock,
    /// insecure-http switch, pacing, read-back confirmation.
    pub client: ClientOptions,
}

impl ConnectOptions {
    /// Returns the options with a base URL.
    #[must_use]
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Returns the options with `client` as every builder's [`ClientOptions`].
    #[must_use]
    pub fn with_client_options(mut self, client: ClientOptions) -> Self {
        self.client = client;
        self
    }

    /// Returns the options with a retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.client = self.client.retry_policy(policy);
        self
    }

    /// Returns the options with an HTTP client.
    #[must_use]
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.client = self.client.http_client(client);
        self
    }

    /// Returns the options allowing plain `http://` to any host.
    #[must_use]
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.client = self.client.allow_insecure_http(allow);
        self
    }
}

/// A client for `provider`, configured from its environment variables.
///
/// # Errors
/// `InvalidInput` naming a missing or invalid variable; `Unsupported` when the provider's
/// cargo feature is off.
pub fn connect(provider: ProviderKind) -> Result<Box<dyn Membership>, Error> {
    connect_with(provider, ConnectOptions::default())
}

/// `builder` with `options` applied: the one way every provider's builder is configured.
fn configured<B>(builder: B, options: ConnectOptions) -> Result<Box<dyn Membership>, Error>
where
    B: ClientBuilder,
    B::Client: Membership + 'static,
{
    let mut builder = builder.client_options(options.client);
    if let Some(url) = options.base_url {
        builder = builder.base_url(url);
    }
    Ok(Box::new(builder.build()?))
}

/// A client for `provider` from its environment variables, with `options` applied on top.
///
/// # Errors
/// `InvalidInput` naming a missing or invalid setting; `Unsupported` when the provider's cargo
/// feature is off.
pub fn connect_with(
    provider: ProviderKind,
    options: ConnectOptions,
) -> Result<Box<dyn Membership>, Error> {
    match provider {
        #[cfg(feature = "chert")]
        ProviderKind::Chert => {
            configured(rosterkit_chert::ChertClient::builder_from_env(), options)
        }
        #[cfg(feature = "linq")]
        ProviderKind::Linq => configured(rosterkit_linq::LinqClient::builder_from_env(), options),
        #[cfg(feature = "zapi")]
        ProviderKind::Zapi => configured(rosterkit_zapi::ZapiClient::builder_from_env(), options),
        #[cfg(feature = "acs")]
        ProviderKind::Acs => configured(rosterkit_acs::AcsClient::builder_from_env(), options),
        #[allow(unreachable_patterns)]
        other => Err(Error::unsupported(format!(
            "provider {other} is not compiled in: enable the `{other}` feature of rosterkit"
        ))),
    }
}
