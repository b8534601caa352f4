//! The dispatcher: reads rows, queues them per chat, starts units of work within the limits,
//! and accounts for every row.

use std::{
    collections::{HashMap, VecDeque},
    sync::Arc,
    time::Duration,
};

use rosterkit_core::{Capabilities, ChangeOptions, ChatId, Error, ErrorKind, Handle, Membership};
use tokio::{
    sync::{mpsc, watch},
    task::{Id, JoinSet},
    time::Instant,
};

use super::{BulkPacing, BulkResult, BulkStats, Clients, Op, OpKind, Row};
use crate::ProviderName;

/// How hard a stop was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum StopLevel {
    Run,
    /// Take no new rows; let in-flight units finish within the grace period.
    Graceful,
    /// As `Graceful`, with no grace: interrupt in-flight units now.
    Now,
}

/// The settings of a run (see [`super::Bulk`]).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) concurrency: usize,
    pub(crate) window: usize,
    pub(crate) options: ChangeOptions,
    pub(crate) pacing: HashMap<ProviderName, BulkPacing>,
    pub(crate) grace: Duration,
    pub(crate) default_batch: usize,
}

type ChatKey = (ProviderName, ChatId);

struct ProviderState {
    client: Arc<dyn Membership>,
    capabilities: Capabilities,
    pacing: BulkPacing,
    next_at: Option<Instant>,
}

#[derive(Default)]
struct ChatState {
    waiting: VecDeque<(u64, Op)>,
    busy: bool,
    next_at: Option<Instant>,
}

/// What a finished unit reports back.
struct Done {
    key: ChatKey,
    sent: u64,
    interrupted: u64,
}

pub(crate) struct Dispatcher {
    config: Config,
    clients: Clients,
    providers: HashMap<ProviderName, ProviderState>,
    chats: HashMap<ChatKey, ChatState>,
    /// Chats that are not busy and have waiting rows, in the order they became ready.
    ready: VecDeque<ChatKey>,
    /// Rows read and valid but not started.
    queued: usize,
    tasks: JoinSet<Done>,
    running: HashMap<Id, ChatKey>,
    out: mpsc::Sender<BulkResult>,
    deadline: watch::Sender<bool>,
    stats: BulkStats,
}

impl Dispatcher {
    pub(crate) fn new(config: Config, clients: Clients, out: mpsc::Sender<BulkResult>) -> Self {
        Self {
            config,
            clients,
            providers: HashMap::new(),
            chats: HashMap::new(),
            ready: VecDeque::new(),
            queued: 0,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            out,
            deadline: watch::channel(false).0,
            stats: BulkStats::default(),
        }
    }

    /// Runs until every row read has a result (or, after a stop, every started unit has).
    pub(crate) async fn run(
        mut self,
        input: mpsc::Receiver<Row>,
        mut stop: watch::Receiver<StopLevel>,
    ) -> BulkStats {
        let mut input = Some(input);
        let mut stop_open = true;
        let mut grace_until: Option<Instant> = None;
        loop {
            let level = *stop.borrow_and_update();
            if (level >= StopLevel::Graceful || self.out.is_closed()) && !self.stats.stopped {
                self.begin_stop(&mut input);
                grace_until = Some(Instant::now() + self.config.grace);
            }
            if level == StopLevel::Now {
                grace_until = Some(Instant::now());
            }
            if let Some(at) = grace_until
                && at <= Instant::now()
            {
                self.deadline.send_replace(true);
                grace_until = None;
            }

            // Take what the reader has ready, up to the window.
            while let Some(rx) = input.as_mut()
                && self.queued < self.config.window
            {
                match rx.try_recv() {
                    Ok(row) => self.accept(row).await,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => input = None,
                }
            }
            let wake = self.start_ready(Instant::now());
            if input.is_none() && self.queued == 0 && self.tasks.is_empty() {
                break;
            }
            let can_read = input.is_some() && self.queued < self.config.window;
            tokio::select! {
                biased;
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    self.finished(joined);
                }
                changed = stop.changed(), if stop_open => {
                    stop_open = changed.is_ok();
                }
                () = sleep_until(grace_until), if grace_until.is_some() => {}
                row = recv(&mut input), if can_read => match row {
                    Some(row) => self.accept(row).await,
                    None => input = None,
                },
                () = sleep_until(wake), if wake.is_some() => {}
            }
        }
        self.stats
    }

    fn begin_stop(&mut self, input: &mut Option<mpsc::Receiver<Row>>) {
        self.stats.stopped = true;
        // Dropping the receiver tells the reader to stop.
        *input = None;
        self.stats.not_started += self.queued as u64;
        self.queued = 0;
        self.ready.clear();
        self.chats.retain(|_, chat| {
            chat.waiting.clear();
            chat.busy
        });
    }

    async fn emit(&mut self, result: BulkResult) {
        if self.out.send(result).await.is_ok() {
            self.stats.results += 1;
        }
    }

    /// Sorts one row: refused at once, or queued on its chat.
    async fn accept(&mut self, row: Row) {
        self.stats.rows += 1;
        let line = row.line;
        let op = match row.op {
            Ok(op) => op,
            Err(bad) => {
                return self
                    .emit(BulkResult {
                        line,
                        op: Err(bad.raw),
                        result: Err(bad.error),
                    })
                    .await;
            }
        };
        let refusal = match self.provider(op.provider()) {
            Err(e) => Some(e),
            Ok(state) => op
                .handle()
                .filter(|h| !state.capabilities.handles.accepts(h))
                .map(|h| wrong_handle_kind(op.provider(), state.capabilities, h)),
        };
        if let Some(error) = refusal {
            return self
                .emit(BulkResult {
                    line,
                    op: Ok(op),
                    result: Err(error),
                })
                .await;
        }
        let key = (op.provider(), op.chat().clone());
        let chat = self.chats.entry(key.clone()).or_default();
        if !chat.busy && chat.waiting.is_empty() {
            self.ready.push_back(key);
        }
        chat.waiting.push_back((line, op));
        self.queued += 1;
    }

    fn provider(&mut self, kind: ProviderName) -> Result<&mut ProviderState, Error> {
        if !self.providers.contains_key(&kind) {
            let client = self.clients.get(kind)?;
            let state = ProviderState {
                capabilities: client.capabilities(),
                client,
                pacing: self.config.pacing.get(&kind).copied().unwrap_or_default(),
                next_at: None,
            };
            self.providers.insert(kind, state);
        }
        self.providers
            .get_mut(&kind)
            .ok_or_else(|| Error::invalid_input(format!("no {kind} client")))
    }

    /// Starts units for ready chats while there is room; returns when to look again if
    /// pacing holds some back.
    fn start_ready(&mut self, now: Instant) -> Option<Instant> {
        let mut wake: Option<Instant> = None;
        let mut index = 0;
        while self.tasks.len() < self.config.concurrency {
            let Some(key) = self.ready.get(index) else {
                break;
            };
            let chat_at = self.chats.get(key).and_then(|c| c.next_at);
            let provider_at = self.providers.get(&key.0).and_then(|p| p.next_at);
            if let Some(at) = chat_at.max(provider_at).filter(|at| *at > now) {
                wake = Some(wake.map_or(at, |w| w.min(at)));
                index += 1;
                continue;
            }
            if let Some(key) = self.ready.remove(index) {
                self.start(key, now);
            }
        }
        wake
    }

    /// Starts the next unit of a chat: its first waiting row, plus the rows right behind it
    /// of the same kind when the provider batches (each handle once per unit).
    fn start(&mut self, key: ChatKey, now: Instant) {
        let (Some(chat), Some(provider)) =
            (self.chats.get_mut(&key), self.providers.get_mut(&key.0))
        else {
            return;
        };
        let Some(first) = chat.waiting.pop_front() else {
            return;
        };
        let kind = first.1.kind();
        let mut items = vec![first];
        if provider.capabilities.batch && kind.needs_handle() {
            let max = provider
                .capabilities
                .max_batch
                .unwrap_or(self.config.default_batch)
                .max(1);
            while items.len() < max {
                let joins = chat.waiting.front().is_some_and(|(_, next)| {
                    next.kind() == kind && !items.iter().any(|(_, op)| op.handle() == next.handle())
                });
                match chat.waiting.pop_front() {
                    Some(next) if joins => items.push(next),
                    Some(next) => {
                        chat.waiting.push_front(next);
                        break;
                    }
                    None => break,
                }
            }
        }
        self.queued = self.queued.saturating_sub(items.len());
        chat.busy = true;
        let changes = u32::try_from(items.len()).unwrap_or(u32::MAX);
        if let Some(rate) = provider.pacing.per_chat {
            chat.next_at = Some(now + rate.interval().saturating_mul(changes));
        }
        if let Some(rate) = provider.pacing.per_provider {
            provider.next_at = Some(now + rate.interval().saturating_mul(changes));
        }
        let unit = Unit {
            client: Arc::clone(&provider.client),
            provider: key.0,
            kind,
            chat: key.1.clone(),
            items,
            options: self.config.options,
        };
        let handle =
            self.tasks
                .spawn(unit.run(key.clone(), self.out.clone(), self.deadline.subscribe()));
        self.running.insert(handle.id(), key);
    }

    fn finished(&mut self, joined: Result<(Id, Done), tokio::task::JoinError>) {
        let (id, key) = match joined {
            Ok((id, done)) => {
                self.stats.results += done.sent;
                self.stats.interrupted += done.interrupted;
                (id, done.key)
            }
            Err(e) => {
                // Units never panic (the adapter call runs in its own task); this is a
                // cancelled runtime. Free the chat so the run can end.
                tracing::error!(error = %e, "bulk unit task ended abnormally");
                match self.running.get(&e.id()) {
                    Some(key) => (e.id(), key.clone()),
                    None => return,
                }
            }
        };
        self.running.remove(&id);
        if let Some(chat) = self.chats.get_mut(&key) {
            chat.busy = false;
            if chat.waiting.is_empty() {
                self.chats.remove(&key);
            } else {
                self.ready.push_back(key);
            }
        }
    }
}

/// One adapter call: a single row, or a batch of rows on one chat.
struct Unit {
    client: Arc<dyn Membership>,
    provider: ProviderName,
    kind: OpKind,
    chat: ChatId,
    items: Vec<(u64, Op)>,
    options: ChangeOptions,
}

impl Unit {
    async fn run(
        self,
        key: ChatKey,
        out: mpsc::Sender<BulkResult>,
        mut deadline: watch::Receiver<bool>,
    ) -> Done {
        let Self {
            client,
            provider,
            kind,
            chat,
            items,
            options,
        } = self;
        let wanted = items.len();
        let handles: Vec<Handle> = items
            .iter()
            .filter_map(|(_, op)| op.handle().cloned())
            .collect();
        // The adapter runs in its own task, so a panic in it becomes failed results instead
        // of lost rows, and the deadline can abort it.
        let mut call = tokio::spawn(async move {
            match (kind, handles.as_slice()) {
                (OpKind::Leave, _) => vec![client.leave(&chat, options).await],
                (OpKind::Remove, [one]) => {
                    vec![client.remove_participant(&chat, one, options).await]
                }
                (OpKind::Add, [one]) => vec![client.add_participant(&chat, one, options).await],
                (OpKind::Remove, many) => client.remove_participants(&chat, many, options).await,
                (OpKind::Add, many) => client.add_participants(&chat, many, options).await,
            }
        });
        let interrupted = async {
            if deadline.wait_for(|fired| *fired).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let (results, interrupted) = tokio::select! {
            joined = &mut call => match joined {
                Ok(results) => (results, false),
                Err(e) => {
                    let message = format!("the {provider} adapter failed: {e}");
                    let results = (0..wanted)
                        .map(|_| Err(Error::new(ErrorKind::ServerError, message.clone())
                            .with_provider(provider.as_str())
                            .with_ambiguous(true)))
                        .collect();
                    (results, false)
                }
            },
            () = interrupted => {
                call.abort();
                (Vec::new(), true)
            }
        };
        let got = results.len();
        let mut results = results.into_iter();
        let mut done = Done {
            key,
            sent: 0,
            interrupted: 0,
        };
        for (line, op) in items {
            let result = match results.next() {
                Some(result) => result,
                None if interrupted => {
                    done.interrupted += 1;
                    Err(interrupted_error(provider))
                }
                None => Err(Error::new(
                    ErrorKind::Decode,
                    format!(
                        "the {provider} adapter returned {got} results for {wanted} operations"
                    ),
                )
                .with_provider(provider.as_str())
                .with_ambiguous(true)),
            };
            if out
                .send(BulkResult {
                    line,
                    op: Ok(op),
                    result,
                })
                .await
                .is_err()
            {
                break;
            }
            done.sent += 1;
        }
        done
    }
}

/// The error of a row whose call was cut off at the end of the grace period after a stop.
fn interrupted_error(provider: ProviderName) -> Error {
    Error::new(
        ErrorKind::Timeout,
        "interrupted: the run was stopped before the reply arrived; the change may have been applied",
    )
    .with_provider(provider.as_str())
    .with_retryable(false)
    .with_ambiguous(true)
}

fn wrong_handle_kind(provider: ProviderName, capabilities: Capabilities, handle: &Handle) -> Error {
    let accepted = capabilities.handles;
    let names: Vec<&str> = [
        (accepted.phone, "phone"),
        (accepted.email, "email"),
        (accepted.native, "native"),
    ]
    .into_iter()
    .filter_map(|(ok, name)| ok.then_some(name))
    .collect();
    Error::invalid_input(format!(
        "{provider} does not accept {} handles (it accepts: {})",
        handle.kind_name(),
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    ))
    .with_provider(provider.as_str())
}

async fn recv(input: &mut Option<mpsc::Receiver<Row>>) -> Option<Row> {
    match input {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
