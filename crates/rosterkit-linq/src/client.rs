//! [`LinqClient`] and its builder.

use std::sync::Arc;

use tracing::Instrument as _;

use rosterkit_core::{
    ChangeOptions, ChatId, ClientOptions, Endpoint, Error, Executor, Handle, Outcome, Secret,
};

use crate::{
    PROVIDER,
    chat::Chat,
    config::LinqConfig,
    ops::{AddParticipant, GetChat, Leave, RemoveParticipant},
    reply::LinqChange,
    wait::{self, Expect, Target, WaitOptions},
};

/// Linq's production API base URL (every path then starts with `/v3/`).
pub const DEFAULT_BASE_URL: &str = "https://api.linqapp.com/api/partner";

/// The API key variable, named as in Linq's official SDK.
const ENV_API_KEY: &str = "LINQ_API_V3_API_KEY";
/// The base URL variable, named as in Linq's official SDK.
const ENV_BASE_URL: &str = "LINQ_API_V3_BASE_URL";

/// A Linq Partner API v3 client: native methods with Linq's full replies, and
/// [`Membership`](rosterkit_core::Membership) for provider-agnostic code.
///
/// Linq queues every membership change: a successful remove, add or leave is
/// [`LinqChange::Queued`] with Linq's `trace_id`, and the change shows in [`LinqClient::get_chat`]
/// (or a `participant.*` webhook) once processed. [`LinqClient::wait_for`] polls until it does.
///
/// Cheap to clone (clones share the connection pool). Its `Debug` output never shows the API
/// key.
///
/// ```
/// use rosterkit_linq::LinqClient;
///
/// let linq = LinqClient::builder().api_key("sk_live_0123456789").build()?;
/// assert_eq!(linq.base_url().as_str(), "https://api.linqapp.com/api/partner");
/// assert!(!format!("{linq:?}").contains("sk_live"));
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LinqClient {
    config: Arc<LinqConfig>,
    executor: Executor,
}

impl LinqClient {
    /// A builder with nothing set (the base URL defaults to [`DEFAULT_BASE_URL`]).
    pub fn builder() -> LinqClientBuilder {
        LinqClientBuilder::default()
    }

    /// A builder pre-filled from `LINQ_API_V3_API_KEY` and `LINQ_API_V3_BASE_URL` (the official
    /// SDK's names); a missing API key or an invalid value is reported by
    /// [`LinqClientBuilder::build`], naming the variable. Empty variables count as unset.
    pub fn builder_from_env() -> LinqClientBuilder {
        LinqClientBuilder::from_lookup(|name| std::env::var(name).ok())
    }

    /// A client configured from the environment: `builder_from_env().build()`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) naming a missing or invalid variable.
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

    /// The endpoint and credentials every operation is built from: build
    /// [`ops`](crate::ops) with it and run them with [`LinqClient::executor`].
    pub fn config(&self) -> &Arc<LinqConfig> {
        &self.config
    }

    /// Removes `handle` from `chat`: `DELETE /v3/chats/{chatId}/participants` with the JSON
    /// body `{"handle": ..}`.
    ///
    /// Linq queues the removal: the result is [`LinqChange::Queued`] with Linq's `trace_id`. In
    /// ensure mode the removal is retried after an ambiguous failure (a timeout, a 5xx), and a
    /// handle that is already not an active member is [`LinqChange::AlreadyDone`].
    ///
    /// A 400/1005 ("invalid parameter", which is what the sandbox answers for a handle that is
    /// not a member or a group at its minimum size; Linq documents no code for these) is
    /// classified by reading the chat once: `NotAMember` or `GroupTooSmall`.
    ///
    /// # Errors
    /// `InvalidInput` before any request for a chat id that is not a UUID or a handle that is
    /// not a phone number or an email; otherwise Linq's error mapped by code: `ChatUnavailable`
    /// (2013: our line left the chat), `NotAGroup` (1006), `ChatNotFound` (2001),
    /// `InvalidInput` (1001, 1002), `NotAMember` / `GroupTooSmall` (1005, see above),
    /// `Unauthorized` (2004), `RateLimited` (1007), `ServerError`, ...
    pub async fn remove(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<LinqChange, Error> {
        let span = tracing::info_span!(
            "linq.remove",
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

    /// Adds `handle` to `chat`: `POST /v3/chats/{chatId}/participants` with `{"handle": ..}`.
    ///
    /// Linq queues the addition: [`LinqChange::Queued`]. In ensure mode the add is retried after an
    /// ambiguous failure, and a handle that is already an active member is
    /// [`LinqChange::AlreadyDone`] (checked only after a 400/1005, which is then classified by
    /// reading the chat once, as for [`LinqClient::remove`]).
    ///
    /// # Errors
    /// `InvalidInput` before any request for a chat id that is not a UUID or a handle that is
    /// not a phone number or an email; otherwise Linq's error mapped by code, with 1005 on a
    /// group below 3 active participants classified as `GroupTooSmall`.
    pub async fn add(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<LinqChange, Error> {
        let span = tracing::info_span!(
            "linq.add",
            chat = %chat,
            handle = %handle.redacted(),
            ensure = options.ensure,
        );
        async move {
            let op = AddParticipant::new(&self.config, chat, handle)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Leaves `chat` with our own line: `POST /v3/chats/{chatId}/leave` (no body).
    ///
    /// Linq queues it: [`LinqChange::Queued`]. Once processed, every interaction endpoint answers
    /// 409/2013 for this chat; in ensure mode that answer is [`LinqChange::AlreadyDone`] (and a
    /// leave is retried after an ambiguous failure).
    ///
    /// # Errors
    /// `InvalidInput` before any request for a chat id that is not a UUID; otherwise Linq's
    /// error mapped by code: `ChatUnavailable` (2013, outside ensure mode), `NotAGroup` (1006),
    /// `Unsupported` (2017: not an iMessage group), `GroupTooSmall` (1005 on a group below 4
    /// active participants, classified by reading the chat once), ...
    pub async fn leave_group(
        &self,
        chat: &ChatId,
        options: ChangeOptions,
    ) -> Result<LinqChange, Error> {
        let span = tracing::info_span!("linq.leave", chat = %chat, ensure = options.ensure);
        async move {
            let op = Leave::new(&self.config, chat)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Reads `chat`: `GET /v3/chats/{chatId}`. Its `handles` are the roster, each with its
    /// status; [`Chat::participants`] is the active roster.
    ///
    /// # Errors
    /// `InvalidInput` before any request for a chat id that is not a UUID; otherwise Linq's
    /// error mapped by code (`ChatNotFound`, `Unauthorized`, ...), or `Decode` for a reply that
    /// is not a chat object.
    pub async fn get_chat(&self, chat: &ChatId) -> Result<Chat, Error> {
        let span = tracing::info_span!("linq.get_chat", chat = %chat);
        async move {
            let op = GetChat::new(&self.config, chat)?;
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Polls [`LinqClient::get_chat`] until `handle` is in the `expect`ed state, turning a
    /// [`LinqChange::Queued`] into a confirmed result.
    ///
    /// Returns [`Outcome::Applied`] with the active roster once the change shows. The first
    /// read is immediate; later ones wait `initial_delay`, doubling up to `max_delay` (tokio
    /// time, so tests can pause it). For [`Expect::Left`], a 409/2013 on the read also
    /// confirms it (Linq may stop serving a chat we left); the roster is then `None`.
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`](rosterkit_core::ErrorKind::Timeout) (not retryable; the change may still be applied later) when
    /// `max_polls` reads did not show the change; `InvalidInput` for a chat id that is not a
    /// UUID; any error of the reads.
    pub async fn wait_for(
        &self,
        chat: &ChatId,
        handle: &Handle,
        expect: Expect,
        options: WaitOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!(
            "linq.wait_for",
            chat = %chat,
            handle = %handle.redacted(),
            expect = ?expect,
        );
        async move { wait::wait_for(self, chat, Target::Handle(handle, expect), options).await }
            .instrument(span)
            .await
    }

    /// Polls [`LinqClient::get_chat`] until our own line (`is_me`) has left `chat`, or a read
    /// answers 409/2013: the confirmation of a queued [`LinqClient::leave_group`] when you do
    /// not know which of your numbers is in the chat. Bounds as for [`LinqClient::wait_for`].
    ///
    /// # Errors
    /// As [`LinqClient::wait_for`].
    pub async fn wait_for_leave(
        &self,
        chat: &ChatId,
        options: WaitOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!("linq.wait_for_leave", chat = %chat);
        async move { wait::wait_for(self, chat, Target::OwnLineLeft, options).await }
            .instrument(span)
            .await
    }
}

/// Builds a [`LinqClient`]. Its `Debug` output never shows the API key.
#[derive(Debug, Clone, Default)]
pub struct LinqClientBuilder {
    base_url: Option<String>,
    api_key: Option<Secret>,
    /// HTTP client, retry policy, clock, insecure-http switch, pacing.
    options: ClientOptions,
}

impl LinqClientBuilder {
    /// A builder pre-filled through `lookup` (the environment's seam, so tests need not touch
    /// the process environment). Empty values count as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            base_url: get(ENV_BASE_URL),
            api_key: get(ENV_API_KEY).map(Secret::new),
            ..Self::default()
        }
    }

    /// Sets the API base URL (default [`DEFAULT_BASE_URL`]; the sandbox's is
    /// `http://127.0.0.1:PORT/linq/api/partner`).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the API key (bearer token) from the Linq dashboard.
    #[must_use]
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(Secret::new(api_key));
        self
    }

    rosterkit_core::client_options_setters!();

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) naming the setting (and its environment variable) that is
    /// missing or invalid: the API key, the base URL; or a missing HTTP client without the
    /// `reqwest` feature.
    pub fn build(self) -> Result<LinqClient, Error> {
        let invalid = |message: String| Error::invalid_input(message).with_provider(PROVIDER);
        let base_url = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let endpoint = Endpoint::parse_with(base_url, self.options.allows_insecure_http())
            .map_err(|e| invalid(format!("{e} (.base_url(..) or {ENV_BASE_URL})")))?;
        let api_key = self.api_key.ok_or_else(|| {
            invalid(format!(
                "missing Linq API key: call .api_key(..) or set {ENV_API_KEY}"
            ))
        })?;
        let api_key = Secret::for_header("Linq API key", api_key.expose())
            .map_err(|e| invalid(format!("{e} (.api_key(..) or {ENV_API_KEY})")))?;
        // Scrubbed from every error, should a server echo the request's `Authorization`.
        let executor = self.options.secrets([api_key.clone()]).build(PROVIDER)?;
        Ok(LinqClient {
            config: Arc::new(LinqConfig::new(endpoint, api_key)),
            executor,
        })
    }
}

impl rosterkit_core::ClientBuilder for LinqClientBuilder {
    type Client = LinqClient;

    fn base_url(self, url: impl Into<String>) -> Self {
        LinqClientBuilder::base_url(self, url)
    }

    fn client_options(self, options: ClientOptions) -> Self {
        LinqClientBuilder::client_options(self, options)
    }

    fn build(self) -> Result<LinqClient, Error> {
        LinqClientBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::ErrorKind;
    use std::collections::HashMap;

    const KEY: &str = "sk_test_0123456789abcdef";

    fn from(vars: &[(&str, &str)]) -> Result<LinqClient, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        LinqClientBuilder::from_lookup(|k| vars.get(k).cloned()).build()
    }

    #[test]
    fn env_uses_the_sdk_names_and_the_production_url() {
        let c = from(&[(ENV_API_KEY, KEY)]).unwrap();
        assert_eq!(c.base_url().as_str(), DEFAULT_BASE_URL);
        let c = from(&[
            (ENV_API_KEY, KEY),
            (ENV_BASE_URL, "http://127.0.0.1:9/linq/api/partner/"),
        ])
        .unwrap();
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9/linq/api/partner");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 4] = [
            (&[], ENV_API_KEY),
            (&[(ENV_API_KEY, "  ")], ENV_API_KEY),
            (&[(ENV_API_KEY, "two words")], ENV_API_KEY),
            (
                &[(ENV_API_KEY, KEY), (ENV_BASE_URL, "http://example.com/api")],
                ENV_BASE_URL,
            ),
        ];
        for (vars, named) in cases {
            let err = from(vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(named), "{named}: {err}");
            assert!(!err.to_string().contains("two words"), "{err}");
        }
    }

    #[test]
    fn header_safety_is_checked_without_echoing() {
        let err = LinqClient::builder()
            .api_key("leak\r\nme")
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(!err.to_string().contains("leak"), "{err}");
    }

    #[test]
    fn insecure_http_is_opt_in() {
        let b = || {
            LinqClient::builder()
                .api_key(KEY)
                .base_url("http://linq.internal/api/partner")
        };
        assert!(b().build().is_err());
        assert!(b().allow_insecure_http(true).build().is_ok());
    }

    #[test]
    fn debug_never_shows_the_key() {
        let builder = LinqClient::builder().api_key(KEY);
        let client = builder.clone().build().unwrap();
        let env = LinqClientBuilder::from_lookup(|k| (k == ENV_API_KEY).then(|| KEY.to_owned()));
        let op = crate::ops::GetChat::new(
            client.config(),
            &ChatId::new("550e8400-e29b-41d4-a716-446655440000").unwrap(),
        )
        .unwrap();
        for dbg in [
            format!("{builder:?}"),
            format!("{client:?}"),
            format!("{env:?}"),
            format!("{:?}", client.config()),
            format!("{op:?}"),
        ] {
            assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
            assert!(dbg.contains("redacted"), "{dbg}");
        }
    }
}
