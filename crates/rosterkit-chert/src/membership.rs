//! [`Membership`] for [`ChertClient`].

use rosterkit_core::{
    Capabilities, ChangeOptions, ChatId, Error, Handle, HandleKinds, Membership, Outcome,
    Participant, async_trait,
};

use crate::{ChertClient, PROVIDER};

/// Remove, add and leave; no roster read (Chert has no roster endpoint); phone numbers and
/// emails; synchronous, one handle per request.
const CAPABILITIES: Capabilities = Capabilities::none()
    .with_remove()
    .with_add()
    .with_leave()
    .with_min_group_size(3)
    .with_handles(HandleKinds::none().with_phone().with_email());

#[async_trait]
impl Membership for ChertClient {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// [`ChertClient::remove`]; the outcome carries the roster after the removal.
    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.remove(chat, handle, options).await.map(Outcome::from)
    }

    /// [`ChertClient::add`]; the outcome carries the roster after the add. Ensure mode changes
    /// nothing: adding a present member is already a success.
    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        _options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.add(chat, handle).await.map(Outcome::from)
    }

    /// [`ChertClient::leave_group`].
    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        self.leave_group(chat, options).await.map(Outcome::from)
    }

    /// Always `Unsupported`: Chert has no endpoint that lists a chat's participants. The roster
    /// comes with every add and remove reply ([`Outcome::roster`]).
    async fn participants(&self, _chat: &ChatId) -> Result<Vec<Participant>, Error> {
        Err(Error::unsupported(
            "Chert has no roster endpoint: the roster comes only with add and remove replies (Outcome::roster)",
        )
        .with_provider(PROVIDER)
        .with_operation("participants"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::ErrorKind;

    #[tokio::test]
    async fn participants_is_unsupported_and_capabilities_say_so() {
        let chert = ChertClient::builder()
            .tenant("acme")
            .signing_secret("s")
            .build()
            .unwrap();
        let caps = chert.capabilities();
        assert!(caps.remove && caps.add && caps.leave && !caps.list);
        assert!(!caps.batch && !caps.queued);
        assert!(caps.handles.phone && caps.handles.email && !caps.handles.native);
        let err = chert
            .participants(&ChatId::new("ch_01HTEST").unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.message().contains("no roster endpoint"), "{err}");
        assert_eq!(err.attempts(), 0);
    }
}
