//! The Linq Partner API v3 (iMessage) emulator, mounted at `/linq/api/partner` (so a client's
//! base URL is `{sandbox}/linq/api/partner` and its paths start with `/v3/`).
//!
//! It follows the "Emulator" column of the project's Linq contract notes (`linq.md`):
//!
//! - **Auth.** `Authorization: Bearer <api key>` (scheme case-insensitive) on every request,
//!   unknown routes included; missing or wrong → 401/2004. Default key [`DEFAULT_API_KEY`]
//!   (settable). Other headers (`X-Stainless-*`, `traceparent`, ...) are ignored.
//! - **Routes.** `GET /v3/chats/{chatId}` (a bare `Chat`: `id, display_name, service, handles,
//!   is_archived, is_group, created_at, updated_at`), `DELETE` and `POST
//!   /v3/chats/{chatId}/participants` with the JSON body `{"handle": ..}`, `POST
//!   /v3/chats/{chatId}/leave` (any body ignored). Mutations answer **202**
//!   `{"message": "Participant removal queued" | "Participant addition queued" | "Leave group
//!   chat queued", "status": "accepted", "trace_id"}`. Any other path or method: 404/2001
//!   "Resource not found" (assumed; Linq documents no code for unknown routes).
//! - **Errors**, checked in this order: the chat id is not a UUID → 400/1005 (assumed); unknown
//!   chat → 404/2001; our line left the chat → 409/2013 on every route but `GET` (which stays
//!   200 with our own handle `left`); for remove and add, an empty body or a missing, null or
//!   empty `handle` → 400/1001, a body that is not a JSON object or a `handle` that is not a
//!   string → 400/1003, a handle without `@` that is not E.164 (`+[1-9][0-9]{1,14}`) →
//!   400/1002, a malformed email → 400/1005; a DM → 409/1006; leaving a group whose service is
//!   not iMessage, or adding a handle registered with another service
//!   ([`LinqEmulator::set_handle_service`]) → 409/2017; a handle that is not an active member,
//!   our own handle, or a size rule → 400/1005 (size rules count active handles including
//!   ours: remove needs 4+ before, i.e. 3+ after; leave needs 4+; add needs 3+). With
//!   [`LinqEmulator::set_async_reject`] the state checks after the body's (1006, 2017, 1005)
//!   answer 202 instead and the change is silently dropped. Adding an active member: 202, no
//!   change, no webhook.
//! - **Error envelope**, always complete: `{"success":false,"error":{"status","code",
//!   "message","doc_url":"https://docs.linqapp.com/error/codes/<N>xxx/<code>/"},"trace_id"}`
//!   (plus `error.retry_after` and `Retry-After` on faults that set a delay). No trace header.
//! - **Queued changes.** With the default delay of 0 a change is applied *before* the 202 is
//!   sent, so a `GET` right after shows it. With [`LinqEmulator::set_apply_delay`] it is
//!   applied that long after the 202 by a background task (re-checked then; dropped silently
//!   if no longer valid), or at once by [`LinqEmulator::apply_pending`]. A removal sets the
//!   handle's status to `removed`, a leave our own handle's to `left`, both with `left_at`; an
//!   add of a departed handle makes it `active` again (new `joined_at`, `left_at` null).
//! - **Webhooks.** When a change is applied, a `participant.removed` / `participant.added`
//!   event (`data` with `chat_id`, the deprecated `handle`, `participant` and
//!   `removed_at`/`added_at`) is POSTed to every matching subscription
//!   ([`LinqEmulator::add_webhook`]), signed as Linq signs: `X-Webhook-Timestamp` and
//!   `X-Webhook-Signature` (bare hex HMAC-SHA256 with the whole signing secret over
//!   `"<ts>.<body>"`), plus `X-Webhook-Event` and `X-Webhook-Subscription-ID`. Only `http://`
//!   targets are supported. Retries on 5xx, 429, timeouts (10 s) and network errors, by default
//!   10 attempts over about 24 minutes ([`DEFAULT_WEBHOOK_RETRY_DELAYS`]); every attempt is in
//!   [`LinqEmulator::deliveries`].
//! - **State.** Chat ids are lowercase v4 UUIDs (looked up case-insensitively); handles are
//!   stored as given (emails compared case-insensitively); times come from the sandbox clock.

mod api;
mod control;
mod error;
mod webhook;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::framework::ProviderRouter;
use crate::provider::Provider;
use crate::sync::lock;

pub use webhook::{DEFAULT_WEBHOOK_RETRY_DELAYS, LinqDelivery, webhook_signature};

/// The bearer token the emulator accepts at start.
pub const DEFAULT_API_KEY: &str = "linq_sandbox_0123456789abcdef";

/// Our own line's handle in seeded chats unless a seed says otherwise.
pub const DEFAULT_LINE: &str = "+13343284472";

/// How to reach the Linq emulator: what a Linq client needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinqCredentials {
    /// The API base URL, `http://127.0.0.1:PORT/linq/api/partner`.
    pub base_url: String,
    /// The bearer token (`LINQ_API_V3_API_KEY`).
    pub api_key: String,
}

/// How to create a chat in the Linq emulator.
///
/// Missing JSON fields take the [`Default`] values: an iMessage group with our line
/// [`DEFAULT_LINE`], no other members and a fresh id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LinqChatSeed {
    /// The chat id (lowercased); a fresh v4 UUID when `None`. Seeding an existing id replaces
    /// that chat.
    pub id: Option<String>,
    /// A group (`true`) or a direct message (`false`).
    pub is_group: bool,
    /// Our own line's handle (listed with `is_me: true`).
    pub me: String,
    /// The other members, all active. Duplicates (and our own line) are dropped.
    pub members: Vec<String>,
    /// The chat's service: `"iMessage"`, `"SMS"` or `"RCS"`.
    pub service: String,
    /// The display name; `None` is sent as `null`.
    pub display_name: Option<String>,
}

impl Default for LinqChatSeed {
    fn default() -> Self {
        LinqChatSeed {
            id: None,
            is_group: true,
            me: DEFAULT_LINE.to_owned(),
            members: Vec::new(),
            service: "iMessage".to_owned(),
            display_name: None,
        }
    }
}

impl LinqChatSeed {
    /// An iMessage group of our line and these members.
    #[must_use]
    pub fn group<S: AsRef<str>>(members: &[S]) -> Self {
        LinqChatSeed {
            members: members.iter().map(|m| m.as_ref().to_owned()).collect(),
            ..LinqChatSeed::default()
        }
    }
}

/// One handle of a chat, exactly as `GET /v3/chats/{chatId}` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinqHandle {
    /// A v4 UUID for this membership.
    pub id: String,
    /// The phone number or email.
    pub handle: String,
    /// The chat's service.
    pub service: String,
    /// `"active"`, `"left"` or `"removed"`.
    pub status: String,
    /// When the handle joined (RFC 3339 UTC).
    pub joined_at: String,
    /// When the handle left or was removed (RFC 3339 UTC), else `null`.
    pub left_at: Option<String>,
    /// Whether this is our own line.
    pub is_me: bool,
}

impl LinqHandle {
    /// Whether the handle's status is `active`.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

/// A snapshot of one chat, serialized exactly as `GET /v3/chats/{chatId}` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinqChat {
    /// The chat id (a lowercase UUID).
    pub id: String,
    /// The display name.
    pub display_name: Option<String>,
    /// `"iMessage"`, `"SMS"` or `"RCS"`.
    pub service: String,
    /// Every handle the chat ever had, with its status.
    pub handles: Vec<LinqHandle>,
    /// Always `false` in the emulator.
    pub is_archived: bool,
    /// A group or a DM.
    pub is_group: bool,
    /// When the chat was seeded (RFC 3339 UTC).
    pub created_at: String,
    /// When the chat last changed (RFC 3339 UTC).
    pub updated_at: String,
}

impl LinqChat {
    /// Whether our own line has left the chat.
    #[must_use]
    pub fn has_left(&self) -> bool {
        self.handles.iter().any(|h| h.is_me && h.status == "left")
    }

    /// The active handles, our own line included, in order.
    #[must_use]
    pub fn active_handles(&self) -> Vec<String> {
        self.handles
            .iter()
            .filter(|h| h.is_active())
            .map(|h| h.handle.clone())
            .collect()
    }

    fn active_count(&self) -> usize {
        self.handles.iter().filter(|h| h.is_active()).count()
    }

    /// The active entry for `handle`, else the last one.
    fn position(&self, handle: &str) -> Option<usize> {
        let mut found = None;
        for (index, h) in self.handles.iter().enumerate() {
            if same_handle(&h.handle, handle) {
                if h.is_active() {
                    return Some(index);
                }
                found = Some(index);
            }
        }
        found
    }
}

/// A webhook subscription, as seeded through [`LinqEmulator::add_webhook_subscription`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinqWebhookSeed {
    /// Where to POST deliveries (`http://` only, no whitespace or control characters: the
    /// control plane refuses others, and a delivery to one fails without being sent). A
    /// `?version=YYYY-MM-DD` query sets the payload's `webhook_version` (default
    /// `2026-02-03`).
    pub target_url: String,
    /// The signing secret (the whole `whsec_…` string is the HMAC key).
    pub signing_secret: String,
    /// The event types to deliver; empty for every type.
    #[serde(default)]
    pub subscribed_events: Vec<String>,
}

/// Checks a webhook target before it can reach a request line: `http://`, an authority, and
/// no whitespace or control characters (CR/LF would inject headers into the delivery).
pub(crate) fn check_target_url(url: &str) -> Result<(), String> {
    if let Some(c) = url.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!(
            "target_url must not contain whitespace or control characters (found {c:?})"
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| "only http:// webhook targets are supported by the sandbox".to_owned())?;
    if rest.split('/').next().is_none_or(str::is_empty) {
        return Err("target_url needs a host".to_owned());
    }
    Ok(())
}

/// A mutation accepted and not applied yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Remove { chat: String, handle: String },
    Add { chat: String, handle: String },
    Leave { chat: String },
}

#[derive(Debug, Clone)]
struct Pending {
    id: u64,
    change: Change,
    trace_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) seed: LinqWebhookSeed,
}

#[derive(Debug)]
struct LinqState {
    api_key: String,
    chats: HashMap<String, LinqChat>,
    apply_delay: Duration,
    async_reject: bool,
    handle_services: HashMap<String, String>,
    pending: Vec<Pending>,
    next_pending: u64,
    subscriptions: Vec<Subscription>,
    deliveries: Vec<LinqDelivery>,
    retry_delays: Vec<Duration>,
    partner_id: String,
}

/// A cloneable handle on the Linq emulator's state: seed chats, inspect rosters, change
/// settings, subscribe webhooks. Obtained from [`Sandbox::linq`](crate::Sandbox::linq).
#[derive(Clone)]
pub struct LinqEmulator {
    state: Arc<Mutex<LinqState>>,
    clock: Clock,
}

impl fmt::Debug for LinqEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("LinqEmulator")
            .field("chats", &state.chats.len())
            .field("apply_delay", &state.apply_delay)
            .field("async_reject", &state.async_reject)
            .field("pending", &state.pending.len())
            .field("subscriptions", &state.subscriptions.len())
            .finish_non_exhaustive()
    }
}

impl LinqEmulator {
    pub(crate) fn new(clock: Clock) -> Self {
        LinqEmulator {
            state: Arc::new(Mutex::new(LinqState {
                api_key: DEFAULT_API_KEY.to_owned(),
                chats: HashMap::new(),
                apply_delay: Duration::ZERO,
                async_reject: false,
                handle_services: HashMap::new(),
                pending: Vec::new(),
                next_pending: 1,
                subscriptions: Vec::new(),
                deliveries: Vec::new(),
                retry_delays: DEFAULT_WEBHOOK_RETRY_DELAYS
                    .iter()
                    .map(|s| Duration::from_secs(*s))
                    .collect(),
                partner_id: "partner_sandbox".to_owned(),
            })),
            clock,
        }
    }

    /// Creates (or replaces) a chat and returns its id.
    pub fn create_chat(&self, seed: LinqChatSeed) -> String {
        let now = rfc3339(self.clock.now_unix());
        let mut state = lock(&self.state);
        let id = match seed.id {
            Some(id) => id.to_ascii_lowercase(),
            None => loop {
                let id = new_uuid();
                if !state.chats.contains_key(&id) {
                    break id;
                }
            },
        };
        let member = |handle: &str, is_me: bool| LinqHandle {
            id: new_uuid(),
            handle: handle.to_owned(),
            service: seed.service.clone(),
            status: "active".to_owned(),
            joined_at: now.clone(),
            left_at: None,
            is_me,
        };
        let mut handles = vec![member(&seed.me, true)];
        for m in &seed.members {
            if !handles.iter().any(|h| same_handle(&h.handle, m)) {
                handles.push(member(m, false));
            }
        }
        let chat = LinqChat {
            id: id.clone(),
            display_name: seed.display_name.clone(),
            service: seed.service.clone(),
            handles,
            is_archived: false,
            is_group: seed.is_group,
            created_at: now.clone(),
            updated_at: now,
        };
        state.chats.insert(id.clone(), chat);
        id
    }

    /// Creates an iMessage group of our line ([`DEFAULT_LINE`]) and these members; returns its
    /// id.
    pub fn create_group(&self, members: &[&str]) -> String {
        self.create_chat(LinqChatSeed::group(members))
    }

    /// Creates an iMessage direct message between our line and `member`; returns its id.
    pub fn create_dm(&self, member: &str) -> String {
        self.create_chat(LinqChatSeed {
            is_group: false,
            ..LinqChatSeed::group(&[member])
        })
    }

    /// A snapshot of a chat (id looked up case-insensitively), or `None`.
    #[must_use]
    pub fn chat(&self, id: &str) -> Option<LinqChat> {
        lock(&self.state)
            .chats
            .get(&id.to_ascii_lowercase())
            .cloned()
    }

    /// Every handle of a chat with its status (our own line included), or `None`.
    #[must_use]
    pub fn handles(&self, id: &str) -> Option<Vec<LinqHandle>> {
        self.chat(id).map(|c| c.handles)
    }

    /// The active handles of a chat (our own line included), or `None`.
    #[must_use]
    pub fn active_handles(&self, id: &str) -> Option<Vec<String>> {
        self.chat(id).map(|c| c.active_handles())
    }

    /// Whether our line has left the chat (`false` for an unknown chat).
    #[must_use]
    pub fn has_left(&self, id: &str) -> bool {
        self.chat(id).is_some_and(|c| c.has_left())
    }

    /// Every chat id, sorted.
    #[must_use]
    pub fn chat_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = lock(&self.state).chats.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The bearer token the emulator accepts.
    #[must_use]
    pub fn api_key(&self) -> String {
        lock(&self.state).api_key.clone()
    }

    /// Replaces the accepted bearer token.
    pub fn set_api_key(&self, api_key: impl Into<String>) {
        lock(&self.state).api_key = api_key.into();
    }

    /// How long after the 202 a queued change is applied (default zero: before the 202).
    #[must_use]
    pub fn apply_delay(&self) -> Duration {
        lock(&self.state).apply_delay
    }

    /// Sets how long after the 202 a queued change is applied. Zero (the default) applies it
    /// before the 202 is sent.
    pub fn set_apply_delay(&self, delay: Duration) {
        lock(&self.state).apply_delay = delay;
    }

    /// Whether rejections after the body checks (1006, 2017, 1005) answer 202 and drop the
    /// change silently, as a real queue might.
    #[must_use]
    pub fn async_reject(&self) -> bool {
        lock(&self.state).async_reject
    }

    /// Sets [`async_reject`](Self::async_reject).
    pub fn set_async_reject(&self, on: bool) {
        lock(&self.state).async_reject = on;
    }

    /// Registers the only service `handle` supports (e.g. `"RCS"`): adding it to a chat of
    /// another service answers 409/2017. Handles not registered support every service.
    pub fn set_handle_service(&self, handle: &str, service: &str) {
        lock(&self.state)
            .handle_services
            .insert(handle.to_ascii_lowercase(), service.to_owned());
    }

    /// How many accepted changes wait to be applied.
    #[must_use]
    pub fn pending_count(&self) -> usize {
        lock(&self.state).pending.len()
    }

    /// Applies every pending change now (each re-checked; invalid ones dropped) and returns how
    /// many were taken from the queue. Webhooks are sent when called within a Tokio runtime.
    pub fn apply_pending(&self) -> usize {
        let pending: Vec<Pending> = std::mem::take(&mut lock(&self.state).pending);
        let count = pending.len();
        for p in pending {
            self.apply(&p.change, &p.trace_id);
        }
        count
    }

    /// Subscribes `target_url` to every event type, signed with `signing_secret`; returns the
    /// subscription id.
    pub fn add_webhook(
        &self,
        target_url: impl Into<String>,
        signing_secret: impl Into<String>,
    ) -> String {
        self.add_webhook_subscription(LinqWebhookSeed {
            target_url: target_url.into(),
            signing_secret: signing_secret.into(),
            subscribed_events: Vec::new(),
        })
    }

    /// Adds a webhook subscription; returns its id (a v4 UUID).
    pub fn add_webhook_subscription(&self, seed: LinqWebhookSeed) -> String {
        let id = new_uuid();
        lock(&self.state).subscriptions.push(Subscription {
            id: id.clone(),
            seed,
        });
        id
    }

    /// Removes every webhook subscription.
    pub fn clear_webhooks(&self) {
        lock(&self.state).subscriptions.clear();
    }

    /// Sets the webhook retry schedule: the wait before each attempt (the first is usually
    /// zero). An empty schedule means one immediate attempt.
    pub fn set_webhook_retry_delays(&self, delays: Vec<Duration>) {
        lock(&self.state).retry_delays = delays;
    }

    /// Every webhook delivery attempt so far, oldest first.
    #[must_use]
    pub fn deliveries(&self) -> Vec<LinqDelivery> {
        lock(&self.state).deliveries.clone()
    }

    /// The credentials, given the sandbox's base URL.
    pub(crate) fn credentials(&self, sandbox_base_url: &str) -> LinqCredentials {
        LinqCredentials {
            base_url: format!("{sandbox_base_url}{}", Provider::Linq.mount_path()),
            api_key: self.api_key(),
        }
    }

    /// Queues `change` (applied now with a zero delay, else later by a task) and returns the
    /// effect to journal.
    pub(crate) fn accept(&self, change: Change, trace_id: &str) -> String {
        let delay = self.apply_delay();
        if delay.is_zero() {
            self.apply(&change, trace_id);
            return change.effect();
        }
        let effect = format!(
            "linq:queued {}",
            change.effect().trim_start_matches("linq:")
        );
        let id = {
            let mut state = lock(&self.state);
            let id = state.next_pending;
            state.next_pending += 1;
            state.pending.push(Pending {
                id,
                change,
                trace_id: trace_id.to_owned(),
            });
            id
        };
        let emulator = self.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                let taken = {
                    let mut state = lock(&emulator.state);
                    state
                        .pending
                        .iter()
                        .position(|p| p.id == id)
                        .map(|index| state.pending.remove(index))
                };
                if let Some(p) = taken {
                    emulator.apply(&p.change, &p.trace_id);
                }
            });
        }
        effect
    }

    /// Applies a change if it is still valid, and sends its webhook.
    fn apply(&self, change: &Change, trace_id: &str) {
        let now_unix = self.clock.now_unix();
        let now = rfc3339(now_unix);
        let event = {
            let mut state = lock(&self.state);
            let partner_id = state.partner_id.clone();
            let Some(chat) = state.chats.get_mut(change.chat()) else {
                return;
            };
            let Some(participant) = apply_to(chat, change, &now) else {
                return;
            };
            chat.updated_at = now.clone();
            webhook::Event {
                event_type: match change {
                    Change::Add { .. } => "participant.added",
                    Change::Remove { .. } | Change::Leave { .. } => "participant.removed",
                },
                chat_id: chat.id.clone(),
                participant,
                at: now,
                trace_id: trace_id.to_owned(),
                partner_id,
                created_unix: now_unix,
            }
        };
        webhook::dispatch(self, &event);
    }
}

/// Applies `change` to `chat` if it is still valid (the rules are re-checked: a queued change
/// can go stale) and returns the changed handle.
fn apply_to(chat: &mut LinqChat, change: &Change, now: &str) -> Option<LinqHandle> {
    if chat.has_left() || !chat.is_group {
        return None;
    }
    let active = chat.active_count();
    let service = chat.service.clone();
    let entry = match change {
        Change::Leave { .. } => {
            if active < api::MIN_ACTIVE_TO_LEAVE {
                return None;
            }
            let entry = chat.handles.iter_mut().find(|h| h.is_me && h.is_active())?;
            entry.status = "left".to_owned();
            entry.left_at = Some(now.to_owned());
            entry
        }
        Change::Remove { handle, .. } => {
            if active < api::MIN_ACTIVE_BEFORE_REMOVE {
                return None;
            }
            let index = chat.position(handle)?;
            let entry = chat.handles.get_mut(index)?;
            if !entry.is_active() || entry.is_me {
                return None;
            }
            entry.status = "removed".to_owned();
            entry.left_at = Some(now.to_owned());
            entry
        }
        Change::Add { handle, .. } => {
            if active < api::MIN_ACTIVE_TO_ADD {
                return None;
            }
            match chat.position(handle) {
                Some(index) => {
                    let entry = chat.handles.get_mut(index)?;
                    if entry.is_active() {
                        return None;
                    }
                    entry.status = "active".to_owned();
                    entry.joined_at = now.to_owned();
                    entry.left_at = None;
                    entry
                }
                None => {
                    chat.handles.push(LinqHandle {
                        id: new_uuid(),
                        handle: handle.clone(),
                        service,
                        status: "active".to_owned(),
                        joined_at: now.to_owned(),
                        left_at: None,
                        is_me: false,
                    });
                    chat.handles.last_mut()?
                }
            }
        }
    };
    Some(entry.clone())
}

impl Change {
    /// The chat the change is for.
    fn chat(&self) -> &str {
        match self {
            Change::Remove { chat, .. } | Change::Add { chat, .. } | Change::Leave { chat } => chat,
        }
    }

    /// The journal effect, e.g. `"linq:remove <chat> <handle>"`.
    fn effect(&self) -> String {
        match self {
            Change::Remove { chat, handle } => format!("linq:remove {chat} {handle}"),
            Change::Add { chat, handle } => format!("linq:add {chat} {handle}"),
            Change::Leave { chat } => format!("linq:leave {chat}"),
        }
    }
}

/// The Linq routes: the emulated API and the control-plane routes.
pub(crate) fn router(emulator: &LinqEmulator) -> ProviderRouter {
    ProviderRouter {
        provider: Provider::Linq,
        api: api::router(emulator.clone()),
        control: control::router(emulator.clone()),
    }
}

/// Phone numbers compare exactly, emails case-insensitively.
fn same_handle(a: &str, b: &str) -> bool {
    if a.contains('@') || b.contains('@') {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// A random v4 UUID, lowercase.
fn new_uuid() -> String {
    let mut v = fastrand::u128(..);
    v &= !(0xf << 76);
    v |= 0x4 << 76; // version 4
    v &= !(0x3 << 62);
    v |= 0x2 << 62; // RFC 4122 variant
    let hex = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `id` is a UUID (8-4-4-4-12 hex digits, any case).
fn is_uuid(id: &str) -> bool {
    let shape = [8, 4, 4, 4, 12];
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == shape.len()
        && groups
            .iter()
            .zip(shape)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `unix` seconds as RFC 3339 UTC (`2025-11-23T17:45:00Z`).
fn rfc3339(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or(0);
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests;

/// What `--state` saves of the Linq emulator: chats, settings and webhook subscriptions
/// (not queued changes, deliveries or retry delays).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinqSaved {
    api_key: String,
    chats: std::collections::BTreeMap<String, LinqChat>,
    apply_delay_ms: u64,
    async_reject: bool,
    handle_services: std::collections::BTreeMap<String, String>,
    webhooks: Vec<(String, LinqWebhookSeed)>,
    partner_id: String,
}

impl LinqEmulator {
    pub(crate) fn save(&self) -> LinqSaved {
        let state = lock(&self.state);
        LinqSaved {
            api_key: state.api_key.clone(),
            chats: state
                .chats
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            apply_delay_ms: u64::try_from(state.apply_delay.as_millis()).unwrap_or(u64::MAX),
            async_reject: state.async_reject,
            handle_services: state
                .handle_services
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            webhooks: state
                .subscriptions
                .iter()
                .map(|s| (s.id.clone(), s.seed.clone()))
                .collect(),
            partner_id: state.partner_id.clone(),
        }
    }

    pub(crate) fn load(&self, saved: LinqSaved) {
        let mut state = lock(&self.state);
        state.api_key = saved.api_key;
        state.chats = saved.chats.into_iter().collect();
        state.apply_delay = Duration::from_millis(saved.apply_delay_ms);
        state.async_reject = saved.async_reject;
        state.handle_services = saved.handle_services.into_iter().collect();
        state.subscriptions = saved
            .webhooks
            .into_iter()
            .map(|(id, seed)| Subscription { id, seed })
            .collect();
        state.partner_id = saved.partner_id;
    }
}
