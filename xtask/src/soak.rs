//! `cargo xtask soak [--quick]`: the reliability soak of issue #10.
//!
//! Builds the `soak` binary of `rosterkit-tests` in release mode and runs it: thousands of
//! operations across every provider against the sandbox with about 30 % injected faults
//! (`--quick`: 6,000 operations, well under 2 minutes; without it: 50,000), hostile retry hints
//! on 429/503 among them (issue #16). The engine is `tests/src/soak.rs`, the same one the
//! bounded `cargo test` soak (`tests/tests/soak.rs`) runs. The binary prints the summary and
//! writes `target/soak/summary.json`; a run that loses, duplicates or contradicts anything,
//! panics, ignores a `Retry-After`, or waits past the cap after a hostile hint fails.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

/// Runs the soak; `quick` is the short mode.
pub(crate) fn run(root: &Path, quick: bool) -> Result<String, String> {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let summary = target_dir.join("soak").join("summary.json");
    crate::announce("==> soak: cargo build --release -p rosterkit-tests --bin soak");
    let status = crate::cargo()
        .args([
            "build",
            "--release",
            "-p",
            "rosterkit-tests",
            "--bin",
            "soak",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building the soak failed ({status})"));
    }
    let binary = target_dir
        .join("release")
        .join(format!("soak{}", std::env::consts::EXE_SUFFIX));
    let mut args: Vec<String> = Vec::new();
    if quick {
        args.push("--quick".to_owned());
    }
    args.push("--out".to_owned());
    args.push(summary.display().to_string());
    crate::announce(&format!(
        "==> soak: {} {}",
        binary.display(),
        args.join(" ")
    ));
    let started = Instant::now();
    let status = Command::new(&binary)
        .args(&args)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let wall = started.elapsed().as_secs_f64();
    if status.success() {
        Ok(format!(
            "soak: passed in {wall:.1} s (summary: {})\n",
            summary.display()
        ))
    } else {
        Err(format!(
            "soak failed ({status}) after {wall:.1} s; see the summary above and {}",
            summary.display()
        ))
    }
}
