//! Private serde types: exact on the way out, tolerant on the way in (unknown fields ignored,
//! every field optional, `kind` an open string, codes as strings or numbers).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::identifier::{Cloud, CommunicationIdentifier};
use crate::model::{ChatParticipant, InvalidParticipant};

// ---- out ----

/// A `CommunicationIdentifierModel` in a request: `rawId` plus the kind's object, no `kind`
/// (what the SDK recordings send).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IdentifierOut<'a> {
    raw_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    communication_user: Option<CommunicationUserOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<PhoneNumberOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    microsoft_teams_user: Option<TeamsUserOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    microsoft_teams_app: Option<TeamsAppOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    teams_extension_user: Option<TeamsExtensionUserOut<'a>>,
}

#[derive(Serialize)]
struct CommunicationUserOut<'a> {
    id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhoneNumberOut<'a> {
    value: &'a str,
    #[serde(skip_serializing_if = "is_false")]
    is_anonymous: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    asserted_id: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TeamsUserOut<'a> {
    user_id: &'a str,
    is_anonymous: bool,
    cloud: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TeamsAppOut<'a> {
    app_id: &'a str,
    cloud: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TeamsExtensionUserOut<'a> {
    user_id: &'a str,
    tenant_id: &'a str,
    resource_id: &'a str,
    cloud: &'a str,
}

/// For `skip_serializing_if`, which passes a reference.
fn is_false(b: &bool) -> bool {
    !*b
}

impl<'a> IdentifierOut<'a> {
    pub(crate) fn new(id: &'a CommunicationIdentifier) -> Self {
        let mut out = IdentifierOut {
            raw_id: id.raw_id(),
            communication_user: None,
            phone_number: None,
            microsoft_teams_user: None,
            microsoft_teams_app: None,
            teams_extension_user: None,
        };
        match id {
            CommunicationIdentifier::CommunicationUser { id } => {
                out.communication_user = Some(CommunicationUserOut { id });
            }
            CommunicationIdentifier::PhoneNumber {
                value,
                is_anonymous,
                asserted_id,
                ..
            } => {
                out.phone_number = Some(PhoneNumberOut {
                    value,
                    is_anonymous: *is_anonymous,
                    asserted_id: asserted_id.as_deref(),
                });
            }
            CommunicationIdentifier::MicrosoftTeamsUser {
                user_id,
                is_anonymous,
                cloud,
                ..
            } => {
                out.microsoft_teams_user = Some(TeamsUserOut {
                    user_id,
                    is_anonymous: *is_anonymous,
                    cloud: cloud.as_str(),
                });
            }
            CommunicationIdentifier::MicrosoftTeamsApp { app_id, cloud, .. } => {
                out.microsoft_teams_app = Some(TeamsAppOut {
                    app_id,
                    cloud: cloud.as_str(),
                });
            }
            CommunicationIdentifier::TeamsExtensionUser {
                user_id,
                tenant_id,
                resource_id,
                cloud,
                ..
            } => {
                out.teams_extension_user = Some(TeamsExtensionUserOut {
                    user_id,
                    tenant_id,
                    resource_id,
                    cloud: cloud.as_str(),
                });
            }
            CommunicationIdentifier::Unknown { .. } => {}
        }
        out
    }
}

/// One participant of an add request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantOut<'a> {
    communication_identifier: IdentifierOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    share_history_time: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: &'a BTreeMap<String, String>,
}

/// `{"participants":[...]}`.
#[derive(Serialize)]
pub(crate) struct AddRequestOut<'a> {
    participants: Vec<ParticipantOut<'a>>,
}

impl<'a> AddRequestOut<'a> {
    pub(crate) fn new(participants: &'a [ChatParticipant]) -> Self {
        AddRequestOut {
            participants: participants
                .iter()
                .map(|p| ParticipantOut {
                    communication_identifier: IdentifierOut::new(&p.identifier),
                    display_name: p.display_name.as_deref(),
                    share_history_time: p.share_history_time.as_deref(),
                    metadata: &p.metadata,
                })
                .collect(),
        }
    }
}

/// `{"scopes":["chat"],"expiresInMinutes":60}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueTokenOut<'a> {
    pub(crate) scopes: &'a [&'a str],
    pub(crate) expires_in_minutes: u32,
}

// ---- in ----

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct IdentifierIn {
    kind: Option<String>,
    raw_id: Option<String>,
    communication_user: Option<CommunicationUserIn>,
    phone_number: Option<PhoneNumberIn>,
    microsoft_teams_user: Option<TeamsUserIn>,
    microsoft_teams_app: Option<TeamsAppIn>,
    teams_extension_user: Option<TeamsExtensionUserIn>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CommunicationUserIn {
    id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PhoneNumberIn {
    value: Option<String>,
    is_anonymous: Option<bool>,
    asserted_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TeamsUserIn {
    user_id: Option<String>,
    is_anonymous: Option<bool>,
    cloud: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TeamsAppIn {
    app_id: Option<String>,
    cloud: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TeamsExtensionUserIn {
    user_id: Option<String>,
    tenant_id: Option<String>,
    resource_id: Option<String>,
    cloud: Option<String>,
}

fn cloud(name: Option<&str>) -> Cloud {
    name.map_or(Cloud::Public, Cloud::from_wire)
}

fn acs_prefix(cloud: &Cloud) -> &'static str {
    match cloud {
        Cloud::Dod => "8:dod-acs:",
        Cloud::Gcch => "8:gcch-acs:",
        _ => "8:acs:",
    }
}

impl IdentifierIn {
    /// Resolves the identifier: `kind` → whichever kind object is present → the raw id's
    /// prefix → `Unknown(rawId)`. A missing `rawId` is rebuilt from the kind object.
    pub(crate) fn resolve(self) -> CommunicationIdentifier {
        let by_kind = match self.kind.as_deref() {
            Some("communicationUser") => self.communication_user(),
            Some("phoneNumber") => self.phone_number(),
            Some("microsoftTeamsUser") => self.teams_user(),
            Some("microsoftTeamsApp") => self.teams_app(),
            Some("teamsExtensionUser") => self.teams_extension_user(),
            _ => None,
        };
        if let Some(id) = by_kind {
            return id;
        }
        let by_object = self
            .communication_user()
            .or_else(|| self.phone_number())
            .or_else(|| self.teams_user())
            .or_else(|| self.teams_app())
            .or_else(|| self.teams_extension_user());
        if let Some(id) = by_object {
            return id;
        }
        match self.raw_id {
            Some(raw) => CommunicationIdentifier::from_raw_id(&raw),
            None => CommunicationIdentifier::Unknown {
                raw_id: String::new(),
            },
        }
    }

    fn communication_user(&self) -> Option<CommunicationIdentifier> {
        let user = self.communication_user.as_ref()?;
        let id = user.id.clone().or_else(|| self.raw_id.clone())?;
        Some(CommunicationIdentifier::CommunicationUser { id })
    }

    fn phone_number(&self) -> Option<CommunicationIdentifier> {
        let phone = self.phone_number.as_ref()?;
        let value = phone.value.clone().or_else(|| {
            self.raw_id
                .as_deref()
                .and_then(|r| r.strip_prefix("4:"))
                .map(str::to_owned)
        })?;
        Some(CommunicationIdentifier::PhoneNumber {
            raw_id: self.raw_id.clone().unwrap_or_else(|| format!("4:{value}")),
            is_anonymous: phone.is_anonymous.unwrap_or(value == "anonymous"),
            asserted_id: phone.asserted_id.clone(),
            value,
        })
    }

    fn teams_user(&self) -> Option<CommunicationIdentifier> {
        let user = self.microsoft_teams_user.as_ref()?;
        let user_id = user.user_id.clone()?;
        let is_anonymous = user.is_anonymous.unwrap_or(false);
        let cloud = cloud(user.cloud.as_deref());
        let raw_id = self.raw_id.clone().unwrap_or_else(|| {
            let prefix = match (&cloud, is_anonymous) {
                (_, true) => "8:teamsvisitor:",
                (Cloud::Dod, false) => "8:dod:",
                (Cloud::Gcch, false) => "8:gcch:",
                _ => "8:orgid:",
            };
            format!("{prefix}{user_id}")
        });
        Some(CommunicationIdentifier::MicrosoftTeamsUser {
            raw_id,
            user_id,
            is_anonymous,
            cloud,
        })
    }

    fn teams_app(&self) -> Option<CommunicationIdentifier> {
        let app = self.microsoft_teams_app.as_ref()?;
        let app_id = app.app_id.clone()?;
        let cloud = cloud(app.cloud.as_deref());
        let raw_id = self.raw_id.clone().unwrap_or_else(|| {
            let prefix = match cloud {
                Cloud::Dod => "28:dod:",
                Cloud::Gcch => "28:gcch:",
                _ => "28:orgid:",
            };
            format!("{prefix}{app_id}")
        });
        Some(CommunicationIdentifier::MicrosoftTeamsApp {
            raw_id,
            app_id,
            cloud,
        })
    }

    fn teams_extension_user(&self) -> Option<CommunicationIdentifier> {
        let user = self.teams_extension_user.as_ref()?;
        let (user_id, tenant_id, resource_id) = (
            user.user_id.clone()?,
            user.tenant_id.clone()?,
            user.resource_id.clone()?,
        );
        let cloud = cloud(user.cloud.as_deref());
        let raw_id = self.raw_id.clone().unwrap_or_else(|| {
            format!("{}{resource_id}_{tenant_id}_{user_id}", acs_prefix(&cloud))
        });
        Some(CommunicationIdentifier::TeamsExtensionUser {
            raw_id,
            user_id,
            tenant_id,
            resource_id,
            cloud,
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ParticipantIn {
    communication_identifier: Option<IdentifierIn>,
    display_name: Option<String>,
    share_history_time: Option<String>,
    metadata: Option<BTreeMap<String, Value>>,
}

impl ParticipantIn {
    pub(crate) fn into_participant(self) -> ChatParticipant {
        let identifier = self.communication_identifier.unwrap_or_default().resolve();
        let metadata = self
            .metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
        ChatParticipant {
            identifier,
            display_name: self.display_name,
            share_history_time: self.share_history_time,
            metadata,
        }
    }
}

/// `{"value":[...],"nextLink"?}`; `value` is required by the spec but tolerated missing.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct ParticipantsIn {
    #[serde(deserialize_with = "at_most_max_participants")]
    pub(crate) value: Option<Vec<ParticipantIn>>,
    pub(crate) next_link: Option<String>,
}

/// The most participants one listing (a page, or all pages together) is read into memory:
/// a thread holds at most 250, so anything past this is a hostile or broken peer, refused
/// with a typed error instead of growing without bound.
pub(crate) const MAX_PARTICIPANTS: usize = 1_000;

/// `value`, refused as soon as it holds more than [`MAX_PARTICIPANTS`] items (before the rest
/// is decoded).
fn at_most_max_participants<'de, D>(deserializer: D) -> Result<Option<Vec<ParticipantIn>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Bounded;
    impl<'de> serde::de::Visitor<'de> for Bounded {
        type Value = Option<Vec<ParticipantIn>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "an array of at most {MAX_PARTICIPANTS} participants")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PARTICIPANTS));
            while let Some(item) = seq.next_element::<ParticipantIn>()? {
                if out.len() >= MAX_PARTICIPANTS {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_PARTICIPANTS} participants on one page (a thread holds at most 250)"
                    )));
                }
                out.push(item);
            }
            Ok(Some(out))
        }
    }
    deserializer.deserialize_option(Bounded)
}

/// `{}` or `{"invalidParticipants":[...]}`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct AddResultIn {
    pub(crate) invalid_participants: Option<Vec<CommunicationErrorIn>>,
}

/// One `CommunicationError` item; `code` may be a string (documented) or a number.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CommunicationErrorIn {
    code: Option<Value>,
    message: Option<String>,
    target: Option<String>,
}

impl CommunicationErrorIn {
    pub(crate) fn into_invalid(self) -> InvalidParticipant {
        let code = match self.code {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        InvalidParticipant {
            target: self.target,
            code,
            message: self.message.unwrap_or_default(),
        }
    }
}

/// `{"token":"...","expiresOn":"..."}`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct TokenIn {
    pub(crate) token: Option<String>,
    pub(crate) expires_on: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_of(n: usize) -> String {
        let item = r#"{"communicationIdentifier":{"rawId":"8:acs:u"}}"#;
        format!(r#"{{"value":[{}]}}"#, vec![item; n].join(","))
    }

    #[test]
    fn a_page_holds_at_most_max_participants() {
        let full = serde_json::from_str::<ParticipantsIn>(&page_of(MAX_PARTICIPANTS)).unwrap();
        assert_eq!(full.value.map(|v| v.len()), Some(MAX_PARTICIPANTS));
        let over = serde_json::from_str::<ParticipantsIn>(&page_of(MAX_PARTICIPANTS + 1));
        let err = over.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("more than 1000 participants"), "{err}");
        // Missing and null stay tolerated.
        assert!(
            serde_json::from_str::<ParticipantsIn>("{}")
                .unwrap()
                .value
                .is_none()
        );
        assert!(
            serde_json::from_str::<ParticipantsIn>(r#"{"value":null}"#)
                .unwrap()
                .value
                .is_none()
        );
    }

    fn resolve(json: &str) -> CommunicationIdentifier {
        serde_json::from_str::<IdentifierIn>(json)
            .unwrap()
            .resolve()
    }

    #[test]
    fn request_shape_is_raw_id_then_object_without_kind() {
        let id = CommunicationIdentifier::from_raw_id("8:acs:1111_2222");
        assert_eq!(
            serde_json::to_string(&IdentifierOut::new(&id)).unwrap(),
            r#"{"rawId":"8:acs:1111_2222","communicationUser":{"id":"8:acs:1111_2222"}}"#
        );
        let phone = CommunicationIdentifier::from_raw_id("4:+14155551234");
        assert_eq!(
            serde_json::to_string(&IdentifierOut::new(&phone)).unwrap(),
            r#"{"rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}}"#
        );
        let teams = CommunicationIdentifier::from_raw_id("8:gcch:u1");
        assert_eq!(
            serde_json::to_string(&IdentifierOut::new(&teams)).unwrap(),
            r#"{"rawId":"8:gcch:u1","microsoftTeamsUser":{"userId":"u1","isAnonymous":false,"cloud":"gcch"}}"#
        );
        let app = CommunicationIdentifier::from_raw_id("28:orgid:a1");
        assert_eq!(
            serde_json::to_string(&IdentifierOut::new(&app)).unwrap(),
            r#"{"rawId":"28:orgid:a1","microsoftTeamsApp":{"appId":"a1","cloud":"public"}}"#
        );
        let ext = CommunicationIdentifier::from_raw_id("8:acs:r_t_u");
        assert_eq!(
            serde_json::to_string(&IdentifierOut::new(&ext)).unwrap(),
            r#"{"rawId":"8:acs:r_t_u","teamsExtensionUser":{"userId":"u","tenantId":"t","resourceId":"r","cloud":"public"}}"#
        );
        let unknown = CommunicationIdentifier::from_raw_id("99:x");
        assert_eq!(
            serde_json::to_string(&IdentifierOut::new(&unknown)).unwrap(),
            r#"{"rawId":"99:x"}"#
        );
    }

    #[test]
    fn resolution_order() {
        // kind + object (2025 replies).
        assert_eq!(
            resolve(
                r#"{"kind":"communicationUser","rawId":"8:acs:a_b","communicationUser":{"id":"8:acs:a_b"}}"#
            ),
            CommunicationIdentifier::communication_user("8:acs:a_b")
        );
        // No kind (2021 recordings): the object decides.
        assert_eq!(
            resolve(r#"{"rawId":"8:acs:a_b","communicationUser":{"id":"8:acs:a_b"}}"#),
            CommunicationIdentifier::communication_user("8:acs:a_b")
        );
        // Unknown kind, object present.
        assert_eq!(
            resolve(r#"{"kind":"hologram","rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}}"#)
                .kind(),
            "phoneNumber"
        );
        // Only a raw id: the prefix decides.
        assert_eq!(
            resolve(r#"{"rawId":"8:orgid:x"}"#).kind(),
            "microsoftTeamsUser"
        );
        // Unknown kind and prefix.
        assert_eq!(
            resolve(r#"{"kind":"somethingNew","rawId":"77:new:x","somethingNew":{"a":1}}"#),
            CommunicationIdentifier::Unknown {
                raw_id: "77:new:x".into()
            }
        );
        // Kind without its object: fall back to the prefix.
        assert_eq!(
            resolve(r#"{"kind":"communicationUser","rawId":"8:acs:a_b"}"#),
            CommunicationIdentifier::communication_user("8:acs:a_b")
        );
        // Object without a raw id: the raw id is rebuilt.
        assert_eq!(
            resolve(r#"{"microsoftTeamsUser":{"userId":"u","cloud":"dod"}}"#).raw_id(),
            "8:dod:u"
        );
        assert_eq!(
            resolve(r#"{"phoneNumber":{"value":"+14155551234"}}"#).raw_id(),
            "4:+14155551234"
        );
        // Unknown cloud values are kept.
        assert!(matches!(
            resolve(r#"{"kind":"microsoftTeamsApp","rawId":"28:orgid:a","microsoftTeamsApp":{"appId":"a","cloud":"mars"}}"#),
            CommunicationIdentifier::MicrosoftTeamsApp { cloud: Cloud::Unknown(c), .. } if c == "mars"
        ));
        // Nothing at all.
        assert_eq!(resolve("{}").raw_id(), "");
    }

    #[test]
    fn invalid_participant_codes_as_string_or_number() {
        let item: CommunicationErrorIn =
            serde_json::from_str(r#"{"code":403,"message":"m","target":"8:acs:x"}"#).unwrap();
        assert_eq!(item.into_invalid().code, "403");
        let item: CommunicationErrorIn = serde_json::from_str(r#"{"code":"404"}"#).unwrap();
        let item = item.into_invalid();
        assert_eq!((item.code.as_str(), item.message.as_str()), ("404", ""));
    }
}
