//! An in-memory [`Membership`] for application tests.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;

use super::scripted_client::lock;
use crate::{
    Capabilities, ChangeOptions, ChatId, Error, ErrorKind, Handle, HandleKinds, Membership,
    Outcome, Participant,
};

/// A [`Membership`] over in-memory rosters, for testing code that manages membership through
/// the trait (a sync job, a bot) without any provider.
///
/// It keeps the contract adapters keep: an unknown chat is `ChatNotFound`; removing an absent
/// member (or leaving a chat we are not in) is `NotAMember`, and [`Outcome::AlreadyDone`] in
/// ensure mode; adding a present member is `Conflict`, and `AlreadyDone` in ensure mode; a
/// handle kind outside the capabilities is `InvalidInput`; an operation outside them is
/// `Unsupported`. [`FakeMembership::fail_next`] makes the next call fail with a given error.
///
/// ```
/// use rosterkit_core::{ChangeOptions, ChatId, ErrorKind, Handle, Membership, Outcome, testing::FakeMembership};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let me: Handle = "+14155550100".parse()?;
/// let bob: Handle = "+14155551234".parse()?;
/// let chat = ChatId::new("team")?;
/// let fake = FakeMembership::new("fake", me.clone()).with_chat(chat.clone(), [me, bob.clone()]);
///
/// let removed = fake.remove_participant(&chat, &bob, ChangeOptions::default()).await?;
/// assert_eq!(removed.as_str(), "applied");
/// assert_eq!(fake.roster(&chat).map(|r| r.len()), Some(1));
///
/// // Again: an error, or "already done" in ensure mode.
/// let again = fake.remove_participant(&chat, &bob, ChangeOptions::default()).await;
/// assert_eq!(again.unwrap_err().kind(), ErrorKind::NotAMember);
/// let ensured = fake.remove_participant(&chat, &bob, ChangeOptions::ensure()).await?;
/// assert!(matches!(ensured, Outcome::AlreadyDone { .. }));
///
/// // Failures on demand, to test the caller's error handling.
/// fake.fail_next(rosterkit_core::Error::new(ErrorKind::RateLimited, "slow down"));
/// assert_eq!(fake.participants(&chat).await.unwrap_err().kind(), ErrorKind::RateLimited);
/// assert_eq!(fake.participants(&chat).await?.len(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FakeMembership {
    provider: &'static str,
    me: Handle,
    capabilities: Capabilities,
    chats: Mutex<HashMap<ChatId, Vec<Handle>>>,
    next_failure: Mutex<Option<Error>>,
}

impl FakeMembership {
    /// A fake named `provider` acting as `me` (whom [`Membership::leave`] removes), with no
    /// chats, every operation and every handle kind.
    pub fn new(provider: &'static str, me: Handle) -> Self {
        Self {
            provider,
            me,
            capabilities: Capabilities::none()
                .with_remove()
                .with_add()
                .with_leave()
                .with_list()
                .with_handles(HandleKinds::none().with_phone().with_email().with_native()),
            chats: Mutex::default(),
            next_failure: Mutex::default(),
        }
    }

    /// Adds (or replaces) `chat` with `members`, in order.
    #[must_use]
    pub fn with_chat(self, chat: ChatId, members: impl IntoIterator<Item = Handle>) -> Self {
        lock(&self.chats).insert(chat, members.into_iter().collect());
        self
    }

    /// Replaces the capabilities (what is supported, which handle kinds are accepted).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Makes the next call fail with `error`.
    pub fn fail_next(&self, error: Error) {
        *lock(&self.next_failure) = Some(error);
    }

    /// `chat`'s current members, in order, or `None` for an unknown chat.
    pub fn roster(&self, chat: &ChatId) -> Option<Vec<Handle>> {
        lock(&self.chats).get(chat).cloned()
    }

    /// Applies `change` to `chat`'s roster after the shared checks.
    fn change<T>(
        &self,
        operation: &'static str,
        supported: bool,
        chat: &ChatId,
        change: impl FnOnce(&mut Vec<Handle>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let fail = |e: Error| e.with_provider(self.provider).with_operation(operation);
        if let Some(error) = lock(&self.next_failure).take() {
            return Err(fail(error));
        }
        if !supported {
            return Err(fail(Error::unsupported(format!(
                "{operation} is not supported"
            ))));
        }
        let mut chats = lock(&self.chats);
        let roster = chats
            .get_mut(chat)
            .ok_or_else(|| fail(Error::new(ErrorKind::ChatNotFound, "no such chat")))?;
        change(roster).map_err(fail)
    }

    fn accept(&self, handle: &Handle) -> Result<(), Error> {
        if self.capabilities.handles.accepts(handle) {
            Ok(())
        } else {
            Err(
                Error::invalid_input(format!("{} handles are not accepted", handle.kind_name()))
                    .with_provider(self.provider),
            )
        }
    }
}

/// `AlreadyDone` in ensure mode, else an error of `kind`.
fn already(options: ChangeOptions, kind: ErrorKind, message: &str) -> Result<Outcome, Error> {
    if options.ensure {
        Ok(Outcome::already_done())
    } else {
        Err(Error::new(kind, message))
    }
}

#[async_trait]
impl Membership for FakeMembership {
    fn provider(&self) -> &'static str {
        self.provider
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.accept(handle)?;
        self.change(
            "remove_participant",
            self.capabilities.remove,
            chat,
            |roster| match roster.iter().position(|h| h == handle) {
                Some(i) => {
                    roster.remove(i);
                    Ok(Outcome::applied(Some(roster.clone())))
                }
                None => already(options, ErrorKind::NotAMember, "not a member"),
            },
        )
    }

    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.accept(handle)?;
        self.change("add_participant", self.capabilities.add, chat, |roster| {
            if roster.contains(handle) {
                return already(options, ErrorKind::Conflict, "already a member");
            }
            roster.push(handle.clone());
            Ok(Outcome::applied(Some(roster.clone())))
        })
    }

    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        self.change(
            "leave",
            self.capabilities.leave,
            chat,
            |roster| match roster.iter().position(|h| *h == self.me) {
                Some(i) => {
                    roster.remove(i);
                    Ok(Outcome::applied(None))
                }
                None => already(options, ErrorKind::NotAMember, "we are not in the chat"),
            },
        )
    }

    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error> {
        self.change("participants", self.capabilities.list, chat, |roster| {
            Ok(roster.iter().cloned().map(Participant::new).collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_membership_contract() {
        let me: Handle = "+14155550100".parse().unwrap();
        let bob: Handle = "bob@example.com".parse().unwrap();
        let chat = ChatId::new("c").unwrap();
        let fake = FakeMembership::new("fake", me.clone()).with_chat(chat.clone(), [me.clone()]);
        let plain = ChangeOptions::default();
        let added = fake.add_participant(&chat, &bob, plain).await.unwrap();
        assert_eq!(added.roster(), Some(&[me.clone(), bob.clone()][..]));
        let err = fake.add_participant(&chat, &bob, plain).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict);
        assert_eq!(err.provider(), Some("fake"));
        assert_eq!(err.operation(), Some("add_participant"));
        assert!(matches!(
            fake.add_participant(&chat, &bob, ChangeOptions::ensure())
                .await,
            Ok(Outcome::AlreadyDone { .. })
        ));
        assert_eq!(fake.leave(&chat, plain).await.unwrap().as_str(), "applied");
        assert_eq!(
            fake.leave(&chat, plain).await.unwrap_err().kind(),
            ErrorKind::NotAMember
        );
        let unknown = ChatId::new("nope").unwrap();
        assert_eq!(
            fake.participants(&unknown).await.unwrap_err().kind(),
            ErrorKind::ChatNotFound
        );
        let phones_only = FakeMembership::new("fake", me.clone())
            .with_chat(chat.clone(), [])
            .with_capabilities(
                Capabilities::none()
                    .with_remove()
                    .with_leave()
                    .with_list()
                    .with_handles(HandleKinds::none().with_phone()),
            );
        assert_eq!(
            phones_only
                .remove_participant(&chat, &bob, plain)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            phones_only
                .add_participant(&chat, &me, plain)
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Unsupported
        );
    }
}
