//! Cargo subcommands the tasks need (cargo-semver-checks, cargo-deny), found on `PATH` or
//! installed once into `target/tools` with `cargo install --locked`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

/// A cargo subcommand published on crates.io.
pub(crate) struct Tool {
    /// The crate `cargo install` builds.
    pub(crate) krate: &'static str,
    /// The binary it installs (`cargo-<sub>`).
    pub(crate) binary: &'static str,
}

pub(crate) const SEMVER_CHECKS: Tool = Tool {
    krate: "cargo-semver-checks",
    binary: "cargo-semver-checks",
};

pub(crate) const DENY: Tool = Tool {
    krate: "cargo-deny",
    binary: "cargo-deny",
};

/// Where the tasks install tools: under `target/`, so a clean clone's CI owns them and
/// nothing outside the checkout changes.
fn tools_root(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("tools")
}

/// The installed binary, if any: `target/tools/bin` first, then `PATH` (`cargo install`'s
/// usual `~/.cargo/bin`).
pub(crate) fn find(root: &Path, tool: &Tool) -> Option<PathBuf> {
    let local = tools_root(root).join("bin").join(tool.binary);
    if local.is_file() {
        return Some(local);
    }
    let on_path = Command::new(tool.binary).arg("--version").output();
    on_path
        .is_ok_and(|o| o.status.success())
        .then(|| PathBuf::from(tool.binary))
}

/// The binary, installing it into `target/tools` when it is missing; reports how long the
/// install took.
pub(crate) fn ensure(root: &Path, tool: &Tool) -> Result<PathBuf, String> {
    if let Some(found) = find(root, tool) {
        return Ok(found);
    }
    let dest = tools_root(root);
    crate::announce(&format!(
        "==> {} is not installed: cargo install --locked {} --root {}",
        tool.binary,
        tool.krate,
        dest.display()
    ));
    let started = Instant::now();
    let status = crate::cargo()
        .args(["install", "--locked", "--quiet", tool.krate, "--root"])
        .arg(&dest)
        .status()
        .map_err(|e| format!("cargo install {}: {e}", tool.krate))?;
    if !status.success() {
        return Err(format!(
            "cargo install --locked {} failed ({status}); install it by hand and rerun",
            tool.krate
        ));
    }
    crate::announce(&format!(
        "==> installed {} in {:.0} s",
        tool.krate,
        started.elapsed().as_secs_f64()
    ));
    find(root, tool).ok_or_else(|| format!("{} installed but not found", tool.binary))
}
