//! `rosterkit sandbox --tls --cert-out ca.pem --state world.json`: HTTPS with the CA it wrote,
//! and a world that survives a restart.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// Starts the sandbox; returns the child and its info line.
fn start(dir: &Path) -> (Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rosterkit"))
        .args([
            "sandbox",
            "--tls",
            "--cert-out",
            "ca.pem",
            "--state",
            "world.json",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("no info line ({e}): {line:?}"));
    (child, info)
}

/// Stops it as Ctrl-C does and waits for it to exit 0.
fn stop(mut child: Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

fn client(dir: &Path) -> reqwest::Client {
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap()
}

/// Sends `body` as JSON (when given) and returns the status and the JSON reply (`null` when
/// empty).
async fn call(request: reqwest::RequestBuilder, body: Option<Value>) -> (u16, Value) {
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => request,
    };
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let bytes = reply.bytes().await.unwrap();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, value)
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_state_survive_a_restart() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-state-restart");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let (child, info) = start(&dir);
    let base = info["base_url"].as_str().unwrap().to_owned();
    assert!(base.starts_with("https://127.0.0.1:"), "{info}");
    assert!(
        info["acs"]["endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let http = client(&dir);
    let (status, created) = call(
        http.post(format!("{base}/_sandbox/linq/chats")),
        Some(json!({"members": ["+14155550101", "+14155550102", "+14155550103"]})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let chat = created["id"].as_str().unwrap().to_owned();
    let (_, thread) = call(
        http.post(format!("{base}/_sandbox/acs/threads")),
        Some(json!({"id": "19:kept@thread.v2", "participants": ["8:acs:x_1"]})),
    )
    .await;
    assert_eq!(thread["id"], "19:kept@thread.v2");
    // A change through the emulated API, not the control plane.
    let linq_api = info["linq"]["base_url"].as_str().unwrap();
    let (status, removed) = call(
        http.delete(format!("{linq_api}/v3/chats/{chat}/participants"))
            .bearer_auth(info["linq"]["api_key"].as_str().unwrap()),
        Some(json!({"handle": "+14155550103"})),
    )
    .await;
    assert!((200..300).contains(&status), "{status} {removed}");
    stop(child);
    let saved: Value =
        serde_json::from_slice(&std::fs::read(dir.join("world.json")).unwrap()).unwrap();
    assert_eq!(saved["format"], "rosterkit-sandbox-state");

    // Restarted (new port, new certificate): the same world.
    let (child, info) = start(&dir);
    let base = info["base_url"].as_str().unwrap().to_owned();
    let http = client(&dir);
    let (_, linq) = call(http.get(format!("{base}/_sandbox/linq/chats/{chat}")), None).await;
    let active: Vec<&str> = linq["handles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["left_at"].is_null() && h["is_me"] == false)
        .filter_map(|h| h["handle"].as_str())
        .collect();
    assert_eq!(active, ["+14155550101", "+14155550102"], "{linq}");
    let (status, acs) = call(
        http.get(format!("{base}/_sandbox/acs/threads/19%3Akept%40thread.v2")),
        None,
    )
    .await;
    assert_eq!(status, 200, "{acs}");
    assert_eq!(acs["participants"][1]["raw_id"], "8:acs:x_1", "{acs}");
    stop(child);
}

#[test]
fn a_foreign_state_file_is_refused_and_left_alone() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sandbox-state-foreign");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for content in ["{\"name\":\"my package\"}", "{not json", ""] {
        std::fs::write(dir.join("world.json"), content).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_rosterkit"))
            .args(["sandbox", "--state", "world.json"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{content:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("world.json is not a usable rosterkit sandbox state file"),
            "{stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("world.json")).unwrap(),
            content
        );
        assert!(out.stdout.is_empty());
    }
}
