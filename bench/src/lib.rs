//! The measuring program behind `cargo xtask bench` (see `BENCHMARKS.md`): what rosterkit costs
//! next to the code a user would write by hand.
//!
//! - [`overhead`]: signed Chert removals through `rosterkit-chert` and through a hand-written
//!   reqwest + hmac + serde_json [`baseline`], alternating, at concurrency 1 and 64; client CPU
//!   per operation (the sandbox runs in a child process, [`child`], so its CPU is never the
//!   client's) and throughput.
//! - [`sign`]: Chert `v1` signing through `rosterkit-sign` against `hmac` + `hex` directly.
//! - [`capacity`]: the sandbox's own capacity with a trivial raw-HTTP client.
//! - [`bulk`]: peak RSS of `rosterkit bulk` runs.
//!
//! Not a library for anyone else: `publish = false`.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod baseline;
pub mod bulk;
pub mod capacity;
pub mod child;
pub mod cpu;
pub mod overhead;
pub mod run;
pub mod serve;
pub mod sign;
pub mod stats;

/// Writes one progress line to stderr (stdout carries results).
#[allow(clippy::print_stderr)]
pub fn progress(line: &str) {
    eprintln!("bench: {line}");
}
