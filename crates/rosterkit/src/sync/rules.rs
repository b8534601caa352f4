//! The rules a plan keeps: minimum group size, protected members, our own line, and the
//! max-changes guard.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Handle;

/// How many removals one plan may make before it is refused as a likely mistake (a wrong
/// file, an empty export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MaxRemovals {
    /// At most this many removals.
    Count(usize),
    /// At most this percentage (0–100) of the current members.
    Percent(u8),
}

impl MaxRemovals {
    /// Whether `removals` out of `current` members is within the limit.
    pub fn allows(self, removals: usize, current: usize) -> bool {
        match self {
            Self::Count(n) => removals <= n,
            // removals / current <= percent / 100, in integers.
            Self::Percent(p) => {
                removals.saturating_mul(100) <= usize::from(p.min(100)).saturating_mul(current)
            }
        }
    }
}

impl fmt::Display for MaxRemovals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n} removals"),
            Self::Percent(p) => write!(f, "{p}% of the members"),
        }
    }
}

/// Our own line (the account the client acts as), which a plan never adds or removes: leaving
/// is [`Membership::leave`](crate::Membership::leave)'s job, not a sync's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OwnLine {
    /// Not given: taken from the roster where the provider marks our line
    /// ([`Participant::is_self`](crate::Participant::is_self): Linq, and ACS with its user id);
    /// else the roster is counted as it is.
    #[default]
    Unknown,
    /// Our line's handle. Where the roster lists it, it is kept untouched; where it does not,
    /// it still counts as one member toward the minimum group size.
    Handle(Handle),
    /// The roster never lists our line (Chert's rosters exclude it); it counts as one member
    /// toward the minimum group size.
    NotInRoster,
}

/// The rules [`Plan::compute`](super::Plan::compute) honours.
///
/// The default: no minimum size (the client's
/// [`Capabilities::min_group_size`](crate::Capabilities) fills it in [`plan`](super::plan)),
/// admins protected, no protected removal, no removal limit, and an empty desired roster
/// refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Rules {
    /// The fewest members the group may keep, our own line included.
    pub min_group_size: Option<usize>,
    /// Our own line.
    pub own_line: OwnLine,
    /// Members never removed unless [`Rules::allow_protected_removal`].
    pub protected: Vec<Handle>,
    /// Members the provider marks as admins are protected too.
    pub protect_admins: bool,
    /// Protected members (not our own line) absent from the desired roster are removed.
    pub allow_protected_removal: bool,
    /// The max-changes guard.
    pub max_removals: Option<MaxRemovals>,
    /// An empty desired roster may remove members (otherwise it is refused as a likely
    /// mistake).
    pub allow_empty: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            min_group_size: None,
            own_line: OwnLine::Unknown,
            protected: Vec::new(),
            protect_admins: true,
            allow_protected_removal: false,
            max_removals: None,
            allow_empty: false,
        }
    }
}

impl Rules {
    /// Sets the minimum group size, our own line included.
    #[must_use]
    pub fn with_min_group_size(mut self, min: usize) -> Self {
        self.min_group_size = Some(min);
        self
    }

    /// Sets our own line.
    #[must_use]
    pub fn with_own_line(mut self, own_line: OwnLine) -> Self {
        self.own_line = own_line;
        self
    }

    /// Adds members that are never removed.
    #[must_use]
    pub fn with_protected(mut self, handles: impl IntoIterator<Item = Handle>) -> Self {
        self.protected.extend(handles);
        self
    }

    /// Sets whether admins are protected.
    #[must_use]
    pub fn with_protect_admins(mut self, on: bool) -> Self {
        self.protect_admins = on;
        self
    }

    /// Sets whether protected members may be removed.
    #[must_use]
    pub fn with_allow_protected_removal(mut self, on: bool) -> Self {
        self.allow_protected_removal = on;
        self
    }

    /// Sets the max-changes guard.
    #[must_use]
    pub fn with_max_removals(mut self, limit: MaxRemovals) -> Self {
        self.max_removals = Some(limit);
        self
    }

    /// Sets whether an empty desired roster may remove members.
    #[must_use]
    pub fn with_allow_empty(mut self, on: bool) -> Self {
        self.allow_empty = on;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_limits() {
        assert!(MaxRemovals::Count(2).allows(2, 10));
        assert!(!MaxRemovals::Count(2).allows(3, 10));
        assert!(MaxRemovals::Percent(50).allows(5, 10));
        assert!(!MaxRemovals::Percent(50).allows(6, 10));
        assert!(MaxRemovals::Percent(0).allows(0, 0));
        assert!(!MaxRemovals::Percent(0).allows(1, 10));
        assert!(MaxRemovals::Percent(200).allows(10, 10));
        assert_eq!(MaxRemovals::Percent(20).to_string(), "20% of the members");
    }
}
