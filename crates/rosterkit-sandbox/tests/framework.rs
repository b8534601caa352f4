//! The framework over real HTTP: journal, faults (all kinds, both drop modes), lifecycle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.

mod common;

use std::time::Duration;

use common::{Chert, FOUR, PREFIX, send};
use rosterkit_sandbox::{
    Fault, FaultAction, FaultKind, Method, Provider, Sandbox, SandboxConfig, StatusCode,
};

#[tokio::test]
async fn journal_records_the_raw_request_and_its_effects() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let chert = Chert::new(&sandbox);
    assert!(sandbox.journal().is_empty());

    chert.remove(&chat, "%2B14155551234").await.unwrap();
    chert
        .add(&chat, r#"{"address":"+14155550999"}"#)
        .await
        .unwrap();
    chert.leave("ch_NOPE").await.unwrap();

    let journal = sandbox.journal();
    assert_eq!(journal.len(), 3);
    let entries = journal.entries();
    let remove = &entries[0];
    assert_eq!(remove.provider, Provider::Chert);
    assert_eq!(remove.method, "DELETE");
    assert_eq!(
        remove.path,
        format!("{PREFIX}/chats/{chat}/participants/%2B14155551234")
    );
    assert_eq!(remove.header("X-Chert-Tenant"), Some("sandbox"));
    assert!(
        remove
            .header("x-chert-signature")
            .is_some_and(|s| s.starts_with("v1,"))
    );
    assert!(remove.body.is_empty());
    assert_eq!(remove.status, Some(200));
    assert_eq!(remove.fault, None);
    assert_eq!(
        remove.effects,
        vec![format!("chert:remove {chat} +14155551234")]
    );

    let add = &entries[1];
    assert_eq!(add.method, "POST");
    assert_eq!(&add.body[..], br#"{"address":"+14155550999"}"#);
    assert_eq!(add.body_text(), r#"{"address":"+14155550999"}"#);
    assert_eq!(add.effects, vec![format!("chert:add {chat} +14155550999")]);

    let failed = &entries[2];
    assert_eq!(failed.status, Some(404));
    assert!(failed.effects.is_empty());
    assert!(remove.seq < add.seq && add.seq < failed.seq);

    assert_eq!(journal.entries_for(Provider::Chert).len(), 3);
    assert!(journal.entries_for(Provider::Linq).is_empty());
    assert_eq!(journal.last().unwrap().seq, failed.seq);
    journal.clear();
    assert!(sandbox.journal().is_empty());
    chert.leave("ch_NOPE").await.unwrap();
    assert!(
        sandbox.journal().last().unwrap().seq > failed.seq,
        "seq keeps counting"
    );
}

#[tokio::test]
async fn control_plane_requests_are_not_journaled() {
    let sandbox = Sandbox::start().await.unwrap();
    let reply = send(sandbox.addr(), "GET", "/_sandbox/info", &[], b"")
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    let reply = send(sandbox.addr(), "GET", "/nowhere", &[], b"")
        .await
        .unwrap();
    assert_eq!(reply.status, 404);
    assert!(sandbox.journal().is_empty());
}

#[tokio::test]
async fn journal_is_bounded() {
    let mut config = SandboxConfig::default();
    config.journal_capacity = 3;
    let sandbox = Sandbox::start_with(config).await.unwrap();
    let chert = Chert::new(&sandbox);
    for _ in 0..5 {
        chert.leave("ch_NOPE").await.unwrap();
    }
    let journal = sandbox.journal();
    assert_eq!(journal.capacity(), 3);
    let seqs: Vec<u64> = journal.entries().iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![3, 4, 5]);
    journal.set_capacity(1);
    assert_eq!(
        journal.entries().iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![5]
    );
}

#[tokio::test]
async fn body_limit_answers_413() {
    let mut config = SandboxConfig::default();
    config.body_limit = 16;
    let sandbox = Sandbox::start_with(config).await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let reply = Chert::new(&sandbox)
        .add(
            &chat,
            r#"{"address":"+14155550999","padding":"xxxxxxxxxxxxxxxx"}"#,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 413);
    assert_eq!(sandbox.journal().last().unwrap().status, Some(413));
    assert_eq!(sandbox.chert().members(&chat).unwrap().len(), 4);
}

#[tokio::test]
async fn respond_fault_sends_raw_bytes_without_running_the_emulator() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let huge = "x".repeat(1 << 20);
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::Respond {
            status: StatusCode::OK,
            headers: vec![
                ("content-type".into(), "text/html".into()),
                ("x-custom".into(), "1".into()),
            ],
            body: huge.clone().into(),
        },
    ));
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::json(StatusCode::OK, "{\"chat_id\":"),
    ));
    let chert = Chert::new(&sandbox);

    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("text/html"));
    assert_eq!(reply.header("x-custom"), Some("1"));
    assert_eq!(reply.body.len(), huge.len());

    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), "{\"chat_id\":");

    // Both faults used up: the third call reaches the emulator, which never ran before.
    assert!(sandbox.faults().is_empty());
    assert_eq!(sandbox.chert().members(&chat).unwrap().len(), 4);
    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["removed"], "+14155551234");

    let kinds: Vec<_> = sandbox
        .journal()
        .entries()
        .iter()
        .map(|e| e.fault)
        .collect();
    assert_eq!(
        kinds,
        vec![Some(FaultKind::Respond), Some(FaultKind::Respond), None]
    );
}

#[tokio::test]
async fn chert_error_helper_is_contract_exact() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::chert_error(StatusCode::TOO_MANY_REQUESTS, 1007, true, Some(30)),
    ));
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::chert_error(StatusCode::BAD_GATEWAY, 4001, true, None),
    ));
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::chert_error(StatusCode::SERVICE_UNAVAILABLE, 4002, true, None),
    ));
    let chert = Chert::new(&sandbox);

    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    let body = reply.assert_chert_error(429, 1007, true);
    assert_eq!(body["error"]["retry_after"], 30);
    assert_eq!(reply.header("retry-after"), Some("30"));

    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    let body = reply.assert_chert_error(502, 4001, true);
    assert!(body["error"].get("retry_after").is_none());
    assert!(reply.header("retry-after").is_none());

    // 4002 always carries a delay.
    let reply = chert.leave(&chat).await.unwrap();
    let body = reply.assert_chert_error(503, 4002, true);
    assert_eq!(body["error"]["retry_after"], 1);
    assert_eq!(reply.header("retry-after"), Some("1"));

    assert!(sandbox.journal().effects().is_empty());
}

#[tokio::test]
async fn faults_filter_by_method_and_path_and_count_down() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155550400",
        "+14155550500",
    ]);
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::status(StatusCode::SERVICE_UNAVAILABLE),
        )
        .method(Method::DELETE)
        .path_contains("%2B1415555")
        .times(2),
    );
    sandbox
        .faults()
        .inject(Fault::new(Provider::Linq, FaultAction::DropConnection));
    assert_eq!(sandbox.faults().pending()[0].times, 2);
    let chert = Chert::new(&sandbox);

    // Other method, other path: untouched.
    assert_eq!(
        chert
            .add(&chat, r#"{"address":"+14155550999"}"#)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        chert.remove(&chat, "+14155550999").await.unwrap().status,
        200
    );
    // Matching: twice, then used up.
    assert_eq!(
        chert.remove(&chat, "%2B14155550100").await.unwrap().status,
        503
    );
    assert_eq!(sandbox.faults().pending()[0].times, 1);
    assert_eq!(
        chert.remove(&chat, "%2B14155550100").await.unwrap().status,
        503
    );
    assert_eq!(
        chert.remove(&chat, "%2B14155550100").await.unwrap().status,
        200
    );
    // The Linq fault never matched a Chert request.
    assert_eq!(sandbox.faults().len(), 1);
    sandbox.faults().clear();
    assert!(sandbox.faults().is_empty());
    // times = 0 is never stored.
    sandbox
        .faults()
        .inject(Fault::new(Provider::Chert, FaultAction::DropConnection).times(0));
    assert!(sandbox.faults().is_empty());
}

#[tokio::test(start_paused = true)]
async fn latency_delays_then_handles_normally() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::Latency(Duration::from_secs(30)),
    ));
    let started = tokio::time::Instant::now();
    let reply = Chert::new(&sandbox)
        .remove(&chat, "%2B14155551234")
        .await
        .unwrap();
    // Paused time: the 30 s pass on the runtime's clock, not the wall clock.
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert_eq!(reply.status, 200);
    let entry = sandbox.journal().last().unwrap();
    assert_eq!(entry.fault, Some(FaultKind::Latency));
    assert_eq!(entry.effects.len(), 1);
}

#[tokio::test]
async fn drop_connection_drops_before_processing() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox
        .faults()
        .inject(Fault::new(Provider::Chert, FaultAction::DropConnection).method(Method::DELETE));
    let chert = Chert::new(&sandbox);

    let error = chert.remove(&chat, "%2B14155551234").await.unwrap_err();
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
        "{error:?}"
    );
    assert_eq!(
        sandbox.chert().members(&chat).unwrap().len(),
        4,
        "no state change"
    );
    let entry = sandbox.journal().last().unwrap();
    assert_eq!(entry.status, None);
    assert_eq!(entry.fault, Some(FaultKind::DropConnection));
    assert!(entry.effects.is_empty());

    // The server is fine afterwards, and the retry applies.
    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn drop_after_apply_changes_state_but_loses_the_reply() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox
        .faults()
        .inject(Fault::new(Provider::Chert, FaultAction::DropAfterApply));
    let chert = Chert::new(&sandbox);

    let error = chert.remove(&chat, "%2B14155551234").await.unwrap_err();
    assert!(
        matches!(
            error.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
        "{error:?}"
    );
    assert_eq!(
        sandbox.chert().members(&chat).unwrap().len(),
        3,
        "the remove was applied"
    );
    let entry = sandbox.journal().last().unwrap();
    assert_eq!(entry.status, None);
    assert_eq!(entry.fault, Some(FaultKind::DropAfterApply));
    assert_eq!(
        entry.effects,
        vec![format!("chert:remove {chat} +14155551234")]
    );

    // The ensure-mode retry sees "not a member".
    chert
        .remove(&chat, "%2B14155551234")
        .await
        .unwrap()
        .assert_chert_error(400, 1001, false);
    let removes = sandbox
        .journal()
        .effects()
        .iter()
        .filter(|e| e.starts_with("chert:remove"))
        .count();
    assert_eq!(removes, 1);
}

#[tokio::test]
async fn a_dropped_connection_does_not_affect_other_connections() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::Latency(Duration::from_millis(50)),
        )
        .path_contains("/leave"),
    );
    sandbox
        .faults()
        .inject(Fault::new(Provider::Chert, FaultAction::DropConnection).path_contains("ch_NOPE"));
    let chert = Chert::new(&sandbox);
    let (slow, dropped) = tokio::join!(chert.leave(&chat), chert.leave("ch_NOPE"));
    assert_eq!(slow.unwrap().status, 200);
    assert!(dropped.is_err());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let sandbox = Sandbox::start().await.unwrap();
    let addr = sandbox.addr();
    assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(sandbox.base_url(), format!("http://{addr}"));
    sandbox.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn start_on_a_given_address() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let sandbox = Sandbox::start_on(addr).await.unwrap();
    assert_eq!(sandbox.addr(), addr);
    assert!(Sandbox::start_on(addr).await.is_err(), "port taken");
    let unspecified = Sandbox::start_on("0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    assert!(unspecified.base_url().starts_with("http://127.0.0.1:"));
}

#[tokio::test]
async fn a_client_that_gives_up_is_still_journaled() {
    use tokio::io::AsyncWriteExt;
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox.faults().inject(Fault::new(
        Provider::Chert,
        FaultAction::Latency(Duration::from_secs(600)),
    ));
    let mut stream = tokio::net::TcpStream::connect(sandbox.addr())
        .await
        .unwrap();
    let request = format!(
        "POST {PREFIX}/chats/{chat}/leave HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // Wait until the request is in flight (the fault was taken), then hang up.
    while !sandbox.faults().is_empty() {
        tokio::task::yield_now().await;
    }
    drop(stream);
    let entry = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(entry) = sandbox.journal().last() {
                break entry;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("journaled when the client hung up");
    assert_eq!(entry.status, None);
    assert_eq!(entry.fault, Some(FaultKind::Latency));
    assert!(!sandbox.chert().has_left(&chat), "never processed");
}
