//! Running a plan's steps through the client, one result per step.

use serde::{Serialize, Serializer, ser::SerializeStruct};

use super::{Plan, Refusal, Step, SyncError, check_supported};
use crate::{ChangeOptions, Error, ErrorKind, Handle, Membership, Outcome};

/// How [`apply`] makes its changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// The options of every change. Ensure mode is on by default, so re-running a plan after a
    /// partial failure converges with no duplicate effect.
    pub change: ChangeOptions,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            change: ChangeOptions::ensure(),
        }
    }
}

impl ApplyOptions {
    /// Returns the options with `change` for every change.
    #[must_use]
    pub fn with_change(mut self, change: ChangeOptions) -> Self {
        self.change = change;
        self
    }
}

/// What happened to one step.
#[derive(Debug)]
#[non_exhaustive]
pub struct StepResult {
    /// The step.
    pub step: Step,
    /// The provider's outcome, or why the step failed. A remove that was not sent because
    /// failed adds left the group too small to shrink is a
    /// [`ErrorKind::GroupTooSmall`] error.
    pub result: Result<Outcome, Error>,
}

/// `{"action","handle","outcome"}` or `{"action","handle","error":{"kind","message"}}`.
impl Serialize for StepResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("StepResult", 3)?;
        let (action, handle) = match &self.step {
            Step::Add(h) => ("add", h),
            Step::Remove(h) => ("remove", h),
        };
        s.serialize_field("action", action)?;
        s.serialize_field("handle", handle)?;
        match &self.result {
            Ok(outcome) => s.serialize_field("outcome", outcome.as_str())?,
            Err(e) => s.serialize_field(
                "error",
                &ErrorView {
                    kind: e.kind().as_str(),
                    message: e.to_string(),
                },
            )?,
        }
        s.end()
    }
}

#[derive(Serialize)]
struct ErrorView {
    kind: &'static str,
    message: String,
}

/// One [`StepResult`] per step of the plan, in the plan's order.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// The results.
    pub results: Vec<StepResult>,
}

impl ApplyReport {
    /// Whether every step succeeded.
    pub fn is_complete(&self) -> bool {
        self.results.iter().all(|r| r.result.is_ok())
    }

    /// The steps that failed.
    pub fn failures(&self) -> impl Iterator<Item = &StepResult> {
        self.results.iter().filter(|r| r.result.is_err())
    }

    /// The roster carried by the last reply that had one (Chert returns the members after
    /// every change): what to plan from next time on a provider without a list route.
    pub fn last_roster(&self) -> Option<&[Handle]> {
        self.results
            .iter()
            .rev()
            .find_map(|r| r.result.as_ref().ok().and_then(Outcome::roster))
    }
}

/// Applies `plan` through `client`: every add in one bulk call (native batching where the
/// provider has it), then as many removes as keep the group at its minimum size given the
/// adds that succeeded, in one bulk call. Retries and pacing are the client's; a re-run of
/// [`plan`](super::plan) after a partial failure plans only what is left, and ensure mode
/// makes a change already in effect [`Outcome::AlreadyDone`]. A queued add (Linq) counts as
/// made; the provider checks its own minimum again when it applies the removes.
///
/// # Errors
/// A [`Refusal`], before anything is sent, when the plan is for another provider or needs an
/// operation or handle kind the client does not support. Failures of single steps are in the
/// report, never an `Err`.
pub async fn apply(
    client: &dyn Membership,
    plan: &Plan,
    options: &ApplyOptions,
) -> Result<ApplyReport, SyncError> {
    if let Some(provider) = &plan.provider
        && provider != client.provider()
    {
        return Err(Refusal::ProviderMismatch {
            plan: provider.clone(),
            client: client.provider().to_owned(),
        }
        .into());
    }
    check_supported(client, &plan.steps)?;
    let adds: Vec<Handle> = plan.adds().cloned().collect();
    let removes: Vec<Handle> = plan.removes().cloned().collect();

    let provider = client.provider();
    let added = if adds.is_empty() {
        Vec::new()
    } else {
        let results = client
            .add_participants(&plan.chat, &adds, options.change)
            .await;
        padded(results, adds.len(), provider)
    };
    let size = plan.size_before + added.iter().filter(|r| r.is_ok()).count();
    let removable = plan.min_group_size.map_or(removes.len(), |min| {
        size.saturating_sub(min).min(removes.len())
    });
    let sent = removes.get(..removable).unwrap_or_default();
    let mut removed = if sent.is_empty() {
        Vec::new()
    } else {
        let results = client
            .remove_participants(&plan.chat, sent, options.change)
            .await;
        padded(results, sent.len(), provider)
    };
    removed.extend(removes.iter().skip(removable).map(|_| {
        Err(Error::new(
            ErrorKind::GroupTooSmall,
            "not sent: adds failed, and this removal would take the group below its minimum size",
        )
        .with_provider(provider))
    }));

    let (mut added, mut removed) = (added.into_iter(), removed.into_iter());
    let results = plan
        .steps
        .iter()
        .map(|step| {
            let next = if step.is_add() {
                added.next()
            } else {
                removed.next()
            };
            StepResult {
                step: step.clone(),
                result: next.unwrap_or_else(|| Err(no_result(provider))),
            }
        })
        .collect();
    Ok(ApplyReport { results })
}

/// A bulk call's results, cut or padded to `expected`, so a short reply cannot lose a step.
fn padded(
    mut results: Vec<Result<Outcome, Error>>,
    expected: usize,
    provider: &'static str,
) -> Vec<Result<Outcome, Error>> {
    results.truncate(expected);
    results.resize_with(expected, || Err(no_result(provider)));
    results
}

fn no_result(provider: &'static str) -> Error {
    Error::new(
        ErrorKind::Decode,
        "the client returned no result for this step",
    )
    .with_provider(provider)
}
