//! What a membership change did.

use crate::Handle;

/// The result of a successful membership change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The provider applied the change synchronously. `roster` is the membership afterwards when
    /// the provider returned it (Chert does; ACS's 204 does not).
    Applied {
        /// The members after the change, when the reply carried them.
        roster: Option<Vec<Handle>>,
        /// The provider's trace id, when given.
        trace_id: Option<String>,
    },
    /// The provider accepted the change and will apply it later (Linq).
    Queued {
        /// The provider's trace id, to match a later webhook.
        trace_id: Option<String>,
    },
    /// Ensure mode: the chat was already in the requested state (not a member, already left).
    AlreadyDone {
        /// The provider's trace id, when given.
        trace_id: Option<String>,
    },
    /// The provider said only "ok" (Z-API's `value: true`), or a retry left it open whether the
    /// first attempt took effect.
    Unconfirmed {
        /// The last membership seen, when known.
        roster: Option<Vec<Handle>>,
        /// The provider's trace id, when given.
        trace_id: Option<String>,
    },
}

impl Outcome {
    /// `Applied` with an optional roster and no trace id.
    pub fn applied(roster: Option<Vec<Handle>>) -> Self {
        Self::Applied {
            roster,
            trace_id: None,
        }
    }

    /// `Queued` with the provider's trace id.
    pub fn queued(trace_id: Option<String>) -> Self {
        Self::Queued { trace_id }
    }

    /// `AlreadyDone` with no trace id.
    pub fn already_done() -> Self {
        Self::AlreadyDone { trace_id: None }
    }

    /// `Unconfirmed` with an optional last-known roster.
    pub fn unconfirmed(roster: Option<Vec<Handle>>) -> Self {
        Self::Unconfirmed {
            roster,
            trace_id: None,
        }
    }

    /// Returns the outcome with its trace id set.
    #[must_use]
    pub fn with_trace_id(mut self, id: Option<String>) -> Self {
        match &mut self {
            Self::Applied { trace_id, .. }
            | Self::Queued { trace_id }
            | Self::AlreadyDone { trace_id }
            | Self::Unconfirmed { trace_id, .. } => *trace_id = id,
        }
        self
    }

    /// The snake_case name used in JSON output (`"applied"`, `"queued"`, `"already_done"`,
    /// `"unconfirmed"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied { .. } => "applied",
            Self::Queued { .. } => "queued",
            Self::AlreadyDone { .. } => "already_done",
            Self::Unconfirmed { .. } => "unconfirmed",
        }
    }

    /// The roster carried by the outcome, if any.
    pub fn roster(&self) -> Option<&[Handle]> {
        match self {
            Self::Applied { roster, .. } | Self::Unconfirmed { roster, .. } => roster.as_deref(),
            Self::Queued { .. } | Self::AlreadyDone { .. } => None,
        }
    }

    /// The provider's trace id, if any.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Applied { trace_id, .. }
            | Self::Queued { trace_id }
            | Self::AlreadyDone { trace_id }
            | Self::Unconfirmed { trace_id, .. } => trace_id.as_deref(),
        }
    }
}

/// A member of a chat as a provider lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Participant {
    /// Who.
    pub handle: Handle,
    /// The display name, when the provider has one.
    pub display_name: Option<String>,
    /// Whether the provider marks the participant as an admin, when it says.
    pub is_admin: Option<bool>,
    /// Whether this is our own line or identity: `Some(true)` for it, `Some(false)` for
    /// everyone else, `None` where the provider's roster does not say (Z-API lists the
    /// connected number unmarked; Chert's rosters leave our line out). The conformance matrix
    /// (`rosterkit::conformance`) says what each provider can report.
    pub is_self: Option<bool>,
}

impl Participant {
    /// A participant with only a handle.
    pub fn new(handle: Handle) -> Self {
        Self {
            handle,
            display_name: None,
            is_admin: None,
            is_self: None,
        }
    }

    /// Returns the participant with a display name.
    #[must_use]
    pub fn with_display_name(mut self, name: Option<String>) -> Self {
        self.display_name = name;
        self
    }

    /// Returns the participant with an admin flag.
    #[must_use]
    pub fn with_admin(mut self, is_admin: Option<bool>) -> Self {
        self.is_admin = is_admin;
        self
    }

    /// Returns the participant marked as our own line (`Some(true)`), someone else
    /// (`Some(false)`), or unknown (`None`).
    #[must_use]
    pub fn with_self(mut self, is_self: Option<bool>) -> Self {
        self.is_self = is_self;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_and_names() {
        let h: Handle = "+14155551234".parse().unwrap();
        let o = Outcome::applied(Some(vec![h.clone()])).with_trace_id(Some("t".into()));
        assert_eq!(o.as_str(), "applied");
        assert_eq!(o.roster(), Some(&[h][..]));
        assert_eq!(o.trace_id(), Some("t"));
        assert_eq!(Outcome::queued(None).as_str(), "queued");
        assert_eq!(Outcome::already_done().as_str(), "already_done");
        assert_eq!(Outcome::unconfirmed(None).as_str(), "unconfirmed");
        assert_eq!(Outcome::queued(Some("x".into())).roster(), None);
    }
}
