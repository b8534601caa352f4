//! [`Membership`] for [`AcsClient`].

use rosterkit_core::{
    Capabilities, ChangeOptions, ChatId, Error, Handle, HandleKinds, Membership, Outcome,
    Participant, async_trait,
};

use crate::client::AcsClient;
use crate::generated::PROVIDER;
use crate::identifier::CommunicationIdentifier;
use crate::model::ChatParticipant;
use crate::ops::{MAX_ADD_BATCH, check_thread_id};

/// A copy of `error` for each handle of a failed batch (errors are not `Clone`: the source stays
/// with the first).
fn copy_error(error: &Error) -> Error {
    let mut copy = Error::new(error.kind(), error.message())
        .with_retryable(error.is_retryable())
        .with_ambiguous(error.is_ambiguous());
    if let Some(provider) = error.provider() {
        copy = copy.with_provider(provider);
    }
    if let Some(operation) = error.operation() {
        copy = copy.with_operation(operation);
    }
    if let Some(code) = error.code() {
        copy = copy.with_code(code);
    }
    if let Some(status) = error.http_status() {
        copy = copy.with_http_status(status);
    }
    if let Some(trace) = error.trace_id() {
        copy = copy.with_trace_id(trace);
    }
    if let Some(delay) = error.retry_after() {
        copy = copy.with_retry_after(delay);
    }
    if let Some(body) = error.body() {
        copy = copy.with_body(body.clone());
    }
    copy
}

#[async_trait]
impl Membership for AcsClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_operations(true, true, true, true)
            .with_batch(Some(MAX_ADD_BATCH))
            .with_handles(HandleKinds::new(true, false, true))
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
        self.leave_thread(chat, options).await
    }

    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        self.list(chat)
            .await?
            .into_iter()
            .map(|p| {
                let handle = p.identifier.to_handle().map_err(|e| {
                    Error::decode(format!("a participant's raw id is not usable: {e}"))
                        .with_provider(PROVIDER)
                })?;
                Ok(Participant::new(handle).with_display_name(p.display_name))
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
        let mut results: Vec<Option<Result<Outcome, Error>>> = Vec::with_capacity(handles.len());
        let mut valid: Vec<(usize, ChatParticipant)> = Vec::new();
        let thread_ok = check_thread_id(chat);
        for (index, handle) in handles.iter().enumerate() {
            match (&thread_ok, CommunicationIdentifier::try_from(handle)) {
                (Err(e), _) => results.push(Some(Err(copy_error(e)))),
                (Ok(()), Err(e)) => results.push(Some(Err(e))),
                (Ok(()), Ok(id)) => {
                    results.push(None);
                    valid.push((index, ChatParticipant::new(id)));
                }
            }
        }
        for batch in valid.chunks(MAX_ADD_BATCH) {
            let participants: Vec<ChatParticipant> = batch.iter().map(|(_, p)| p.clone()).collect();
            let reply = self.add_batch(chat, &participants).await;
            for (index, participant) in batch {
                let result = match &reply {
                    Ok(reply) => match reply.invalid_for(&participant.identifier) {
                        Some(item) => Err(item.to_error()),
                        None => Ok(Outcome::applied(None)),
                    },
                    Err(error) => Err(copy_error(error)),
                };
                if let Some(slot) = results.get_mut(*index) {
                    *slot = Some(result);
                }
            }
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(Error::decode("no result for the handle").with_provider(PROVIDER))
                })
            })
            .collect()
    }
}
