//! `cargo xtask`: rosterkit's development tasks.
//!
//! - `cargo xtask codegen [--check]`: regenerate (or check) the code derived from `specs/`.
//! - `cargo xtask ci`: exactly what `.ci/run` runs.
//! - `cargo xtask bench [--quick]`: the performance comparison (see `BENCHMARKS.md`).
//! - `cargo xtask soak [--quick]`: the reliability soak against the sandbox (issue #10).
//! - `cargo xtask release <version> [--dry-run]`: bump, date the changelog, package, semver.
//! - `cargo xtask semver`: cargo-semver-checks against the last release tag.
//! - `cargo xtask deny`: cargo-deny's license, ban, duplicate and source checks (`deny.toml`).
//! - `cargo xtask fuzz --seconds N [--target NAME]...`: run the fuzz targets (never in CI).

#![forbid(unsafe_code)]
// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{path::PathBuf, process::ExitCode};

mod bench;
mod ci;
mod codegen;
mod conformance;
mod deny;
mod deps;
mod fuzz;
mod release;
mod semver;
mod soak;
mod tidy;
mod tools;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::generate(&workspace_root(), codegen::Mode::Write),
        ["codegen", "--check"] => codegen::generate(&workspace_root(), codegen::Mode::Check),
        ["ci"] => ci::run(),
        ["bench"] | ["bench", "--quick"] => bench::run(&workspace_root(), args.len() == 2),
        ["soak"] | ["soak", "--quick"] => soak::run(&workspace_root(), args.len() == 2),
        ["tidy"] => tidy::run(&workspace_root()),
        ["synapse"] => synapse(&workspace_root()),
        ["semver"] => semver::run(&workspace_root()),
        ["deny"] => deny::run(&workspace_root(), false),
        ["fuzz", rest @ ..] => fuzz::run(&workspace_root(), rest),
        ["release", version] => release::run(&workspace_root(), version, false),
        ["release", version, "--dry-run"] | ["release", "--dry-run", version] => {
            release::run(&workspace_root(), version, true)
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  codegen [--check]              regenerate the code derived from specs/ (--check: fail if stale)
  tidy                           manifest and source checks (also run by cargo test)
  ci                             fmt, clippy, tests, codegen check, docs, dependency-graph checks
  bench [--quick]                SDK overhead vs hand-written reqwest, signing, bulk memory, footprint
  soak [--quick]                 thousands of operations with ~30 % injected faults: lost, duplicated, panics
  release <version> [--dry-run]  bump versions, date CHANGELOG.md, package (verified), semver check
  semver                         cargo-semver-checks against the last v* tag (installs it when missing)
  deny                           cargo-deny check with deny.toml (when installed; CI installs it)
  fuzz --seconds N [--target T]  run each cargo-fuzz target in fuzz/ (nightly) for N s: executions, crashes
  synapse                        start a local Synapse (installed into target/ on first use), print MATRIX_* env vars";

/// `cargo xtask synapse`: the Matrix test harness's Synapse, by hand. It runs the
/// `rosterkit-matrix` example that shares the harness with the tests (and its dev-dependencies),
/// so xtask needs none of them.
fn synapse(root: &std::path::Path) -> Result<String, String> {
    let status = cargo()
        .args([
            "run",
            "--quiet",
            "-p",
            "rosterkit-matrix",
            "--example",
            "synapse",
        ])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo run --example synapse: {e}"))?;
    if status.success() {
        Ok(String::new())
    } else {
        Err(format!("the Synapse example exited with {status}"))
    }
}

/// A `cargo` command for a child build. `cargo xtask` runs under `cargo run`, which sets
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_*` and friends; a child cargo that inherits them sees a
/// different build environment from a plain `cargo test` and rebuilds build-script crates
/// (ring, for one) every time the two alternate.
pub(crate) fn cargo() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let set_by_cargo_run = name.starts_with("CARGO_PKG_")
            || matches!(
                name.as_ref(),
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
            );
        if set_by_cargo_run {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// Prints a progress line to stderr.
pub(crate) fn announce(line: &str) {
    eprintln!("{line}");
}

/// The workspace root: the parent of this crate's manifest directory.
pub(crate) fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map_or(here.clone(), PathBuf::from)
}
