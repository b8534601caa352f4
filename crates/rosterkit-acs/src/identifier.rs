//! ACS participant identifiers: the typed `CommunicationIdentifierModel`.

use std::fmt;

use rosterkit_core::{E164, Error, ErrorKind, Handle, NativeId, ParseError, redact::mask_digits};

use crate::generated::PROVIDER;

/// The cloud an identifier belongs to (`cloud` on the wire; `public` when absent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Cloud {
    /// The public Azure cloud.
    #[default]
    Public,
    /// US Department of Defense.
    Dod,
    /// US Government Community Cloud High.
    Gcch,
    /// A value this version does not know, kept as sent.
    Unknown(String),
}

impl Cloud {
    /// The wire name (`"public"`, `"dod"`, `"gcch"`, or the unknown value).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Public => "public",
            Self::Dod => "dod",
            Self::Gcch => "gcch",
            Self::Unknown(other) => other,
        }
    }

    /// Parses a wire name; anything unknown is kept in [`Cloud::Unknown`].
    pub fn from_wire(name: &str) -> Self {
        match name {
            "public" => Self::Public,
            "dod" => Self::Dod,
            "gcch" => Self::Gcch,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

/// Who a thread participant is, as ACS models it (`CommunicationIdentifierModel`): a raw id plus
/// the data of its kind.
///
/// Build one from a raw id with [`CommunicationIdentifier::from_raw_id`] (the prefix decides the
/// kind, as in the Azure SDKs) or from a rosterkit [`Handle`] with `TryFrom`. Replies are
/// resolved tolerantly: `kind` first, then whichever kind object is present, then the raw id's
/// prefix, and finally [`CommunicationIdentifier::Unknown`].
///
/// ```
/// use rosterkit_acs::CommunicationIdentifier;
/// let user = CommunicationIdentifier::from_raw_id("8:acs:1111_2222");
/// assert_eq!(user, CommunicationIdentifier::CommunicationUser { id: "8:acs:1111_2222".into() });
/// assert_eq!(user.kind(), "communicationUser");
/// let phone = CommunicationIdentifier::from_raw_id("4:+14155551234");
/// assert_eq!(phone.kind(), "phoneNumber");
/// assert_eq!(CommunicationIdentifier::from_raw_id("99:x").kind(), "unknown");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommunicationIdentifier {
    /// An ACS user (`8:acs:`, `8:spool:`, `8:dod-acs:`, `8:gcch-acs:`); its id is its raw id.
    CommunicationUser {
        /// The raw id, e.g. `8:acs:<resource>_<user>`.
        id: String,
    },
    /// A phone number (`4:` raw ids).
    PhoneNumber {
        /// The raw id, e.g. `4:+14155551234`.
        raw_id: String,
        /// The number, usually E.164 (`anonymous` for an anonymous caller).
        value: String,
        /// Whether the number is anonymous.
        is_anonymous: bool,
        /// The asserted id, when the service gave one.
        asserted_id: Option<String>,
    },
    /// A Microsoft Teams user (`8:orgid:`, `8:dod:`, `8:gcch:`, anonymous `8:teamsvisitor:`).
    MicrosoftTeamsUser {
        /// The raw id.
        raw_id: String,
        /// The Entra object id (or the visitor id).
        user_id: String,
        /// Whether the user is an anonymous Teams visitor.
        is_anonymous: bool,
        /// The cloud.
        cloud: Cloud,
    },
    /// A Microsoft Teams application (`28:orgid:`, `28:dod:`, `28:gcch:`, `28:dod-global:`,
    /// `28:gcch-global:`).
    MicrosoftTeamsApp {
        /// The raw id.
        raw_id: String,
        /// The application id.
        app_id: String,
        /// The cloud.
        cloud: Cloud,
    },
    /// A Teams Phone user extended through an ACS resource: an ACS prefix followed by
    /// `{resourceId}_{tenantId}_{userId}` (three `_`-separated parts; a plain ACS user has two).
    TeamsExtensionUser {
        /// The raw id.
        raw_id: String,
        /// The Entra object id of the user.
        user_id: String,
        /// The tenant id.
        tenant_id: String,
        /// The ACS resource id.
        resource_id: String,
        /// The cloud.
        cloud: Cloud,
    },
    /// A kind this version does not know (or a reply that gave only an unrecognised raw id).
    Unknown {
        /// The raw id, as sent.
        raw_id: String,
    },
}

/// ACS-user prefixes that may carry a Teams extension user, with their cloud.
const ACS_USER_PREFIXES: [(&str, Cloud); 3] = [
    ("8:acs:", Cloud::Public),
    ("8:dod-acs:", Cloud::Dod),
    ("8:gcch-acs:", Cloud::Gcch),
];
const SPOOL_PREFIX: &str = "8:spool:";
const TEAMS_VISITOR_PREFIX: &str = "8:teamsvisitor:";
const TEAMS_USER_PREFIXES: [(&str, Cloud); 3] = [
    ("8:orgid:", Cloud::Public),
    ("8:dod:", Cloud::Dod),
    ("8:gcch:", Cloud::Gcch),
];
const TEAMS_APP_PREFIXES: [(&str, Cloud); 5] = [
    ("28:orgid:", Cloud::Public),
    ("28:dod:", Cloud::Dod),
    ("28:gcch:", Cloud::Gcch),
    ("28:dod-global:", Cloud::Dod),
    ("28:gcch-global:", Cloud::Gcch),
];
const PHONE_PREFIX: &str = "4:";

impl CommunicationIdentifier {
    /// The identifier a raw id stands for, by its prefix (the rules of the Azure SDKs'
    /// `createIdentifierFromRawId`); an unrecognised prefix gives [`Self::Unknown`].
    pub fn from_raw_id(raw_id: &str) -> Self {
        let raw = raw_id.to_owned();
        if let Some(rest) = raw_id.strip_prefix(PHONE_PREFIX) {
            let is_anonymous = rest == "anonymous";
            return Self::PhoneNumber {
                raw_id: raw,
                value: rest.to_owned(),
                is_anonymous,
                asserted_id: None,
            };
        }
        if raw_id.starts_with(SPOOL_PREFIX) {
            return Self::CommunicationUser { id: raw };
        }
        for (prefix, cloud) in ACS_USER_PREFIXES {
            if let Some(rest) = raw_id.strip_prefix(prefix) {
                let parts: Vec<&str> = rest.split('_').collect();
                if let [resource_id, tenant_id, user_id] = parts.as_slice() {
                    return Self::TeamsExtensionUser {
                        raw_id: raw,
                        user_id: (*user_id).to_owned(),
                        tenant_id: (*tenant_id).to_owned(),
                        resource_id: (*resource_id).to_owned(),
                        cloud,
                    };
                }
                return Self::CommunicationUser { id: raw };
            }
        }
        if let Some(rest) = raw_id.strip_prefix(TEAMS_VISITOR_PREFIX) {
            return Self::MicrosoftTeamsUser {
                raw_id: raw,
                user_id: rest.to_owned(),
                is_anonymous: true,
                cloud: Cloud::Public,
            };
        }
        for (prefix, cloud) in TEAMS_USER_PREFIXES {
            if let Some(rest) = raw_id.strip_prefix(prefix) {
                return Self::MicrosoftTeamsUser {
                    raw_id: raw,
                    user_id: rest.to_owned(),
                    is_anonymous: false,
                    cloud,
                };
            }
        }
        for (prefix, cloud) in TEAMS_APP_PREFIXES {
            if let Some(rest) = raw_id.strip_prefix(prefix) {
                return Self::MicrosoftTeamsApp {
                    raw_id: raw,
                    app_id: rest.to_owned(),
                    cloud,
                };
            }
        }
        Self::Unknown { raw_id: raw }
    }

    /// An ACS user with this raw id (`8:acs:...`), whatever its shape.
    pub fn communication_user(id: impl Into<String>) -> Self {
        Self::CommunicationUser { id: id.into() }
    }

    /// A phone number participant: raw id `4:+1...`, value the E.164 number.
    pub fn phone_number(number: &E164) -> Self {
        Self::PhoneNumber {
            raw_id: format!("{PHONE_PREFIX}{}", number.as_str()),
            value: number.as_str().to_owned(),
            is_anonymous: false,
            asserted_id: None,
        }
    }

    /// The raw id, the stable key ACS uses everywhere (`invalidParticipants[].target` too).
    pub fn raw_id(&self) -> &str {
        match self {
            Self::CommunicationUser { id } => id,
            Self::PhoneNumber { raw_id, .. }
            | Self::MicrosoftTeamsUser { raw_id, .. }
            | Self::MicrosoftTeamsApp { raw_id, .. }
            | Self::TeamsExtensionUser { raw_id, .. }
            | Self::Unknown { raw_id } => raw_id,
        }
    }

    /// The wire `kind` (`"communicationUser"`, `"phoneNumber"`, `"microsoftTeamsUser"`,
    /// `"microsoftTeamsApp"`, `"teamsExtensionUser"`, `"unknown"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CommunicationUser { .. } => "communicationUser",
            Self::PhoneNumber { .. } => "phoneNumber",
            Self::MicrosoftTeamsUser { .. } => "microsoftTeamsUser",
            Self::MicrosoftTeamsApp { .. } => "microsoftTeamsApp",
            Self::TeamsExtensionUser { .. } => "teamsExtensionUser",
            Self::Unknown { .. } => "unknown",
        }
    }

    /// Whether `self` and `other` name the same participant: phone numbers compare by number
    /// (`4:+1...` and the JS SDK's `4:1...` are the same), everything else by raw id.
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::PhoneNumber { value: a, .. }, Self::PhoneNumber { value: b, .. }) => {
                a.trim_start_matches('+') == b.trim_start_matches('+')
            }
            _ => self.raw_id() == other.raw_id(),
        }
    }

    /// The rosterkit handle for this participant: a phone number as [`Handle::Phone`] when it
    /// is E.164 (a `+` is added to bare digits), anything else as [`Handle::Native`] raw id.
    ///
    /// # Errors
    /// [`ParseError`] when the raw id cannot be a native id (empty, whitespace, too long).
    pub fn to_handle(&self) -> Result<Handle, ParseError> {
        if let Self::PhoneNumber { value, .. } = self {
            let e164 = if value.starts_with('+') {
                E164::parse(value)
            } else {
                E164::parse(&format!("+{value}"))
            };
            if let Ok(number) = e164 {
                return Ok(Handle::Phone(number));
            }
        }
        NativeId::new(self.raw_id()).map(Handle::Native)
    }
}

/// The kinds of handle ACS accepts, for error messages.
pub(crate) const ACCEPTED_HANDLES: &str = "ACS raw ids (8:acs:..., 8:spool:..., 8:orgid:..., \
     8:teamsvisitor:..., 28:orgid:..., 4:+1...) or E.164 phone numbers";

impl TryFrom<&Handle> for CommunicationIdentifier {
    type Error = Error;

    /// `Handle::Native` by raw-id prefix (it must look like an ACS raw id, `<digits>:...`),
    /// `Handle::Phone` as a phone-number participant; emails are refused.
    fn try_from(handle: &Handle) -> Result<Self, Error> {
        match handle {
            Handle::Phone(number) => Ok(Self::phone_number(number)),
            Handle::Native(id) if looks_like_raw_id(id.as_str()) => {
                Ok(Self::from_raw_id(id.as_str()))
            }
            Handle::Native(_) => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "this native id is not an ACS raw id (expected <digits>:..., e.g. 8:acs:...); acs accepts {ACCEPTED_HANDLES}"
                ),
            )
            .with_provider(PROVIDER)),
            _ => Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "acs does not accept {} handles: it accepts {ACCEPTED_HANDLES}",
                    handle.kind_name()
                ),
            )
            .with_provider(PROVIDER)),
        }
    }
}

/// `<digits>:<something>`: the shape of every ACS raw id.
fn looks_like_raw_id(raw: &str) -> bool {
    let digits = raw.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0
        && raw
            .get(digits..)
            .is_some_and(|rest| rest.len() > 1 && rest.starts_with(':'))
}

impl fmt::Debug for CommunicationIdentifier {
    /// Phone numbers are masked to their last 4 digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommunicationUser { id } => {
                f.debug_struct("CommunicationUser").field("id", id).finish()
            }
            Self::PhoneNumber {
                raw_id,
                value,
                is_anonymous,
                asserted_id,
            } => f
                .debug_struct("PhoneNumber")
                .field("raw_id", &mask_digits(raw_id))
                .field("value", &mask_digits(value))
                .field("is_anonymous", is_anonymous)
                .field("asserted_id", asserted_id)
                .finish(),
            Self::MicrosoftTeamsUser {
                raw_id,
                user_id,
                is_anonymous,
                cloud,
            } => f
                .debug_struct("MicrosoftTeamsUser")
                .field("raw_id", raw_id)
                .field("user_id", user_id)
                .field("is_anonymous", is_anonymous)
                .field("cloud", cloud)
                .finish(),
            Self::MicrosoftTeamsApp {
                raw_id,
                app_id,
                cloud,
            } => f
                .debug_struct("MicrosoftTeamsApp")
                .field("raw_id", raw_id)
                .field("app_id", app_id)
                .field("cloud", cloud)
                .finish(),
            Self::TeamsExtensionUser {
                raw_id,
                user_id,
                tenant_id,
                resource_id,
                cloud,
            } => f
                .debug_struct("TeamsExtensionUser")
                .field("raw_id", raw_id)
                .field("user_id", user_id)
                .field("tenant_id", tenant_id)
                .field("resource_id", resource_id)
                .field("cloud", cloud)
                .finish(),
            Self::Unknown { raw_id } => f
                .debug_struct("Unknown")
                .field("raw_id", &mask_digits(raw_id))
                .finish(),
        }
    }
}

impl fmt::Display for CommunicationIdentifier {
    /// The raw id, phone digits masked (safe for logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_digits(self.raw_id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_map_to_kinds() {
        let cases = [
            ("8:acs:1111_2222", "communicationUser"),
            ("8:spool:1111_2222", "communicationUser"),
            ("8:spool:a_b_c", "communicationUser"),
            ("8:dod-acs:1111_2222", "communicationUser"),
            ("8:gcch-acs:1111_2222", "communicationUser"),
            ("8:acs:r_t_u", "teamsExtensionUser"),
            ("8:orgid:abc", "microsoftTeamsUser"),
            ("8:dod:abc", "microsoftTeamsUser"),
            ("8:gcch:abc", "microsoftTeamsUser"),
            ("8:teamsvisitor:abc", "microsoftTeamsUser"),
            ("28:orgid:app", "microsoftTeamsApp"),
            ("28:dod:app", "microsoftTeamsApp"),
            ("28:gcch:app", "microsoftTeamsApp"),
            ("28:gcch-global:app", "microsoftTeamsApp"),
            ("4:+14155551234", "phoneNumber"),
            ("4:anonymous", "phoneNumber"),
            ("9:whatever", "unknown"),
            ("8:unknownprefix:x", "unknown"),
        ];
        for (raw, kind) in cases {
            let id = CommunicationIdentifier::from_raw_id(raw);
            assert_eq!(id.kind(), kind, "{raw}");
            assert_eq!(id.raw_id(), raw);
        }
    }

    #[test]
    fn details_by_prefix() {
        assert_eq!(
            CommunicationIdentifier::from_raw_id("8:gcch-acs:r_t_u"),
            CommunicationIdentifier::TeamsExtensionUser {
                raw_id: "8:gcch-acs:r_t_u".into(),
                user_id: "u".into(),
                tenant_id: "t".into(),
                resource_id: "r".into(),
                cloud: Cloud::Gcch,
            }
        );
        assert_eq!(
            CommunicationIdentifier::from_raw_id("8:teamsvisitor:v1"),
            CommunicationIdentifier::MicrosoftTeamsUser {
                raw_id: "8:teamsvisitor:v1".into(),
                user_id: "v1".into(),
                is_anonymous: true,
                cloud: Cloud::Public,
            }
        );
        assert_eq!(
            CommunicationIdentifier::from_raw_id("28:dod:app"),
            CommunicationIdentifier::MicrosoftTeamsApp {
                raw_id: "28:dod:app".into(),
                app_id: "app".into(),
                cloud: Cloud::Dod,
            }
        );
        let anon = CommunicationIdentifier::from_raw_id("4:anonymous");
        assert!(matches!(
            anon,
            CommunicationIdentifier::PhoneNumber {
                is_anonymous: true,
                ..
            }
        ));
    }

    #[test]
    fn handles() {
        let phone: Handle = "+14155551234".parse().unwrap();
        let id = CommunicationIdentifier::try_from(&phone).unwrap();
        assert_eq!(id.raw_id(), "4:+14155551234");
        assert_eq!(id.to_handle().unwrap(), phone);
        let bare = CommunicationIdentifier::from_raw_id("4:14155551234");
        assert_eq!(bare.to_handle().unwrap(), phone);
        assert!(bare.same_as(&id));

        let native: Handle = "8:acs:1111_2222".parse().unwrap();
        let id = CommunicationIdentifier::try_from(&native).unwrap();
        assert_eq!(id.kind(), "communicationUser");
        assert_eq!(id.to_handle().unwrap(), native);

        let email: Handle = "a@example.com".parse().unwrap();
        let err = CommunicationIdentifier::try_from(&email).unwrap_err();
        assert_eq!(err.kind(), rosterkit_core::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("email"), "{err}");

        let lid: Handle = "1234@lid".parse().unwrap();
        let err = CommunicationIdentifier::try_from(&lid).unwrap_err();
        assert!(err.to_string().contains("not an ACS raw id"), "{err}");
    }

    #[test]
    fn debug_and_display_mask_phones() {
        let id = CommunicationIdentifier::from_raw_id("4:+14155551234");
        for text in [format!("{id:?}"), id.to_string()] {
            assert!(!text.contains("4155551234"), "{text}");
            assert!(text.contains("1234"), "{text}");
        }
    }
}
