//! Each provider's "done when" through the `rosterkit` binary: the exact request, read back from
//! the sandbox journal, and the JSON line printed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use rosterkit_sandbox::{
    Provider, Sandbox, acs::AcsThreadSeed, linq::LinqChatSeed, zapi::ZapiCommunitySeed,
};

async fn rosterkit(env: Vec<(&'static str, String)>, args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let bin = env!("CARGO_BIN_EXE_rosterkit");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn linq_remove_is_one_delete_with_a_json_body_and_prints_queued() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = "550e8400-e29b-41d4-a716-446655440000";
    sandbox.linq().create_chat(LinqChatSeed {
        id: Some(chat.to_owned()),
        members: [
            "+12052499136",
            "+14155550100",
            "+14155550200",
            "+14155550300",
        ]
        .map(str::to_owned)
        .to_vec(),
        ..LinqChatSeed::default()
    });
    let info = sandbox.info().linq;
    let env = vec![
        ("LINQ_API_V3_API_KEY", info.api_key.clone()),
        ("LINQ_API_V3_BASE_URL", info.base_url.clone()),
    ];
    let out = rosterkit(
        env.clone(),
        &[
            "remove",
            "--provider",
            "linq",
            "--chat",
            chat,
            "+12052499136",
            "--json",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let line = &json_lines(&out)[0];
    assert_eq!(line["outcome"], "queued");
    let entries = sandbox.journal().entries_for(Provider::Linq);
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.method, "DELETE");
    assert_eq!(
        e.path,
        format!("/linq/api/partner/v3/chats/{chat}/participants")
    );
    assert_eq!(e.body_text(), r#"{"handle":"+12052499136"}"#);
    assert_eq!(e.header("content-type"), Some("application/json"));
    let bearer = format!("Bearer {}", info.api_key);
    assert_eq!(e.header("authorization"), Some(bearer.as_str()));
    assert!(line["trace_id"].as_str().is_some_and(|t| !t.is_empty()));

    // --wait turns the queued change into a confirmed one.
    let out = rosterkit(
        env,
        &[
            "remove",
            "-p",
            "linq",
            "-c",
            chat,
            "+14155550100",
            "--wait",
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
    let line = &json_lines(&out)[0];
    assert_eq!(line["outcome"], "applied");
    assert!(
        line["trace_id"].is_string(),
        "the queued reply's trace id is kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn zapi_batch_remove_is_one_request_and_one_line_per_handle() {
    let sandbox = Sandbox::start().await.unwrap();
    let community = "120363186053925765";
    sandbox.zapi().create_community_with(ZapiCommunitySeed {
        id: Some(community.to_owned()),
        members: ["5544999999999", "5544888888888", "5544777777777"]
            .map(str::to_owned)
            .to_vec(),
        ..ZapiCommunitySeed::default()
    });
    let info = sandbox.info().zapi;
    let env = vec![
        ("ZAPI_INSTANCE_ID", info.instance_id.clone()),
        ("ZAPI_INSTANCE_TOKEN", info.instance_token.clone()),
        ("ZAPI_CLIENT_TOKEN", info.client_token.clone()),
        ("ZAPI_BASE_URL", info.base_url.clone()),
    ];
    let out = rosterkit(
        env.clone(),
        &[
            "remove",
            "--provider",
            "zapi",
            "--chat",
            community,
            "+5544999999999",
            "+5544888888888",
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
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["handle"], "+5544999999999");
    assert_eq!(lines[1]["handle"], "+5544888888888");
    assert!(lines.iter().all(|l| l["outcome"] == "unconfirmed"));
    let entries = sandbox.journal().entries_for(Provider::Zapi);
    assert_eq!(entries.len(), 1, "one request for both handles");
    let e = &entries[0];
    assert_eq!(e.method, "POST");
    assert_eq!(
        e.path,
        format!(
            "/zapi/instances/{}/token/{}/remove-participant",
            info.instance_id, info.instance_token
        )
    );
    assert_eq!(e.header("client-token"), Some(info.client_token.as_str()));
    assert_eq!(e.header("content-type"), Some("application/json"));
    assert_eq!(
        e.body_text(),
        r#"{"communityId":"120363186053925765","phones":["5544999999999","5544888888888"]}"#
    );

    // An email handle exits 2 and sends nothing.
    let out = rosterkit(
        env,
        &["remove", "-p", "zapi", "-c", community, "alice@example.com"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(sandbox.journal().entries_for(Provider::Zapi).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn acs_remove_and_list_follow_the_contract() {
    let sandbox = Sandbox::start().await.unwrap();
    let thread = "19:abc@thread.v2";
    sandbox.acs().seed_thread(AcsThreadSeed {
        id: Some(thread.to_owned()),
        participants: [
            "8:acs:1111_2222",
            "8:acs:1111_3333",
            "8:acs:1111_4444",
            "4:+14155550100",
        ]
        .map(str::to_owned)
        .to_vec(),
        ..AcsThreadSeed::default()
    });
    let info = sandbox.info().acs;
    let env = vec![
        ("ACS_ENDPOINT", info.endpoint.clone()),
        ("ACS_USER_TOKEN", info.user_token.clone()),
    ];
    let out = rosterkit(
        env.clone(),
        &[
            "remove",
            "--provider",
            "acs",
            "--chat",
            thread,
            "8:acs:1111_2222",
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
    assert_eq!(json_lines(&out)[0]["outcome"], "applied");
    let e = sandbox.journal().entries_for(Provider::Acs).pop().unwrap();
    assert_eq!(e.method, "POST");
    assert_eq!(
        e.path,
        "/acs/chat/threads/19%3Aabc%40thread.v2/participants/:remove?api-version=2025-03-15"
    );
    assert_eq!(e.status, Some(204));
    let bearer = format!("Bearer {}", info.user_token);
    assert_eq!(e.header("authorization"), Some(bearer.as_str()));
    let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
    assert_eq!(body["communicationUser"]["id"], "8:acs:1111_2222");
    assert_eq!(body["rawId"], "8:acs:1111_2222");

    // list follows same-host nextLinks across pages (more members than one page holds)...
    let big = "19:big@thread.v2";
    sandbox.acs().seed_thread(AcsThreadSeed {
        id: Some(big.to_owned()),
        participants: (0..230).map(|i| format!("8:acs:1111_{i:04}")).collect(),
        ..AcsThreadSeed::default()
    });
    let out = rosterkit(env.clone(), &["list", "-p", "acs", "-c", big, "--json"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = json_lines(&out)[0]["participants"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, 231, "230 seeded + the service user");
    let pages = sandbox
        .journal()
        .entries_for(Provider::Acs)
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains("big") && e.path.contains("/participants"))
        .count();
    assert!(pages >= 2, "{pages} page(s)");

    // ...and refuses one that points elsewhere.
    sandbox
        .acs()
        .set_foreign_next_link(Some("https://elsewhere.example"));
    let out = rosterkit(env, &["list", "-p", "acs", "-c", big, "--json"]).await;
    assert_eq!(out.status.code(), Some(1));
    let line = &json_lines(&out)[0];
    assert_eq!(line["error"]["kind"], "forbidden");
    assert!(
        line["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nextLink")
    );
}
