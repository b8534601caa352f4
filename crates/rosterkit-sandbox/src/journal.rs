//! The request journal: what went over the wire to the emulators.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::fault::FaultKind;
use crate::provider::Provider;
use crate::sync::lock;

/// The default number of entries the journal keeps before dropping the oldest.
pub const DEFAULT_JOURNAL_CAPACITY: usize = 100_000;

/// The default number of bytes (bodies, headers, paths, effects) the journal keeps before
/// dropping the oldest entries: 64 MiB, so a flood of large requests cannot grow it further.
pub const DEFAULT_JOURNAL_MAX_BYTES: usize = 64 * 1024 * 1024;

/// One request received by an emulator, with what the sandbox did about it.
///
/// Over HTTP (`GET /_sandbox/journal`) an entry is a JSON object with the same field names;
/// `headers` is a list of `[name, value]` pairs, and the body appears twice: `body` (UTF-8,
/// invalid sequences replaced by U+FFFD) and `body_base64` (the exact bytes, standard base64).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "EntryWire", from = "EntryWire")]
pub struct JournalEntry {
    /// Arrival number, starting at 1 and never reused (not even after [`Journal::clear`]).
    pub seq: u64,
    /// The emulator that received the request.
    pub provider: Provider,
    /// The HTTP method (`"DELETE"`).
    pub method: String,
    /// The path and query exactly as received, still percent-encoded
    /// (`/chert/api/v1/chats/ch_X/participants/%2B14155551234`).
    pub path: String,
    /// Every header in arrival order. Names are lowercase (HTTP/1 names are case-insensitive
    /// and the server normalises them); values are as received, non-UTF-8 bytes replaced.
    pub headers: Vec<(String, String)>,
    /// The request body, byte for byte.
    pub body: Bytes,
    /// The status sent back, or `None` when the connection was dropped without a response.
    pub status: Option<u16>,
    /// The fault that fired on this request, if any.
    pub fault: Option<FaultKind>,
    /// The state changes the emulator applied, e.g. `"chert:remove ch_X +14155551234"`.
    /// Empty for a request that changed nothing (errors, no-op adds, faults that stop early).
    pub effects: Vec<String>,
    /// When the request arrived, since the journal was created, on Tokio's clock (so a test
    /// with paused time sees paused time): how long a client waited between two requests is
    /// `next.received_at - previous.finished_at`, measured where the requests land.
    pub received_at: Duration,
    /// When the reply went out or the connection was dropped (after every effect was applied),
    /// on the same clock as [`received_at`](Self::received_at).
    pub finished_at: Duration,
}

impl JournalEntry {
    /// The first value of the header `name` (case-insensitive), if present.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8, with invalid sequences replaced.
    #[must_use]
    pub fn body_text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

#[derive(Serialize, Deserialize)]
struct EntryWire {
    seq: u64,
    provider: Provider,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    body_base64: Option<String>,
    status: Option<u16>,
    #[serde(default)]
    fault: Option<FaultKind>,
    #[serde(default)]
    effects: Vec<String>,
    #[serde(default)]
    received_at_us: u64,
    #[serde(default)]
    finished_at_us: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl From<JournalEntry> for EntryWire {
    fn from(e: JournalEntry) -> Self {
        EntryWire {
            seq: e.seq,
            provider: e.provider,
            method: e.method,
            path: e.path,
            headers: e.headers,
            body: String::from_utf8_lossy(&e.body).into_owned(),
            body_base64: Some(BASE64.encode(&e.body)),
            status: e.status,
            fault: e.fault,
            effects: e.effects,
            received_at_us: micros(e.received_at),
            finished_at_us: micros(e.finished_at),
        }
    }
}

impl From<EntryWire> for JournalEntry {
    fn from(w: EntryWire) -> Self {
        let body = w
            .body_base64
            .and_then(|b| BASE64.decode(b).ok())
            .map_or_else(|| Bytes::from(w.body.into_bytes()), Bytes::from);
        JournalEntry {
            seq: w.seq,
            provider: w.provider,
            method: w.method,
            path: w.path,
            headers: w.headers,
            body,
            status: w.status,
            fault: w.fault,
            effects: w.effects,
            received_at: Duration::from_micros(w.received_at_us),
            finished_at: Duration::from_micros(w.finished_at_us),
        }
    }
}

/// A cloneable handle on the sandbox's request journal.
///
/// Entries are appended when a request finishes (answered, or dropped by a fault), so they are
/// in completion order; `seq` gives the arrival order. The journal keeps at most
/// [`capacity`](Journal::capacity) entries and at most [`max_bytes`](Journal::max_bytes) bytes
/// (the newest entry is always kept), and drops the oldest beyond that, so long runs and
/// floods of large requests stay flat in memory.
#[derive(Debug, Clone)]
pub struct Journal {
    inner: Arc<JournalInner>,
}

#[derive(Debug)]
struct JournalInner {
    next_seq: AtomicU64,
    /// Time zero of `received_at` / `finished_at`.
    origin: Instant,
    state: Mutex<JournalState>,
}

#[derive(Debug)]
struct JournalState {
    capacity: usize,
    max_bytes: usize,
    /// The sum of [`entry_bytes`] over `entries`.
    bytes: usize,
    entries: VecDeque<JournalEntry>,
}

impl JournalState {
    /// Drops the oldest entries until `incoming` more bytes and `extra_entries` more entries
    /// fit; with no entry incoming, the newest one is kept.
    fn make_room(&mut self, incoming: usize, extra_entries: usize) {
        while let Some(oldest) = self.entries.front() {
            if extra_entries == 0 && self.entries.len() == 1 {
                break;
            }
            let too_many = self.entries.len() + extra_entries > self.capacity;
            let too_big = self.bytes.saturating_add(incoming) > self.max_bytes;
            if !too_many && !too_big {
                break;
            }
            self.bytes = self.bytes.saturating_sub(entry_bytes(oldest));
            self.entries.pop_front();
        }
    }
}

/// What an entry costs the journal, approximately: its variable-length parts.
fn entry_bytes(entry: &JournalEntry) -> usize {
    let headers: usize = entry.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    let effects: usize = entry.effects.iter().map(String::len).sum();
    entry.body.len() + entry.path.len() + entry.method.len() + headers + effects
}

impl Journal {
    pub(crate) fn new(capacity: usize) -> Self {
        Journal {
            inner: Arc::new(JournalInner {
                next_seq: AtomicU64::new(1),
                origin: Instant::now(),
                state: Mutex::new(JournalState {
                    capacity: capacity.max(1),
                    max_bytes: DEFAULT_JOURNAL_MAX_BYTES,
                    bytes: 0,
                    entries: VecDeque::new(),
                }),
            }),
        }
    }

    /// Every entry currently kept, oldest first.
    #[must_use]
    pub fn entries(&self) -> Vec<JournalEntry> {
        lock(&self.inner.state).entries.iter().cloned().collect()
    }

    /// The entries received by one provider, oldest first.
    #[must_use]
    pub fn entries_for(&self, provider: Provider) -> Vec<JournalEntry> {
        lock(&self.inner.state)
            .entries
            .iter()
            .filter(|e| e.provider == provider)
            .cloned()
            .collect()
    }

    /// The most recently finished entry.
    #[must_use]
    pub fn last(&self) -> Option<JournalEntry> {
        lock(&self.inner.state).entries.back().cloned()
    }

    /// Every effect of every entry kept, in journal order: a quick way to count side effects.
    #[must_use]
    pub fn effects(&self) -> Vec<String> {
        lock(&self.inner.state)
            .entries
            .iter()
            .flat_map(|e| e.effects.iter().cloned())
            .collect()
    }

    /// The number of entries kept.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.inner.state).entries.len()
    }

    /// Whether no entry is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry. Sequence numbers keep counting.
    pub fn clear(&self) {
        let mut state = lock(&self.inner.state);
        state.entries.clear();
        state.bytes = 0;
    }

    /// The maximum number of entries kept.
    #[must_use]
    pub fn capacity(&self) -> usize {
        lock(&self.inner.state).capacity
    }

    /// Changes the maximum number of entries kept (at least 1), dropping the oldest if needed.
    pub fn set_capacity(&self, capacity: usize) {
        let mut state = lock(&self.inner.state);
        state.capacity = capacity.max(1);
        state.make_room(0, 0);
    }

    /// The maximum number of bytes kept (bodies, headers, paths and effects).
    #[must_use]
    pub fn max_bytes(&self) -> usize {
        lock(&self.inner.state).max_bytes
    }

    /// The bytes the kept entries take (bodies, headers, paths and effects).
    #[must_use]
    pub fn bytes(&self) -> usize {
        lock(&self.inner.state).bytes
    }

    /// Changes the maximum number of bytes kept, dropping the oldest entries if needed. The
    /// newest entry is kept even when it alone is larger.
    pub fn set_max_bytes(&self, max_bytes: usize) {
        let mut state = lock(&self.inner.state);
        state.max_bytes = max_bytes;
        state.make_room(0, 0);
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.inner.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Now, as a `received_at` / `finished_at` timestamp: whole microseconds, as the wire
    /// form carries them, so an entry round-trips exactly.
    pub(crate) fn elapsed(&self) -> Duration {
        Duration::from_micros(micros(self.inner.origin.elapsed()))
    }

    pub(crate) fn push(&self, entry: JournalEntry) {
        let size = entry_bytes(&entry);
        let mut state = lock(&self.inner.state);
        state.make_room(size, 1);
        state.bytes = state.bytes.saturating_add(size);
        state.entries.push_back(entry);
    }
}

#[cfg(test)]
mod byte_cap_tests {
    use super::*;

    fn entry(seq: u64, body_len: usize) -> JournalEntry {
        JournalEntry {
            seq,
            provider: Provider::Chert,
            method: "POST".to_owned(),
            path: "/p".to_owned(),
            headers: vec![("h".to_owned(), "v".to_owned())],
            body: Bytes::from(vec![b'x'; body_len]),
            status: Some(413),
            fault: None,
            effects: Vec::new(),
            received_at: Duration::ZERO,
            finished_at: Duration::ZERO,
        }
    }

    #[test]
    fn bytes_are_capped_and_the_newest_entry_is_kept() {
        let journal = Journal::new(100);
        journal.set_max_bytes(10_000);
        for seq in 1..=50 {
            journal.push(entry(seq, 1_000));
        }
        assert!(journal.bytes() <= 10_000, "{}", journal.bytes());
        assert_eq!(journal.len(), 9, "each entry is 1,000 + 8 bytes");
        assert_eq!(journal.last().map(|e| e.seq), Some(50));
        journal.push(entry(51, 50_000));
        assert_eq!(journal.len(), 1, "a huge entry evicts all others");
        assert_eq!(journal.bytes(), 50_008);
        journal.push(entry(52, 10));
        assert_eq!(journal.len(), 1);
        assert_eq!(journal.bytes(), 18);
        journal.set_max_bytes(0);
        assert_eq!(journal.len(), 1, "the newest entry stays");
        journal.clear();
        assert_eq!(journal.bytes(), 0);
    }
}
