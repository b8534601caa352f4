//! SIGTERM/resume cycles (issue #16): `rosterkit bulk` as a user runs it — the built binary,
//! credentials in the environment — against the sandbox with faults (hostile retry hints on
//! 429 and 503, a connection dropped before and after the change was applied), stopped by
//! SIGTERM several times and resumed with `--resume` each time until every row is done.
//!
//! Checked from the sandbox journal and the results file: no row that had a finished result
//! line is sent again by a later run (duplicated side effects 0 across the restarts), every
//! input row has exactly one finished result, and every change reported done is in the journal.
//! Every wait is on an observable event (result lines written, the process exiting), never on
//! the wall clock; the sandbox's per-request latency only makes the signals land mid-run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use rosterkit_sandbox::{Fault, FaultAction, JournalEntry, Provider, Sandbox, StatusCode};
use serde_json::Value;

mod support;
use support::{Scratch, summary};

const BIN: &str = env!("CARGO_BIN_EXE_rosterkit");

/// Rows per provider, and chats per provider they are spread over.
const ROWS: u64 = 300;
const CHATS: u64 = 6;
/// Result lines a run writes before it gets SIGTERM, and how many runs get one.
const LINES_PER_RUN: usize = 90;
const STOPS: usize = 4;

/// One input row: a remove on Chert or Linq.
struct Row {
    line: u64,
    provider: Provider,
    chat: String,
    handle: String,
}

impl Row {
    /// The handle's digits: in a Chert request's path (after `%2B`) or a Linq request's body.
    fn digits(&self) -> &str {
        self.handle.trim_start_matches('+')
    }

    /// Whether a journal entry is a request of this row.
    fn owns(&self, entry: &JournalEntry) -> bool {
        entry.provider == self.provider
            && entry.path.contains(&self.chat)
            && (entry.path.contains(self.digits())
                || String::from_utf8_lossy(&entry.body).contains(self.digits()))
    }

    /// A fault on this row's requests only.
    fn fault(&self, action: FaultAction) -> Fault {
        let fault = Fault::new(self.provider, action);
        match self.provider {
            Provider::Linq => fault.body_contains(self.digits()),
            _ => fault.path_contains(self.digits()),
        }
    }
}

/// The rows, interleaved across providers and chats, from file line 2 (after the CSV header).
fn seed(sandbox: &Sandbox) -> Vec<Row> {
    let mut chats: Vec<(Provider, String, Vec<String>)> = Vec::new();
    for c in 0..CHATS {
        for provider in [Provider::Chert, Provider::Linq] {
            let prefix = if provider == Provider::Chert {
                "+1415"
            } else {
                "+1202"
            };
            // Enough members that no remove meets a group-size floor.
            let members: Vec<String> = (0..ROWS / CHATS + 4)
                .map(|m| format!("{prefix}{c:03}{m:04}"))
                .collect();
            let refs: Vec<&str> = members.iter().map(String::as_str).collect();
            let id = match provider {
                Provider::Chert => sandbox.chert().create_group(&refs),
                _ => sandbox.linq().create_group(&refs),
            };
            chats.push((provider, id, members));
        }
    }
    (0..2 * ROWS)
        .map(|i| {
            let (provider, chat, members) = &chats[(i % chats.len() as u64) as usize];
            let m = (i / chats.len() as u64) as usize;
            Row {
                line: i + 2,
                provider: *provider,
                chat: chat.clone(),
                handle: members[m].clone(),
            }
        })
        .collect()
}

fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Chert => "chert",
        _ => "linq",
    }
}

/// The faults: every 7th row meets one, in turn a 429 or 503 with a hostile retry hint (huge:
/// saturated, the retries end and a later run does the row; unreadable: ignored, retried now),
/// a connection dropped before the request is handled, and one dropped after the change was
/// applied (both `maybe_applied`: never sent again). Then a small latency on every request.
/// The 503s are the providers' own "unavailable" errors (Chert 3002, Linq 4004): not processed.
fn inject(sandbox: &Sandbox, rows: &[Row]) -> BTreeMap<&'static str, usize> {
    let hostile = |status, header: &str, value: &[u8]| {
        FaultAction::status(status).with_raw_header(header, value.to_vec())
    };
    let unavailable = |provider| match provider {
        Provider::Chert => {
            FaultAction::chert_error(StatusCode::SERVICE_UNAVAILABLE, 3002, true, None)
        }
        _ => FaultAction::linq_error(StatusCode::SERVICE_UNAVAILABLE, 4004, None),
    };
    let mut planned = BTreeMap::new();
    for (k, row) in rows.iter().step_by(7).enumerate() {
        let (name, action) = match k % 6 {
            0 => (
                "429 retry-after-ms: 1e30",
                hostile(StatusCode::TOO_MANY_REQUESTS, "retry-after-ms", b"1e30"),
            ),
            1 => (
                "429 retry-after: non-UTF-8",
                hostile(StatusCode::TOO_MANY_REQUESTS, "retry-after", b"\xff\xfe1"),
            ),
            2 => (
                "503 x-ms-retry-after-ms: -5",
                unavailable(row.provider).with_raw_header("x-ms-retry-after-ms", b"-5".to_vec()),
            ),
            3 => (
                "429 retry-after: 2^64*1000",
                hostile(
                    StatusCode::TOO_MANY_REQUESTS,
                    "retry-after",
                    b"18446744073709551615000",
                ),
            ),
            4 => ("drop before reply", FaultAction::DropConnection),
            _ => ("drop after apply", FaultAction::DropAfterApply),
        };
        sandbox.faults().inject(row.fault(action));
        *planned.entry(name).or_default() += 1;
    }
    for provider in [Provider::Chert, Provider::Linq] {
        sandbox.faults().inject(
            Fault::new(provider, FaultAction::Latency(Duration::from_millis(8))).times(1_000_000),
        );
    }
    planned
}

/// The command with a clean environment holding only the sandbox's Chert and Linq credentials.
fn rosterkit(sandbox: &Sandbox, args: &[&str]) -> Command {
    let info = sandbox.info();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("CHERT_BASE_URL", info.chert.base_url)
        .env("CHERT_TENANT", info.chert.tenant)
        .env("CHERT_SIGNING_SECRET", info.chert.signing_secret)
        .env("LINQ_API_V3_BASE_URL", info.linq.base_url)
        .env("LINQ_API_V3_API_KEY", info.linq.api_key)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn line_count(path: &Path) -> usize {
    fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// The result lines of the file, parsed (a SIGTERM'd run writes whole lines only).
fn results(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Whether a result line is final: `--resume` will not run its row again.
fn finished(result: &Value) -> bool {
    result["outcome"] != "failed"
        || result["maybe_applied"] == true
        || result["invalid_row"] == true
}

/// Runs `bulk` once; with `stop_after`, sends SIGTERM once the results file holds that many
/// lines (if the run has not finished first).
async fn run_once(
    sandbox: &Sandbox,
    args: &[&str],
    out: &Path,
    stop_after: Option<usize>,
) -> Output {
    let mut child = rosterkit(sandbox, args).spawn().unwrap();
    if let Some(lines) = stop_after {
        let deadline = Instant::now() + Duration::from_secs(120);
        while line_count(out) < lines && child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "no progress in 120 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if child.try_wait().unwrap().is_none() {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
    tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_resume_cycles_never_send_a_finished_row_twice() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("sigterm");
    let rows = seed(&sandbox);
    let mut csv = String::from("op,provider,chat,handle\n");
    for row in &rows {
        csv.push_str(&format!(
            "remove,{},{},{}\n",
            provider_name(row.provider),
            row.chat,
            row.handle
        ));
    }
    let ops = scratch.path("ops.csv");
    fs::write(&ops, csv).unwrap();
    let out = scratch.path("results.jsonl");
    let planned = inject(&sandbox, &rows);
    let (ops_arg, out_arg) = (ops.to_str().unwrap(), out.to_str().unwrap());

    // Per run: the journal entries up to its end, and the rows finished by then.
    let mut journal_at_end: Vec<usize> = Vec::new();
    let mut finished_by_run: Vec<Vec<u64>> = Vec::new();
    let mut stopped_runs = 0;
    let mut summaries = Vec::new();
    for run in 0..12 {
        let mut args = vec![
            "bulk",
            "--file",
            ops_arg,
            "--out",
            out_arg,
            "--summary-format",
            "json",
            "--concurrency",
            "4",
            "--grace",
            "30",
        ];
        if run > 0 {
            args.extend(["--resume", out_arg]);
        }
        let stop_after = (run < STOPS).then(|| line_count(&out) + LINES_PER_RUN);
        let output = run_once(&sandbox, &args, &out, stop_after).await;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let s = summary(&output.stderr);
        if s["stopped"] == true {
            stopped_runs += 1;
            assert_eq!(
                output.status.code(),
                Some(1),
                "a stopped run exits 1: {stderr}"
            );
            assert!(stderr.contains("SIGTERM: stopping"), "{stderr}");
            // Graceful: calls in flight finished and were written, none was cut off.
            assert_eq!(s["interrupted"], 0, "{stderr}");
        } else {
            assert!(
                matches!(output.status.code(), Some(0 | 1)),
                "run {run}: {stderr}"
            );
        }
        summaries.push(s);
        journal_at_end.push(sandbox.journal().len());
        let done: Vec<u64> = results(&out)
            .iter()
            .filter(|r| finished(r))
            .map(|r| r["line"].as_u64().unwrap())
            .collect();
        let all_done = rows.iter().all(|row| done.contains(&row.line));
        finished_by_run.push(done);
        if all_done {
            break;
        }
    }
    let summaries_text = format!("{summaries:#?}");
    eprintln!(
        "{} runs, {stopped_runs} stopped by SIGTERM; finished rows after each run: {:?}",
        summaries.len(),
        finished_by_run.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert!(
        stopped_runs >= 3,
        "only {stopped_runs} runs were stopped mid-run: {summaries_text}"
    );
    let lines = results(&out);

    // Every row has exactly one final result; nothing is lost.
    let mut final_results: HashMap<u64, Vec<&Value>> = HashMap::new();
    for r in lines.iter().filter(|r| finished(r)) {
        final_results
            .entry(r["line"].as_u64().unwrap())
            .or_default()
            .push(r);
    }
    for row in &rows {
        let n = final_results.get(&row.line).map_or(0, Vec::len);
        assert_eq!(n, 1, "line {} has {n} final results", row.line);
    }
    assert_eq!(
        final_results.len(),
        rows.len(),
        "results for lines not in the input"
    );

    // Duplicated side effects across the restarts: 0. A request of a row reaching the
    // sandbox after a run that ended with that row finished is a repeat.
    let entries = sandbox.journal().entries();
    assert!(
        entries.len() < sandbox_journal_capacity(),
        "the journal dropped entries; the check needs them all"
    );
    let mut duplicated = Vec::new();
    let mut effects: HashMap<u64, usize> = HashMap::new();
    for row in &rows {
        let finished_in = finished_by_run
            .iter()
            .position(|done| done.contains(&row.line))
            .unwrap();
        for (i, entry) in entries.iter().enumerate() {
            if !row.owns(entry) {
                continue;
            }
            *effects.entry(row.line).or_default() += entry.effects.len();
            if i >= journal_at_end[finished_in] {
                duplicated.push(format!(
                    "line {} (finished by run {finished_in}) sent again: {} {}",
                    row.line, entry.method, entry.path
                ));
            }
        }
    }
    assert!(duplicated.is_empty(), "{duplicated:#?}");

    // The journal agrees with the results: a change reported done happened exactly once; a
    // row that failed as maybe_applied happened at most once.
    for row in &rows {
        let result = final_results[&row.line][0];
        let n = effects.get(&row.line).copied().unwrap_or(0);
        if result["outcome"] == "failed" {
            assert!(n <= 1, "line {}: {n} effects, result {result}", row.line);
        } else {
            assert_eq!(n, 1, "line {}: {n} effects, result {result}", row.line);
        }
    }
    // The faults really ran: the hostile hints made rows fail definitely and run again.
    let rate_limited = lines
        .iter()
        .filter(|r| r["outcome"] == "failed" && r["error"]["kind"] == "rate_limited")
        .count();
    assert!(
        rate_limited > 0,
        "no hostile 429 ended its retries: {planned:?}"
    );
    assert!(
        lines
            .iter()
            .all(|r| r["error"]["kind"] != "rate_limited" || r["maybe_applied"] == false),
        "a 429 said maybe_applied"
    );
    let fired = entries
        .iter()
        .filter(|e| e.fault.is_some() && e.fault != Some(rosterkit_sandbox::FaultKind::Latency))
        .count();
    assert_eq!(fired, planned.values().sum::<usize>(), "{planned:?}");
    sandbox.shutdown().await;
}

/// The sandbox's default journal capacity, as the check above needs every entry.
fn sandbox_journal_capacity() -> usize {
    rosterkit_sandbox::SandboxConfig::default().journal_capacity
}
