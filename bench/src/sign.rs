//! Section 2: Chert `v1` signing through `rosterkit_sign::chert::sign` (and through a prepared
//! `Signer`, as `ChertClient` signs) against the same
//! signature written directly with `hmac` + `hex` ([`crate::baseline::sign_by_hand`]).
//!
//! A calibrated loop: each sample runs enough iterations to take about `sample_time` of this
//! thread's CPU time (so being descheduled by other work on the machine does not count), the
//! two sides alternate sample by sample, and the ratio is the median of the per-pair ratios.

use std::{hint::black_box, time::Duration};

use crate::{baseline::sign_by_hand, stats};

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
const TS: u64 = 1_700_000_000;

/// One body size's result.
#[derive(Debug, Clone, Copy)]
pub struct SignResult {
    /// Body length in bytes.
    pub body_len: usize,
    /// Median nanoseconds per signature through rosterkit-sign.
    pub sdk_ns: f64,
    /// Median nanoseconds per signature by hand.
    pub hand_ns: f64,
    /// Median of the per-pair ratios sdk / hand.
    pub ratio: f64,
    /// Median nanoseconds per signature through a prepared `rosterkit_sign::chert::Signer`
    /// (what `ChertClient` does on every request: the key's pads are hashed once per client).
    pub signer_ns: f64,
    /// Median of the per-pair ratios signer / hand.
    pub signer_ratio: f64,
    /// First and third quartiles of the per-pair ratios.
    pub ratio_quartiles: [f64; 2],
}

fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// Nanoseconds per call of `f` over `iters` calls, in this thread's CPU time.
fn time_per_call(iters: u64, f: &dyn Fn() -> String) -> f64 {
    let start = thread_cpu();
    for _ in 0..iters {
        black_box(f());
    }
    thread_cpu().saturating_sub(start).as_secs_f64() * 1e9 / iters.max(1) as f64
}

/// Compares the two signers on a body of `body_len` bytes.
#[must_use]
pub fn bench(body_len: usize, samples: usize, sample_time: Duration) -> SignResult {
    let body: Vec<u8> = b"{\"address\":\"+14155551234\"}"
        .iter()
        .copied()
        .cycle()
        .take(body_len)
        .collect();
    let sdk = || rosterkit_sign::chert::sign(black_box(SECRET), black_box(TS), black_box(&body));
    let hand = || sign_by_hand(black_box(SECRET), black_box(TS), black_box(&body));
    let signer = rosterkit_sign::chert::Signer::new(SECRET);
    let prepared = || black_box(&signer).sign(black_box(TS), black_box(&body));
    // Calibrate on the SDK side (both do the same work) and warm both up.
    let mut iters = 16u64;
    loop {
        let ns = time_per_call(iters, &sdk);
        if ns * iters as f64 >= sample_time.as_secs_f64() * 1e9 / 4.0 {
            iters = ((sample_time.as_secs_f64() * 1e9 / ns.max(1.0)) as u64).max(16);
            break;
        }
        iters *= 2;
    }
    black_box(time_per_call(iters / 4 + 1, &hand));
    black_box(time_per_call(iters / 4 + 1, &prepared));
    let (mut s, mut h, mut p) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..samples.max(1) {
        // Rotate the order so no side always runs first.
        match i % 3 {
            0 => {
                s.push(time_per_call(iters, &sdk));
                h.push(time_per_call(iters, &hand));
                p.push(time_per_call(iters, &prepared));
            }
            1 => {
                h.push(time_per_call(iters, &hand));
                p.push(time_per_call(iters, &prepared));
                s.push(time_per_call(iters, &sdk));
            }
            _ => {
                p.push(time_per_call(iters, &prepared));
                s.push(time_per_call(iters, &sdk));
                h.push(time_per_call(iters, &hand));
            }
        }
    }
    SignResult {
        body_len,
        sdk_ns: stats::median(&s).unwrap_or(f64::NAN),
        hand_ns: stats::median(&h).unwrap_or(f64::NAN),
        ratio: stats::median_ratio(&s, &h).unwrap_or(f64::NAN),
        signer_ns: stats::median(&p).unwrap_or(f64::NAN),
        signer_ratio: stats::median_ratio(&p, &h).unwrap_or(f64::NAN),
        ratio_quartiles: stats::quartiles(
            &s.iter().zip(&h).map(|(a, b)| a / b).collect::<Vec<_>>(),
        )
        .unwrap_or([f64::NAN; 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The section runs end to end (a few short samples): CI checks the benchmark code, not its
    /// figures, which only mean something in a release build.
    #[test]
    fn the_signing_section_runs() {
        let r = bench(256, 3, Duration::from_millis(2));
        assert_eq!(r.body_len, 256);
        for ns in [r.sdk_ns, r.hand_ns, r.signer_ns] {
            assert!(ns.is_finite() && ns > 0.0, "{r:?}");
        }
        assert!(r.ratio.is_finite() && r.signer_ratio.is_finite(), "{r:?}");
    }
}
