//! Provider-agnostic construction from the environment.

use std::sync::Arc;

use rosterkit_core::{Error, HttpClient, Membership, RetryPolicy};

use crate::ProviderKind;

/// Overrides for [`connect_with`]; everything else comes from the provider's environment
/// variables.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Use this base URL instead of the environment's or the provider's default.
    pub base_url: Option<String>,
    /// Use this retry policy instead of the default.
    pub retry_policy: Option<RetryPolicy>,
    /// Use this HTTP client instead of the default reqwest one.
    pub http_client: Option<Arc<dyn HttpClient>>,
    /// Allow plain `http://` to non-loopback hosts.
    pub allow_insecure_http: bool,
    /// Z-API: read the group roster after each change to turn `Unconfirmed` into `Applied`.
    pub verify: bool,
}

impl ConnectOptions {
    /// Returns the options with a base URL.
    #[must_use]
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Returns the options with a retry policy.
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// Returns the options with an HTTP client.
    #[must_use]
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Returns the options allowing plain `http://` to any host.
    #[must_use]
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Returns the options with Z-API verification on or off.
    #[must_use]
    pub fn with_verify(mut self, verify: bool) -> Self {
        self.verify = verify;
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

/// Applies the options every provider builder shares.
macro_rules! configure {
    ($builder:expr, $options:expr) => {{
        let options = $options;
        let mut builder = $builder.allow_insecure_http(options.allow_insecure_http);
        if let Some(url) = options.base_url {
            builder = builder.base_url(url);
        }
        if let Some(policy) = options.retry_policy {
            builder = builder.retry_policy(policy);
        }
        if let Some(client) = options.http_client {
            builder = builder.http_client(client);
        }
        builder
    }};
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
        ProviderKind::Chert => Ok(Box::new(
            configure!(rosterkit_chert::ChertClient::builder_from_env(), options).build()?,
        )),
        #[cfg(feature = "linq")]
        ProviderKind::Linq => Ok(Box::new(
            configure!(rosterkit_linq::LinqClient::builder_from_env(), options).build()?,
        )),
        #[cfg(feature = "zapi")]
        ProviderKind::Zapi => {
            let verify = options.verify;
            Ok(Box::new(
                configure!(rosterkit_zapi::ZapiClient::builder_from_env(), options)
                    .verify(verify)
                    .build()?,
            ))
        }
        #[cfg(feature = "acs")]
        ProviderKind::Acs => Ok(Box::new(
            configure!(rosterkit_acs::AcsClient::builder_from_env(), options).build()?,
        )),
        #[allow(unreachable_patterns)]
        other => Err(Error::unsupported(format!(
            "provider {other} is not compiled in: enable the `{other}` feature of rosterkit"
        ))),
    }
}
