//! Turning a queued change into a confirmed one by polling the chat.

use std::time::Duration;

use rosterkit_core::{ChatId, Error, ErrorKind, Handle, Outcome, Polled};

use crate::{
    LinqClient, PROVIDER,
    chat::{Chat, HandleStatus},
    ops::GetChat,
};

/// The state [`LinqClient::wait_for`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expect {
    /// The handle is no longer an active member: status `removed` or `left`, or not listed.
    Removed,
    /// The handle is an active member (after an add).
    Active,
    /// The handle's status is `left` (pass our own line's handle after a leave); a 409/2013 on
    /// the read also counts.
    Left,
}

/// How long [`LinqClient::wait_for`] polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Reads in all, the first (immediate) one included; at least 1.
    pub max_polls: u32,
    /// The wait before the second read; it doubles after each read.
    pub initial_delay: Duration,
    /// The cap on the wait between two reads.
    pub max_delay: Duration,
}

impl Default for WaitOptions {
    /// 10 reads, 500 ms doubling to 8 s between them (about 40 s in all).
    fn default() -> Self {
        Self {
            max_polls: 10,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl WaitOptions {
    /// The given bounds.
    pub fn new(max_polls: u32, initial_delay: Duration, max_delay: Duration) -> Self {
        Self {
            max_polls,
            initial_delay,
            max_delay,
        }
    }

    /// Returns the options with `max_polls` reads.
    #[must_use]
    pub fn with_max_polls(mut self, max_polls: u32) -> Self {
        self.max_polls = max_polls;
        self
    }

    /// Returns the options with this backoff range.
    #[must_use]
    pub fn with_delays(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_delay = initial;
        self.max_delay = max;
        self
    }
}

/// What to wait for: a handle in a state, or our own line gone.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Handle(&'a Handle, Expect),
    OwnLineLeft,
}

pub(crate) async fn wait_for(
    client: &LinqClient,
    chat: &ChatId,
    target: Target<'_>,
    options: WaitOptions,
) -> Result<Outcome, Error> {
    let expect = match target {
        Target::Handle(_, expect) => expect,
        Target::OwnLineLeft => Expect::Left,
    };
    let read = GetChat::new(client.config(), chat)?;
    let polls = options.max_polls.max(1);
    let decided = client
        .executor()
        .poll(
            &read,
            polls,
            options.initial_delay,
            options.max_delay,
            |read| match read {
                Err(err) if expect == Expect::Left && err.code() == Some("2013") => Polled::Ready(
                    Ok(Outcome::applied(None).with_trace_id(err.trace_id().map(str::to_owned))),
                ),
                Err(err) => Polled::Ready(Err(err)),
                Ok(read) if reached(&read, target) => {
                    Polled::Ready(Ok(Outcome::applied(Some(read.participants()))))
                }
                Ok(_) => Polled::Pending,
            },
        )
        .await;
    if let Some(result) = decided {
        return result;
    }
    Err(Error::new(
        ErrorKind::Timeout,
        match target {
            Target::Handle(handle, expect) => format!(
                "the queued {} of {} did not show after {polls} reads of the chat; it may still be applied later",
                match expect {
                    Expect::Removed => "removal",
                    Expect::Active => "addition",
                    Expect::Left => "leave",
                },
                handle.redacted()
            ),
            Target::OwnLineLeft => format!(
                "the queued leave did not show after {polls} reads of the chat; it may still be applied later"
            ),
        },
    )
    .with_provider(PROVIDER)
    .with_operation("wait_for")
    .with_retryable(false)
    .with_ambiguous(true)
    // Every read was answered (as "not yet"); the change itself was sent before.
    .with_attempts(polls))
}

/// Whether `read` shows `target`.
fn reached(read: &Chat, target: Target<'_>) -> bool {
    match target {
        Target::OwnLineLeft => read.has_left(),
        Target::Handle(handle, expect) => {
            let entry = read.handle(handle);
            match expect {
                Expect::Removed => entry.is_none_or(|h| !h.is_active()),
                Expect::Active => entry.is_some_and(|h| h.is_active()),
                Expect::Left => entry.is_some_and(|h| h.status == HandleStatus::Left),
            }
        }
    }
}
