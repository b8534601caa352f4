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
    ops::{ChangeParticipants, LeaveGroup, ZapiChange},
};

/// Everything, natively batched up to [`MAX_BATCH`] phones; phone numbers and `…@lid` native
/// ids; not queued (but `value: true` is only `Unconfirmed`).
const CAPABILITIES: Capabilities = Capabilities::none()
    .with_remove()
    .with_add()
    .with_leave()
    .with_list()
    .with_batch(Some(MAX_BATCH))
    .with_handles(HandleKinds::none().with_phone().with_native());

impl ZapiClient {
    /// One result per handle, in order: invalid handles are refused without a request, the
    /// distinct valid phones go in batches of up to [`MAX_BATCH`].
    async fn change_all(
        &self,
        change: ZapiChange,
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

    /// One batch, settled phone by phone by [`ChangeParticipants`] (the executor runs its
    /// roster reads and its resend round), paced.
    async fn change_batch(
        &self,
        change: ZapiChange,
        chat: &ZapiChat,
        phones: &[String],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let op = ChangeParticipants::from_phones(self.config(), chat, change, phones.to_vec()).map(
            |op| {
                op.ensure(options.ensure)
                    .confirm(self.confirms())
                    .pause(self.pacing().interval())
            },
        );
        let result = match op {
            Ok(op) => self.paced(&op).await,
            Err(e) => Err(e),
        };
        result.unwrap_or_else(|e| {
            let mut out = BatchResults::new(phones.len());
            out.fan_out(0..phones.len(), &Err(e));
            out.finish(PROVIDER, change.name())
        })
    }
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
            .change_all(
                ZapiChange::Remove,
                chat,
                std::slice::from_ref(handle),
                options,
            )
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
        let change = ZapiChange::Add {
            auto_invite: self.auto_invite(),
        };
        let mut results = self
            .change_all(change, chat, std::slice::from_ref(handle), options)
            .await;
        results
            .pop()
            .unwrap_or_else(|| Err(missing("add_participant")))
    }

    /// [`LeaveGroup`], run by the executor: `value: true` is `Unconfirmed` (Z-API does not say
    /// which number is connected, so a roster read cannot confirm it). In ensure mode, after
    /// `value: false` or an ambiguous failure, a metadata read that no longer finds the group
    /// for this instance (`ChatNotFound`: only members read a group's metadata) is
    /// `AlreadyDone`; a `Forbidden` read is `Unconfirmed`. A community is `Unsupported`.
    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        let chat = ZapiChat::from_chat_id(chat).map_err(|e| e.with_operation("leave"))?;
        let op = LeaveGroup::new(self.config(), &chat)?.ensure(options.ensure);
        self.paced(&op).await
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
        self.change_all(ZapiChange::Remove, chat, handles, options)
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
        let change = ZapiChange::Add {
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
