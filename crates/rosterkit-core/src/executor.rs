//! The one executor: runs any [`Operation`] over any [`HttpClient`] with a [`RetryPolicy`].

use std::{fmt, future::Future, pin::Pin, sync::Arc, time::Duration};

use tracing::Instrument;

use crate::{
    Clock, Error, ErrorKind, HttpClient, Operation, Pacing, Probe, Recovery, RetryPolicy, Secret,
    Settled, SystemClock, TransportError, encode::path_segment, operation::Attempt,
    retry::retry_after_from_headers,
};

/// Runs operations: builds each attempt's request (so it is signed afresh), sends it with a
/// per-attempt timeout, lets the operation parse the reply, and retries per [`RetryPolicy`].
///
/// Retry rule, in one place: an error is retried when the provider marked it retryable and,
/// if the change may already have happened (an ambiguous failure), only when the operation is
/// idempotent (or in ensure mode). A connection that never opened is always safe to retry.
/// Waits honour the server's delay and use tokio time, so tests can pause it.
#[derive(Clone)]
pub struct Executor {
    client: Arc<dyn HttpClient>,
    policy: RetryPolicy,
    clock: Arc<dyn Clock>,
    secrets: Arc<[Secret]>,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("client", &self.client)
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl Executor {
    /// An executor over `client` with the default policy and the system clock.
    pub fn new(client: Arc<dyn HttpClient>) -> Self {
        Self {
            client,
            policy: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            secrets: Arc::from([]),
        }
    }

    /// Returns the executor scrubbing `secrets` (and their percent-encoded path forms) out of
    /// every error it returns ([`Error::scrub`]): the client's own credentials, which a server
    /// that echoes the request would otherwise put into error text.
    #[must_use]
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = Secret>) -> Self {
        let mut all: Vec<Secret> = self.secrets.to_vec();
        for secret in secrets {
            let encoded = path_segment(secret.expose());
            if encoded != secret.expose() {
                all.push(Secret::new(encoded));
            }
            all.push(secret);
        }
        self.secrets = all.into();
        self
    }

    /// Returns the executor with `policy`.
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Returns the executor with `clock` (for signature timestamps).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The transport.
    pub fn client(&self) -> &Arc<dyn HttpClient> {
        &self.client
    }

    /// Runs `op` to completion.
    ///
    /// # Errors
    /// The last attempt's error, carrying provider, operation and the number of attempts,
    /// scrubbed of the registered secrets ([`Executor::with_secrets`]).
    pub async fn execute<O: Operation + ?Sized>(&self, op: &O) -> Result<O::Output, Error> {
        let span = tracing::info_span!(
            "rosterkit.operation",
            provider = op.provider(),
            operation = op.name()
        );
        let started = tokio::time::Instant::now();
        let last = self.policy.max_attempts;
        let result = self.run(op, 1, last, started, false).instrument(span).await;
        let mut output = match result {
            Ok(output) => output,
            Err(e) => op.fold_error(self.own(op, e))?,
        };
        for item in op.item_errors(&mut output) {
            if item.attempts() == 0 {
                item.set_attempts(1);
            }
            *item = self.own(op, item.clone());
        }
        Ok(output)
    }

    /// `error` as the executor returns it: provider and operation filled in, secrets
    /// scrubbed.
    fn own<O: Operation + ?Sized>(&self, op: &O, mut error: Error) -> Error {
        error.fill_context(op.provider(), op.name());
        error.scrub(&self.secrets)
    }

    /// Runs `op` from attempt number `first` up to `last` (a resend continues the count with
    /// a fresh budget).
    async fn run<O: Operation + ?Sized>(
        &self,
        op: &O,
        first: u32,
        last: u32,
        started: tokio::time::Instant,
        mut after_ambiguous: bool,
    ) -> Result<O::Output, Error> {
        let mut number = first;
        loop {
            let attempt =
                Attempt::new(number, self.clock.now(), after_ambiguous).with_last(number >= last);
            // A retry that cannot be built still follows the attempts already sent.
            let request = op.build(&attempt).map_err(|mut e| {
                e.set_attempts(number - 1);
                e
            })?;
            // The attempt gets its own limit, cut to what is left of the run's.
            let limit = match self.policy.total_timeout {
                Some(total) => self
                    .policy
                    .attempt_timeout
                    .min(total.saturating_sub(started.elapsed())),
                None => self.policy.attempt_timeout,
            };
            let sent = tokio::time::timeout(limit, self.client.send(request))
                .instrument(tracing::debug_span!("rosterkit.attempt", attempt = number))
                .await;
            let parsed = match sent {
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    tracing::debug!(attempt = number, status, "reply");
                    // Only a failure is retried, so only a failure's delay hint is read.
                    let hinted = if response.status().is_success() {
                        None
                    } else {
                        retry_after_from_headers(response.headers(), attempt.now)
                    };
                    op.parse(response, &attempt).map_err(|mut e| {
                        e.fill_retry_after(hinted);
                        e
                    })
                }
                Ok(Err(e)) => Err(transport_error(e)),
                Err(_elapsed) => Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "no complete reply within {limit:?} (the attempt's or the run's limit)"
                    ),
                )
                .with_ambiguous(true)),
            };
            // A probe has already waited the server's delay before its read.
            let (settled, probed) = match parsed {
                Ok(output) => match op.on_success(&output, &attempt) {
                    None => return Ok(output),
                    Some(probe) => (self.probe(probe, unconfirmed(number), &attempt).await, true),
                },
                Err(mut err) => {
                    err.set_attempts(number);
                    match op.on_failure(&err, &attempt) {
                        Recovery::Stop => return Err(err),
                        Recovery::Standard => {
                            let safe = !err.is_ambiguous() || op.idempotent();
                            if !err.is_retryable() || !safe {
                                return Err(err);
                            }
                            (Settled::Retry(err), false)
                        }
                        Recovery::Probe(probe) => (self.probe(probe, err, &attempt).await, true),
                    }
                }
            };
            let mut err = match settled {
                Settled::Retry(err) => err,
                Settled::Finish(result) => {
                    return result.map_err(|mut e| {
                        if e.attempts() == 0 {
                            e.set_attempts(number);
                        }
                        e
                    });
                }
                Settled::Next(_, err) => return Err(err),
                Settled::Resend(next, err) => {
                    return self
                        .resend(next, err, number, started, after_ambiguous)
                        .await;
                }
            };
            err.set_attempts(number);
            if number >= last {
                return Err(err);
            }
            let server = err.retry_after().filter(|_| !probed);
            if server.is_some_and(|d| d > self.policy.max_retry_after) {
                return Err(err);
            }
            let delay = self.policy.delay(number, server);
            if let Some(total) = self.policy.total_timeout
                && started.elapsed() + delay >= total
            {
                return Err(err);
            }
            tracing::info!(
                attempt = number,
                kind = %err.kind(),
                code = err.code(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying"
            );
            after_ambiguous |= err.is_ambiguous();
            tokio::time::sleep(delay).await;
            number += 1;
        }
    }

    /// Continues a run with the operation a probe asked for ([`Settled::Resend`]), after the
    /// backoff or the pause the error asks for (the operation's pacing), whichever is longer;
    /// an error it ends with is folded into its own output (which carries the settled items).
    fn resend<'a, T: Send + 'a>(
        &'a self,
        next: Box<dyn Operation<Output = T>>,
        mut err: Error,
        number: u32,
        started: tokio::time::Instant,
        after_ambiguous: bool,
    ) -> Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'a>> {
        // Boxed, with its type spelled out: a resent operation's run may itself resend.
        Box::pin(async move {
            err.set_attempts(number);
            let delay = self.policy.delay(number, err.retry_after());
            if let Some(total) = self.policy.total_timeout
                && started.elapsed() + delay >= total
            {
                return next.fold_error(err);
            }
            tracing::info!(
                attempt = number,
                kind = %err.kind(),
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "resending the unsettled part"
            );
            tokio::time::sleep(delay).await;
            let after_ambiguous = after_ambiguous || err.is_ambiguous();
            let last = number.saturating_add(self.policy.max_attempts);
            match self
                .run(&*next, number + 1, last, started, after_ambiguous)
                .await
            {
                Ok(output) => Ok(output),
                Err(e) => next.fold_error(e),
            }
        })
    }
}

/// The `failure` a confirming probe ([`Operation::on_success`]) gets: it stands only when the
/// read cannot be built.
fn unconfirmed(attempts: u32) -> Error {
    let mut error = Error::new(
        ErrorKind::DeliveryFailed,
        "the provider accepted the change, and the read confirming it could not be made",
    )
    .with_retryable(false)
    .with_ambiguous(false);
    error.set_attempts(attempts);
    error
}

/// What one read of [`Executor::poll`] showed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Polled<T> {
    /// Done: the poll ends with this.
    Ready(Result<T, Error>),
    /// Not yet: read again after the next wait.
    Pending,
}

impl Executor {
    /// Reads with `read` until `decide` says [`Polled::Ready`], at most `polls` times (at least
    /// once): the first read at once, then after `initial`, doubling up to `max` (tokio time, so
    /// tests pause it). Each read runs with the retry policy. `None` when every read was
    /// pending. For a provider that queues changes: waiting for one to show is the executor's
    /// wait too, not the adapter's.
    pub async fn poll<O, T>(
        &self,
        read: &O,
        polls: u32,
        initial: Duration,
        max: Duration,
        mut decide: impl FnMut(Result<O::Output, Error>) -> Polled<T>,
    ) -> Option<Result<T, Error>>
    where
        O: Operation + ?Sized,
    {
        let mut delay = initial;
        for poll in 1..=polls.max(1) {
            if poll > 1 {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2).min(max.max(initial));
            }
            if let Polled::Ready(result) = decide(self.execute(read).await) {
                return Some(result);
            }
            tracing::debug!(poll, "not there yet");
        }
        None
    }
}

/// The most reads one probe may chain ([`Settled::Next`]): a bound on a peer's `nextLink`
/// that never ends, whatever the probe itself checks.
const MAX_PROBE_READS: u32 = 1024;

impl Executor {
    /// Before a follow-up request after `failure` (a read that settles it), waits the delay
    /// the server asked for, as between attempts. `false`, without waiting, when that delay is
    /// longer than the policy honours: then no follow-up request should be sent.
    pub async fn wait_out(&self, failure: &Error) -> bool {
        match failure.retry_after() {
            Some(wait) if wait > self.policy.max_retry_after => false,
            Some(wait) => {
                tokio::time::sleep(wait).await;
                true
            }
            None => true,
        }
    }

    /// Runs a [`Recovery::Probe`]: waits the server's requested delay (none longer than the
    /// policy honours), sends each read with the attempt timeout and lets the probe settle.
    /// A probe that cannot be sent leaves the original failure standing.
    async fn probe<T>(
        &self,
        mut probe: Box<dyn Probe<T>>,
        mut failure: Error,
        after: &Attempt,
    ) -> Settled<T> {
        if !self.wait_out(&failure).await {
            return Settled::Finish(Err(failure));
        }
        for _ in 0..MAX_PROBE_READS {
            let attempt = Attempt::new(
                after.number,
                self.clock.now(),
                after.after_ambiguous_failure || failure.is_ambiguous(),
            );
            let request = match probe.build(&attempt) {
                Ok(request) => request,
                Err(e) => {
                    tracing::debug!(error = %e, "could not build the probe after a failure");
                    return Settled::Finish(Err(failure));
                }
            };
            let reply =
                match tokio::time::timeout(self.policy.attempt_timeout, self.client.send(request))
                    .instrument(tracing::debug_span!("rosterkit.probe"))
                    .await
                {
                    Ok(Ok(response)) => Ok(response),
                    Ok(Err(e)) => Err(transport_error(e)),
                    Err(_elapsed) => Err(Error::new(
                        ErrorKind::Timeout,
                        "no complete reply to the probe within the attempt timeout",
                    )),
                };
            match probe.settle(reply, &attempt, failure) {
                Settled::Next(next, original) => {
                    probe = next;
                    failure = original;
                }
                settled => return settled,
            }
        }
        Settled::Finish(Err(failure))
    }
}

/// The options every provider client's builder embeds (as the Azure SDK's clients embed
/// `ClientOptions`): transport, retry policy, clock, the insecure-http switch and pacing. The
/// one place that turns them into an [`Executor`]: the given [`HttpClient`] or, with the
/// `reqwest` feature, a [`crate::ReqwestClient`] honouring `allow_insecure_http`.
///
/// ```
/// use std::time::Duration;
/// use rosterkit_core::{ClientOptions, Pacing, RetryPolicy};
/// let options = ClientOptions::default()
///     .retry_policy(RetryPolicy::no_retries())
///     .pacing(Duration::from_secs(2));
/// assert_eq!(options.pacing_or(Pacing::off()), Pacing::from(Duration::from_secs(2)));
/// let executor = options.build("demo")?;
/// assert_eq!(executor.retry_policy().max_attempts, 1);
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct ClientOptions {
    http_client: Option<Arc<dyn HttpClient>>,
    retry_policy: Option<RetryPolicy>,
    clock: Option<Arc<dyn Clock>>,
    allow_insecure_http: bool,
    pacing: Option<Pacing>,
    confirm: Confirm,
    secrets: Vec<Secret>,
}

/// Whether a change the provider accepted without saying what it did (Z-API's
/// `{"value": true}`) is confirmed by reading the roster back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirm {
    /// Report what the provider said ([`crate::Outcome::Unconfirmed`]); no extra request.
    #[default]
    Trust,
    /// Read the roster after each change (one more request) to report `Applied` or the
    /// failure.
    ReadBack,
}

/// What every provider client's builder offers beyond its own credentials: a base URL and the
/// embedded [`ClientOptions`]. Lets provider-agnostic code (the facade's `connect`) configure
/// any builder the same way.
pub trait ClientBuilder: Sized {
    /// The client built.
    type Client;

    /// Sets the API base URL.
    #[must_use]
    fn base_url(self, url: impl Into<String>) -> Self;

    /// Replaces the embedded options.
    #[must_use]
    fn client_options(self, options: ClientOptions) -> Self;

    /// Builds the client.
    ///
    /// # Errors
    /// `InvalidInput` naming a missing or invalid setting.
    fn build(self) -> Result<Self::Client, Error>;
}

/// The former name of [`ClientOptions`].
pub type ExecutorBuilder = ClientOptions;

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("http_client", &self.http_client)
            .field("retry_policy", &self.retry_policy)
            .field("clock", &self.clock)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("pacing", &self.pacing)
            .field("confirm", &self.confirm)
            .field("secrets", &self.secrets)
            .finish()
    }
}

impl ClientOptions {
    /// Uses `client` instead of the default reqwest client.
    #[must_use]
    pub fn http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Uses `policy` instead of [`RetryPolicy::default`].
    #[must_use]
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    /// Uses `clock` instead of the system clock.
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Allows plain `http://` to hosts that are not loopback.
    #[must_use]
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Paces the client's changes (a [`Pacing`], a [`crate::Rate`], or a `Duration` between
    /// two calls; [`Pacing::off`] for none) instead of the provider's default.
    #[must_use]
    pub fn pacing(mut self, pacing: impl Into<Pacing>) -> Self {
        self.pacing = Some(pacing.into());
        self
    }

    /// The pacing set with [`ClientOptions::pacing`], or the provider's `default`.
    pub fn pacing_or(&self, default: Pacing) -> Pacing {
        self.pacing.clone().unwrap_or(default)
    }

    /// Sets whether accepted-but-unconfirmed changes are read back ([`Confirm::Trust`] by
    /// default).
    #[must_use]
    pub fn confirm(mut self, confirm: Confirm) -> Self {
        self.confirm = confirm;
        self
    }

    /// Whether accepted-but-unconfirmed changes are read back.
    pub fn confirms(&self) -> Confirm {
        self.confirm
    }

    /// Whether plain `http://` to remote hosts is allowed (for validating a base URL).
    pub fn allows_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }

    /// Registers the client's credentials: the executor scrubs them from every error it
    /// returns ([`Executor::with_secrets`]). Each adapter's builder registers its own when it
    /// builds; callers add any other value they put on the wire.
    #[must_use]
    pub fn secrets(mut self, secrets: impl IntoIterator<Item = Secret>) -> Self {
        self.secrets.extend(secrets);
        self
    }

    /// The HTTP client to use: the given one, or the default.
    ///
    /// # Errors
    /// `InvalidInput` when none was given and the `reqwest` feature is off; `Transport` when
    /// the default client cannot be created.
    pub fn http_client_or_default(
        &self,
        provider: &'static str,
    ) -> Result<Arc<dyn HttpClient>, Error> {
        if let Some(client) = &self.http_client {
            return Ok(Arc::clone(client));
        }
        default_http_client(provider, self.allow_insecure_http)
    }

    /// The executor over [`ClientOptions::http_client_or_default`].
    ///
    /// # Errors
    /// As [`ClientOptions::http_client_or_default`].
    pub fn build(self, provider: &'static str) -> Result<Executor, Error> {
        let client = self.http_client_or_default(provider)?;
        Ok(self.build_over(client))
    }

    /// The executor over `client` (for adapters that wrap the transport).
    pub fn build_over(self, client: Arc<dyn HttpClient>) -> Executor {
        let mut executor = Executor::new(client).with_secrets(self.secrets);
        if let Some(policy) = self.retry_policy {
            executor = executor.with_retry_policy(policy);
        }
        if let Some(clock) = self.clock {
            executor = executor.with_clock(clock);
        }
        executor
    }
}

#[cfg(feature = "reqwest")]
fn default_http_client(
    provider: &'static str,
    allow_insecure_http: bool,
) -> Result<Arc<dyn HttpClient>, Error> {
    crate::ReqwestClient::builder()
        .allow_insecure_http(allow_insecure_http)
        .build()
        .map(|client| Arc::new(client) as Arc<dyn HttpClient>)
        .map_err(|e| {
            Error::new(ErrorKind::Transport, "could not create the HTTP client")
                .with_provider(provider)
                .with_source(e)
        })
}

#[cfg(not(feature = "reqwest"))]
fn default_http_client(
    provider: &'static str,
    _allow_insecure_http: bool,
) -> Result<Arc<dyn HttpClient>, Error> {
    Err(Error::invalid_input(format!(
        "no HTTP client: call .http_client(..) or enable the `reqwest` feature of rosterkit-{provider}"
    ))
    .with_provider(provider))
}

fn transport_error(e: TransportError) -> Error {
    use crate::TransportErrorKind as T;
    let sent = e.request_may_have_been_sent();
    let kind = match e.kind() {
        T::Timeout => ErrorKind::Timeout,
        T::BodyTooLarge => ErrorKind::Decode,
        T::Refused => ErrorKind::InvalidInput,
        _ => ErrorKind::Transport,
    };
    let retryable = matches!(e.kind(), T::Connect | T::Io | T::Timeout);
    Error::new(kind, e.to_string())
        .with_retryable(retryable)
        .with_ambiguous(sent)
        .with_source(e)
}
