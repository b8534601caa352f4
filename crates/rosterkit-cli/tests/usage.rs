//! Issue 17 through the `rosterkit` binary: honest flags, help that says what to do, errors in
//! the CLI's words, the sandbox from the CLI alone, escaped tables, bounded Linq waits.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Command, Output, Stdio},
    time::Duration,
};

use rosterkit_sandbox::{Fault, FaultAction, Provider, Sandbox, StatusCode, linq::LinqChatSeed};

const BIN: &str = env!("CARGO_BIN_EXE_rosterkit");

/// Runs `rosterkit` with only `env` in its environment.
async fn run(env: Vec<(String, String)>, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn chert_env(sandbox: &Sandbox) -> Vec<(String, String)> {
    let info = sandbox.info().chert;
    vec![
        ("CHERT_BASE_URL".into(), info.base_url),
        ("CHERT_TENANT".into(), info.tenant),
        ("CHERT_SIGNING_SECRET".into(), info.signing_secret),
    ]
}

fn linq_env(sandbox: &Sandbox) -> Vec<(String, String)> {
    let info = sandbox.info().linq;
    vec![
        ("LINQ_API_V3_BASE_URL".into(), info.base_url),
        ("LINQ_API_V3_API_KEY".into(), info.api_key),
    ]
}

#[test]
fn top_level_help_lists_exit_codes_and_every_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = text(&out.stdout);
    for want in [
        "Exit codes",
        "2  bad input or usage",
        "ROSTERKIT_PROVIDER",
        "CHERT_SIGNING_SECRET",
        "LINQ_API_V3_API_KEY",
        "ZAPI_CLIENT_TOKEN",
        "ACS_CONNECTION_STRING",
        "rosterkit sandbox --env",
    ] {
        assert!(help.contains(want), "{want}: {help}");
    }
    let add = text(
        &Command::new(BIN)
            .args(["add", "--help"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(add.contains("already a member counts as done"), "{add}");
    assert!(!add.contains("not a member counts"), "{add}");
    let sandbox = text(
        &Command::new(BIN)
            .args(["sandbox", "--help"])
            .output()
            .unwrap()
            .stdout,
    );
    for want in [
        "--env",
        "/_sandbox/chert/chats",
        "/_sandbox/zapi/groups",
        "-group",
    ] {
        assert!(sandbox.contains(want), "{want}: {sandbox}");
    }
}

#[test]
fn completions_offer_the_providers() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let script = text(&out.stdout);
    // From the provider registry: every registered provider, Matrix included.
    assert!(script.contains("acs chert linq matrix zapi"), "{script}");
}

/// A flag the provider or command does not honour is a usage error naming where it applies;
/// nothing is sent.
#[tokio::test(flavor = "multi_thread")]
async fn flags_that_do_not_apply_exit_2_naming_where_they_do() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550101", "+14155550102"]);
    let mut env = chert_env(&sandbox);
    env.extend(linq_env(&sandbox));
    for (args, want) in [
        (
            vec![
                "remove",
                "-p",
                "chert",
                "-c",
                &chat,
                "--wait",
                "+14155550100",
            ],
            "--wait does not apply to chert; it applies to linq only",
        ),
        (
            vec!["add", "-p", "linq", "-c", &chat, "--verify", "+14155550100"],
            "--verify does not apply to linq; it applies to zapi only",
        ),
        (
            vec!["leave", "-p", "chert", "-c", &chat, "--wait"],
            "--wait does not apply to chert",
        ),
        (
            vec!["list", "-p", "chert", "-c", &chat, "--ensure"],
            "unexpected argument '--ensure'",
        ),
        (
            vec!["list", "-p", "chert", "-c", &chat, "--wait"],
            "unexpected argument '--wait'",
        ),
        (
            vec![
                "remove",
                "-p",
                "chert",
                "-c",
                &chat,
                "--wait-timeout",
                "5",
                "+14155550100",
            ],
            "--wait",
        ),
        (
            vec!["list", "-p", "telegram", "-c", &chat],
            "invalid value 'telegram'",
        ),
    ] {
        let out = run(env.clone(), &args).await;
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    assert!(sandbox.journal().is_empty());
    sandbox.shutdown().await;
}

/// `ROSTERKIT_PROVIDER` stands in for `--provider`.
#[tokio::test(flavor = "multi_thread")]
async fn the_provider_comes_from_the_environment_when_not_given() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550101",
        "+14155550102",
        "+14155550103",
    ]);
    let mut env = chert_env(&sandbox);
    env.push(("ROSTERKIT_PROVIDER".into(), "chert".into()));
    let out = run(env, &["remove", "-c", &chat, "+14155550100", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"outcome\":\"applied\""));
    sandbox.shutdown().await;
}

/// Every missing variable in one message; library hints become flags and variables;
/// connection failures name host and port.
#[tokio::test(flavor = "multi_thread")]
async fn errors_speak_in_flags_and_variables() {
    let out = run(
        vec![],
        &["list", "-p", "zapi", "-c", "120363019502650977-group"],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for var in [
        "ZAPI_INSTANCE_ID",
        "ZAPI_INSTANCE_TOKEN",
        "ZAPI_CLIENT_TOKEN",
        "sandbox --env",
    ] {
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let env = vec![("LINQ_API_V3_API_KEY".to_owned(), "k".to_owned())];
    let out = run(
        env,
        &[
            "list",
            "-p",
            "linq",
            "-c",
            "550e8400-e29b-41d4-a716-446655440000",
            "--base-url",
            "http://example.com/api",
        ],
    )
    .await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("--allow-insecure-http") && stderr.contains("--base-url"),
        "{stderr}"
    );
    assert!(!stderr.contains("(..)"), "{stderr}");

    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        (
            "CHERT_BASE_URL".to_owned(),
            format!("http://127.0.0.1:{port}/chert/api/v1"),
        ),
        ("CHERT_TENANT".to_owned(), "t".to_owned()),
        ("CHERT_SIGNING_SECRET".to_owned(), "s3cr3t-value".to_owned()),
    ];
    let out = run(
        env,
        &[
            "remove",
            "-p",
            "chert",
            "-c",
            "ch_1",
            "+14155550100",
            "--max-attempts",
            "1",
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(&format!("127.0.0.1:{port}")), "{stdout}");
    assert!(
        !stdout.contains("/chert/api") && !stdout.contains("s3cr3t"),
        "{stdout}"
    );
}

/// Issue 16 item 6: what a server sends is escaped in the table (ESC, CR/LF, bidi); the legend
/// follows the table; `--json` keeps the exact text.
#[tokio::test(flavor = "multi_thread")]
async fn tables_escape_what_the_server_sent() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550101", "+14155550102"]);
    let hostile = r#"{"success":false,"error":{"status":400,"code":1005,"message":"no\u001b[2J\r\nremove  ch_x  +1  applied\u202e","retryable":false}}"#;
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::json(StatusCode::BAD_REQUEST, hostile),
        )
        .times(2),
    );
    let out = run(
        chert_env(&sandbox),
        &["remove", "-p", "chert", "-c", &chat, "+14155550100"],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains('\u{1b}') && !stdout.contains('\r') && !stdout.contains('\u{202e}'));
    assert!(
        stdout.contains(r"\u{001b}[2J\u{000d}\u{000a}") && stdout.contains(r"\u{202e}"),
        "{stdout}"
    );
    // Header, one row, the legend: no faked rows.
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(
        stdout
            .lines()
            .last()
            .unwrap()
            .starts_with("applied: done now")
    );
    let out = run(
        chert_env(&sandbox),
        &[
            "remove",
            "-p",
            "chert",
            "-c",
            &chat,
            "+14155550100",
            "--json",
        ],
    )
    .await;
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        line["error"]["message"]
            .as_str()
            .unwrap()
            .contains('\u{1b}')
    );
    sandbox.shutdown().await;
}

/// `--wait` on Linq: confirmed when the change shows; still `queued` (exit 0, with a note)
/// when `--wait-timeout` runs out first.
#[tokio::test(flavor = "multi_thread")]
async fn linq_waits_are_bounded_and_a_timeout_is_still_queued() {
    let sandbox = Sandbox::start().await.unwrap();
    let seed = |members: &[&str]| {
        sandbox.linq().create_chat(LinqChatSeed {
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            ..LinqChatSeed::default()
        })
    };
    let chat = seed(&[
        "+14155550100",
        "+14155550101",
        "+14155550102",
        "+14155550103",
        "+14155550104",
    ]);
    sandbox.linq().set_apply_delay(Duration::from_millis(200));
    let out = run(
        linq_env(&sandbox),
        &[
            "remove",
            "-p",
            "linq",
            "-c",
            &chat,
            "+14155550101",
            "--wait",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["outcome"], "applied", "{line}");

    sandbox.linq().set_apply_delay(Duration::from_secs(3600));
    let out = run(
        linq_env(&sandbox),
        &[
            "remove",
            "-p",
            "linq",
            "-c",
            &chat,
            "+14155550102",
            "--wait",
            "--wait-timeout",
            "1",
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("queued") && stdout.contains("still queued after waiting 1 s"),
        "{stdout}"
    );
    assert!(!stdout.contains("Removed") && !text(&out.stderr).contains("Removed"));
    sandbox.shutdown().await;
}

/// `rosterkit sandbox --env` plus `extra`, running: the child, its exported variables and its
/// `# seeded` lines.
async fn sandbox_env(
    extra: &[&str],
) -> (std::process::Child, HashMap<String, String>, Vec<String>) {
    let mut sandbox = Command::new(BIN)
        .args(["sandbox", "--env"])
        .args(extra)
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = sandbox.stdout.take().unwrap();
    let (exports, seeded) = tokio::task::spawn_blocking(move || {
        let mut vars = HashMap::new();
        let mut seeded = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.starts_with("# ready") {
                break;
            }
            if let Some(s) = line.strip_prefix("# seeded ") {
                seeded.push(s.to_owned());
                continue;
            }
            let rest = line.strip_prefix("export ").expect(&line);
            let (name, value) = rest.split_once('=').unwrap();
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap();
            vars.insert(name.to_owned(), value.to_owned());
        }
        (vars, seeded)
    })
    .await
    .unwrap();
    (sandbox, exports, seeded)
}

/// From nothing to a removal with the CLI alone: `rosterkit sandbox --env`, its export lines,
/// a seed through the control plane it documents, `rosterkit remove`.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_from_the_cli_alone() {
    let (mut sandbox, exports, _) = sandbox_env(&[]).await;
    for name in [
        "CHERT_BASE_URL",
        "CHERT_TENANT",
        "CHERT_SIGNING_SECRET",
        "LINQ_API_V3_API_KEY",
        "ZAPI_INSTANCE_ID",
        "ZAPI_INSTANCE_TOKEN",
        "ZAPI_CLIENT_TOKEN",
        "ACS_ENDPOINT",
        "ACS_USER_TOKEN",
    ] {
        assert!(exports.contains_key(name), "{name}: {exports:?}");
    }
    let root = exports["ROSTERKIT_SANDBOX_URL"].clone();
    let addr = root.strip_prefix("http://").unwrap().to_owned();
    let body = r#"{"members":["+14155550100","+14155550101","+14155550102","+14155550103"]}"#;
    let reply = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /_sandbox/chert/chats HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    })
    .await
    .unwrap();
    let json = &reply[reply.find('{').expect(&reply)..];
    let id = serde_json::from_str::<serde_json::Value>(json).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let env: Vec<(String, String)> = exports.into_iter().collect();
    let out = run(
        env,
        &[
            "remove",
            "--provider",
            "chert",
            "--chat",
            &id,
            "+14155550100",
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("applied"), "{stdout}");
}

/// `sandbox --seed FILE` creates the chats at start and names them; a typo in a seed is an
/// error naming the field, not an empty chat.
#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_seeds_chats_from_a_file() {
    let dir = std::env::temp_dir().join(format!("rosterkit-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seeds = dir.join("seeds.json");
    std::fs::write(
        &seeds,
        r#"{"chert":{"chats":[{"id":"ch_demo","members":["+14155550100","+14155550101","+14155550102","+14155550103"]}]},
            "zapi":{"groups":[{"subject":"Team","members":["5511999990001","5511999990002"]}]}}"#,
    )
    .unwrap();
    let (mut sandbox, exports, seeded) = sandbox_env(&["--seed", seeds.to_str().unwrap()]).await;
    assert_eq!(seeded.len(), 2, "{seeded:?}");
    assert_eq!(seeded[0], "chert chat ch_demo");
    assert!(
        seeded[1].starts_with("zapi group ") && seeded[1].ends_with("-group"),
        "{seeded:?}"
    );
    let env: Vec<(String, String)> = exports.into_iter().collect();
    let out = run(
        env,
        &[
            "remove",
            "-p",
            "chert",
            "-c",
            "ch_demo",
            "+14155550103",
            "--json",
        ],
    )
    .await;
    let _ = sandbox.kill();
    let _ = sandbox.wait();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    std::fs::write(
        &seeds,
        r#"{"chert":{"chats":[{"membrs":["+14155550100"]}]}}"#,
    )
    .unwrap();
    let out = run(vec![], &["sandbox", "--seed", seeds.to_str().unwrap()]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("chert.chats[0]: unknown field \"membrs\""),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 17, messages: the help text's own examples are shown as written (only user data is
/// masked), and a provider's refusal that rosterkit restated says it once.
#[tokio::test(flavor = "multi_thread")]
async fn help_examples_are_shown_as_written_and_restated_refusals_say_it_once() {
    let sandbox = Sandbox::start().await.unwrap();
    let env = linq_env(&sandbox);

    // Our own example of a Linq chat id, in the refusal of a bad one.
    let out = run(
        env.clone(),
        &["list", "-p", "linq", "-c", "not-a-uuid", "--json"],
    )
    .await;
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("e.g. 550e8400-e29b-41d4-a716-446655440000"),
        "{shown}"
    );

    // Our own example phone number, in the refusal of a number without '+'.
    let chat = sandbox
        .linq()
        .create_group(&["+12052499136", "+14155550100", "+14155550101"]);
    let out = run(
        env.clone(),
        &["remove", "-p", "linq", "-c", &chat, "4155559876"],
    )
    .await;
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("e.g. +14155551234"), "{shown}");

    // A refusal Linq sends as a generic 1005, restated after reading the roster.
    let out = run(
        env,
        &[
            "remove",
            "-p",
            "linq",
            "-c",
            &chat,
            "+14155559876",
            "--json",
        ],
    )
    .await;
    let shown = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(line["error"]["kind"], "not_a_member", "{shown}");
    let message = line["error"]["message"].as_str().unwrap();
    // Restated once, in rosterkit's words: not the provider's words followed by a gloss.
    assert_eq!(message, "the handle is not an active member of the chat");
    assert_eq!(shown.matches("active member").count(), 1, "{shown}");
    assert!(!shown.contains("Invalid parameter"), "{shown}");
}
