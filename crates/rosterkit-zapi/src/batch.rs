//! [`ChangeParticipants`]: one batch of adds or removes as a single [`Operation`] whose output
//! is one result per phone. Z-API answers a batch with one `{"value": bool}`, which is not
//! proof, so the operation settles each phone by reading the roster: after a failure in
//! ensure or verify mode ([`Operation::on_failure`]), after `value: true` in verify mode
//! ([`Operation::on_success`]); in ensure mode the phones not yet where they should be are sent
//! once more ([`Settled::Resend`]). The executor does every send, read and wait, so running
//! this operation with [`ZapiClient::executor`](crate::ZapiClient::executor) gives exactly
//! what the client's [`Membership`](rosterkit_core::Membership) methods give (they add only
//! the client's pacing around it).

use std::{fmt, sync::Arc, time::Duration};

use rosterkit_core::{
    Attempt, BatchResults, Bytes, Confirm, Error, ErrorKind, Handle, Operation, Outcome, Probe,
    Recovery, RouteName, Settled, http,
};

use crate::{
    PROVIDER,
    chat::ZapiChat,
    config::ZapiConfig,
    errors::VALUE_FALSE,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, RemoveParticipants, checked_phones,
    },
    reply::GroupMetadata,
};

/// One result per phone of a batch, in order.
pub type PhoneResults = Vec<Result<Outcome, Error>>;

/// Which change a [`ChangeParticipants`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZapiChange {
    /// `POST /remove-participant`.
    Remove,
    /// `POST /add-participant` with this `autoInvite`.
    Add {
        /// Numbers WhatsApp refuses get a private invite link instead.
        auto_invite: bool,
    },
}

impl ZapiChange {
    /// The operation's name (`"remove_participant"`, `"add_participant"`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Remove => "remove_participant",
            Self::Add { .. } => "add_participant",
        }
    }

    /// Whether a phone `listed` in the roster afterwards is where this change wanted it.
    fn reached(self, listed: bool) -> bool {
        match self {
            Self::Remove => !listed,
            Self::Add { .. } => listed,
        }
    }

    /// An add with `autoInvite` is never re-sent: a repeat can send invite links twice.
    fn inviting(self) -> bool {
        self == Self::Add { auto_invite: true }
    }
}

/// Whether this is the first send of a batch or the resend of its unsettled part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    First,
    Resend,
}

/// The request of one round: the pending phones only.
enum Request {
    Remove(RemoveParticipants),
    Add(AddParticipants),
}

impl Request {
    fn operation(&self) -> &dyn Operation<Output = ()> {
        match self {
            Self::Remove(op) => op,
            Self::Add(op) => op,
        }
    }
}

/// How Z-API answered one round.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// `{"value": true}`.
    Accepted,
    /// `{"value": false}`: at least one phone failed, which is not said.
    Refused,
    /// No clear answer (a timeout, a 5xx, a broken connection): the change may have happened.
    Ambiguous,
    /// A definite failure of the whole request (auth, input, not found, ...).
    Fatal,
}

impl Answer {
    fn of(error: &Error) -> Self {
        if error.code() == Some(VALUE_FALSE) {
            Self::Refused
        } else if error.is_ambiguous() {
            Self::Ambiguous
        } else {
            Self::Fatal
        }
    }
}

/// Adds or removes up to [`MAX_BATCH`](crate::MAX_BATCH) phones of one chat and settles each
/// phone's result (see the crate documentation's "Outcomes"): `value: true` is `Unconfirmed`,
/// or, with [`Confirm::ReadBack`], `Applied` or `DeliveryFailed` after a roster read; in
/// ensure mode a failure is settled by the roster (`AlreadyDone` for a phone already where it
/// should be) and the rest is sent once more.
///
/// ```
/// use std::sync::Arc;
/// use rosterkit_core::{Attempt, Endpoint, Handle, Operation, Secret};
/// use rosterkit_zapi::{ZapiChat, ZapiConfig, ops::{ChangeParticipants, ZapiChange}};
///
/// let config = Arc::new(ZapiConfig::new(
///     Endpoint::parse("https://api.z-api.io")?,
///     "3C01A2B3C4".to_owned(),
///     &Secret::new("TOKEN123"),
///     Secret::new("acct-secret"),
/// ));
/// let chat: ZapiChat = "120363019502650977-group".parse()?;
/// let who: Vec<Handle> = vec!["+5544999999999".parse()?];
/// let op = ChangeParticipants::new(&config, &chat, ZapiChange::Remove, &who)?.ensure(true);
/// let request = op.build(&Attempt::first(std::time::SystemTime::now()))?;
/// assert!(request.uri().path().ends_with("/remove-participant"));
/// assert!(op.idempotent());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ChangeParticipants {
    config: Arc<ZapiConfig>,
    chat: ZapiChat,
    change: ZapiChange,
    /// The whole batch, in wire form.
    phones: Arc<[String]>,
    /// Indices (into `phones`) this round sends.
    pending: Vec<usize>,
    /// Results settled by an earlier round.
    settled: BatchResults<Outcome>,
    request: Request,
    round: Round,
    ensure: bool,
    confirm: Confirm,
    pause: Duration,
}

impl ChangeParticipants {
    /// `change` of `handles` (1 to [`MAX_BATCH`](crate::MAX_BATCH) distinct phones or LIDs) in
    /// `chat`; not in ensure mode, trusting `value: true`, no pause before a resend.
    ///
    /// # Errors
    /// `InvalidInput` for no handles, too many, or a handle that is neither a phone number
    /// nor a `…@lid` native id.
    pub fn new(
        config: &Arc<ZapiConfig>,
        chat: &ZapiChat,
        change: ZapiChange,
        handles: &[Handle],
    ) -> Result<Self, Error> {
        let phones = checked_phones(handles, change.name())?;
        Self::from_phones(config, chat, change, phones)
    }

    /// From distinct phones already in wire form.
    pub(crate) fn from_phones(
        config: &Arc<ZapiConfig>,
        chat: &ZapiChat,
        change: ZapiChange,
        phones: Vec<String>,
    ) -> Result<Self, Error> {
        let pending = (0..phones.len()).collect();
        let settled = BatchResults::new(phones.len());
        let request = request(config, chat, change, phones.clone(), false)?;
        Ok(Self {
            config: Arc::clone(config),
            chat: chat.clone(),
            change,
            phones: phones.into(),
            pending,
            settled,
            request,
            round: Round::First,
            ensure: false,
            confirm: Confirm::Trust,
            pause: Duration::ZERO,
        })
    }

    /// Turns ensure mode on or off (default off): "already done" is `AlreadyDone`, a failure is
    /// settled by the roster, and the phones not yet changed are sent once more.
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self.request = match self.request {
            Request::Remove(op) => Request::Remove(op.ensure(ensure)),
            Request::Add(op) => Request::Add(op.ensure(ensure)),
        };
        self
    }

    /// Whether `value: true` is confirmed by a roster read (default [`Confirm::Trust`]).
    #[must_use]
    pub fn confirm(mut self, confirm: Confirm) -> Self {
        self.confirm = confirm;
        self
    }

    /// The least time between the first send and a resend: the client's pacing.
    #[must_use]
    pub fn pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// The phones of the batch, in wire form.
    pub fn phones(&self) -> &[String] {
        &self.phones
    }

    /// The whole batch's results: the settled ones, and `result` for this round's phones.
    fn with_pending(&self, result: &Result<Outcome, Error>) -> PhoneResults {
        merged(&self.settled, &self.pending, result, self.change)
    }

    /// The read that settles this round after `answer`.
    fn probe(&self, answer: Answer) -> Option<Box<dyn Probe<PhoneResults>>> {
        let read = RosterRead::of(&self.config, &self.chat)?;
        let settle = Settle {
            change: self.change,
            answer,
            ensure: self.ensure,
            round: self.round,
            pending: self.pending.clone(),
            settled: self.settled.clone(),
            phones: Arc::clone(&self.phones),
            config: Arc::clone(&self.config),
            chat: self.chat.clone(),
            confirm: self.confirm,
            pause: self.pause,
        };
        Some(Box::new(RosterProbe { read, settle }))
    }
}

fn request(
    config: &Arc<ZapiConfig>,
    chat: &ZapiChat,
    change: ZapiChange,
    phones: Vec<String>,
    ensure: bool,
) -> Result<Request, Error> {
    Ok(match change {
        ZapiChange::Remove => {
            Request::Remove(RemoveParticipants::from_phones(config, chat, phones)?.ensure(ensure))
        }
        ZapiChange::Add { auto_invite } => Request::Add(
            AddParticipants::from_phones(config, chat, phones)?
                .auto_invite(auto_invite)
                .ensure(ensure),
        ),
    })
}

impl fmt::Debug for ChangeParticipants {
    /// Phone numbers are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeParticipants")
            .field("chat", &self.chat)
            .field("change", &self.change)
            .field("phones", &self.phones.len())
            .field("pending", &self.pending.len())
            .field("round", &self.round)
            .field("ensure", &self.ensure)
            .field("confirm", &self.confirm)
            .finish_non_exhaustive()
    }
}

impl Operation for ChangeParticipants {
    type Output = PhoneResults;

    fn route(&self) -> RouteName {
        self.request.operation().route()
    }

    fn idempotent(&self) -> bool {
        self.request.operation().idempotent()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.operation().build(attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Self::Output, Error> {
        self.request.operation().parse(response, attempt)?;
        Ok(self.with_pending(&Ok(Outcome::unconfirmed(None))))
    }

    fn on_success(
        &self,
        _output: &Self::Output,
        _attempt: &Attempt,
    ) -> Option<Box<dyn Probe<Self::Output>>> {
        if self.confirm == Confirm::ReadBack {
            self.probe(Answer::Accepted)
        } else {
            None
        }
    }

    /// The standard retries first; once they are spent (or for `value: false`), in ensure or
    /// verify mode, the roster settles each phone.
    fn on_failure(&self, error: &Error, attempt: &Attempt) -> Recovery<Self::Output> {
        let answer = Answer::of(error);
        let reads = match answer {
            Answer::Refused | Answer::Ambiguous => self.confirm == Confirm::ReadBack || self.ensure,
            Answer::Accepted | Answer::Fatal => false,
        } && !attempt.would_retry(error, self.idempotent());
        match reads.then(|| self.probe(answer)).flatten() {
            Some(probe) => Recovery::Probe(probe),
            None => Recovery::Standard,
        }
    }

    fn fold_error(&self, error: Error) -> Result<Self::Output, Error> {
        Ok(self.with_pending(&Err(error)))
    }

    fn item_errors<'a>(&self, output: &'a mut Self::Output) -> Vec<&'a mut Error> {
        output.iter_mut().filter_map(|r| r.as_mut().err()).collect()
    }
}

/// A roster read: a group's light metadata, or a community's metadata and then its
/// announcement group's.
enum RosterRead {
    Group(GetGroupMetadata),
    Community(GetCommunityMetadata),
}

impl RosterRead {
    fn of(config: &Arc<ZapiConfig>, chat: &ZapiChat) -> Option<Self> {
        let read = if chat.is_community() {
            GetCommunityMetadata::new(config, chat).map(Self::Community)
        } else {
            GetGroupMetadata::new(config, chat).map(Self::Group)
        };
        read.ok()
    }
}

/// What settles a round once the roster is read.
struct Settle {
    change: ZapiChange,
    answer: Answer,
    ensure: bool,
    round: Round,
    pending: Vec<usize>,
    settled: BatchResults<Outcome>,
    phones: Arc<[String]>,
    config: Arc<ZapiConfig>,
    chat: ZapiChat,
    confirm: Confirm,
    pause: Duration,
}

struct RosterProbe {
    read: RosterRead,
    settle: Settle,
}

impl Probe<PhoneResults> for RosterProbe {
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        match &self.read {
            RosterRead::Group(op) => op.build(attempt),
            RosterRead::Community(op) => op.build(attempt),
        }
    }

    fn settle(
        self: Box<Self>,
        reply: Result<http::Response<Bytes>, Error>,
        attempt: &Attempt,
        failure: Error,
    ) -> Settled<PhoneResults> {
        let Self { read, settle } = *self;
        let roster = match read {
            RosterRead::Group(op) => reply.and_then(|r| op.parse(r, attempt)),
            RosterRead::Community(op) => {
                let group = reply
                    .and_then(|r| op.parse(r, attempt))
                    .and_then(|community| {
                        let announcement = community.announcement_group().ok_or_else(|| {
                            Error::unsupported("the community lists no announcement sub-group")
                        })?;
                        let group = ZapiChat::group(&announcement.phone)?;
                        GetGroupMetadata::new(&settle.config, &group)
                    });
                match group {
                    Ok(op) => {
                        let next = RosterProbe {
                            read: RosterRead::Group(op),
                            settle,
                        };
                        return Settled::Next(Box::new(next), failure);
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match roster {
            Ok(roster) => settle.with_roster(&roster, failure),
            Err(e) => {
                tracing::debug!(kind = %e.kind(), "roster read after a change failed");
                settle.without_roster(failure)
            }
        }
    }
}

impl Settle {
    fn results(&self, pending: &Result<Outcome, Error>) -> PhoneResults {
        merged(&self.settled, &self.pending, pending, self.change)
    }

    /// The roster could not be read: the reply stands.
    fn without_roster(self, failure: Error) -> Settled<PhoneResults> {
        let result = match self.answer {
            Answer::Accepted => Ok(Outcome::unconfirmed(None)),
            _ => Err(failure),
        };
        Settled::Finish(Ok(self.results(&result)))
    }

    fn with_roster(self, roster: &GroupMetadata, failure: Error) -> Settled<PhoneResults> {
        let mut out = self.settled.clone();
        let mut again = Vec::new();
        for &i in &self.pending {
            let Some(phone) = self.phones.get(i) else {
                continue;
            };
            let reached = self.change.reached(roster.lists(phone));
            match self.phone(reached, roster, &failure) {
                Some(result) => out.set(i, result),
                None => again.push(i),
            }
        }
        if again.is_empty() {
            return Settled::Finish(Ok(out.finish(PROVIDER, self.change.name())));
        }
        let subset: Vec<String> = again
            .iter()
            .filter_map(|&i| self.phones.get(i).cloned())
            .collect();
        let resend =
            request(&self.config, &self.chat, self.change, subset, self.ensure).map(|request| {
                ChangeParticipants {
                    config: self.config,
                    chat: self.chat,
                    change: self.change,
                    phones: self.phones,
                    pending: again.clone(),
                    settled: out.clone(),
                    request,
                    round: Round::Resend,
                    ensure: self.ensure,
                    confirm: self.confirm,
                    pause: self.pause,
                }
            });
        match resend {
            Ok(op) => Settled::Resend(Box::new(op), failure.with_retry_after(self.pause)),
            Err(e) => {
                out.fan_out(again, &Err(e));
                Settled::Finish(Ok(out.finish(PROVIDER, self.change.name())))
            }
        }
    }

    /// One phone's result after a roster read, or `None` to send it once more (ensure mode,
    /// first round, not reached, and safe to send again).
    fn phone(
        &self,
        reached: bool,
        roster: &GroupMetadata,
        failure: &Error,
    ) -> Option<Result<Outcome, Error>> {
        let handles = || Some(roster.roster());
        let change = self.change;
        Some(match (self.answer, reached) {
            (Answer::Accepted, true) => Ok(Outcome::applied(handles())),
            (Answer::Accepted, false) if change.inviting() => Ok(Outcome::unconfirmed(handles())),
            (Answer::Accepted, false) => Err(not_reached(change)),
            (_, true) if self.ensure => Ok(Outcome::already_done()),
            // Refused, and the read shows the phone absent: it was not a member (as Chert's 1001
            // and Linq's 1005 say), not an open question.
            (Answer::Refused, true) if change == ZapiChange::Remove => Err(failure
                .clone()
                .with_kind(ErrorKind::NotAMember)
                .with_message(
                    "Z-API answered {\"value\": false} and the group's metadata does not list the phone: it is not a member",
                )),
            (_, true) => Ok(Outcome::unconfirmed(handles())),
            (Answer::Refused | Answer::Ambiguous, false)
                if self.ensure && self.round == Round::First && !change.inviting() =>
            {
                return None;
            }
            (Answer::Ambiguous, false) if change.inviting() => Ok(Outcome::unconfirmed(handles())),
            (Answer::Refused | Answer::Ambiguous | Answer::Fatal, false) => Err(failure.clone()),
        })
    }
}

/// The settled results, with `result` for every pending phone.
fn merged(
    settled: &BatchResults<Outcome>,
    pending: &[usize],
    result: &Result<Outcome, Error>,
    change: ZapiChange,
) -> PhoneResults {
    let mut out = settled.clone();
    out.fan_out(pending.iter().copied(), result);
    out.finish(PROVIDER, change.name())
}

/// `value: true` but the roster says the change did not happen.
fn not_reached(change: ZapiChange) -> Error {
    let message = match change {
        ZapiChange::Remove => {
            "Z-API answered {\"value\": true} but the phone is still listed in the group's metadata"
        }
        ZapiChange::Add { .. } => {
            "Z-API answered {\"value\": true} but the phone is not listed in the group's metadata (WhatsApp refuses numbers that are not the connected phone's contacts; autoInvite sends them an invite link instead)"
        }
    };
    Error::new(ErrorKind::DeliveryFailed, message)
        .with_provider(PROVIDER)
        .with_operation(change.name())
        .with_retryable(false)
        .with_ambiguous(false)
}
