//! [`AcsClient`] and its builder.

use std::{sync::Arc, time::Duration};

use tracing::Instrument as _;

use rosterkit_core::{
    ChangeOptions, ChatId, ClientOptions, Endpoint, Error, Executor, NativeId, Operation, Outcome,
    Pacer, Pacing, Rate, Secret,
};

use crate::auth::{Credential, TokenMinter, raw_id_from_token};
use crate::generated::PROVIDER;
use crate::identifier::CommunicationIdentifier;
use crate::model::{AccessKey, AddChatParticipantsResult, ChatParticipant};
use crate::ops::{
    AddParticipants, ChatContext, DEFAULT_API_VERSION, ListParticipants, MAX_ADD_BATCH, Removal,
    RemoveParticipant, check_thread_id,
};
use crate::wire::MAX_PARTICIPANTS;

/// The documented per-thread limit of adds and removes, the default pacing: at most 10 in any
/// 10 s and 30 in any 60 s (a sustained rate of one every 2 s).
///
/// ```
/// use std::time::Duration;
/// use rosterkit_acs::documented_pacing;
/// assert_eq!(documented_pacing().rates().len(), 2);
/// assert_eq!(documented_pacing().rates()[1].interval(), Duration::from_secs(2));
/// ```
pub fn documented_pacing() -> Pacing {
    Pacing::off()
        .with_rate(Rate::new(10, Duration::from_secs(10)))
        .with_rate(Rate::new(30, Duration::from_secs(60)))
}

/// The default bound on the pages one listing follows: a thread holds at most 250
/// participants, so this covers any page size and still stops a `nextLink` that never ends.
pub const DEFAULT_MAX_PAGES: u32 = 300;

/// The Azure Communication Services Chat client: participant operations on chat threads, as a
/// user (a bearer user access token, given or minted with the resource access key).
///
/// Cheap to clone (clones share the token cache and the pacing state).
///
/// Configuration from the environment ([`AcsClient::from_env`]):
///
/// | variable | meaning |
/// |---|---|
/// | `ACS_ENDPOINT` + `ACS_USER_TOKEN` | the resource endpoint and a user access token |
/// | `ACS_CONNECTION_STRING` + `ACS_USER_ID` | or `endpoint=...;accesskey=...` and the user (`8:acs:...`) to mint chat tokens for |
/// | `ACS_API_VERSION` | the Chat API version, default `2025-03-15` |
///
/// `ACS_USER_ID` also names our own identity for [`leave`](rosterkit_core::Membership::leave);
/// without it, the user token's `skypeid` claim is used.
#[derive(Debug, Clone)]
pub struct AcsClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    endpoint: Endpoint,
    api_version: String,
    credential: Credential,
    own_identity: Option<CommunicationIdentifier>,
    executor: Executor,
    pacer: Option<Pacer>,
    page_size: Option<u32>,
    max_pages: u32,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_provider(PROVIDER)
}

impl AcsClient {
    /// A builder with nothing set.
    pub fn builder() -> AcsClientBuilder {
        AcsClientBuilder::default()
    }

    /// A builder pre-filled from `ACS_ENDPOINT`, `ACS_USER_TOKEN`, `ACS_CONNECTION_STRING`,
    /// `ACS_USER_ID` and `ACS_API_VERSION`; a missing setting is reported by
    /// [`build`](AcsClientBuilder::build), naming the variable.
    pub fn builder_from_env() -> AcsClientBuilder {
        AcsClientBuilder::from_lookup(|name| std::env::var(name).ok())
    }

    /// A client configured from the environment (see the type's docs).
    ///
    /// # Errors
    /// `InvalidInput` naming the missing or invalid variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env().build()
    }

    /// The executor the client runs operations with (retry policy, clock, transport).
    pub fn executor(&self) -> &Executor {
        &self.inner.executor
    }

    /// The resource endpoint (the API base URL).
    pub fn base_url(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The Chat API version sent.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// Our own identity (removed by `leave`): `ACS_USER_ID` / [`AcsClientBuilder::user_id`], or
    /// the user token's `skypeid` claim; `None` when neither is known.
    pub fn own_identity(&self) -> Option<&CommunicationIdentifier> {
        self.inner.own_identity.as_ref()
    }

    /// A context for running [`ops`](crate::ops) yourself: the endpoint, API version and a
    /// current user token (minted first when the client mints tokens).
    ///
    /// # Errors
    /// The token call's error when a token has to be minted.
    pub async fn chat_context(&self) -> Result<ChatContext, Error> {
        let token = self.inner.credential.token(&self.inner.executor).await?;
        Ok(self.context(token))
    }

    fn context(&self, token: Secret) -> ChatContext {
        ChatContext::new(self.inner.endpoint.clone(), token)
            .with_api_version(self.inner.api_version.clone())
            .with_renewal(self.inner.credential.renewal())
    }

    /// Runs the operation `make` builds for a context (a current token; after a 401 with a
    /// minted token, the executor mints a new one and sends the operation once more, through
    /// the operation's `on_failure`).
    async fn run<O, F>(&self, make: F) -> Result<O::Output, Error>
    where
        O: Operation,
        F: Fn(ChatContext) -> O + Send + Sync,
    {
        let inner = &self.inner;
        let token = inner.credential.token(&inner.executor).await?;
        inner.executor.execute(&make(self.context(token))).await
    }

    async fn pace(&self, thread: &ChatId) {
        if let Some(pacer) = &self.inner.pacer {
            pacer.acquire(thread.as_str()).await;
        }
    }

    /// Removes `participant` from `thread`: `Applied` on 204 (also for a non-member: ACS does
    /// not tell); an unknown thread is `ChatNotFound`. With `options.ensure`, after an
    /// ambiguous failure (5xx, timeout, broken connection) the thread is listed before the call
    /// is repeated: absent → `AlreadyDone`.
    /// Without ensure an ambiguous failure is returned as is (remove is not documented as
    /// idempotent). Paced per thread.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed thread id (nothing sent); the service's error otherwise.
    pub async fn remove(
        &self,
        thread: &ChatId,
        participant: &CommunicationIdentifier,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!("acs.remove", thread = %thread);
        async move {
            self.remove_inner(thread, participant, options, Removal::Participant)
                .await
        }
        .instrument(span)
        .await
    }

    /// Leaves `thread`: removes our own identity ([`own_identity`](Self::own_identity)). In
    /// ensure mode a 403 (self-removal is always allowed, so we are most likely out) is
    /// settled by listing the thread: a 403 there too, or our identity absent, is
    /// `AlreadyDone`.
    ///
    /// # Errors
    /// `InvalidInput` when our identity is unknown (set `ACS_USER_ID` or
    /// [`AcsClientBuilder::user_id`]) or the thread id is malformed; the service's error
    /// otherwise.
    pub async fn leave_group(
        &self,
        thread: &ChatId,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!("acs.leave", thread = %thread);
        async move {
            let me = self.inner.own_identity.clone().ok_or_else(|| {
                invalid(
                    "leave removes our own identity from the thread, and it is unknown: set ACS_USER_ID \
                     (or call AcsClientBuilder::user_id) to our 8:acs:... raw id, or use a user token \
                     whose JWT carries a skypeid claim",
                )
            })?;
            self.remove_inner(thread, &me, options, Removal::Leave).await
        }
        .instrument(span)
        .await
    }

    /// The former name of [`leave_group`](Self::leave_group).
    ///
    /// # Errors
    /// As [`leave_group`](Self::leave_group).
    #[deprecated(note = "renamed `leave_group`, as on the other providers' clients")]
    pub async fn leave_thread(
        &self,
        thread: &ChatId,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.leave_group(thread, options).await
    }

    async fn remove_inner(
        &self,
        thread: &ChatId,
        participant: &CommunicationIdentifier,
        options: ChangeOptions,
        removal: Removal,
    ) -> Result<Outcome, Error> {
        check_thread_id(thread)?;
        self.pace(thread).await;
        self.run(|ctx| {
            RemoveParticipant::new(ctx, thread.clone(), participant.clone())
                .ensure(options.ensure)
                .removal(removal)
        })
        .await
    }

    /// Adds participants, in calls of at most 200 (paced per thread). Adding an existing
    /// participant changes nothing (the call is idempotent, and retried as such).
    ///
    /// Several calls are made for more than 200 participants; if one fails, the calls before it
    /// took effect and the error is returned (running the add again is safe).
    ///
    /// # Errors
    /// `InvalidInput` for a malformed thread id or an empty list (nothing sent); the service's
    /// error otherwise. Participants the service refused are in the result, not an error.
    pub async fn add(
        &self,
        thread: &ChatId,
        participants: &[ChatParticipant],
    ) -> Result<AddChatParticipantsResult, Error> {
        let span = tracing::info_span!("acs.add", thread = %thread, count = participants.len());
        async move {
            check_thread_id(thread)?;
            if participants.is_empty() {
                return Err(invalid("an add needs at least one participant"));
            }
            let mut result = AddChatParticipantsResult::default();
            for batch in participants.chunks(MAX_ADD_BATCH) {
                let part = self.add_batch(thread, batch).await?;
                result
                    .invalid_participants
                    .extend(part.invalid_participants);
            }
            Ok(result)
        }
        .instrument(span)
        .await
    }

    /// One add call of at most [`MAX_ADD_BATCH`] participants, paced.
    pub(crate) async fn add_batch(
        &self,
        thread: &ChatId,
        batch: &[ChatParticipant],
    ) -> Result<AddChatParticipantsResult, Error> {
        self.pace(thread).await;
        self.run(|ctx| AddParticipants::new(ctx, thread.clone(), batch.to_vec()))
            .await
    }

    /// Every participant of `thread`, following `nextLink` page after page (only to the
    /// endpoint's own scheme, host and port), at most [`AcsClientBuilder::max_pages`] pages.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed thread id; `Forbidden` ("refused to follow nextLink to
    /// another host") for a `nextLink` elsewhere; `Decode` when the pages do not end; the
    /// service's error otherwise.
    pub async fn list(&self, thread: &ChatId) -> Result<Vec<ChatParticipant>, Error> {
        let span = tracing::info_span!("acs.list", thread = %thread);
        async move {
            check_thread_id(thread)?;
            let page_size = self.inner.page_size;
            let mut participants = Vec::new();
            let mut next: Option<String> = None;
            for _ in 0..self.inner.max_pages {
                let page = match &next {
                    None => {
                        self.run(|ctx| ListParticipants::page(ctx, thread.clone(), page_size, None))
                            .await?
                    }
                    Some(link) => {
                        self.run(|ctx| ListParticipants::next_page(ctx, link.clone()))
                            .await?
                    }
                };
                participants.extend(page.participants);
                if participants.len() > MAX_PARTICIPANTS {
                    return Err(Error::decode(format!(
                        "the participant list holds more than {MAX_PARTICIPANTS} participants (a thread holds at most 250)"
                    ))
                    .with_provider(PROVIDER)
                    .with_operation("list_participants"));
                }
                match page.next_link {
                    None => return Ok(participants),
                    Some(link) if next.as_deref() == Some(link.as_str()) => {
                        return Err(Error::decode(
                            "the participant list's nextLink points at the same page again",
                        )
                        .with_provider(PROVIDER));
                    }
                    Some(link) => next = Some(link),
                }
            }
            Err(Error::decode(format!(
                "the participant list did not end within {} pages",
                self.inner.max_pages
            ))
            .with_provider(PROVIDER))
        }
        .instrument(span)
        .await
    }
}

/// Builds an [`AcsClient`]. `Debug` never shows a token, key or connection string.
#[derive(Debug, Clone)]
pub struct AcsClientBuilder {
    base_url: Option<String>,
    user_token: Option<Secret>,
    connection_string: Option<Secret>,
    access_key: Option<Secret>,
    user_id: Option<String>,
    api_version: Option<String>,
    token_lifetime_minutes: u32,
    /// HTTP client, retry policy, clock, insecure-http switch, pacing.
    options: ClientOptions,
    page_size: Option<u32>,
    max_pages: u32,
}

impl Default for AcsClientBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            user_token: None,
            connection_string: None,
            access_key: None,
            user_id: None,
            api_version: None,
            token_lifetime_minutes: 60,
            options: ClientOptions::default(),
            page_size: None,
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

/// The parts of `endpoint=...;accesskey=...`.
struct ConnectionString {
    endpoint: String,
    access_key: Secret,
}

/// Parses a connection string: `;`-separated `key=value` pairs, keys without regard to case,
/// empty parts (a trailing `;`) and unknown keys ignored. Messages never echo the text.
fn parse_connection_string(text: &str) -> Result<ConnectionString, Error> {
    let mut endpoint = None;
    let mut access_key = None;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(invalid(
                "ACS_CONNECTION_STRING must be endpoint=https://<resource>.communication.azure.com/;accesskey=<base64>: a part has no '='",
            ));
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "endpoint" => endpoint = Some(value.trim().to_owned()),
            "accesskey" => access_key = Some(Secret::new(value.trim())),
            _ => {}
        }
    }
    match (endpoint, access_key) {
        (Some(endpoint), Some(access_key)) if !endpoint.is_empty() => Ok(ConnectionString {
            endpoint,
            access_key,
        }),
        (None | Some(_), Some(_)) => Err(invalid("ACS_CONNECTION_STRING has no endpoint=...")),
        (_, None) => Err(invalid("ACS_CONNECTION_STRING has no accesskey=...")),
    }
}

impl AcsClientBuilder {
    /// Reads the `ACS_*` variables through `lookup` (empty values count as unset).
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            base_url: get("ACS_ENDPOINT"),
            user_token: get("ACS_USER_TOKEN").map(Secret::new),
            connection_string: get("ACS_CONNECTION_STRING").map(Secret::new),
            user_id: get("ACS_USER_ID"),
            api_version: get("ACS_API_VERSION"),
            ..Self::default()
        }
    }

    /// The resource endpoint, `https://<resource>.communication.azure.com` (overrides
    /// `ACS_ENDPOINT` and the connection string's endpoint).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A user access token for the chat calls (`ACS_USER_TOKEN`). Takes precedence over minting.
    #[must_use]
    pub fn user_token(mut self, token: impl Into<String>) -> Self {
        self.user_token = Some(Secret::new(token.into()));
        self
    }

    /// `endpoint=...;accesskey=...` (`ACS_CONNECTION_STRING`): the endpoint (unless
    /// [`base_url`](Self::base_url) is set) and the access key to mint tokens with.
    #[must_use]
    pub fn connection_string(mut self, connection_string: impl Into<String>) -> Self {
        self.connection_string = Some(Secret::new(connection_string.into()));
        self
    }

    /// The base64 access key to mint tokens with (instead of a connection string).
    #[must_use]
    pub fn access_key(mut self, access_key: impl Into<String>) -> Self {
        self.access_key = Some(Secret::new(access_key.into()));
        self
    }

    /// Our user's raw id, `8:acs:...` (`ACS_USER_ID`): the user tokens are minted for, and the
    /// identity `leave` removes.
    #[must_use]
    pub fn user_id(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// The Chat API version (`ACS_API_VERSION`, default `2025-03-15`).
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// The lifetime asked for minted tokens, 60 to 1440 minutes (default 60).
    #[must_use]
    pub fn token_lifetime_minutes(mut self, minutes: u32) -> Self {
        self.token_lifetime_minutes = minutes;
        self
    }

    rosterkit_core::client_options_setters!();

    /// Client-side pacing of adds and removes per thread (default [`documented_pacing`];
    /// [`Pacing::off`] to disable).
    #[must_use]
    pub fn pacing(mut self, pacing: impl Into<Pacing>) -> Self {
        self.options = self.options.pacing(pacing);
        self
    }

    /// The `maxPageSize` of listings (default: none sent, the service decides).
    #[must_use]
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    /// The most pages one listing follows (default [`DEFAULT_MAX_PAGES`], 300).
    #[must_use]
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages.max(1);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// `InvalidInput` naming the missing or invalid setting (and its environment variable).
    pub fn build(self) -> Result<AcsClient, Error> {
        let connection = self
            .connection_string
            .as_ref()
            .map(|cs| parse_connection_string(cs.expose()))
            .transpose()?;
        let endpoint_text = self
            .base_url
            .clone()
            .or_else(|| connection.as_ref().map(|c| c.endpoint.clone()))
            .ok_or_else(|| {
                invalid(
                    "ACS needs the resource endpoint: set ACS_ENDPOINT (or ACS_CONNECTION_STRING), \
                     or call AcsClientBuilder::base_url",
                )
            })?;
        let endpoint = Endpoint::parse_with(&endpoint_text, self.options.allows_insecure_http())
            .map_err(|e| invalid(format!("ACS_ENDPOINT: {e}")).with_source(e))?;
        let api_version = self
            .api_version
            .clone()
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned());
        if api_version.is_empty()
            || !api_version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(invalid(
                "ACS_API_VERSION must look like 2025-03-15 (letters, digits, '-', '.', '_')",
            ));
        }
        let user_id = match &self.user_id {
            Some(id) => Some(
                NativeId::new(id.trim())
                    .map_err(|e| invalid(format!("ACS_USER_ID: {e}")).with_source(e))?,
            ),
            None => None,
        };
        let access_key = self
            .access_key
            .clone()
            .or_else(|| connection.map(|c| c.access_key));
        // The credential text the executor scrubs from every error (a server echoing the
        // request would show a user token; the access key never travels, but is the root).
        let mut secrets = Vec::new();
        let credential = if let Some(token) = &self.user_token {
            let token = Secret::for_header("ACS_USER_TOKEN", token.expose().trim())
                .map_err(|e| invalid(e.to_string()).with_source(e))?;
            secrets.push(token.clone());
            Credential::UserToken(token)
        } else if let Some(key) = access_key {
            secrets.push(key.clone());
            let key = AccessKey::from_base64(key.expose())?;
            let user = user_id.as_ref().ok_or_else(|| {
                invalid(
                    "minting a chat token needs the user it is for: set ACS_USER_ID (8:acs:...) \
                     or call AcsClientBuilder::user_id",
                )
            })?;
            if !(60..=1440).contains(&self.token_lifetime_minutes) {
                return Err(invalid(
                    "the token lifetime must be 60 to 1440 minutes (AcsClientBuilder::token_lifetime_minutes)",
                ));
            }
            Credential::Minted(Arc::new(TokenMinter::new(
                endpoint.clone(),
                key,
                user.as_str().to_owned(),
                self.token_lifetime_minutes,
            )))
        } else {
            return Err(invalid(
                "ACS needs credentials: set ACS_USER_TOKEN (with ACS_ENDPOINT), or \
                 ACS_CONNECTION_STRING and ACS_USER_ID; or call AcsClientBuilder::user_token, \
                 or ::connection_string and ::user_id",
            ));
        };
        let own_identity = match (&user_id, &credential) {
            (Some(id), _) => Some(CommunicationIdentifier::from_raw_id(id.as_str())),
            (None, Credential::UserToken(token)) => raw_id_from_token(token.expose())
                .map(|raw| CommunicationIdentifier::from_raw_id(&raw)),
            (None, Credential::Minted(_)) => None,
        };
        let pacer = Pacer::new(&self.options.pacing_or(documented_pacing()));
        let executor = self.options.secrets(secrets).build(PROVIDER)?;
        Ok(AcsClient {
            inner: Arc::new(Inner {
                endpoint,
                api_version,
                credential,
                own_identity,
                executor,
                pacer,
                page_size: self.page_size,
                max_pages: self.max_pages,
            }),
        })
    }
}

impl rosterkit_core::ClientBuilder for AcsClientBuilder {
    type Client = AcsClient;

    fn base_url(self, url: impl Into<String>) -> Self {
        AcsClientBuilder::base_url(self, url)
    }

    fn client_options(self, options: ClientOptions) -> Self {
        AcsClientBuilder::client_options(self, options)
    }

    fn build(self) -> Result<AcsClient, Error> {
        AcsClientBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::ErrorKind;
    use std::collections::HashMap;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn from(vars: &[(&str, &str)]) -> AcsClientBuilder {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AcsClientBuilder::from_lookup(move |k| map.get(k).cloned())
    }

    #[test]
    fn connection_strings() {
        for text in [
            format!("endpoint=https://contoso.communication.azure.com/;accesskey={KEY}"),
            format!("Endpoint=https://contoso.communication.azure.com/;AccessKey={KEY};"),
            format!(" ENDPOINT = https://contoso.communication.azure.com/ ; accessKey={KEY} ;; "),
            format!("accesskey={KEY};endpoint=https://contoso.communication.azure.com;other=x"),
        ] {
            let cs = parse_connection_string(&text).unwrap();
            assert!(
                cs.endpoint
                    .starts_with("https://contoso.communication.azure.com"),
                "{text}"
            );
            assert_eq!(cs.access_key.expose(), KEY);
        }
        for (text, expected) in [
            ("endpoint=https://x.com", "no accesskey"),
            (&format!("accesskey={KEY}") as &str, "no endpoint"),
            (&format!("endpoint=;accesskey={KEY}"), "no endpoint"),
            ("endpoint=https://x.com;garbage", "has no '='"),
        ] {
            let err = parse_connection_string(text).err().unwrap();
            assert!(err.to_string().contains(expected), "{err}");
            assert!(!err.to_string().contains("AAEC"), "{err}");
        }
    }

    #[test]
    fn env_user_token() {
        let client = from(&[
            ("ACS_ENDPOINT", "https://contoso.communication.azure.com/"),
            ("ACS_USER_TOKEN", "tok"),
        ])
        .build()
        .unwrap();
        assert_eq!(
            client.base_url().as_str(),
            "https://contoso.communication.azure.com"
        );
        assert_eq!(client.api_version(), "2025-03-15");
        assert!(client.own_identity().is_none());
        let client = from(&[
            ("ACS_ENDPOINT", "https://contoso.communication.azure.com"),
            ("ACS_USER_TOKEN", "tok"),
            ("ACS_USER_ID", "8:acs:1111_2222"),
            ("ACS_API_VERSION", "2021-09-07"),
        ])
        .build()
        .unwrap();
        assert_eq!(client.api_version(), "2021-09-07");
        assert_eq!(client.own_identity().unwrap().raw_id(), "8:acs:1111_2222");
    }

    #[test]
    fn env_connection_string() {
        let client = from(&[
            (
                "ACS_CONNECTION_STRING",
                &format!("endpoint=https://contoso.communication.azure.com/;accesskey={KEY}"),
            ),
            ("ACS_USER_ID", "8:acs:1111_2222"),
        ])
        .build()
        .unwrap();
        assert_eq!(
            client.base_url().authority(),
            "contoso.communication.azure.com"
        );
        assert!(matches!(client.inner.credential, Credential::Minted(_)));
        // ACS_ENDPOINT wins over the connection string's endpoint; base_url over both.
        let client = from(&[
            (
                "ACS_CONNECTION_STRING",
                &format!("endpoint=https://a.communication.azure.com/;accesskey={KEY}"),
            ),
            ("ACS_ENDPOINT", "https://b.communication.azure.com"),
            ("ACS_USER_ID", "8:acs:1111_2222"),
        ])
        .build()
        .unwrap();
        assert_eq!(client.base_url().authority(), "b.communication.azure.com");
        let client = from(&[
            (
                "ACS_CONNECTION_STRING",
                &format!("endpoint=https://a.communication.azure.com/;accesskey={KEY}"),
            ),
            ("ACS_USER_ID", "8:acs:1111_2222"),
        ])
        .base_url("http://127.0.0.1:9/acs")
        .build()
        .unwrap();
        assert_eq!(client.base_url().as_str(), "http://127.0.0.1:9/acs");
    }

    #[test]
    fn missing_and_invalid_settings_are_named() {
        let cases: Vec<(AcsClientBuilder, &str)> = vec![
            (from(&[]), "ACS_ENDPOINT"),
            (
                from(&[("ACS_ENDPOINT", "https://x.communication.azure.com")]),
                "ACS_USER_TOKEN",
            ),
            (
                from(&[(
                    "ACS_CONNECTION_STRING",
                    &format!("endpoint=https://x.com;accesskey={KEY}"),
                )]),
                "ACS_USER_ID",
            ),
            (
                from(&[(
                    "ACS_CONNECTION_STRING",
                    "endpoint=https://x.com;accesskey=***",
                )]),
                "access key",
            ),
            (
                from(&[
                    ("ACS_ENDPOINT", "http://example.com"),
                    ("ACS_USER_TOKEN", "t"),
                ]),
                "ACS_ENDPOINT",
            ),
            (
                from(&[
                    ("ACS_ENDPOINT", "https://x.com"),
                    ("ACS_USER_TOKEN", "t"),
                    ("ACS_API_VERSION", "a b"),
                ]),
                "ACS_API_VERSION",
            ),
            (
                from(&[
                    ("ACS_ENDPOINT", "https://x.com"),
                    ("ACS_USER_TOKEN", "t\r\nx"),
                ]),
                "ACS_USER_TOKEN",
            ),
            (
                from(&[
                    ("ACS_ENDPOINT", "https://x.com"),
                    ("ACS_USER_TOKEN", "t"),
                    ("ACS_USER_ID", "a b"),
                ]),
                "ACS_USER_ID",
            ),
            (
                from(&[
                    (
                        "ACS_CONNECTION_STRING",
                        &format!("endpoint=https://x.com;accesskey={KEY}"),
                    ),
                    ("ACS_USER_ID", "8:acs:x"),
                ])
                .token_lifetime_minutes(5),
                "60 to 1440",
            ),
        ];
        for (builder, expected) in cases {
            let err = builder.build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            assert!(err.to_string().contains(expected), "{expected}: {err}");
        }
    }

    #[test]
    fn debug_never_shows_secrets() {
        let builder = from(&[
            (
                "ACS_CONNECTION_STRING",
                &format!("endpoint=https://x.communication.azure.com;accesskey={KEY}"),
            ),
            ("ACS_USER_ID", "8:acs:1111_2222"),
        ])
        .user_token("eyJ-very-secret-token")
        .access_key(KEY);
        let text = format!("{builder:?}");
        assert!(
            !text.contains("AAEC") && !text.contains("very-secret"),
            "{text}"
        );
        let client = builder.build().unwrap();
        let text = format!("{client:?}");
        assert!(
            !text.contains("AAEC") && !text.contains("very-secret"),
            "{text}"
        );
        let minted = from(&[
            (
                "ACS_CONNECTION_STRING",
                &format!("endpoint=https://x.communication.azure.com;accesskey={KEY}"),
            ),
            ("ACS_USER_ID", "8:acs:1111_2222"),
        ])
        .build()
        .unwrap();
        let text = format!("{minted:?}");
        assert!(!text.contains("AAEC"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}
