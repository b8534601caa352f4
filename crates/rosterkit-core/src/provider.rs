//! A provider as provider-agnostic code sees it: its name, the environment variables it reads,
//! how it connects and how it reads a handle. The facade's registry, its bulk runner and the
//! CLI select providers through this trait, so a provider written outside rosterkit joins them
//! by registering one value.

use std::sync::Arc;

use crate::{ClientBuilder, ClientOptions, Error, Handle, HttpClient, Membership, RetryPolicy};

/// A messaging provider that provider-agnostic code can pick by name.
///
/// Implement it beside an adapter (one unit struct) and register it with the facade
/// (`rosterkit::register`); `rosterkit::connect("name")`, bulk runs and the CLI's
/// `--provider name` then reach it the same way as the built-in providers.
///
/// ```
/// use rosterkit_core::{ConnectOptions, EnvVar, Error, Handle, Membership, NativeId, Provider};
///
/// /// A provider whose members are `u/<name>`.
/// struct Demo;
///
/// impl Provider for Demo {
///     fn name(&self) -> &'static str { "demo" }
///     fn summary(&self) -> &'static str { "Demo chat" }
///     fn env(&self) -> &'static [EnvVar] {
///         const ENV: &[EnvVar] = &[EnvVar::required("DEMO_TOKEN", "bearer token; required")];
///         ENV
///     }
///     fn connect(&self, options: ConnectOptions) -> Result<Box<dyn Membership>, Error> {
///         // Typically: Ok(Box::new(options.build(DemoClient::builder_from_env())?))
///         Err(Error::unsupported(format!("demo is offline ({:?})", options.base_url)))
///     }
///     fn parse_handle(&self, text: &str) -> Result<Handle, Error> {
///         match text.strip_prefix("u/") {
///             Some(_) => Ok(Handle::Native(NativeId::new(text)?)),
///             None => Ok(text.parse()?),
///         }
///     }
/// }
///
/// assert!(matches!(Demo.parse_handle("u/alice")?, Handle::Native(_)));
/// assert!(matches!(Demo.parse_handle("+14155551234")?, Handle::Phone(_)));
/// assert_eq!(Demo.missing_env(&|_| None, false), ["DEMO_TOKEN"]);
/// # Ok::<(), Error>(())
/// ```
pub trait Provider: Send + Sync {
    /// The provider's name: lowercase ASCII letters, digits, `-` or `_` (`"matrix"`); what
    /// `--provider` and a bulk row's `provider` column take.
    fn name(&self) -> &'static str;

    /// One line for people (`"Matrix (client-server API)"`), shown by `--help`.
    fn summary(&self) -> &'static str;

    /// The environment variables [`Provider::connect`] reads, for help texts and
    /// [`Provider::missing_env`].
    fn env(&self) -> &'static [EnvVar];

    /// The variables a connection needs that `lookup` does not have (blank counts as unset),
    /// each as a person should set it; `base_url_given` counts as the endpoint's variable. The
    /// default lists every [`EnvVar::required`] one; a provider whose needs depend on other
    /// values (one variable or another) overrides it.
    fn missing_env(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        base_url_given: bool,
    ) -> Vec<&'static str> {
        EnvVar::unset_required(self.env(), lookup, base_url_given)
    }

    /// The base URL a client would use: `options`' own, else the endpoint variable's value,
    /// else its default (for messages such as "connecting to host:port").
    fn base_url(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let var = self.env().iter().find(|v| v.base_url)?;
        lookup(var.name)
            .filter(|v| !v.trim().is_empty())
            .or_else(|| var.default.map(str::to_owned))
    }

    /// A client configured from the provider's environment variables, with `options` on top.
    ///
    /// # Errors
    /// `InvalidInput` naming a missing or invalid setting.
    fn connect(&self, options: ConnectOptions) -> Result<Box<dyn Membership>, Error>;

    /// Reads a participant handle in the provider's own syntax (a Matrix `@alice:example.org`
    /// needs no `native:` prefix). The default is [`Handle`]'s own parser.
    ///
    /// # Errors
    /// `InvalidInput` saying why the text is not a handle.
    fn parse_handle(&self, text: &str) -> Result<Handle, Error> {
        Ok(text.parse::<Handle>()?)
    }
}

impl std::fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// One environment variable a [`Provider`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvVar {
    /// `MATRIX_HOMESERVER`.
    pub name: &'static str,
    /// What it holds, for help texts.
    pub meaning: &'static str,
    /// Whether a connection needs it (as far as one variable alone decides).
    pub required: bool,
    /// Whether it is the API's base URL (a `--base-url` given stands in for it).
    pub base_url: bool,
    /// The value used when it is unset, if any.
    pub default: Option<&'static str>,
}

impl EnvVar {
    /// A variable a connection needs.
    pub const fn required(name: &'static str, meaning: &'static str) -> Self {
        Self {
            name,
            meaning,
            required: true,
            base_url: false,
            default: None,
        }
    }

    /// A variable a connection can do without.
    pub const fn optional(name: &'static str, meaning: &'static str) -> Self {
        Self {
            required: false,
            ..Self::required(name, meaning)
        }
    }

    /// The [`EnvVar::required`] ones among `vars` that `lookup` does not have (blank counts as
    /// unset); `base_url_given` counts as the endpoint's variable.
    pub fn unset_required(
        vars: &[Self],
        lookup: &dyn Fn(&str) -> Option<String>,
        base_url_given: bool,
    ) -> Vec<&'static str> {
        vars.iter()
            .filter(|v| v.required && !(v.base_url && base_url_given))
            .filter(|v| lookup(v.name).is_none_or(|value| value.trim().is_empty()))
            .map(|v| v.name)
            .collect()
    }

    /// The variable is the API's base URL (required unless it has a `default`).
    #[must_use]
    pub const fn as_base_url(mut self, default: Option<&'static str>) -> Self {
        self.base_url = true;
        self.default = default;
        self.required = default.is_none() && self.required;
        self
    }
}

/// What provider-agnostic code may set on top of a provider's environment variables: a base
/// URL and the [`ClientOptions`] every builder embeds.
///
/// ```
/// use rosterkit_core::{ClientOptions, ConnectOptions, Confirm, RetryPolicy};
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

    /// Builds `builder`'s client with these options applied: the one way a [`Provider`]
    /// configures its adapter's builder.
    ///
    /// # Errors
    /// The builder's.
    pub fn build<B: ClientBuilder>(self, builder: B) -> Result<B::Client, Error> {
        let mut builder = builder.client_options(self.client);
        if let Some(url) = self.base_url {
            builder = builder.base_url(url);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Two;

    impl Provider for Two {
        fn name(&self) -> &'static str {
            "two"
        }
        fn summary(&self) -> &'static str {
            "two variables"
        }
        fn env(&self) -> &'static [EnvVar] {
            const ENV: &[EnvVar] = &[
                EnvVar::required("TWO_URL", "base").as_base_url(None),
                EnvVar::required("TWO_KEY", "key"),
                EnvVar::optional("TWO_MODE", "mode"),
            ];
            ENV
        }
        fn connect(&self, _: ConnectOptions) -> Result<Box<dyn Membership>, Error> {
            Err(Error::unsupported("not here"))
        }
    }

    #[test]
    fn missing_variables_are_the_required_unset_ones() {
        let blank = |_: &str| Some(" ".to_owned());
        assert_eq!(Two.missing_env(&blank, false), ["TWO_URL", "TWO_KEY"]);
        assert_eq!(Two.missing_env(&|_| None, true), ["TWO_KEY"]);
        let url = |n: &str| (n == "TWO_URL").then(|| "https://two.example".to_owned());
        assert_eq!(Two.base_url(&url).as_deref(), Some("https://two.example"));
        assert_eq!(Two.base_url(&|_| None), None);
        let err = Two.parse_handle("bob").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
        assert!(format!("{:?}", &Two as &dyn Provider).contains("two"));
    }
}
