//! [`MatrixClient`] and its builder.

use std::sync::Arc;

use tracing::Instrument as _;

use rosterkit_core::{
    ChangeOptions, ChatId, ClientBuilder, ClientOptions, Endpoint, Error, Executor, Handle,
    Outcome, Participant, Secret,
};

use crate::{
    PROVIDER,
    config::MatrixConfig,
    ids::{Room, user_id},
    ops::{Invite, JoinedMembers, Kick, Leave, ResolveAlias},
};

pub(crate) const ENV_HOMESERVER: &str = "MATRIX_HOMESERVER";
pub(crate) const ENV_TOKEN: &str = "MATRIX_ACCESS_TOKEN";

/// A Matrix client-server API client for one user (the access token's): remove (a kick), add
/// (an invitation), leave, joined members, with ensure mode; and
/// [`Membership`](rosterkit_core::Membership).
///
/// Cheap to clone. Its `Debug` output never shows the access token.
///
/// ```
/// use rosterkit_matrix::MatrixClient;
///
/// let matrix = MatrixClient::builder()
///     .homeserver("https://matrix.example.org")
///     .access_token("syt_c2VjcmV0_token")
///     .build()?;
/// assert_eq!(matrix.base_url().as_str(), "https://matrix.example.org");
/// assert!(!format!("{matrix:?}").contains("syt_c2VjcmV0_token"));
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MatrixClient {
    config: Arc<MatrixConfig>,
    executor: Executor,
}

impl MatrixClient {
    /// A builder with nothing set.
    pub fn builder() -> MatrixClientBuilder {
        MatrixClientBuilder::default()
    }

    /// A builder pre-filled from `MATRIX_HOMESERVER` and `MATRIX_ACCESS_TOKEN`; a missing or
    /// invalid value is reported by [`MatrixClientBuilder::build`], naming the variable.
    pub fn builder_from_env() -> MatrixClientBuilder {
        MatrixClientBuilder::from_lookup(|name| std::env::var(name).ok())
    }

    /// A client configured from the environment: `builder_from_env().build()`.
    ///
    /// # Errors
    /// `InvalidInput` naming a missing or invalid variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::builder_from_env().build()
    }

    /// The executor that runs this client's operations, to run the [`ops`](crate::ops)
    /// yourself.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// The homeserver's base URL.
    pub fn base_url(&self) -> &Endpoint {
        self.config.base_url()
    }

    /// The former name of [`base_url`](Self::base_url).
    #[deprecated(note = "renamed `base_url`, as on the other providers' clients")]
    pub fn homeserver(&self) -> &Endpoint {
        self.base_url()
    }

    /// What this client's operations are built from (endpoint and credentials), to build the
    /// [`ops`](crate::ops) yourself.
    pub fn config(&self) -> &Arc<MatrixConfig> {
        &self.config
    }

    /// The room id `chat` names: itself, or the room an alias (`#name:server`) points to.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed id; `ChatNotFound` for an unknown alias.
    pub async fn room_id(&self, chat: &ChatId) -> Result<ChatId, Error> {
        match Room::parse(chat)? {
            Room::Id(_) => Ok(chat.clone()),
            Room::Alias(_) => {
                self.executor
                    .execute(&ResolveAlias::new(&self.config, chat)?)
                    .await
            }
        }
    }

    /// Removes `user` from `chat` by a kick (`POST /rooms/{roomId}/kick`), with
    /// `options.reason`.
    ///
    /// Matrix answers "not in the room" and "no power" alike (403 M_FORBIDDEN), so after a 403
    /// the executor reads the joined members ([`Kick`]'s `on_failure` probe,
    /// [`Kick::reconcile`]): an absent user is `NotAMember`, or
    /// [`Outcome::AlreadyDone`] in ensure mode; a present one keeps the `Forbidden` error.
    ///
    /// # Errors
    /// `InvalidInput` before any request; `NotAMember`, `Forbidden`, `ChatNotFound` (unknown
    /// room), `Unauthorized`, `RateLimited`, ...
    pub async fn remove(
        &self,
        chat: &ChatId,
        user: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!("matrix.kick", room = %chat, ensure = options.ensure);
        async {
            user_id(user)?;
            let room = self.room_id(chat).await?;
            let op = Kick::new(&self.config, &room, user, options.reason)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Adds `user` to `chat` by an invitation (`POST /rooms/{roomId}/invite`), with
    /// `options.reason`. The user becomes a member when they accept.
    ///
    /// After a 403 the executor reads the joined members ([`Invite::reconcile`]): a user already in the
    /// room is [`Outcome::AlreadyDone`] in ensure mode and `Conflict` otherwise.
    ///
    /// # Errors
    /// `InvalidInput` before any request; `Conflict`, `Forbidden` (no power, banned, or a room
    /// the server does not know), `Unauthorized`, `RateLimited`, ...
    pub async fn add(
        &self,
        chat: &ChatId,
        user: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!("matrix.invite", room = %chat, ensure = options.ensure);
        async {
            user_id(user)?;
            let room = self.room_id(chat).await?;
            let op = Invite::new(&self.config, &room, user, options.reason)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// Leaves `chat` with the access token's user (`POST /rooms/{roomId}/leave`), with
    /// `options.reason`. In ensure mode "not in the room" is [`Outcome::AlreadyDone`].
    ///
    /// # Errors
    /// `InvalidInput` before any request; `NotAMember`, `ChatNotFound`, `Unauthorized`, ...
    pub async fn leave_group(
        &self,
        chat: &ChatId,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let span = tracing::info_span!("matrix.leave", room = %chat, ensure = options.ensure);
        async {
            let room = self.room_id(chat).await?;
            let op = Leave::new(&self.config, &room, options.reason)?.ensure(options.ensure);
            self.executor.execute(&op).await
        }
        .instrument(span)
        .await
    }

    /// The former name of [`remove`](Self::remove), after Matrix's verb.
    ///
    /// # Errors
    /// As [`remove`](Self::remove).
    #[deprecated(note = "renamed `remove`, as on the other providers' clients")]
    pub async fn kick(
        &self,
        chat: &ChatId,
        user: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.remove(chat, user, options).await
    }

    /// The former name of [`add`](Self::add), after Matrix's verb.
    ///
    /// # Errors
    /// As [`add`](Self::add).
    #[deprecated(note = "renamed `add`, as on the other providers' clients")]
    pub async fn invite(
        &self,
        chat: &ChatId,
        user: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.add(chat, user, options).await
    }

    /// The former name of [`leave_group`](Self::leave_group).
    ///
    /// # Errors
    /// As [`leave_group`](Self::leave_group).
    #[deprecated(note = "renamed `leave_group`, as on the other providers' clients")]
    pub async fn leave_room(
        &self,
        chat: &ChatId,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.leave_group(chat, options).await
    }

    /// The joined members of `chat` (`GET /rooms/{roomId}/joined_members`), with display
    /// names; invited users are not members yet.
    ///
    /// # Errors
    /// `ChatUnavailable` when we are not in the room or the server does not know it, ...
    pub async fn joined_members(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        let room = self.room_id(chat).await?;
        self.executor
            .execute(&JoinedMembers::new(&self.config, &room)?)
            .await
    }
}

/// Builds a [`MatrixClient`]. Its `Debug` output never shows the access token.
#[derive(Debug, Clone, Default)]
pub struct MatrixClientBuilder {
    homeserver: Option<String>,
    access_token: Option<Secret>,
    /// HTTP client, retry policy, clock and the insecure-http switch.
    options: ClientOptions,
}

impl MatrixClientBuilder {
    /// A builder pre-filled through `lookup` (the environment's seam). Empty values count as
    /// unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            homeserver: get(ENV_HOMESERVER),
            access_token: get(ENV_TOKEN).map(Secret::new),
            ..Self::default()
        }
    }

    /// Sets the homeserver's base URL (`https://matrix.example.org`; plain `http://` only to
    /// loopback unless [`allow_insecure_http`](Self::allow_insecure_http)).
    #[must_use]
    pub fn homeserver(mut self, url: impl Into<String>) -> Self {
        self.homeserver = Some(url.into());
        self
    }

    /// Sets the access token, sent as `Authorization: Bearer <token>`.
    #[must_use]
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.access_token = Some(Secret::new(token));
        self
    }

    rosterkit_core::client_options_setters!();

    /// Builds the client.
    ///
    /// # Errors
    /// `InvalidInput` naming the setting (and its environment variable) that is missing or
    /// invalid; or a missing HTTP client without the `reqwest` feature.
    pub fn build(self) -> Result<MatrixClient, Error> {
        let invalid = |message: String| Error::invalid_input(message).with_provider(PROVIDER);
        let homeserver = self.homeserver.ok_or_else(|| {
            invalid(format!(
                "missing Matrix homeserver: call .homeserver(..) or set {ENV_HOMESERVER}"
            ))
        })?;
        let endpoint = Endpoint::parse_with(&homeserver, self.options.allows_insecure_http())
            .map_err(|e| invalid(format!("{e} (.homeserver(..) or {ENV_HOMESERVER})")))?;
        let token = self.access_token.ok_or_else(|| {
            invalid(format!(
                "missing Matrix access token: call .access_token(..) or set {ENV_TOKEN}"
            ))
        })?;
        let token = Secret::for_header("Matrix access token", token.expose())
            .map_err(|e| invalid(format!("{e} (.access_token(..) or {ENV_TOKEN})")))?;
        let config = MatrixConfig::new(endpoint, &token)
            .map_err(|e| invalid(format!("{} ({ENV_TOKEN})", e.message())))?;
        // Scrubbed from every error, should a server echo the request's `Authorization`.
        let executor = self.options.secrets([token]).build(PROVIDER)?;
        Ok(MatrixClient {
            config: Arc::new(config),
            executor,
        })
    }
}

/// The provider-agnostic builder: the base URL is the homeserver.
impl ClientBuilder for MatrixClientBuilder {
    type Client = MatrixClient;

    fn base_url(self, url: impl Into<String>) -> Self {
        self.homeserver(url)
    }

    fn client_options(self, options: ClientOptions) -> Self {
        MatrixClientBuilder::client_options(self, options)
    }

    fn build(self) -> Result<MatrixClient, Error> {
        MatrixClientBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<MatrixClient, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        MatrixClientBuilder::from_lookup(|k| vars.get(k).cloned()).build()
    }

    #[test]
    fn env_names_what_is_missing_or_wrong() {
        let ok = from(&[
            ("MATRIX_HOMESERVER", "https://matrix.example.org/"),
            ("MATRIX_ACCESS_TOKEN", "syt_secret_token"),
        ])
        .unwrap();
        assert_eq!(ok.base_url().as_str(), "https://matrix.example.org");
        let debug = format!("{ok:?}");
        assert!(!debug.contains("syt_secret_token"), "{debug}");
        let builder = MatrixClientBuilder::from_lookup(|name| {
            (name == "MATRIX_ACCESS_TOKEN").then(|| "syt_secret_token".to_owned())
        });
        let debug = format!("{builder:?}");
        assert!(!debug.contains("syt_secret_token"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
        let err = from(&[("MATRIX_ACCESS_TOKEN", "t")]).unwrap_err();
        assert!(err.message().contains("MATRIX_HOMESERVER"), "{err}");
        let err = from(&[("MATRIX_HOMESERVER", "https://m.example.org")]).unwrap_err();
        assert!(err.message().contains("MATRIX_ACCESS_TOKEN"), "{err}");
        let err = from(&[
            ("MATRIX_HOMESERVER", "http://matrix.example.org"),
            ("MATRIX_ACCESS_TOKEN", "t"),
        ])
        .unwrap_err();
        assert!(err.message().contains("MATRIX_HOMESERVER"), "{err}");
        let err = from(&[
            ("MATRIX_HOMESERVER", "http://127.0.0.1:8008"),
            ("MATRIX_ACCESS_TOKEN", "bad\r\ntoken"),
        ])
        .unwrap_err();
        assert!(err.message().contains("MATRIX_ACCESS_TOKEN"), "{err}");
        assert!(!err.to_string().contains("bad"), "{err}");
    }
}

/// The client's own logic (alias resolution, reconciliation reads, retries) over a scripted
/// transport, with no server.
#[cfg(test)]
mod scripted {
    use super::*;
    use rosterkit_core::{
        ErrorKind, NativeId, Reason, RetryPolicy, TransportErrorKind, testing::ScriptedClient,
    };

    const ROOM: &str = "/_matrix/client/v3/rooms/%21r%3Aexample.org";

    fn matrix(http: &Arc<ScriptedClient>, policy: RetryPolicy) -> MatrixClient {
        MatrixClient::builder()
            .homeserver("https://matrix.example.org")
            .access_token("syt_token")
            .http_client(http.clone())
            .retry_policy(policy.with_jitter(false))
            .build()
            .unwrap()
    }

    fn user(id: &str) -> Handle {
        Handle::Native(NativeId::new(id).unwrap())
    }

    fn room() -> ChatId {
        ChatId::new("!r:example.org").unwrap()
    }

    const FORBIDDEN: &str =
        r#"{"errcode":"M_FORBIDDEN","error":"The target user is not in the room"}"#;
    const ONLY_ALICE: &str = r#"{"joined":{"@alice:example.org":{"display_name":"Alice"}}}"#;

    #[tokio::test]
    async fn a_403_kick_reads_the_members_to_tell_absent_from_forbidden() {
        let kick = format!("{ROOM}/kick");
        let members = format!("{ROOM}/joined_members");
        let http = Arc::new(
            ScriptedClient::new()
                .reply("POST", &kick, 403, FORBIDDEN)
                .reply("GET", &members, 200, ONLY_ALICE)
                .reply("POST", &kick, 403, FORBIDDEN)
                .reply("GET", &members, 200, ONLY_ALICE)
                .reply("POST", &kick, 403, FORBIDDEN)
                .reply(
                    "GET",
                    &members,
                    200,
                    r#"{"joined":{"@bob:example.org":{}}}"#,
                ),
        );
        let m = matrix(&http, RetryPolicy::no_retries());
        let bob = user("@bob:example.org");
        let reason = Reason::new("spam").unwrap();
        let err = m
            .remove(&room(), &bob, ChangeOptions::default().with_reason(reason))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAMember);
        assert_eq!(
            (err.http_status(), err.code()),
            (Some(403), Some("M_FORBIDDEN"))
        );
        assert_eq!(err.operation(), Some("kick"));
        let ensured = m
            .remove(&room(), &bob, ChangeOptions::ensure())
            .await
            .unwrap();
        assert_eq!(ensured, Outcome::already_done());
        let err = m
            .remove(&room(), &bob, ChangeOptions::ensure())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Forbidden, "bob is there: no power");
        let sent = http.sent();
        assert_eq!(sent.len(), 6);
        assert_eq!(sent[0].header("authorization"), Some("Bearer syt_token"));
        assert_eq!(
            sent[0].json(),
            Some(serde_json::json!({"user_id": "@bob:example.org", "reason": "spam"}))
        );
        assert_eq!(sent[1].method, "GET");
        assert_eq!(sent[1].path(), members);
        assert_eq!(http.unused(), 0);
    }

    /// The membership read is the operation's own probe: an op run with the executor settles
    /// the 403 exactly as the client method does.
    #[tokio::test]
    async fn an_op_run_by_the_executor_equals_the_client_method() {
        let kick = format!("{ROOM}/kick");
        let members = format!("{ROOM}/joined_members");
        let script = || {
            Arc::new(
                ScriptedClient::new()
                    .reply("POST", &kick, 403, FORBIDDEN)
                    .reply("GET", &members, 200, ONLY_ALICE),
            )
        };
        let bob = user("@bob:example.org");
        let http = script();
        let m = matrix(&http, RetryPolicy::no_retries());
        let op = crate::ops::Kick::new(m.config(), &room(), &bob, None)
            .unwrap()
            .ensure(true);
        let by_op = m.executor().execute(&op).await;
        assert_eq!(http.unused(), 0, "the op read the members itself");
        let http = script();
        let by_client = matrix(&http, RetryPolicy::no_retries())
            .remove(&room(), &bob, ChangeOptions::ensure())
            .await;
        assert_eq!(by_op.unwrap(), Outcome::already_done());
        assert_eq!(by_client.unwrap(), Outcome::already_done());
        assert_eq!(http.sent().len(), 2);
    }

    #[tokio::test]
    async fn aliases_are_resolved_first() {
        let http = Arc::new(
            ScriptedClient::new()
                .reply(
                    "GET",
                    "/_matrix/client/v3/directory/room/%23ops%3Aexample.org",
                    200,
                    r#"{"room_id":"!r:example.org","servers":["example.org"]}"#,
                )
                .reply("POST", &format!("{ROOM}/invite"), 200, "{}"),
        );
        let m = matrix(&http, RetryPolicy::no_retries());
        let alias = ChatId::new("#ops:example.org").unwrap();
        let outcome = m
            .add(&alias, &user("@bob:example.org"), ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::applied(None));
        assert_eq!(http.unused(), 0);
    }

    /// The former names still send Matrix's kick, invite and leave.
    #[tokio::test]
    #[allow(deprecated)]
    async fn the_deprecated_protocol_verbs_still_work() {
        let http = Arc::new(
            ScriptedClient::new()
                .reply("POST", &format!("{ROOM}/kick"), 200, "{}")
                .reply("POST", &format!("{ROOM}/invite"), 200, "{}")
                .reply("POST", &format!("{ROOM}/leave"), 200, "{}"),
        );
        let m = matrix(&http, RetryPolicy::no_retries());
        let bob = user("@bob:example.org");
        let none = ChangeOptions::default;
        assert_eq!(
            m.kick(&room(), &bob, none()).await.unwrap(),
            Outcome::applied(None)
        );
        assert_eq!(
            m.invite(&room(), &bob, none()).await.unwrap(),
            Outcome::applied(None)
        );
        assert_eq!(
            m.leave_room(&room(), none()).await.unwrap(),
            Outcome::applied(None)
        );
        assert_eq!(m.homeserver(), m.base_url());
        assert_eq!(http.unused(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limits_are_waited_out_by_the_executor() {
        let leave = format!("{ROOM}/leave");
        let limited =
            r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":1500}"#;
        let http = Arc::new(
            ScriptedClient::new()
                .reply("POST", &leave, 429, limited)
                .reply("POST", &leave, 200, "{}"),
        );
        let m = matrix(&http, RetryPolicy::default());
        let started = tokio::time::Instant::now();
        let outcome = m
            .leave_group(&room(), ChangeOptions::default())
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::applied(None));
        assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
        assert_eq!(http.sent().len(), 2);
        assert_eq!(http.sent()[0].body.as_ref(), b"{}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_kick_is_retried_after_a_dropped_connection_only_in_ensure_mode() {
        let kick = format!("{ROOM}/kick");
        let script = || {
            Arc::new(
                ScriptedClient::new()
                    .fail("POST", &kick, TransportErrorKind::Io)
                    .reply("POST", &kick, 403, FORBIDDEN)
                    .reply("GET", &format!("{ROOM}/joined_members"), 200, ONLY_ALICE),
            )
        };
        let bob = user("@bob:example.org");
        let http = script();
        let err = matrix(&http, RetryPolicy::default())
            .remove(&room(), &bob, ChangeOptions::default())
            .await
            .unwrap_err();
        assert!(err.is_ambiguous(), "{err}");
        assert_eq!(
            http.sent().len(),
            1,
            "not retried: the kick may have happened"
        );
        let http = script();
        let outcome = matrix(&http, RetryPolicy::default())
            .remove(&room(), &bob, ChangeOptions::ensure())
            .await
            .unwrap();
        assert_eq!(outcome, Outcome::already_done(), "the first attempt did it");
        assert_eq!(http.sent().len(), 3);
    }

    #[tokio::test]
    async fn bad_input_is_refused_before_any_request() {
        let http = Arc::new(ScriptedClient::new());
        let m = matrix(&http, RetryPolicy::no_retries());
        let phone: Handle = "+14155551234".parse().unwrap();
        let err = m
            .remove(&room(), &phone, ChangeOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let not_a_room = ChatId::new("general").unwrap();
        let err = m.joined_members(&not_a_room).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(http.sent().is_empty());
    }
}
