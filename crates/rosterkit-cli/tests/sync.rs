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

/// Runs `rosterkit` with only the sandbox's credentials, `stdin` on standard input.
async fn run(sandbox: &Sandbox, args: &[&str], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let (env, stdin) = (env(sandbox), stdin.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(BIN)
            .args(&args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
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

#[tokio::test(flavor = "multi_thread")]
async fn a_file_syncs_many_chats_each_in_turn() {
    let sandbox = Sandbox::start().await.unwrap();
    let (m1, m2, m3, m4) = (member(1), member(2), member(3), member(4));
    let t1 = sandbox.acs().create_thread(&[&m1, &m2]);
    let t2 = sandbox.acs().create_thread(&[&m3]);
    let rows = format!(
        "provider,chat,handle\n# two teams\nacs,{t1},{m2}\nacs,{t2},{m3}\nacs,{t1},{m4}\nacs,{t2},{m1}\n"
    );
    let file = Members::new("rosters.csv", &[&rows]);
    let args = ["sync", "--file", file.path()];

    let plan = run(&sandbox, &args, "").await;
    assert_eq!(code(&plan), 0, "{}", text(&plan.stderr));
    assert_eq!(
        text(&plan.stdout),
        format!("# acs {t1}\n+ {m4}\n- {m1}\n= 2 kept\n# acs {t2}\n+ {m1}\n= 2 kept\n")
    );
    assert!(mutations(&sandbox).is_empty());
    let check = run(&sandbox, &[&args[..], &["--check"]].concat(), "").await;
    assert_eq!(code(&check), 3, "{}", text(&check.stderr));

    let apply = run(&sandbox, &[&args[..], &["--apply", "--json"]].concat(), "").await;
    assert_eq!(code(&apply), 0, "{}", text(&apply.stderr));
    let lines: Vec<Value> = text(&apply.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Per chat: its plan, then its step results.
    let shape: Vec<String> = lines
        .iter()
        .map(|l| match l.get("steps") {
            Some(_) => format!("plan {}", l["chat"].as_str().unwrap()),
            None => format!(
                "{} {}",
                l["operation"].as_str().unwrap(),
                l["outcome"].as_str().unwrap()
            ),
        })
        .collect();
    assert_eq!(
        shape,
        [
            format!("plan {t1}"),
            "add applied".to_owned(),
            "remove applied".to_owned(),
            format!("plan {t2}"),
            "add applied".to_owned(),
        ]
    );
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

    // A bad row anywhere: exit 2 before any request.
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
