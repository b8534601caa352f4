//! Z-API's metadata replies, in full.

use std::fmt;

use rosterkit_core::{Handle, Participant, redact::mask_digits};
use serde_json::{Map, Value};

use crate::{
    chat::{handle_from_wire, normalize_wire},
    wire::{flex_bool, integer, text},
};

/// A group's metadata: `GET /group-metadata/{groupId}` or `GET /light-group-metadata/{groupId}`.
///
/// Every field is optional on the wire; `participants` is empty when the reply had none.
/// `Debug` masks phone numbers (the owner's, the participants', and an old-style group id's
/// creator phone) to their last 4 digits.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupMetadata {
    /// The group id (Z-API calls it the group's "phone"), e.g. `120363019502650977-group`.
    pub phone: Option<String>,
    /// The creator's phone, digits only.
    pub owner: Option<String>,
    /// The group's name.
    pub subject: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub creation: Option<i64>,
    /// The invite link; always `None` in the light variant.
    pub invitation_link: Option<String>,
    /// Why the invite link could not be fetched (`forbidden`, `not-authorized`,
    /// `too many requests`, ...), as sent.
    pub invitation_link_error: Option<String>,
    /// The community the group belongs to.
    pub community_id: Option<String>,
    /// Only admins can send messages.
    pub admin_only_message: Option<bool>,
    /// Only admins can change the group's settings.
    pub admin_only_settings: Option<bool>,
    /// New members need an admin's approval.
    pub require_admin_approval: Option<bool>,
    /// This is a community's announcement group.
    pub is_group_announcement: Option<bool>,
    /// The members, as listed (the connected number may be among them).
    pub participants: Vec<GroupParticipant>,
    /// When the subject was last changed, milliseconds since the Unix epoch.
    pub subject_time: Option<i64>,
    /// Who last changed the subject, digits only.
    pub subject_owner: Option<String>,
}

/// One entry of [`GroupMetadata::participants`]. `Debug` masks the phone to its last 4 digits.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupParticipant {
    /// The phone as Z-API sent it: digits only (`5511888888888`), or a LID (`…@lid`).
    pub phone: String,
    /// `phone` as a handle: an E.164 number for digits, else a native id. `None` when it
    /// cannot be a handle at all.
    pub handle: Option<Handle>,
    /// An admin (`isAdmin`; `true` and `"true"` are both accepted).
    pub is_admin: bool,
    /// The group's creator / super-admin (`isSuperAdmin`).
    pub is_super_admin: bool,
    /// The contact's short name, when WhatsApp knows it.
    pub short: Option<String>,
    /// The contact's name, when WhatsApp knows it.
    pub name: Option<String>,
}

impl fmt::Debug for GroupMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |v: &Option<String>| v.as_deref().map(mask_digits);
        f.debug_struct("GroupMetadata")
            .field("phone", &masked(&self.phone))
            .field("owner", &masked(&self.owner))
            .field("subject", &self.subject)
            .field("creation", &self.creation)
            .field("invitation_link", &self.invitation_link)
            .field("invitation_link_error", &self.invitation_link_error)
            .field("community_id", &self.community_id)
            .field("admin_only_message", &self.admin_only_message)
            .field("admin_only_settings", &self.admin_only_settings)
            .field("require_admin_approval", &self.require_admin_approval)
            .field("is_group_announcement", &self.is_group_announcement)
            .field("participants", &self.participants)
            .field("subject_time", &self.subject_time)
            .field("subject_owner", &masked(&self.subject_owner))
            .finish()
    }
}

impl fmt::Debug for GroupParticipant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupParticipant")
            .field("phone", &mask_digits(&self.phone))
            .field("handle", &self.handle)
            .field("is_admin", &self.is_admin)
            .field("is_super_admin", &self.is_super_admin)
            .field("short", &self.short)
            .field("name", &self.name)
            .finish()
    }
}

impl GroupParticipant {
    /// As a provider-agnostic [`Participant`]: the handle, `name` (else `short`) as display
    /// name, and `is_admin || is_super_admin`. `None` without a handle.
    pub fn to_participant(&self) -> Option<Participant> {
        let handle = self.handle.clone()?;
        Some(
            Participant::new(handle)
                .with_display_name(self.name.clone().or_else(|| self.short.clone()))
                .with_admin(Some(self.is_admin || self.is_super_admin)),
        )
    }
}

impl GroupMetadata {
    pub(crate) fn from_json(map: &Map<String, Value>) -> Self {
        let participants = map
            .get("participants")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(participant).collect())
            .unwrap_or_default();
        Self {
            phone: text(map.get("phone")),
            owner: text(map.get("owner")),
            subject: text(map.get("subject")),
            creation: integer(map.get("creation")),
            invitation_link: text(map.get("invitationLink")),
            invitation_link_error: text(map.get("invitationLinkError")),
            community_id: text(map.get("communityId")),
            admin_only_message: flex_bool(map.get("adminOnlyMessage")),
            admin_only_settings: flex_bool(map.get("adminOnlySettings")),
            require_admin_approval: flex_bool(map.get("requireAdminApproval")),
            is_group_announcement: flex_bool(map.get("isGroupAnnouncement")),
            participants,
            subject_time: integer(map.get("subjectTime")),
            subject_owner: text(map.get("subjectOwner")),
        }
    }

    /// The members as handles, in the order listed (entries that cannot be handles skipped).
    pub fn roster(&self) -> Vec<Handle> {
        self.participants
            .iter()
            .filter_map(|p| p.handle.clone())
            .collect()
    }

    /// The members as provider-agnostic [`Participant`]s.
    pub fn to_participants(&self) -> Vec<Participant> {
        self.participants
            .iter()
            .filter_map(GroupParticipant::to_participant)
            .collect()
    }

    /// Whether `wire_phone` (digits or a LID, as sent in `phones`) is listed.
    pub(crate) fn lists(&self, wire_phone: &str) -> bool {
        let wanted = normalize_wire(wire_phone);
        self.participants
            .iter()
            .any(|p| normalize_wire(&p.phone) == wanted)
    }
}

fn participant(value: &Value) -> Option<GroupParticipant> {
    let map = value.as_object()?;
    let phone = text(map.get("phone")).or_else(|| text(map.get("lid")))?;
    Some(GroupParticipant {
        handle: handle_from_wire(&phone),
        phone,
        is_admin: flex_bool(map.get("isAdmin")).unwrap_or(false),
        is_super_admin: flex_bool(map.get("isSuperAdmin")).unwrap_or(false),
        short: text(map.get("short")),
        name: text(map.get("name")),
    })
}

/// A community's metadata: `GET /communities-metadata/{communityId}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommunityMetadata {
    /// The community's name.
    pub name: Option<String>,
    /// The community id.
    pub id: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The linked groups, the announcement group among them.
    pub sub_groups: Vec<SubGroup>,
}

/// One entry of [`CommunityMetadata::sub_groups`]. `Debug` masks digit runs of the group id
/// (an old-style id starts with its creator's phone).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubGroup {
    /// The group's name.
    pub name: Option<String>,
    /// The group id.
    pub phone: String,
    /// Whether this is the community's announcement group, whose participants are the
    /// community's members.
    pub is_group_announcement: bool,
}

impl fmt::Debug for SubGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubGroup")
            .field("name", &self.name)
            .field("phone", &mask_digits(&self.phone))
            .field("is_group_announcement", &self.is_group_announcement)
            .finish()
    }
}

impl CommunityMetadata {
    pub(crate) fn from_json(map: &Map<String, Value>) -> Self {
        let sub_groups = map
            .get("subGroups")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(sub_group).collect())
            .unwrap_or_default();
        Self {
            name: text(map.get("name")),
            id: text(map.get("id")),
            description: text(map.get("description")),
            sub_groups,
        }
    }

    /// The announcement sub-group, when listed.
    pub fn announcement_group(&self) -> Option<&SubGroup> {
        self.sub_groups.iter().find(|g| g.is_group_announcement)
    }
}

fn sub_group(value: &Value) -> Option<SubGroup> {
    let map = value.as_object()?;
    Some(SubGroup {
        name: text(map.get("name")),
        phone: text(map.get("phone"))?,
        is_group_announcement: flex_bool(map.get("isGroupAnnouncement")).unwrap_or(false),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::object;

    /// zapi.md section 3.4, verbatim.
    pub(crate) const METADATA: &str = r#"{ "phone": "120363019502650977-group", "owner": "5511999999999", "subject": "My group",
  "creation": 1588721491000, "invitationLink": "https://chat.whatsapp.com/abc",
  "invitationLinkError": null, "communityId": null, "adminOnlyMessage": false,
  "adminOnlySettings": false, "requireAdminApproval": false, "isGroupAnnouncement": false,
  "participants": [ {"phone": "5511888888888", "isAdmin": false, "isSuperAdmin": false},
                    {"phone": "5511777777777", "isAdmin": true, "isSuperAdmin": false,
                     "short": "ZAPIs", "name": "ZAPIs Boys"} ],
  "subjectTime": 1617805323000, "subjectOwner": "554497050785" }"#;

    #[test]
    fn documented_group_metadata() {
        let m = GroupMetadata::from_json(&object(METADATA.as_bytes()).unwrap());
        assert_eq!(m.phone.as_deref(), Some("120363019502650977-group"));
        assert_eq!(m.owner.as_deref(), Some("5511999999999"));
        assert_eq!(m.subject.as_deref(), Some("My group"));
        assert_eq!(m.creation, Some(1_588_721_491_000));
        assert_eq!(
            m.invitation_link.as_deref(),
            Some("https://chat.whatsapp.com/abc")
        );
        assert_eq!(m.invitation_link_error, None);
        assert_eq!(m.community_id, None);
        assert_eq!(m.admin_only_message, Some(false));
        assert_eq!(m.is_group_announcement, Some(false));
        assert_eq!(m.subject_time, Some(1_617_805_323_000));
        assert_eq!(m.subject_owner.as_deref(), Some("554497050785"));
        assert_eq!(m.participants.len(), 2);
        let second = &m.participants[1];
        assert!(second.is_admin && !second.is_super_admin);
        assert_eq!(second.name.as_deref(), Some("ZAPIs Boys"));
        assert_eq!(
            m.roster(),
            vec![
                "+5511888888888".parse::<Handle>().unwrap(),
                "+5511777777777".parse().unwrap()
            ]
        );
        let people = m.to_participants();
        assert_eq!(people[1].display_name.as_deref(), Some("ZAPIs Boys"));
        assert_eq!(people[1].is_admin, Some(true));
        assert_eq!(people[0].is_admin, Some(false));
        assert!(m.lists("5511888888888") && m.lists("+5511888888888"));
        assert!(!m.lists("5511999999999"));
    }

    #[test]
    fn tolerant_metadata() {
        let m = GroupMetadata::from_json(
            &object(
                br#"{"participants":[{"phone":"5511888888888","isAdmin":"true","isSuperAdmin":"false","extra":1},
                     {"isAdmin":true}, "junk", {"phone":"999999999999999@lid"}, {"phone":7}],
                     "creation":"12","subject":5,"newField":{"x":[]},"adminOnlyMessage":"maybe"}"#,
            )
            .unwrap(),
        );
        assert_eq!(m.participants.len(), 2);
        assert!(m.participants[0].is_admin && !m.participants[0].is_super_admin);
        assert!(matches!(m.participants[1].handle, Some(Handle::Native(_))));
        assert_eq!(m.creation, Some(12));
        assert_eq!(m.subject, None);
        assert_eq!(m.admin_only_message, None);
        let empty = GroupMetadata::from_json(&Map::new());
        assert_eq!(empty, GroupMetadata::default());
    }

    #[test]
    fn community_metadata_and_announcement() {
        let c = CommunityMetadata::from_json(
            &object(
                br#"{"name":"Community","id":"120363186053925765","description":"d",
                   "subGroups":[{"name":"Community","phone":"120363186053925766-group","isGroupAnnouncement":true},
                                {"name":"Other","phone":"120363186053925767-group","isGroupAnnouncement":false},
                                {"name":"no phone"}]}"#,
            )
            .unwrap(),
        );
        assert_eq!(c.id.as_deref(), Some("120363186053925765"));
        assert_eq!(c.sub_groups.len(), 2);
        assert_eq!(
            c.announcement_group().map(|g| g.phone.as_str()),
            Some("120363186053925766-group")
        );
        let none = CommunityMetadata::from_json(&object(br#"{"subGroups":"x"}"#).unwrap());
        assert!(none.announcement_group().is_none());
    }

    #[test]
    fn debug_masks_phone_numbers() {
        let m = GroupMetadata::from_json(&object(METADATA.as_bytes()).unwrap());
        let c = CommunityMetadata::from_json(
            &object(br#"{"subGroups":[{"phone":"5511999999999-1623281429"}]}"#).unwrap(),
        );
        let dbg = format!("{m:?} {c:?}");
        for full in [
            "5511999999999",
            "5511888888888",
            "5511777777777",
            "554497050785",
        ] {
            assert!(!dbg.contains(full), "{dbg}");
        }
        assert!(
            dbg.contains("*********8888") && dbg.contains("My group"),
            "{dbg}"
        );
    }
}
