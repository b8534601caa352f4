//! The native, full-fidelity request and reply types of the ACS participant operations.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use rosterkit_core::{Error, ErrorKind, Secret};
use secrecy::{ExposeSecret, SecretSlice};

use crate::generated::{PROVIDER, Route, error_entry};
use crate::identifier::CommunicationIdentifier;

/// A participant of a chat thread (`ChatParticipant`), as listed or to be added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChatParticipant {
    /// Who.
    pub identifier: CommunicationIdentifier,
    /// The display name, when set.
    pub display_name: Option<String>,
    /// Since when the thread's history is shared with the participant, as sent (RFC 3339).
    /// ACS replies `1970-01-01T00:00:00Z` for "not set".
    pub share_history_time: Option<String>,
    /// Name/value metadata (at most 1 KB in all, says the spec). Non-string values in a reply
    /// are kept as their JSON text.
    pub metadata: BTreeMap<String, String>,
}

impl ChatParticipant {
    /// A participant with only an identifier.
    pub fn new(identifier: CommunicationIdentifier) -> Self {
        Self {
            identifier,
            display_name: None,
            share_history_time: None,
            metadata: BTreeMap::new(),
        }
    }

    /// Returns the participant with a display name.
    #[must_use]
    pub fn with_display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Returns the participant with a history-sharing start (RFC 3339, e.g.
    /// `2020-06-06T05:55:41Z`), sent as given.
    #[must_use]
    pub fn with_share_history_time(mut self, time: impl Into<String>) -> Self {
        self.share_history_time = Some(time.into());
        self
    }

    /// Returns the participant with one more metadata pair.
    #[must_use]
    pub fn with_metadata(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(name.into(), value.into());
        self
    }
}

/// One entry of `invalidParticipants` in a 201 add reply: a participant that was not added.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidParticipant {
    /// The raw id of the participant (`target`), when given.
    pub target: Option<String>,
    /// An HTTP status as a string (`"403"`, `"404"`), as ACS sends it.
    pub code: String,
    /// The service's message (`"Permissions check failed"`).
    pub message: String,
}

impl InvalidParticipant {
    /// Our kind for the item: `"403"` → `Forbidden`, `"404"` → `InvalidInput` (no such user),
    /// any other number by its HTTP status, anything else `ServerError`.
    pub fn kind(&self) -> ErrorKind {
        match error_entry(Route::AddParticipants, &self.code) {
            Some(entry) => entry.kind,
            None => self
                .code
                .trim()
                .parse::<u16>()
                .map_or(ErrorKind::ServerError, ErrorKind::from_status),
        }
    }

    /// The item as an [`Error`] with provider `acs`, the item's code and our kind.
    pub fn to_error(&self) -> Error {
        let message = match &self.target {
            Some(target) if self.message.is_empty() => format!("{target} was not added"),
            Some(target) => format!("{} ({target})", self.message),
            None if self.message.is_empty() => "participant was not added".to_owned(),
            None => self.message.clone(),
        };
        match error_entry(Route::AddParticipants, &self.code) {
            Some(entry) => entry.to_error(PROVIDER, message),
            None => Error::new(self.kind(), message)
                .with_provider(PROVIDER)
                .with_code(self.code.clone()),
        }
    }
}

/// The reply of an add: `{}` when everyone was added, else the ones that were not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddChatParticipantsResult {
    /// The participants that were not added, with why.
    pub invalid_participants: Vec<InvalidParticipant>,
}

impl AddChatParticipantsResult {
    /// The entry for `identifier`, if it was not added (matched on raw id; phone numbers with or
    /// without `+`).
    pub fn invalid_for(&self, identifier: &CommunicationIdentifier) -> Option<&InvalidParticipant> {
        self.invalid_participants.iter().find(|item| {
            item.target
                .as_deref()
                .is_some_and(|t| CommunicationIdentifier::from_raw_id(t).same_as(identifier))
        })
    }
}

/// One page of a participant listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParticipantsPage {
    /// The participants on this page.
    pub participants: Vec<ChatParticipant>,
    /// The absolute URL of the next page, verbatim; `None` on the last page.
    pub next_link: Option<String>,
}

/// A user access token minted by the Identity API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessToken {
    /// The bearer token.
    pub token: Secret,
    /// When it expires.
    pub expires_on: SystemTime,
}

/// An ACS resource access key (the `accesskey=` part of a connection string), decoded once.
/// `Debug` prints a redaction and the bytes are wiped on drop.
#[derive(Clone)]
pub struct AccessKey(Arc<SecretSlice<u8>>);

impl AccessKey {
    /// Decodes the base64 access key.
    ///
    /// # Errors
    /// `InvalidInput` when the text is not standard base64 or decodes to nothing (the message
    /// never contains the key).
    pub fn from_base64(access_key: &str) -> Result<Self, Error> {
        rosterkit_sign::acs::decode_access_key(access_key)
            .map(|bytes| Self(Arc::new(SecretSlice::from(bytes))))
            .map_err(|e| {
                Error::invalid_input(format!("invalid ACS access key: {e}")).with_provider(PROVIDER)
            })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessKey(** redacted **)")
    }
}
