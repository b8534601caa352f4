//! `rosterkit sync`: the built binary against an in-process sandbox over loopback (ACS, which
//! lists its threads; Chert, which cannot).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::BTreeSet,
    fs,
    io::Write,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use rosterkit_sandbox::{Provider, Sandbox, acs::DEFAULT_USER_ID, linq::DEFAULT_LINE};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rosterkit");

/// A members file in a scratch directory, removed on drop.
struct Members(PathBuf);

impl Members {
    fn new(name: &str, lines: &[&str]) -> Self {
        let dir = std::env::temp_dir().join(format!("rosterkit-sync-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        fs::write(&path, lines.join("\n")).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Members {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn member(i: usize) -> String {
    format!("8:acs:sync_cli_{i}")
}

/// A sandbox with one ACS thread holding our identity and members `ids`.
async fn acs_thread(ids: &[usize]) -> (Sandbox, String) {
    let sandbox = Sandbox::start().await.unwrap();
    let members: Vec<String> = ids.iter().map(|&i| member(i)).collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let thread = sandbox.acs().create_thread(&members);
    (sandbox, thread)
}

fn env(sandbox: &Sandbox) -> Vec<(String, String)> {
    let info = sandbox.info();
    vec![
        ("ACS_ENDPOINT".into(), info.acs.endpoint),
        ("ACS_USER_TOKEN".into(), info.acs.user_token),
        ("ACS_USER_ID".into(), info.acs.user_id),
        ("CHERT_BASE_URL".into(), info.chert.base_url),
        ("CHERT_TENANT".into(), info.chert.tenant),
        ("CHERT_SIGNING_SECRET".into(), info.chert.signing_secret),
        ("LINQ_API_V3_BASE_URL".into(), info.linq.base_url),
        ("LINQ_API_V3_API_KEY".into(), info.linq.api_key),
    ]
}

/// Starts `rosterkit` with only these variables, every standard stream piped.
fn spawn(args: &[String], env: Vec<(String, String)>) -> std::process::Child {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `rosterkit` with only the sandbox's credentials, `stdin` on standard input.
async fn run(sandbox: &Sandbox, args: &[&str], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let (env, stdin) = (env(sandbox), stdin.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = spawn(&args, env);
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

/// `sync -p acs -c THREAD -m FILE` plus `extra`.
async fn sync(sandbox: &Sandbox, thread: &str, file: &Members, extra: &[&str]) -> Output {
    let mut args = vec!["sync", "-p", "acs", "-c", thread, "-m", file.path()];
    args.extend(extra);
    run(sandbox, &args, "").await
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

/// The requests other than reads the ACS emulator received.
fn mutations(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .journal()
        .entries_for(Provider::Acs)
        .into_iter()
        .filter(|e| e.method != "GET")
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

/// The thread's members as the emulator holds them, our identity excluded.
fn members_of(sandbox: &Sandbox, thread: &str) -> BTreeSet<String> {
    sandbox
        .acs()
        .participants(thread)
        .unwrap()
        .into_iter()
        .filter(|m| m != DEFAULT_USER_ID)
        .collect()
}

fn set(ids: &[usize]) -> BTreeSet<String> {
    ids.iter().map(|&i| member(i)).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_prints_a_diff_and_sends_only_reads() {
    let (sandbox, thread) = acs_thread(&[1, 2]).await;
    let file = Members::new("plan.txt", &["# the team", &member(2), "", &member(3)]);
    let out = sync(&sandbox, &thread, &file, &[]).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // Our identity (ACS_USER_ID) is kept untouched though the file does not list it.
    assert_eq!(
        text(&out.stdout),
        format!("+ {}\n- {}\n= 2 kept\n", member(3), member(1))
    );
    assert!(mutations(&sandbox).is_empty(), "{:?}", mutations(&sandbox));
    assert!(
        !sandbox.journal().entries_for(Provider::Acs).is_empty(),
        "the roster was read"
    );
    assert_eq!(members_of(&sandbox, &thread), set(&[1, 2]));
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_and_a_second_run_plans_nothing() {
    let (sandbox, thread) = acs_thread(&[1, 2, 3]).await;
    let file = Members::new("apply.txt", &[&member(2), &member(3), &member(4)]);
    let out = sync(&sandbox, &thread, &file, &["--apply"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with(&format!("+ {}\n- {}\n= 3 kept\n", member(4), member(1))));
    for want in ["OPERATION", "applied", "add", "remove"] {
        assert!(stdout.contains(want), "{want}: {stdout}");
    }
    assert_eq!(members_of(&sandbox, &thread), set(&[2, 3, 4]));
    let sent = mutations(&sandbox).len();
    assert!(sent >= 2, "one add and one remove at least");

    let again = sync(&sandbox, &thread, &file, &["--apply"]).await;
    assert_eq!(code(&again), 0, "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), "= 4 kept\n", "our identity counts");
    assert_eq!(
        mutations(&sandbox).len(),
        sent,
        "a converged run sends no change"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_come_from_stdin_with_a_dash() {
    let (sandbox, thread) = acs_thread(&[1]).await;
    let args = ["sync", "-p", "acs", "-c", &thread, "-m", "-"];
    let out = run(&sandbox, &args, &format!("{}\n{}\n", member(1), member(5))).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("+ {}\n= 2 kept\n", member(5)));
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_3_on_drift_and_0_once_converged() {
    let (sandbox, thread) = acs_thread(&[1, 2]).await;
    let file = Members::new("check.txt", &[&member(1), &member(2), &member(3)]);
    let drift = sync(&sandbox, &thread, &file, &["--check"]).await;
    assert_eq!(code(&drift), 3, "{}", text(&drift.stderr));
    assert_eq!(text(&drift.stdout), format!("+ {}\n= 3 kept\n", member(3)));
    assert!(mutations(&sandbox).is_empty());

    let apply = sync(&sandbox, &thread, &file, &["--apply"]).await;
    assert_eq!(code(&apply), 0, "{}", text(&apply.stderr));
    let clean = sync(&sandbox, &thread, &file, &["--check"]).await;
    assert_eq!(code(&clean), 0, "{}", text(&clean.stderr));

    let both = sync(&sandbox, &thread, &file, &["--check", "--apply"]).await;
    assert_eq!(code(&both), 2, "conflicting flags are a usage error");
}

#[tokio::test(flavor = "multi_thread")]
async fn detailed_exitcode_follows_terraform_and_makes_usage_errors_1() {
    let (sandbox, thread) = acs_thread(&[1, 2]).await;
    let changes = Members::new("detailed.txt", &[&member(1), &member(2), &member(3)]);
    let same = Members::new("same.txt", &[&member(1), &member(2)]);
    let bad = Members::new("bad.txt", &[&member(1), "not a handle"]);
    let detailed = ["--detailed-exitcode"];

    let out = sync(&sandbox, &thread, &changes, &detailed).await;
    assert_eq!(code(&out), 2, "changes present: {}", text(&out.stderr));
    let out = sync(&sandbox, &thread, &same, &detailed).await;
    assert_eq!(code(&out), 0, "no changes: {}", text(&out.stderr));

    // A usage error is 1 under --detailed-exitcode (2 would read as "changes"), 2 without it.
    let out = sync(&sandbox, &thread, &bad, &detailed).await;
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
    let out = sync(&sandbox, &thread, &bad, &[]).await;
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let out = sync(
        &sandbox,
        &thread,
        &same,
        &["--detailed-exitcode", "--bogus"],
    )
    .await;
    assert_eq!(
        code(&out),
        1,
        "an unparsable command line: {}",
        text(&out.stderr)
    );
    let out = sync(
        &sandbox,
        &thread,
        &same,
        &["--detailed-exitcode", "--apply"],
    )
    .await;
    assert_eq!(code(&out), 1, "--apply conflicts: {}", text(&out.stderr));
    assert!(mutations(&sandbox).is_empty());

    let help = run(&sandbox, &["sync", "--help"], "").await;
    let help = text(&help.stdout);
    for want in [
        "--detailed-exitcode",
        "2 changes present",
        "exits 1",
        "3  --check",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_emits_the_plan_then_one_line_per_step() {
    let (sandbox, thread) = acs_thread(&[1, 2]).await;
    let file = Members::new("json.txt", &[&member(2), &member(3)]);
    let out = sync(&sandbox, &thread, &file, &["--json", "--apply"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let plan = &lines[0];
    assert_eq!(plan["provider"], "acs");
    assert_eq!(plan["chat"], thread.as_str());
    assert_eq!(plan["source"], "listed");
    assert_eq!(plan["steps"][0]["action"], "add");
    assert_eq!(plan["steps"][0]["handle"], member(3));
    assert_eq!(plan["steps"][1]["action"], "remove");
    assert_eq!(plan["steps"][1]["handle"], member(1));
    let steps: Vec<(&str, &str, &str)> = lines[1..]
        .iter()
        .map(|l| {
            (
                l["operation"].as_str().unwrap(),
                l["handle"].as_str().unwrap(),
                l["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    let (m3, m1) = (member(3), member(1));
    assert_eq!(
        steps,
        [
            ("add", m3.as_str(), "applied"),
            ("remove", m1.as_str(), "applied")
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_max_removals_guard_refuses_with_2_and_sends_nothing() {
    let (sandbox, thread) = acs_thread(&[1, 2, 3, 4]).await;
    let wrong_file = Members::new("wrong.txt", &[&member(1)]);
    for limit in ["2", "50%"] {
        let out = sync(
            &sandbox,
            &thread,
            &wrong_file,
            &["--apply", "--max-removals", limit],
        )
        .await;
        assert_eq!(code(&out), 2, "{limit}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("refused") && stderr.contains("removes 3 of"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = sync(&sandbox, &thread, &wrong_file, &["--max-removals", "lots"]).await;
    assert_eq!(code(&out), 2);
    assert!(mutations(&sandbox).is_empty(), "{:?}", mutations(&sandbox));
    assert_eq!(members_of(&sandbox, &thread), set(&[1, 2, 3, 4]));

    // Within the limit, and a protected member stays.
    let out = sync(
        &sandbox,
        &thread,
        &wrong_file,
        &["--apply", "--max-removals", "75%", "--protect", &member(4)],
    )
    .await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("= 3 kept (1 protected)"));
    assert_eq!(members_of(&sandbox, &thread), set(&[1, 4]));
}

#[tokio::test(flavor = "multi_thread")]
async fn chert_needs_current_and_plans_from_it() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550101", "+14155550102", "+14155550103"]);
    let file = Members::new("chert.txt", &["+14155550102", "+1 (415) 555-0104"]);
    let args = ["sync", "-p", "chert", "-c", &chat, "-m", file.path()];
    let out = run(&sandbox, &args, "").await;
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot list") && stderr.contains("--current FILE"),
        "{stderr}"
    );
    assert!(sandbox.journal().entries_for(Provider::Chert).is_empty());

    let current = Members::new(
        "chert-current.txt",
        &["+14155550101", "+14155550102", "+14155550103"],
    );
    let mut with_current = args.to_vec();
    with_current.extend(["--current", current.path()]);
    let out = run(&sandbox, &with_current, "").await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // Adds first, so the group (our line included) never drops below Chert's minimum of 3.
    assert_eq!(
        text(&out.stdout),
        "+ +14155550104\n- +14155550101\n- +14155550103\n= 1 kept\n"
    );
    assert!(text(&out.stderr).contains("--current"));
    assert!(sandbox.journal().entries_for(Provider::Chert).is_empty());
}

/// `sync -f FILE --apply --json` plus `extra`.
fn apply_json(file: &Members, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["sync", "-f", file.path(), "--apply", "--json"];
    args.extend(extra);
    args.into_iter().map(str::to_owned).collect()
}

/// Parses JSON lines.
fn json_lines(bytes: &[u8]) -> Vec<Value> {
    text(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_syncs_many_chats_one_line_each() {
    let sandbox = Sandbox::start().await.unwrap();
    let (m1, m2, m3, m4) = (member(1), member(2), member(3), member(4));
    let t1 = sandbox.acs().create_thread(&[&m1, &m2]);
    let t2 = sandbox.acs().create_thread(&[&m3]);
    let rows = format!(
        "provider,chat,handle\n# two teams\nacs,{t1},{m2}\nacs,{t1},{m4}\n# the second\nacs,{t2},{m3}\nacs,{t2},{m1}\n"
    );
    let file = Members::new("rosters.csv", &[&rows]);
    let args = ["sync", "--file", file.path(), "--concurrency", "1"];

    let plan = run(&sandbox, &args, "").await;
    assert_eq!(code(&plan), 0, "{}", text(&plan.stderr));
    assert_eq!(
        text(&plan.stdout),
        format!("# acs {t1}\n+ {m4}\n- {m1}\n= 2 kept\n# acs {t2}\n+ {m1}\n= 2 kept\n")
    );
    assert!(
        text(&plan.stderr).contains("sync: 2 chats: 2 with changes"),
        "{}",
        text(&plan.stderr)
    );
    assert!(mutations(&sandbox).is_empty());
    let check = run(&sandbox, &[&args[..], &["--check"]].concat(), "").await;
    assert_eq!(code(&check), 3, "{}", text(&check.stderr));

    let apply = run(&sandbox, &[&args[..], &["--apply", "--json"]].concat(), "").await;
    assert_eq!(code(&apply), 0, "{}", text(&apply.stderr));
    // One line per chat: where its rows start, its fingerprint, the plan and the step results.
    let lines = json_lines(&apply.stdout);
    let shape: Vec<(u64, &str, &str, usize, usize)> = lines
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["chat"].as_str().unwrap(),
                l["outcome"].as_str().unwrap(),
                l["plan"]["steps"].as_array().unwrap().len(),
                l["results"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (3, t1.as_str(), "applied", 2, 2),
            (6, t2.as_str(), "applied", 1, 1)
        ]
    );
    assert_eq!(lines[0]["operation"], "sync");
    assert_eq!(lines[0]["fingerprint"].as_str().unwrap().len(), 16);
    assert_eq!(lines[0]["results"][1]["operation"], "remove");
    assert_eq!(lines[0]["results"][1]["outcome"], "applied");
    assert_eq!(members_of(&sandbox, &t1), set(&[2, 4]));
    assert_eq!(members_of(&sandbox, &t2), set(&[1, 3]));
    let clean = run(&sandbox, &[&args[..], &["--check"]].concat(), "").await;
    assert_eq!(code(&clean), 0, "{}", text(&clean.stderr));

    // A Chert chat in the file is refused (it cannot be listed); the others still run: exit 1.
    let chert = sandbox
        .chert()
        .create_group(&["+14155550101", "+14155550102", "+14155550103"]);
    let mixed = Members::new(
        "mixed.csv",
        &[&format!(
            "chert,{chert},+14155550101\nacs,{t1},{m2}\nacs,{t1},{m4}\n"
        )],
    );
    let out = run(&sandbox, &["sync", "-f", mixed.path()], "").await;
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--current"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), format!("# acs {t1}\n= 3 kept\n"));
    assert!(sandbox.journal().entries_for(Provider::Chert).is_empty());

    // A bad row refuses its own chat, before any request for it; when that is every chat,
    // nothing was sent at all: exit 2.
    let before = sandbox.journal().entries_for(Provider::Acs).len();
    let bad = Members::new("bad.csv", &[&format!("acs,{t1},{m2}\nacs,{t1},nope\n")]);
    let out = run(&sandbox, &["sync", "-f", bad.path()], "").await;
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sandbox.journal().entries_for(Provider::Acs).len(), before);
}

/// Rows are streamed: a chat's group ends at the next chat's first row, so a chat that comes
/// back later is refused at that line (never merged), and the chats around it still run,
/// several at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_chat_that_comes_back_is_refused_and_the_others_run_concurrently() {
    let sandbox = Sandbox::start().await.unwrap();
    let threads: Vec<String> = (0..6)
        .map(|i| sandbox.acs().create_thread(&[&member(10 * i)]))
        .collect();
    let mut rows = String::new();
    for (i, t) in threads.iter().enumerate() {
        rows.push_str(&format!(
            "acs,{t},{}\nacs,{t},{}\n",
            member(10 * i),
            member(10 * i + 1)
        ));
    }
    // Thread 0 again, after its group ended on line 2.
    rows.push_str(&format!("acs,{},{}\n", threads[0], member(9)));
    let file = Members::new("again.csv", &[&rows]);
    let args = apply_json(&file, &["--concurrency", "3"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&sandbox, &args, "").await;
    assert_eq!(code(&out), 1, "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 13: chat")
            && stderr.contains("appears again")
            && stderr.contains("line 1"),
        "{stderr}"
    );
    let mut lines: Vec<(u64, String, String, bool)> = json_lines(&out.stdout)
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["chat"].as_str().unwrap().to_owned(),
                l["outcome"].as_str().unwrap().to_owned(),
                l["refused"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    lines.sort();
    let mut want: Vec<(u64, String, String, bool)> = threads
        .iter()
        .enumerate()
        .map(|(i, t)| (2 * i as u64 + 1, t.clone(), "applied".to_owned(), false))
        .collect();
    want.push((13, threads[0].clone(), "failed".to_owned(), true));
    assert_eq!(lines, want, "every chat reports, the reappearance too");
    for (i, t) in threads.iter().enumerate() {
        assert_eq!(members_of(&sandbox, t), set(&[10 * i, 10 * i + 1]));
    }
    assert!(
        !members_of(&sandbox, &threads[0]).contains(&member(9)),
        "never merged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn linq_keeps_the_line_it_marks_as_ours() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .linq()
        .create_group(&["+14155550101", "+14155550102", "+14155550103"]);
    let file = Members::new(
        "linq.txt",
        &["+14155550102", "+14155550103", "+14155550104"],
    );
    let args = ["sync", "-p", "linq", "-c", &chat, "-m", file.path()];
    let out = run(&sandbox, &args, "").await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // DEFAULT_LINE is listed but not in the file: kept, since Linq marks it `is_me`.
    assert_eq!(
        text(&out.stdout),
        "+ +14155550104\n- +14155550101\n= 3 kept\n"
    );
    assert!(!text(&out.stdout).contains(DEFAULT_LINE));
    let changes = sandbox
        .journal()
        .entries_for(Provider::Linq)
        .into_iter()
        .filter(|e| e.method != "GET")
        .count();
    assert_eq!(changes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_members_file_is_refused_unless_allowed() {
    let (sandbox, thread) = acs_thread(&[1, 2]).await;
    let empty = Members::new("empty.txt", &["# nobody yet", ""]);
    let out = sync(&sandbox, &thread, &empty, &["--apply"]).await;
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--allow-empty"),
        "{}",
        text(&out.stderr)
    );
    assert!(mutations(&sandbox).is_empty());

    let out = sync(&sandbox, &thread, &empty, &["--apply", "--allow-empty"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        members_of(&sandbox, &thread).is_empty(),
        "our identity stays"
    );
    assert!(
        sandbox
            .acs()
            .participants(&thread)
            .unwrap()
            .contains(&DEFAULT_USER_ID.to_owned())
    );
}

/// The random part of an ACS thread id, as it appears in a request path.
fn thread_key(thread: &str) -> &str {
    thread
        .trim_start_matches("19:")
        .split('@')
        .next()
        .unwrap_or(thread)
}

/// Many-chat sync of a large generated file (2,000 chats) with bounded concurrency: a fault in
/// the middle (a lost reply, a refused remove), then a SIGTERM while eight chats hang, then
/// `--resume`: every chat converges, each change took effect exactly once, and the chats the
/// first run finished are not even read again.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_chats_stream_survive_a_fault_and_a_signal_and_resume_exactly_once() {
    use std::io::{BufRead, BufReader};

    use rosterkit_sandbox::{Fault, FaultAction};

    const CHATS: usize = 2000;
    const HUNG: std::ops::Range<usize> = 1000..1008;
    let sandbox = Sandbox::start().await.unwrap();
    let (a, b, c) = (
        |i| member(3 * i),
        |i| member(3 * i + 1),
        |i| member(3 * i + 2),
    );
    let threads: Vec<String> = (0..CHATS)
        .map(|i| sandbox.acs().create_thread(&[&a(i), &b(i)]))
        .collect();
    let mut rows = String::from("provider,chat,handle\n");
    for (i, t) in threads.iter().enumerate() {
        rows.push_str(&format!("acs,{t},{}\nacs,{t},{}\n", b(i), c(i)));
    }
    let file = Members::new("many.csv", &[&rows]);
    let results = Members::new("many-results.jsonl", &[]);
    let faults = sandbox.faults();
    // Chat 10's add takes effect but its reply is lost; chat 20's remove is refused.
    faults.inject(
        Fault::new(Provider::Acs, FaultAction::DropAfterApply)
            .path_contains(":add")
            .body_contains(c(10)),
    );
    faults.inject(
        Fault::new(
            Provider::Acs,
            FaultAction::status(rosterkit_sandbox::StatusCode::FORBIDDEN),
        )
        .path_contains(":remove")
        .body_contains(a(20)),
    );
    // Chats 1000..1008 hang on their roster read, taking every one of the 8 slots: the first
    // 1000 chats end, then nothing can until the signal.
    for i in HUNG {
        faults.inject(
            Fault::new(
                Provider::Acs,
                FaultAction::Latency(std::time::Duration::from_secs(600)),
            )
            .path_contains(thread_key(&threads[i])),
        );
    }

    let first = {
        let env = env(&sandbox);
        let args = apply_json(
            &file,
            &["--concurrency", "8", "--grace", "0", "--max-attempts", "1"],
        );
        tokio::task::spawn_blocking(move || {
            let mut child = spawn(&args, env);
            drop(child.stdin.take());
            let mut lines = Vec::new();
            for line in BufReader::new(child.stdout.take().unwrap()).lines() {
                lines.push(line.unwrap());
                if lines.len() == HUNG.start {
                    let kill = Command::new("kill")
                        .args(["-TERM", &child.id().to_string()])
                        .status()
                        .expect("this test sends SIGTERM with the `kill` command (procps)");
                    assert!(kill.success());
                }
            }
            let out = child.wait_with_output().unwrap();
            (out, lines)
        })
        .await
        .unwrap()
    };
    let (out, lines) = first;
    assert_eq!(code(&out), 1, "stopped by a signal: {}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("SIGTERM: stopping") && stderr.contains("8 interrupted"),
        "{stderr}"
    );
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), HUNG.end, "every chat started reports once");
    let outcome = |v: &Value| v["outcome"].as_str().unwrap().to_owned();
    let interrupted: Vec<u64> = parsed
        .iter()
        .filter(|v| v["interrupted"] == true)
        .map(|v| v["line"].as_u64().unwrap())
        .collect();
    assert_eq!(interrupted.len(), HUNG.len(), "{interrupted:?}");
    let failed = parsed.iter().filter(|v| outcome(v) == "failed").count();
    assert!(failed > HUNG.len(), "the refused remove at least: {failed}");
    let applied = parsed.iter().filter(|v| outcome(v) == "applied").count();
    fs::write(&results.0, lines.join("\n") + "\n").unwrap();

    // Resume, appending to the same results file.
    let reads_before = sandbox
        .journal()
        .entries_for(Provider::Acs)
        .into_iter()
        .filter(|e| e.method == "GET")
        .count();
    let resume = [
        "sync",
        "-f",
        file.path(),
        "--apply",
        "--resume",
        results.path(),
        "--out",
        results.path(),
    ];
    let out = run(&sandbox, &resume, "").await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "results went to --out");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("resume: {applied} chats")),
        "{stderr}"
    );
    let reads = sandbox
        .journal()
        .entries_for(Provider::Acs)
        .into_iter()
        .filter(|e| e.method == "GET")
        .count()
        - reads_before;
    assert_eq!(reads, CHATS - applied, "finished chats are not read again");
    assert!(faults.is_empty(), "{:?}", faults.pending());

    // Converged, and every change took effect exactly once.
    for (i, t) in threads.iter().enumerate() {
        let want: BTreeSet<String> = [b(i), c(i)].into();
        assert_eq!(members_of(&sandbox, t), want, "chat {i}");
    }
    let effects: Vec<String> = sandbox
        .journal()
        .effects()
        .into_iter()
        .filter(|e| e.contains(":add ") || e.contains(":remove "))
        .collect();
    let distinct: BTreeSet<&String> = effects.iter().collect();
    assert_eq!(effects.len(), 2 * CHATS, "one add and one remove per chat");
    assert_eq!(distinct.len(), effects.len(), "no duplicate effect");

    // Everything is finished now: a third run skips every chat and sends nothing.
    let before = sandbox.journal().entries_for(Provider::Acs).len();
    let out = run(&sandbox, &resume, "").await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("{CHATS} skipped")),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sandbox.journal().entries_for(Provider::Acs).len(), before);
}

/// `--resume` matches chats by the fingerprint of their members: an applied chat is skipped
/// without a read, a chat whose members changed in the file is planned and applied again.
#[tokio::test(flavor = "multi_thread")]
async fn resume_skips_applied_chats_and_replans_a_changed_one() {
    let sandbox = Sandbox::start().await.unwrap();
    let (t1, t2) = (
        sandbox.acs().create_thread(&[&member(1)]),
        sandbox.acs().create_thread(&[&member(2)]),
    );
    let rows = |extra: usize| {
        format!(
            "acs,{t1},{}\nacs,{t1},{}\nacs,{t2},{}\nacs,{t2},{}\n",
            member(1),
            member(11),
            member(2),
            member(extra)
        )
    };
    let file = Members::new("resume.csv", &[&rows(12)]);
    let results = Members::new("resume-results.jsonl", &[]);
    let (path, out) = (file.path(), results.path());
    let first = run(&sandbox, &["sync", "-f", path, "--apply", "--out", out], "").await;
    assert_eq!(code(&first), 0, "{}", text(&first.stderr));
    assert!(first.stdout.is_empty());
    assert_eq!(json_lines(&fs::read(&results.0).unwrap()).len(), 2);

    // t2's members change in the file: only t2 is read and synced again.
    fs::write(&file.0, rows(13)).unwrap();
    let before = sandbox.journal().entries_for(Provider::Acs).len();
    let resume = ["sync", "-f", path, "--apply", "--resume", out, "--out", out];
    let again = run(&sandbox, &resume, "").await;
    assert_eq!(code(&again), 0, "{}", text(&again.stderr));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("resume: 1 chats") && stderr.contains("1 applied, 1 skipped"),
        "{stderr}"
    );
    let touched: Vec<String> = sandbox.journal().entries_for(Provider::Acs)[before..]
        .iter()
        .map(|e| e.path.clone())
        .collect();
    assert!(
        !touched.is_empty() && touched.iter().all(|p| p.contains(thread_key(&t2))),
        "{touched:?}"
    );
    assert!(!touched.iter().any(|p| p.contains(thread_key(&t1))));
    assert_eq!(members_of(&sandbox, &t2), set(&[2, 13]));
    let lines = json_lines(&fs::read(&results.0).unwrap());
    assert_eq!(lines.len(), 3, "appended to the --resume file");

    // Refused before anything is sent: resume without --apply, from stdin, or a plan's output;
    // --concurrency without --file.
    let before = sandbox.journal().entries_for(Provider::Acs).len();
    let plan_out = Members::new("resume-plan.jsonl", &[]);
    let plan = run(&sandbox, &["sync", "-f", path, "--json"], "").await;
    fs::write(&plan_out.0, &plan.stdout).unwrap();
    let before_plan = before + 2;
    for (args, want) in [
        (vec!["sync", "-f", path, "--resume", out], "--apply"),
        (vec!["sync", "-f", "-", "--apply", "--resume", out], "not -"),
        (
            vec!["sync", "-f", path, "--apply", "--resume", plan_out.path()],
            "no fingerprint",
        ),
        (
            vec![
                "sync",
                "-p",
                "acs",
                "-c",
                &t1,
                "-m",
                path,
                "--concurrency",
                "2",
            ],
            "--file",
        ),
    ] {
        let out = run(&sandbox, &args, "").await;
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(want),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(
        sandbox.journal().entries_for(Provider::Acs).len(),
        before_plan,
        "only the plan's two reads"
    );
}
