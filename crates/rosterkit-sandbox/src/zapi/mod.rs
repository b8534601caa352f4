//! The Z-API (WhatsApp) emulator, mounted at `/zapi`: a Z-API client's base URL is
//! `{sandbox}/zapi`, and every call goes to `/zapi/instances/{id}/token/{token}/{operation}`.
//!
//! It follows the "Emulator" column of the project's Z-API contract notes (zapi.md §1, §4, §7):
//!
//! - **Checks, in order.** The path must be `/instances/{id}/token/{token}/…` (else 404
//!   `{"error":"not found"}`); a wrong instance id or token is 401
//!   `{"error":"invalid instance or token"}`; a missing or wrong `Client-Token` header is 401
//!   `{"error":"null not allowed"}`; an unknown operation is 404 `{"error":"not found"}`; a
//!   known operation with another method is **405 with an empty body**; a `POST` without
//!   `Content-Type: application/json` (parameters allowed) is **415 with an empty body**; a body
//!   that is not a JSON object, or lacks `groupId`/`communityId` or `phones`, is 400
//!   `{"error":"..."}` (ours). Statuses other than 405/415 are ours: Z-API documents none.
//! - **Disconnected instance** ([`ZapiEmulator::set_connected`]): every operation that passed
//!   the checks answers `200 {"value":false}`, metadata reads included.
//! - **Mutations** reply `200 {"value": bool}`, one boolean for the batch: `false` when any
//!   phone failed, while the phones that succeeded stay applied. An unknown group or community
//!   is `false`; so is a group where the connected number is not an admin (adds and removes).
//!   - `POST /remove-participant` `{"groupId"|"communityId","phones"}`: a phone fails when it
//!     is not a member, malformed, or the connected number itself.
//!   - `POST /add-participant` `{"autoInvite"?,"groupId"|"communityId","phones"}`
//!     (`autoInvite` missing → `false`): a phone fails when it is already a member or
//!     malformed; a number marked "not a contact" ([`ZapiEmulator::set_contact`]) fails, or
//!     with `autoInvite: true` gets an invite link instead (recorded, not added).
//!   - `POST /leave-group` `{"groupId"}`: the connected number leaves; `false` when it is not a
//!     member or the group is unknown.
//!   - A community's members are the participants of its announcement sub-group; `communityId`
//!     mutations change that group.
//! - **Reads**, exact shapes of zapi.md §3.4: `GET /group-metadata/{groupId}` (with an
//!   `invitationLink`), `GET /light-group-metadata/{groupId}` (`invitationLink: null`),
//!   `GET /communities-metadata/{communityId}` (`{name,id,description,subGroups}`). A group
//!   that does not exist, or that the connected number is not in, is 404
//!   `{"error":"group not found"}` (a community too).
//! - **Phones** are digits (8 to 15, first not 0) or `<digits>@lid`; seeds may write a `+`,
//!   which is dropped. The connected number ([`DEFAULT_CONNECTED_PHONE`]) is listed in the
//!   groups it is in, as super-admin of the groups seeded here.
//! - **Journal effects**: `zapi:remove <chat> <phone>`, `zapi:add <chat> <phone>`,
//!   `zapi:invite <chat> <phone>`, `zapi:leave <group>`, where `<chat>` is the id the request
//!   named (`groupId` or `communityId`).

mod api;
mod control;

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::fault::FaultAction;
use crate::framework::ProviderRouter;
use crate::provider::Provider;
use crate::sync::lock;

/// The instance id the emulator accepts at start (zapi.md §8's).
pub const DEFAULT_INSTANCE_ID: &str = "3C01A2B3C4";

/// The instance token the emulator accepts at start.
pub const DEFAULT_INSTANCE_TOKEN: &str = "TOKEN123";

/// The `Client-Token` (account security token) the emulator requires at start.
pub const DEFAULT_CLIENT_TOKEN: &str = "acct-secret";

/// The phone number of the emulated instance's WhatsApp account, digits only.
pub const DEFAULT_CONNECTED_PHONE: &str = "5511999999999";

/// How to reach the Z-API emulator: what a Z-API client needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZapiCredentials {
    /// The API base URL, `http://127.0.0.1:PORT/zapi` (requests go to
    /// `{base_url}/instances/{instance_id}/token/{instance_token}/…`).
    pub base_url: String,
    /// The instance id.
    pub instance_id: String,
    /// The instance token.
    pub instance_token: String,
    /// The account security token, sent as `Client-Token`.
    pub client_token: String,
    /// The connected number, digits only.
    pub connected_phone: String,
}

/// How to create a group in the Z-API emulator. Missing JSON fields take the [`Default`]
/// values: a generated id, the connected number as member and super-admin, no one else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZapiGroupSeed {
    /// The group id; a fresh `120363…-group` when `None`. Seeding an existing id replaces it.
    pub id: Option<String>,
    /// The group's name.
    pub subject: String,
    /// The members besides the connected number (digits; a leading `+` is dropped).
    pub members: Vec<String>,
    /// Which of `members` are admins.
    pub admins: Vec<String>,
    /// Whether the connected number is in the group.
    pub connected_member: bool,
    /// Whether the connected number is an admin (needed for adds and removes).
    pub connected_admin: bool,
}

impl Default for ZapiGroupSeed {
    fn default() -> Self {
        ZapiGroupSeed {
            id: None,
            subject: "Sandbox group".to_owned(),
            members: Vec::new(),
            admins: Vec::new(),
            connected_member: true,
            connected_admin: true,
        }
    }
}

impl ZapiGroupSeed {
    /// A group with these members, the connected number as super-admin.
    #[must_use]
    pub fn with_members<S: AsRef<str>>(members: &[S]) -> Self {
        ZapiGroupSeed {
            members: members.iter().map(|m| m.as_ref().to_owned()).collect(),
            ..ZapiGroupSeed::default()
        }
    }
}

/// How to create a community in the Z-API emulator. Missing JSON fields take the [`Default`]
/// values: a generated id, an announcement sub-group with the connected number as
/// super-admin, no other members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ZapiCommunitySeed {
    /// The community id (digits); a fresh 18-digit id when `None`.
    pub id: Option<String>,
    /// The community's name (also its announcement group's subject).
    pub name: String,
    /// The description.
    pub description: String,
    /// The members besides the connected number: the announcement group's participants.
    pub members: Vec<String>,
    /// Whether the community has an announcement sub-group (without one, its members cannot
    /// be read and `communityId` mutations answer `false`).
    pub announcement: bool,
    /// Existing groups to link as further sub-groups.
    pub sub_groups: Vec<String>,
}

impl Default for ZapiCommunitySeed {
    fn default() -> Self {
        ZapiCommunitySeed {
            id: None,
            name: "Sandbox community".to_owned(),
            description: String::new(),
            members: Vec::new(),
            announcement: true,
            sub_groups: Vec::new(),
        }
    }
}

/// One participant of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZapiMember {
    /// Digits only, or `<digits>@lid`.
    pub phone: String,
    /// An admin.
    pub is_admin: bool,
    /// The group's creator.
    pub is_super_admin: bool,
}

/// A snapshot of one group in the Z-API emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZapiGroup {
    /// The group id.
    pub id: String,
    /// The group's name.
    pub subject: String,
    /// The creator's phone.
    pub owner: String,
    /// Creation time, ms since the Unix epoch.
    pub creation: u64,
    /// The community this group belongs to.
    pub community_id: Option<String>,
    /// Whether it is a community's announcement group.
    pub is_announcement: bool,
    /// The participants, the connected number included when it is in the group.
    pub participants: Vec<ZapiMember>,
    /// Phones that were sent an invite link (`autoInvite` adds of non-contacts), in order.
    pub invites: Vec<String>,
}

impl ZapiGroup {
    fn member(&self, phone: &str) -> Option<&ZapiMember> {
        self.participants.iter().find(|m| m.phone == phone)
    }

    fn phones(&self) -> Vec<String> {
        self.participants.iter().map(|m| m.phone.clone()).collect()
    }
}

/// A snapshot of one community in the Z-API emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZapiCommunity {
    /// The community id (digits).
    pub id: String,
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// The announcement sub-group's id, if it has one.
    pub announcement_group: Option<String>,
    /// Further linked groups.
    pub sub_groups: Vec<String>,
}

/// A cloneable handle on the Z-API emulator's state: seed groups and communities, inspect
/// them, connect or disconnect the instance. Obtained from
/// [`Sandbox::zapi`](crate::Sandbox::zapi).
#[derive(Clone)]
pub struct ZapiEmulator {
    state: Arc<Mutex<ZapiState>>,
}

#[derive(Debug)]
struct ZapiState {
    instance_id: String,
    instance_token: String,
    client_token: String,
    connected_phone: String,
    connected: bool,
    groups: HashMap<String, ZapiGroup>,
    communities: HashMap<String, ZapiCommunity>,
    non_contacts: BTreeSet<String>,
}

impl fmt::Debug for ZapiEmulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("ZapiEmulator")
            .field("instance_id", &state.instance_id)
            .field("connected", &state.connected)
            .field("groups", &state.groups.len())
            .field("communities", &state.communities.len())
            .finish_non_exhaustive()
    }
}

impl Default for ZapiEmulator {
    fn default() -> Self {
        Self::new()
    }
}

impl ZapiEmulator {
    pub(crate) fn new() -> Self {
        ZapiEmulator {
            state: Arc::new(Mutex::new(ZapiState {
                instance_id: DEFAULT_INSTANCE_ID.to_owned(),
                instance_token: DEFAULT_INSTANCE_TOKEN.to_owned(),
                client_token: DEFAULT_CLIENT_TOKEN.to_owned(),
                connected_phone: DEFAULT_CONNECTED_PHONE.to_owned(),
                connected: true,
                groups: HashMap::new(),
                communities: HashMap::new(),
                non_contacts: BTreeSet::new(),
            })),
        }
    }

    /// Creates a group with these members (besides the connected number, its super-admin) and
    /// returns its id (`120363…-group`).
    pub fn create_group(&self, members: &[&str]) -> String {
        self.create_group_with(ZapiGroupSeed::with_members(members))
    }

    /// Creates (or replaces) a group and returns its id.
    pub fn create_group_with(&self, seed: ZapiGroupSeed) -> String {
        let mut state = lock(&self.state);
        let id = match &seed.id {
            Some(id) => id.clone(),
            None => fresh_id(|id| state.groups.contains_key(id), "-group"),
        };
        let connected = state.connected_phone.clone();
        let group = new_group(&id, &connected, seed, None);
        state.groups.insert(id.clone(), group);
        id
    }

    /// Creates a community whose announcement group has these members (besides the connected
    /// number) and returns the community id (digits).
    pub fn create_community(&self, members: &[&str]) -> String {
        self.create_community_with(ZapiCommunitySeed {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            ..ZapiCommunitySeed::default()
        })
    }

    /// Creates (or replaces) a community and returns its id.
    pub fn create_community_with(&self, seed: ZapiCommunitySeed) -> String {
        let mut state = lock(&self.state);
        let id = match seed.id.clone() {
            Some(id) => id,
            None => fresh_id(|id| state.communities.contains_key(id), ""),
        };
        let connected = state.connected_phone.clone();
        let announcement_group = if seed.announcement {
            let group_id = fresh_id(|id| state.groups.contains_key(id), "-group");
            let group_seed = ZapiGroupSeed {
                subject: seed.name.clone(),
                members: seed.members.clone(),
                ..ZapiGroupSeed::default()
            };
            let mut group = new_group(&group_id, &connected, group_seed, Some(&id));
            group.is_announcement = true;
            state.groups.insert(group_id.clone(), group);
            Some(group_id)
        } else {
            None
        };
        for linked in &seed.sub_groups {
            if let Some(group) = state.groups.get_mut(linked) {
                group.community_id = Some(id.clone());
            }
        }
        let community = ZapiCommunity {
            id: id.clone(),
            name: seed.name,
            description: seed.description,
            announcement_group,
            sub_groups: seed.sub_groups,
        };
        state.communities.insert(id.clone(), community);
        id
    }

    /// A snapshot of a group, or `None` if it does not exist.
    #[must_use]
    pub fn group(&self, id: &str) -> Option<ZapiGroup> {
        lock(&self.state).groups.get(id).cloned()
    }

    /// A snapshot of a community, or `None` if it does not exist.
    #[must_use]
    pub fn community(&self, id: &str) -> Option<ZapiCommunity> {
        lock(&self.state).communities.get(id).cloned()
    }

    /// The participants' phones of a group, or of a community's announcement group, as the
    /// metadata lists them (the connected number included when it is a member); `None` for an
    /// unknown id or a community without an announcement group.
    #[must_use]
    pub fn members(&self, id: &str) -> Option<Vec<String>> {
        let state = lock(&self.state);
        resolve(&state, id).map(ZapiGroup::phones)
    }

    /// Phones that were sent an invite link in a group (or a community's announcement group).
    #[must_use]
    pub fn invites(&self, id: &str) -> Vec<String> {
        let state = lock(&self.state);
        resolve(&state, id)
            .map(|g| g.invites.clone())
            .unwrap_or_default()
    }

    /// Connects or disconnects the instance; a disconnected instance answers
    /// `200 {"value":false}` to every operation.
    pub fn set_connected(&self, connected: bool) {
        lock(&self.state).connected = connected;
    }

    /// Whether the instance is connected.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        lock(&self.state).connected
    }

    /// Marks `phone` as (not) in the connected phone's contacts. WhatsApp refuses to add a
    /// number that is not a contact; with `autoInvite` it gets an invite link instead.
    pub fn set_contact(&self, phone: &str, is_contact: bool) {
        let phone = normalize_phone(phone);
        let mut state = lock(&self.state);
        if is_contact {
            state.non_contacts.remove(&phone);
        } else {
            state.non_contacts.insert(phone);
        }
    }

    /// The instance id.
    #[must_use]
    pub fn instance_id(&self) -> String {
        lock(&self.state).instance_id.clone()
    }

    /// The instance token.
    #[must_use]
    pub fn instance_token(&self) -> String {
        lock(&self.state).instance_token.clone()
    }

    /// The `Client-Token` the emulator requires.
    #[must_use]
    pub fn client_token(&self) -> String {
        lock(&self.state).client_token.clone()
    }

    /// The connected number, digits only.
    #[must_use]
    pub fn connected_phone(&self) -> String {
        lock(&self.state).connected_phone.clone()
    }

    /// Replaces the instance id, the instance token and/or the `Client-Token`.
    pub fn set_credentials(
        &self,
        instance_id: Option<&str>,
        instance_token: Option<&str>,
        client_token: Option<&str>,
    ) {
        let mut state = lock(&self.state);
        if let Some(id) = instance_id {
            id.clone_into(&mut state.instance_id);
        }
        if let Some(token) = instance_token {
            token.clone_into(&mut state.instance_token);
        }
        if let Some(token) = client_token {
            token.clone_into(&mut state.client_token);
        }
    }

    /// The credentials, given the sandbox's base URL.
    pub(crate) fn credentials(&self, sandbox_base_url: &str) -> ZapiCredentials {
        let state = lock(&self.state);
        ZapiCredentials {
            base_url: format!("{sandbox_base_url}{}", Provider::Zapi.mount_path()),
            instance_id: state.instance_id.clone(),
            instance_token: state.instance_token.clone(),
            client_token: state.client_token.clone(),
            connected_phone: state.connected_phone.clone(),
        }
    }
}

/// The Z-API routes: the emulated API and the control-plane routes.
pub(crate) fn router(emulator: &ZapiEmulator) -> ProviderRouter {
    ProviderRouter {
        provider: Provider::Zapi,
        api: api::router(emulator.clone()),
        control: control::router(emulator.clone()),
    }
}

/// A group by id, or a community's announcement group by community id.
fn resolve<'a>(state: &'a ZapiState, id: &str) -> Option<&'a ZapiGroup> {
    if let Some(group) = state.groups.get(id) {
        return Some(group);
    }
    let announcement = state.communities.get(id)?.announcement_group.as_deref()?;
    state.groups.get(announcement)
}

fn new_group(id: &str, connected: &str, seed: ZapiGroupSeed, community: Option<&str>) -> ZapiGroup {
    let mut participants = Vec::new();
    if seed.connected_member {
        participants.push(ZapiMember {
            phone: connected.to_owned(),
            is_admin: seed.connected_admin,
            is_super_admin: seed.connected_admin,
        });
    }
    let admins: Vec<String> = seed.admins.iter().map(|a| normalize_phone(a)).collect();
    for member in &seed.members {
        let phone = normalize_phone(member);
        if participants.iter().any(|m| m.phone == phone) {
            continue;
        }
        participants.push(ZapiMember {
            is_admin: admins.contains(&phone),
            is_super_admin: false,
            phone,
        });
    }
    ZapiGroup {
        id: id.to_owned(),
        subject: seed.subject,
        owner: connected.to_owned(),
        creation: now_millis(),
        community_id: community.map(str::to_owned),
        is_announcement: false,
        participants,
        invites: Vec::new(),
    }
}

/// Digits as Z-API writes them: a leading `+` and surrounding spaces dropped.
fn normalize_phone(phone: &str) -> String {
    let phone = phone.trim();
    phone.strip_prefix('+').unwrap_or(phone).to_owned()
}

/// `120363` + 12 random digits (+ `suffix`), not yet `taken`.
fn fresh_id(taken: impl Fn(&str) -> bool, suffix: &str) -> String {
    loop {
        let id = format!("120363{:012}{suffix}", fastrand::u64(..1_000_000_000_000));
        if !taken(&id) {
            return id;
        }
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `{"error": "<text>"}`, serialised.
fn error_body(text: &str) -> Bytes {
    Bytes::from(serde_json::to_vec(&serde_json::json!({ "error": text })).unwrap_or_default())
}

impl FaultAction {
    /// A Z-API mutation reply: `200 {"value": <value>}` with `content-type: application/json`.
    #[must_use]
    pub fn zapi_value(value: bool) -> FaultAction {
        FaultAction::json(
            StatusCode::OK,
            if value {
                &br#"{"value":true}"#[..]
            } else {
                &br#"{"value":false}"#[..]
            },
        )
    }

    /// A Z-API failure reply: `status` with `{"error": "<text>"}` and
    /// `content-type: application/json` (e.g. `401` / `"null not allowed"`).
    #[must_use]
    pub fn zapi_error(status: StatusCode, text: &str) -> FaultAction {
        FaultAction::json(status, error_body(text))
    }
}

#[cfg(test)]
mod tests;

/// What `--state` saves of the Z-API emulator: credentials, connection, groups, communities
/// and contacts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ZapiSaved {
    instance_id: String,
    instance_token: String,
    client_token: String,
    connected_phone: String,
    connected: bool,
    groups: std::collections::BTreeMap<String, ZapiGroup>,
    communities: std::collections::BTreeMap<String, ZapiCommunity>,
    non_contacts: BTreeSet<String>,
}

impl ZapiEmulator {
    pub(crate) fn save(&self) -> ZapiSaved {
        let state = lock(&self.state);
        ZapiSaved {
            instance_id: state.instance_id.clone(),
            instance_token: state.instance_token.clone(),
            client_token: state.client_token.clone(),
            connected_phone: state.connected_phone.clone(),
            connected: state.connected,
            groups: state
                .groups
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            communities: state
                .communities
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            non_contacts: state.non_contacts.clone(),
        }
    }

    pub(crate) fn load(&self, saved: ZapiSaved) {
        let mut state = lock(&self.state);
        state.instance_id = saved.instance_id;
        state.instance_token = saved.instance_token;
        state.client_token = saved.client_token;
        state.connected_phone = saved.connected_phone;
        state.connected = saved.connected;
        state.groups = saved.groups.into_iter().collect();
        state.communities = saved.communities.into_iter().collect();
        state.non_contacts = saved.non_contacts;
    }
}
