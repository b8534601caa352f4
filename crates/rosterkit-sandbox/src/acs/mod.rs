//! The Azure Communication Services Chat emulator, mounted at `/acs`.
//!
//! It follows the "Emulator" column of the project's ACS contract notes:
//!
//! - **Mounts.** `/acs/...`, and also the root (`/identities...`, `/chat/...`) because Azure's
//!   SDKs accept only an origin as the endpoint ([`AcsCredentials::sdk_connection_string`]).
//!
//! - **Identity** (the calls Azure's identity SDKs make with a connection string), all with
//!   `api-version=2023-10-01` and checked with the access key exactly as ACS does
//!   (`x-ms-date`, `x-ms-content-sha256` and
//!   `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=..`)
//!   against the path and query **as received**, `/acs` prefix included, and the `Host`
//!   header; `x-ms-date` must be within ±15 minutes of the emulator's clock:
//!   - `POST /identities` `{"createTokenWithScopes"?,"expiresInMinutes"?}` → 201
//!     `{"identity":{"id":"8:acs:<resource>_<uuid>"},"accessToken"?:{"token","expiresOn"}}`
//!     (a new user every call);
//!   - `POST /identities/{id}/:issueAccessToken` `{"scopes":[..],"expiresInMinutes"?}` (60 to
//!     1440, default 1440) → 200 `{"token","expiresOn"}`; any ACS user id (`8:acs:...`) is
//!     accepted;
//!   - `POST /identities/{id}/:revokeAccessTokens` → 204; `DELETE /identities/{id}` → 204
//!     (the user's tokens stop working).
//!
//!   Tokens are JWT-shaped (`alg: none`); the payload carries `skypeid` (the id without `8:`),
//!   `iat`, `nbf`, `exp` (which the SDKs read to refresh), `acsScope` and `resourceId`.
//! - **Chat auth.** Chat routes need `Authorization: Bearer <token>`: one issued here with a
//!   `chat` (or `chat.*`) scope, not revoked and not expired (by the emulator's clock), or the
//!   fixed [`DEFAULT_USER_TOKEN`] of [`DEFAULT_USER_ID`]. Otherwise 401 `Unauthorized`.
//! - **Versions.** `api-version` is required: chat routes accept [`CHAT_API_VERSIONS`], the
//!   identity route `2023-10-01`; missing or other → 400 `BadRequest` (ours: undocumented).
//!   Chat replies carry `api-supported-versions`.
//! - **Routes.** `POST /chat/threads/{id}/participants/:remove` (body: the bare identifier) →
//!   204, also for a non-member; `POST .../participants/:add` (`{"participants":[..]}`, at most
//!   200, at most 250 per thread) → 201 `{}` or `{"invalidParticipants":[..]}` (codes as
//!   strings, for the ids set with [`AcsEmulator::set_invalid_participant`] and for identifiers
//!   of unknown kind → `"404"`); `GET .../participants?maxPageSize=&skip=` → 200
//!   `{"value":[..],"nextLink"?}` (default page size 100; `nextLink` is an absolute URL with
//!   the scheme (`https` on a TLS connection) and host the request used, or on
//!   [`AcsEmulator::set_foreign_next_link`]'s origin). The thread id is percent-decoded
//!   (`19%3A..%40thread.v2` and `19:..@thread.v2` both work).
//! - **Checks, in order:** `api-version` (400), token (401), thread exists (404 `NotFound`),
//!   caller is a participant (403 `Forbidden`), body (400 `BadRequest`), for a remove of someone
//!   else whether members may remove others ([`AcsEmulator::set_members_may_remove_others`],
//!   default yes; 403 otherwise), then the per-thread rate limit on add/remove (429).
//! - **Rate limits.** Adds and removes per thread: at most 10 in any 10 s and 30 in any 60 s
//!   (tokio time, so paused-time tests see them). Only accepted calls count (ours). Beyond:
//!   429 `TooManyRequests` with `Retry-After` (whole seconds, rounded up). Off with
//!   [`AcsEmulator::set_rate_limits`].
//! - **Output.** Identifiers always carry `kind`, `rawId` and the kind's object; errors are
//!   `{"error":{"code","message"}}` (camelCase, wrapped) with `content-type:
//!   application/json`. Every reply carries `ms-cv`; `x-ms-client-request-id` is echoed.
//!   Unknown paths under `/acs` → 404 `NotFound`, wrong method → 405 `MethodNotAllowed`.

mod api;
mod auth;
mod control;
mod error;
mod identity;
mod ids;
mod rate;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::framework::ProviderRouter;
use crate::provider::Provider;
use crate::sync::lock;

/// The resource access key the emulator starts with: the 32 bytes `00 01 .. 1f`, base64 (the
/// key of the contract notes' HMAC vectors).
pub const DEFAULT_ACCESS_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Our "service user": the identity of [`DEFAULT_USER_TOKEN`], put into every thread created
/// with [`AcsEmulator::create_thread`].
pub const DEFAULT_USER_ID: &str = "8:acs:sandbox_service";

/// A fixed user access token of [`DEFAULT_USER_ID`] that never expires. JWT-shaped: its payload
/// is `{"skypeid":"acs:sandbox_service","scp":1792,"exp":4102444800}`.
pub const DEFAULT_USER_TOKEN: &str = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.\
eyJza3lwZWlkIjoiYWNzOnNhbmRib3hfc2VydmljZSIsInNjcCI6MTc5MiwiZXhwIjo0MTAyNDQ0ODAwfQ.\
sandbox";

/// The Chat API versions the emulator accepts.
pub const CHAT_API_VERSIONS: [&str; 2] = ["2021-09-07", "2025-03-15"];

/// The Identity API version of the token route.
pub const IDENTITY_API_VERSION: &str = "2023-10-01";

/// How to reach the ACS emulator: what an ACS client needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AcsCredentials {
    /// The resource endpoint, `http://127.0.0.1:PORT/acs` (`ACS_ENDPOINT`).
    pub endpoint: String,
    /// The resource access key, base64.
    pub access_key: String,
    /// `endpoint=<endpoint>/;accesskey=<access_key>` (`ACS_CONNECTION_STRING`).
    pub connection_string: String,
    /// The service user (`ACS_USER_ID`), [`DEFAULT_USER_ID`].
    pub user_id: String,
    /// A user token of `user_id` that never expires (`ACS_USER_TOKEN`), [`DEFAULT_USER_TOKEN`].
    pub user_token: String,
    /// The endpoint for Azure's official SDKs, which accept only an origin: the sandbox's root
    /// URL (the ACS routes are also served there).
    pub sdk_endpoint: String,
    /// `endpoint=<sdk_endpoint>/;accesskey=<access_key>`, for Azure's official SDKs.
    pub sdk_connection_string: String,
}

/// How to create a thread in the ACS emulator. Missing JSON fields take the [`Default`]s: a
/// generated id, no topic, the service user as the only participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AcsThreadSeed {
    /// The thread id; a fresh `19:<32 hex>@thread.v2` when `None`. Seeding an existing id
    /// replaces that thread.
    pub id: Option<String>,
    /// The topic.
    pub topic: Option<String>,
    /// Participants by raw id (`8:acs:...`, `4:+1...`, `8:orgid:...`), in order. Duplicates
    /// are dropped.
    pub participants: Vec<String>,
    /// Put [`DEFAULT_USER_ID`] first in the thread (so the default token can act on it).
    pub include_service_user: bool,
}

impl Default for AcsThreadSeed {
    fn default() -> Self {
        AcsThreadSeed {
            id: None,
            topic: None,
            participants: Vec::new(),
            include_service_user: true,
        }
    }
}

/// One participant of an emulated thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsParticipant {
    /// The raw id.
    pub raw_id: String,
    /// The display name, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The history-sharing time as given on add (RFC 3339); listed as
    /// `1970-01-01T00:00:00Z` when unset, as ACS does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_history_time: Option<String>,
    /// Metadata as given on add.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl AcsParticipant {
    fn new(raw_id: String) -> Self {
        AcsParticipant {
            raw_id,
            display_name: None,
            share_history_time: None,
            metadata: BTreeMap::new(),
        }
    }
}

/// A snapshot of one thread in the ACS emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsThread {
    /// The thread id, `19:...@thread.v2`.
    pub id: String,
    /// The topic.
    #[serde(default)]
    pub topic: Option<String>,
    /// The participants, in the order they joined.
    pub participants: Vec<AcsParticipant>,
}

/// Switches for tests: rate limits, foreign `nextLink`s, who may remove whom, refused adds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsSettings {
    /// Enforce the per-thread add/remove limits (default `true`).
    pub rate_limits: bool,
    /// When set (an origin such as `https://elsewhere.example`), `nextLink`s point there
    /// instead of at the emulator.
    pub foreign_next_link: Option<String>,
    /// Whether a participant may remove others (default `true`); self-removal is always
    /// allowed.
    pub members_may_remove_others: bool,
    /// Raw ids an add refuses, with the `invalidParticipants` item to answer.
    pub invalid_participants: BTreeMap<String, AcsRefusal>,
}

/// How an add refuses one participant: an `invalidParticipants` item's code and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcsRefusal {
    /// An HTTP status as a string, as ACS sends it (`"403"`, `"404"`).
    pub code: String,
    /// The message (`"Permissions check failed"`).
    pub message: String,
}

impl Default for AcsSettings {
    fn default() -> Self {
        AcsSettings {
            rate_limits: true,
            foreign_next_link: None,
            members_may_remove_others: true,
            invalid_participants: BTreeMap::new(),
        }
    }
}

/// A token minted by the emulator.
#[derive(Debug, Clone)]
struct IssuedToken {
    user_id: String,
    expires_unix: u64,
    /// The scopes it was issued for (`chat`, `voip`, `chat.join`, ...).
    scopes: Vec<String>,
}

/// The resource id in the user ids the emulator creates (`8:acs:<resource>_<user>`).
const SANDBOX_RESOURCE_ID: &str = "5a4db0c5-0000-4000-8000-000000000000";

/// A cloneable handle on the ACS emulator's state: seed threads, inspect them, flip test
/// switches, mint tokens. Obtained from [`Sandbox::acs`](crate::Sandbox::acs).
#[derive(Clone)]
pub struct AcsEmulator {
    state: Arc<Mutex<AcsState>>,
    limiter: Arc<rate::Limiter>,
    clock: Clock,
}

#[derive(Debug)]
struct AcsState {
    threads: HashMap<String, AcsThread>,
    tokens: HashMap<String, IssuedToken>,
    /// Users created through the Identity API, in creation order.
    identities: Vec<String>,
    settings: AcsSettings,
    access_key: String,
}

impl fmt::Debug for AcsEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("AcsEmulator")
            .field("threads", &state.threads.len())
            .field("tokens", &state.tokens.len())
            .field("settings", &state.settings)
            .finish_non_exhaustive()
    }
}

impl AcsEmulator {
    pub(crate) fn new(clock: Clock) -> Self {
        AcsEmulator {
            state: Arc::new(Mutex::new(AcsState {
                threads: HashMap::new(),
                tokens: HashMap::new(),
                identities: Vec::new(),
                settings: AcsSettings::default(),
                access_key: DEFAULT_ACCESS_KEY.to_owned(),
            })),
            limiter: Arc::new(rate::Limiter::default()),
            clock,
        }
    }

    /// Creates (or replaces) a thread and returns its id.
    pub fn seed_thread(&self, seed: AcsThreadSeed) -> String {
        let mut state = lock(&self.state);
        let id = match seed.id {
            Some(id) => id,
            None => loop {
                let id = new_thread_id();
                if !state.threads.contains_key(&id) {
                    break id;
                }
            },
        };
        let mut participants: Vec<AcsParticipant> = Vec::new();
        let service = seed
            .include_service_user
            .then(|| DEFAULT_USER_ID.to_owned());
        for raw_id in service.into_iter().chain(seed.participants) {
            if !participants.iter().any(|p| p.raw_id == raw_id) {
                participants.push(AcsParticipant::new(raw_id));
            }
        }
        state.threads.insert(
            id.clone(),
            AcsThread {
                id: id.clone(),
                topic: seed.topic,
                participants,
            },
        );
        id
    }

    /// Creates a thread with the service user ([`DEFAULT_USER_ID`]) and these participants (raw
    /// ids) and returns its id.
    pub fn create_thread(&self, participants: &[&str]) -> String {
        self.seed_thread(AcsThreadSeed {
            participants: participants.iter().map(|p| (*p).to_owned()).collect(),
            ..AcsThreadSeed::default()
        })
    }

    /// A snapshot of a thread, or `None` if it does not exist.
    #[must_use]
    pub fn thread(&self, id: &str) -> Option<AcsThread> {
        lock(&self.state).threads.get(id).cloned()
    }

    /// The raw ids of a thread's participants (the service user included when present), or
    /// `None` if it does not exist.
    #[must_use]
    pub fn participants(&self, id: &str) -> Option<Vec<String>> {
        lock(&self.state)
            .threads
            .get(id)
            .map(|t| t.participants.iter().map(|p| p.raw_id.clone()).collect())
    }

    /// Every thread id, sorted.
    #[must_use]
    pub fn thread_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.state).threads.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The current test switches.
    #[must_use]
    pub fn settings(&self) -> AcsSettings {
        lock(&self.state).settings.clone()
    }

    /// Turns the per-thread add/remove limits on (default) or off.
    pub fn set_rate_limits(&self, on: bool) {
        lock(&self.state).settings.rate_limits = on;
    }

    /// Makes `nextLink`s point at another origin (`Some("https://elsewhere.example")`), or at
    /// the emulator again (`None`).
    pub fn set_foreign_next_link(&self, origin: Option<&str>) {
        lock(&self.state).settings.foreign_next_link =
            origin.map(|o| o.trim_end_matches('/').to_owned());
    }

    /// Whether a participant may remove others (default `true`).
    pub fn set_members_may_remove_others(&self, allow: bool) {
        lock(&self.state).settings.members_may_remove_others = allow;
    }

    /// Makes adds of `raw_id` fail with an `invalidParticipants` item of `code` (`"403"`,
    /// `"404"`, ...) and `message`.
    pub fn set_invalid_participant(&self, raw_id: &str, code: &str, message: &str) {
        lock(&self.state).settings.invalid_participants.insert(
            raw_id.to_owned(),
            AcsRefusal {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        );
    }

    /// Forgets every [`set_invalid_participant`](Self::set_invalid_participant).
    pub fn clear_invalid_participants(&self) {
        lock(&self.state).settings.invalid_participants.clear();
    }

    /// Replaces the test switches.
    pub fn set_settings(&self, settings: AcsSettings) {
        lock(&self.state).settings = settings;
    }

    /// The resource access key (base64).
    #[must_use]
    pub fn access_key(&self) -> String {
        lock(&self.state).access_key.clone()
    }

    /// Replaces the resource access key (base64), e.g. to test a rotated key.
    pub fn set_access_key(&self, access_key: impl Into<String>) {
        lock(&self.state).access_key = access_key.into();
    }

    /// Mints a chat token for `user_id` valid `minutes` from the emulator's clock, as the
    /// identity route would, and returns `(token, expiresOn)`.
    pub fn issue_token(&self, user_id: &str, minutes: u64) -> (String, String) {
        self.issue_scoped_token(user_id, &["chat".to_owned()], minutes)
    }

    /// Mints a token for `user_id` with these scopes; chat routes accept it when one scope is
    /// `chat` or starts with `chat.`.
    fn issue_scoped_token(
        &self,
        user_id: &str,
        scopes: &[String],
        minutes: u64,
    ) -> (String, String) {
        let now = self.clock.now_unix();
        let expires = now.saturating_add(minutes.saturating_mul(60));
        let token = auth::mint_token(user_id, scopes, now, expires);
        lock(&self.state).tokens.insert(
            token.clone(),
            IssuedToken {
                user_id: user_id.to_owned(),
                expires_unix: expires,
                scopes: scopes.to_vec(),
            },
        );
        (token, ids::rfc3339(expires))
    }

    /// Creates a Communication Services user (`8:acs:<resource>_<uuid>`), as
    /// `POST /identities` does, and returns its id.
    pub fn create_identity(&self) -> String {
        let id = format!("8:acs:{SANDBOX_RESOURCE_ID}_{}", ids::new_uuid());
        lock(&self.state).identities.push(id.clone());
        id
    }

    /// The users created through the Identity API, in creation order.
    #[must_use]
    pub fn identities(&self) -> Vec<String> {
        lock(&self.state).identities.clone()
    }

    /// Revokes every token issued to `user_id`; returns how many.
    pub fn revoke_tokens(&self, user_id: &str) -> usize {
        let mut state = lock(&self.state);
        let before = state.tokens.len();
        state.tokens.retain(|_, t| t.user_id != user_id);
        before - state.tokens.len()
    }

    /// Deletes a user created through the Identity API and revokes its tokens.
    pub fn delete_identity(&self, user_id: &str) {
        self.revoke_tokens(user_id);
        lock(&self.state).identities.retain(|id| id != user_id);
    }

    /// The credentials of the service user, given the sandbox's base URL.
    pub(crate) fn credentials(&self, sandbox_base_url: &str) -> AcsCredentials {
        let endpoint = format!("{sandbox_base_url}{}", Provider::Acs.mount_path());
        let access_key = self.access_key();
        AcsCredentials {
            connection_string: format!("endpoint={endpoint}/;accesskey={access_key}"),
            sdk_endpoint: sandbox_base_url.to_owned(),
            sdk_connection_string: format!("endpoint={sandbox_base_url}/;accesskey={access_key}"),
            endpoint,
            access_key,
            user_id: DEFAULT_USER_ID.to_owned(),
            user_token: DEFAULT_USER_TOKEN.to_owned(),
        }
    }
}

/// The ACS routes: the emulated API and the control-plane routes. `base_url` is the sandbox's,
/// for `nextLink`s when a request names no host.
pub(crate) fn router(emulator: &AcsEmulator, base_url: &str) -> ProviderRouter {
    ProviderRouter {
        provider: Provider::Acs,
        api: api::router(emulator.clone(), base_url),
        control: control::router(emulator.clone()),
    }
}

/// `19:` + 32 lowercase hex + `@thread.v2`, like ACS's.
fn new_thread_id() -> String {
    format!("19:{:032x}@thread.v2", fastrand::u128(..))
}

#[cfg(test)]
mod seeding_tests {
    use super::*;

    #[test]
    fn thread_ids_look_like_acs() {
        let id = new_thread_id();
        assert!(id.starts_with("19:") && id.ends_with("@thread.v2"), "{id}");
        assert_eq!(id.len(), 3 + 32 + 10);
    }

    #[test]
    fn seeding_puts_the_service_user_first_once() {
        let acs = AcsEmulator::new(Clock::default());
        let id = acs.create_thread(&["8:acs:a_1", DEFAULT_USER_ID, "8:acs:a_1", "4:+14155551234"]);
        assert_eq!(
            acs.participants(&id).unwrap(),
            vec![DEFAULT_USER_ID, "8:acs:a_1", "4:+14155551234"]
        );
        let bare = acs.seed_thread(AcsThreadSeed {
            include_service_user: false,
            participants: vec!["8:acs:a_1".into()],
            ..AcsThreadSeed::default()
        });
        assert_eq!(acs.participants(&bare).unwrap(), vec!["8:acs:a_1"]);
    }

    #[test]
    fn default_token_payload() {
        use base64::Engine as _;
        let payload = DEFAULT_USER_TOKEN.split('.').nth(1).unwrap();
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(claims["skypeid"], "acs:sandbox_service");
        assert_eq!(
            format!("8:{}", claims["skypeid"].as_str().unwrap()),
            DEFAULT_USER_ID
        );
    }
}

/// What `--state` saves of the ACS emulator: threads, settings, the access key, created
/// users and the tokens issued (so a client's cached token keeps working after a restart).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcsSaved {
    threads: BTreeMap<String, AcsThread>,
    settings: AcsSettings,
    access_key: String,
    identities: Vec<String>,
    tokens: BTreeMap<String, SavedToken>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedToken {
    user_id: String,
    expires_unix: u64,
    scopes: Vec<String>,
}

impl AcsEmulator {
    pub(crate) fn save(&self) -> AcsSaved {
        let state = lock(&self.state);
        AcsSaved {
            threads: state
                .threads
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            settings: state.settings.clone(),
            access_key: state.access_key.clone(),
            identities: state.identities.clone(),
            tokens: state
                .tokens
                .iter()
                .map(|(token, t)| {
                    let saved = SavedToken {
                        user_id: t.user_id.clone(),
                        expires_unix: t.expires_unix,
                        scopes: t.scopes.clone(),
                    };
                    (token.clone(), saved)
                })
                .collect(),
        }
    }

    pub(crate) fn load(&self, saved: AcsSaved) {
        let mut state = lock(&self.state);
        state.threads = saved.threads.into_iter().collect();
        state.settings = saved.settings;
        state.access_key = saved.access_key;
        state.identities = saved.identities;
        state.tokens = saved
            .tokens
            .into_iter()
            .map(|(token, t)| {
                let issued = IssuedToken {
                    user_id: t.user_id,
                    expires_unix: t.expires_unix,
                    scopes: t.scopes,
                };
                (token, issued)
            })
            .collect();
    }
}
