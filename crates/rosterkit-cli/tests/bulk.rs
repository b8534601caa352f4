//! `rosterkit bulk` and `rosterkit completions`: the built binary against an in-process
//! sandbox over loopback (the Chert adapter).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    path::Path,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use rosterkit_sandbox::{Fault, FaultAction, Provider, Sandbox};
use serde_json::Value;

mod support;
use support::{Scratch, summary};

const BIN: &str = env!("CARGO_BIN_EXE_rosterkit");

/// The command with a clean environment holding only the sandbox's Chert credentials.
fn rosterkit(sandbox: &Sandbox, args: &[&str]) -> Command {
    let info = sandbox.info().chert;
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("CHERT_BASE_URL", info.base_url)
        .env("CHERT_TENANT", info.tenant)
        .env("CHERT_SIGNING_SECRET", info.signing_secret)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the command to the end off the async runtime (the sandbox keeps serving).
async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn member(c: u64, m: u64) -> String {
    format!("+1415{c:03}{m:04}")
}

/// `chats` groups of `members` each; returns their ids.
fn seed(sandbox: &Sandbox, chats: u64, members: u64) -> Vec<String> {
    (0..chats)
        .map(|c| {
            let list: Vec<String> = (0..members).map(|m| member(c, m)).collect();
            let list: Vec<&str> = list.iter().map(String::as_str).collect();
            sandbox.chert().create_group(&list)
        })
        .collect()
}

/// A CSV file with a header and `n` removes interleaved over `chats`; the remove of row `i`
/// (0-based) is on file line `i + 2`.
fn removes_csv(path: &Path, chats: &[String], n: u64) {
    let k = chats.len() as u64;
    let mut text = String::from("op,provider,chat,handle\n");
    for i in 0..n {
        let c = i % k;
        text.push_str(&format!(
            "remove,chert,{},{}\n",
            chats[c as usize],
            member(c, i / k)
        ));
    }
    fs::write(path, text).unwrap();
}

fn result_lines(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Counts per outcome and per failure kind, the way the summary counts them.
fn tally(lines: &[Value]) -> BTreeMap<String, u64> {
    let mut t = BTreeMap::new();
    for l in lines {
        let outcome = l["outcome"].as_str().unwrap().to_owned();
        if outcome == "failed" {
            *t.entry(format!("failed:{}", l["error"]["kind"].as_str().unwrap()))
                .or_default() += 1;
        }
        *t.entry(outcome).or_default() += 1;
    }
    t
}

/// Requests the sandbox received per encoded handle path tail, for Chert DELETEs.
fn deletes_per_handle(sandbox: &Sandbox) -> HashMap<String, usize> {
    let mut per = HashMap::new();
    for e in sandbox.journal().entries_for(Provider::Chert) {
        if e.method == "DELETE" {
            let tail = e.path.rsplit('/').next().unwrap().to_owned();
            *per.entry(tail).or_default() += 1;
        }
    }
    per
}

fn encoded(handle: &str) -> String {
    handle.replace('+', "%2B")
}

/// Waits (bounded) until the file has at least `lines` complete lines.
async fn wait_for_lines(path: &Path, lines: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = fs::read(path)
            .map(|b| b.iter().filter(|c| **c == b'\n').count())
            .unwrap_or(0);
        if n >= lines {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(
            Instant::now() < deadline,
            "only {n} result lines after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every line 2..=n+1 has exactly one result line; the summary matches the lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_operations_one_result_line_each_and_a_matching_summary() {
    const N: u64 = 10_000;
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("ten-thousand");
    let chats = seed(&sandbox, 100, 104);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, N);
    // A few rows go bad: an unknown provider, a bad handle, a missing column.
    let mut text = fs::read_to_string(&ops).unwrap();
    text = text.replacen(
        &format!("remove,chert,{},", chats[7]),
        &format!("remove,telegram,{},", chats[7]),
        1,
    );
    text = text.replacen(&format!(",{}\n", member(9, 0)), ",415-555\n", 1);
    text = text.replacen(
        &format!("remove,chert,{},{}\n", chats[11], member(11, 0)),
        "remove,chert\n",
        1,
    );
    fs::write(&ops, text).unwrap();
    let out = scratch.path("results.jsonl");

    let started = Instant::now();
    let run = output(rosterkit(
        &sandbox,
        &[
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--summary-format",
            "json",
            "--concurrency",
            "8",
        ],
    ))
    .await;
    let elapsed = started.elapsed();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.stdout.is_empty(), "results go to --out");

    let lines = result_lines(&out);
    assert_eq!(lines.len() as u64, N);
    let mut seen = vec![false; N as usize + 2];
    for l in &lines {
        let line = l["line"].as_u64().unwrap() as usize;
        assert!((2..=N as usize + 1).contains(&line), "line {line}");
        assert!(!seen[line], "line {line} twice");
        seen[line] = true;
    }
    let t = tally(&lines);
    assert_eq!(t.get("failed:invalid_input"), Some(&3), "{t:?}");
    assert_eq!(t.get("applied"), Some(&(N - 3)), "{t:?}");
    for l in lines.iter().filter(|l| l["outcome"] == "failed") {
        assert_eq!(l["maybe_applied"], false);
        assert!(l["error"]["message"].as_str().unwrap().len() > 5);
    }
    let bad = lines.iter().find(|l| l["provider"] == "telegram").unwrap();
    assert_eq!(bad["line"], 9);
    assert_eq!(bad["chat"], chats[7].as_str());

    let s = summary(&run.stderr);
    assert_eq!(s["results"], N);
    assert_eq!(s["applied"], t["applied"]);
    assert_eq!(s["failed"], 3);
    assert_eq!(s["failed_by_kind"]["invalid_input"], 3);
    assert_eq!(s["queued"], 0);
    assert_eq!(s["skipped"], 0);
    assert_eq!(s["stopped"], false);

    let effects = sandbox.journal().effects();
    assert_eq!(effects.len() as u64, N - 3);
    eprintln!("10,000 operations in {elapsed:?}");
    sandbox.shutdown().await;
}

/// Kill -9 midway, then `--resume`: the rest is done, and no operation that had a finished
/// result line is sent again (the journal counts the requests per handle).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_without_repeating_finished_operations() {
    const N: u64 = 2_000;
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("resume");
    let chats = seed(&sandbox, 20, 104);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, N);
    let out = scratch.path("results.jsonl");
    // Slow every call down so the kill lands midway.
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::Latency(Duration::from_millis(15)),
        )
        .times(1_000_000),
    );

    let mut first = rosterkit(
        &sandbox,
        &[
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .spawn()
    .unwrap();
    wait_for_lines(&out, 400, &mut first).await;
    first.kill().unwrap();
    let _ = first.wait();

    // What the first run recorded as finished (its last line may be cut mid-write).
    let text = fs::read_to_string(&out).unwrap();
    let finished: Vec<u64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["outcome"] != "failed")
        .map(|l| l["line"].as_u64().unwrap())
        .collect();
    assert!(
        finished.len() >= 400 && (finished.len() as u64) < N,
        "{}",
        finished.len()
    );
    let sent_before = sandbox.journal().entries_for(Provider::Chert).len();

    sandbox.faults().clear();
    let second = output(rosterkit(
        &sandbox,
        &[
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--resume",
            out.to_str().unwrap(),
            "--ensure",
            "--summary-format",
            "json",
        ],
    ))
    .await;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("resume:"), "{stderr}");
    let s = summary(&second.stderr);
    assert_eq!(s["skipped"], finished.len() as u64);
    assert_eq!(s["results"].as_u64().unwrap() + finished.len() as u64, N);

    // Every line has a finished result in the combined file.
    let mut done = vec![false; N as usize + 2];
    for l in fs::read_to_string(&out)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if l["outcome"] != "failed" {
            done[l["line"].as_u64().unwrap() as usize] = true;
        }
    }
    assert!(done[2..].iter().all(|d| *d), "some lines never finished");

    // The journal: each finished operation of the first run was sent exactly once; every
    // removal happened exactly once; only the calls in flight at the kill were sent twice
    // (and ensure mode turned the repeat into already_done).
    let per = deletes_per_handle(&sandbox);
    let k = chats.len() as u64;
    for line in &finished {
        let i = line - 2;
        let who = member(i % k, i / k);
        assert_eq!(
            per.get(&encoded(&who)),
            Some(&1),
            "line {line} ({who}) was repeated"
        );
    }
    let repeated = per.values().filter(|n| **n > 1).count();
    assert!(
        repeated <= 16,
        "{repeated} repeats: more than the calls in flight at the kill"
    );
    assert_eq!(sandbox.journal().effects().len() as u64, N);
    assert!(sent_before < sandbox.journal().entries_for(Provider::Chert).len());
    sandbox.shutdown().await;
}

/// Ctrl-C (SIGINT): no new operations, in-flight ones finish and are written, exit 1; every
/// request that reached the sandbox has a result line. A resume then does the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lets_in_flight_calls_finish_and_exits_1() {
    a_signal_lets_in_flight_calls_finish("INT").await;
}

/// SIGTERM (timeout, systemd, docker stop, Kubernetes) stops the run the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_calls_finish_and_exits_1() {
    a_signal_lets_in_flight_calls_finish("TERM").await;
}

async fn a_signal_lets_in_flight_calls_finish(signal: &str) {
    const N: u64 = 1_000;
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new(&format!("signal-{signal}"));
    let chats = seed(&sandbox, 10, 104);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, N);
    let out = scratch.path("results.jsonl");
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::Latency(Duration::from_millis(40)),
        )
        .times(1_000_000),
    );
    let mut child = rosterkit(
        &sandbox,
        &[
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--summary-format",
            "json",
            "--concurrency",
            "4",
        ],
    )
    .spawn()
    .unwrap();
    wait_for_lines(&out, 40, &mut child).await;
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let run = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("SIG{signal}: stopping")),
        "{stderr}"
    );
    let s = summary(&run.stderr);
    assert_eq!(s["stopped"], true);
    assert_eq!(s["interrupted"], 0);

    let lines = result_lines(&out);
    assert_eq!(s["results"], lines.len() as u64);
    assert!((lines.len() as u64) < N);
    assert!(lines.iter().all(|l| l["outcome"] == "applied"));
    // Graceful: everything sent has its result line, nothing else was sent.
    assert_eq!(
        sandbox.journal().entries_for(Provider::Chert).len(),
        lines.len()
    );

    sandbox.faults().clear();
    let resumed = output(rosterkit(
        &sandbox,
        &[
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--resume",
            out.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(result_lines(&out).len() as u64, N);
    assert_eq!(
        sandbox.journal().entries_for(Provider::Chert).len() as u64,
        N
    );
    sandbox.shutdown().await;
}

/// JSON lines on stdout; bad rows of every sort are failed results with their line; a
/// provider without credentials fails its rows only; the table summary goes to stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonl_bad_rows_and_missing_credentials_are_failed_results() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("jsonl");
    let chat = seed(&sandbox, 1, 10).remove(0);
    let ops = scratch.path("ops.jsonl");
    let rows = [
        format!(r#"{{"op":"remove","provider":"chert","chat":"{chat}","handle":"{}"}}"#, member(0, 1)),
        r#"{"op":"remove","provider":"telegram","chat":"c","handle":"+14155550100"}"#.to_owned(),
        String::new(),
        "not json".to_owned(),
        format!(r#"{{"op":"remove","provider":"chert","chat":"{chat}","handle":14155550100}}"#),
        format!(r#"{{"op":"remove","provider":"chert","chat":"{chat}"}}"#),
        r#"{"op":"remove","provider":"linq","chat":"550e8400-e29b-41d4-a716-446655440000","handle":"+14155550100"}"#.to_owned(),
        format!(r#"{{"operation":"add","provider":"chert","chat":"{chat}","handle":"new@example.com"}}"#),
        format!(r#"{{"op":"leave","provider":"chert","chat":"{chat}","handle":"{}"}}"#, member(0, 2)),
    ];
    fs::write(&ops, rows.join("\n")).unwrap();
    let run = output(rosterkit(
        &sandbox,
        &["bulk", "--file", ops.to_str().unwrap()],
    ))
    .await;
    assert_eq!(run.status.code(), Some(1));
    let stdout = String::from_utf8(run.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_line: BTreeMap<u64, &Value> = lines
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l))
        .collect();
    assert_eq!(
        by_line.keys().copied().collect::<Vec<_>>(),
        [1, 2, 4, 5, 6, 7, 8, 9]
    );
    assert_eq!(by_line[&1]["outcome"], "applied");
    assert_eq!(by_line[&1]["participants"].as_array().unwrap().len(), 9);
    assert_eq!(by_line[&8]["outcome"], "applied");
    assert_eq!(by_line[&8]["operation"], "add");
    for line in [2, 4, 5, 6, 9] {
        assert_eq!(by_line[&line]["outcome"], "failed", "line {line}");
        assert_eq!(
            by_line[&line]["error"]["kind"], "invalid_input",
            "line {line}"
        );
    }
    assert_eq!(by_line[&2]["provider"], "telegram");
    let linq = by_line[&7];
    assert_eq!(linq["outcome"], "failed");
    assert!(
        linq["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("linq needs LINQ_API_V3_API_KEY in the environment"),
        "{linq}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    for want in ["OUTCOME", "applied", "invalid_input"] {
        assert!(stderr.contains(want), "{stderr}");
    }
    // Only the two good chert rows reached the sandbox.
    assert_eq!(sandbox.journal().entries_for(Provider::Chert).len(), 2);
    sandbox.shutdown().await;
}

/// Usage errors exit 2 and send nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_and_send_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("usage");
    let ops = scratch.path("ops.csv");
    fs::write(&ops, "remove,chert,c,+14155550100\n").unwrap();
    let missing = scratch.path("missing.jsonl");
    // Every row refused before any request: bad input, exit 2 (each still has its line).
    let bad = scratch.path("bad.csv");
    fs::write(&bad, "remove,telegram,c,+14155550100\nleave,chert\n").unwrap();
    for args in [
        vec!["bulk", "--file", missing.to_str().unwrap()],
        vec![
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--resume",
            missing.to_str().unwrap(),
        ],
        vec![
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--pace",
            "chert=fast",
        ],
        vec![
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--concurrency",
            "0",
        ],
        vec![
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            ops.to_str().unwrap(),
        ],
        vec!["bulk", "--file", bad.to_str().unwrap()],
        vec!["bulk", "--file", "-", "--resume", ops.to_str().unwrap()],
        vec!["bulk", "--file", ops.to_str().unwrap(), "--json"],
        // Retries and the deadline are bounded (issue #16, item 9).
        vec![
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--max-attempts",
            "1000",
        ],
        // The former spelling keeps its bound.
        vec![
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--max-retries",
            "1000",
        ],
        vec!["bulk", "--file", ops.to_str().unwrap(), "--timeout", "0"],
    ] {
        let run = output(rosterkit(&sandbox, &args)).await;
        assert_eq!(
            run.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    assert!(sandbox.journal().is_empty());
    assert_eq!(
        fs::read_to_string(&ops).unwrap(),
        "remove,chert,c,+14155550100\n"
    );
    sandbox.shutdown().await;
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let run = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(run.status.success(), "{shell}");
        let script = String::from_utf8(run.stdout).unwrap();
        assert!(
            script.contains("bulk") && script.contains("resume"),
            "{shell}: {script}"
        );
    }
    let run = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

/// Runs `rosterkit bulk` over `file` with extra args to the end.
async fn bulk(sandbox: &Sandbox, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["bulk", "--file", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    output(rosterkit(sandbox, &args)).await
}

/// A header typo is reported once, naming the column, before any request (issue 17).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_header_typo_exits_2_naming_the_column() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("header");
    let chat = seed(&sandbox, 1, 3).remove(0);
    let ops = scratch.path("ops.csv");
    fs::write(
        &ops,
        format!(
            "op,provder,chat,handle\nremove,chert,{chat},{}\n",
            member(0, 1)
        ),
    )
    .unwrap();
    let run = bulk(&sandbox, &ops, &[]).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown column \"provder\""), "{stderr}");
    assert!(run.stdout.is_empty());
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

/// A quoted field holding a newline is one row, reported at the line it starts on; the rows
/// after it keep their physical line numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_quoted_newlines_make_one_row() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("quoted");
    let chat = seed(&sandbox, 1, 3).remove(0);
    let ops = scratch.path("ops.csv");
    fs::write(
        &ops,
        format!(
            "op,provider,chat,handle\nremove,chert,\"{chat}\nx\",{}\nremove,chert,\"{chat}\",\"{}\"\n",
            member(0, 1),
            member(0, 2)
        ),
    )
    .unwrap();
    let run = bulk(&sandbox, &ops, &[]).await;
    assert_eq!(run.status.code(), Some(1));
    let lines: Vec<Value> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(
        (lines[0]["line"].as_u64(), lines[1]["line"].as_u64()),
        (Some(2), Some(4))
    );
    let by_line: BTreeMap<u64, &Value> = lines
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l))
        .collect();
    assert_eq!(by_line[&2]["outcome"], "failed");
    assert_eq!(by_line[&2]["invalid_row"], true);
    assert_eq!(by_line[&4]["outcome"], "applied");
    assert_eq!(sandbox.journal().entries_for(Provider::Chert).len(), 1);
    sandbox.shutdown().await;
}

/// Issue 16 item 2: a row inserted at the top of the input after a run is sent on resume; no
/// finished row is sent again, and the invalid row is not re-run (no duplicate result lines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_matches_rows_by_fingerprint_after_an_insert() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("insert");
    let chat = seed(&sandbox, 1, 10).remove(0);
    let row = |m: u64| format!("remove,chert,{chat},{}", member(0, m));
    let ops = scratch.path("ops.csv");
    let out = scratch.path("results.jsonl");
    let first = [
        row(1),
        row(2),
        "remove,telegram,c,+14155550100".to_owned(),
        row(3),
    ];
    fs::write(&ops, first.join("\n") + "\n").unwrap();
    let run = bulk(&sandbox, &ops, &["--out", out.to_str().unwrap()]).await;
    assert_eq!(run.status.code(), Some(1));
    assert_eq!(result_lines(&out).len(), 4);

    // A new row at the top: every old row moves down one line.
    let second = [vec![row(4)], first.to_vec()].concat();
    fs::write(&ops, second.join("\n") + "\n").unwrap();
    let resumed = bulk(
        &sandbox,
        &ops,
        &[
            "--out",
            out.to_str().unwrap(),
            "--resume",
            out.to_str().unwrap(),
            "--summary-format",
            "json",
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert_eq!(resumed.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("4 matched at a new line"), "{stderr}");
    let s = summary(&resumed.stderr);
    assert_eq!(
        (s["results"].as_u64(), s["skipped"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(s["skipped_invalid"], 1);
    let lines = result_lines(&out);
    assert_eq!(lines.len(), 5, "one new result line, no duplicates");
    assert_eq!(lines[4]["line"], 1);
    assert_eq!(lines[4]["handle"], member(0, 4));
    let per = deletes_per_handle(&sandbox);
    for m in 1..=4 {
        assert_eq!(per.get(&encoded(&member(0, m))), Some(&1), "member {m}");
    }
    sandbox.shutdown().await;
}

/// Issue 16 item 4: a result naming a line beyond the input is refused at once (no huge
/// allocation), as is a results file from before fingerprints; nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_files_are_parsed_within_bounds() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("bounds");
    let ops = scratch.path("ops.csv");
    fs::write(&ops, "remove,chert,c,+14155550100\n").unwrap();
    let resume = scratch.path("results.jsonl");
    for (text, want) in [
        (
            r#"{"line":18446744073709551615,"fingerprint":"0123456789abcdef","outcome":"applied"}"#,
            "input line 18446744073709551615",
        ),
        (r#"{"line":1,"outcome":"applied"}"#, "has no fingerprint"),
    ] {
        fs::write(&resume, format!("{text}\n")).unwrap();
        let run = bulk(&sandbox, &ops, &["--resume", resume.to_str().unwrap()]).await;
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

/// Issue 16 item 10: a JSON row with a key twice is refused, not run as its last value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rows_with_duplicate_keys_are_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("dup-keys");
    let chat = seed(&sandbox, 1, 3).remove(0);
    let ops = scratch.path("ops.jsonl");
    fs::write(
        &ops,
        format!(
            r#"{{"op":"remove","provider":"chert","chat":"{chat}","handle":"{}","op":"add"}}"#,
            member(0, 1)
        ),
    )
    .unwrap();
    let run = bulk(&sandbox, &ops, &[]).await;
    assert_eq!(run.status.code(), Some(2));
    let line: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(line["error"]["kind"], "invalid_input");
    assert!(
        line["error"]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate key \"op\""),
        "{line}"
    );
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

/// `--shard I/N`: N runs over one file do every row exactly once, each chat in one shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_one_file_without_overlap() {
    const SHARDS: u64 = 3;
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("shards");
    let chats = seed(&sandbox, 12, 8);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, 48);
    let mut all = Vec::new();
    for i in 0..SHARDS {
        let out = scratch.path(&format!("results-{i}.jsonl"));
        let shard = format!("{i}/{SHARDS}");
        let run = bulk(
            &sandbox,
            &ops,
            &["--shard", &shard, "--out", out.to_str().unwrap(), "--quiet"],
        )
        .await;
        // --quiet: nothing on stderr when nothing went wrong.
        assert!(
            run.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let lines = result_lines(&out);
        let failed: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "failed").collect();
        assert_eq!(run.status.code(), Some(0), "{failed:?}");
        all.extend(lines.into_iter().map(|l| (i, l)));
    }
    let mut seen: Vec<u64> = all
        .iter()
        .map(|(_, l)| l["line"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (2..50).collect::<Vec<u64>>());
    // Every row of a chat ran in the same shard.
    let mut chats_per_shard: HashMap<String, std::collections::BTreeSet<u64>> = HashMap::new();
    for (shard, l) in &all {
        chats_per_shard
            .entry(l["chat"].as_str().unwrap().to_owned())
            .or_default()
            .insert(*shard);
    }
    assert!(
        chats_per_shard.values().all(|s| s.len() == 1),
        "{chats_per_shard:?}"
    );
    assert_eq!(chats_per_shard.len(), chats.len());
    assert_eq!(sandbox.journal().entries_for(Provider::Chert).len(), 48);
    let run = bulk(&sandbox, &ops, &["--shard", "3/3"]).await;
    assert_eq!(run.status.code(), Some(2));
    sandbox.shutdown().await;
}

/// `| head`: a closed stdout ends the run without an error message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_ends_the_run_quietly() {
    use std::io::{BufRead, BufReader};
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("epipe");
    let chats = seed(&sandbox, 10, 104);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, 1_000);
    let mut child = rosterkit(&sandbox, &["bulk", "--file", ops.to_str().unwrap()])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let run = tokio::task::spawn_blocking(move || {
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        // Dropping the reader closes the pipe, as `head -1` does.
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(!stderr.to_lowercase().contains("pipe"), "{stderr}");
    assert!(!stderr.contains("error"), "{stderr}");
    sandbox.shutdown().await;
}

/// A second signal stops at once: calls still in flight are cut off (reported `interrupted`),
/// not waited for through the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_stops_at_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("second-signal");
    let chats = seed(&sandbox, 4, 8);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, 8);
    let out = scratch.path("results.jsonl");
    // Every call takes a minute: only the signals can end this run.
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::Latency(Duration::from_secs(60)),
        )
        .times(1_000),
    );
    let child = rosterkit(
        &sandbox,
        &[
            "bulk",
            "--file",
            ops.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--summary-format",
            "json",
            "--grace",
            "600",
        ],
    )
    .spawn()
    .unwrap();
    // Wait (bounded) until calls are in flight at the sandbox.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sandbox.journal().entries_for(Provider::Chert).is_empty() {
        assert!(Instant::now() < deadline, "no call reached the sandbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().to_string();
    let signal = |name: &str| {
        assert!(
            Command::new("kill")
                .args([name, &pid])
                .status()
                .unwrap()
                .success()
        );
    };
    signal("-TERM");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped_at = Instant::now();
    signal("-INT");
    let run = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let took = stopped_at.elapsed();
    assert!(
        took < Duration::from_secs(6),
        "the second signal did not stop the run at once: {took:?}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let s = summary(&run.stderr);
    assert!(s["interrupted"].as_u64().unwrap() > 0, "{s}");
    sandbox.shutdown().await;
}

/// `--timeout`: a row whose server never answers fails as a timeout after SECS, retries
/// included, instead of after three 30 s attempts (issue #16, item 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_bounds_a_silent_server_per_row() {
    let sandbox = Sandbox::start().await.unwrap();
    let scratch = Scratch::new("timeout");
    let chats = seed(&sandbox, 1, 8);
    let ops = scratch.path("ops.csv");
    removes_csv(&ops, &chats, 1);
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::Latency(Duration::from_secs(600)),
        )
        .times(10),
    );
    let started = Instant::now();
    let run = output(rosterkit(
        &sandbox,
        &["bulk", "--file", ops.to_str().unwrap(), "--timeout", "1"],
    ))
    .await;
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(line["outcome"], "failed", "{stdout}");
    assert_eq!(line["error"]["kind"], "timeout", "{stdout}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(bulk_help().contains("--timeout <SECS>"));
    sandbox.shutdown().await;
}

fn bulk_help() -> String {
    let help = Command::new(BIN).args(["bulk", "--help"]).output().unwrap();
    String::from_utf8_lossy(&help.stdout).into_owned()
}
