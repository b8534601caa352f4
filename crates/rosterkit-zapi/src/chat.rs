//! Z-API chat ids (groups and communities) and participant phones.

use std::{fmt, str::FromStr};

use rosterkit_core::{ChatId, E164, Error, Handle, NativeId};

use crate::PROVIDER;

/// What a [`ZapiChat`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChatKind {
    /// A WhatsApp group: sent as `groupId`.
    Group,
    /// A WhatsApp community: sent as `communityId`.
    Community,
}

impl ChatKind {
    /// `"group"` or `"community"` (also the explicit id prefixes, `group:` and `community:`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::Community => "community",
        }
    }
}

impl fmt::Display for ChatKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Z-API chat id, with whether it names a group or a community.
///
/// Z-API tells them apart by shape, and so does [`ZapiChat::parse`]:
///
/// | Id | Kind |
/// |---|---|
/// | `120363019502650977-group` (since 2021-11) | group |
/// | `5511999999999-1623281429` (older `<creator phone>-<unix seconds>`) | group |
/// | `120363186053925765` (digits only) | community |
/// | `group:<id>` | group, any id of letters, digits, `-`, `_`, `.`, `@` |
/// | `community:<digits>` | community |
///
/// Anything else is refused with [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput)
/// before any request.
///
/// ```
/// use rosterkit_zapi::{ChatKind, ZapiChat};
///
/// let group: ZapiChat = "120363019502650977-group".parse()?;
/// assert_eq!(group.kind(), ChatKind::Group);
/// assert_eq!(group.id(), "120363019502650977-group");
/// let community: ZapiChat = "120363186053925765".parse()?;
/// assert_eq!(community.kind(), ChatKind::Community);
/// let explicit: ZapiChat = "group:120363019502650977@g.us".parse()?;
/// assert_eq!((explicit.kind(), explicit.id()), (ChatKind::Group, "120363019502650977@g.us"));
/// assert!("ch_01HTEST".parse::<ZapiChat>().is_err());
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ZapiChat {
    kind: ChatKind,
    id: String,
}

const GROUP_PREFIX: &str = "group:";
const COMMUNITY_PREFIX: &str = "community:";

const SHAPES: &str = "a group id (120363019502650977-group, or the older <creator phone>-<unix seconds>, e.g. 5511912345678-1623281429), \
a community id (digits only, e.g. 120363186053925765), or an explicit group:<id> / community:<digits>";

impl ZapiChat {
    /// Parses a chat id as described on [`ZapiChat`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) saying which shapes
    /// are accepted.
    pub fn parse(id: &str) -> Result<Self, Error> {
        if let Some(rest) = id.strip_prefix(GROUP_PREFIX) {
            return Self::group(rest);
        }
        if let Some(rest) = id.strip_prefix(COMMUNITY_PREFIX) {
            return Self::community(rest);
        }
        if ChatId::new(id).is_err() {
            return Err(invalid(&format!(
                "invalid Z-API chat id: expected {SHAPES}"
            )));
        }
        let kind = if all_digits(id) {
            ChatKind::Community
        } else if let Some((head, tail)) = id.split_once('-')
            && all_digits(head)
            && (tail == "group" || all_digits(tail))
        {
            ChatKind::Group
        } else {
            return Err(invalid(&format!(
                "invalid Z-API chat id: expected {SHAPES}"
            )));
        };
        Ok(Self {
            kind,
            id: id.to_owned(),
        })
    }

    /// A group with this id: non-empty, at most 256 bytes of ASCII letters, digits, `-`, `_`,
    /// `.` and `@`, and not `.` or `..` (URL parsers drop such a path segment, even
    /// percent-encoded, so a metadata read would reach another route).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) for any other id.
    pub fn group(id: &str) -> Result<Self, Error> {
        let ok = !id.is_empty()
            && id.len() <= ChatId::MAX_LEN
            && id != "."
            && id != ".."
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
        if !ok {
            return Err(invalid(
                "invalid Z-API group id: expected ASCII letters, digits, '-', '_', '.' or '@' (e.g. 120363019502650977-group)",
            ));
        }
        Ok(Self {
            kind: ChatKind::Group,
            id: id.to_owned(),
        })
    }

    /// A community with this id: digits only, at most 256 of them.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) for any other id.
    pub fn community(id: &str) -> Result<Self, Error> {
        if !all_digits(id) || id.len() > ChatId::MAX_LEN {
            return Err(invalid(
                "invalid Z-API community id: expected digits only (e.g. 120363186053925765)",
            ));
        }
        Ok(Self {
            kind: ChatKind::Community,
            id: id.to_owned(),
        })
    }

    /// Parses a provider-agnostic [`ChatId`].
    ///
    /// # Errors
    /// As [`ZapiChat::parse`].
    pub fn from_chat_id(chat: &ChatId) -> Result<Self, Error> {
        Self::parse(chat.as_str())
    }

    /// Group or community.
    pub fn kind(&self) -> ChatKind {
        self.kind
    }

    /// The id as Z-API knows it (without any `group:`/`community:` prefix).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether this is a community.
    pub fn is_community(&self) -> bool {
        self.kind == ChatKind::Community
    }

    /// The id in the form that parses back to this chat: the bare id when its shape says its
    /// kind, else with its `group:`/`community:` prefix.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) when the prefixed
    /// form is longer than [`ChatId::MAX_LEN`].
    pub fn to_chat_id(&self) -> Result<ChatId, Error> {
        ChatId::new(self.to_string()).map_err(Error::from)
    }
}

impl fmt::Display for ZapiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inferred = Self::parse(&self.id).map(|c| c.kind).ok();
        if inferred == Some(self.kind) {
            f.write_str(&self.id)
        } else {
            write!(f, "{}:{}", self.kind, self.id)
        }
    }
}

impl fmt::Debug for ZapiChat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZapiChat({}:{})", self.kind, self.id)
    }
}

impl FromStr for ZapiChat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<&ChatId> for ZapiChat {
    type Error = Error;

    fn try_from(chat: &ChatId) -> Result<Self, Self::Error> {
        Self::from_chat_id(chat)
    }
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A refusal in our own words (the accepted shapes, with examples that are not anyone's data).
fn invalid(message: &str) -> Error {
    Error::invalid_input("")
        .with_own_message(message)
        .with_provider(PROVIDER)
}

/// The wire form of a participant: an E.164 number's digits without `+` (`5544999999999`), or
/// a WhatsApp LID passed through as given (`999999999999999@lid`). Emails and other native ids
/// are refused before any request.
pub(crate) fn wire_phone(handle: &Handle) -> Result<String, Error> {
    match handle {
        Handle::Phone(phone) => Ok(phone.digits().to_owned()),
        Handle::Native(native) if is_lid(native.as_str()) => Ok(native.as_str().to_owned()),
        _ => Err(invalid(&format!(
            "zapi accepts phone numbers in E.164 form (e.g. +5511912345678) and WhatsApp LIDs (<digits>@lid), not {} handles ({}){}",
            handle.kind_name(),
            handle.redacted(),
            if matches!(handle, Handle::Email(_)) {
                ": WhatsApp has no email addresses"
            } else {
                ""
            }
        ))),
    }
}

/// `<digits>@lid`.
fn is_lid(s: &str) -> bool {
    s.strip_suffix("@lid").is_some_and(all_digits)
}

/// A participant phone as Z-API lists it, normalised for comparison: trimmed, without a
/// leading `+` or a WhatsApp JID suffix (`@c.us`, `@s.whatsapp.net`).
pub(crate) fn normalize_wire(phone: &str) -> &str {
    let phone = phone.trim();
    let phone = phone.strip_prefix('+').unwrap_or(phone);
    phone
        .strip_suffix("@c.us")
        .or_else(|| phone.strip_suffix("@s.whatsapp.net"))
        .unwrap_or(phone)
}

/// A participant phone from a reply as a [`Handle`]: digits become an E.164 number, anything
/// else (a LID) a native id; `None` when it cannot be a handle at all.
pub(crate) fn handle_from_wire(phone: &str) -> Option<Handle> {
    let phone = normalize_wire(phone);
    if all_digits(phone)
        && let Ok(e164) = E164::parse(&format!("+{phone}"))
    {
        return Some(Handle::Phone(e164));
    }
    NativeId::new(phone).ok().map(Handle::Native)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::ErrorKind;

    #[test]
    fn shapes() {
        let cases = [
            (
                "120363019502650977-group",
                ChatKind::Group,
                "120363019502650977-group",
            ),
            (
                "5511999999999-1623281429",
                ChatKind::Group,
                "5511999999999-1623281429",
            ),
            (
                "120363186053925765",
                ChatKind::Community,
                "120363186053925765",
            ),
            (
                "group:120363019502650977",
                ChatKind::Group,
                "120363019502650977",
            ),
            ("group:abc@g.us", ChatKind::Group, "abc@g.us"),
            (
                "community:5511999999999",
                ChatKind::Community,
                "5511999999999",
            ),
        ];
        for (input, kind, id) in cases {
            let chat = ZapiChat::parse(input).unwrap();
            assert_eq!((chat.kind(), chat.id()), (kind, id), "{input}");
            assert_eq!(ZapiChat::parse(&chat.to_string()).unwrap(), chat, "{input}");
        }
        assert_eq!(
            ZapiChat::group("120363019502650977").unwrap().to_string(),
            "group:120363019502650977"
        );
        assert_eq!(
            ZapiChat::parse("120363019502650977-group")
                .unwrap()
                .to_string(),
            "120363019502650977-group"
        );
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "ch_01HTEST",
            "120363019502650977-Group",
            "-group",
            "12-",
            "12-34-group",
            "+5511999999999",
            "1203 6301",
            "group:",
            "group:a/b",
            "group:a b",
            "group:.",
            "group:..",
            "community:12a",
            "community:",
            "Group:123",
            "550e8400-e29b-41d4-a716-446655440000",
            "19:abc@thread.v2",
            "1\n2",
        ] {
            let err = ZapiChat::parse(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert_eq!(err.provider(), Some("zapi"));
        }
        let err = ZapiChat::parse("ch_01HTEST").unwrap_err();
        assert!(err.message().contains("community id"), "{err}");
    }

    #[test]
    fn phones_and_lids() {
        let phone: Handle = "+5544999999999".parse().unwrap();
        assert_eq!(wire_phone(&phone).unwrap(), "5544999999999");
        let lid: Handle = "999999999999999@lid".parse().unwrap();
        assert_eq!(wire_phone(&lid).unwrap(), "999999999999999@lid");
        let email: Handle = "alice@example.com".parse().unwrap();
        let err = wire_phone(&email).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("no email"), "{err}");
        let acs: Handle = "8:acs:1111_2222".parse().unwrap();
        assert_eq!(
            wire_phone(&acs).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let native: Handle = "native:5544999999999".parse().unwrap();
        assert_eq!(
            wire_phone(&native).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn wire_back_to_handles() {
        assert_eq!(
            handle_from_wire("5511888888888"),
            Some("+5511888888888".parse().unwrap())
        );
        assert_eq!(
            handle_from_wire("5511888888888@c.us"),
            Some("+5511888888888".parse().unwrap())
        );
        assert_eq!(
            handle_from_wire("999999999999999@lid"),
            Some("999999999999999@lid".parse().unwrap())
        );
        assert!(matches!(handle_from_wire("012"), Some(Handle::Native(_))));
        assert_eq!(handle_from_wire(" "), None);
        assert_eq!(normalize_wire("+5511888888888"), "5511888888888");
    }
}
