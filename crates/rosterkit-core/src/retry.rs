//! When to try again, and how long to wait.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, header::RETRY_AFTER};

/// The millisecond headers, in the order they are honoured; parsed once, not on every reply.
static RETRY_AFTER_MS: [HeaderName; 2] = [
    HeaderName::from_static("x-ms-retry-after-ms"),
    HeaderName::from_static("retry-after-ms"),
];

/// How the [`crate::Executor`] retries.
///
/// The wait before a retry is `max(server-requested delay, backoff)`, where backoff doubles from
/// `initial_backoff` up to `max_backoff`, scaled by a random factor in `[0.5, 1.0]` when `jitter`
/// is on. A server asking for more than `max_retry_after` ends the retries (the error carries
/// the delay), so a wait is never shorter than the server asked.
///
/// ```
/// use std::time::Duration;
/// use rosterkit_core::RetryPolicy;
/// let policy = RetryPolicy::default()
///     .with_max_attempts(5)
///     .with_attempt_timeout(Duration::from_secs(10));
/// assert_eq!(policy.max_attempts, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Cap on the computed backoff.
    pub max_backoff: Duration,
    /// Randomise backoff to spread retries of many clients.
    pub jitter: bool,
    /// Limit on one attempt, from sending to the whole reply.
    pub attempt_timeout: Duration,
    /// Limit on the whole run, waits included: an attempt in flight is cut off when it runs
    /// out, and no retry starts that would end past it.
    pub total_timeout: Option<Duration>,
    /// The longest server-requested wait that is honoured with a retry.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 500 ms doubling to 8 s with jitter, 30 s per attempt, 60 s in all
    /// ([`RetryPolicy::DEFAULT_TOTAL_TIMEOUT`]), server waits up to 120 s.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            jitter: true,
            attempt_timeout: Duration::from_secs(30),
            total_timeout: Some(Self::DEFAULT_TOTAL_TIMEOUT),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The most attempts a policy makes: more only multiplies a failing provider's load and
    /// the caller's wait.
    pub const MAX_ATTEMPTS: u32 = 10;

    /// The default limit on one operation's whole run, waits included: a silent server costs
    /// at most this, with or without retries.
    pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

    /// A single attempt, no retries.
    pub fn no_retries() -> Self {
        Self::default().with_max_attempts(1)
    }

    /// Sets the number of attempts, between 1 and [`RetryPolicy::MAX_ATTEMPTS`].
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.clamp(1, Self::MAX_ATTEMPTS);
        self
    }

    /// Sets the backoff range.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Turns jitter on or off.
    #[must_use]
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn with_attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = timeout;
        self
    }

    /// Sets the total deadline (`None`: none, only the per-attempt timeout bounds a run).
    #[must_use]
    pub fn with_total_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.total_timeout = timeout;
        self
    }

    /// Sets the longest server-requested wait that is honoured.
    #[must_use]
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// The backoff before retry number `retry` (1 = the first retry), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// The wait before retry number `retry`, given the server's requested delay.
    pub(crate) fn delay(&self, retry: u32, server: Option<Duration>) -> Duration {
        let mut backoff = self.backoff(retry);
        if self.jitter {
            backoff = backoff.mul_f64(0.5 + unit_random() * 0.5);
        }
        server.map_or(backoff, |s| s.max(backoff))
    }
}

/// A number in `[0, 1)` for jitter. Jitter needs spread, not cryptographic quality: std's
/// `RandomState` is seeded randomly per thread and each `new()` gets fresh keys, so hashing
/// nothing with it yields a different value every call, without a random-number crate.
fn unit_random() -> f64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    // The top 53 bits as the mantissa of a float in [0, 1).
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// The delay a reply asks for, from its headers, in the Azure order: `x-ms-retry-after-ms`,
/// `retry-after-ms`, then `Retry-After` as seconds or an HTTP date (relative to `now`).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "12".parse().unwrap());
/// assert_eq!(
///     rosterkit_core::retry_after_from_headers(&headers, SystemTime::now()),
///     Some(Duration::from_secs(12))
/// );
/// ```
pub fn retry_after_from_headers(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in &RETRY_AFTER_MS {
        if let Some(ms) = text(name).and_then(|v| v.parse::<f64>().ok())
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = text(&RETRY_AFTER)?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let got = |p: &[(&'static str, &str)]| retry_after_from_headers(&headers(p), now);
        assert_eq!(got(&[("retry-after", "7")]), Some(Duration::from_secs(7)));
        assert_eq!(
            got(&[("retry-after", "Tue, 14 Nov 2023 22:13:50 GMT")]),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            got(&[("retry-after", "Tue, 14 Nov 2023 22:13:00 GMT")]),
            Some(Duration::ZERO)
        );
        assert_eq!(
            got(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            got(&[("x-ms-retry-after-ms", "250"), ("retry-after-ms", "1500")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(got(&[("retry-after", "soon")]), None);
        assert_eq!(got(&[("retry-after-ms", "-5")]), None);
        assert_eq!(got(&[]), None);
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy::default()
            .with_backoff(Duration::from_millis(500), Duration::from_secs(8))
            .with_jitter(false);
        let got: Vec<_> = (1..=7).map(|r| p.backoff(r).as_millis()).collect();
        assert_eq!(got, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(8));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(12))),
            Duration::from_secs(12)
        );
        assert_eq!(
            p.delay(3, Some(Duration::from_millis(1))),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let p = RetryPolicy::default().with_backoff(Duration::from_secs(1), Duration::from_secs(1));
        for _ in 0..200 {
            let d = p.delay(1, None);
            assert!(
                d >= Duration::from_millis(500) && d <= Duration::from_secs(1),
                "{d:?}"
            );
        }
    }

    #[test]
    fn jitter_spreads() {
        let draws: Vec<f64> = (0..1_000).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let mut distinct = draws.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 990, "{} distinct of 1,000", distinct.len());
        // Roughly uniform: each half of the interval gets a fair share.
        let low = draws.iter().filter(|x| **x < 0.5).count();
        assert!((350..=650).contains(&low), "{low} of 1,000 below 0.5");
    }
}
