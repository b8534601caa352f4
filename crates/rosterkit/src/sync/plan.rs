//! The pure planner: the current roster and the desired one in, ordered steps out, no I/O.

use std::{collections::HashSet, fmt};

use serde::{Deserialize, Serialize};

use super::{OwnLine, Refusal, Rules, canonical::Key};
use crate::{ChatId, Handle, Participant};

/// One change of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", content = "handle", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// Add this member (as the desired roster wrote it).
    Add(Handle),
    /// Remove this member (as the provider listed it).
    Remove(Handle),
}

impl Step {
    /// Who the step is about.
    pub fn handle(&self) -> &Handle {
        match self {
            Self::Add(h) | Self::Remove(h) => h,
        }
    }

    /// Whether the step adds.
    pub fn is_add(&self) -> bool {
        matches!(self, Self::Add(_))
    }
}

/// `+ handle` or `- handle`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Add(h) => write!(f, "+ {h}"),
            Self::Remove(h) => write!(f, "- {h}"),
        }
    }
}

/// Where a plan's current roster came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RosterSource {
    /// Read from the provider ([`Membership::participants`](crate::Membership::participants)).
    Listed,
    /// Given by the caller: for a provider without a list route (Chert), a roster kept from the
    /// last reply that carried one ([`Outcome::roster`](crate::Outcome::roster)) or from
    /// elsewhere. The plan is only as fresh as that roster.
    Supplied,
}

/// What a sync would change in one chat: adds first, then removes, so a group never drops
/// below its minimum size on the way.
///
/// Serializable for machine output; [`Display`](fmt::Display) renders the human diff (`+
/// handle`, `- handle`, `= N kept`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The provider it was planned for ([`Membership::provider`](crate::Membership::provider));
    /// `None` for a plan computed without a client.
    pub provider: Option<String>,
    /// The chat.
    pub chat: ChatId,
    /// Where the current roster came from.
    pub source: RosterSource,
    /// The minimum group size honoured, our own line included.
    pub min_group_size: Option<usize>,
    /// The group size now, as counted for the minimum.
    pub size_before: usize,
    /// The group size once every step is applied.
    pub size_after: usize,
    /// The changes, in the order to apply them.
    pub steps: Vec<Step>,
    /// Current members that stay because they are desired (or are our own line).
    pub kept: Vec<Handle>,
    /// Current members that stay only because they are protected.
    pub protected: Vec<Handle>,
}

impl Plan {
    /// Plans the steps from `current` to `desired` under `rules`, with no I/O.
    ///
    /// Members are compared in a canonical form (an ACS `4:+1…` phone identity is the phone
    /// `+1…`; emails are case-insensitive) and duplicates count once. Our own line is never
    /// added or removed; protected members (listed, or admins) absent from `desired` are kept
    /// unless the rules allow their removal. The plan comes back with
    /// [`RosterSource::Supplied`] and no provider; [`plan`](super::plan) sets both.
    ///
    /// # Errors
    /// A [`Refusal`] (and no steps) when the group would end below the minimum size, the
    /// max-changes guard is broken, or an empty desired roster would remove members.
    pub fn compute(
        chat: ChatId,
        current: &[Participant],
        desired: &[Handle],
        rules: &Rules,
    ) -> Result<Self, Refusal> {
        let own = match &rules.own_line {
            OwnLine::Handle(h) => Some(Key::of(h)),
            OwnLine::NotInRoster => None,
            // Not given: the roster's own mark, where the provider sets one (Linq's `is_me`,
            // ACS's configured identity).
            OwnLine::Unknown => current
                .iter()
                .find(|p| p.is_self == Some(true))
                .map(|p| Key::of(&p.handle)),
        };
        let protected: HashSet<Key> = rules.protected.iter().map(Key::of).collect();

        let mut listed = HashSet::new();
        let (mut kept, mut kept_protected, mut removes) = (Vec::new(), Vec::new(), Vec::new());
        let wanted: HashSet<Key> = desired.iter().map(Key::of).collect();
        for p in current {
            let key = Key::of(&p.handle);
            if !listed.insert(key.clone()) {
                continue;
            }
            let is_protected =
                protected.contains(&key) || (rules.protect_admins && p.is_admin == Some(true));
            if wanted.contains(&key) || own.as_ref() == Some(&key) {
                kept.push(p.handle.clone());
            } else if is_protected && !rules.allow_protected_removal {
                kept_protected.push(p.handle.clone());
            } else {
                removes.push(p.handle.clone());
            }
        }
        let mut seen = HashSet::new();
        let mut adds = Vec::new();
        for h in desired {
            let key = Key::of(h);
            if !listed.contains(&key) && own.as_ref() != Some(&key) && seen.insert(key) {
                adds.push(h.clone());
            }
        }

        let own_unlisted = match &own {
            Some(key) => !listed.contains(key),
            None => rules.own_line == OwnLine::NotInRoster,
        };
        let size_before = listed.len() + usize::from(own_unlisted);
        let size_after = (size_before + adds.len()).saturating_sub(removes.len());
        if let Some(min) = rules.min_group_size
            && size_after < min
        {
            return Err(Refusal::BelowMinimum {
                size: size_after,
                min,
            });
        }
        let desired_others = wanted.iter().filter(|k| own.as_ref() != Some(*k)).count();
        if desired_others == 0 && !removes.is_empty() && !rules.allow_empty {
            return Err(Refusal::EmptyDesired {
                removals: removes.len(),
            });
        }
        if let Some(limit) = rules.max_removals
            && !limit.allows(removes.len(), listed.len())
        {
            return Err(Refusal::TooManyRemovals {
                removals: removes.len(),
                current: listed.len(),
                limit,
            });
        }

        let steps = adds
            .into_iter()
            .map(Step::Add)
            .chain(removes.into_iter().map(Step::Remove))
            .collect();
        Ok(Self {
            provider: None,
            chat,
            source: RosterSource::Supplied,
            min_group_size: rules.min_group_size,
            size_before,
            size_after,
            steps,
            kept,
            protected: kept_protected,
        })
    }

    /// Whether the chat already matches: nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The members the plan adds, in order.
    pub fn adds(&self) -> impl Iterator<Item = &Handle> {
        self.steps.iter().filter(|s| s.is_add()).map(Step::handle)
    }

    /// The members the plan removes, in order.
    pub fn removes(&self) -> impl Iterator<Item = &Handle> {
        self.steps.iter().filter(|s| !s.is_add()).map(Step::handle)
    }
}

/// The diff: one `+ handle` or `- handle` line per step, then `= N kept` (with how many of
/// them only because they are protected).
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        let kept = self.kept.len() + self.protected.len();
        match self.protected.len() {
            0 => writeln!(f, "= {kept} kept"),
            n => writeln!(f, "= {kept} kept ({n} protected)"),
        }
    }
}
