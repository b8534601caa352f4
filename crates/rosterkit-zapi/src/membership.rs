//! [`Membership`] for [`ZapiClient`]: native batches, pacing, and reconciliation by metadata.
//!
//! How each phone's result is decided: see the crate documentation's "Outcomes".

use std::collections::HashMap;

use tracing::Instrument as _;

use rosterkit_core::{
    BatchResults, Capabilities, ChangeOptions, ChatId, Error, ErrorKind, Handle, HandleKinds,
    Membership, Outcome, Participant, async_trait, redact::mask_digits,
};

use crate::{
    PROVIDER, ZapiClient,
    chat::{ZapiChat, wire_phone},
    config::MAX_BATCH,
    errors::VALUE_FALSE,
    ops::{AddParticipants, LeaveGroup, MetadataDetail, RemoveParticipants},
    reply::GroupMetadata,
};

/// Everything, natively batched up to [`MAX_BATCH`] phones; phone numbers and `…@lid` native
/// ids; not queued (but `value: true` is only `Unconfirmed`).
const CAPABILITIES: Capabilities = Capabilities::none()
    .with_operations(true, true, true, true)
    .with_batch(Some(MAX_BATCH))
    .with_handles(HandleKinds::new(true, false, true));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Remove,
    Add { auto_invite: bool },
}

impl Change {
    fn name(self) -> &'static str {
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

/// How Z-API answered one batch.
enum Sent {
    /// `{"value": true}`.
    Accepted,
    /// `{"value": false}`: at least one phone failed, which is not said.
    Refused(Error),
    /// No clear answer (a timeout, a 5xx, a broken connection): the change may have happened.
    Ambiguous(Error),
    /// A definite failure of the whole request (auth, input, not found, ...).
    Fatal(Error),
}

impl Sent {
    fn of(result: Result<(), Error>) -> Self {
        match result {
            Ok(()) => Self::Accepted,
            Err(e) if e.code() == Some(VALUE_FALSE) => Self::Refused(e),
            Err(e) if e.is_ambiguous() => Self::Ambiguous(e),
            Err(e) => Self::Fatal(e),
        }
    }

    fn error(&self) -> Option<&Error> {
        match self {
            Self::Accepted => None,
            Self::Refused(e) | Self::Ambiguous(e) | Self::Fatal(e) => Some(e),
        }
    }
}

/// `value: true` but the roster says the change did not happen.
fn not_reached(change: Change) -> Error {
    let message = match change {
        Change::Remove => {
            "Z-API answered {\"value\": true} but the phone is still listed in the group's metadata"
        }
        Change::Add { .. } => {
            "Z-API answered {\"value\": true} but the phone is not listed in the group's metadata (WhatsApp refuses numbers that are not the connected phone's contacts; autoInvite sends them an invite link instead)"
        }
    };
    Error::new(ErrorKind::DeliveryFailed, message)
        .with_provider(PROVIDER)
        .with_operation(change.name())
        .with_retryable(false)
        .with_ambiguous(false)
        // After the change was sent and answered.
        .with_attempts(1)
}

impl ZapiClient {
    /// Before a follow-up request after a failed call (the roster read, the repeat), the
    /// executor waits the delay the failure asked for; `false` (no follow-up) when it is
    /// longer than the retry policy honours.
    async fn honour_retry_after(&self, error: Option<&Error>) -> bool {
        match error {
            Some(error) => self.executor().wait_out(error).await,
            None => true,
        }
    }

    /// Sends one batch of wire phones, paced.
    async fn send_batch(
        &self,
        change: Change,
        chat: &ZapiChat,
        phones: Vec<String>,
        ensure: bool,
    ) -> Result<(), Error> {
        match change {
            Change::Remove => {
                let op =
                    RemoveParticipants::from_phones(self.config(), chat, phones)?.ensure(ensure);
                self.paced(&op).await
            }
            Change::Add { auto_invite } => {
                let op = AddParticipants::from_phones(self.config(), chat, phones)?
                    .auto_invite(auto_invite)
                    .ensure(ensure);
                self.paced(&op).await
            }
        }
    }

    /// One result per handle, in order: invalid handles are refused without a request, the
    /// distinct valid phones go in batches of up to [`MAX_BATCH`].
    async fn change_all(
        &self,
        change: Change,
        chat: &ChatId,
        handles: &[Handle],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let span = tracing::info_span!(
            "zapi.change",
            change = change.name(),
            chat = %mask_digits(chat.as_str()),
            handles = handles.len(),
            ensure = options.ensure,
        );
        async move {
            let chat = match ZapiChat::from_chat_id(chat) {
                Ok(chat) => chat,
                Err(e) => {
                    let e = Err(e.with_operation(change.name()));
                    let mut results = BatchResults::new(handles.len());
                    results.fan_out(0..handles.len(), &e);
                    return results.finish(PROVIDER, change.name());
                }
            };
            let mut results = BatchResults::new(handles.len());
            let mut distinct: Vec<(String, Vec<usize>)> = Vec::new();
            let mut seen: HashMap<String, usize> = HashMap::new();
            for (i, handle) in handles.iter().enumerate() {
                match wire_phone(handle) {
                    Ok(phone) => match seen.get(&phone) {
                        Some(&at) => {
                            if let Some((_, positions)) = distinct.get_mut(at) {
                                positions.push(i);
                            }
                        }
                        None => {
                            seen.insert(phone.clone(), distinct.len());
                            distinct.push((phone, vec![i]));
                        }
                    },
                    Err(e) => results.set(i, Err(e.with_operation(change.name()))),
                }
            }
            for batch in distinct.chunks(MAX_BATCH) {
                let phones: Vec<String> = batch.iter().map(|(p, _)| p.clone()).collect();
                let outcomes = self.change_batch(change, &chat, &phones, options).await;
                for ((_, positions), outcome) in batch.iter().zip(outcomes) {
                    results.fan_out(positions.iter().copied(), &outcome);
                }
            }
            results.finish(PROVIDER, change.name())
        }
        .instrument(span)
        .await
    }

    /// One batch: send, then (verify, or ensure after a failure) read the roster and settle
    /// each phone; in ensure mode the phones not yet where they should be are sent once more.
    async fn change_batch(
        &self,
        change: Change,
        chat: &ZapiChat,
        phones: &[String],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let mut out = BatchResults::new(phones.len());
        let mut pending: Vec<usize> = (0..phones.len()).collect();
        for round in 1..=2 {
            let batch: Vec<String> = pending
                .iter()
                .filter_map(|&i| phones.get(i).cloned())
                .collect();
            let sent = Sent::of(self.send_batch(change, chat, batch, options.ensure).await);
            let read_roster = match &sent {
                Sent::Fatal(_) => false,
                Sent::Accepted => self.verifies(),
                Sent::Refused(_) | Sent::Ambiguous(_) => self.verifies() || options.ensure,
            } && self.honour_retry_after(sent.error()).await;
            let roster = if read_roster {
                match self.roster_of(chat).await {
                    Ok(roster) => Some(roster),
                    Err(e) => {
                        tracing::debug!(kind = %e.kind(), "roster read after a change failed");
                        None
                    }
                }
            } else {
                None
            };
            let Some(roster) = roster else {
                let result = match sent.error() {
                    None => Ok(Outcome::unconfirmed(None)),
                    Some(e) => Err(e.clone()),
                };
                out.fan_out(pending.iter().copied(), &result);
                break;
            };
            let mut again = Vec::new();
            for &i in &pending {
                let Some(phone) = phones.get(i) else { continue };
                let reached = change.reached(roster.lists(phone));
                let result = settle(change, &sent, reached, &roster, options, round, || {
                    again.push(i);
                });
                if let Some(result) = result {
                    out.set(i, result);
                }
            }
            if again.is_empty() {
                break;
            }
            pending = again;
        }
        out.finish(PROVIDER, change.name())
    }
}

/// One phone's result after a roster read, or `None` after calling `resend` (ensure mode, first
/// round, not reached, and safe to send again).
fn settle(
    change: Change,
    sent: &Sent,
    reached: bool,
    roster: &GroupMetadata,
    options: ChangeOptions,
    round: u32,
    resend: impl FnOnce(),
) -> Option<Result<Outcome, Error>> {
    let handles = || Some(roster.roster());
    Some(match (sent, reached) {
        (Sent::Accepted, true) => Ok(Outcome::applied(handles())),
        (Sent::Accepted, false) if change.inviting() => Ok(Outcome::unconfirmed(handles())),
        (Sent::Accepted, false) => Err(not_reached(change)),
        (_, true) if options.ensure => Ok(Outcome::already_done()),
        // Refused, and the read shows the phone absent: it was not a member (as Chert's 1001
        // and Linq's 1005 say), not an open question.
        (Sent::Refused(e), true) if change == Change::Remove => Err(e
            .clone()
            .with_kind(ErrorKind::NotAMember)
            .with_message(
                "Z-API answered {\"value\": false} and the group's metadata does not list the phone: it is not a member",
            )),
        (_, true) => Ok(Outcome::unconfirmed(handles())),
        (Sent::Refused(_) | Sent::Ambiguous(_), false)
            if options.ensure && round == 1 && !change.inviting() =>
        {
            resend();
            return None;
        }
        (Sent::Ambiguous(_), false) if change.inviting() => Ok(Outcome::unconfirmed(handles())),
        (Sent::Refused(e) | Sent::Ambiguous(e) | Sent::Fatal(e), false) => Err(e.clone()),
    })
}

#[async_trait]
impl Membership for ZapiClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// One handle through [`remove_participants`](Membership::remove_participants).
    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let mut results = self
            .change_all(Change::Remove, chat, std::slice::from_ref(handle), options)
            .await;
        results
            .pop()
            .unwrap_or_else(|| Err(missing("remove_participant")))
    }

    /// One handle through [`add_participants`](Membership::add_participants).
    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let change = Change::Add {
            auto_invite: self.auto_invite(),
        };
        let mut results = self
            .change_all(change, chat, std::slice::from_ref(handle), options)
            .await;
        results
            .pop()
            .unwrap_or_else(|| Err(missing("add_participant")))
    }

    /// [`ZapiClient::leave_group`]: `value: true` is `Unconfirmed` (Z-API does not say which
    /// number is connected, so a roster read cannot confirm it). In ensure mode, after
    /// `value: false` or an ambiguous failure, a metadata read that no longer finds the group
    /// for this instance (`ChatNotFound`: only members read a group's metadata) is
    /// `AlreadyDone`; a `Forbidden` read is `Unconfirmed`. A community is `Unsupported`.
    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        let chat = ZapiChat::from_chat_id(chat).map_err(|e| e.with_operation("leave"))?;
        let op = LeaveGroup::new(self.config(), &chat)?.ensure(options.ensure);
        match self.paced(&op).await {
            Ok(()) => Ok(Outcome::unconfirmed(None)),
            Err(e) if options.ensure && (e.code() == Some(VALUE_FALSE) || e.is_ambiguous()) => {
                if !self.honour_retry_after(Some(&e)).await {
                    return Err(e);
                }
                match self.read_group(&chat, MetadataDetail::Light).await {
                    Err(read) if read.kind() == ErrorKind::ChatNotFound => {
                        Ok(Outcome::already_done())
                    }
                    Err(read) if read.kind() == ErrorKind::Forbidden => {
                        Ok(Outcome::unconfirmed(None))
                    }
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// [`ZapiClient::roster`] as participants: `GET /light-group-metadata/{groupId}` (zapi.md
    /// §3.4: the light variant does not fetch an invite link, which a roster read does not
    /// need); for a community, its announcement sub-group's, found through
    /// `GET /communities-metadata/{communityId}` (`Unsupported` when none is listed).
    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        let labelled = |e: Error| e.with_operation("participants");
        let chat = ZapiChat::from_chat_id(chat).map_err(labelled)?;
        // Labelled by the method called, not the metadata route read for it.
        Ok(self
            .roster_of(&chat)
            .await
            .map_err(labelled)?
            .to_participants())
    }

    /// One `POST /remove-participant` per [`MAX_BATCH`] distinct phones, paced; see the module
    /// documentation for how each phone's result is decided.
    async fn remove_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        self.change_all(Change::Remove, chat, handles, options)
            .await
    }

    /// One `POST /add-participant` per [`MAX_BATCH`] distinct phones, with the client's
    /// `autoInvite`, paced.
    async fn add_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let change = Change::Add {
            auto_invite: self.auto_invite(),
        };
        self.change_all(change, chat, handles, options).await
    }
}

fn missing(operation: &'static str) -> Error {
    Error::new(ErrorKind::ServerError, "no result")
        .with_provider(PROVIDER)
        .with_operation(operation)
        .with_retryable(false)
}
