//! Section 1: N signed Chert removals through `rosterkit-chert` and through the hand-written
//! [`Baseline`], at concurrency 1 and 64, alternating, against the sandbox child.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use rosterkit_chert::{ChertChange, ChertClient};
use rosterkit_core::{ChangeOptions, ChatId, Handle};

use crate::{baseline::Baseline, cpu};

/// One way to remove a member from a chat, returning the size of the roster in the reply.
pub trait Remover: Send + Sync + 'static {
    /// Removes `address` from `chat`.
    fn remove(
        &self,
        chat: &str,
        address: &str,
    ) -> impl Future<Output = Result<usize, String>> + Send;
}

/// The SDK path, as a user calls it: validate the chat id and the handle, then
/// [`ChertClient::remove`], then read the roster.
#[derive(Debug, Clone)]
pub struct Sdk(pub ChertClient);

impl Remover for Sdk {
    async fn remove(&self, chat: &str, address: &str) -> Result<usize, String> {
        let chat = ChatId::new(chat).map_err(|e| e.to_string())?;
        let who: Handle = address
            .parse()
            .map_err(|e: rosterkit_core::ParseError| e.to_string())?;
        match self.0.remove(&chat, &who, ChangeOptions::default()).await {
            Ok(ChertChange::Applied(reply)) => Ok(reply.participants.map_or(0, |p| p.len())),
            Ok(other) => Err(format!("unexpected {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Remover for Baseline {
    async fn remove(&self, chat: &str, address: &str) -> Result<usize, String> {
        Baseline::remove(self, chat, address)
            .await
            .map(|roster| roster.len())
    }
}

/// One of the compared clients.
#[derive(Debug, Clone)]
pub enum Client {
    /// Through `rosterkit-chert`.
    Sdk(Sdk),
    /// Hand-written.
    Baseline(Baseline),
}

impl Remover for Client {
    async fn remove(&self, chat: &str, address: &str) -> Result<usize, String> {
        match self {
            Self::Sdk(sdk) => sdk.remove(chat, address).await,
            Self::Baseline(baseline) => Remover::remove(baseline, chat, address).await,
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunResult {
    /// Operations completed.
    pub ops: usize,
    /// Roster entries in all replies (a check that both clients parsed the same rosters).
    pub roster_entries: usize,
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of this (the client) process.
    pub cpu: Duration,
    /// CPU time of the sandbox process, when readable.
    pub server_cpu: Option<Duration>,
}

impl RunResult {
    /// Adds `other`'s counts and times to these.
    pub fn add(&mut self, other: &RunResult) {
        let first = self.ops == 0;
        self.ops += other.ops;
        self.roster_entries += other.roster_entries;
        self.wall += other.wall;
        self.cpu += other.cpu;
        self.server_cpu = match (self.server_cpu, other.server_cpu) {
            (Some(a), Some(b)) => Some(a + b),
            (None, b) if first => b,
            _ => None,
        };
    }

    /// Client CPU microseconds per operation.
    #[must_use]
    pub fn cpu_us_per_op(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.ops.max(1) as f64
    }

    /// Sandbox CPU microseconds per operation.
    #[must_use]
    pub fn server_cpu_us_per_op(&self) -> Option<f64> {
        self.server_cpu
            .map(|c| c.as_secs_f64() * 1e6 / self.ops.max(1) as f64)
    }

    /// Operations per second.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Removes `address` from every chat of `chats` through `remover`, `concurrency` at a time,
/// measuring wall time, this process's CPU time and `server_pid`'s.
///
/// # Errors
/// The first failed removal.
pub async fn drive<R: Remover>(
    remover: Arc<R>,
    chats: Arc<[String]>,
    address: Arc<str>,
    concurrency: usize,
    server_pid: u32,
) -> Result<RunResult, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let server0 = cpu::pid_cpu(server_pid);
    let cpu0 = cpu::process_cpu();
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (remover, chats, address, next) = (
            Arc::clone(&remover),
            Arc::clone(&chats),
            Arc::clone(&address),
            Arc::clone(&next),
        );
        tasks.spawn(async move {
            let mut done = (0usize, 0usize);
            while let Some(chat) = chats.get(next.fetch_add(1, Ordering::Relaxed)) {
                done.1 += remover.remove(chat, &address).await?;
                done.0 += 1;
            }
            Ok::<_, String>(done)
        });
    }
    let (mut ops, mut roster_entries) = (0, 0);
    while let Some(joined) = tasks.join_next().await {
        let (o, r) = joined.map_err(|e| format!("task failed: {e}"))??;
        ops += o;
        roster_entries += r;
    }
    let wall = t0.elapsed();
    let cpu = cpu::process_cpu().saturating_sub(cpu0);
    let server_cpu = cpu::pid_cpu(server_pid)
        .zip(server0)
        .map(|(b, a)| b.saturating_sub(a));
    Ok(RunResult {
        ops,
        roster_entries,
        wall,
        cpu,
        server_cpu,
    })
}

/// Concurrency 1, the clients taking turns of `turn` operations each (which goes first
/// rotates), each turn timed on its own: neighbouring turns see the same machine load, so load
/// that comes and goes cancels out of the comparison, while a turn is long enough for the
/// client's code and data to be warm (turns of a single operation would charge each client
/// for the cache misses the others cause). `chats[k]` are client `k`'s chats. Returns one
/// result per client for every rotation.
///
/// # Errors
/// The first failed removal.
pub async fn drive_alternating(
    clients: Arc<[Client]>,
    chats: Vec<Arc<[String]>>,
    address: Arc<str>,
    turn: usize,
) -> Result<Vec<Vec<RunResult>>, String> {
    let task = tokio::spawn(async move {
        let n = clients.len();
        let turn = turn.max(1);
        let ops = chats.iter().map(|c| c.len()).min().unwrap_or(0);
        let mut rotations = Vec::new();
        for (r, first) in (0..ops).step_by(turn).enumerate() {
            let mut results = vec![RunResult::default(); n];
            for k in 0..n {
                let side = (r + k) % n;
                let (Some(client), Some(chats), Some(result)) =
                    (clients.get(side), chats.get(side), results.get_mut(side))
                else {
                    continue;
                };
                let turn_chats = chats
                    .get(first..(first + turn).min(ops))
                    .unwrap_or_default();
                let (t0, cpu0) = (Instant::now(), cpu::process_cpu());
                let mut entries = 0;
                for chat in turn_chats {
                    entries += client.remove(chat, &address).await?;
                }
                *result = RunResult {
                    ops: turn_chats.len(),
                    roster_entries: entries,
                    wall: t0.elapsed(),
                    cpu: cpu::process_cpu().saturating_sub(cpu0),
                    server_cpu: None,
                };
            }
            rotations.push(results);
        }
        Ok::<_, String>(rotations)
    });
    task.await.map_err(|e| format!("task failed: {e}"))?
}
