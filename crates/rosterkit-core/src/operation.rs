//! Sans-IO operations: a provider call described as data.

use std::{fmt, time::SystemTime};

use bytes::Bytes;

use crate::{Error, RouteName, clock::unix_seconds};

/// One provider call, described without doing any I/O: it builds the request for an attempt and
/// parses the reply. The [`crate::Executor`] runs it over any [`crate::HttpClient`] with retries,
/// waits and reconciliation ([`Operation::on_failure`]), so building and parsing are
/// unit-testable with no server and no client: an operation is made from the provider's
/// configuration (endpoint, credentials) and its inputs.
///
/// Adding an operation to a provider is writing one such value.
///
/// ```
/// use std::{sync::Arc, time::SystemTime};
/// use rosterkit_core::{
///     Attempt, Bytes, ChatId, Endpoint, Error, ErrorKind, Operation, Outcome, RouteName, encode,
///     http,
/// };
///
/// /// What every operation of this provider is built from.
/// struct DemoConfig {
///     endpoint: Endpoint,
/// }
///
/// /// `POST /chats/{chat}/leave`.
/// struct Leave {
///     config: Arc<DemoConfig>,
///     chat: ChatId,
/// }
///
/// impl Operation for Leave {
///     type Output = Outcome;
///     fn route(&self) -> RouteName { RouteName::new("demo", "leave") }
///     fn idempotent(&self) -> bool { false }
///
///     fn build(&self, _attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
///         let mut path = String::from("/chats/");
///         encode::push_path_segment(&mut path, self.chat.as_str());
///         path.push_str("/leave");
///         http::Request::post(self.config.endpoint.url(&path))
///             .body(Bytes::new())
///             .map_err(|e| Error::invalid_input(e.to_string()))
///     }
///
///     fn parse(&self, reply: http::Response<Bytes>, _: &Attempt) -> Result<Outcome, Error> {
///         match reply.status().as_u16() {
///             200 => Ok(Outcome::applied(None)),
///             status => Err(Error::new(ErrorKind::from_status(status), "refused")
///                 .with_http_status(status)),
///         }
///     }
/// }
///
/// let config = Arc::new(DemoConfig { endpoint: Endpoint::parse("https://api.example.com/v1")? });
/// let op = Leave { config, chat: ChatId::new("team/a b")? };
/// let attempt = Attempt::first(SystemTime::now());
/// let request = op.build(&attempt)?;
/// assert_eq!(request.uri(), "https://api.example.com/v1/chats/team%2Fa%20b/leave");
/// let refused = http::Response::builder().status(404).body(Bytes::new())?;
/// assert_eq!(op.parse(refused, &attempt).unwrap_err().kind(), ErrorKind::ChatNotFound);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Operation: Send + Sync {
    /// What a successful reply parses into.
    type Output: Send;

    /// The route this operation sends: a generated route (`self.route.into()`), or
    /// [`RouteName::new`] for one written by hand. [`provider`](Self::provider) and
    /// [`name`](Self::name) come from it.
    fn route(&self) -> RouteName;

    /// The provider's name (`"chert"`), for errors and tracing: the route's.
    fn provider(&self) -> &'static str {
        self.route().provider()
    }

    /// The operation's name (`"remove_participant"`), for errors and tracing: the route's,
    /// unless an operation labels itself otherwise.
    fn name(&self) -> &'static str {
        self.route().name()
    }

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

    /// What a failed attempt means beyond its error: [`Recovery::Standard`] (the default) lets
    /// the executor's retry rule decide; an operation whose provider leaves a failure unclear
    /// answers [`Recovery::Probe`] with a read that settles it. The executor does every wait,
    /// so an operation never sleeps or loops.
    fn on_failure(&self, error: &Error, attempt: &Attempt) -> Recovery<Self::Output> {
        let _ = (error, attempt);
        Recovery::Standard
    }

    /// What a reply that parsed means: `None` (the default) lets `output` stand; an operation
    /// whose provider accepts a change without saying what it did (Z-API's `{"value": true}`)
    /// answers a [`Probe`] that reads the result back and settles it. The probe's `failure`
    /// is then a non-retryable `DeliveryFailed` error saying so, which stands only when the
    /// read cannot be built: a confirming probe settles every reply itself.
    fn on_success(
        &self,
        output: &Self::Output,
        attempt: &Attempt,
    ) -> Option<Box<dyn Probe<Self::Output>>> {
        let _ = (output, attempt);
        None
    }

    /// Folds the error a run ends with into the output, for an operation whose output holds
    /// one result per item (a batch): so every item keeps its own result, including those an
    /// earlier round settled ([`Settled::Resend`]). The default lets the error stand.
    ///
    /// # Errors
    /// `error`, unless the operation folds it.
    fn fold_error(&self, error: Error) -> Result<Self::Output, Error> {
        Err(error)
    }

    /// The errors inside an output that holds per-item results, so the executor treats them
    /// as its own (provider and operation filled in, secrets scrubbed, at least one attempt
    /// counted). None by default.
    fn item_errors<'a>(&self, output: &'a mut Self::Output) -> Vec<&'a mut Error> {
        let _ = output;
        Vec::new()
    }
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
    /// Whether the retry policy allows no attempt after this one: an operation that settles
    /// a failure by a read only once the standard retries are spent
    /// ([`Operation::on_failure`]) reads now.
    pub last: bool,
}

impl Attempt {
    /// An attempt with the given number, time and history.
    pub fn new(number: u32, now: SystemTime, after_ambiguous_failure: bool) -> Self {
        Self {
            number,
            now,
            after_ambiguous_failure,
            last: false,
        }
    }

    /// Returns the attempt marked as the policy's last (or not).
    #[must_use]
    pub fn with_last(mut self, last: bool) -> Self {
        self.last = last;
        self
    }

    /// Whether the standard rule would send `error`'s operation again after this attempt:
    /// the error is retryable, a repeat is safe (`idempotent`, or the error not ambiguous),
    /// and this is not the policy's last attempt.
    pub fn would_retry(&self, error: &Error, idempotent: bool) -> bool {
        !self.last && error.is_retryable() && (idempotent || !error.is_ambiguous())
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

/// What the [`crate::Executor`] does after a failed attempt, as decided by
/// [`Operation::on_failure`]: the one reconciliation hook of the contract.
///
/// One hook with three answers covers every reconciliation the adapters need without letting
/// them wait or loop themselves: the executor owns the waits (the server's `Retry-After`,
/// backoff) and the bound on attempts; the operation only says what the failure means.
#[non_exhaustive]
pub enum Recovery<T> {
    /// The standard rule: retried when the provider marked the error retryable and a repeat is
    /// safe (not ambiguous, or the operation is idempotent); otherwise it stands.
    Standard,
    /// The error stands: no retry.
    Stop,
    /// Read first, then decide ("is the handle still there?" after an ambiguous remove, "why
    /// was this refused?" after a generic code). The executor waits the server's requested
    /// delay, sends the probe's request and hands its reply to [`Probe::settle`].
    Probe(Box<dyn Probe<T>>),
}

impl<T> fmt::Debug for Recovery<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Standard => "Standard",
            Self::Stop => "Stop",
            Self::Probe(_) => "Probe",
        })
    }
}

/// A follow-up read of a [`Recovery::Probe`]: builds one request and, from its reply (or its
/// failure), settles the original failure.
pub trait Probe<T>: Send + Sync {
    /// Builds the probe's request for `attempt`.
    ///
    /// # Errors
    /// Any error: the original failure then stands.
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error>;

    /// Settles `failure` (the operation's error) from the probe's `reply`.
    fn settle(
        self: Box<Self>,
        reply: Result<http::Response<Bytes>, Error>,
        attempt: &Attempt,
        failure: Error,
    ) -> Settled<T>;
}

/// How a [`Probe`] settled a failure.
#[non_exhaustive]
pub enum Settled<T> {
    /// The run ends with this result (`Ok` when the read shows the change already happened, or
    /// a more precise error).
    Finish(Result<T, Error>),
    /// The change did not happen: send the operation again (after the executor's backoff,
    /// within the policy's attempts).
    Retry(Error),
    /// Read once more (the next page), then settle.
    Next(Box<dyn Probe<T>>, Error),
    /// Part of a batch is still to do: continue the run with this operation (the unsettled
    /// items, carrying the settled ones, so its output is the whole batch's), after the
    /// executor's backoff or the error's [`Error::retry_after`] (the operation's pacing),
    /// whichever is longer. It gets the policy's attempts afresh; a resent operation should not
    /// ask for another resend, so the rounds stay bounded.
    Resend(Box<dyn Operation<Output = T>>, Error),
}

impl<T: fmt::Debug> fmt::Debug for Settled<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Finish(result) => f.debug_tuple("Finish").field(result).finish(),
            Self::Retry(error) => f.debug_tuple("Retry").field(error).finish(),
            Self::Next(_, error) => f.debug_tuple("Next").field(error).finish(),
            Self::Resend(_, error) => f.debug_tuple("Resend").field(error).finish(),
        }
    }
}

/// A [`Probe`] made of any read [`Operation`] and a decision over its parsed output: the
/// usual way to write one.
///
/// ```
/// use rosterkit_core::{Error, ErrorKind, Operation, Outcome, Probe, ProbeWith, Settled};
/// # fn demo<R: Operation<Output = Vec<String>> + 'static>(read: R) -> Box<dyn Probe<Outcome>> {
/// // After an ambiguous remove of "+1415…": gone → already done; still listed → send again.
/// Box::new(ProbeWith::new(read, |listed: Result<Vec<String>, Error>, failure: Error| {
///     match listed {
///         Ok(roster) if !roster.iter().any(|h| h == "+14155551234") => {
///             Settled::Finish(Ok(Outcome::already_done()))
///         }
///         Ok(_) => Settled::Retry(failure),
///         Err(_) => Settled::Finish(Err(failure)),
///     }
/// }))
/// # }
/// ```
pub struct ProbeWith<O, F> {
    read: O,
    decide: F,
}

impl<O: fmt::Debug, F> fmt::Debug for ProbeWith<O, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeWith")
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl<O, F> ProbeWith<O, F> {
    /// A probe sending `read` and settling with `decide(parsed reply, original failure)`.
    pub fn new(read: O, decide: F) -> Self {
        Self { read, decide }
    }
}

impl<T, O, F> Probe<T> for ProbeWith<O, F>
where
    O: Operation,
    F: FnOnce(Result<O::Output, Error>, Error) -> Settled<T> + Send + Sync,
{
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.read.build(attempt)
    }

    fn settle(
        self: Box<Self>,
        reply: Result<http::Response<Bytes>, Error>,
        attempt: &Attempt,
        failure: Error,
    ) -> Settled<T> {
        let this = *self;
        let parsed = reply.and_then(|response| this.read.parse(response, attempt));
        (this.decide)(parsed, failure)
    }
}
