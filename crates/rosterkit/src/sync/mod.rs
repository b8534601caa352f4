//! Roster sync: declare who should be in a chat, plan the difference, then apply it safely.
//!
//! [`plan`] reads the chat's current members (or takes a roster the caller supplies, for a
//! provider without a list route such as Chert) and returns a [`Plan`]: the ordered
//! [`Step`]s from the current roster to the desired one. [`apply`] runs them through the
//! client and returns one [`StepResult`] per step. The diff itself is
//! [`Plan::compute`], a pure function.
//!
//! The planner keeps these [`Rules`]:
//! - **Minimum group size** (iMessage groups on Chert and Linq keep 3 members, our own line
//!   included; taken from [`Capabilities::min_group_size`](crate::Capabilities)): adds come
//!   before removes, so a replacement never takes the group below it, and a desired roster that
//!   would is refused ([`Refusal::BelowMinimum`]) before anything is sent.
//! - **Protected members** (a given list, and admins where the provider marks them) are never
//!   removed unless allowed; **our own line** ([`OwnLine`]) is never added or removed.
//! - **Max-changes guard** ([`MaxRemovals`], a count or a percentage) and an empty desired
//!   roster are refused as likely mistakes (a wrong file, an empty export).
//! - Members are compared in a canonical form: the ACS phone identity `4:+14155551234` is
//!   `+14155551234`, emails are case-insensitive.
//!
//! [`apply`] uses the client's bulk methods (native batching: Z-API `phones` arrays, ACS add)
//! in ensure mode, so the client's executor does every retry and pacing, and a re-run after a
//! partial failure converges with no duplicate effect: plan again, apply again.
//!
//! ```
//! use rosterkit::{ChatId, Handle, Membership, testing::FakeMembership};
//! use rosterkit::sync::{self, ApplyOptions, MaxRemovals, OwnLine, Rules, SyncOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let h = |s: &str| s.parse::<Handle>();
//! let me = h("+14155550100")?;
//! let chat = ChatId::new("team")?;
//! let client = FakeMembership::new("fake", me.clone())
//!     .with_chat(chat.clone(), [me.clone(), h("+14155550001")?, h("+14155550002")?]);
//!
//! let desired = [h("+14155550002")?, h("+14155550003")?];
//! let options = SyncOptions::new(
//!     Rules::default()
//!         .with_own_line(OwnLine::Handle(me))
//!         .with_max_removals(MaxRemovals::Percent(50)),
//! );
//! let plan = sync::plan(&client, &chat, &desired, &options).await?;
//! assert_eq!(plan.to_string(), "+ +14155550003\n- +14155550001\n= 2 kept\n");
//!
//! let report = sync::apply(&client, &plan, &ApplyOptions::default()).await?;
//! assert!(report.is_complete());
//! assert!(sync::plan(&client, &chat, &desired, &options).await?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! # For a command line
//!
//! A `sync` command sits directly on this module:
//!
//! | command line | library |
//! |---|---|
//! | `--members FILE` | the desired `&[Handle]` (phones through [`E164::parse_lenient`](crate::E164::parse_lenient)) |
//! | `--roster FILE` (Chert) | [`SyncOptions::with_roster`]; the plan says [`RosterSource::Supplied`] |
//! | `--protect H`, `--allow-protected-removal` | [`Rules::with_protected`], [`Rules::with_allow_protected_removal`] |
//! | `--max-removals N` / `N%` | [`Rules::with_max_removals`] with [`MaxRemovals::Count`] / [`MaxRemovals::Percent`] |
//! | plan (the default): print the diff, send only reads | [`plan`], then `Plan`'s `Display` |
//! | `--apply` | [`apply`]; print each [`StepResult`]; fail unless [`ApplyReport::is_complete`] |
//! | `--json` | one line `serde_json::to_string(&plan)`, then one line per [`StepResult`] (both `Serialize`) |
//! | `--check` | non-zero exit when `!plan.is_empty()` |
//! | `--detailed-exitcode` | Terraform's: 0 when [`Plan::is_empty`], 2 when there are changes, 1 on an error ([`SyncError`]) |
//!
//! A [`SyncError::Refused`] is invalid input (nothing was sent); [`SyncError::Read`] is the
//! provider's error reading the roster, with its usual exit code.

mod apply;
mod canonical;
mod error;
mod plan;
mod rules;
#[cfg(test)]
mod tests;

pub use apply::{ApplyOptions, ApplyReport, StepResult, apply};
pub use error::{Refusal, SyncError};
pub use plan::{Plan, RosterSource, Step};
pub use rules::{MaxRemovals, OwnLine, Rules};

use crate::{ChatId, Handle, Membership, Participant};

/// What [`plan`] plans with: the rules, and the current roster when the caller supplies it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// The rules; a missing minimum group size is taken from the client's capabilities.
    pub rules: Rules,
    /// The current roster, when the caller supplies it instead of the provider listing it.
    pub roster: Option<Vec<Participant>>,
}

impl SyncOptions {
    /// Options with these rules, the roster read from the provider.
    pub fn new(rules: Rules) -> Self {
        Self {
            rules,
            roster: None,
        }
    }

    /// Returns the options with a supplied current roster: needed for a provider without a
    /// list route (Chert, whose rosters come only with mutation replies: see
    /// [`ApplyReport::last_roster`] and [`Outcome::roster`](crate::Outcome::roster)).
    #[must_use]
    pub fn with_roster(mut self, roster: impl IntoIterator<Item = Handle>) -> Self {
        self.roster = Some(roster.into_iter().map(Participant::new).collect());
        self
    }
}

/// Plans the steps that make `chat`'s members `desired`, reading the current roster through
/// `client` unless [`SyncOptions::roster`] supplies it. Sends nothing but that read.
///
/// # Errors
/// [`SyncError::Refused`] before any request when a desired handle's kind is not accepted, or
/// before any change when a rule refuses the plan or the provider cannot list a roster and none
/// was supplied; [`SyncError::Read`] when reading the roster fails.
pub async fn plan(
    client: &dyn Membership,
    chat: &ChatId,
    desired: &[Handle],
    options: &SyncOptions,
) -> Result<Plan, SyncError> {
    let capabilities = client.capabilities();
    accepts(client, desired)?;
    let mut rules = options.rules.clone();
    rules.min_group_size = rules.min_group_size.or(capabilities.min_group_size);
    let (listed, source);
    let current = match &options.roster {
        Some(roster) => {
            source = RosterSource::Supplied;
            roster
        }
        None if capabilities.list => {
            source = RosterSource::Listed;
            listed = client.participants(chat).await.map_err(SyncError::Read)?;
            &listed
        }
        None => {
            return Err(Refusal::NoRoster {
                provider: client.provider().to_owned(),
            }
            .into());
        }
    };
    let mut plan = Plan::compute(chat.clone(), current, desired, &rules)?;
    plan.provider = Some(client.provider().to_owned());
    plan.source = source;
    check_supported(client, &plan.steps)?;
    Ok(plan)
}

/// Refuses steps the client cannot run: an operation it lacks, a handle kind it rejects.
fn check_supported(client: &dyn Membership, steps: &[Step]) -> Result<(), Refusal> {
    let capabilities = client.capabilities();
    let unsupported = |operation| Refusal::Unsupported {
        provider: client.provider().to_owned(),
        operation,
    };
    if steps.iter().any(Step::is_add) && !capabilities.add {
        return Err(unsupported("add"));
    }
    if steps.iter().any(|s| !s.is_add()) && !capabilities.remove {
        return Err(unsupported("remove"));
    }
    accepts(
        client,
        steps.iter().filter(|s| s.is_add()).map(Step::handle),
    )
}

/// Refuses the first handle whose kind the client does not accept.
fn accepts<'a>(
    client: &dyn Membership,
    handles: impl IntoIterator<Item = &'a Handle>,
) -> Result<(), Refusal> {
    let kinds = client.capabilities().handles;
    match handles.into_iter().find(|h| !kinds.accepts(h)) {
        Some(handle) => Err(Refusal::HandleNotAccepted {
            provider: client.provider().to_owned(),
            handle: handle.clone(),
        }),
        None => Ok(()),
    }
}
