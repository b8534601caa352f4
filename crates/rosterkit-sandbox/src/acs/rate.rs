//! Per-thread sliding windows on adds and removes (ACS: 10 per 10 s, 30 per 60 s), on tokio
//! time so paused-time tests see them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;

/// `(max changes, per window)`.
const WINDOWS: [(usize, Duration); 2] =
    [(10, Duration::from_secs(10)), (30, Duration::from_secs(60))];
const HORIZON: Duration = Duration::from_secs(60);
/// Threads tracked before idle ones are swept out.
const SWEEP_AT: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Limiter {
    threads: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// Counts one accepted change to `thread`, or returns the whole seconds (rounded up) until
    /// one fits. Refused calls are not counted.
    pub(super) fn admit(&self, thread: &str) -> Result<(), u64> {
        let now = Instant::now();
        let mut threads = lock(&self.threads);
        if threads.len() >= SWEEP_AT {
            threads.retain(|_, sent| {
                sent.back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < HORIZON)
            });
        }
        let sent = threads.entry(thread.to_owned()).or_default();
        while sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= HORIZON)
        {
            sent.pop_front();
        }
        let mut wait = Duration::ZERO;
        for (max, per) in WINDOWS {
            let in_window = sent
                .iter()
                .rev()
                .take_while(|t| now.saturating_duration_since(**t) < per)
                .count();
            if in_window >= max
                && let Some(oldest) = sent.get(sent.len().saturating_sub(max))
            {
                wait = wait.max((*oldest + per).saturating_duration_since(now));
            }
        }
        if wait.is_zero() {
            sent.push_back(now);
            Ok(())
        } else {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Err(secs.max(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn windows() {
        let limiter = Limiter::default();
        for _ in 0..10 {
            assert_eq!(limiter.admit("t"), Ok(()));
        }
        assert_eq!(limiter.admit("t"), Err(10));
        assert_eq!(limiter.admit("other"), Ok(()));
        tokio::time::advance(Duration::from_millis(9_500)).await;
        assert_eq!(limiter.admit("t"), Err(1));
        tokio::time::advance(Duration::from_millis(500)).await;
        for _ in 0..10 {
            assert_eq!(limiter.admit("t"), Ok(()));
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        for _ in 0..10 {
            assert_eq!(limiter.admit("t"), Ok(()));
        }
        // 30 in the last minute: the next fits when the first leaves it, 40 s from now.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(limiter.admit("t"), Err(30));
    }
}
