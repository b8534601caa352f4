//! Why a sync was refused, or failed, before any change was sent.

use std::fmt;

use serde::Serialize;

use super::MaxRemovals;
use crate::{Error, ErrorKind, Handle};

/// A rule a plan would break. Nothing has been sent when a sync is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// The group would end smaller than the provider's minimum.
    BelowMinimum {
        /// The group size the desired roster leads to, our own line included.
        size: usize,
        /// The minimum.
        min: usize,
    },
    /// More removals than the max-changes guard allows.
    TooManyRemovals {
        /// Removals the plan would make.
        removals: usize,
        /// Members now.
        current: usize,
        /// The limit broken.
        limit: MaxRemovals,
    },
    /// The desired roster is empty and would remove members (allow it with
    /// [`Rules::allow_empty`](super::Rules::allow_empty)).
    EmptyDesired {
        /// Members it would remove.
        removals: usize,
    },
    /// The provider cannot list a roster and none was supplied
    /// ([`SyncOptions::with_roster`](super::SyncOptions::with_roster)).
    NoRoster {
        /// The provider.
        provider: String,
    },
    /// The plan needs an operation the provider does not have.
    Unsupported {
        /// The provider.
        provider: String,
        /// `"add"` or `"remove"`.
        operation: &'static str,
    },
    /// The provider does not accept this kind of handle.
    HandleNotAccepted {
        /// The provider.
        provider: String,
        /// The handle.
        handle: Handle,
    },
    /// The plan was made for another provider than the client given to apply it.
    ProviderMismatch {
        /// The plan's provider.
        plan: String,
        /// The client's provider.
        client: String,
    },
}

impl Refusal {
    /// The [`ErrorKind`] of the refusal as a core [`Error`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::BelowMinimum { .. } => ErrorKind::GroupTooSmall,
            Self::NoRoster { .. } | Self::Unsupported { .. } => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BelowMinimum { size, min } => write!(
                f,
                "the desired roster leaves {size} members, below this provider's minimum group size of {min}"
            ),
            Self::TooManyRemovals {
                removals,
                current,
                limit,
            } => write!(
                f,
                "the plan removes {removals} of {current} members, more than the limit of {limit}"
            ),
            Self::EmptyDesired { removals } => write!(
                f,
                "the desired roster is empty and would remove {removals} members; allow it explicitly if that is meant"
            ),
            Self::NoRoster { provider } => write!(
                f,
                "{provider} cannot list a chat's members; supply the current roster"
            ),
            Self::Unsupported {
                provider,
                operation,
            } => write!(f, "{provider} does not support {operation}"),
            Self::HandleNotAccepted { provider, handle } => write!(
                f,
                "{provider} does not accept {} handles ({})",
                handle.kind_name(),
                handle.redacted()
            ),
            Self::ProviderMismatch { plan, client } => {
                write!(f, "the plan is for {plan}, the client is {client}")
            }
        }
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        Error::new(refusal.kind(), refusal.to_string())
    }
}

/// Why [`plan`](super::plan) or [`apply`](super::apply) produced nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncError {
    /// A rule refused the plan; nothing was sent.
    Refused(Refusal),
    /// Reading the current roster failed.
    Read(Error),
}

impl SyncError {
    /// The refusal, if this is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused(r) => Some(r),
            Self::Read(_) => None,
        }
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(r) => write!(f, "sync refused: {r}"),
            Self::Read(e) => write!(f, "reading the roster failed: {e}"),
        }
    }
}

impl std::error::Error for SyncError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Refused(r) => Some(r),
            Self::Read(e) => Some(e),
        }
    }
}

impl From<Refusal> for SyncError {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<SyncError> for Error {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Refused(r) => r.into(),
            SyncError::Read(e) => e,
        }
    }
}
