//! [`Membership`] for [`LinqClient`].

use rosterkit_core::{
    Capabilities, ChangeOptions, ChatId, Error, Handle, HandleKinds, Membership, Outcome,
    Participant, async_trait,
};

use crate::{LinqClient, PROVIDER};

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
/// ensure mode); confirm it with [`LinqClient::wait_for`] or a webhook.
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

    /// The active handles of `GET /v3/chats/{chatId}`, our own line included.
    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        let read = self.get_chat(chat).await?;
        // Linq marks our own line with `is_me: true` (linq.md §2).
        Ok(read
            .handles
            .iter()
            .filter(|h| h.is_active())
            .map(|h| Participant::new(h.handle.clone()).with_self(Some(h.is_me)))
            .collect())
    }
}
