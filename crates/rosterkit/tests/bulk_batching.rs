//! `rosterkit::bulk` batching over real HTTP: Z-API's `phones` arrays through the Z-API adapter
//! against the sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "zapi", feature = "bulk"))]

use std::{sync::Arc, time::Duration};

use rosterkit::{
    ChatId, ProviderKind, RetryPolicy,
    bulk::{Bulk, Clients, Op, Row},
    zapi::ZapiClient,
};
use rosterkit_sandbox::{Provider, Sandbox};
use tokio::sync::mpsc;

/// 120 removes on two groups, all waiting when the run starts: they go as 50 + 10 phones per
/// group, four requests in all, and each row still gets its own result with its line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consecutive_rows_on_a_chat_share_one_batched_request() {
    let sandbox = Sandbox::start().await.unwrap();
    let phone = |g: u64, m: u64| format!("55449{g:02}{m:06}");
    let groups: Vec<String> = (0..2u64)
        .map(|g| {
            let members: Vec<String> = (0..70).map(|m| phone(g, m)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            sandbox.zapi().create_group(&members)
        })
        .collect();
    let before: Vec<usize> = groups
        .iter()
        .map(|id| sandbox.zapi().members(id).unwrap().len())
        .collect();
    let info = sandbox.info().zapi;
    let client = ZapiClient::builder()
        .base_url(info.base_url)
        .instance_id(info.instance_id)
        .instance_token(info.instance_token)
        .client_token(info.client_token)
        .pacing(Duration::from_millis(1))
        .retry_policy(RetryPolicy::no_retries())
        .build()
        .unwrap();
    let clients = Clients::new().with(ProviderKind::Zapi, Arc::new(client));

    let (tx, rx) = mpsc::channel(200);
    for line in 1..=120u64 {
        let g = line % 2;
        let chat = ChatId::new(groups[usize::try_from(g).unwrap()].as_str()).unwrap();
        let who = format!("+{}", phone(g, line / 2)).parse().unwrap();
        tx.send(Row::new(line, Op::remove(ProviderKind::Zapi, chat, who)))
            .await
            .unwrap();
    }
    drop(tx);
    let mut run = Bulk::new(clients).start(rx);
    let mut lines = Vec::new();
    while let Some(r) = run.next().await {
        assert!(r.result.is_ok(), "line {}: {:?}", r.line, r.result);
        lines.push(r.line);
    }
    lines.sort_unstable();
    assert_eq!(lines, (1..=120).collect::<Vec<_>>());

    let removes: Vec<usize> = sandbox
        .journal()
        .entries_for(Provider::Zapi)
        .iter()
        .filter(|e| e.path.ends_with("/remove-participant"))
        .map(|e| {
            let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
            body["phones"].as_array().unwrap().len()
        })
        .collect();
    let mut sizes = removes.clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [10, 10, 50, 50], "{removes:?}");
    for (g, id) in groups.iter().enumerate() {
        assert_eq!(
            sandbox.zapi().members(id).unwrap().len(),
            before[g] - 60,
            "group {g}"
        );
    }
    sandbox.shutdown().await;
}
