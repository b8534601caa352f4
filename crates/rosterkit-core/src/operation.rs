//! Sans-IO operations: a provider call described as data.

use std::time::SystemTime;

use bytes::Bytes;

use crate::{Error, clock::unix_seconds};

/// One provider call, described without doing any I/O: it builds the request for an attempt and
/// parses the reply. The [`crate::Executor`] runs it over any [`crate::HttpClient`] with retries,
/// so building and parsing are unit-testable with no server.
///
/// Adding an operation to a provider is writing one such value.
pub trait Operation: Send + Sync {
    /// What a successful reply parses into.
    type Output: Send;

    /// The provider's name (`"chert"`), for errors and tracing.
    fn provider(&self) -> &'static str;

    /// The operation's name (`"remove_participant"`), for errors and tracing.
    fn name(&self) -> &'static str;

    /// Whether sending the request again after an ambiguous failure (timeout, broken
    /// connection, gateway error: the server may have applied it) is safe. True for reads and
    /// idempotent writes, and for non-idempotent writes in ensure mode, where a repeat's
    /// "already done" reply is mapped to [`crate::Outcome::AlreadyDone`].
    fn idempotent(&self) -> bool;

    /// Builds the request for `attempt`; called afresh for every attempt so each can be
    /// re-signed with a fresh timestamp.
    ///
    /// # Errors
    /// An [`crate::ErrorKind::InvalidInput`] error stops the run before anything is sent.
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error>;

    /// Parses a reply (any status) into the output or a typed error whose retryability and
    /// ambiguity come from the provider's code table.
    ///
    /// # Errors
    /// The provider's error, mapped by provider code.
    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Self::Output, Error>;
}

/// What an operation knows about the attempt it builds or parses for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Attempt {
    /// 1 for the first attempt.
    pub number: u32,
    /// Wall-clock time of the attempt, for signatures.
    pub now: SystemTime,
    /// Whether an earlier attempt failed ambiguously (it may have been applied).
    pub after_ambiguous_failure: bool,
}

impl Attempt {
    /// An attempt with the given number, time and history.
    pub fn new(number: u32, now: SystemTime, after_ambiguous_failure: bool) -> Self {
        Self {
            number,
            now,
            after_ambiguous_failure,
        }
    }

    /// The first attempt at `now`.
    pub fn first(now: SystemTime) -> Self {
        Self::new(1, now, false)
    }

    /// `now` in whole seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> u64 {
        unix_seconds(self.now)
    }
}
