//! Section 3: peak RSS of `rosterkit bulk --file F` runs of N Chert removals against the
//! sandbox child.
//!
//! Every run has the same shape whatever N is: groups of [`MEMBERS`] members, each losing
//! [`REMOVES_PER_CHAT`] of them (rows interleaved across chats, so the run's concurrency is
//! used), so only the number of operations differs between a 10,000 and a 100,000 run.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::{child::SandboxChild, cpu::pid_peak_rss_kib, serve::member, stats::round};

/// Removals from each chat.
pub const REMOVES_PER_CHAT: usize = 10;
/// Members of each seeded chat: a removal needs 3 members to remain.
pub const MEMBERS: usize = REMOVES_PER_CHAT + 3;
/// Calls in flight (`rosterkit bulk --concurrency`).
pub const CONCURRENCY: usize = 64;

const CHAT_PREFIX: &str = "ch_01HZBULK0000000000000";
const TIME: &str = "/usr/bin/time";

/// Runs `cli bulk` over `ops` removals and reports its peak RSS. Work files go to the system's
/// temporary directory.
///
/// # Errors
/// When the sandbox or the CLI cannot be started, or the CLI fails.
pub fn run(cli: &Path, ops: usize) -> Result<Value, String> {
    let mut sandbox = SandboxChild::spawn()?;
    let chats = ops.div_ceil(REMOVES_PER_CHAT).max(1);
    sandbox.seed(CHAT_PREFIX, chats, MEMBERS)?;
    let dir = std::env::temp_dir().join(format!("rosterkit-bench-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let input = dir.join(format!("remove-{ops}.jsonl"));
    let results = dir.join(format!("results-{ops}.jsonl"));
    let measured =
        write_input(&input, ops, chats).and_then(|()| run_cli(cli, &input, &results, &sandbox));
    let outcome = measured.and_then(|m| {
        let (applied, other) = count_outcomes(&results)?;
        Ok((m, applied, other))
    });
    let _ = std::fs::remove_dir_all(&dir);
    drop(sandbox);
    let (m, applied, other) = outcome?;
    if applied != ops {
        return Err(format!(
            "rosterkit bulk applied {applied} of {ops} removals ({other} other result lines); exit {:?}",
            m.exit
        ));
    }
    Ok(json!({
        "ops": ops,
        "concurrency": CONCURRENCY,
        "chats": chats,
        "peak_rss_kib": m.peak_rss_kib,
        "peak_rss_mib": round(m.peak_rss_kib as f64 / 1024.0, 2),
        "wall_s": round(m.wall.as_secs_f64(), 2),
        "ops_per_s": round(ops as f64 / m.wall.as_secs_f64().max(1e-9), 0),
        "rss_source": m.source,
    }))
}

/// Row `k` removes member `k / chats` from chat `k % chats`.
fn write_input(path: &Path, ops: usize, chats: usize) -> Result<(), String> {
    let mut text = String::with_capacity(ops * 100);
    for k in 0..ops {
        let _ = writeln!(
            text,
            r#"{{"op":"remove","provider":"chert","chat":"{CHAT_PREFIX}{}","handle":"{}"}}"#,
            k % chats,
            member(k / chats)
        );
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

struct Measured {
    peak_rss_kib: u64,
    wall: Duration,
    exit: Option<i32>,
    source: &'static str,
}

fn run_cli(
    cli: &Path,
    input: &Path,
    results: &Path,
    sandbox: &SandboxChild,
) -> Result<Measured, String> {
    let info = sandbox.info();
    let time_file = input.with_extension("time");
    let use_time = Path::new(TIME).exists();
    let mut command = if use_time {
        let mut c = Command::new(TIME);
        c.arg("-f").arg("%M").arg("-o").arg(&time_file).arg(cli);
        c
    } else {
        Command::new(cli)
    };
    command
        .arg("bulk")
        .arg("--file")
        .arg(input)
        .arg("--out")
        .arg(results)
        .arg("--concurrency")
        .arg(CONCURRENCY.to_string())
        .env("CHERT_BASE_URL", &info.chert.base_url)
        .env("CHERT_TENANT", &info.chert.tenant)
        .env("CHERT_SIGNING_SECRET", &info.chert.signing_secret)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", cli.display()))?;
    // Without /usr/bin/time, poll VmHWM (the kernel's own peak) until the process exits.
    let mut polled = 0;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if !use_time && let Some(kib) = pid_peak_rss_kib(child.id()) {
            polled = polled.max(kib);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        let _ = pipe.read_to_string(&mut stderr);
    }
    if !status.success() {
        return Err(format!(
            "rosterkit bulk exited with {status}: {}",
            stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ));
    }
    let (peak_rss_kib, source) = if use_time {
        let text = std::fs::read_to_string(&time_file)
            .map_err(|e| format!("{}: {e}", time_file.display()))?;
        let kib = text
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("{TIME} wrote {text:?}"))?;
        (kib, "/usr/bin/time %M (getrusage ru_maxrss)")
    } else {
        (polled, "/proc/<pid>/status VmHWM, polled every 5 ms")
    };
    Ok(Measured {
        peak_rss_kib,
        wall,
        exit: status.code(),
        source,
    })
}

/// Result lines whose `outcome` is `applied`, and all others.
fn count_outcomes(results: &PathBuf) -> Result<(usize, usize), String> {
    let text =
        std::fs::read_to_string(results).map_err(|e| format!("{}: {e}", results.display()))?;
    let (mut applied, mut other) = (0, 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        if value.get("outcome").and_then(Value::as_str) == Some("applied") {
            applied += 1;
        } else {
            other += 1;
        }
    }
    Ok((applied, other))
}
