//! [`Membership`] for [`LinqClient`].

use std::time::Duration;

use rosterkit_core::{
    Capabilities, ChangeOptions, ChatId, Error, Handle, HandleKinds, Membership, Outcome,
    Participant, Pending, async_trait,
};

use crate::{
    Expect, LinqClient, PROVIDER, WaitOptions,
    wait::{self, Target},
};

/// Linq: remove, add and leave (all queued), and a roster read; phone numbers and emails.
const CAPABILITIES: Capabilities = Capabilities::none()
    .with_remove()
    .with_add()
    .with_leave()
    .with_list()
    .with_queued(true)
    .with_min_group_size(3)
    .with_handles(HandleKinds::none().with_phone().with_email());

/// Every change is [`Outcome::Queued`] with Linq's trace id (or [`Outcome::AlreadyDone`] in
/// ensure mode); confirm it with [`Membership::confirm`] (the wait of [`LinqClient::wait_for`],
/// bounded by time) or a webhook.
#[async_trait]
impl Membership for LinqClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.remove(chat, handle, options).await.map(Outcome::from)
    }

    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.add(chat, handle, options).await.map(Outcome::from)
    }

    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        self.leave_group(chat, options).await.map(Outcome::from)
    }

    /// Reads the chat with [`WaitOptions::default`]'s backoff (500 ms doubling to 8 s) until
    /// the change shows or `within` has passed; then the outcome is still `Queued`.
    async fn confirm(
        &self,
        chat: &ChatId,
        change: Pending<'_>,
        outcome: Outcome,
        within: Duration,
    ) -> Result<Outcome, Error> {
        if !outcome.is_pending() {
            return Ok(outcome);
        }
        let target = match change {
            Pending::Remove(handle) => Target::Handle(handle, Expect::Removed),
            Pending::Add(handle) => Target::Handle(handle, Expect::Active),
            Pending::Leave => Target::OwnLineLeft,
            _ => return Ok(outcome),
        };
        // No read count: `within` is the limit.
        let options = WaitOptions::default().with_max_polls(u32::MAX);
        let waited = tokio::time::timeout(within, wait::wait_for(self, chat, target, options));
        let Ok(confirmed) = waited.await else {
            return Ok(outcome);
        };
        confirmed.map(|done| match done.trace_id() {
            Some(_) => done,
            None => {
                let trace_id = outcome.trace_id().map(str::to_owned);
                done.with_trace_id(trace_id)
            }
        })
    }

    /// The active handles of `GET /v3/chats/{chatId}`, our own line included.
    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        // Labelled by the method called, not the route read for it (`get_chat`).
        let read = self
            .get_chat(chat)
            .await
            .map_err(|e| e.with_operation("participants"))?;
        // Linq marks our own line with `is_me: true` (linq.md §2).
        Ok(read
            .handles
            .iter()
            .filter(|h| h.is_active())
            .map(|h| Participant::new(h.handle.clone()).with_self(Some(h.is_me)))
            .collect())
    }
}
