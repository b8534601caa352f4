//! The emulators' notion of "now".

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Sentinel for "not pinned" (no real clock reads `u64::MAX` seconds).
const NOT_PINNED: u64 = u64::MAX;

/// System time plus a settable offset, or a pinned instant. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    offset_secs: Arc<AtomicI64>,
    pinned_unix: Arc<AtomicU64>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset_secs: Arc::new(AtomicI64::new(0)),
            pinned_unix: Arc::new(AtomicU64::new(NOT_PINNED)),
        }
    }
}

impl Clock {
    /// The emulators' current Unix time in seconds.
    pub(crate) fn now_unix(&self) -> u64 {
        if let Some(pinned) = self.pinned() {
            return pinned;
        }
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let system = i64::try_from(system).unwrap_or(i64::MAX);
        let now = system.saturating_add(self.offset_secs());
        u64::try_from(now).unwrap_or(0)
    }

    pub(crate) fn offset_secs(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    pub(crate) fn set_offset_secs(&self, offset: i64) {
        self.offset_secs.store(offset, Ordering::Relaxed);
    }

    pub(crate) fn pinned(&self) -> Option<u64> {
        match self.pinned_unix.load(Ordering::Relaxed) {
            NOT_PINNED => None,
            t => Some(t),
        }
    }

    pub(crate) fn pin(&self, unix: Option<u64>) {
        let value = unix.map_or(NOT_PINNED, |t| t.min(NOT_PINNED - 1));
        self.pinned_unix.store(value, Ordering::Relaxed);
    }
}
