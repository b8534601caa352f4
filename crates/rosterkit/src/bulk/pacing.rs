//! Optional pacing of changes, per provider and per chat.

use std::{fmt, str::FromStr, time::Duration};

use rosterkit_core::Error;

/// A rate of changes: at most `count` per `period`, spread evenly (one change every
/// `period / count`; a batch of `n` handles counts as `n` changes).
///
/// Parses from `N/PERIOD` where `PERIOD` is a number with a unit `ms`, `s`, `m` or `h`, and
/// the number may be left out for 1: `5/s`, `10/10s`, `30/m`, `1/1500ms`.
///
/// ```
/// use std::time::Duration;
/// use rosterkit::bulk::Rate;
/// let rate: Rate = "10/10s".parse()?;
/// assert_eq!(rate.interval(), Duration::from_secs(1));
/// assert_eq!(Rate::per_second(4).interval(), Duration::from_millis(250));
/// # Ok::<(), rosterkit::Error>(())
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

/// Pacing for one provider's changes in a bulk run. Off by default.
///
/// The ACS and Z-API adapters already pace themselves (ACS: 10 changes per 10 s per thread;
/// Z-API: one call at a time per instance, spaced), so a bulk run adds nothing for them
/// unless asked. Chert and Linq publish no limit for membership changes: pace them here when
/// a tenant needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pacing {
    /// Spacing of changes across all of the provider's chats.
    pub per_provider: Option<Rate>,
    /// Spacing of changes within one chat.
    pub per_chat: Option<Rate>,
}

impl Pacing {
    /// No pacing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Returns the pacing with a provider-wide rate.
    #[must_use]
    pub fn with_per_provider(mut self, rate: Option<Rate>) -> Self {
        self.per_provider = rate;
        self
    }

    /// Returns the pacing with a per-chat rate.
    #[must_use]
    pub fn with_per_chat(mut self, rate: Option<Rate>) -> Self {
        self.per_chat = rate;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        let ms = |n| Duration::from_millis(n);
        assert_eq!("5/s".parse::<Rate>().unwrap().interval(), ms(200));
        assert_eq!("10/10s".parse::<Rate>().unwrap().interval(), ms(1000));
        assert_eq!("30/m".parse::<Rate>().unwrap().interval(), ms(2000));
        assert_eq!(" 1 / 1500ms ".parse::<Rate>().unwrap().interval(), ms(1500));
        assert_eq!("1/h".parse::<Rate>().unwrap().interval(), ms(3_600_000));
        for bad in ["", "5", "0/s", "5/0s", "5/", "x/s", "5/10", "5/10d", "-1/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} should be refused");
        }
    }
}
