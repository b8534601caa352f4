//! [`Membership`] for [`MatrixClient`].

use rosterkit_core::{
    Capabilities, ChangeOptions, ChatId, Error, Handle, HandleKinds, Membership, Outcome,
    Participant, async_trait,
};

use crate::{MatrixClient, PROVIDER};

/// Remove (kick), add (invite), leave and list (joined members); Matrix user ids only; one
/// user per request, applied at once.
const CAPABILITIES: Capabilities = Capabilities::none()
    .with_remove()
    .with_add()
    .with_leave()
    .with_list()
    .with_handles(HandleKinds::none().with_native());

#[async_trait]
impl Membership for MatrixClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// [`MatrixClient::remove`] (a kick), with `options.reason`.
    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.remove(chat, handle, options).await
    }

    /// [`MatrixClient::add`] (an invitation): the user is a member once they accept.
    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.add(chat, handle, options).await
    }

    /// [`MatrixClient::leave_group`].
    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        self.leave_group(chat, options).await
    }

    /// [`MatrixClient::joined_members`].
    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        self.joined_members(chat).await
    }
}
