//! [`Membership`] for [`AcsClient`].

use rosterkit_core::{
    BatchResults, Capabilities, ChangeOptions, ChatId, Error, Handle, HandleKinds, Membership,
    Outcome, Participant, async_trait,
};

use crate::client::AcsClient;
use crate::generated::PROVIDER;
use crate::identifier::CommunicationIdentifier;
use crate::model::ChatParticipant;
use crate::ops::{MAX_ADD_BATCH, check_thread_id};

#[async_trait]
impl Membership for AcsClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_remove()
            .with_add()
            .with_leave()
            .with_list()
            .with_batch(Some(MAX_ADD_BATCH))
            .with_handles(HandleKinds::none().with_phone().with_native())
    }

    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        let participant = CommunicationIdentifier::try_from(handle)?;
        self.remove(chat, &participant, options).await
    }

    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.add_participants(chat, std::slice::from_ref(handle), options)
            .await
            .pop()
            .unwrap_or_else(|| {
                Err(Error::decode("no result for the handle").with_provider(PROVIDER))
            })
    }

    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        self.leave_group(chat, options).await
    }

    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        // Labelled by the method called, not the route read for it (`list_participants`).
        self.list(chat)
            .await
            .map_err(|e| e.with_operation("participants"))?
            .into_iter()
            .map(|p| {
                let handle = p.identifier.to_handle().map_err(|e| {
                    Error::decode(format!("a participant's raw id is not usable: {e}"))
                        .with_provider(PROVIDER)
                })?;
                // Our identity, when configured, marks our own entry (acs.md §1).
                let is_self = self.own_identity().map(|me| me.same_as(&p.identifier));
                Ok(Participant::new(handle)
                    .with_display_name(p.display_name)
                    .with_self(is_self))
            })
            .collect()
    }

    /// Native batching: one `:add` call per 200 handles; each handle's result comes from the
    /// reply's `invalidParticipants` (matched by raw id), `Applied` when absent.
    async fn add_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        _options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let mut results = BatchResults::new(handles.len());
        let mut valid: Vec<(usize, ChatParticipant)> = Vec::new();
        let thread_ok = check_thread_id(chat);
        for (index, handle) in handles.iter().enumerate() {
            match (&thread_ok, CommunicationIdentifier::try_from(handle)) {
                (Err(e), _) => results.set(index, Err(e.clone())),
                (Ok(()), Err(e)) => results.set(index, Err(e)),
                (Ok(()), Ok(id)) => valid.push((index, ChatParticipant::new(id))),
            }
        }
        for batch in valid.chunks(MAX_ADD_BATCH) {
            let participants: Vec<ChatParticipant> = batch.iter().map(|(_, p)| p.clone()).collect();
            match self.add_batch(chat, &participants).await {
                Ok(reply) => {
                    for (index, participant) in batch {
                        let result = match reply.invalid_for(&participant.identifier) {
                            // Refused in the reply to a request that was sent.
                            Some(item) => Err(item.to_error().with_attempts(1)),
                            None => Ok(Outcome::applied(None)),
                        };
                        results.set(*index, result);
                    }
                }
                Err(error) => results.fan_out(batch.iter().map(|(i, _)| *i), &Err(error)),
            }
        }
        results.finish(PROVIDER, "add_participant")
    }
}
