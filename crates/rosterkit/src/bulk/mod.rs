//! Bulk membership changes: a stream of operations in, one result per operation out.
//!
//! The job this is for: offboard a person from hundreds of groups, or clean up a community.
//! Feed [`Row`]s (an [`Op`] — remove, add or leave, on a provider's chat — or a refused
//! [`RawOp`] with its reason) through a bounded channel; [`Bulk::start`] runs them and yields
//! one [`BulkResult`] per row, tagged with the row's `line`.
//!
//! - **Streaming, flat memory.** Rows are read only while fewer than [`Bulk::window`] are
//!   waiting; results go out through a bounded channel, so a slow consumer slows the run down
//!   instead of piling results up. Nothing collects the whole input or output.
//! - **Order per chat.** Rows on one chat run one unit at a time, in input order (an add then a
//!   remove of the same person stays in that order; group-size rules see the rows in file
//!   order). Different chats run concurrently, up to [`Bulk::concurrency`] units at once.
//! - **Batching.** Where a provider batches natively ([`Capabilities::batch`], up to
//!   [`Capabilities::max_batch`]), consecutive waiting rows of the same kind on one chat go in
//!   one [`Membership::remove_participants`] / [`Membership::add_participants`] call. Any
//!   adapter that batches benefits without changes here.
//! - **Pacing.** Optional, per provider and per chat ([`BulkPacing`]), off by default. The ACS and
//!   Z-API adapters already pace themselves; Chert and Linq can be paced here.
//! - **Nothing dropped.** Bad rows, rows for a provider whose client cannot be built, and
//!   handles of a kind the provider refuses come out as failed results (`InvalidInput`) with
//!   their line; the run goes on. Results arrive in completion order, not input order.
//! - **Stopping.** [`StopHandle::stop`] takes no new rows and gives in-flight calls
//!   [`Bulk::grace`] to finish; calls still running then are cut off and reported as
//!   ambiguous `Timeout` failures ("interrupted"). Rows read but not started get no result
//!   (they were never sent) and are counted in [`BulkStats::not_started`].
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use rosterkit::{ChatId, ProviderKind, chert::ChertClient};
//! use rosterkit::bulk::{Bulk, Clients, Op, RawOp, Row};
//!
//! # let sandbox = rosterkit_sandbox::Sandbox::start().await?;
//! # let info = sandbox.info().chert;
//! # let chat_id = sandbox.chert().create_group(&["+14155550100", "+14155550200", "+14155550300", "+14155551234"]);
//! # let (base_url, tenant, secret) = (info.base_url, info.tenant, info.signing_secret);
//! let chert = ChertClient::builder().base_url(base_url).tenant(tenant).signing_secret(secret).build()?;
//! let clients = Clients::new().with(ProviderKind::Chert, Arc::new(chert));
//!
//! let (rows, input) = tokio::sync::mpsc::channel(64);
//! let mut run = Bulk::new(clients).concurrency(8).start(input);
//! tokio::spawn(async move {
//!     let chat = ChatId::new(chat_id).expect("valid chat id");
//!     let who = "+14155551234".parse().expect("valid handle");
//!     let _ = rows.send(Row::new(1, Op::remove(ProviderKind::Chert, chat, who))).await;
//!     // A bad row is a failed result, not an error of the run.
//!     let bad = RawOp::new(Some("remove".into()), Some("telegram".into()), Some("c".into()), None);
//!     let _ = rows.send(Row::parse(2, bad)).await;
//! });
//! let mut lines = Vec::new();
//! while let Some(result) = run.next().await {
//!     lines.push((result.line, result.result.is_ok()));
//! }
//! lines.sort();
//! assert_eq!(lines, [(1, true), (2, false)]);
//! assert_eq!(run.finish().await.results, 2);
//! # Ok(())
//! # }
//! ```
//!
//! [`Capabilities::batch`]: crate::Capabilities::batch
//! [`Capabilities::max_batch`]: crate::Capabilities::max_batch
//! [`Membership::remove_participants`]: crate::Membership::remove_participants
//! [`Membership::add_participants`]: crate::Membership::add_participants

mod clients;
mod engine;
mod op;
mod pacing;
pub mod resume;
#[cfg(test)]
mod tests;

use std::{collections::HashMap, time::Duration};

use rosterkit_core::ChangeOptions;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

pub use clients::Clients;
pub use op::{BadRow, BulkResult, Op, OpKind, RawOp, Row};
pub use pacing::BulkPacing;
pub use rosterkit_core::Rate;

use crate::ProviderName;
use engine::{Config, Dispatcher, StopLevel};

/// Units (single calls or batches) in flight at once, by default.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Rows read but not yet started, at most, by default.
pub const DEFAULT_WINDOW: usize = 1024;
/// How long in-flight calls may take to finish after a stop, by default.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);
/// Handles per batch for a provider that batches but states no limit.
pub const DEFAULT_BATCH: usize = 50;
/// Results buffered between the run and its consumer (each may carry a roster, so few).
const RESULTS_BUFFER: usize = 64;

/// A bulk run's settings. Build one, then [`start`](Bulk::start) it with the input channel.
#[derive(Debug)]
pub struct Bulk {
    clients: Clients,
    config: Config,
}

impl Bulk {
    /// A run over `clients` with the defaults: [`DEFAULT_CONCURRENCY`], [`DEFAULT_WINDOW`],
    /// [`DEFAULT_GRACE`], no ensure mode, no pacing.
    pub fn new(clients: Clients) -> Self {
        Self {
            clients,
            config: Config {
                concurrency: DEFAULT_CONCURRENCY,
                window: DEFAULT_WINDOW,
                options: ChangeOptions::default(),
                pacing: HashMap::new(),
                grace: DEFAULT_GRACE,
                default_batch: DEFAULT_BATCH,
            },
        }
    }

    /// Units (single calls or batches, each on one chat) in flight at once; at least 1.
    #[must_use]
    pub fn concurrency(mut self, units: usize) -> Self {
        self.config.concurrency = units.max(1);
        self
    }

    /// Valid rows read but not yet started, at most; at least 1. A larger window finds more
    /// rows to batch per chat; memory grows with it, not with the input.
    #[must_use]
    pub fn window(mut self, rows: usize) -> Self {
        self.config.window = rows.max(1);
        self
    }

    /// Options of every change ([`ChangeOptions::ensure`] makes repeats safe).
    #[must_use]
    pub fn options(mut self, options: ChangeOptions) -> Self {
        self.config.options = options;
        self
    }

    /// Ensure mode on or off for every change.
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.config.options = self.config.options.with_ensure(ensure);
        self
    }

    /// Paces `provider`'s changes.
    #[must_use]
    pub fn pacing(mut self, provider: impl Into<ProviderName>, pacing: BulkPacing) -> Self {
        self.config.pacing.insert(provider.into(), pacing);
        self
    }

    /// How long in-flight calls may take to finish after [`StopHandle::stop`].
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.config.grace = grace;
        self
    }

    /// Starts the run on the current Tokio runtime, reading rows from `input` until it is
    /// closed (all senders dropped).
    ///
    /// Must be called within a Tokio runtime (with the time driver enabled).
    pub fn start(self, input: mpsc::Receiver<Row>) -> BulkRun {
        let (out, results) = mpsc::channel(RESULTS_BUFFER);
        let (stop, stop_rx) = watch::channel(StopLevel::Run);
        let dispatcher = Dispatcher::new(self.config, self.clients, out);
        let task = tokio::spawn(dispatcher.run(input, stop_rx));
        BulkRun {
            results,
            stop: StopHandle {
                sender: std::sync::Arc::new(stop),
            },
            task,
        }
    }
}

/// A running bulk run: take its results with [`next`](BulkRun::next), stop it with a
/// [`StopHandle`], and get its counts from [`finish`](BulkRun::finish).
#[derive(Debug)]
pub struct BulkRun {
    results: mpsc::Receiver<BulkResult>,
    stop: StopHandle,
    task: JoinHandle<BulkStats>,
}

impl BulkRun {
    /// The next result, in completion order; `None` once every row has one (or, after a stop,
    /// every started call has reported).
    pub async fn next(&mut self) -> Option<BulkResult> {
        self.results.recv().await
    }

    /// The next result if one is ready now, without waiting.
    pub fn try_next(&mut self) -> Option<BulkResult> {
        self.results.try_recv().ok()
    }

    /// A handle that stops the run, usable from another task (a Ctrl-C handler).
    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Waits for the run to end and returns its counts. Call it after [`next`](Self::next)
    /// returned `None`; results not taken by then are discarded, and the run is stopped as if
    /// by [`StopHandle::stop`].
    pub async fn finish(mut self) -> BulkStats {
        self.results.close();
        while self.results.recv().await.is_some() {}
        match self.task.await {
            Ok(stats) => stats,
            Err(e) => {
                tracing::error!(error = %e, "bulk dispatcher task ended abnormally");
                BulkStats {
                    stopped: true,
                    ..BulkStats::default()
                }
            }
        }
    }
}

/// Stops a [`BulkRun`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct StopHandle {
    sender: std::sync::Arc<watch::Sender<StopLevel>>,
}

impl StopHandle {
    /// Takes no new rows; calls in flight get the run's grace period to finish.
    pub fn stop(&self) {
        self.raise(StopLevel::Graceful);
    }

    /// Takes no new rows and cuts in-flight calls off now (they are reported as interrupted).
    pub fn stop_now(&self) {
        self.raise(StopLevel::Now);
    }

    /// Whether a stop was asked for.
    pub fn is_stopped(&self) -> bool {
        *self.sender.borrow() > StopLevel::Run
    }

    fn raise(&self, level: StopLevel) {
        self.sender.send_if_modified(|current| {
            let raise = level > *current;
            if raise {
                *current = level;
            }
            raise
        });
    }
}

/// The counts of a finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkStats {
    /// Rows taken from the input.
    pub rows: u64,
    /// Results delivered (one per row, unless the run was stopped).
    pub results: u64,
    /// Rows taken but never started because the run was stopped: nothing was sent for them
    /// and they have no result.
    pub not_started: u64,
    /// Results of calls cut off at the end of the grace period (ambiguous `Timeout`).
    pub interrupted: u64,
    /// Whether the run was stopped before its input ended.
    pub stopped: bool,
}
