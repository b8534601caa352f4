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

/// The longest delay a server's retry hint is read as: one day. A longer hint (`1e30`,
/// `inf`, a date in the year 9999) saturates here instead of overflowing a [`Duration`]; any
/// hint over [`RetryPolicy::max_retry_after`] ends the retries anyway, so the exact size of an
/// absurd one does not matter, only that it stays one.
pub const MAX_RETRY_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// The delay a reply asks for, from its headers, in the Azure order: `x-ms-retry-after-ms`,
/// `retry-after-ms`, then `Retry-After` as seconds or an HTTP date (relative to `now`).
///
/// Every byte is the server's: a value that is not a number of the unit (or a date), is
/// negative or NaN is ignored and the next header read; a huge or infinite one saturates at
/// [`MAX_RETRY_HINT`]. Never panics.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// use rosterkit_core::{MAX_RETRY_HINT, retry_after_from_headers};
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "12".parse().unwrap());
/// assert_eq!(
///     retry_after_from_headers(&headers, SystemTime::now()),
///     Some(Duration::from_secs(12))
/// );
/// headers.insert("retry-after-ms", "1e30".parse().unwrap());
/// assert_eq!(retry_after_from_headers(&headers, SystemTime::now()), Some(MAX_RETRY_HINT));
/// ```
pub fn retry_after_from_headers(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    for name in &RETRY_AFTER_MS {
        if let Some(delay) = text(name).and_then(|v| retry_hint(v, HintUnit::Millis)) {
            return Some(delay);
        }
    }
    let value = text(&RETRY_AFTER)?;
    if let Some(delay) = retry_hint(value, HintUnit::Seconds) {
        return Some(delay);
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_HINT),
    )
}

/// The unit of a numeric retry hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HintUnit {
    /// `Retry-After`, a body's `retry_after`.
    Seconds,
    /// `retry-after-ms`, `x-ms-retry-after-ms`.
    Millis,
}

/// A numeric retry hint as text (`"30"`, `"1.5"`, `"1e3"`): exact for integers, saturating at
/// [`MAX_RETRY_HINT`]; `None` for anything that is not a number, a negative number or NaN.
///
/// ```
/// use std::time::Duration;
/// use rosterkit_core::{HintUnit, MAX_RETRY_HINT, retry_hint};
/// assert_eq!(retry_hint("1500", HintUnit::Millis), Some(Duration::from_millis(1500)));
/// assert_eq!(retry_hint(" 2.5 ", HintUnit::Seconds), Some(Duration::from_millis(2500)));
/// assert_eq!(retry_hint("18446744073709551615000", HintUnit::Millis), Some(MAX_RETRY_HINT));
/// assert_eq!(retry_hint("-5", HintUnit::Seconds), None);
/// assert_eq!(retry_hint("NaN", HintUnit::Seconds), None);
/// assert_eq!(retry_hint("soon", HintUnit::Seconds), None);
/// ```
pub fn retry_hint(text: &str, unit: HintUnit) -> Option<Duration> {
    let text = text.trim();
    if let Ok(whole) = text.parse::<u64>() {
        return Some(retry_hint_whole(whole, unit));
    }
    // Rust's float syntax also takes `inf`, `infinity` and `nan` in any case: the first two
    // saturate, the last is ignored below.
    let number = text.parse::<f64>().ok()?;
    retry_hint_f64(number, unit)
}

/// A whole-number retry hint, saturating at [`MAX_RETRY_HINT`].
pub fn retry_hint_whole(value: u64, unit: HintUnit) -> Duration {
    let delay = match unit {
        HintUnit::Seconds => Duration::from_secs(value),
        HintUnit::Millis => Duration::from_millis(value),
    };
    delay.min(MAX_RETRY_HINT)
}

/// A fractional retry hint, saturating at [`MAX_RETRY_HINT`] (infinity included); `None` for
/// a negative number or NaN.
pub fn retry_hint_f64(value: f64, unit: HintUnit) -> Option<Duration> {
    if value.is_nan() || value < 0.0 {
        return None;
    }
    let seconds = match unit {
        HintUnit::Seconds => value,
        HintUnit::Millis => value / 1000.0,
    };
    // Compared before converting: `try_from_secs_f64` refuses (rather than saturates) what
    // does not fit, and anything over the ceiling is the ceiling.
    if seconds >= MAX_RETRY_HINT.as_secs_f64() {
        return Some(MAX_RETRY_HINT);
    }
    Duration::try_from_secs_f64(seconds).ok()
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

    /// Issue #16: hints that used to overflow `Duration::from_secs_f64` (a panic on every
    /// provider) saturate; negative and NaN ones are ignored and the next spelling read.
    #[test]
    fn hostile_hints_saturate_or_are_ignored() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let got = |p: &[(&'static str, &str)]| retry_after_from_headers(&headers(p), now);
        for name in ["x-ms-retry-after-ms", "retry-after-ms", "retry-after"] {
            for huge in [
                "1e30",
                "1E308",
                "18446744073709551615000",
                "18446744073709551615",
                "99999999999999999999999999999999999999999999999999",
                "inf",
                "+Infinity",
            ] {
                assert_eq!(got(&[(name, huge)]), Some(MAX_RETRY_HINT), "{name}: {huge}");
            }
            for ignored in [
                "-5", "-1e30", "-inf", "NaN", "-0.5", "0x10", "1_000", "", "1 2",
            ] {
                assert_eq!(got(&[(name, ignored)]), None, "{name}: {ignored:?}");
            }
        }
        assert_eq!(
            got(&[("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT")]),
            Some(MAX_RETRY_HINT)
        );
        assert_eq!(
            got(&[("retry-after-ms", "1.5")]),
            Some(Duration::from_micros(1500))
        );
        assert_eq!(
            got(&[("retry-after", "0.25")]),
            Some(Duration::from_millis(250))
        );
        assert_eq!(got(&[("retry-after-ms", "1e-320")]), Some(Duration::ZERO));
        assert_eq!(got(&[("retry-after-ms", "-0")]), Some(Duration::ZERO));
        // A bad value in one spelling falls through to the next.
        assert_eq!(
            got(&[
                ("x-ms-retry-after-ms", "NaN"),
                ("retry-after-ms", "-1"),
                ("retry-after", "3")
            ]),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            got(&[("x-ms-retry-after-ms", "1e30"), ("retry-after", "3")]),
            Some(MAX_RETRY_HINT)
        );
    }

    #[test]
    fn whole_and_fractional_hints() {
        assert_eq!(
            retry_hint_whole(u64::MAX, HintUnit::Seconds),
            MAX_RETRY_HINT
        );
        assert_eq!(retry_hint_whole(u64::MAX, HintUnit::Millis), MAX_RETRY_HINT);
        assert_eq!(
            retry_hint_whole(7, HintUnit::Seconds),
            Duration::from_secs(7)
        );
        assert_eq!(
            retry_hint_f64(f64::MAX, HintUnit::Millis),
            Some(MAX_RETRY_HINT)
        );
        assert_eq!(
            retry_hint_f64(f64::INFINITY, HintUnit::Seconds),
            Some(MAX_RETRY_HINT)
        );
        assert_eq!(retry_hint_f64(f64::NAN, HintUnit::Seconds), None);
        assert_eq!(retry_hint_f64(-f64::MIN_POSITIVE, HintUnit::Seconds), None);
        assert_eq!(
            retry_hint_f64(86_399.5, HintUnit::Seconds),
            Some(Duration::from_millis(86_399_500))
        );
        assert_eq!(
            retry_hint_f64(0.001, HintUnit::Seconds),
            Some(Duration::from_millis(1))
        );
    }

    proptest::proptest! {
        /// Any header bytes in any of the three spellings, alone or together: no panic, and a
        /// delay no longer than the ceiling.
        #[test]
        fn any_header_bytes_never_panic_and_stay_under_the_ceiling(
            values in proptest::collection::vec(
                (0usize..3, proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
                0..4,
            ),
            now in 0u64..=u64::MAX,
        ) {
            let names = ["x-ms-retry-after-ms", "retry-after-ms", "retry-after"];
            let mut map = HeaderMap::new();
            for (name, bytes) in &values {
                if let Ok(value) = http::HeaderValue::from_bytes(bytes) {
                    map.append(names[*name], value);
                }
            }
            let now = UNIX_EPOCH.checked_add(Duration::from_secs(now)).unwrap_or(UNIX_EPOCH);
            if let Some(delay) = retry_after_from_headers(&map, now) {
                proptest::prop_assert!(delay <= MAX_RETRY_HINT);
            }
        }

        /// Number-like text (the shapes a float parser accepts and a little more).
        #[test]
        fn any_numeric_text_never_panics(text in "[-+]?[0-9]{0,30}(\\.[0-9]{0,20})?([eE][-+]?[0-9]{0,4})?|[a-zA-Z]{0,9}") {
            for unit in [HintUnit::Seconds, HintUnit::Millis] {
                if let Some(delay) = retry_hint(&text, unit) {
                    proptest::prop_assert!(delay <= MAX_RETRY_HINT);
                }
            }
        }

        #[test]
        fn any_float_never_panics(value in proptest::num::f64::ANY) {
            for unit in [HintUnit::Seconds, HintUnit::Millis] {
                let delay = retry_hint_f64(value, unit);
                proptest::prop_assert!(delay.is_none_or(|d| d <= MAX_RETRY_HINT));
                proptest::prop_assert_eq!(delay.is_none(), value.is_nan() || value < 0.0);
            }
        }
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
