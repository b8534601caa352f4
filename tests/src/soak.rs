//! The soak: thousands of membership operations across every provider, against the sandbox,
//! with about 30 % of them meeting an injected fault, then checked against the sandbox journal.
//!
//! Every operation gets its own chat (seeded just before), so an effect string in the journal
//! (`"chert:remove ch_X +14155550100"`) names its operation. A fault is injected per faulted
//! operation with [`Fault::path_contains`] (or [`Fault::body_contains`] for Z-API, which names
//! the group in the body). Operations run concurrently, each in its own task, through the real
//! adapters over loopback HTTP; a recording [`HttpClient`] (over [`ReqwestClient`]) notes when
//! every attempt left and what delay its reply asked for.
//!
//! What the report checks:
//!
//! - **lost = 0**: every operation ends with a definite result within its deadline, and no
//!   success is reported for a change that is not in the journal and the emulator's state.
//! - **duplicated = 0**: counted at the wire, from the journal: no mutation request of an
//!   operation reached an emulator after an earlier request of the same operation had been
//!   applied and its reply had reached the client. (A request repeated after an applied one
//!   whose reply never reached the client — dropped, or abandoned at the attempt timeout — is
//!   the client's only way to learn the outcome; it is counted apart, as
//!   `resent_after_unseen_apply`.) The recording transport tags every request with an
//!   `x-soak-request` header, which is how a journal entry is matched with what the client saw.
//! - **disagreements = 0**: a failure that says the change did not happen (not ambiguous) has
//!   no effect; a success has exactly one; no effect is applied twice; the journal agrees with
//!   the emulator's final state; a roster read lists the seeded roster.
//! - **panics = 0**: no operation task panicked, and nothing else in the process did (the
//!   sandbox included: a panic hook counts them).
//! - **hostile retry hints capped**: a 429 or 503 whose retry hint no server should send —
//!   `1e30`, `2^64 × 1000`, negative, NaN, `inf`, non-UTF-8 bytes, in `Retry-After`,
//!   `retry-after-ms` or `x-ms-retry-after-ms` — panics nothing and makes no wait longer than
//!   the clients' `max_retry_after` (a huge hint saturates and ends the retries, an unreadable
//!   one is ignored); a 429 never ends in a failure that says the change may have happened.
//! - **Retry-After honoured**: after every injected reply that asked for a delay (`Retry-After`,
//!   `retry-after-ms`, `x-ms-retry-after-ms` or a body's `error.retry_after`), the operation's
//!   next request left no sooner than that delay after the reply arrived. The delay expected is
//!   the one the soak configured for the fault it injected ([`SoakConfig::retry_after_secs`],
//!   [`SoakConfig::retry_after_ms`]), never a parse of the reply by the SDK under test.
//!
//! [`run`] is used by the bounded test (`tests/soak.rs`) and by `cargo xtask soak [--quick]`
//! (the `soak` binary).

use std::{
    collections::{BTreeMap, HashMap},
    fmt::{self, Write as _},
    panic::PanicHookInfo,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use rosterkit::{
    ChangeOptions, ChatId, Error, Handle, HttpClient, Membership, Outcome, Participant,
    ReqwestClient, RetryPolicy,
    acs::{AcsClient, Pacing},
    adapter::{
        Bytes, TransportError, async_trait,
        http::{self, HeaderName, HeaderValue},
    },
    chert::ChertClient,
    linq::LinqClient,
    zapi::ZapiClient,
};
use rosterkit_sandbox::{
    Fault, FaultAction, JournalEntry, Method, Provider, Sandbox, SandboxConfig, SandboxInfo,
    StatusCode,
};
use serde::Serialize;
use tokio::{sync::Semaphore, time::Instant};

/// How a soak runs.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SoakConfig {
    /// Operations in all, spread evenly over the providers.
    pub operations: usize,
    /// Operations in flight at once.
    pub concurrency: usize,
    /// The share of operations that meet an injected fault (0.0 to 1.0).
    pub fault_rate: f64,
    /// Seed of the plan (providers, operations, faults); timing is not reproducible.
    pub seed: u64,
    /// The clients' per-attempt timeout.
    #[serde(serialize_with = "as_millis")]
    pub attempt_timeout: Duration,
    /// How long a stall fault holds a request: beyond the attempt timeout.
    #[serde(serialize_with = "as_millis")]
    pub stall: Duration,
    /// `Retry-After` (whole seconds) of the rate-limit faults that use the seconds header.
    pub retry_after_secs: u64,
    /// The delay of the rate-limit faults that use `retry-after-ms` / `x-ms-retry-after-ms`
    /// (Linq and ACS, whose clients honour them).
    pub retry_after_ms: u64,
    /// An operation without a result after this long is lost.
    #[serde(serialize_with = "as_millis")]
    pub op_deadline: Duration,
    /// Operations per wave: the journal is checked and cleared after each wave, so memory
    /// stays flat in long runs.
    pub wave: usize,
    /// List the first failed operations in the summary.
    pub verbose: bool,
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl SoakConfig {
    /// The bounded test's run: 800 operations, short delays (a debug build on 2 cores finishes
    /// it in seconds).
    pub fn bounded() -> Self {
        Self {
            operations: 800,
            concurrency: 48,
            fault_rate: 0.30,
            seed: 0x50A4_0001,
            attempt_timeout: Duration::from_millis(300),
            stall: Duration::from_millis(450),
            retry_after_secs: 1,
            retry_after_ms: 250,
            op_deadline: Duration::from_secs(30),
            wave: 800,
            verbose: false,
        }
    }

    /// `cargo xtask soak --quick`: 6,000 operations.
    pub fn quick() -> Self {
        Self {
            operations: 6_000,
            concurrency: 96,
            seed: 0x50A4_0002,
            wave: 3_000,
            ..Self::bounded()
        }
    }

    /// `cargo xtask soak`: 50,000 operations.
    pub fn full() -> Self {
        Self {
            operations: 50_000,
            concurrency: 128,
            seed: 0x50A4_0003,
            wave: 5_000,
            ..Self::bounded()
        }
    }

    /// Returns the config with `operations` operations.
    #[must_use]
    pub fn with_operations(mut self, operations: usize) -> Self {
        self.operations = operations;
        self
    }

    /// Returns the config with the first failed operations listed in the summary.
    #[must_use]
    pub fn with_verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Returns the config with this plan seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// The providers the soak drives, in plan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Prov {
    Chert,
    Linq,
    Zapi,
    Acs,
}

impl Prov {
    const ALL: [Prov; 4] = [Prov::Chert, Prov::Linq, Prov::Zapi, Prov::Acs];

    fn name(self) -> &'static str {
        match self {
            Prov::Chert => "chert",
            Prov::Linq => "linq",
            Prov::Zapi => "zapi",
            Prov::Acs => "acs",
        }
    }

    fn sandbox(self) -> Provider {
        match self {
            Prov::Chert => Provider::Chert,
            Prov::Linq => Provider::Linq,
            Prov::Zapi => Provider::Zapi,
            Prov::Acs => Provider::Acs,
        }
    }

    /// The operations it supports, with their weights.
    fn kinds(self) -> &'static [(Kind, u32)] {
        match self {
            // Chert has no roster read.
            Prov::Chert => &[(Kind::Remove, 45), (Kind::Add, 30), (Kind::Leave, 25)],
            _ => &[
                (Kind::Remove, 35),
                (Kind::Add, 25),
                (Kind::Leave, 15),
                (Kind::List, 25),
            ],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Remove,
    Add,
    Leave,
    List,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Remove => "remove",
            Kind::Add => "add",
            Kind::Leave => "leave",
            Kind::List => "list",
        }
    }

    /// The HTTP method of the operation's own request on `prov`.
    fn method(self, prov: Prov) -> Method {
        match (prov, self) {
            (_, Kind::List) => Method::GET,
            (Prov::Chert | Prov::Linq, Kind::Remove) => Method::DELETE,
            _ => Method::POST,
        }
    }
}

/// The faults of the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum FaultType {
    /// 429 with `Retry-After` in seconds (and Chert's and Linq's body `retry_after`).
    RateLimited,
    /// 429 with `retry-after-ms` (Linq) or `x-ms-retry-after-ms` (ACS).
    RateLimitedMs,
    /// 503 in the provider's format.
    Unavailable,
    /// 503 with a retry delay, more times than the client has attempts: the retries run out
    /// and the adapters' own follow-ups (ensure-mode reads and repeats) must wait too.
    UnavailablePersistent,
    /// Chert 502 / 4001 "delivery failed".
    ChertDeliveryFailed,
    /// The connection closes before the request is handled.
    DropBeforeReply,
    /// The request is handled (the change applied), then the connection closes unanswered.
    DropAfterApply,
    /// The reply comes after the client's attempt timeout (the request is then handled).
    Stall,
    /// Syntactically broken JSON.
    MalformedJson,
    /// JSON cut in the middle.
    TruncatedJson,
    /// An HTML page where JSON was expected.
    WrongContentType,
    /// A 2 MiB body, over the client's 1 MiB cap.
    HugeBody,
    /// 429 or 503 with a hostile retry hint ([`hostile_hint`]).
    HostileRetryHint,
}

impl FaultType {
    const ALL: [FaultType; 13] = [
        FaultType::RateLimited,
        FaultType::RateLimitedMs,
        FaultType::Unavailable,
        FaultType::UnavailablePersistent,
        FaultType::ChertDeliveryFailed,
        FaultType::DropBeforeReply,
        FaultType::DropAfterApply,
        FaultType::Stall,
        FaultType::MalformedJson,
        FaultType::TruncatedJson,
        FaultType::WrongContentType,
        FaultType::HugeBody,
        FaultType::HostileRetryHint,
    ];

    fn name(self) -> &'static str {
        match self {
            FaultType::RateLimited => "429_retry_after",
            FaultType::RateLimitedMs => "429_retry_after_ms",
            FaultType::Unavailable => "503",
            FaultType::UnavailablePersistent => "503_persistent_retry_after",
            FaultType::ChertDeliveryFailed => "chert_502_4001_delivery_failed",
            FaultType::DropBeforeReply => "drop_before_reply",
            FaultType::DropAfterApply => "drop_after_apply",
            FaultType::Stall => "stall_past_attempt_timeout",
            FaultType::MalformedJson => "malformed_json",
            FaultType::TruncatedJson => "truncated_json",
            FaultType::WrongContentType => "wrong_content_type",
            FaultType::HugeBody => "body_2mib",
            FaultType::HostileRetryHint => "hostile_retry_hint",
        }
    }

    /// Whether the fault makes sense for this provider and operation.
    fn applies(self, prov: Prov, kind: Kind) -> bool {
        match self {
            FaultType::RateLimitedMs => matches!(prov, Prov::Linq | Prov::Acs),
            FaultType::ChertDeliveryFailed => prov == Prov::Chert && kind != Kind::List,
            _ => true,
        }
    }
}

/// One planned operation.
#[derive(Debug, Clone)]
struct Planned {
    prov: Prov,
    kind: Kind,
    ensure: bool,
    fault: Option<(FaultType, u32)>,
}

/// One seeded operation: its chat and what it acts on.
#[derive(Debug, Clone)]
struct Op {
    index: usize,
    plan: Planned,
    /// The chat id as the client takes it.
    chat: String,
    /// The key of the chat in paths, bodies and effects ([`chat_key`]).
    key: String,
    /// The handle the client sends (remove, add), as text.
    target: Option<String>,
    /// The target as the emulator stores it.
    target_state: Option<String>,
    /// Roster size a list must return.
    expected_roster: usize,
}

/// What an operation ended with.
#[derive(Debug, Clone)]
struct OpResult {
    /// `applied`, `queued`, `already_done`, `unconfirmed`, `listed`, `failed:<kind>`,
    /// `lost`, `panicked`.
    outcome: String,
    ok: bool,
    ambiguous: bool,
    listed: Option<usize>,
    error: Option<String>,
}

/// One request as the recording client saw it.
#[derive(Debug, Clone)]
struct Exchange {
    /// The value of its [`REQUEST_ID`] header, which the journal entry of it carries too.
    id: u64,
    op: Option<usize>,
    method: String,
    path: String,
    sent: Instant,
    done: Instant,
    /// The reply's status; `None` when no reply reached the client (a transport error, or
    /// the attempt timed out).
    status: Option<u16>,
}

/// The header by which the recording transport tags each request, so that its journal entry
/// can be matched with what the client saw.
const REQUEST_ID: &str = "x-soak-request";

tokio::task_local! {
    /// The operation a request belongs to.
    static OP: usize;
}

/// An [`HttpClient`] over [`ReqwestClient`] that tags and records every request: when it
/// left, and when and with what status the reply (or the failure) came.
#[derive(Debug)]
struct Recording {
    inner: ReqwestClient,
    next_id: AtomicU64,
    log: Mutex<Vec<Exchange>>,
}

/// Records an exchange when dropped, so a request abandoned by the attempt timeout is kept.
struct Pending<'a> {
    log: &'a Mutex<Vec<Exchange>>,
    exchange: Option<Exchange>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut exchange) = self.exchange.take() {
            exchange.done = Instant::now();
            lock(self.log).push(exchange);
        }
    }
}

#[async_trait]
impl HttpClient for Recording {
    async fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), HeaderValue::from(id));
        let now = Instant::now();
        let mut pending = Pending {
            log: &self.log,
            exchange: Some(Exchange {
                id,
                op: OP.try_with(|op| *op).ok(),
                method: request.method().as_str().to_owned(),
                path: request.uri().path().to_owned(),
                sent: now,
                done: now,
                status: None,
            }),
        };
        let result = self.inner.send(request).await;
        if let (Some(exchange), Ok(reply)) = (pending.exchange.as_mut(), &result) {
            exchange.status = Some(reply.status().as_u16());
        }
        drop(pending);
        result
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The figures of a soak run; [`SoakReport::passed`] says whether it met the bar.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct SoakReport {
    /// Operations run.
    pub operations: usize,
    /// Operations per provider.
    pub operations_by_provider: BTreeMap<String, usize>,
    /// Operations per kind (`remove`, `add`, `leave`, `list`).
    pub operations_by_kind: BTreeMap<String, usize>,
    /// Mutations run in ensure mode.
    pub ensure_mode: usize,
    /// Operations that met an injected fault.
    pub faulted_operations: usize,
    /// Injected faults by type: operations it was planned for.
    pub faults_injected: BTreeMap<String, usize>,
    /// Injected faults by type: requests it intercepted (from the journal).
    pub faults_fired: BTreeMap<String, usize>,
    /// Final results by kind: `applied`, `queued`, `already_done`, `unconfirmed`, `listed`,
    /// `failed:<error kind>`.
    pub outcomes: BTreeMap<String, usize>,
    /// Final results by injected fault type (`none` for operations without a fault).
    pub outcomes_by_fault: BTreeMap<String, BTreeMap<String, usize>>,
    /// Failures that said the change may have happened.
    pub failed_ambiguous: usize,
    /// Of those, the ones whose change had in fact been applied.
    pub failed_ambiguous_applied: usize,
    /// Requests sent.
    pub requests: usize,
    /// Requests per operation as they reached the emulators (from the journal): how many
    /// operations made 1, 2, ... requests.
    pub requests_per_operation: BTreeMap<usize, usize>,
    /// The most requests one operation made.
    pub max_requests_per_operation: usize,
    /// Requests that repeated an operation's own request (retries).
    pub retries: usize,
    /// Operations without a definite result: no result within the deadline, or a success
    /// reported for a change that never happened.
    pub lost: usize,
    /// Mutation requests that reached an emulator after an earlier request of the same
    /// operation had been applied and its reply had reached the client (from the journal).
    pub duplicated: usize,
    /// Mutation requests that reached an emulator after an earlier request of the same
    /// operation had been applied but its reply never reached the client (dropped, or
    /// abandoned at the attempt timeout): the client could not know. Not a failure.
    pub resent_after_unseen_apply: usize,
    /// Results that disagree with the journal or the emulators' state.
    pub disagreements: usize,
    /// Panics anywhere in the process (operation tasks, the sandbox).
    pub panics: usize,
    /// Injected replies that asked for a delay (counted from the journal).
    pub retry_after_replies: usize,
    /// Of those, the ones followed by another request of the same operation.
    pub retry_after_waits: usize,
    /// Of those, the ones whose next request waited at least the delay the soak configured
    /// for the injected fault.
    pub retry_after_honoured: usize,
    /// The smallest margin by which a wait exceeded the delay asked, in milliseconds.
    pub retry_after_min_margin_ms: Option<u64>,
    /// Injected replies with a hostile retry hint (counted from the journal).
    pub hostile_hint_replies: usize,
    /// Of those, the ones followed by another request of the same operation.
    pub hostile_hint_waits: usize,
    /// Of those, the ones whose next request left within the cap (the clients' `max_retry_after`
    /// plus 1 s of slack).
    pub hostile_hint_capped: usize,
    /// The longest wait after a hostile retry hint, in milliseconds.
    pub hostile_hint_max_wait_ms: Option<u64>,
    /// Requests or effects that could not be tied to an operation.
    pub unattributed: usize,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
    /// The first problems found, one line each.
    pub problems: Vec<String>,
    /// The first failed operations, with their fault and error (failures are expected: a
    /// fault that is not retryable ends its operation; they are listed for review).
    pub failures: Vec<String>,
    /// The configuration.
    pub config: Option<SoakConfig>,
}

/// At most this many problem lines are kept.
const MAX_PROBLEMS: usize = 40;
/// At most this many failure lines are kept.
const MAX_FAILURES: usize = 100;

impl SoakReport {
    /// Whether the run met the bar: nothing lost, duplicated or inconsistent, no panic, every
    /// wait honoured `Retry-After`, and every operation accounted for.
    pub fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.disagreements == 0
            && self.panics == 0
            && self.retry_after_honoured == self.retry_after_waits
            && self.hostile_hint_capped == self.hostile_hint_waits
            && self.unattributed == 0
            && self.outcomes.values().sum::<usize>() == self.operations
    }

    fn problem(&mut self, line: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(line);
        }
    }

    /// The summary as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = self.write_to(&mut out);
        out
    }

    fn write_to(&self, out: &mut String) -> fmt::Result {
        let map = |m: &BTreeMap<String, usize>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            out,
            "soak: {} operations in {:.1} s ({})",
            self.operations,
            self.elapsed_ms as f64 / 1000.0,
            map(&self.operations_by_provider)
        )?;
        writeln!(
            out,
            "  kinds:     {} (ensure mode: {})",
            map(&self.operations_by_kind),
            self.ensure_mode
        )?;
        writeln!(
            out,
            "  faults:    {} operations ({:.1} %) faulted",
            self.faulted_operations,
            100.0 * self.faulted_operations as f64 / self.operations.max(1) as f64
        )?;
        for (name, ops) in &self.faults_injected {
            writeln!(
                out,
                "    {name:<34} {ops:>6} ops, {:>6} requests hit",
                self.faults_fired.get(name).copied().unwrap_or(0)
            )?;
        }
        writeln!(out, "  outcomes:")?;
        for (name, n) in &self.outcomes {
            writeln!(out, "    {name:<34} {n:>6}")?;
        }
        writeln!(
            out,
            "    (failures marked ambiguous: {}, of which applied: {})",
            self.failed_ambiguous, self.failed_ambiguous_applied
        )?;
        writeln!(out, "  outcomes by fault:")?;
        for (fault, outcomes) in &self.outcomes_by_fault {
            writeln!(out, "    {fault:<34} {}", map(outcomes))?;
        }
        writeln!(
            out,
            "  requests {}, retries {}; requests per operation: max {} ({})",
            self.requests,
            self.retries,
            self.max_requests_per_operation,
            self.requests_per_operation
                .iter()
                .map(|(n, ops)| format!("{n}: {ops} ops"))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            out,
            "  Retry-After: {} replies asked for a delay, {} were followed by a retry, {} of those waited long enough (min margin {} ms)",
            self.retry_after_replies,
            self.retry_after_waits,
            self.retry_after_honoured,
            self.retry_after_min_margin_ms
                .map_or_else(|| "-".to_owned(), |m| m.to_string())
        )?;
        writeln!(
            out,
            "  hostile retry hints: {} replies, {} followed by a retry, {} of those within {:?} (longest wait {} ms)",
            self.hostile_hint_replies,
            self.hostile_hint_waits,
            self.hostile_hint_capped,
            HOSTILE_WAIT_CAP,
            self.hostile_hint_max_wait_ms
                .map_or_else(|| "-".to_owned(), |m| m.to_string())
        )?;
        writeln!(
            out,
            "  resent after an applied request whose reply was lost: {}",
            self.resent_after_unseen_apply
        )?;
        writeln!(
            out,
            "  lost = {}, duplicated = {}, disagreements = {}, panics = {}, unattributed = {}",
            self.lost, self.duplicated, self.disagreements, self.panics, self.unattributed
        )?;
        if self.config.as_ref().is_some_and(|c| c.verbose) {
            for f in &self.failures {
                writeln!(out, "  - {f}")?;
            }
        }
        for p in &self.problems {
            writeln!(out, "  ! {p}")?;
        }
        writeln!(
            out,
            "  result: {}",
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

/// Counts panics anywhere in the process while alive; puts the previous hook back on drop.
struct PanicCounter {
    count: Arc<AtomicUsize>,
    previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync>,
}

impl PanicCounter {
    fn install() -> Self {
        let previous: Arc<dyn Fn(&PanicHookInfo<'_>) + Send + Sync> =
            Arc::from(std::panic::take_hook());
        let count = Arc::new(AtomicUsize::new(0));
        let (c, p) = (Arc::clone(&count), Arc::clone(&previous));
        std::panic::set_hook(Box::new(move |info| {
            c.fetch_add(1, Ordering::SeqCst);
            p(info);
        }));
        Self { count, previous }
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

impl Drop for PanicCounter {
    fn drop(&mut self) {
        let previous = Arc::clone(&self.previous);
        std::panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// The clients, all over one recording transport.
struct Clients {
    http: Arc<Recording>,
    /// What the clients send through: the recording transport, or a wrapper around it.
    transport: Arc<dyn HttpClient>,
    policy: RetryPolicy,
    info: SandboxInfo,
    chert: ChertClient,
    linq: LinqClient,
    acs: AcsClient,
}

impl Clients {
    fn new(info: SandboxInfo, config: &SoakConfig, wrap: Wrap) -> Result<Self, String> {
        let inner = ReqwestClient::builder()
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        let http = Arc::new(Recording {
            inner,
            next_id: AtomicU64::new(1),
            log: Mutex::new(Vec::new()),
        });
        let policy = RetryPolicy::default()
            .with_max_attempts(MAX_ATTEMPTS)
            .with_backoff(Duration::from_millis(20), Duration::from_millis(200))
            .with_attempt_timeout(config.attempt_timeout)
            .with_max_retry_after(MAX_RETRY_AFTER);
        let transport = wrap(http.clone());
        let chert = ChertClient::builder()
            .base_url(info.chert.base_url.clone())
            .tenant(info.chert.tenant.clone())
            .signing_secret(info.chert.signing_secret.clone())
            .retry_policy(policy.clone())
            .http_client(Arc::clone(&transport))
            .build()
            .map_err(|e| format!("chert client: {e}"))?;
        let linq = LinqClient::builder()
            .base_url(info.linq.base_url.clone())
            .api_key(info.linq.api_key.clone())
            .retry_policy(policy.clone())
            .http_client(Arc::clone(&transport))
            .build()
            .map_err(|e| format!("linq client: {e}"))?;
        let acs = AcsClient::builder()
            .base_url(info.acs.endpoint.clone())
            .user_token(info.acs.user_token.clone())
            .user_id(info.acs.user_id.clone())
            .pacing(Pacing::off())
            .retry_policy(policy.clone())
            .http_client(Arc::clone(&transport))
            .build()
            .map_err(|e| format!("acs client: {e}"))?;
        Ok(Self {
            http,
            transport,
            policy,
            info,
            chert,
            linq,
            acs,
        })
    }

    /// A Z-API client for one operation: Z-API clients run their mutations one at a time
    /// (pacing), so concurrent operations each get their own, over the shared transport.
    /// `verify`: confirm each `value: true` with a roster read.
    fn zapi(&self, verify: bool) -> Result<ZapiClient, Error> {
        let transport = Arc::clone(&self.transport);
        ZapiClient::builder()
            .base_url(self.info.zapi.base_url.clone())
            .instance_id(self.info.zapi.instance_id.clone())
            .instance_token(self.info.zapi.instance_token.clone())
            .client_token(self.info.zapi.client_token.clone())
            .pacing(Duration::ZERO)
            .verify(verify)
            .retry_policy(self.policy.clone())
            .http_client(transport)
            .build()
    }
}

/// Attempts per executor run.
const MAX_ATTEMPTS: u32 = 5;
/// The longest server-requested wait the soak's clients honour with a retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);
/// The longest wait allowed after a hostile retry hint: [`MAX_RETRY_AFTER`], plus slack for a
/// loaded machine. A hint the clients honour is at most `MAX_RETRY_AFTER` (a longer one ends
/// the retries), and an unreadable one is ignored (backoff, at most 200 ms).
const HOSTILE_WAIT_CAP: Duration = Duration::from_secs(6);

/// Retry hints no server should send (issue #16): huge, negative, NaN, infinite, tiny, and not
/// UTF-8. Each must be saturated or ignored, never honoured as asked or panicked on.
const HOSTILE_HINTS: [&[u8]; 10] = [
    b"1e30",
    b"18446744073709551615000",
    b"-5",
    b"NaN",
    b"inf",
    b"-1e30",
    b"\xff\xfe1",
    b"1\xc3\x28",
    b"99999999999999999999999999999999999999999999999999",
    b"1e-320",
];
/// The three spellings of a retry hint.
const HINT_HEADERS: [&str; 3] = ["retry-after-ms", "x-ms-retry-after-ms", "retry-after"];

/// The hostile hint of an operation: 429 or 503, a spelling and a value, spread over the
/// operations by their index.
fn hostile_hint(index: usize) -> (StatusCode, &'static str, &'static [u8]) {
    let status = if index.is_multiple_of(2) {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let header = HINT_HEADERS[(index / 2) % HINT_HEADERS.len()];
    let value = HOSTILE_HINTS[(index / 6) % HOSTILE_HINTS.len()];
    (status, header, value)
}

const CHERT_MEMBERS: [&str; 3] = ["+14155550200", "+14155550300", "+14155550400"];
const CHERT_TARGET: &str = "+14155550100";
const CHERT_NEW: &str = "+14155550199";
const LINQ_MEMBERS: [&str; 3] = ["+12025550102", "+12025550103", "+12025550104"];
const LINQ_TARGET: &str = "+12025550101";
const LINQ_NEW: &str = "+12025550199";
const ZAPI_MEMBERS: [&str; 3] = ["5544999990002", "5544999990003", "5544999990004"];
const ZAPI_TARGET: &str = "5544999990001";
const ZAPI_NEW: &str = "5544999990099";
const ACS_MEMBERS: [&str; 3] = ["8:acs:soak_2", "8:acs:soak_3", "8:acs:soak_4"];
const ACS_TARGET: &str = "8:acs:soak_1";
const ACS_NEW: &str = "8:acs:soak_9";

/// The key naming a chat in paths, bodies and effects: the id itself, except an ACS thread
/// (`19:<hex>@thread.v2`, percent-encoded in paths), whose key is its hex part.
fn chat_key(token: &str) -> &str {
    for prefix in ["19:", "19%3A", "19%3a"] {
        if let Some(rest) = token.strip_prefix(prefix) {
            let end = rest.find(['@', '%']).unwrap_or(rest.len());
            return rest.get(..end).unwrap_or(rest);
        }
    }
    token
}

/// Plans the operations: provider round-robin, kinds by weight, faults at `fault_rate`.
fn plan(config: &SoakConfig) -> Vec<Planned> {
    let mut rng = fastrand::Rng::with_seed(config.seed);
    (0..config.operations)
        .map(|i| {
            let prov = Prov::ALL
                .get(i % Prov::ALL.len())
                .copied()
                .unwrap_or(Prov::Chert);
            let kinds = prov.kinds();
            let total: u32 = kinds.iter().map(|(_, w)| w).sum();
            let mut pick = rng.u32(0..total.max(1));
            let mut kind = Kind::Remove;
            for (k, w) in kinds {
                if pick < *w {
                    kind = *k;
                    break;
                }
                pick -= w;
            }
            let ensure = kind != Kind::List && rng.f64() < 0.85;
            let fault = (rng.f64() < config.fault_rate).then(|| {
                let choices: Vec<FaultType> = FaultType::ALL
                    .into_iter()
                    .filter(|f| f.applies(prov, kind))
                    .collect();
                let fault = choices
                    .get(rng.usize(0..choices.len()))
                    .copied()
                    .unwrap_or(FaultType::DropBeforeReply);
                let times = match fault {
                    FaultType::RateLimited
                    | FaultType::RateLimitedMs
                    | FaultType::Unavailable
                    | FaultType::HostileRetryHint => rng.u32(1..=2),
                    // One more than the attempts of a run: it outlasts the executor's retries.
                    FaultType::UnavailablePersistent => MAX_ATTEMPTS + 1,
                    _ => 1,
                };
                (fault, times)
            });
            Planned {
                prov,
                kind,
                ensure,
                fault,
            }
        })
        .collect()
}

/// Seeds the chat of one operation.
fn seed(sandbox: &Sandbox, index: usize, plan: Planned) -> Op {
    let with = |first: &str, rest: &[&str]| -> Vec<String> {
        std::iter::once(first)
            .chain(rest.iter().copied())
            .map(str::to_owned)
            .collect()
    };
    let (members, target, target_state): (Vec<String>, Option<&str>, Option<&str>) =
        match (plan.prov, plan.kind) {
            (Prov::Chert, Kind::Remove) => (
                with(CHERT_TARGET, &CHERT_MEMBERS),
                Some(CHERT_TARGET),
                Some(CHERT_TARGET),
            ),
            (Prov::Chert, Kind::Add) => (
                CHERT_MEMBERS.map(str::to_owned).to_vec(),
                Some(CHERT_NEW),
                Some(CHERT_NEW),
            ),
            (Prov::Chert, _) => (CHERT_MEMBERS.map(str::to_owned).to_vec(), None, None),
            (Prov::Linq, Kind::Remove) => (
                with(LINQ_TARGET, &LINQ_MEMBERS),
                Some(LINQ_TARGET),
                Some(LINQ_TARGET),
            ),
            (Prov::Linq, Kind::Add) => (
                with("+12025550105", &LINQ_MEMBERS),
                Some(LINQ_NEW),
                Some(LINQ_NEW),
            ),
            (Prov::Linq, _) => (with("+12025550105", &LINQ_MEMBERS), None, None),
            (Prov::Zapi, Kind::Remove) => (
                with(ZAPI_TARGET, &ZAPI_MEMBERS),
                Some("+5544999990001"),
                Some(ZAPI_TARGET),
            ),
            (Prov::Zapi, Kind::Add) => (
                ZAPI_MEMBERS.map(str::to_owned).to_vec(),
                Some("+5544999990099"),
                Some(ZAPI_NEW),
            ),
            (Prov::Zapi, _) => (with(ZAPI_TARGET, &ZAPI_MEMBERS), None, None),
            (Prov::Acs, Kind::Remove) => (
                with(ACS_TARGET, &ACS_MEMBERS),
                Some(ACS_TARGET),
                Some(ACS_TARGET),
            ),
            (Prov::Acs, Kind::Add) => (
                ACS_MEMBERS.map(str::to_owned).to_vec(),
                Some(ACS_NEW),
                Some(ACS_NEW),
            ),
            (Prov::Acs, _) => (with(ACS_TARGET, &ACS_MEMBERS), None, None),
        };
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let (chat, expected_roster) = match plan.prov {
        Prov::Chert => (sandbox.chert().create_group(&refs), 0),
        Prov::Linq => {
            let id = sandbox.linq().create_group(&refs);
            let n = sandbox.linq().active_handles(&id).map_or(0, |h| h.len());
            (id, n)
        }
        Prov::Zapi => {
            let id = sandbox.zapi().create_group(&refs);
            let n = sandbox.zapi().members(&id).map_or(0, |m| m.len());
            (id, n)
        }
        Prov::Acs => {
            let id = sandbox.acs().create_thread(&refs);
            let n = sandbox.acs().participants(&id).map_or(0, |p| p.len());
            (id, n)
        }
    };
    Op {
        index,
        key: chat_key(&chat).to_owned(),
        chat,
        target: target.map(str::to_owned),
        target_state: target_state.map(str::to_owned),
        expected_roster,
        plan,
    }
}

/// A JSON reply with this status and body.
fn json(status: StatusCode, body: impl Into<Bytes>) -> FaultAction {
    FaultAction::json(status, body)
}

/// Adds a header to a `Respond` action.
fn with_header(action: FaultAction, name: &str, value: String) -> FaultAction {
    match action {
        FaultAction::Respond {
            status,
            mut headers,
            body,
        } => {
            headers.push((name.to_owned(), value));
            FaultAction::Respond {
                status,
                headers,
                body,
            }
        }
        other => other,
    }
}

/// A plausible success body of the operation, to break.
fn success_body(op: &Op) -> String {
    let chat = &op.chat;
    match (op.plan.prov, op.plan.kind) {
        (Prov::Chert, Kind::Leave) => format!(r#"{{"chat_id":"{chat}","status":"left"}}"#),
        (Prov::Chert, _) => format!(
            r#"{{"chat_id":"{chat}","removed":"{CHERT_TARGET}","participants":["+14155550200","+14155550300","+14155550400"]}}"#
        ),
        (Prov::Zapi, Kind::List) => format!(
            r#"{{"phone":"{chat}","owner":"5511999999999","subject":"soak","participants":[{{"phone":"5511999999999","isAdmin":true,"isSuperAdmin":true}},{{"phone":"{ZAPI_TARGET}","isAdmin":false,"isSuperAdmin":false}}]}}"#
        ),
        (Prov::Zapi, _) => r#"{"value":true}"#.to_owned(),
        (Prov::Linq, _) => format!(
            r#"{{"id":"{chat}","display_name":null,"service":"iMessage","handles":[{{"handle":"{LINQ_TARGET}","status":"active","is_me":false}}],"is_group":true}}"#
        ),
        (Prov::Acs, _) => format!(
            r#"{{"value":[{{"communicationIdentifier":{{"rawId":"{ACS_TARGET}","communicationUser":{{"id":"{ACS_TARGET}"}}}},"shareHistoryTime":"2025-01-01T00:00:00Z"}}]}}"#
        ),
    }
}

/// A plausible error body of the provider, to break.
fn error_body(prov: Prov) -> &'static str {
    match prov {
        Prov::Chert => {
            r#"{"success":false,"error":{"status":500,"code":3001,"message":"internal error","retryable":true},"trace_id":"0123456789abcdef"}"#
        }
        Prov::Linq => {
            r#"{"success":false,"error":{"status":500,"code":3001,"message":"Internal server error","doc_url":"https://docs.linqapp.com/error/codes/3xxx/3001/"},"trace_id":"t"}"#
        }
        Prov::Zapi => r#"{"error":"Internal server error"}"#,
        Prov::Acs => {
            r#"{"error":{"code":"InternalServerError","message":"An internal error occurred."}}"#
        }
    }
}

/// Whether a success reply of this operation must carry a body its client reads: then a
/// broken body can go on the success status without claiming a success. Linq's 202 is
/// "accepted" whatever the body, and ACS's mutations answer 204/201, so theirs go on a 5xx.
fn success_needs_body(op: &Op) -> bool {
    op.plan.kind == Kind::List || matches!(op.plan.prov, Prov::Chert | Prov::Zapi)
}

/// The delay the reply of an injected fault asks for, as the soak configured it (the value
/// [`action`] writes into the reply's header or body): what the client must wait, judged
/// without the SDK's own reading of the reply.
fn injected_delay(prov: Prov, fault: FaultType, config: &SoakConfig) -> Option<Duration> {
    let secs = Duration::from_secs(config.retry_after_secs);
    let ms = Duration::from_millis(config.retry_after_ms);
    match (fault, prov) {
        (FaultType::RateLimited, _)
        | (FaultType::UnavailablePersistent, Prov::Chert | Prov::Zapi) => Some(secs),
        (FaultType::RateLimitedMs, _)
        | (FaultType::UnavailablePersistent, Prov::Linq | Prov::Acs) => Some(ms),
        _ => None,
    }
}

/// The fault action of one planned fault.
fn action(op: &Op, fault: FaultType, config: &SoakConfig) -> FaultAction {
    let secs = config.retry_after_secs;
    let ms = config.retry_after_ms;
    let prov = op.plan.prov;
    let on_success = success_needs_body(op);
    match fault {
        FaultType::RateLimited => match prov {
            Prov::Chert => {
                FaultAction::chert_error(StatusCode::TOO_MANY_REQUESTS, 1007, true, Some(secs))
            }
            Prov::Linq => FaultAction::linq_error(StatusCode::TOO_MANY_REQUESTS, 1007, Some(secs)),
            Prov::Zapi => with_header(
                FaultAction::zapi_error(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
                "retry-after",
                secs.to_string(),
            ),
            Prov::Acs => FaultAction::acs_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                None,
                Some(secs),
            ),
        },
        FaultType::RateLimitedMs => match prov {
            Prov::Acs => with_header(
                FaultAction::acs_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    None,
                    None,
                ),
                "x-ms-retry-after-ms",
                ms.to_string(),
            ),
            _ => with_header(
                FaultAction::linq_error(StatusCode::TOO_MANY_REQUESTS, 1007, None),
                "retry-after-ms",
                ms.to_string(),
            ),
        },
        FaultType::Unavailable => match prov {
            Prov::Chert => {
                FaultAction::chert_error(StatusCode::SERVICE_UNAVAILABLE, 3002, true, None)
            }
            Prov::Linq => FaultAction::linq_error(StatusCode::SERVICE_UNAVAILABLE, 4004, None),
            Prov::Zapi => FaultAction::status(StatusCode::SERVICE_UNAVAILABLE),
            Prov::Acs => FaultAction::acs_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                None,
                None,
            ),
        },
        FaultType::UnavailablePersistent => match prov {
            Prov::Chert => {
                FaultAction::chert_error(StatusCode::SERVICE_UNAVAILABLE, 3002, true, Some(secs))
            }
            Prov::Linq => with_header(
                FaultAction::linq_error(StatusCode::SERVICE_UNAVAILABLE, 4004, None),
                "retry-after-ms",
                ms.to_string(),
            ),
            Prov::Zapi => with_header(
                FaultAction::status(StatusCode::SERVICE_UNAVAILABLE),
                "retry-after",
                secs.to_string(),
            ),
            Prov::Acs => with_header(
                FaultAction::acs_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    None,
                    None,
                ),
                "x-ms-retry-after-ms",
                ms.to_string(),
            ),
        },
        FaultType::ChertDeliveryFailed => {
            FaultAction::chert_error(StatusCode::BAD_GATEWAY, 4001, true, None)
        }
        FaultType::DropBeforeReply => FaultAction::DropConnection,
        FaultType::DropAfterApply => FaultAction::DropAfterApply,
        FaultType::Stall => FaultAction::Latency(config.stall),
        FaultType::MalformedJson => {
            if on_success {
                let body = success_body(op).replacen(':', ": ,", 1);
                json(StatusCode::OK, body)
            } else {
                let body = error_body(prov).replacen(':', ":: ", 1);
                json(StatusCode::BAD_GATEWAY, body)
            }
        }
        FaultType::TruncatedJson => {
            let (status, body) = if on_success {
                (StatusCode::OK, success_body(op))
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    error_body(prov).to_owned(),
                )
            };
            let cut = body.len() / 2;
            json(status, body.get(..cut).unwrap_or_default().to_owned())
        }
        FaultType::WrongContentType => {
            let (status, page) = if on_success {
                (StatusCode::OK, "<html><body><h1>OK</h1></body></html>")
            } else {
                (
                    StatusCode::BAD_GATEWAY,
                    "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
                )
            };
            FaultAction::Respond {
                status,
                headers: vec![(
                    "content-type".to_owned(),
                    "text/html; charset=utf-8".to_owned(),
                )],
                body: Bytes::from_static(page.as_bytes()),
            }
        }
        FaultType::HostileRetryHint => {
            let (status, header, value) = hostile_hint(op.index);
            let base = match (prov, status) {
                (Prov::Chert, StatusCode::TOO_MANY_REQUESTS) => {
                    FaultAction::chert_error(status, 1007, true, None)
                }
                (Prov::Chert, _) => FaultAction::chert_error(status, 3002, true, None),
                (Prov::Linq, StatusCode::TOO_MANY_REQUESTS) => {
                    FaultAction::linq_error(status, 1007, None)
                }
                (Prov::Linq, _) => FaultAction::linq_error(status, 4004, None),
                (Prov::Zapi, _) => FaultAction::zapi_error(status, "Too many requests"),
                (Prov::Acs, StatusCode::TOO_MANY_REQUESTS) => {
                    FaultAction::acs_error(status, "TooManyRequests", None, None)
                }
                (Prov::Acs, _) => FaultAction::acs_error(status, "ServiceUnavailable", None, None),
            };
            // The hostile value is the only header of its spelling.
            let base = match base {
                FaultAction::Respond {
                    status,
                    headers,
                    body,
                } => FaultAction::Respond {
                    status,
                    headers: headers
                        .into_iter()
                        .filter(|(name, _)| !name.eq_ignore_ascii_case(header))
                        .collect(),
                    body,
                },
                other => other,
            };
            base.with_raw_header(header, value)
        }
        FaultType::HugeBody => {
            let status = if on_success {
                StatusCode::OK
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            json(status, huge_body())
        }
    }
}

/// A 2 MiB JSON body, built once and shared by every fault that sends it.
fn huge_body() -> Bytes {
    static BODY: OnceLock<Bytes> = OnceLock::new();
    BODY.get_or_init(|| {
        let mut body = String::with_capacity(2 * 1024 * 1024 + 16);
        body.push_str(r#"{"pad":""#);
        body.extend(std::iter::repeat_n('x', 2 * 1024 * 1024));
        body.push_str(r#""}"#);
        Bytes::from(body)
    })
    .clone()
}

/// Injects the operation's fault, if it has one; returns the delay its reply asks for.
fn inject(sandbox: &Sandbox, op: &Op, config: &SoakConfig) -> Option<Duration> {
    let (fault, times) = op.plan.fault?;
    let mut rule = Fault::new(op.plan.prov.sandbox(), action(op, fault, config))
        .method(op.plan.kind.method(op.plan.prov))
        .times(times);
    rule = if op.plan.prov == Prov::Zapi && op.plan.kind != Kind::List {
        rule.body_contains(op.chat.clone())
    } else {
        rule.path_contains(op.key.clone())
    };
    sandbox.faults().inject(rule);
    injected_delay(op.plan.prov, fault, config)
}

/// What a successful operation returned.
enum Done {
    Changed(Outcome),
    Listed(Vec<Participant>),
}

/// Runs one operation through the `Membership` trait.
async fn execute(clients: &Clients, op: &Op) -> Result<Done, Error> {
    let chat = ChatId::new(op.chat.clone())?;
    let options = ChangeOptions::default().with_ensure(op.plan.ensure);
    let zapi;
    let client: &dyn Membership = match op.plan.prov {
        Prov::Chert => &clients.chert,
        Prov::Linq => &clients.linq,
        Prov::Acs => &clients.acs,
        Prov::Zapi => {
            // Half the Z-API operations confirm `value: true` with a roster read.
            zapi = clients.zapi(op.index % 8 < 4)?;
            &zapi
        }
    };
    let target = || -> Result<Handle, Error> {
        let text = op.target.as_deref().unwrap_or_default();
        text.parse::<Handle>().map_err(Error::from)
    };
    match op.plan.kind {
        Kind::Remove => client
            .remove_participant(&chat, &target()?, options)
            .await
            .map(Done::Changed),
        Kind::Add => client
            .add_participant(&chat, &target()?, options)
            .await
            .map(Done::Changed),
        Kind::Leave => client.leave(&chat, options).await.map(Done::Changed),
        Kind::List => client.participants(&chat).await.map(Done::Listed),
    }
}

/// Runs one operation in the current task, tagged for the recording transport.
async fn run_one(clients: Arc<Clients>, op: Arc<Op>, deadline: Duration) -> OpResult {
    let index = op.index;
    let work = OP.scope(index, async move { execute(&clients, &op).await });
    match tokio::time::timeout(deadline, work).await {
        Err(_) => OpResult {
            outcome: "lost".to_owned(),
            ok: false,
            ambiguous: false,
            listed: None,
            error: Some(format!("no result within {deadline:?}")),
        },
        Ok(Ok(Done::Changed(outcome))) => OpResult {
            outcome: outcome.as_str().to_owned(),
            ok: true,
            ambiguous: false,
            listed: None,
            error: None,
        },
        Ok(Ok(Done::Listed(participants))) => OpResult {
            outcome: "listed".to_owned(),
            ok: true,
            ambiguous: false,
            listed: Some(participants.len()),
            error: None,
        },
        Ok(Err(e)) => OpResult {
            outcome: format!("failed:{}", e.kind()),
            ok: false,
            ambiguous: e.is_ambiguous(),
            listed: None,
            error: Some(e.to_string()),
        },
    }
}

/// Wraps the soak's recording transport: what the clients send through.
pub type Wrap = Box<dyn FnOnce(Arc<dyn HttpClient>) -> Arc<dyn HttpClient>>;

/// Runs the soak: starts a sandbox, runs the waves, checks every operation.
///
/// # Errors
/// When the sandbox or the clients cannot start; problems found by the run are in the report.
pub async fn run(config: &SoakConfig) -> Result<SoakReport, String> {
    run_with(config, Box::new(|transport| transport)).await
}

/// [`run`], with the clients sending through `wrap(recording transport)`: how the soak's own
/// tests break the client on purpose (send twice, wait too little) and watch the soak fail.
/// The recording transport, the journal and the checks stay as they are.
///
/// # Errors
/// As [`run`].
pub async fn run_with(config: &SoakConfig, wrap: Wrap) -> Result<SoakReport, String> {
    let started = Instant::now();
    let panics = PanicCounter::install();
    let mut sandbox_config = SandboxConfig::default();
    // A wave's requests stay in the journal until it is checked.
    sandbox_config.journal_capacity = config.wave.max(1).saturating_mul(20);
    let sandbox = Sandbox::start_with(sandbox_config)
        .await
        .map_err(|e| format!("sandbox: {e}"))?;
    let clients = Arc::new(Clients::new(sandbox.info(), config, wrap)?);
    let mut report = SoakReport {
        config: Some(config.clone()),
        ..SoakReport::default()
    };
    let plan = plan(config);
    let mut op_panics = 0;
    for (wave_index, wave) in plan.chunks(config.wave.max(1)).enumerate() {
        let base = wave_index * config.wave.max(1);
        let ops: Vec<Arc<Op>> = wave
            .iter()
            .enumerate()
            .map(|(i, p)| Arc::new(seed(&sandbox, base + i, p.clone())))
            .collect();
        let delays: Vec<Option<Duration>> =
            ops.iter().map(|op| inject(&sandbox, op, config)).collect();
        let gate = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let mut tasks = Vec::with_capacity(ops.len());
        for op in &ops {
            let permit = Arc::clone(&gate)
                .acquire_owned()
                .await
                .map_err(|e| format!("semaphore: {e}"))?;
            let (clients, op) = (Arc::clone(&clients), Arc::clone(op));
            let deadline = config.op_deadline;
            tasks.push(tokio::spawn(async move {
                let result = run_one(clients, op, deadline).await;
                drop(permit);
                result
            }));
        }
        let mut results = Vec::with_capacity(tasks.len());
        for task in tasks {
            results.push(match task.await {
                Ok(result) => result,
                Err(e) => {
                    if e.is_panic() {
                        op_panics += 1;
                    }
                    OpResult {
                        outcome: if e.is_panic() {
                            "panicked"
                        } else {
                            "cancelled"
                        }
                        .to_owned(),
                        ok: false,
                        ambiguous: true,
                        listed: None,
                        error: Some(e.to_string()),
                    }
                }
            });
        }
        // Stalled requests finish after their clients gave up: wait for the journal to settle.
        let entries = settle(&sandbox, config.stall).await;
        sandbox.faults().clear();
        let exchanges = std::mem::take(&mut *lock(&clients.http.log));
        let wave = Wave {
            ops: &ops,
            delays: &delays,
            results: &results,
            entries: &entries,
            exchanges: &exchanges,
        };
        check_wave(&sandbox, &wave, &mut report);
    }
    sandbox.shutdown().await;
    report.panics = panics.count().max(op_panics);
    drop(panics);
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(report)
}

/// Waits until the journal stops growing (at least `stall` plus a margin), then takes and
/// clears it.
async fn settle(sandbox: &Sandbox, stall: Duration) -> Vec<JournalEntry> {
    tokio::time::sleep(stall + Duration::from_millis(100)).await;
    let journal = sandbox.journal();
    let mut last = journal.len();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = journal.len();
        if now == last {
            break;
        }
        last = now;
    }
    let entries = journal.entries();
    journal.clear();
    entries
}

/// The operation a journal entry belongs to: by a chat key in its path, else (Z-API) by the
/// group named in its body.
fn entry_op(entry: &JournalEntry, by_key: &HashMap<&str, usize>) -> Option<usize> {
    let path = entry.path.split('?').next().unwrap_or_default();
    for segment in path.split('/') {
        if let Some(op) = by_key.get(chat_key(segment)) {
            return Some(*op);
        }
    }
    let body: serde_json::Value = serde_json::from_slice(&entry.body).ok()?;
    ["groupId", "communityId"]
        .iter()
        .find_map(|f| body.get(f).and_then(serde_json::Value::as_str))
        .and_then(|id| by_key.get(id).copied())
}

/// Whether the operation's change shows in the emulator's final state.
fn state_applied(sandbox: &Sandbox, op: &Op) -> bool {
    let target = op.target_state.as_deref().unwrap_or_default();
    let has = |members: Option<Vec<String>>| members.is_some_and(|m| m.iter().any(|x| x == target));
    match (op.plan.prov, op.plan.kind) {
        (_, Kind::List) => false,
        (Prov::Chert, Kind::Remove) => !has(sandbox.chert().members(&op.chat)),
        (Prov::Chert, Kind::Add) => has(sandbox.chert().members(&op.chat)),
        (Prov::Chert, Kind::Leave) => sandbox.chert().has_left(&op.chat),
        (Prov::Linq, Kind::Remove) => !has(sandbox.linq().active_handles(&op.chat)),
        (Prov::Linq, Kind::Add) => has(sandbox.linq().active_handles(&op.chat)),
        (Prov::Linq, Kind::Leave) => sandbox.linq().has_left(&op.chat),
        (Prov::Zapi, Kind::Remove) => !has(sandbox.zapi().members(&op.chat)),
        (Prov::Zapi, Kind::Add) => has(sandbox.zapi().members(&op.chat)),
        (Prov::Zapi, Kind::Leave) => {
            let me = sandbox.zapi().connected_phone();
            !sandbox
                .zapi()
                .members(&op.chat)
                .is_some_and(|m| m.contains(&me))
        }
        (Prov::Acs, Kind::Remove) => !has(sandbox.acs().participants(&op.chat)),
        (Prov::Acs, Kind::Add) => has(sandbox.acs().participants(&op.chat)),
        (Prov::Acs, Kind::Leave) => !sandbox
            .acs()
            .participants(&op.chat)
            .is_some_and(|p| p.iter().any(|x| *x == sandbox.info().acs.user_id)),
    }
}

/// What one wave left to check.
struct Wave<'a> {
    ops: &'a [Arc<Op>],
    /// Per operation, the delay its injected fault's reply asks for ([`inject`]).
    delays: &'a [Option<Duration>],
    results: &'a [OpResult],
    entries: &'a [JournalEntry],
    exchanges: &'a [Exchange],
}

/// Checks one wave: outcomes against the journal and the emulators, duplicates at the wire,
/// retries, waits.
fn check_wave(sandbox: &Sandbox, wave: &Wave<'_>, report: &mut SoakReport) {
    let Wave {
        ops,
        delays,
        results,
        entries,
        exchanges,
    } = *wave;
    let Some(first) = ops.first().map(|op| op.index) else {
        return;
    };
    let by_key: HashMap<&str, usize> = ops
        .iter()
        .map(|op| (op.key.as_str(), op.index - first))
        .collect();
    // Effects, fired faults and journal entries per operation.
    let mut effects: Vec<Vec<String>> = vec![Vec::new(); ops.len()];
    let mut fired: Vec<usize> = vec![0; ops.len()];
    let mut arrived: Vec<Vec<&JournalEntry>> = vec![Vec::new(); ops.len()];
    for entry in entries {
        let Some(i) = entry_op(entry, &by_key) else {
            report.unattributed += 1;
            report.problem(format!(
                "journal entry {} {} {} belongs to no operation",
                entry.seq, entry.method, entry.path
            ));
            continue;
        };
        if entry.fault.is_some()
            && let Some(n) = fired.get_mut(i)
        {
            *n += 1;
        }
        if let Some(list) = arrived.get_mut(i) {
            list.push(entry);
        }
        for effect in &entry.effects {
            let owner = effect
                .split_whitespace()
                .nth(1)
                .and_then(|chat| by_key.get(chat_key(chat)));
            match owner.and_then(|o| effects.get_mut(*o)) {
                Some(list) => list.push(effect.clone()),
                None => {
                    report.unattributed += 1;
                    report.problem(format!("effect {effect:?} belongs to no operation"));
                }
            }
        }
    }
    // Requests per operation, in the order they left.
    let mut sent: Vec<Vec<&Exchange>> = vec![Vec::new(); ops.len()];
    for exchange in exchanges {
        match exchange
            .op
            .and_then(|o| o.checked_sub(first))
            .and_then(|o| sent.get_mut(o))
        {
            Some(list) => list.push(exchange),
            None => {
                report.unattributed += 1;
                report.problem(format!(
                    "request {} {} was sent outside any operation",
                    exchange.method, exchange.path
                ));
            }
        }
    }
    for list in &mut sent {
        list.sort_by_key(|e| e.sent);
    }
    for list in &mut arrived {
        list.sort_by_key(|e| e.seq);
    }
    // A journal entry's exchange, by the id the recording transport tagged it with.
    let by_id: HashMap<u64, &Exchange> = exchanges.iter().map(|e| (e.id, e)).collect();
    let exchange_of = |entry: &JournalEntry| {
        entry
            .header(REQUEST_ID)
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| by_id.get(&id).copied())
    };

    for (i, op) in ops.iter().enumerate() {
        let (Some(result), Some(applied), Some(requests), Some(wire)) =
            (results.get(i), effects.get(i), sent.get(i), arrived.get(i))
        else {
            continue;
        };
        let plan = &op.plan;
        report.operations += 1;
        *report
            .operations_by_provider
            .entry(plan.prov.name().to_owned())
            .or_default() += 1;
        *report
            .operations_by_kind
            .entry(plan.kind.name().to_owned())
            .or_default() += 1;
        report.ensure_mode += usize::from(plan.ensure);
        if let Some((fault, _)) = plan.fault {
            report.faulted_operations += 1;
            *report
                .faults_injected
                .entry(fault.name().to_owned())
                .or_default() += 1;
            *report
                .faults_fired
                .entry(fault.name().to_owned())
                .or_default() += fired.get(i).copied().unwrap_or(0);
        }
        *report.outcomes.entry(result.outcome.clone()).or_default() += 1;
        *report
            .outcomes_by_fault
            .entry(plan.fault.map_or("none", |(f, _)| f.name()).to_owned())
            .or_default()
            .entry(result.outcome.clone())
            .or_default() += 1;
        if !result.ok && report.failures.len() < MAX_FAILURES {
            report.failures.push(format!(
                "op {} {} {} (ensure {}, fault {:?}): {}",
                op.index,
                plan.prov.name(),
                plan.kind.name(),
                plan.ensure,
                plan.fault.map(|(f, n)| format!("{} x{n}", f.name())),
                result.error.as_deref().unwrap_or_default()
            ));
        }
        report.failed_ambiguous += usize::from(!result.ok && result.ambiguous);
        let what = || {
            format!(
                "op {} {} {} (ensure {}, fault {:?}) on {}",
                op.index,
                plan.prov.name(),
                plan.kind.name(),
                plan.ensure,
                plan.fault.map(|(f, n)| format!("{} x{n}", f.name())),
                op.chat
            )
        };

        // Lost: no result, or a success for a change that never happened.
        if matches!(result.outcome.as_str(), "lost" | "cancelled" | "panicked") {
            report.lost += 1;
            let line = format!(
                "{}: {}",
                what(),
                result.error.as_deref().unwrap_or_default()
            );
            report.problem(line);
        }

        // Duplicates at the wire: a mutation that arrived after an earlier request of the
        // operation had been applied — and its reply had reached the client.
        *report.requests_per_operation.entry(wire.len()).or_default() += 1;
        report.max_requests_per_operation = report.max_requests_per_operation.max(wire.len());
        let changed_state: Vec<&JournalEntry> = wire
            .iter()
            .copied()
            .filter(|e| !e.effects.is_empty())
            .collect();
        for request in wire.iter().filter(|e| e.method != "GET") {
            let sent_at = exchange_of(request).map(|x| x.sent);
            let earlier: Vec<&&JournalEntry> = changed_state
                .iter()
                .filter(|a| a.seq != request.seq && a.finished_at <= request.received_at)
                .collect();
            if earlier.is_empty() {
                continue;
            }
            // Its reply reached the client before this request left.
            let seen = earlier.iter().find(|a| {
                exchange_of(a).is_some_and(|x| {
                    x.status.is_some() && sent_at.is_none_or(|sent| x.done <= sent)
                })
            });
            match seen {
                Some(a) => {
                    report.duplicated += 1;
                    let line = format!(
                        "{}: request {} {} {} arrived after request {} had been applied ({:?}) and answered {:?}",
                        what(),
                        request.seq,
                        request.method,
                        request.path,
                        a.seq,
                        a.effects,
                        a.status
                    );
                    report.problem(line);
                }
                None => report.resent_after_unseen_apply += 1,
            }
        }
        // The same effect twice contradicts the emulators' own rules.
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for effect in applied {
            *counts.entry(effect.as_str()).or_default() += 1;
        }
        for (effect, n) in &counts {
            if *n > 1 {
                report.disagreements += 1;
                let line = format!("{}: {effect:?} applied {n} times", what());
                report.problem(line);
            }
        }

        // Agreement of result, journal and state.
        // ACS has no leave: it removes our own identity.
        let verb = match (plan.prov, plan.kind) {
            (Prov::Acs, Kind::Leave) => "acs:remove ".to_owned(),
            (prov, kind) => format!("{}:{} ", prov.name(), kind.name()),
        };
        let foreign: Vec<&String> = applied.iter().filter(|e| !e.starts_with(&verb)).collect();
        if !foreign.is_empty() {
            report.disagreements += 1;
            let line = format!("{}: unexpected effects {foreign:?}", what());
            report.problem(line);
        }
        let changed = !applied.is_empty();
        if plan.kind == Kind::List {
            if changed {
                report.disagreements += 1;
                let line = format!("{}: a read changed state: {applied:?}", what());
                report.problem(line);
            }
            if let Some(n) = result.listed
                && n != op.expected_roster
            {
                report.disagreements += 1;
                let line = format!(
                    "{}: listed {n}, the chat has {}",
                    what(),
                    op.expected_roster
                );
                report.problem(line);
            }
        } else {
            let in_state = state_applied(sandbox, op);
            if in_state != changed {
                report.disagreements += 1;
                let line = format!(
                    "{}: journal effects {applied:?} but emulator state says applied = {in_state}",
                    what()
                );
                report.problem(line);
            }
            if result.ok && !changed {
                report.lost += 1;
                let line = format!(
                    "{}: reported {} but nothing was applied",
                    what(),
                    result.outcome
                );
                report.problem(line);
            }
            report.failed_ambiguous_applied +=
                usize::from(!result.ok && result.ambiguous && changed);
            if !result.ok && !result.ambiguous && changed && result.outcome.starts_with("failed") {
                report.disagreements += 1;
                let line = format!(
                    "{}: failed without ambiguity but the change was applied ({})",
                    what(),
                    result.error.as_deref().unwrap_or_default()
                );
                report.problem(line);
            }
        }

        // Requests, retries and waits.
        report.requests += requests.len();
        if let Some(own) = requests.first() {
            report.retries += requests
                .iter()
                .skip(1)
                .filter(|e| e.method == own.method && e.path == own.path)
                .count();
        }
        // Waits: after each injected reply that asked for a delay, the operation's next
        // request left no sooner than the delay the soak configured for that fault.
        let delay = delays.get(i).copied().flatten();
        for faulted in wire.iter().filter(|e| e.fault.is_some() && delay.is_some()) {
            let hint = delay.unwrap_or_default();
            report.retry_after_replies += 1;
            let Some(exchange) = exchange_of(faulted) else {
                report.unattributed += 1;
                let line = format!(
                    "{}: journal entry {} matches no request of the client",
                    what(),
                    faulted.seq
                );
                report.problem(line);
                continue;
            };
            let Some(next) = requests
                .iter()
                .position(|x| x.id == exchange.id)
                .and_then(|k| requests.get(k + 1))
            else {
                continue;
            };
            report.retry_after_waits += 1;
            let waited = next.sent.saturating_duration_since(exchange.done);
            if waited >= hint {
                report.retry_after_honoured += 1;
                let margin = u64::try_from((waited - hint).as_millis()).unwrap_or(u64::MAX);
                report.retry_after_min_margin_ms = Some(
                    report
                        .retry_after_min_margin_ms
                        .map_or(margin, |m| m.min(margin)),
                );
            } else {
                let line = format!(
                    "{}: injected reply {:?} asked for {hint:?}, the next request ({} {}) left after {waited:?}",
                    what(),
                    exchange.status,
                    next.method,
                    next.path
                );
                report.problem(line);
            }
        }
        // Hostile retry hints: no wait past the cap, and a 429 never "may have applied".
        if let Some((FaultType::HostileRetryHint, _)) = plan.fault {
            let (status, header, value) = hostile_hint(op.index);
            let hint = || format!("{status} {header}: {:?}", String::from_utf8_lossy(value));
            if status == StatusCode::TOO_MANY_REQUESTS && !result.ok && result.ambiguous {
                report.disagreements += 1;
                let line = format!(
                    "{}: a 429 with {} ended as may-have-applied: {}",
                    what(),
                    hint(),
                    result.error.as_deref().unwrap_or_default()
                );
                report.problem(line);
            }
            for faulted in wire.iter().filter(|e| e.fault.is_some()) {
                report.hostile_hint_replies += 1;
                let Some(next) = exchange_of(faulted).and_then(|exchange| {
                    requests
                        .iter()
                        .position(|x| x.id == exchange.id)
                        .and_then(|k| requests.get(k + 1))
                        .map(|next| next.sent.saturating_duration_since(exchange.done))
                }) else {
                    continue;
                };
                report.hostile_hint_waits += 1;
                let waited_ms = u64::try_from(next.as_millis()).unwrap_or(u64::MAX);
                report.hostile_hint_max_wait_ms = Some(
                    report
                        .hostile_hint_max_wait_ms
                        .map_or(waited_ms, |m| m.max(waited_ms)),
                );
                if next <= HOSTILE_WAIT_CAP {
                    report.hostile_hint_capped += 1;
                } else {
                    let line = format!("{}: after {} the client waited {next:?}", what(), hint());
                    report.problem(line);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_keys() {
        assert_eq!(chat_key("ch_01ABC"), "ch_01ABC");
        assert_eq!(chat_key("19:abc123@thread.v2"), "abc123");
        assert_eq!(chat_key("19%3Aabc123%40thread.v2"), "abc123");
        assert_eq!(chat_key("120363-group"), "120363-group");
    }

    #[test]
    fn the_plan_has_the_fault_mix() {
        let config = SoakConfig::bounded().with_operations(4_000);
        let plan = plan(&config);
        let faulted = plan.iter().filter(|p| p.fault.is_some()).count();
        assert!((1_000..=1_400).contains(&faulted), "{faulted}");
        for fault in FaultType::ALL {
            assert!(
                plan.iter()
                    .any(|p| p.fault.is_some_and(|(f, _)| f == fault)),
                "{fault:?}"
            );
        }
        // Never a fault where it makes no sense.
        assert!(
            plan.iter()
                .all(|p| p.fault.is_none_or(|(f, _)| f.applies(p.prov, p.kind)))
        );
        assert!(
            plan.iter()
                .all(|p| p.prov != Prov::Chert || p.kind != Kind::List)
        );
    }

    /// The delay the waits are judged by is the very number written into the injected reply
    /// (read here as text, not by the SDK), for every fault that asks for one.
    #[test]
    fn the_expected_delay_is_the_injected_one() {
        let sandbox_free_op = |prov, kind| Op {
            index: 0,
            plan: Planned {
                prov,
                kind,
                ensure: false,
                fault: None,
            },
            chat: "c".to_owned(),
            key: "c".to_owned(),
            target: None,
            target_state: None,
            expected_roster: 0,
        };
        let config = SoakConfig::bounded();
        let mut checked = 0;
        for prov in Prov::ALL {
            for fault in FaultType::ALL
                .into_iter()
                .filter(|f| f.applies(prov, Kind::Remove))
            {
                let op = sandbox_free_op(prov, Kind::Remove);
                let FaultAction::Respond { headers, body, .. } = action(&op, fault, &config) else {
                    assert_eq!(injected_delay(prov, fault, &config), None, "{fault:?}");
                    continue;
                };
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(name))
                        .and_then(|(_, v)| v.parse::<u64>().ok())
                };
                let written = header("retry-after-ms")
                    .or_else(|| header("x-ms-retry-after-ms"))
                    .map(Duration::from_millis)
                    .or_else(|| header("retry-after").map(Duration::from_secs));
                assert_eq!(
                    written,
                    injected_delay(prov, fault, &config),
                    "{prov:?} {fault:?} {headers:?} {body:?}"
                );
                checked += usize::from(written.is_some());
            }
        }
        // 429 s and ms, and the persistent 503, on every provider that gets them.
        assert_eq!(checked, 4 + 2 + 4);
    }

    /// The checks can fail: a mutation sent again after its change was applied and answered,
    /// a change applied twice, a success with nothing applied, a non-ambiguous failure whose
    /// change was applied, and a wait shorter than the injected fault asked for. A repeat
    /// after an applied request whose reply was lost is counted apart, not as a duplicate.
    #[tokio::test]
    async fn the_checks_catch_what_they_are_for() {
        let sandbox = Sandbox::start().await.unwrap();
        let planned = |ensure| Planned {
            prov: Prov::Chert,
            kind: Kind::Remove,
            ensure,
            fault: None,
        };
        let ops: Vec<Arc<Op>> = (0..3)
            .map(|i| Arc::new(seed(&sandbox, 10 + i, planned(true))))
            .collect();
        let ok = |outcome: &str| OpResult {
            outcome: outcome.to_owned(),
            ok: true,
            ambiguous: false,
            listed: None,
            error: None,
        };
        let failed = OpResult {
            outcome: "failed:rate_limited".to_owned(),
            ok: false,
            ambiguous: false,
            listed: None,
            error: Some("429".to_owned()),
        };
        let results = vec![ok("applied"), ok("applied"), failed];
        let ms = Duration::from_millis;
        // One request: its journal entry (arrived at `at` ms, finished 1 ms later) and what
        // the client saw (sent at `at`, reply 2 ms later when `status` is some).
        let request = |id: u64, op: &Op, at: u64, status: Option<u16>, effects: Vec<String>| {
            let path = format!(
                "/chert/api/v1/chats/{}/participants/%2B14155550100",
                op.chat
            );
            let entry = JournalEntry {
                seq: id,
                provider: Provider::Chert,
                method: "DELETE".to_owned(),
                path: path.clone(),
                headers: vec![(REQUEST_ID.to_owned(), id.to_string())],
                body: Bytes::new(),
                status,
                fault: None,
                effects,
                received_at: ms(at),
                finished_at: ms(at + 1),
            };
            let now = Instant::now();
            let exchange = Exchange {
                id,
                op: Some(op.index),
                method: "DELETE".to_owned(),
                path,
                sent: now + ms(at),
                done: now + ms(at + 2),
                status,
            };
            (entry, exchange)
        };
        let effect = |op: &Op| format!("chert:remove {} {CHERT_TARGET}", op.chat);
        let [a, _, c] = [&ops[0], &ops[1], &ops[2]];
        let (mut faulted, x3) = request(3, c, 0, Some(429), Vec::new());
        faulted.fault = Some(rosterkit_sandbox::FaultKind::Respond);
        // Op a: applied and answered, then sent again (and applied again). Op b: nothing.
        // Op c: a 429 asking for 1 s, retried after 8 ms; applied with the reply lost,
        // repeated; failed, yet applied.
        let (entries, exchanges): (Vec<_>, Vec<_>) = [
            request(1, a, 0, Some(200), vec![effect(a)]),
            request(2, a, 30, Some(200), vec![effect(a)]),
            (faulted, x3),
            request(4, c, 10, None, vec![effect(c)]),
            request(5, c, 40, Some(400), Vec::new()),
        ]
        .into_iter()
        .unzip();
        let delays = [None, None, Some(Duration::from_secs(1))];
        for op in [a, c] {
            sandbox
                .chert()
                .create_chat(rosterkit_sandbox::chert::ChertChatSeed {
                    id: Some(op.chat.clone()),
                    ..rosterkit_sandbox::chert::ChertChatSeed::group(&CHERT_MEMBERS)
                });
        }
        let mut report = SoakReport::default();
        let wave = Wave {
            ops: &ops,
            delays: &delays,
            results: &results,
            entries: &entries,
            exchanges: &exchanges,
        };
        check_wave(&sandbox, &wave, &mut report);
        assert_eq!(report.operations, 3);
        assert_eq!(report.duplicated, 1, "{:?}", report.problems);
        assert_eq!(report.resent_after_unseen_apply, 1, "{:?}", report.problems);
        assert_eq!(report.lost, 1, "{:?}", report.problems);
        // Op a's change twice; op c failed without ambiguity yet applied.
        assert_eq!(report.disagreements, 2, "{:?}", report.problems);
        assert_eq!(report.retries, 3);
        assert_eq!(
            (
                report.retry_after_replies,
                report.retry_after_waits,
                report.retry_after_honoured
            ),
            (1, 1, 0)
        );
        assert_eq!(report.max_requests_per_operation, 3);
        assert_eq!(
            report.requests_per_operation,
            BTreeMap::from([(0, 1), (2, 1), (3, 1)])
        );
        assert!(!report.passed());
        sandbox.shutdown().await;
    }
}
