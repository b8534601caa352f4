//! [`ChertClient`] and its builder.

use std::sync::Arc;

use tracing::Instrument as _;

use rosterkit_core::{
    ChangeOptions, ChatId, ClientOptions, Endpoint, Error, Executor, Handle, Secret,
};

use crate::{
    PROVIDER,
    config::{Auth, AuthMode, ChertConfig, ENV_AUTH, tenant_header},
    ops::{AddParticipant, Leave, RemoveParticipant},
    reply::{AddReply, ChertChange, LeaveReply, RemoveReply},
};

/// Chert's production API base URL.
pub const DEFAULT_BASE_URL: &str = "https://console.trychert.com/api/v1";

const ENV_TENANT: &str = "CHERT_TENANT";
const ENV_SECRET: &str = "CHERT_SIGNING_SECRET";
const ENV_BASE_URL: &str = "CHERT_BASE_URL";

/// A Chert API client: native methods with Chert's full replies, and
/// [`Membership`](rosterkit_core::Membership) for provider-agnostic code.
///
/// Cheap to clone (clones share the connection pool). Its `Debug` output never shows the
/// signing secret.
///
/// ```
/// use rosterkit_chert::{AuthMode, ChertClient};
///
/// let chert = ChertClient::builder()
///     .tenant("acme")
///     .signing_secret("0123456789abcdef0123456789abcdef")
///     .build()?;
/// assert_eq!(chert.base_url().as_str(), "https://console.trychert.com/api/v1");
/// assert_eq!(chert.auth_mode(), AuthMode::Hmac);
/// assert!(!format!("{chert:?}").contains("0123456789abcdef"));
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChertClient {
    config: Arc<ChertConfig>,
    executor: Executor,
}

impl ChertClient {
    /// A builder with nothing set (the base URL defaults to [`DEFAULT_BASE_URL`]).
    pub fn builder() -> ChertClientBuilder {
        ChertClientBuilder::default()
    }

    /// A builder pre-filled from `CHERT_TENANT`, `CHERT_SIGNING_SECRET`, `CHERT_AUTH` and
    /// `CHERT_BASE_URL`; a missing required variable or an invalid value is reported by
    /// [`ChertClientBuilder::build`], naming the variable. Empty variables count as unset.
    pub fn builder_from_env() -> ChertClientBuilder {
        ChertClientBuilder::from_lookup(|name| std::env::var(name).ok())
    }

    /// A client configured from the environment: `builder_from_env().build()`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) naming a missing or
    /// invalid variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env().build()
    }

    /// The executor that runs this client's operations (retries, timeouts, clock), to run the
    /// [`ops`](crate::ops) yourself.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The API base URL.
    pub fn base_url(&self) -> &Endpoint {
        self.config.base_url()
    }

    /// How requests are authenticated.
    pub fn auth_mode(&self) -> AuthMode {
        self.config.auth_mode()
    }

    /// The endpoint and credentials every operation is built from: build
    /// [`ops`](crate::ops) with it and run them with [`ChertClient::executor`].
    pub fn config(&self) -> &Arc<ChertConfig> {
        &self.config
    }

    /// Removes `handle` from `chat` (`DELETE /chats/{id}/participants/{address}`).
    ///
    /// Returns [`ChertChange::Applied`] with Chert's reply (the roster after the removal). In ensure
    /// mode, "not in the group" (1001) is [`ChertChange::AlreadyDone`], a dropped connection or a 502
    /// is retried, and a 1002 on such a retry is [`ChertChange::Unconfirmed`] (the first attempt may
    /// have taken the group to its minimum size).
    ///
    /// # Errors
    /// `InvalidInput` before any request for a handle that is not a phone number or an email;
    /// otherwise Chert's error mapped by code: `NotAMember` (1001), `GroupTooSmall` (1002),
    /// `NotAGroup` (1006), `ChatNotFound` (2002), `DeliveryFailed` (4001),
    /// `ProviderMisconfigured` (4099), `Unauthorized`, `RateLimited`, ...
    pub async fn remove(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<ChertChange<RemoveReply>, Error> {
        let span = tracing::info_span!(
            "chert.remove",
            chat = %chat,
            handle = %handle.redacted(),
            ensure = options.ensure,
        );
        async move {
            let op = RemoveParticipant::new(&self.config, chat, handle)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Adds `handle` to `chat` (`POST /chats/{id}/participants` with `{"address": ..}`).
    ///
    /// Adding a present member is a no-op success, so an add is always safe to retry.
    ///
    /// # Errors
    /// `InvalidInput` before any request for a handle that is not a phone number or an email;
    /// otherwise Chert's error mapped by code: `NotAGroup` (1006), `ChatNotFound` (2002),
    /// `DeliveryFailed` (4001), `ProviderMisconfigured` (4099), `Unauthorized`, ...
    pub async fn add(&self, chat: &ChatId, handle: &Handle) -> Result<AddReply, Error> {
        let span = tracing::info_span!("chert.add", chat = %chat, handle = %handle.redacted());
        async move {
            let op = AddParticipant::new(&self.config, chat, handle)?;
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Leaves `chat` from its pinned line (`POST /chats/{id}/leave`, no body).
    ///
    /// In ensure mode 1006 is [`ChertChange::AlreadyDone`]: Chert answers 1006 both for a group the
    /// line already left and for a direct message, and cannot tell the two apart, so ensure mode
    /// trusts the caller that `chat` is (or was) a group. Without ensure, both are `NotAGroup`.
    ///
    /// # Errors
    /// Chert's error mapped by code: `GroupTooSmall` (1002), `NotAGroup` (1006),
    /// `ChatNotFound` (2002), `DeliveryFailed` (4001), `ProviderMisconfigured` (4099), ...
    pub async fn leave_group(
        &self,
        chat: &ChatId,
        options: ChangeOptions,
    ) -> Result<ChertChange<LeaveReply>, Error> {
        let span = tracing::info_span!("chert.leave", chat = %chat, ensure = options.ensure);
        async move {
            let op = Leave::new(&self.config, chat)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }
}

/// Builds a [`ChertClient`]. Its `Debug` output never shows the signing secret.
#[derive(Debug, Clone, Default)]
pub struct ChertClientBuilder {
    base_url: Option<String>,
    tenant: Option<String>,
    signing_secret: Option<Secret>,
    auth_mode: Option<AuthMode>,
    /// An invalid `CHERT_AUTH`, reported by `build()`.
    auth_mode_error: Option<String>,
    /// HTTP client, retry policy, clock, insecure-http switch, pacing.
    options: ClientOptions,
}

impl ChertClientBuilder {
    /// A builder pre-filled through `lookup` (the environment's seam, so tests need not touch
    /// the process environment). Empty values count as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut builder = Self {
            base_url: get(ENV_BASE_URL),
            tenant: get(ENV_TENANT),
            signing_secret: get(ENV_SECRET).map(Secret::new),
            ..Self::default()
        };
        if let Some(mode) = get(ENV_AUTH) {
            match mode.parse() {
                Ok(mode) => builder.auth_mode = Some(mode),
                Err(_) => builder.auth_mode_error = Some(mode),
            }
        }
        builder
    }

    /// Sets the API base URL (default [`DEFAULT_BASE_URL`]; the sandbox's is
    /// `http://127.0.0.1:PORT/chert/api/v1`).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the tenant slug, sent as `x-chert-tenant` (required in [`AuthMode::Hmac`]).
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the tenant's signing secret: the HMAC key (its own bytes, not hex-decoded) or the
    /// bearer token.
    #[must_use]
    pub fn signing_secret(mut self, secret: impl Into<String>) -> Self {
        self.signing_secret = Some(Secret::new(secret));
        self
    }

    /// Sets how requests are authenticated (default [`AuthMode::Hmac`]).
    #[must_use]
    pub fn auth_mode(mut self, mode: AuthMode) -> Self {
        self.auth_mode = Some(mode);
        self.auth_mode_error = None;
        self
    }

    rosterkit_core::client_options_setters!();

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) naming the setting
    /// (and its environment variable) that is missing or invalid: the signing secret, the tenant
    /// in HMAC mode, the auth mode, the base URL; or a missing HTTP client without the
    /// `reqwest` feature.
    pub fn build(self) -> Result<ChertClient, Error> {
        let invalid = |message: String| Error::invalid_input(message).with_provider(PROVIDER);
        if let Some(bad) = self.auth_mode_error {
            return Err(invalid(format!(
                "invalid {ENV_AUTH} {:?}: expected `hmac` or `bearer`",
                bad.trim()
            )));
        }
        let mode = self.auth_mode.unwrap_or_default();
        let base_url = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let endpoint = Endpoint::parse_with(base_url, self.options.allows_insecure_http())
            .map_err(|e| invalid(format!("{e} (.base_url(..) or {ENV_BASE_URL})")))?;
        let secret = self.signing_secret.ok_or_else(|| {
            invalid(format!(
                "missing Chert signing secret: call .signing_secret(..) or set {ENV_SECRET}"
            ))
        })?;
        let secret = Secret::for_header("Chert signing secret", secret.expose())
            .map_err(|e| invalid(format!("{e} (.signing_secret(..) or {ENV_SECRET})")))?;
        let tenant = match self.tenant {
            Some(tenant) => Some(tenant_header(&tenant).map_err(invalid)?),
            None if mode == AuthMode::Hmac => {
                return Err(invalid(format!(
                    "missing Chert tenant: HMAC signing needs x-chert-tenant; call .tenant(..) or set {ENV_TENANT} (or use bearer auth)"
                )));
            }
            None => None,
        };
        // Scrubbed from every error, should a server echo the request (bearer mode sends it).
        let executor = self.options.secrets([secret.clone()]).build(PROVIDER)?;
        Ok(ChertClient {
            config: Arc::new(ChertConfig::from_parts(
                endpoint,
                Arc::new(Auth::new(mode, tenant, &secret)?),
            )),
            executor,
        })
    }
}

impl rosterkit_core::ClientBuilder for ChertClientBuilder {
    type Client = ChertClient;

    fn base_url(self, url: impl Into<String>) -> Self {
        ChertClientBuilder::base_url(self, url)
    }

    fn client_options(self, options: ClientOptions) -> Self {
        ChertClientBuilder::client_options(self, options)
    }

    fn build(self) -> Result<ChertClient, Error> {
        ChertClientBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::ErrorKind;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn from(vars: &[(&str, &str)]) -> Result<ChertClient, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ChertClientBuilder::from_lookup(|k| vars.get(k).cloned()).build()
    }

    #[test]
    fn env_defaults_to_hmac_and_the_production_url() {
        let c = from(&[(ENV_TENANT, "acme"), (ENV_SECRET, SECRET)]).unwrap();
        assert_eq!(c.auth_mode(), AuthMode::Hmac);
        assert_eq!(c.base_url().as_str(), DEFAULT_BASE_URL);
    }

    #[test]
    fn env_reads_every_variable() {
        let c = from(&[
            (ENV_SECRET, SECRET),
            (ENV_AUTH, " Bearer "),
            (ENV_BASE_URL, "http://127.0.0.1:9/chert/api/v1/"),
        ])
        .unwrap();
        assert_eq!(c.auth_mode(), AuthMode::Bearer);
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9/chert/api/v1");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[(ENV_TENANT, "acme")], ENV_SECRET),
            (&[(ENV_TENANT, "acme"), (ENV_SECRET, "")], ENV_SECRET),
            (&[(ENV_SECRET, SECRET)], ENV_TENANT),
            (
                &[
                    (ENV_TENANT, "acme"),
                    (ENV_SECRET, SECRET),
                    (ENV_AUTH, "oauth"),
                ],
                ENV_AUTH,
            ),
            (
                &[
                    (ENV_TENANT, "acme"),
                    (ENV_SECRET, SECRET),
                    (ENV_BASE_URL, "http://example.com/api/v1"),
                ],
                ENV_BASE_URL,
            ),
        ];
        for (vars, named) in cases {
            let err = from(vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(named), "{named}: {err}");
            assert!(!err.to_string().contains(SECRET), "{err}");
        }
    }

    #[test]
    fn builder_validates_header_safety_without_echoing() {
        let err = ChertClient::builder()
            .tenant("acme")
            .signing_secret("leak\r\nme")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("leak"), "{err}");
        let err = ChertClient::builder()
            .tenant("ac me")
            .signing_secret(SECRET)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("tenant"), "{err}");
    }

    #[test]
    fn insecure_http_is_opt_in() {
        let b = || {
            ChertClient::builder()
                .tenant("acme")
                .signing_secret(SECRET)
                .base_url("http://chert.internal/api/v1")
        };
        assert!(b().build().is_err());
        assert!(b().allow_insecure_http(true).build().is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let builder = ChertClient::builder()
            .tenant("acme")
            .signing_secret(SECRET)
            .auth_mode(AuthMode::Bearer);
        let client = builder.clone().build().unwrap();
        let env = ChertClientBuilder::from_lookup(|k| (k == ENV_SECRET).then(|| SECRET.to_owned()));
        for dbg in [
            format!("{builder:?}"),
            format!("{client:?}"),
            format!("{env:?}"),
            format!("{:?}", client.config()),
        ] {
            assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
            assert!(dbg.contains("redacted"), "{dbg}");
        }
    }

    #[test]
    fn auth_mode_names() {
        assert_eq!("HMAC".parse::<AuthMode>().unwrap(), AuthMode::Hmac);
        assert_eq!(AuthMode::Bearer.to_string(), "bearer");
        assert!("basic".parse::<AuthMode>().is_err());
    }
}
