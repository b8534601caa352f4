//! The HTTP control plane under `/_sandbox`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.

mod common;

use common::{Chert, FOUR, PREFIX, send};
use rosterkit_sandbox::{FaultKind, JournalEntry, Provider, Sandbox, SandboxInfo};
use serde_json::{Value, json};

async fn call(sandbox: &Sandbox, method: &str, path: &str, body: &Value) -> common::Reply {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    send(
        sandbox.addr(),
        method,
        path,
        &[("content-type", "application/json")],
        &bytes,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn info_and_health() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = call(&sandbox, "GET", "/_sandbox/health", &Value::Null).await;
    assert_eq!(reply.json(), json!({"ok": true}));

    let reply = call(&sandbox, "GET", "/_sandbox/info", &Value::Null).await;
    let base = sandbox.base_url();
    // Each provider adds its own member; each provider's tests check theirs.
    let json = reply.json();
    assert_eq!(json["base_url"], json!(base));
    assert_eq!(
        json["chert"],
        json!({
            "base_url": format!("{base}/chert/api/v1"),
            "tenant": "sandbox",
            "signing_secret": "0123456789abcdef0123456789abcdef",
        })
    );
    let info: SandboxInfo = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(info, sandbox.info());
    let text = serde_json::to_string(&sandbox.info()).unwrap();
    assert!(
        text.starts_with(&format!(
            r#"{{"base_url":"{base}","chert":{{"base_url":"{base}/chert/api/v1","tenant":"sandbox","signing_secret":"0123456789abcdef0123456789abcdef"}}"#
        )),
        "{text}"
    );
}

#[tokio::test]
async fn seed_and_inspect_chats() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = call(
        &sandbox,
        "POST",
        "/_sandbox/chert/chats",
        &json!({"members": ["+14155550100", "+14155550200", "Dana@Example.com"]}),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ch_") && id.len() == 29, "{id}");

    let reply = call(
        &sandbox,
        "GET",
        &format!("/_sandbox/chert/chats/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"id": id, "is_group": true, "members": ["+14155550100", "+14155550200", "dana@example.com"],
               "left": false, "chat_key": true, "pinned_line": true})
    );

    let reply = call(
        &sandbox,
        "POST",
        "/_sandbox/chert/chats",
        &json!({"id": "ch_DM", "is_group": false, "members": ["+14155550100"], "chat_key": false}),
    )
    .await;
    assert_eq!(reply.json()["id"], "ch_DM");
    let chat = sandbox.chert().chat("ch_DM").unwrap();
    assert!(!chat.is_group && !chat.chat_key && chat.pinned_line);

    let reply = call(
        &sandbox,
        "GET",
        "/_sandbox/chert/chats/ch_NOPE",
        &Value::Null,
    )
    .await;
    assert_eq!(reply.status, 404);
    assert!(reply.json()["error"].is_string());
    let reply = call(
        &sandbox,
        "POST",
        "/_sandbox/chert/chats",
        &json!({"members": "nope"}),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["error"].is_string());
}

#[tokio::test]
async fn tenants_over_http() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let reply = call(
        &sandbox,
        "PUT",
        "/_sandbox/chert/tenants/acme",
        &json!({"signing_secret": "abcdefabcdefabcdefabcdefabcdefab"}),
    )
    .await;
    assert_eq!(reply.status, 204);
    let reply = send(
        sandbox.addr(),
        "POST",
        &format!("{PREFIX}/chats/{chat}/leave"),
        &[
            ("x-chert-tenant", "acme"),
            ("authorization", "Bearer abcdefabcdefabcdefabcdefabcdefab"),
        ],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn faults_over_http() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let reply = call(
        &sandbox,
        "POST",
        "/_sandbox/faults",
        &json!([
            {"provider": "chert", "method": "delete", "path_contains": "/participants/", "times": 2,
             "action": {"kind": "chert_error", "status": 429, "code": 1007, "retryable": true, "retry_after": 7}},
            {"provider": "chert", "action": {"kind": "respond", "status": 500, "headers": [["content-type", "text/plain"]], "body": "boom"}},
        ]),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json(), json!({"pending": 2}));

    let listed = call(&sandbox, "GET", "/_sandbox/faults", &Value::Null)
        .await
        .json();
    assert_eq!(listed["faults"][0]["method"], "DELETE");
    assert_eq!(listed["faults"][0]["times"], 2);
    assert_eq!(
        listed["faults"][0]["action"]["kind"], "respond",
        "chert_error is stored as a respond"
    );
    assert_eq!(
        listed["faults"][1]["action"],
        json!({"kind": "respond", "status": 500, "headers": [["content-type", "text/plain"]], "body": "boom"})
    );

    let chert = Chert::new(&sandbox);
    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    reply.assert_chert_error(429, 1007, true);
    assert_eq!(reply.header("retry-after"), Some("7"));
    let reply = chert.leave(&chat).await.unwrap();
    assert_eq!((reply.status, reply.text().as_str()), (500, "boom"));

    let reply = call(
        &sandbox,
        "POST",
        "/_sandbox/faults",
        &json!({"provider": "chert", "action": {"kind": "drop_after_apply"}}),
    )
    .await;
    assert_eq!(reply.json(), json!({"pending": 2}));
    let reply = call(&sandbox, "DELETE", "/_sandbox/faults", &Value::Null).await;
    assert_eq!(reply.status, 204);
    assert!(sandbox.faults().is_empty());

    for bad in [
        json!({"provider": "nope", "action": {"kind": "drop_connection"}}),
        json!({"provider": "chert", "action": {"kind": "respond", "status": 1000}}),
        json!({"provider": "chert", "action": {"kind": "respond", "status": 200, "headers": [["bad header", "x"]]}}),
        json!({"provider": "chert", "action": {"kind": "explode"}}),
        json!({"provider": "chert", "method": "NOT A METHOD", "action": {"kind": "drop_connection"}}),
    ] {
        let reply = call(&sandbox, "POST", "/_sandbox/faults", &bad).await;
        assert_eq!(reply.status, 400, "{bad} → {}", reply.text());
        assert!(reply.json()["error"].is_string());
    }
    let reply = send(sandbox.addr(), "POST", "/_sandbox/faults", &[], b"{oops")
        .await
        .unwrap();
    assert_eq!(reply.status, 400);

    // Latency and drop over HTTP.
    call(
        &sandbox,
        "POST",
        "/_sandbox/faults",
        &json!({"provider": "chert", "action": {"kind": "latency", "ms": 1}}),
    )
    .await;
    call(
        &sandbox,
        "POST",
        "/_sandbox/faults",
        &json!({"provider": "chert", "action": {"kind": "drop_connection"}}),
    )
    .await;
    assert_eq!(
        chert.remove(&chat, "%2B14155551234").await.unwrap().status,
        200
    );
    assert!(chert.remove(&chat, "%2B14155550300").await.is_err());
}

#[tokio::test]
async fn journal_over_http() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let chert = Chert::new(&sandbox);
    chert.remove(&chat, "%2B14155551234").await.unwrap();
    chert
        .add(&chat, "{\"address\":\"+14155550999\"}")
        .await
        .unwrap();

    let reply = call(&sandbox, "GET", "/_sandbox/journal", &Value::Null).await;
    let body = reply.json();
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["provider"], "chert");
    assert_eq!(entries[0]["method"], "DELETE");
    assert_eq!(
        entries[0]["path"],
        format!("{PREFIX}/chats/{chat}/participants/%2B14155551234")
    );
    assert_eq!(entries[0]["status"], 200);
    assert_eq!(entries[0]["fault"], Value::Null);
    assert_eq!(
        entries[0]["effects"],
        json!([format!("chert:remove {chat} +14155551234")])
    );
    assert_eq!(entries[1]["body"], "{\"address\":\"+14155550999\"}");
    assert_eq!(
        entries[1]["body_base64"],
        "eyJhZGRyZXNzIjoiKzE0MTU1NTUwOTk5In0="
    );
    assert!(
        entries[1]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "x-chert-tenant" && h[1] == "sandbox")
    );

    // Entries round-trip into the Rust type.
    let parsed: Vec<JournalEntry> = serde_json::from_value(body["entries"].clone()).unwrap();
    assert_eq!(parsed, sandbox.journal().entries());

    let first_seq = parsed[0].seq;
    let reply = call(
        &sandbox,
        "GET",
        &format!("/_sandbox/journal?provider=chert&since={first_seq}"),
        &Value::Null,
    )
    .await;
    assert_eq!(reply.json()["entries"].as_array().unwrap().len(), 1);
    let reply = call(
        &sandbox,
        "GET",
        "/_sandbox/journal?provider=linq",
        &Value::Null,
    )
    .await;
    assert_eq!(reply.json()["entries"], json!([]));
    let reply = call(
        &sandbox,
        "GET",
        "/_sandbox/journal?provider=nope",
        &Value::Null,
    )
    .await;
    assert_eq!(reply.status, 400);

    let reply = call(&sandbox, "DELETE", "/_sandbox/journal", &Value::Null).await;
    assert_eq!(reply.status, 204);
    assert!(sandbox.journal().is_empty());

    // A dropped request is journaled with a null status.
    sandbox.faults().inject(rosterkit_sandbox::Fault::new(
        Provider::Chert,
        rosterkit_sandbox::FaultAction::DropConnection,
    ));
    assert!(chert.leave(&chat).await.is_err());
    let body = call(&sandbox, "GET", "/_sandbox/journal", &Value::Null)
        .await
        .json();
    assert_eq!(body["entries"][0]["status"], Value::Null);
    assert_eq!(body["entries"][0]["fault"], "drop_connection");
    assert_eq!(
        sandbox.journal().last().unwrap().fault,
        Some(FaultKind::DropConnection)
    );
}

#[tokio::test]
async fn clock_over_http() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = call(
        &sandbox,
        "PUT",
        "/_sandbox/clock",
        &json!({"pinned_unix": 1_700_000_000u64}),
    )
    .await;
    assert_eq!(reply.json()["now_unix"], 1_700_000_000u64);
    assert_eq!(sandbox.now_unix(), 1_700_000_000);

    let reply = call(
        &sandbox,
        "PUT",
        "/_sandbox/clock",
        &json!({"pinned_unix": null, "offset_secs": -400}),
    )
    .await;
    let body = reply.json();
    assert_eq!(body["pinned_unix"], Value::Null);
    assert_eq!(body["offset_secs"], -400);
    assert_eq!(sandbox.clock_offset_secs(), -400);

    // A signature made with the real clock is now 400 s in the future for the emulator.
    let chat = sandbox.chert().create_group(&FOUR);
    let real_now = sandbox.now_unix() + 400;
    let sig = rosterkit_sandbox::chert::request_signature(
        "0123456789abcdef0123456789abcdef",
        real_now,
        b"",
    );
    send(
        sandbox.addr(),
        "POST",
        &format!("{PREFIX}/chats/{chat}/leave"),
        &[("x-chert-tenant", "sandbox"), ("x-chert-signature", &sig)],
        b"",
    )
    .await
    .unwrap()
    .assert_chert_error(401, 2013, false);

    let reply = call(&sandbox, "GET", "/_sandbox/clock", &Value::Null).await;
    assert_eq!(reply.json()["offset_secs"], -400);
    let reply = call(
        &sandbox,
        "PUT",
        "/_sandbox/clock",
        &json!({"offset_secs": "soon"}),
    )
    .await;
    assert_eq!(reply.status, 400);
}
