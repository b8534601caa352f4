//! Linq's chat and its roster, as `GET /v3/chats/{chatId}` returns them.

use std::fmt;

use rosterkit_core::Handle;

use crate::wire;

/// A chat: `GET /v3/chats/{chatId}`'s reply in full.
///
/// `handles` lists every handle the chat ever had: removed and departed members stay with a
/// [`HandleStatus`] and `left_at`. [`Chat::participants`] is the active roster.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Chat {
    /// The chat's id (a UUID), as Linq sent it.
    pub id: String,
    /// The display name, when set.
    pub display_name: Option<String>,
    /// The chat's service, when given.
    pub service: Option<Service>,
    /// Every handle of the chat, active or not, in Linq's order.
    pub handles: Vec<ChatHandle>,
    /// Whether the chat is archived (absent reads as `false`).
    pub is_archived: bool,
    /// Whether the chat is a group (absent reads as `false`, the spec's default).
    pub is_group: bool,
    /// When the chat was created (RFC 3339, as sent).
    pub created_at: Option<String>,
    /// When the chat was last updated (RFC 3339, as sent).
    pub updated_at: Option<String>,
}

impl Chat {
    /// The active roster: handles whose status is absent, null or `"active"`, in Linq's order,
    /// our own line included.
    pub fn participants(&self) -> Vec<Handle> {
        self.handles
            .iter()
            .filter(|h| h.is_active())
            .map(|h| h.handle.clone())
            .collect()
    }

    /// How many handles are active (our own line included): what Linq's size rules count.
    pub fn active_count(&self) -> usize {
        self.handles.iter().filter(|h| h.is_active()).count()
    }

    /// The entry for `handle` (emails compared case-insensitively). When a handle appears
    /// more than once (removed, then added again), an active entry wins, else the last one.
    pub fn handle(&self, handle: &Handle) -> Option<&ChatHandle> {
        let mut found = None;
        for entry in self
            .handles
            .iter()
            .filter(|h| same_handle(&h.handle, handle))
        {
            if entry.is_active() {
                return Some(entry);
            }
            found = Some(entry);
        }
        found
    }

    /// Whether `handle` is an active member.
    pub fn is_active(&self, handle: &Handle) -> bool {
        self.handle(handle).is_some_and(ChatHandle::is_active)
    }

    /// Our own line's entry (`is_me: true`), if Linq marked one.
    pub fn me(&self) -> Option<&ChatHandle> {
        self.handles.iter().find(|h| h.is_me)
    }

    /// Whether our own line has left the chat (its entry's status is `left`).
    pub fn has_left(&self) -> bool {
        self.me().is_some_and(|me| me.status == HandleStatus::Left)
    }

    pub(crate) fn from_wire(chat: wire::Chat, requested: &str) -> Self {
        Self {
            id: chat.id.unwrap_or_else(|| requested.to_owned()),
            display_name: chat.display_name,
            service: chat.service.map(Service::from_wire),
            handles: chat
                .handles
                .unwrap_or_default()
                .into_iter()
                .filter_map(|h| h.0)
                .filter_map(ChatHandle::from_wire)
                .collect(),
            is_archived: chat.is_archived.unwrap_or(false),
            is_group: chat.is_group.unwrap_or(false),
            created_at: chat.created_at,
            updated_at: chat.updated_at,
        }
    }
}

/// One participant of a chat (`ChatHandle`), in replies and webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatHandle {
    /// Linq's id for this membership (a UUID), when given.
    pub id: Option<String>,
    /// Who: a phone number or an email (anything else is kept as a native id).
    pub handle: Handle,
    /// The participant's service, when given.
    pub service: Option<Service>,
    /// Active, left or removed; absent or null reads as [`HandleStatus::Active`].
    pub status: HandleStatus,
    /// When the participant joined (RFC 3339, as sent).
    pub joined_at: Option<String>,
    /// When the participant left or was removed (RFC 3339, as sent; set for both).
    pub left_at: Option<String>,
    /// Whether this handle is our own line (absent or null reads as `false`).
    pub is_me: bool,
}

impl ChatHandle {
    /// Whether the participant is active.
    pub fn is_active(&self) -> bool {
        self.status == HandleStatus::Active
    }

    pub(crate) fn from_wire(h: wire::ChatHandle) -> Option<Self> {
        Some(Self {
            handle: wire::handle(h.handle.as_deref()?)?,
            id: h.id,
            service: h.service.map(Service::from_wire),
            status: h
                .status
                .map_or(HandleStatus::Active, HandleStatus::from_wire),
            joined_at: h.joined_at,
            left_at: h.left_at,
            is_me: h.is_me.unwrap_or(false),
        })
    }
}

/// Whether two handles name the same participant: phone numbers exactly, emails
/// case-insensitively.
pub(crate) fn same_handle(a: &Handle, b: &Handle) -> bool {
    match (a, b) {
        (Handle::Email(x), Handle::Email(y)) => x.as_str().eq_ignore_ascii_case(y.as_str()),
        _ => a == b,
    }
}

/// A messaging service (`"iMessage" | "SMS" | "RCS"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Service {
    /// `"iMessage"`.
    IMessage,
    /// `"SMS"`.
    Sms,
    /// `"RCS"`.
    Rcs,
    /// A value this version does not know, kept as sent.
    Unknown(String),
}

impl Service {
    /// Reads a service name, case-insensitively.
    pub(crate) fn from_wire(value: String) -> Self {
        match value.to_ascii_lowercase().as_str() {
            "imessage" => Self::IMessage,
            "sms" => Self::Sms,
            "rcs" => Self::Rcs,
            _ => Self::Unknown(value),
        }
    }

    /// The value as Linq spells it (`"iMessage"`, `"SMS"`, `"RCS"`), or as sent when unknown.
    pub fn as_str(&self) -> &str {
        match self {
            Self::IMessage => "iMessage",
            Self::Sms => "SMS",
            Self::Rcs => "RCS",
            Self::Unknown(other) => other,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A participant's status in a chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandleStatus {
    /// `"active"` (also an absent or null status).
    Active,
    /// `"left"`: the participant left (our own line after `/leave`).
    Left,
    /// `"removed"`: the participant was removed.
    Removed,
    /// A value this version does not know, kept as sent; not counted as active.
    Unknown(String),
}

impl HandleStatus {
    pub(crate) fn from_wire(value: String) -> Self {
        match value.as_str() {
            "active" => Self::Active,
            "left" => Self::Left,
            "removed" => Self::Removed,
            _ => Self::Unknown(value),
        }
    }

    /// The value as on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "active",
            Self::Left => "left",
            Self::Removed => "removed",
            Self::Unknown(other) => other,
        }
    }
}

impl fmt::Display for HandleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// linq.md §8 D: the removed member stays listed but is not in the active roster.
    #[test]
    fn worked_example_d() {
        let body = br#"{"id":"550e8400-e29b-41d4-a716-446655440000","display_name":null,"is_group":true,
          "is_archived":false,"created_at":"2024-01-15T10:30:00Z","updated_at":"2024-01-15T10:30:00Z",
          "handles":[{"id":"550e8400-e29b-41d4-a716-446655440010","handle":"+14155551234","service":"iMessage","status":"active","joined_at":"2025-05-21T15:30:00.000Z","is_me":true},
                     {"id":"550e8400-e29b-41d4-a716-446655440011","handle":"+12052499136","service":"iMessage","status":"removed","joined_at":"2025-05-21T15:30:00.000Z","left_at":"2025-11-23T17:45:00Z","is_me":false}]}"#;
        let chat = Chat::from_wire(wire::parse(body).unwrap(), "x");
        let removed: Handle = "+12052499136".parse().unwrap();
        let me: Handle = "+14155551234".parse().unwrap();
        assert_eq!(chat.participants(), vec![me.clone()]);
        assert!(!chat.is_active(&removed));
        let entry = chat.handle(&removed).unwrap();
        assert_eq!(entry.status, HandleStatus::Removed);
        assert_eq!(entry.left_at.as_deref(), Some("2025-11-23T17:45:00Z"));
        assert_eq!(chat.me().map(|m| &m.handle), Some(&me));
        assert!(!chat.has_left());
        assert!(chat.is_group);
        assert_eq!(chat.display_name, None);
    }

    #[test]
    fn tolerant_statuses_services_and_entries() {
        let body = br#"{"handles":[
            {"handle":"+14155550100","service":"imessage","status":null},
            {"handle":"Bob@Example.com","service":"WhatsApp","status":"suspended"},
            {"handle":"+14155550101"},
            {"handle":""}, {"service":"SMS"}, "junk", 3]}"#;
        let chat = Chat::from_wire(wire::parse(body).unwrap(), "req-id");
        assert_eq!(chat.id, "req-id");
        assert_eq!(chat.handles.len(), 3);
        assert_eq!(chat.handles[0].service, Some(Service::IMessage));
        assert!(chat.handles[0].is_active());
        assert_eq!(
            chat.handles[1].service,
            Some(Service::Unknown("WhatsApp".into()))
        );
        assert_eq!(
            chat.handles[1].status,
            HandleStatus::Unknown("suspended".into())
        );
        assert!(chat.handles[2].is_active() && !chat.handles[2].is_me);
        assert_eq!(chat.active_count(), 2);
        let bob: Handle = "bob@example.com".parse().unwrap();
        assert!(chat.handle(&bob).is_some());
        assert!(!chat.is_active(&bob));
        assert!(!chat.is_group && !chat.is_archived);
    }

    #[test]
    fn an_active_entry_wins_over_an_older_one() {
        let body = br#"{"handles":[
            {"handle":"+14155550100","status":"removed","left_at":"t1"},
            {"handle":"+14155550100","status":"active"},
            {"handle":"+14155550101","status":"left"},
            {"handle":"+14155550101","status":"removed"}]}"#;
        let chat = Chat::from_wire(wire::parse(body).unwrap(), "x");
        assert!(chat.is_active(&"+14155550100".parse().unwrap()));
        let h = chat.handle(&"+14155550101".parse().unwrap()).unwrap();
        assert_eq!(h.status, HandleStatus::Removed);
        assert_eq!(Service::Rcs.to_string(), "RCS");
        assert_eq!(HandleStatus::Left.to_string(), "left");
    }
}
