//! [`ZapiClient`]: Z-API's native methods and the executor and pacer they run on.

use std::{sync::Arc, time::Duration};

use tracing::Instrument as _;

use rosterkit_core::{
    ChangeOptions, ChatId, Confirm, Endpoint, Error, Executor, Handle, Operation, Pacer, Pacing,
    redact::mask_digits,
};

use crate::{
    PROVIDER, ZapiClientBuilder,
    chat::ZapiChat,
    config::ZapiConfig,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, LeaveGroup, MetadataDetail,
        RemoveParticipants,
    },
    reply::{CommunityMetadata, GroupMetadata},
};

/// The default pause between two participant mutations of one client: 2 seconds.
pub const DEFAULT_PACING: Duration = Duration::from_secs(2);

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
///   [`Secret`](rosterkit_core::Secret)s; `Debug` never shows them, nor does a transport error's message or source.
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
    /// The client [`ZapiClientBuilder::build`] assembles.
    pub(crate) fn from_parts(
        config: Arc<ZapiConfig>,
        executor: Executor,
        pacer: Arc<Pacer>,
        confirm: Confirm,
        auto_invite: bool,
    ) -> Self {
        Self {
            config,
            executor,
            pacer,
            confirm,
            auto_invite,
        }
    }

    /// A builder with nothing set (the base URL defaults to [`DEFAULT_BASE_URL`](crate::DEFAULT_BASE_URL)).
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
        self.config.base_url()
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
    /// metadata read ([`ZapiClientBuilder::verify`], [`ClientOptions::confirm`](rosterkit_core::ClientOptions::confirm)).
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
            self.paced(&op).await.map(|_| ())
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

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::{
        Bytes, ErrorKind, HttpClient, RetryPolicy, TransportError, TransportErrorKind, async_trait,
        http,
    };
    use std::error::Error as StdError;

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
