//! [`ZapiClient`] and its builder.

use std::{sync::Arc, time::Duration};

use tracing::Instrument as _;

use rosterkit_core::{
    ChangeOptions, ChatId, ClientOptions, Clock, Confirm, Endpoint, Error, Executor, Handle,
    HttpClient, Operation, Pacer, Pacing, RetryPolicy, Secret, redact::mask_digits,
};

use crate::{
    PROVIDER,
    chat::ZapiChat,
    config::ZapiConfig,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, LeaveGroup, MetadataDetail,
        RemoveParticipants,
    },
    reply::{CommunityMetadata, GroupMetadata},
};

/// Z-API's production base URL; requests go to `{base}/instances/{id}/token/{token}/...`.
pub const DEFAULT_BASE_URL: &str = "https://api.z-api.io";

/// The default pause between two participant mutations of one client: 2 seconds.
pub const DEFAULT_PACING: Duration = Duration::from_secs(2);

const ENV_INSTANCE_ID: &str = "ZAPI_INSTANCE_ID";
const ENV_INSTANCE_TOKEN: &str = "ZAPI_INSTANCE_TOKEN";
const ENV_CLIENT_TOKEN: &str = "ZAPI_CLIENT_TOKEN";
const ENV_BASE_URL: &str = "ZAPI_BASE_URL";

/// The longest instance id or instance token accepted, in bytes.
const MAX_CREDENTIAL_LEN: usize = 256;

/// A Z-API client for one instance: native methods with Z-API's replies, and
/// [`Membership`](rosterkit_core::Membership) for provider-agnostic code.
///
/// - **Pacing.** Z-API documents no rate limit for group administration, and WhatsApp bans
///   numbers that add or remove people aggressively, so participant mutations (add, remove,
///   leave) of one client — clones included — run one at a time, at least
///   [`DEFAULT_PACING`] apart (2 s; [`ZapiClientBuilder::pacing`]). Reads are not paced. The
///   waits use tokio time, so tests with paused time run instantly.
/// - **Batches.** Add and remove send up to [`MAX_BATCH`](crate::MAX_BATCH) phones in one request.
/// - **Secrets.** The instance token (a path segment) and the `Client-Token` are kept in
///   [`Secret`]s; `Debug` never shows them, nor does a transport error's message or source.
///   Tracing spans carry chat ids with digit runs masked (old group ids embed the creator's
///   phone).
///
/// ```
/// use rosterkit_zapi::ZapiClient;
///
/// let zapi = ZapiClient::builder()
///     .instance_id("3C01A2B3C4")
///     .instance_token("TOKEN123")
///     .client_token("acct-secret")
///     .build()?;
/// assert_eq!(zapi.base_url().as_str(), "https://api.z-api.io");
/// let debug = format!("{zapi:?}");
/// assert!(!debug.contains("TOKEN123") && !debug.contains("acct-secret"));
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZapiClient {
    config: Arc<ZapiConfig>,
    executor: Executor,
    pacer: Arc<Pacer>,
    confirm: Confirm,
    auto_invite: bool,
}

impl ZapiClient {
    /// A builder with nothing set (the base URL defaults to [`DEFAULT_BASE_URL`]).
    pub fn builder() -> ZapiClientBuilder {
        ZapiClientBuilder::default()
    }

    /// A builder pre-filled from `ZAPI_INSTANCE_ID`, `ZAPI_INSTANCE_TOKEN`, `ZAPI_CLIENT_TOKEN`
    /// and `ZAPI_BASE_URL`; a missing required variable is reported by
    /// [`ZapiClientBuilder::build`], naming it. Empty variables count as unset.
    pub fn builder_from_env() -> ZapiClientBuilder {
        ZapiClientBuilder::from_lookup(|name| std::env::var(name).ok())
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
    /// [`ops`](crate::ops) yourself. Operations run this way are not paced.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The API base URL (without the instance path).
    pub fn base_url(&self) -> &Endpoint {
        self.config.endpoint()
    }

    /// The instance id.
    pub fn instance_id(&self) -> &str {
        self.config.instance_id()
    }

    /// The pacing kept between two participant mutations.
    pub fn pacing(&self) -> Pacing {
        self.pacer.pacing()
    }

    /// Whether [`Membership`](rosterkit_core::Membership) adds and removes are verified by a
    /// metadata read ([`ZapiClientBuilder::verify`], [`ClientOptions::confirm`]).
    pub fn verifies(&self) -> bool {
        self.confirm == Confirm::ReadBack
    }

    /// Whether [`Membership`](rosterkit_core::Membership) adds and removes are read back.
    pub(crate) fn confirms(&self) -> Confirm {
        self.confirm
    }

    /// The `autoInvite` flag [`Membership`](rosterkit_core::Membership) adds send
    /// ([`ZapiClientBuilder::auto_invite`]).
    pub fn auto_invite(&self) -> bool {
        self.auto_invite
    }

    /// The endpoint and credentials every operation is built from: build
    /// [`ops`](crate::ops) with it and run them with [`ZapiClient::executor`].
    pub fn config(&self) -> &Arc<ZapiConfig> {
        &self.config
    }

    /// Runs a participant mutation through the pacer.
    pub(crate) async fn paced<O: Operation>(&self, op: &O) -> Result<O::Output, Error> {
        self.pacer.run("", self.executor.execute(op)).await
    }

    /// Removes `handles` from a group or community in **one** request (`POST
    /// /remove-participant` with `{"groupId"|"communityId", "phones"}`), paced.
    ///
    /// `Ok` means Z-API answered `{"value": true}`, which is not proof: see
    /// [`ZapiClientBuilder::verify`] and [`light_group_metadata`](Self::light_group_metadata).
    /// Ensure mode only makes the call safe to retry after an ambiguous failure.
    ///
    /// # Errors
    /// `InvalidInput` before any request for a chat id of no Z-API shape, an email or non-LID
    /// native handle, no handles or more than [`MAX_BATCH`](crate::MAX_BATCH); `DeliveryFailed` (code
    /// `value_false`) for `{"value": false}` (at least one phone failed, which one is not
    /// said); `Unauthorized`, `Forbidden`, `ServerError`, ... as mapped in `specs/zapi.toml`.
    pub async fn remove(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        options: ChangeOptions,
    ) -> Result<(), Error> {
        let span = tracing::info_span!(
            "zapi.remove",
            chat = %mask_digits(chat.as_str()),
            phones = handles.len(),
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            let op = RemoveParticipants::new(&self.config, &chat, handles)?.ensure(options.ensure);
            self.paced(&op).await
        }
        .instrument(span)
        .await
    }

    /// Adds `handles` to a group or community in **one** request (`POST /add-participant` with
    /// `{"autoInvite", "groupId"|"communityId", "phones"}`), paced.
    ///
    /// With `auto_invite`, numbers WhatsApp refuses (not in the connected phone's contacts) get
    /// a private invite link instead, so `Ok` (`{"value": true}`) does not mean every phone
    /// joined. An add with `auto_invite` is never retried after an ambiguous failure, not even
    /// in ensure mode (a repeat can send the links twice).
    ///
    /// # Errors
    /// As [`remove`](Self::remove).
    pub async fn add(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        auto_invite: bool,
        options: ChangeOptions,
    ) -> Result<(), Error> {
        let span = tracing::info_span!(
            "zapi.add",
            chat = %mask_digits(chat.as_str()),
            phones = handles.len(),
            auto_invite,
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            let op = AddParticipants::new(&self.config, &chat, handles)?
                .auto_invite(auto_invite)
                .ensure(options.ensure);
            self.paced(&op).await
        }
        .instrument(span)
        .await
    }

    /// The connected number leaves a group (`POST /leave-group` with `{"groupId"}`), paced.
    ///
    /// # Errors
    /// `InvalidInput` for a chat id of no Z-API shape; `Unsupported` for a community (Z-API
    /// has no route to leave one: leave its groups); `DeliveryFailed` (`value_false`) when
    /// Z-API answers `{"value": false}`; others as mapped in `specs/zapi.toml`.
    pub async fn leave_group(&self, chat: &ChatId, options: ChangeOptions) -> Result<(), Error> {
        let span = tracing::info_span!(
            "zapi.leave",
            chat = %mask_digits(chat.as_str()),
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            let op = LeaveGroup::new(&self.config, &chat)?.ensure(options.ensure);
            self.paced(&op).await
        }
        .instrument(span)
        .await
    }

    /// A group's metadata without the invite link (`GET /light-group-metadata/{groupId}`): the
    /// roster read this crate uses, since it does not make WhatsApp fetch an invite link.
    ///
    /// # Errors
    /// `InvalidInput` for a community id (use [`roster`](Self::roster) or
    /// [`community_metadata`](Self::community_metadata)); `ChatNotFound`, `Unauthorized`, ...
    pub async fn light_group_metadata(&self, chat: &ChatId) -> Result<GroupMetadata, Error> {
        let span = tracing::info_span!(
            "zapi.light_group_metadata",
            chat = %mask_digits(chat.as_str()),
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            self.read_group(&chat, MetadataDetail::Light).await
        }
        .instrument(span)
        .await
    }

    /// A group's full metadata, with the invite link (`GET /group-metadata/{groupId}`).
    ///
    /// # Errors
    /// As [`light_group_metadata`](Self::light_group_metadata).
    pub async fn group_metadata(&self, chat: &ChatId) -> Result<GroupMetadata, Error> {
        let span = tracing::info_span!(
            "zapi.group_metadata",
            chat = %mask_digits(chat.as_str()),
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            self.read_group(&chat, MetadataDetail::Full).await
        }
        .instrument(span)
        .await
    }

    /// A community's metadata (`GET /communities-metadata/{communityId}`).
    ///
    /// # Errors
    /// `InvalidInput` for a group id; `ChatNotFound`, `Unauthorized`, ...
    pub async fn community_metadata(&self, chat: &ChatId) -> Result<CommunityMetadata, Error> {
        let span = tracing::info_span!(
            "zapi.community_metadata",
            chat = %mask_digits(chat.as_str()),
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            let op = GetCommunityMetadata::new(&self.config, &chat)?;
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// The members of a group or community, as light group metadata: a group's own; for a
    /// community, its announcement sub-group's (found through `/communities-metadata`), whose
    /// participants are the community's members.
    ///
    /// # Errors
    /// `Unsupported` for a community whose metadata lists no announcement sub-group; otherwise
    /// as [`light_group_metadata`](Self::light_group_metadata) and
    /// [`community_metadata`](Self::community_metadata).
    pub async fn roster(&self, chat: &ChatId) -> Result<GroupMetadata, Error> {
        let span = tracing::info_span!(
            "zapi.roster",
            chat = %mask_digits(chat.as_str()),
        );
        async move {
            let chat = ZapiChat::from_chat_id(chat)?;
            self.roster_of(&chat).await
        }
        .instrument(span)
        .await
    }

    pub(crate) async fn read_group(
        &self,
        chat: &ZapiChat,
        detail: MetadataDetail,
    ) -> Result<GroupMetadata, Error> {
        let op = GetGroupMetadata::new(&self.config, chat)?.detail(detail);
        self.executor.execute(&op).await
    }

    pub(crate) async fn roster_of(&self, chat: &ZapiChat) -> Result<GroupMetadata, Error> {
        if !chat.is_community() {
            return self.read_group(chat, MetadataDetail::Light).await;
        }
        let op = GetCommunityMetadata::new(&self.config, chat)?;
        let community = self.executor.execute(&op).await?;
        let Some(announcement) = community.announcement_group() else {
            return Err(Error::unsupported(
                "the community's metadata lists no announcement sub-group (subGroups[].isGroupAnnouncement), whose participants are its members: its roster cannot be read",
            )
            .with_provider(PROVIDER)
            .with_operation("community_metadata"));
        };
        let group = ZapiChat::group(&announcement.phone)?;
        self.read_group(&group, MetadataDetail::Light).await
    }
}

/// Builds a [`ZapiClient`]. Its `Debug` output never shows the instance token or the
/// `Client-Token`.
#[derive(Debug, Clone, Default)]
pub struct ZapiClientBuilder {
    base_url: Option<String>,
    instance_id: Option<String>,
    instance_token: Option<Secret>,
    client_token: Option<Secret>,
    /// HTTP client, retry policy, clock, insecure-http switch, pacing.
    options: ClientOptions,
    auto_invite: bool,
}

impl ZapiClientBuilder {
    /// A builder pre-filled through `lookup` (the environment's seam, so tests need not touch
    /// the process environment). Empty values count as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            base_url: get(ENV_BASE_URL),
            instance_id: get(ENV_INSTANCE_ID),
            instance_token: get(ENV_INSTANCE_TOKEN).map(Secret::new),
            client_token: get(ENV_CLIENT_TOKEN).map(Secret::new),
            ..Self::default()
        }
    }

    /// Sets the API base URL (default [`DEFAULT_BASE_URL`]; the sandbox's is
    /// `http://127.0.0.1:PORT/zapi`).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the instance id (a path segment).
    #[must_use]
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// Sets the instance token (a path segment, kept secret).
    #[must_use]
    pub fn instance_token(mut self, token: impl Into<String>) -> Self {
        self.instance_token = Some(Secret::new(token));
        self
    }

    /// Sets the account security token, sent as the `Client-Token` header on every request.
    #[must_use]
    pub fn client_token(mut self, token: impl Into<String>) -> Self {
        self.client_token = Some(Secret::new(token));
        self
    }

    /// Replaces the embedded [`ClientOptions`] (transport, retry policy, clock, insecure-http
    /// switch, pacing) in one call; the setters below change one of them.
    #[must_use]
    pub fn client_options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the retry policy (default [`RetryPolicy::default`]). Only failures the table marks
    /// retryable are retried, and a mutation after an ambiguous failure only in ensure mode.
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options = self.options.retry_policy(policy);
        self
    }

    /// Sets the HTTP client (default: a [`ReqwestClient`](rosterkit_core::ReqwestClient) with
    /// the `reqwest` feature; required without it).
    #[must_use]
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.options = self.options.http_client(client);
        self
    }

    /// Sets the clock of the executor (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.options = self.options.clock(clock);
        self
    }

    /// Allows a plain `http://` base URL to a host that is not loopback (default: refused).
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.options = self.options.allow_insecure_http(allow);
        self
    }

    /// Verify [`Membership`](rosterkit_core::Membership) adds and removes (default off): after
    /// each batch, read the light group metadata and report each phone `Applied` (with the
    /// roster) when it reached the requested state, or a failure when it did not, instead of
    /// `Unconfirmed`. Costs one read per batch.
    #[must_use]
    pub fn verify(mut self, verify: bool) -> Self {
        let confirm = if verify {
            Confirm::ReadBack
        } else {
            Confirm::Trust
        };
        self.options = self.options.confirm(confirm);
        self
    }

    /// The `autoInvite` flag of [`Membership`](rosterkit_core::Membership) adds (default
    /// `false`; always sent explicitly). With `true`, numbers WhatsApp refuses get an invite
    /// link instead, and such adds are never retried after an ambiguous failure.
    #[must_use]
    pub fn auto_invite(mut self, auto_invite: bool) -> Self {
        self.auto_invite = auto_invite;
        self
    }

    /// The pacing of the client's participant mutations, which always run one at a time
    /// (default one per [`DEFAULT_PACING`], 2 s, counted from the end of the previous one;
    /// `Duration::ZERO` or [`Pacing::off`] only serialises them).
    #[must_use]
    pub fn pacing(mut self, pacing: impl Into<Pacing>) -> Self {
        self.options = self.options.pacing(pacing);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) naming the setting (and its environment variable) that is
    /// missing or invalid: the instance id, the instance token (non-empty, no control
    /// characters, at most 256 bytes), the `Client-Token` (header-safe), the base URL; or a
    /// missing HTTP client without the `reqwest` feature. Messages never show a secret.
    pub fn build(self) -> Result<ZapiClient, Error> {
        let invalid = |message: String| Error::invalid_input(message).with_provider(PROVIDER);
        let base_url = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let endpoint = Endpoint::parse_with(base_url, self.options.allows_insecure_http())
            .map_err(|e| invalid(format!("{e} (.base_url(..) or {ENV_BASE_URL})")))?;
        let instance_id = self.instance_id.ok_or_else(|| {
            invalid(format!(
                "missing Z-API instance id: call .instance_id(..) or set {ENV_INSTANCE_ID}"
            ))
        })?;
        check_path_credential("Z-API instance id", &instance_id)
            .map_err(|why| invalid(format!("{why} (.instance_id(..) or {ENV_INSTANCE_ID})")))?;
        let token = self.instance_token.ok_or_else(|| {
            invalid(format!(
                "missing Z-API instance token: call .instance_token(..) or set {ENV_INSTANCE_TOKEN}"
            ))
        })?;
        check_path_credential("Z-API instance token", token.expose()).map_err(|why| {
            invalid(format!(
                "{why} (.instance_token(..) or {ENV_INSTANCE_TOKEN})"
            ))
        })?;
        let client_token = self.client_token.ok_or_else(|| {
            invalid(format!(
                "missing Z-API Client-Token (the account security token): call .client_token(..) or set {ENV_CLIENT_TOKEN}"
            ))
        })?;
        let client_token = Secret::for_header("Z-API Client-Token", client_token.expose())
            .map_err(|e| invalid(format!("{e} (.client_token(..) or {ENV_CLIENT_TOKEN})")))?;

        // A server echoing the request would show these (the id and token are in the URL
        // path); the executor scrubs them, in any transport failure too.
        let options = self.options.secrets([
            Secret::new(instance_id.clone()),
            token.clone(),
            client_token.clone(),
        ]);
        let pacer = Arc::new(Pacer::serial(&options.pacing_or(DEFAULT_PACING.into())));
        let confirm = options.confirms();
        let executor = options.build(PROVIDER)?;
        Ok(ZapiClient {
            config: Arc::new(ZapiConfig::new(endpoint, instance_id, &token, client_token)),
            executor,
            pacer,
            confirm,
            auto_invite: self.auto_invite,
        })
    }
}

/// Instance id and token travel as path segments (percent-encoded): non-empty, no control
/// characters, bounded. The message never shows the value.
fn check_path_credential(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("invalid {what}: must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "invalid {what}: must not contain control characters (CR, LF, NUL, TAB, ...)"
        ));
    }
    if value.len() > MAX_CREDENTIAL_LEN {
        return Err(format!(
            "invalid {what}: must be at most {MAX_CREDENTIAL_LEN} bytes, got {}",
            value.len()
        ));
    }
    // URL parsers drop a `.` or `..` segment even when percent-encoded, so every request would
    // go to another route.
    if value == "." || value == ".." {
        return Err(format!("invalid {what}: must not be \".\" or \"..\""));
    }
    Ok(())
}

/// Test helpers: a builder that needs no real HTTP client, so unit tests run with or without
/// the `reqwest` feature.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use rosterkit_core::{Bytes, TransportError, async_trait, http};

    /// An HTTP client that never connects.
    #[derive(Debug)]
    pub(crate) struct Offline;

    #[async_trait]
    impl HttpClient for Offline {
        async fn send(
            &self,
            _request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, TransportError> {
            Err(TransportError::new(
                rosterkit_core::TransportErrorKind::Connect,
                "offline",
            ))
        }
    }

    /// `ZapiClient::builder()` with the offline client.
    pub(crate) fn builder() -> ZapiClientBuilder {
        ZapiClient::builder().http_client(Arc::new(Offline))
    }
}

impl rosterkit_core::ClientBuilder for ZapiClientBuilder {
    type Client = ZapiClient;

    fn base_url(self, url: impl Into<String>) -> Self {
        ZapiClientBuilder::base_url(self, url)
    }

    fn client_options(self, options: ClientOptions) -> Self {
        ZapiClientBuilder::client_options(self, options)
    }

    fn build(self) -> Result<ZapiClient, Error> {
        ZapiClientBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::{Bytes, ErrorKind, TransportError, TransportErrorKind, async_trait, http};
    use std::{collections::HashMap, error::Error as StdError};

    fn from(vars: &[(&str, &str)]) -> Result<ZapiClient, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ZapiClientBuilder::from_lookup(|k| vars.get(k).cloned())
            .http_client(Arc::new(testing::Offline))
            .build()
    }

    const ALL: [(&str, &str); 3] = [
        (ENV_INSTANCE_ID, "3C01A2B3C4"),
        (ENV_INSTANCE_TOKEN, "TOKEN123"),
        (ENV_CLIENT_TOKEN, "acct-secret"),
    ];

    #[test]
    fn env_defaults_and_every_variable() {
        let c = from(&ALL).unwrap();
        assert_eq!(c.base_url().as_str(), DEFAULT_BASE_URL);
        assert_eq!(c.instance_id(), "3C01A2B3C4");
        assert_eq!(c.pacing(), Pacing::from(DEFAULT_PACING));
        assert!(!c.verifies() && !c.auto_invite());
        assert_eq!(
            c.config().url("/remove-participant"),
            "https://api.z-api.io/instances/3C01A2B3C4/token/TOKEN123/remove-participant"
        );
        let mut vars = ALL.to_vec();
        vars.push((ENV_BASE_URL, "http://127.0.0.1:9/zapi/"));
        let c = from(&vars).unwrap();
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9/zapi");
    }

    #[test]
    fn env_errors_name_the_variable_and_never_the_secret() {
        for missing in [ENV_INSTANCE_ID, ENV_INSTANCE_TOKEN, ENV_CLIENT_TOKEN] {
            let vars: Vec<_> = ALL.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = from(&vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(missing), "{err}");
            let mut empty = vars.clone();
            empty.push((missing, "  "));
            assert!(from(&empty).unwrap_err().to_string().contains(missing));
        }
        let bad: [(&str, &str); 4] = [
            (ENV_INSTANCE_ID, "3C01\nA2"),
            (ENV_INSTANCE_TOKEN, "TOK\rEN123"),
            (ENV_CLIENT_TOKEN, "acct secret"),
            (ENV_BASE_URL, "http://example.com"),
        ];
        for (name, value) in bad {
            let mut vars = ALL.to_vec();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, value));
            let err = from(&vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}");
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(!err.to_string().contains("EN123"), "{err}");
            assert!(!err.to_string().contains("acct"), "{err}");
        }
        let long = "t".repeat(300);
        let mut vars = ALL.to_vec();
        vars[1] = (ENV_INSTANCE_TOKEN, &long);
        assert!(from(&vars).unwrap_err().to_string().contains("256"));
    }

    #[test]
    fn dot_segments_are_refused_as_path_credentials() {
        for (id, token) in [(".", "t"), ("..", "t"), ("i", "."), ("i", "..")] {
            let err = testing::builder()
                .instance_id(id)
                .instance_token(token)
                .client_token("ct")
                .build()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id} {token}");
            assert!(err.to_string().contains("must not be"), "{err}");
        }
        assert!(
            testing::builder()
                .instance_id("...")
                .instance_token("a.b")
                .client_token("ct")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn path_credentials_are_percent_encoded() {
        let c = testing::builder()
            .instance_id("a/b c")
            .instance_token("t?k#n%")
            .client_token("ct")
            .build()
            .unwrap();
        assert_eq!(
            c.config().url("/leave-group"),
            "https://api.z-api.io/instances/a%2Fb%20c/token/t%3Fk%23n%25/leave-group"
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let builder = testing::builder()
            .instance_id("3C01A2B3C4")
            .instance_token("TOKEN123")
            .client_token("acct-secret");
        let client = builder.clone().build().unwrap();
        let env = ZapiClientBuilder::from_lookup(|k| {
            ALL.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        });
        for dbg in [
            format!("{builder:?}"),
            format!("{client:?}"),
            format!("{env:?}"),
            format!("{:?}", client.config()),
            format!("{:?}", client.executor()),
        ] {
            assert!(!dbg.contains("TOKEN123"), "{dbg}");
            assert!(!dbg.contains("acct-secret"), "{dbg}");
            assert!(dbg.contains("redacted"), "{dbg}");
        }
    }

    #[test]
    fn insecure_http_is_opt_in() {
        let b = || {
            testing::builder()
                .instance_id("i")
                .instance_token("t")
                .client_token("c")
                .base_url("http://zapi.internal")
        };
        assert!(b().build().is_err());
        assert!(b().allow_insecure_http(true).build().is_ok());
    }

    #[cfg(not(feature = "reqwest"))]
    #[test]
    fn without_reqwest_an_http_client_is_required() {
        let err = ZapiClient::builder()
            .instance_id("i")
            .instance_token("t")
            .client_token("c")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("http_client"), "{err}");
    }

    #[derive(Debug)]
    struct Leaky;

    #[async_trait]
    impl HttpClient for Leaky {
        async fn send(
            &self,
            request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, TransportError> {
            let cause = std::io::Error::other(format!(
                "error sending request for url ({}) with client-token acct-secret",
                request.uri()
            ));
            Err(TransportError::new(TransportErrorKind::Io, "connection broke").with_source(cause))
        }
    }

    #[tokio::test]
    async fn transport_errors_never_carry_secrets() {
        let client = ZapiClient::builder()
            .instance_id("3C01A2B3C4")
            .instance_token("TOKEN+123")
            .client_token("acct-secret")
            .http_client(Arc::new(Leaky))
            .retry_policy(RetryPolicy::no_retries())
            .build()
            .unwrap();
        let chat = ChatId::new("120363019502650977-group").unwrap();
        let err = client.light_group_metadata(&chat).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport);
        let mut texts = vec![err.to_string(), format!("{err:?}")];
        let mut source = StdError::source(&err);
        while let Some(cause) = source {
            texts.push(cause.to_string());
            source = cause.source();
        }
        assert!(texts.len() >= 3, "{texts:?}");
        for text in &texts {
            assert!(!text.contains("TOKEN"), "{text}");
            assert!(!text.contains("acct-secret"), "{text}");
        }
        assert!(texts.iter().any(|t| t.contains("redacted")), "{texts:?}");
    }
}
