//! `cargo xtask fuzz --seconds N [--target NAME]...`: runs each cargo-fuzz target of `fuzz/`
//! for N seconds and prints its executions and crashes (issue #10, item 4).
//!
//! cargo-fuzz needs a nightly compiler: the `nightly` rustup toolchain when installed, else the
//! default one with `RUSTC_BOOTSTRAP=1`. Each target starts from its corpus
//! (`fuzz/corpus/<target>`, kept between runs, git-ignored) plus the checked-in seeds
//! (`fuzz/seeds/<target>`). A crash stops that target, leaves its input in
//! `fuzz/artifacts/<target>/`, and makes the task fail after the other targets ran. Running
//! is never part of `cargo xtask ci`; building is (a `cargo clippy` of `fuzz/` on stable).

use std::{
    fmt::Write as _,
    fs,
    path::Path,
    process::{Command, Stdio},
};

use toml::Value;

use crate::announce;

/// One target's run.
struct Run {
    target: String,
    executions: Option<u64>,
    per_second: Option<u64>,
    crashes: usize,
    corpus: usize,
    note: String,
}

pub(crate) fn run(root: &Path, args: &[&str]) -> Result<String, String> {
    let (seconds, only) = parse_args(args)?;
    let dir = root.join("fuzz");
    let targets = targets(&dir, &only)?;
    let toolchain = Toolchain::detect()?;
    announce(&format!(
        "fuzz: {} target(s), {seconds} s each, with {}",
        targets.len(),
        toolchain.describe()
    ));
    announce("fuzz: building the targets (release, debug assertions, address sanitizer)");
    let build = toolchain
        .cargo_fuzz(&dir)
        .arg("build")
        .status()
        .map_err(|e| {
            format!("cargo fuzz build: {e} (install it with `cargo install cargo-fuzz`)")
        })?;
    if !build.success() {
        return Err(format!("cargo fuzz build failed ({build})"));
    }
    let mut runs = Vec::new();
    for target in &targets {
        announce(&format!("fuzz: {target} for {seconds} s"));
        runs.push(run_one(&toolchain, &dir, target, seconds)?);
    }
    let mut report = String::from(
        "target                  seconds   executions     exec/s  crashes  corpus  note\n",
    );
    for r in &runs {
        let show = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
        let _ = writeln!(
            report,
            "{:<22}  {seconds:>7}  {:>11}  {:>9}  {:>7}  {:>6}  {}",
            r.target,
            show(r.executions),
            show(r.per_second),
            r.crashes,
            r.corpus,
            r.note
        );
    }
    let crashed: Vec<&str> = runs
        .iter()
        .filter(|r| r.crashes > 0)
        .map(|r| r.target.as_str())
        .collect();
    if crashed.is_empty() {
        Ok(report)
    } else {
        Err(format!(
            "{report}crashes in {} (inputs in fuzz/artifacts/<target>/; reproduce with \
             `cargo +nightly fuzz run <target> <artifact>` in fuzz/)",
            crashed.join(", ")
        ))
    }
}

fn parse_args(args: &[&str]) -> Result<(u64, Vec<String>), String> {
    const USAGE: &str = "usage: cargo xtask fuzz --seconds N [--target NAME]...";
    let mut seconds = None;
    let mut only = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--seconds" => {
                let n = rest.next().ok_or(USAGE)?;
                seconds = Some(
                    n.parse::<u64>()
                        .map_err(|_| format!("--seconds {n}: {USAGE}"))?,
                );
            }
            "--target" => only.push((*rest.next().ok_or(USAGE)?).to_owned()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    match seconds {
        Some(s) if s > 0 => Ok((s, only)),
        _ => Err(USAGE.to_owned()),
    }
}

/// The `[[bin]]` names of `fuzz/Cargo.toml`, or the requested ones (which must exist).
fn targets(dir: &Path, only: &[String]) -> Result<Vec<String>, String> {
    let path = dir.join("Cargo.toml");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let manifest: Value = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let all: Vec<String> = manifest
        .get("bin")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect();
    if all.is_empty() {
        return Err(format!("{}: no [[bin]] targets", path.display()));
    }
    if only.is_empty() {
        return Ok(all);
    }
    for name in only {
        if !all.contains(name) {
            return Err(format!(
                "no fuzz target {name:?}; targets: {}",
                all.join(", ")
            ));
        }
    }
    Ok(only.to_vec())
}

/// How to get a nightly compiler for cargo-fuzz.
enum Toolchain {
    /// `rustup run nightly cargo fuzz ...`.
    Nightly,
    /// `cargo fuzz ...` with `RUSTC_BOOTSTRAP=1` on the default (stable) toolchain.
    Bootstrap,
}

impl Toolchain {
    fn detect() -> Result<Self, String> {
        let nightly = Command::new("rustup")
            .args(["run", "nightly", "rustc", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let toolchain = if nightly {
            Self::Nightly
        } else {
            Self::Bootstrap
        };
        let fuzz = toolchain
            .command()
            .args(["fuzz", "--version"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if fuzz {
            Ok(toolchain)
        } else {
            Err("cargo-fuzz is not installed: `cargo install cargo-fuzz`".to_owned())
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::Nightly => "the nightly toolchain",
            Self::Bootstrap => "the default toolchain and RUSTC_BOOTSTRAP=1 (no nightly installed)",
        }
    }

    fn command(&self) -> Command {
        let mut command = match self {
            Self::Nightly => {
                let mut c = Command::new("rustup");
                c.args(["run", "nightly", "cargo"]);
                c
            }
            Self::Bootstrap => {
                let mut c = Command::new("cargo");
                c.env("RUSTC_BOOTSTRAP", "1");
                c
            }
        };
        // Whatever toolchain runs this task must not leak into the nested cargo.
        for var in [
            "RUSTUP_TOOLCHAIN",
            "CARGO",
            "RUSTC",
            "RUSTDOC",
            "CARGO_TARGET_DIR",
        ] {
            command.env_remove(var);
        }
        command
    }

    fn cargo_fuzz(&self, dir: &Path) -> Command {
        let mut command = self.command();
        command.arg("fuzz").current_dir(dir);
        command
    }
}

fn run_one(toolchain: &Toolchain, dir: &Path, target: &str, seconds: u64) -> Result<Run, String> {
    let corpus = dir.join("corpus").join(target);
    let seeds = dir.join("seeds").join(target);
    let artifacts = dir.join("artifacts").join(target);
    fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
    let before = count_files(&artifacts);
    let mut command = toolchain.cargo_fuzz(dir);
    command.args(["run", target]).arg(&corpus);
    if seeds.is_dir() {
        command.arg(&seeds);
    }
    command
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .args(["-print_final_stats=1", "-timeout=10", "-rss_limit_mb=2048"]);
    let output = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cargo fuzz run {target}: {e}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let stat = |name: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim_start_matches(':').trim().parse::<u64>().ok())
    };
    let executions = stat("stat::number_of_executed_units").or_else(|| done_runs(&log));
    let new_artifacts = count_files(&artifacts).saturating_sub(before);
    let crashed = !output.status.success();
    let crashes = if crashed { new_artifacts.max(1) } else { 0 };
    let note = if crashed {
        log.lines()
            .rev()
            .find(|l| l.contains("SUMMARY") || l.contains("panicked"))
            .unwrap_or("exited with an error")
            .trim()
            .to_owned()
    } else {
        String::new()
    };
    Ok(Run {
        target: target.to_owned(),
        executions,
        per_second: stat("stat::average_exec_per_sec"),
        crashes,
        corpus: count_files(&corpus),
        note,
    })
}

/// libFuzzer's closing line, `Done 123456 runs in 60 second(s)`.
fn done_runs(log: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.strip_prefix("Done "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| entries.filter_map(Result::ok).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(parse_args(&["--seconds", "5"]), Ok((5, vec![])));
        assert_eq!(
            parse_args(&["--seconds", "1", "--target", "a", "--target", "b"]),
            Ok((1, vec!["a".to_owned(), "b".to_owned()]))
        );
        for bad in [
            &[][..],
            &["--seconds"],
            &["--seconds", "x"],
            &["--seconds", "0"],
            &["-x"],
        ] {
            assert!(parse_args(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_target_is_listed_and_has_a_source() {
        let dir = crate::workspace_root().join("fuzz");
        let all = targets(&dir, &[]).unwrap_or_default();
        assert!(all.len() >= 9, "{all:?}");
        for t in &all {
            assert!(
                dir.join("fuzz_targets").join(format!("{t}.rs")).is_file(),
                "{t}"
            );
        }
        assert!(targets(&dir, &["nope".to_owned()]).is_err());
    }

    #[test]
    fn libfuzzer_stats() {
        let log = "#2\tINITED\nDone 1234567 runs in 60 second(s)\nstat::number_of_executed_units: 1234568\n";
        assert_eq!(done_runs(log), Some(1_234_567));
    }
}
