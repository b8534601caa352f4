//! `SandboxConfig::state_file`: saved after every change, loaded at start, never replaced when
//! it is not a sandbox state file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::send;
use rosterkit_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

fn fresh(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("world.json")
}

async fn start(path: &Path) -> std::io::Result<Sandbox> {
    let mut config = SandboxConfig::default();
    config.state_file = Some(path.to_path_buf());
    Sandbox::start_with(config).await
}

fn saved(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_is_saved_and_loaded_at_the_next_start() {
    let path = fresh("state-save-on-change");
    let sandbox = start(&path).await.unwrap();
    assert_eq!(
        saved(&path)["format"],
        "rosterkit-sandbox-state",
        "written at start"
    );
    let reply = send(
        sandbox.addr(),
        "POST",
        "/_sandbox/zapi/groups",
        &[],
        br#"{"id":"120363000000000001-group","members":["5511999990001","5511999990002"]}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 201, "{}", reply.text());
    // The saver writes in the background: wait for it (bounded), without a shutdown.
    let mut groups = Value::Null;
    for _ in 0..250 {
        groups = saved(&path)["zapi"]["groups"].clone();
        if groups.get("120363000000000001-group").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(groups.get("120363000000000001-group").is_some(), "{groups}");
    // A change from Rust is written by save_state.
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200"]);
    sandbox.save_state().unwrap();
    assert!(saved(&path)["chert"]["chats"].get(&chat).is_some());
    drop(sandbox);

    let again = start(&path).await.unwrap();
    assert!(again.zapi().group("120363000000000001-group").is_some());
    assert_eq!(again.chert().members(&chat).map(|m| m.len()), Some(2));
    again.shutdown().await;
}

#[tokio::test]
async fn corrupt_foreign_or_newer_files_are_errors_and_left_untouched() {
    let path = fresh("state-refused");
    for content in [
        "{\"chats\":[]}".to_owned(),
        "[1,2".to_owned(),
        "{\"format\":\"rosterkit-sandbox-state\",\"version\":2}".to_owned(),
        "{\"format\":\"rosterkit-sandbox-state\",\"version\":1,\"chert\":{}}".to_owned(),
    ] {
        std::fs::write(&path, &content).unwrap();
        let error = start(&path).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{content}");
        assert!(
            error
                .to_string()
                .contains("is not a usable rosterkit sandbox state file"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content);
    }
}
