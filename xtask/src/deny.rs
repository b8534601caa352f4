//! `cargo xtask deny`: cargo-deny's license, ban, duplicate and source checks over the whole
//! dependency graph, configured in `deny.toml`.
//!
//! Advisories need the RustSec advisory database, a git repository this CI cannot reach (only
//! package registries are): they are checked only when a local copy exists (`deny.toml`'s
//! `db-path`), with fetching disabled, and the report says which.

use std::path::{Path, PathBuf};

use crate::tools;

/// Where `deny.toml` looks for the advisory database (cargo-deny's default location).
fn advisory_db() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let dir = home.join("advisory-dbs");
    dir.read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
        .then_some(dir)
}

/// Runs cargo-deny; `install` (CI) installs it into `target/tools` when missing, otherwise a
/// missing cargo-deny is an error that says how to get it.
pub(crate) fn run(root: &Path, install: bool) -> Result<String, String> {
    let binary = if install {
        tools::ensure(root, &tools::DENY)?
    } else {
        tools::find(root, &tools::DENY).ok_or(
            "cargo-deny is not installed: `cargo install --locked cargo-deny` \
             (`cargo xtask ci` installs it into target/tools)",
        )?
    };
    let mut checks = vec!["licenses", "bans", "sources"];
    let advisories = advisory_db();
    if advisories.is_some() {
        checks.push("advisories");
    }
    let status = std::process::Command::new(&binary)
        .args(["deny", "--frozen", "check"])
        .args(&checks)
        .current_dir(root)
        .status()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !status.success() {
        return Err(format!(
            "cargo deny check {} failed ({status})",
            checks.join(" ")
        ));
    }
    let mut report = format!("cargo deny: {} ok\n", checks.join(", "));
    if advisories.is_none() {
        report.push_str(
            "cargo deny: advisories not checked: no local advisory database (~/.cargo/advisory-dbs) \
             and its git repository is not reachable from CI\n",
        );
    }
    Ok(report)
}
