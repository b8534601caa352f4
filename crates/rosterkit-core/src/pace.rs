//! Client-side pacing: the one limiter every adapter and the facade's bulk runs use, so calls
//! stay under a provider's documented rate (ACS: 10 per 10 s and 30 per minute per thread) or
//! a safe one (Z-API: WhatsApp bans numbers that change groups aggressively).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::Error;

/// A rate of changes: at most `count` per `period`, spread evenly (one change every
/// `period / count`; a batch of `n` handles counts as `n` changes).
///
/// Parses from `N/PERIOD` where `PERIOD` is a number with a unit `ms`, `s`, `m` or `h`, and
/// the number may be left out for 1: `5/s`, `10/10s`, `30/m`, `1/1500ms`.
///
/// ```
/// use std::time::Duration;
/// use rosterkit_core::Rate;
/// let rate: Rate = "10/10s".parse()?;
/// assert_eq!(rate.interval(), Duration::from_secs(1));
/// assert_eq!(Rate::per_second(4).interval(), Duration::from_millis(250));
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    period: Duration,
}

impl Rate {
    /// At most `count` changes per `period` (a `count` of 0 is taken as 1).
    pub fn new(count: u32, period: Duration) -> Self {
        Self {
            count: count.max(1),
            period,
        }
    }

    /// At most `count` changes per second.
    pub fn per_second(count: u32) -> Self {
        Self::new(count, Duration::from_secs(1))
    }

    /// The spacing between two changes.
    pub fn interval(&self) -> Duration {
        self.period / self.count
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.count, self.period.as_millis())
    }
}

impl FromStr for Rate {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            Error::invalid_input(format!(
                "invalid rate {s:?}: expected N/PERIOD such as 5/s, 10/10s, 30/m or 1/1500ms"
            ))
        };
        let (count, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (amount, unit) = period.split_at(split);
        let amount: u64 = if amount.is_empty() {
            1
        } else {
            amount.parse().map_err(|_| bad())?
        };
        let period = match unit {
            "ms" => Duration::from_millis(amount),
            "s" => Duration::from_secs(amount),
            "m" => Duration::from_secs(amount.saturating_mul(60)),
            "h" => Duration::from_secs(amount.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        if count == 0 || period.is_zero() {
            return Err(bad());
        }
        Ok(Self::new(count, period))
    }
}

/// A set of [`Rate`]s a key's calls must all keep, each in any sliding window of its period
/// (not fixed buckets). [`Pacing::off`] (the default) sends as fast as the caller asks.
///
/// ```
/// use std::time::Duration;
/// use rosterkit_core::{Pacing, Rate};
/// let acs = Pacing::off()
///     .with_rate(Rate::new(10, Duration::from_secs(10)))
///     .with_rate(Rate::new(30, Duration::from_secs(60)));
/// assert_eq!(acs.rates().len(), 2);
/// assert!(Pacing::off().is_off());
/// // One call every 2 s:
/// assert_eq!(Pacing::from(Duration::from_secs(2)).rates()[0].interval(), Duration::from_secs(2));
/// assert!(Pacing::from(Duration::ZERO).is_off());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pacing {
    rates: Vec<Rate>,
}

impl Pacing {
    /// No pacing.
    pub fn off() -> Self {
        Self::default()
    }

    /// The least spacing between two changes that keeps every rate (zero when off).
    pub fn interval(&self) -> Duration {
        self.rates
            .iter()
            .map(Rate::interval)
            .max()
            .unwrap_or_default()
    }

    /// Returns the pacing with one more rate to keep. A zero period is ignored.
    #[must_use]
    pub fn with_rate(mut self, rate: Rate) -> Self {
        if !rate.period.is_zero() {
            self.rates.push(rate);
        }
        self
    }

    /// The rates.
    pub fn rates(&self) -> &[Rate] {
        &self.rates
    }

    /// Whether there is no rate.
    pub fn is_off(&self) -> bool {
        self.rates.is_empty()
    }
}

impl From<Rate> for Pacing {
    fn from(rate: Rate) -> Self {
        Self::off().with_rate(rate)
    }
}

/// One call per `interval` (zero: off).
impl From<Duration> for Pacing {
    fn from(interval: Duration) -> Self {
        Self::off().with_rate(Rate::new(1, interval))
    }
}

/// Threads tracked before idle ones are swept out.
const SWEEP_AT: usize = 1024;

/// The sliding-window limiter behind [`Pacing`], keyed (per thread, per chat, or one key for a
/// whole instance): per key, the send times still inside the longest window. Idle keys are
/// forgotten when the map grows past a threshold, so memory stays bounded by the number of
/// recently active keys. Waits use tokio time, so tests with paused time run instantly.
///
/// [`Pacer::serial`] also runs one call at a time and counts each from its end, for a
/// provider that must never see two changes at once (Z-API).
pub struct Pacer {
    windows: Vec<(u32, Duration)>,
    horizon: Duration,
    state: Mutex<PacerState>,
    turn: Option<tokio::sync::Mutex<()>>,
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
    /// A limiter keeping `pacing`; `None` when pacing is off.
    pub fn new(pacing: &Pacing) -> Option<Self> {
        if pacing.is_off() {
            return None;
        }
        Some(Self::build(pacing, None))
    }

    /// A limiter that also runs [`Pacer::run`] calls one at a time, each counted from its end
    /// (with pacing off it only serialises them).
    pub fn serial(pacing: &Pacing) -> Self {
        Self::build(pacing, Some(tokio::sync::Mutex::new(())))
    }

    fn build(pacing: &Pacing, turn: Option<tokio::sync::Mutex<()>>) -> Self {
        let windows: Vec<(u32, Duration)> =
            pacing.rates.iter().map(|r| (r.count, r.period)).collect();
        let horizon = windows
            .iter()
            .map(|(_, per)| *per)
            .max()
            .unwrap_or_default();
        Self {
            windows,
            horizon,
            state: Mutex::new(PacerState {
                threads: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
            turn,
        }
    }

    /// The pacing kept.
    pub fn pacing(&self) -> Pacing {
        self.windows.iter().fold(Pacing::off(), |p, &(count, per)| {
            p.with_rate(Rate::new(count, per))
        })
    }

    /// Runs `call` once it fits the pacing of `key` (and, for a serial pacer, once every
    /// earlier call has finished).
    pub async fn run<F: Future>(&self, key: &str, call: F) -> F::Output {
        let _turn = match &self.turn {
            Some(turn) => Some(turn.lock().await),
            None => None,
        };
        self.acquire(key).await;
        let output = call.await;
        if self.turn.is_some() {
            // Counted from the start too, so a cancelled call still spaces the next one.
            self.restamp(key, Instant::now());
        }
        output
    }

    /// Moves `key`'s latest send time to `at` (a serial call's end).
    fn restamp(&self, key: &str, at: Instant) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last) = state.threads.get_mut(key).and_then(VecDeque::back_mut) {
            *last = at;
        }
    }

    /// Waits (tokio time) until a call for `key` fits every window, then counts it.
    pub async fn acquire(&self, thread: &str) {
        loop {
            let wait = self.try_acquire(thread, Instant::now());
            if wait.is_zero() {
                return;
            }
            tracing::debug!(
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "pacing"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts a call for `key` at `now` and returns zero, or returns how long to wait.
    pub fn try_acquire(&self, thread: &str, now: Instant) -> Duration {
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

    fn documented() -> Pacing {
        Pacing::off()
            .with_rate(Rate::new(10, Duration::from_secs(10)))
            .with_rate(Rate::new(30, Duration::from_secs(60)))
    }

    #[tokio::test(start_paused = true)]
    async fn serial_calls_are_spaced_from_their_end() {
        let pacer = Pacer::serial(&Duration::from_secs(2).into());
        let t0 = Instant::now();
        pacer
            .run("i", tokio::time::sleep(Duration::from_secs(3)))
            .await;
        pacer.run("i", async {}).await;
        assert_eq!(t0.elapsed(), Duration::from_secs(5));
    }

    #[test]
    fn rates_parse() {
        let ms = Duration::from_millis;
        assert_eq!("5/s".parse::<Rate>().unwrap().interval(), ms(200));
        assert_eq!("10/10s".parse::<Rate>().unwrap().interval(), ms(1000));
        assert_eq!("30/m".parse::<Rate>().unwrap().interval(), ms(2000));
        assert_eq!(" 1 / 1500ms ".parse::<Rate>().unwrap().interval(), ms(1500));
        assert_eq!("1/h".parse::<Rate>().unwrap().interval(), ms(3_600_000));
        for bad in ["", "5", "0/s", "5/0s", "5/", "x/s", "5/10", "5/10d", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should be refused");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn documented_windows() {
        let pacer = Pacer::new(&documented()).unwrap();
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
        let pacer = Pacer::new(&Rate::new(2, Duration::from_secs(10)).into()).unwrap();
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
                .with_rate(Rate::new(1, Duration::ZERO))
                .is_off()
        );
        assert_eq!(
            Rate::new(0, Duration::from_secs(1)).interval(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn idle_threads_are_forgotten() {
        let pacer = Pacer::new(&documented()).unwrap();
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
    #[tokio::test(start_paused = true)]
    async fn pacer_spaces_and_serialises() {
        let pacer = Pacer::serial(&Duration::from_secs(2).into());
        let start = Instant::now();
        let mut stamps = Vec::new();
        for _ in 0..3 {
            stamps.push(pacer.run("i", async { Instant::now() }).await);
        }
        assert_eq!(stamps[0] - start, Duration::ZERO);
        assert_eq!(stamps[1] - stamps[0], Duration::from_secs(2));
        assert_eq!(stamps[2] - stamps[1], Duration::from_secs(2));
        // Concurrent callers queue.
        let (a, b) = tokio::join!(
            pacer.run("i", async { Instant::now() }),
            pacer.run("i", async { Instant::now() })
        );
        let gap = if a > b { a - b } else { b - a };
        assert_eq!(gap, Duration::from_secs(2));
    }
}
