//! Client-side pacing of adds and removes per thread, so a bulk run does not meet the 429s it
//! could have avoided (ACS: 10 per 10 s and 30 per minute per thread, and every rejected call
//! still counts).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How many add/remove calls may go to one thread in sliding windows.
///
/// The default is the documented ACS limit: at most 10 in any 10 s and at most 30 in any 60 s
/// (a sustained rate of one every 2 s). [`Pacing::off`] sends as fast as the caller asks.
///
/// ```
/// use std::time::Duration;
/// use rosterkit_acs::Pacing;
/// assert_eq!(Pacing::default().windows(), &[(10, Duration::from_secs(10)), (30, Duration::from_secs(60))]);
/// assert!(Pacing::off().is_off());
/// let gentle = Pacing::off().with_window(1, Duration::from_secs(2));
/// assert_eq!(gentle.windows().len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pacing {
    windows: Vec<(u32, Duration)>,
}

impl Default for Pacing {
    fn default() -> Self {
        Self::documented()
    }
}

impl Pacing {
    /// The documented per-thread limit: 10 per 10 s and 30 per 60 s.
    pub fn documented() -> Self {
        Self {
            windows: vec![(10, Duration::from_secs(10)), (30, Duration::from_secs(60))],
        }
    }

    /// No pacing.
    pub fn off() -> Self {
        Self {
            windows: Vec::new(),
        }
    }

    /// Returns the pacing with one more window: at most `max` calls in any `per`. A window
    /// with `max == 0` or a zero duration is ignored.
    #[must_use]
    pub fn with_window(mut self, max: u32, per: Duration) -> Self {
        if max > 0 && !per.is_zero() {
            self.windows.push((max, per));
        }
        self
    }

    /// The windows, `(max calls, per duration)`.
    pub fn windows(&self) -> &[(u32, Duration)] {
        &self.windows
    }

    /// Whether there is no window.
    pub fn is_off(&self) -> bool {
        self.windows.is_empty()
    }
}

/// Threads tracked before idle ones are swept out.
const SWEEP_AT: usize = 1024;

/// The sliding-window limiter behind [`Pacing`]: per thread, the send times still inside the
/// longest window (so at most the largest `max` of them). Idle threads are forgotten when the
/// map grows past a threshold, so memory stays bounded by the number of recently active threads.
pub(crate) struct Pacer {
    windows: Vec<(u32, Duration)>,
    horizon: Duration,
    state: Mutex<PacerState>,
}

struct PacerState {
    threads: HashMap<String, VecDeque<Instant>>,
    sweep_at: usize,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// `None` when pacing is off.
    pub(crate) fn new(pacing: &Pacing) -> Option<Self> {
        let horizon = pacing.windows.iter().map(|(_, per)| *per).max()?;
        Some(Self {
            windows: pacing.windows.clone(),
            horizon,
            state: Mutex::new(PacerState {
                threads: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        })
    }

    /// Waits (tokio time) until a call to `thread` fits every window, then counts it.
    pub(crate) async fn acquire(&self, thread: &str) {
        loop {
            let wait = self.try_acquire(thread, Instant::now());
            if wait.is_zero() {
                return;
            }
            tracing::debug!(
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "pacing ACS thread changes"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts a call at `now` and returns zero, or returns how long to wait.
    fn try_acquire(&self, thread: &str, now: Instant) -> Duration {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if state.threads.len() >= state.sweep_at {
            let horizon = self.horizon;
            state.threads.retain(|_, sent| {
                sent.back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < horizon)
            });
            state.sweep_at = (state.threads.len() * 2).max(SWEEP_AT);
        }
        let sent = state.threads.entry(thread.to_owned()).or_default();
        while sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.horizon)
        {
            sent.pop_front();
        }
        let mut wait = Duration::ZERO;
        for &(max, per) in &self.windows {
            let in_window = sent
                .iter()
                .rev()
                .take_while(|t| now.saturating_duration_since(**t) < per)
                .count();
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            if in_window >= max {
                // The call that must leave the window before one more fits.
                if let Some(oldest) = sent.get(sent.len().saturating_sub(max)) {
                    wait = wait.max((*oldest + per).saturating_duration_since(now));
                }
            }
        }
        if wait.is_zero() {
            sent.push_back(now);
        }
        wait
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .threads
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn documented_windows() {
        let pacer = Pacer::new(&Pacing::default()).unwrap();
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..31 {
            pacer.acquire("19:a@thread.v2").await;
            times.push(start.elapsed().as_secs());
        }
        // 10 at once, 10 more after 10 s, 10 more after 20 s, the 31st after 60 s.
        assert_eq!(&times[..10], &[0; 10]);
        assert_eq!(&times[10..20], &[10; 10]);
        assert_eq!(&times[20..30], &[20; 10]);
        assert_eq!(times[30], 60);
        // Another thread is not held back.
        let before = Instant::now();
        pacer.acquire("19:b@thread.v2").await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn in_any_window_not_fixed_buckets() {
        let pacer = Pacer::new(&Pacing::off().with_window(2, Duration::from_secs(10))).unwrap();
        let t0 = Instant::now();
        pacer.acquire("t").await;
        tokio::time::advance(Duration::from_secs(9)).await;
        pacer.acquire("t").await;
        // The third fits only when the first leaves the window, at t0 + 10 s.
        pacer.acquire("t").await;
        assert_eq!(t0.elapsed(), Duration::from_secs(10));
        // The fourth waits for the second, at t0 + 19 s.
        pacer.acquire("t").await;
        assert_eq!(t0.elapsed(), Duration::from_secs(19));
    }

    #[test]
    fn off_means_no_pacer_and_bad_windows_are_ignored() {
        assert!(Pacer::new(&Pacing::off()).is_none());
        assert!(
            Pacing::off()
                .with_window(0, Duration::from_secs(1))
                .is_off()
        );
        assert!(Pacing::off().with_window(1, Duration::ZERO).is_off());
    }

    #[test]
    fn idle_threads_are_forgotten() {
        let pacer = Pacer::new(&Pacing::default()).unwrap();
        let t0 = Instant::now();
        for i in 0..SWEEP_AT {
            assert!(
                pacer
                    .try_acquire(&format!("19:{i}@thread.v2"), t0)
                    .is_zero()
            );
        }
        assert_eq!(pacer.tracked(), SWEEP_AT);
        // A minute later every one of them is idle: the next call sweeps them out.
        let later = t0 + Duration::from_secs(61);
        assert!(pacer.try_acquire("19:new@thread.v2", later).is_zero());
        assert_eq!(pacer.tracked(), 1);
    }
}
