//! The `rosterkit` binary against an in-process sandbox: exact requests, JSON lines, exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use rosterkit_sandbox::Sandbox;

/// Runs `rosterkit` with Chert credentials from the sandbox in its environment.
async fn rosterkit(sandbox: &Sandbox, args: &[&str]) -> Output {
    let info = sandbox.info().chert;
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let bin = env!("CARGO_BIN_EXE_rosterkit");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(&args)
            .env_clear()
            .env("CHERT_TENANT", info.tenant)
            .env("CHERT_SIGNING_SECRET", info.signing_secret)
            .env("CHERT_BASE_URL", info.base_url)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_prints_one_json_line_per_handle_and_exits_0() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
        "bob@example.com",
    ]);
    let out = rosterkit(
        &sandbox,
        &[
            "remove",
            "--provider",
            "chert",
            "--chat",
            &chat,
            "+14155551234",
            "bob@example.com",
            "--json",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["provider"], "chert");
    assert_eq!(lines[0]["operation"], "remove");
    assert_eq!(lines[0]["chat"], chat.as_str());
    assert_eq!(lines[0]["handle"], "+14155551234");
    assert_eq!(lines[0]["outcome"], "applied");
    assert_eq!(lines[0]["participants"].as_array().unwrap().len(), 4);
    assert!(lines[0]["trace_id"].is_string());
    assert_eq!(lines[1]["handle"], "bob@example.com");
    assert_eq!(lines[1]["participants"].as_array().unwrap().len(), 3);

    let paths: Vec<String> = sandbox
        .journal()
        .entries()
        .iter()
        .map(|e| e.path.clone())
        .collect();
    assert_eq!(
        paths,
        [
            format!("/chert/api/v1/chats/{chat}/participants/%2B14155551234"),
            format!("/chert/api/v1/chats/{chat}/participants/bob%40example.com"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_failure_exits_1_with_the_error_in_json() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200"]);
    let out = rosterkit(
        &sandbox,
        &[
            "remove",
            "-p",
            "chert",
            "-c",
            &chat,
            "+14155550200",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let line = &lines(&out)[0];
    assert_eq!(line["outcome"], "failed");
    assert_eq!(line["error"]["kind"], "group_too_small");
    assert_eq!(line["error"]["code"], "1002");
    assert_eq!(line["error"]["http_status"], 400);
    assert_eq!(sandbox.journal().len(), 1, "1002 is answered once");

    // Ensure mode turns "not a member" into already_done, exit 0.
    let out = rosterkit(
        &sandbox,
        &[
            "remove",
            "-p",
            "chert",
            "-c",
            &chat,
            "+14155559999",
            "--ensure",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(lines(&out)[0]["outcome"], "already_done");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_input_exits_2_and_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200", "+14155550300"]);
    for bad in [
        "4155559876",
        "a@",
        "+1415\r\n5559876",
        "+1415\t5559876",
        "8:acs:someone",
    ] {
        let out = rosterkit(&sandbox, &["remove", "-p", "chert", "-c", &chat, bad]).await;
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: "), "{bad:?}: {stderr}");
        assert!(
            !stderr.contains("5559876"),
            "no full number in messages: {stderr}"
        );
    }
    let out = rosterkit(
        &sandbox,
        &[
            "remove",
            "-p",
            "chert",
            "-c",
            "bad\u{7}chat",
            "+14155550100",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    let out = rosterkit(
        &sandbox,
        &["remove", "-p", "telegram", "-c", &chat, "+14155550100"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chert, linq, zapi, acs"));
    let out = rosterkit(&sandbox, &["remove", "-p", "chert", "-c", &chat]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "missing handles is a usage error"
    );
    assert!(sandbox.journal().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_exit_2_naming_the_variable() {
    let sandbox = Sandbox::start().await.unwrap();
    let bin = env!("CARGO_BIN_EXE_rosterkit");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["leave", "-p", "chert", "-c", "ch_01HTEST"])
            .env_clear()
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CHERT_"), "{stderr}");
    assert!(sandbox.journal().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn leave_and_list_print_one_line_per_chat() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200", "+14155550300"]);
    let out = rosterkit(&sandbox, &["leave", "-p", "chert", "-c", &chat, "--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let line = &lines(&out)[0];
    assert_eq!(line["operation"], "leave");
    assert_eq!(line["outcome"], "applied");
    assert!(line.get("handle").is_none());
    assert!(sandbox.chert().has_left(&chat));

    // Chert has no roster endpoint: list is a usage error (exit 2), without a request.
    let out = rosterkit(&sandbox, &["list", "-p", "chert", "-c", &chat, "--json"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(lines(&out).is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no route that lists"));
    assert_eq!(sandbox.journal().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sandbox_command_prints_its_credentials_as_one_json_line() {
    use std::io::{BufRead, BufReader};
    let bin = env!("CARGO_BIN_EXE_rosterkit");
    let mut child = std::process::Command::new(bin)
        .args(["sandbox", "--addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let base = info["chert"]["base_url"].as_str().unwrap();
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/chert/api/v1"),
        "{base}"
    );
    assert!(info["chert"]["signing_secret"].is_string());
}
