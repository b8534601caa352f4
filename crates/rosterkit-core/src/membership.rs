//! The provider-agnostic membership API.

use std::{fmt::Debug, time::Duration};

use async_trait::async_trait;

use crate::{ChatId, Error, Handle, Outcome, Participant, Reason};

/// Options of a membership change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeOptions {
    /// Ensure the end state rather than demand the change: a reply meaning "already not a
    /// member" or "already left" becomes [`Outcome::AlreadyDone`]. This is what makes retrying a
    /// non-idempotent remove or leave safe after an ambiguous failure.
    pub ensure: bool,
    /// Why the change is made, for providers that record a reason (Matrix); others ignore it.
    pub reason: Option<Reason>,
}

impl ChangeOptions {
    /// Options with ensure mode on.
    pub fn ensure() -> Self {
        Self {
            ensure: true,
            reason: None,
        }
    }

    /// Returns the options with ensure mode set.
    #[must_use]
    pub fn with_ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }

    /// Returns the options with `reason` (see [`Reason`]).
    #[must_use]
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// What a provider can do through [`Membership`], so generic code can choose before calling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// `remove_participant` is supported.
    pub remove: bool,
    /// `add_participant` is supported.
    pub add: bool,
    /// `leave` is supported.
    pub leave: bool,
    /// `participants` is supported (a roster can be read).
    pub list: bool,
    /// Several handles go in one request (Z-API `phones`, ACS add).
    pub batch: bool,
    /// The most handles one request may carry, when batching.
    pub max_batch: Option<usize>,
    /// Changes are queued and applied later ([`Outcome::Queued`]).
    pub queued: bool,
    /// Which handle kinds the provider accepts.
    pub handles: HandleKinds,
    /// The fewest members a group may keep, our own line included (iMessage groups on Chert
    /// and Linq keep 3); `None` when the provider sets no floor. Planners order adds before
    /// removes and refuse a roster below it.
    pub min_group_size: Option<usize>,
}

/// Which [`Handle`] variants a provider accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandleKinds {
    /// E.164 phone numbers.
    pub phone: bool,
    /// Email addresses.
    pub email: bool,
    /// Provider-native raw ids.
    pub native: bool,
}

impl HandleKinds {
    /// No kind; chain the setters below.
    pub const fn none() -> Self {
        Self {
            phone: false,
            email: false,
            native: false,
        }
    }

    /// Accepts E.164 phone numbers too.
    #[must_use]
    pub const fn with_phone(mut self) -> Self {
        self.phone = true;
        self
    }

    /// Accepts email addresses too.
    #[must_use]
    pub const fn with_email(mut self) -> Self {
        self.email = true;
        self
    }

    /// Accepts provider-native raw ids too.
    #[must_use]
    pub const fn with_native(mut self) -> Self {
        self.native = true;
        self
    }

    /// The given set, by position.
    #[deprecated(note = "name the kinds: `HandleKinds::none().with_phone().with_native()`")]
    pub const fn new(phone: bool, email: bool, native: bool) -> Self {
        Self {
            phone,
            email,
            native,
        }
    }

    /// Whether `handle` is of an accepted kind.
    pub fn accepts(&self, handle: &Handle) -> bool {
        match handle {
            Handle::Phone(_) => self.phone,
            Handle::Email(_) => self.email,
            Handle::Native(_) => self.native,
        }
    }
}

impl Capabilities {
    /// No capabilities; chain the setters below.
    pub const fn none() -> Self {
        Self {
            remove: false,
            add: false,
            leave: false,
            list: false,
            batch: false,
            max_batch: None,
            queued: false,
            handles: HandleKinds::none(),
            min_group_size: None,
        }
    }

    /// Supports `remove_participant`.
    #[must_use]
    pub const fn with_remove(mut self) -> Self {
        self.remove = true;
        self
    }

    /// Supports `add_participant`.
    #[must_use]
    pub const fn with_add(mut self) -> Self {
        self.add = true;
        self
    }

    /// Supports `leave`.
    #[must_use]
    pub const fn with_leave(mut self) -> Self {
        self.leave = true;
        self
    }

    /// Supports `participants` (a roster can be read).
    #[must_use]
    pub const fn with_list(mut self) -> Self {
        self.list = true;
        self
    }

    /// Sets which operations exist, by position.
    #[must_use]
    #[deprecated(
        note = "name the operations: `Capabilities::none().with_remove().with_add().with_leave()`"
    )]
    pub const fn with_operations(
        mut self,
        remove: bool,
        add: bool,
        leave: bool,
        list: bool,
    ) -> Self {
        self.remove = remove;
        self.add = add;
        self.leave = leave;
        self.list = list;
        self
    }

    /// Sets native batching and its limit.
    #[must_use]
    pub const fn with_batch(mut self, max_batch: Option<usize>) -> Self {
        self.batch = true;
        self.max_batch = max_batch;
        self
    }

    /// Marks changes as queued.
    #[must_use]
    pub const fn with_queued(mut self, queued: bool) -> Self {
        self.queued = queued;
        self
    }

    /// Sets the fewest members a group may keep, our own line included.
    #[must_use]
    pub const fn with_min_group_size(mut self, min: usize) -> Self {
        self.min_group_size = Some(min);
        self
    }

    /// Sets the accepted handle kinds.
    #[must_use]
    pub const fn with_handles(mut self, handles: HandleKinds) -> Self {
        self.handles = handles;
        self
    }
}

/// The change an outcome answered, which [`Membership::confirm`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pending<'a> {
    /// A removal of this handle: confirmed once it is no longer a member.
    Remove(&'a Handle),
    /// An addition of this handle: confirmed once it is a member.
    Add(&'a Handle),
    /// Our own leave: confirmed once our line has left.
    Leave,
}

/// Group membership on one provider, object-safe so generic code can hold a
/// `Box<dyn Membership>`.
///
/// Bulk methods return one result per input handle, in input order; the default
/// implementations call the single-handle method in turn, and adapters override them where the
/// provider batches natively.
#[async_trait]
pub trait Membership: Send + Sync + Debug {
    /// The provider's name (`"chert"`, `"linq"`, `"zapi"`, `"acs"`).
    fn provider(&self) -> &'static str;

    /// What this provider supports.
    fn capabilities(&self) -> Capabilities;

    /// Removes `handle` from `chat`.
    ///
    /// # Errors
    /// A typed [`Error`]; `InvalidInput` errors are raised before any request.
    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error>;

    /// Adds `handle` to `chat`.
    ///
    /// # Errors
    /// A typed [`Error`]; `InvalidInput` errors are raised before any request.
    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        options: ChangeOptions,
    ) -> Result<Outcome, Error>;

    /// Leaves `chat` with our own identity.
    ///
    /// # Errors
    /// A typed [`Error`].
    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error>;

    /// Lists the current members of `chat`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Unsupported`] where the provider has no roster read, else a typed
    /// [`Error`].
    async fn participants(&self, chat: &ChatId) -> Result<Vec<Participant>, Error>;

    /// Confirms an outcome that is not confirmed yet ([`Outcome::is_pending`]: `Queued`,
    /// `Unconfirmed`), waiting at most `within` for `change` to show in the chat, and returns
    /// the confirmed outcome (`Applied`, with the roster read) or, when it did not show in
    /// time, `outcome` unchanged. An outcome with nothing pending is returned unchanged
    /// without a request.
    ///
    /// The default reads the roster once where the provider has one ([`Capabilities::list`];
    /// a leave cannot be seen that way and stays as it is). Linq overrides it with its
    /// queued-change wait: the chat is read with backoff until the change shows.
    ///
    /// # Errors
    /// A read that failed, as a typed [`Error`]; the change itself may still be pending.
    async fn confirm(
        &self,
        chat: &ChatId,
        change: Pending<'_>,
        outcome: Outcome,
        within: Duration,
    ) -> Result<Outcome, Error> {
        let handle = match change {
            Pending::Remove(handle) | Pending::Add(handle) => handle,
            Pending::Leave => return Ok(outcome),
        };
        if !outcome.is_pending() || !self.capabilities().list {
            return Ok(outcome);
        }
        let Ok(read) = tokio::time::timeout(within, self.participants(chat)).await else {
            return Ok(outcome);
        };
        let roster: Vec<Handle> = read?.into_iter().map(|p| p.handle).collect();
        let present = roster.contains(handle);
        let shown = match change {
            Pending::Add(_) => present,
            _ => !present,
        };
        Ok(if shown {
            let trace_id = outcome.trace_id().map(str::to_owned);
            Outcome::applied(Some(roster)).with_trace_id(trace_id)
        } else {
            outcome
        })
    }

    /// Removes several handles; one result per handle, in order.
    async fn remove_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(self.remove_participant(chat, handle, options).await);
        }
        out
    }

    /// Adds several handles; one result per handle, in order.
    async fn add_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        options: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(self.add_participant(chat, handle, options).await);
        }
        out
    }
}
