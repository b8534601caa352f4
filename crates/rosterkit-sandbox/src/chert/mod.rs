//! The Chert (iMessage) emulator, mounted at `/chert/api/v1`.
//!
//! It follows the "Emulator" column of the project's Chert contract notes:
//!
//! - **Auth.** If `x-chert-signature` is present it decides: `x-chert-tenant` is then required
//!   (401/2012 without it, 404/2001 if unknown), the header must be `v1,<digits>,<hex>`
//!   (otherwise 401/2004), the MAC must be HMAC-SHA256 keyed with the secret's ASCII bytes
//!   over `"<ts>.<raw body bytes>"` (401/2004), and then the timestamp within ±300 s of the
//!   emulator's clock (401/2013). Signatures are not bound to a method or route.
//!   Otherwise `Authorization: Bearer <signing_secret>` (tenant header optional; when absent any
//!   tenant's secret is accepted; a non-bearer scheme or wrong secret is 401/2004). No
//!   credentials at all: 401/2012. All auth errors have `retryable: false`.
//! - **Routes.** `DELETE /chats/{id}/participants/{address}` (the address is percent-decoded
//!   from the raw path: `%2B` is `+`, a literal `+` stays `+`), `POST /chats/{id}/leave` (any or
//!   no body and content type), `POST /chats/{id}/participants` with `{"address":..}` (alias
//!   `handle`). Success is 200 with the exact documented bodies.
//! - **Errors.** Checks run in this order: chat exists (404/2002); for add, the body is JSON
//!   (400/1004; an empty body counts as `{}`); DM or left chat (400/1006); membership — address
//!   missing or not a member (400/1001), for add also a malformed address (400/1003, assumed);
//!   size — remove and leave need at least 4 members including the line (400/1002), add
//!   honours the optional cap from [`ChertEmulator::set_max_group_size`] (422/1006, assumed);
//!   chat key and pinned line (4099: 422 on add/remove, 501 on leave). Error bodies are
//!   `{"success":false,"error":{"status","code","message","retryable"[,"retry_after"]},"trace_id"}`.
//! - **Every** response from the emulator carries `X-Trace-ID`; on errors it equals the body's
//!   `trace_id`. Success bodies carry no trace id.
//! - **No other route exists.** There is no `GET /chats/{id}` nor a roster route (Chert has
//!   none): an unknown path under the mount answers 404 and a known path with another method
//!   405, both in the Chert envelope with code 2000 (assumed; Chert documents no code for
//!   them). Authentication runs first, as for any `/api/v1/*` call.
//! - **State.** Chats are shared by all tenants. A roster excludes the Chert line itself, so a
//!   group's size is `members + 1`. Emails are stored and echoed lowercased, phone numbers
//!   unchanged.

mod api;
mod auth;
mod control;
mod error;

pub use auth::request_signature;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::framework::ProviderRouter;
use crate::provider::Provider;
use crate::sync::lock;

/// The tenant slug the emulator creates at start.
pub const DEFAULT_TENANT: &str = "sandbox";

/// The default tenant's signing secret at start (32 hex characters, like a real one).
pub const DEFAULT_SIGNING_SECRET: &str = "0123456789abcdef0123456789abcdef";

/// How to reach the Chert emulator: what a Chert client needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChertCredentials {
    /// The API base URL, `http://127.0.0.1:PORT/chert/api/v1`.
    pub base_url: String,
    /// The default tenant's slug, sent as `x-chert-tenant`.
    pub tenant: String,
    /// The default tenant's signing secret (HMAC key and bearer token).
    pub signing_secret: String,
}

/// How to create a chat in the Chert emulator.
///
/// Missing JSON fields take the [`Default`] values: a group, with a chat key and a pinned line,
/// no members, and a generated id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChertChatSeed {
    /// The chat id; a fresh `ch_` + 26 Crockford base32 characters when `None`. Seeding an
    /// existing id replaces that chat.
    pub id: Option<String>,
    /// A group (`true`) or a direct message (`false`).
    pub is_group: bool,
    /// The roster, excluding the Chert line itself. Emails are lowercased, duplicates dropped.
    pub members: Vec<String>,
    /// Whether the group has its chat key (without it, mutations get 4099).
    pub chat_key: bool,
    /// Whether the chat has a pinned line (without it, mutations get 4099).
    pub pinned_line: bool,
}

impl Default for ChertChatSeed {
    fn default() -> Self {
        ChertChatSeed {
            id: None,
            is_group: true,
            members: Vec::new(),
            chat_key: true,
            pinned_line: true,
        }
    }
}

impl ChertChatSeed {
    /// A healthy group with these members (the line excluded).
    #[must_use]
    pub fn group<S: AsRef<str>>(members: &[S]) -> Self {
        ChertChatSeed {
            members: members.iter().map(|m| m.as_ref().to_owned()).collect(),
            ..ChertChatSeed::default()
        }
    }
}

/// A snapshot of one chat in the Chert emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChertChat {
    /// The chat id.
    pub id: String,
    /// A group (`true`) or a direct message (`false`).
    pub is_group: bool,
    /// The roster, excluding the Chert line itself.
    pub members: Vec<String>,
    /// Whether the line has left the chat.
    pub left: bool,
    /// Whether the group has its chat key.
    pub chat_key: bool,
    /// Whether the chat has a pinned line.
    pub pinned_line: bool,
}

/// A cloneable handle on the Chert emulator's state: seed chats, inspect them, manage
/// tenants. Obtained from [`Sandbox::chert`](crate::Sandbox::chert).
#[derive(Clone)]
pub struct ChertEmulator {
    state: Arc<Mutex<ChertState>>,
    clock: Clock,
}

#[derive(Debug)]
struct ChertState {
    default_tenant: String,
    tenants: BTreeMap<String, String>,
    chats: HashMap<String, ChertChat>,
    max_group_size: Option<usize>,
}

impl fmt::Debug for ChertEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("ChertEmulator")
            .field("default_tenant", &state.default_tenant)
            .field("tenants", &state.tenants.len())
            .field("chats", &state.chats.len())
            .field("max_group_size", &state.max_group_size)
            .finish_non_exhaustive()
    }
}

impl ChertEmulator {
    pub(crate) fn new(clock: Clock) -> Self {
        let mut tenants = BTreeMap::new();
        tenants.insert(DEFAULT_TENANT.to_owned(), DEFAULT_SIGNING_SECRET.to_owned());
        ChertEmulator {
            state: Arc::new(Mutex::new(ChertState {
                default_tenant: DEFAULT_TENANT.to_owned(),
                tenants,
                chats: HashMap::new(),
                max_group_size: None,
            })),
            clock,
        }
    }

    /// Creates (or replaces) a chat and returns its id.
    pub fn create_chat(&self, seed: ChertChatSeed) -> String {
        let mut state = lock(&self.state);
        let id = match seed.id {
            Some(id) => id,
            None => loop {
                let id = new_chat_id();
                if !state.chats.contains_key(&id) {
                    break id;
                }
            },
        };
        let mut members: Vec<String> = Vec::with_capacity(seed.members.len());
        for member in seed.members {
            let member = normalize_address(&member);
            if !members.contains(&member) {
                members.push(member);
            }
        }
        let chat = ChertChat {
            id: id.clone(),
            is_group: seed.is_group,
            members,
            left: false,
            chat_key: seed.chat_key,
            pinned_line: seed.pinned_line,
        };
        state.chats.insert(id.clone(), chat);
        id
    }

    /// Creates a healthy group with these members (the line excluded) and returns its id.
    pub fn create_group(&self, members: &[&str]) -> String {
        self.create_chat(ChertChatSeed::group(members))
    }

    /// Creates a direct message with one other party and returns its id.
    pub fn create_dm(&self, member: &str) -> String {
        self.create_chat(ChertChatSeed {
            is_group: false,
            ..ChertChatSeed::group(&[member])
        })
    }

    /// A snapshot of a chat, or `None` if it does not exist.
    #[must_use]
    pub fn chat(&self, id: &str) -> Option<ChertChat> {
        lock(&self.state).chats.get(id).cloned()
    }

    /// The roster of a chat (the line excluded), or `None` if it does not exist.
    #[must_use]
    pub fn members(&self, id: &str) -> Option<Vec<String>> {
        lock(&self.state).chats.get(id).map(|c| c.members.clone())
    }

    /// Whether the line has left the chat (`false` for an unknown chat).
    #[must_use]
    pub fn has_left(&self, id: &str) -> bool {
        lock(&self.state).chats.get(id).is_some_and(|c| c.left)
    }

    /// Every chat id, sorted.
    #[must_use]
    pub fn chat_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.state).chats.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The default tenant's slug.
    #[must_use]
    pub fn tenant(&self) -> String {
        lock(&self.state).default_tenant.clone()
    }

    /// The default tenant's signing secret.
    #[must_use]
    pub fn signing_secret(&self) -> String {
        let state = lock(&self.state);
        state
            .tenants
            .get(&state.default_tenant)
            .cloned()
            .unwrap_or_default()
    }

    /// Replaces the default tenant's signing secret.
    pub fn set_signing_secret(&self, secret: impl Into<String>) {
        let mut state = lock(&self.state);
        let tenant = state.default_tenant.clone();
        state.tenants.insert(tenant, secret.into());
    }

    /// Adds a tenant, or replaces its secret if it exists.
    pub fn add_tenant(&self, slug: impl Into<String>, signing_secret: impl Into<String>) {
        lock(&self.state)
            .tenants
            .insert(slug.into(), signing_secret.into());
    }

    /// Removes a tenant (requests naming it then get 404/2001). Returns whether it existed.
    /// The default tenant's slug stays reported by [`tenant`](Self::tenant) even if removed.
    pub fn remove_tenant(&self, slug: &str) -> bool {
        lock(&self.state).tenants.remove(slug).is_some()
    }

    /// Caps the group size (members + the line) that adds may reach; `None` (the default) for
    /// no cap. An add beyond the cap gets 422/1006 (assumed: Chert documents no cap on adds and
    /// uses 1006/422 for too many recipients on create).
    pub fn set_max_group_size(&self, max: Option<usize>) {
        lock(&self.state).max_group_size = max;
    }

    /// A valid `x-chert-signature` value for `body`, signed now (by the emulator's clock) with
    /// the default tenant's secret.
    #[must_use]
    pub fn sign_now(&self, body: &[u8]) -> String {
        let secret = self.signing_secret();
        request_signature(&secret, self.clock.now_unix(), body)
    }

    /// The credentials for the default tenant, given the sandbox's base URL.
    pub(crate) fn credentials(&self, sandbox_base_url: &str) -> ChertCredentials {
        ChertCredentials {
            base_url: format!("{sandbox_base_url}{}", Provider::Chert.mount_path()),
            tenant: self.tenant(),
            signing_secret: self.signing_secret(),
        }
    }
}

/// The Chert routes: the emulated API and the control-plane routes.
pub(crate) fn router(emulator: &ChertEmulator) -> ProviderRouter {
    ProviderRouter {
        provider: Provider::Chert,
        api: api::router(emulator.clone()),
        control: control::router(emulator.clone()),
    }
}

/// Emails are compared and echoed lowercased; anything else (E.164) is kept as is.
fn normalize_address(address: &str) -> String {
    if address.contains('@') {
        address.to_lowercase()
    } else {
        address.to_owned()
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `ch_` + 26 Crockford base32 characters: a ULID (48-bit millisecond time, 80 random bits).
fn new_chat_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let value = ((millis & ((1 << 48) - 1)) << 80) | (fastrand::u128(..) & ((1 << 80) - 1));
    let mut id = String::with_capacity(29);
    id.push_str("ch_");
    for i in (0..26).rev() {
        let index = usize::try_from((value >> (i * 5)) & 31).unwrap_or(0);
        id.push(char::from(CROCKFORD[index]));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_ids_are_ulids() {
        let id = new_chat_id();
        assert_eq!(id.len(), 29);
        assert!(id.starts_with("ch_"));
        assert!(id[3..].bytes().all(|b| CROCKFORD.contains(&b)));
        assert_ne!(id, new_chat_id());
    }

    #[test]
    fn seeding_normalises_members() {
        let chert = ChertEmulator::new(Clock::default());
        let id = chert.create_group(&["Alice@Example.COM", "+14155550100", "alice@example.com"]);
        assert_eq!(
            chert.members(&id).unwrap(),
            vec!["alice@example.com", "+14155550100"]
        );
        assert!(!chert.has_left(&id));
    }
}

/// What `--state` saves of the Chert emulator: tenants, chats and settings.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChertSaved {
    default_tenant: String,
    tenants: BTreeMap<String, String>,
    chats: BTreeMap<String, ChertChat>,
    max_group_size: Option<usize>,
}

impl ChertEmulator {
    pub(crate) fn save(&self) -> ChertSaved {
        let state = lock(&self.state);
        ChertSaved {
            default_tenant: state.default_tenant.clone(),
            tenants: state.tenants.clone(),
            chats: state
                .chats
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            max_group_size: state.max_group_size,
        }
    }

    pub(crate) fn load(&self, saved: ChertSaved) {
        let mut state = lock(&self.state);
        state.default_tenant = saved.default_tenant;
        state.tenants = saved.tenants;
        state.chats = saved.chats.into_iter().collect();
        state.max_group_size = saved.max_group_size;
    }
}
