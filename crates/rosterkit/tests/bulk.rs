//! `rosterkit::bulk` end to end: the Chert adapter over real loopback HTTP against the sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(feature = "chert", feature = "bulk"))]

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use rosterkit::{
    ChatId, ErrorKind, Handle, Membership, ProviderKind, RetryPolicy,
    bulk::{Bulk, BulkResult, Clients, Op, RawOp, Row},
    chert::ChertClient,
};
use rosterkit_sandbox::{Fault, FaultAction, Method, Provider, Sandbox, StatusCode};
use tokio::sync::mpsc;

fn chert(sandbox: &Sandbox) -> Arc<dyn Membership> {
    let info = sandbox.info().chert;
    let client = ChertClient::builder()
        .base_url(info.base_url)
        .tenant(info.tenant)
        .signing_secret(info.signing_secret)
        .retry_policy(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(1), Duration::from_millis(5))
                .with_jitter(false),
        )
        .build()
        .unwrap();
    Arc::new(client)
}

/// Member `m` of seeded chat `c`.
fn member(c: u64, m: u64) -> String {
    format!("+1415{c:03}{m:04}")
}

/// Which lines have a result, one bit each: the check stays flat however many rows run.
struct Seen(Vec<u64>);

impl Seen {
    fn new(rows: u64) -> Self {
        Self(vec![0; usize::try_from(rows / 64 + 1).unwrap()])
    }

    /// Marks `line`; false if it was already marked.
    fn mark(&mut self, line: u64) -> bool {
        let word = &mut self.0[usize::try_from(line / 64).unwrap()];
        let bit = 1u64 << (line % 64);
        let fresh = *word & bit == 0;
        *word |= bit;
        fresh
    }

    fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// Ten thousand rows — removes interleaved over 100 chats, a few bad rows, members that are
/// not there, leaves and adds, and targeted faults — each come out exactly once, with the
/// outcome the sandbox's state and journal agree with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_each_accounted_for_once() {
    const ROWS: u64 = 10_000;
    const REMOVES: u64 = 9_990;
    let sandbox = Sandbox::start().await.unwrap();
    let chats: Vec<String> = (0..100u64)
        .map(|c| {
            let members: Vec<String> = (0..110).map(|m| member(c, m)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            sandbox.chert().create_group(&members)
        })
        .collect();
    let small: Vec<String> = (0..5u64)
        .map(|c| {
            sandbox.chert().create_group(&[
                &member(900 + c, 1),
                &member(900 + c, 2),
                &member(900 + c, 3),
            ])
        })
        .collect();
    // Targeted faults: two retryable 503s (retried, then applied), two refusals, and one
    // reply lost after the change was applied.
    let target = |line: u64| format!("/participants/%2B{}", &member(line % 100, line / 100)[1..]);
    let faults = sandbox.faults();
    faults.inject(
        Fault::new(
            Provider::Chert,
            FaultAction::chert_error(StatusCode::SERVICE_UNAVAILABLE, 3002, true, None),
        )
        .method(Method::DELETE)
        .path_contains(target(1234))
        .times(2),
    );
    for line in [2345, 3456] {
        faults.inject(
            Fault::new(
                Provider::Chert,
                FaultAction::chert_error(StatusCode::FORBIDDEN, 2005, false, None),
            )
            .method(Method::DELETE)
            .path_contains(target(line)),
        );
    }
    faults.inject(
        Fault::new(Provider::Chert, FaultAction::DropAfterApply)
            .method(Method::DELETE)
            .path_contains(target(4567)),
    );

    let (tx, rx) = mpsc::channel(64);
    let chat_ids = chats.clone();
    let small_ids = small.clone();
    let reader = tokio::spawn(async move {
        for line in 1..=ROWS {
            let row = if line <= REMOVES {
                let (c, m) = (line % 100, line / 100);
                let chat = chat_ids[usize::try_from(c).unwrap()].clone();
                match line % 1000 {
                    500 => {
                        let (provider, handle) = match line / 1000 % 3 {
                            0 => ("telegram", member(c, m)),
                            1 => ("chert", "not-a-handle".to_owned()),
                            _ => ("chert", String::new()),
                        };
                        Row::parse(
                            line,
                            RawOp::new(
                                Some("remove".into()),
                                Some(provider.into()),
                                Some(chat),
                                Some(handle),
                            ),
                        )
                    }
                    250 => Row::new(
                        line,
                        Op::remove(
                            ProviderKind::Chert,
                            ChatId::new(chat).unwrap(),
                            format!("+1999{line:07}").parse().unwrap(),
                        ),
                    ),
                    _ => Row::new(
                        line,
                        Op::remove(
                            ProviderKind::Chert,
                            ChatId::new(chat).unwrap(),
                            member(c, m).parse().unwrap(),
                        ),
                    ),
                }
            } else if line <= REMOVES + 5 {
                let chat = small_ids[usize::try_from(line - REMOVES - 1).unwrap()].clone();
                Row::new(
                    line,
                    Op::leave(ProviderKind::Chert, ChatId::new(chat).unwrap()),
                )
            } else {
                let chat = chat_ids[usize::try_from(line - REMOVES - 6).unwrap()].clone();
                let who: Handle = format!("+1888{line:07}").parse().unwrap();
                Row::new(
                    line,
                    Op::add(ProviderKind::Chert, ChatId::new(chat).unwrap(), who),
                )
            };
            tx.send(row).await.unwrap();
        }
    });

    let clients = Clients::new().with(ProviderKind::Chert, chert(&sandbox));
    let mut run = Bulk::new(clients).concurrency(8).start(rx);
    let mut seen = Seen::new(ROWS);
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut applied_per_chat: BTreeMap<String, usize> = BTreeMap::new();
    let mut maybe_applied_failures = Vec::new();
    while let Some(BulkResult {
        line, op, result, ..
    }) = run.next().await
    {
        assert!((1..=ROWS).contains(&line), "unknown line {line}");
        assert!(seen.mark(line), "line {line} came out twice");
        let name = match &result {
            Ok(outcome) => outcome.as_str().to_owned(),
            Err(e) => format!("failed:{}", e.kind()),
        };
        *outcomes.entry(name).or_default() += 1;
        match (&op, &result) {
            (Ok(op), Ok(_)) if op.kind() == rosterkit::bulk::OpKind::Remove => {
                *applied_per_chat.entry(op.chat().to_string()).or_default() += 1;
            }
            (_, Err(e)) if e.is_ambiguous() => maybe_applied_failures.push(line),
            _ => {}
        }
        match line % 1000 {
            500 if line <= REMOVES => {
                assert!(op.is_err(), "line {line}");
                assert_eq!(result.as_ref().unwrap_err().kind(), ErrorKind::InvalidInput);
            }
            250 if line <= REMOVES => {
                assert_eq!(
                    result.as_ref().unwrap_err().kind(),
                    ErrorKind::NotAMember,
                    "line {line}"
                );
            }
            _ => {}
        }
    }
    reader.await.unwrap();
    let stats = run.finish().await;
    assert_eq!(seen.count(), 10_000);
    assert_eq!(
        (stats.rows, stats.results, stats.not_started),
        (ROWS, ROWS, 0)
    );

    let expected: BTreeMap<String, u64> = [
        ("applied", 9_977),
        ("failed:invalid_input", 10),
        ("failed:not_a_member", 10),
        ("failed:forbidden", 2),
        ("failed:transport", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(outcomes, expected);
    assert_eq!(maybe_applied_failures, [4567]);

    // The sandbox agrees: every applied remove (and the one whose reply was lost) happened
    // exactly once, and the retried ones were retried.
    let effects = sandbox.journal().effects();
    let count = |prefix: &str| effects.iter().filter(|e| e.starts_with(prefix)).count();
    assert_eq!(count("chert:remove "), 9_967 + 1);
    assert_eq!(count("chert:leave "), 5);
    assert_eq!(count("chert:add "), 5);
    let retried = sandbox
        .journal()
        .entries_for(Provider::Chert)
        .iter()
        .filter(|e| e.path.ends_with(&target(1234)))
        .count();
    assert_eq!(retried, 3);
    for (c, id) in chats.iter().enumerate() {
        let removed = applied_per_chat.get(id).copied().unwrap_or(0) + usize::from(c == 4567 % 100);
        let added = usize::from(c < 5);
        assert_eq!(
            sandbox.chert().members(id).unwrap().len(),
            110 - removed + added,
            "chat {c}"
        );
    }
    for id in &small {
        assert!(sandbox.chert().has_left(id));
    }
    sandbox.shutdown().await;
}

/// After a stop, every request that reached the sandbox has a result, and rows not started
/// sent nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_sends_nothing_without_a_result() {
    let sandbox = Sandbox::start().await.unwrap();
    let chats: Vec<String> = (0..10u64)
        .map(|c| {
            let members: Vec<String> = (0..40).map(|m| member(c, m)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            sandbox.chert().create_group(&members)
        })
        .collect();
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::Latency(Duration::from_millis(40)),
        )
        .times(10_000),
    );
    let (tx, rx) = mpsc::channel(16);
    let ids = chats.clone();
    tokio::spawn(async move {
        for line in 1..=300u64 {
            let chat = ChatId::new(ids[usize::try_from(line % 10).unwrap()].clone()).unwrap();
            let row = Row::new(
                line,
                Op::remove(
                    ProviderKind::Chert,
                    chat,
                    member(line % 10, line / 10).parse().unwrap(),
                ),
            );
            if tx.send(row).await.is_err() {
                break;
            }
        }
    });
    let clients = Clients::new().with(ProviderKind::Chert, chert(&sandbox));
    let mut run = Bulk::new(clients).concurrency(4).start(rx);
    let mut results = 0u64;
    while let Some(r) = run.next().await {
        assert!(r.result.is_ok(), "{:?}", r.result);
        results += 1;
        if results == 20 {
            run.stop_handle().stop();
        }
    }
    let stats = run.finish().await;
    assert!(stats.stopped);
    assert_eq!(stats.results, results);
    assert!(
        (20..=24).contains(&results),
        "{results}: only in-flight calls finish after a stop"
    );
    assert_eq!(stats.results + stats.not_started, stats.rows);
    let requests = sandbox.journal().entries_for(Provider::Chert).len() as u64;
    assert_eq!(requests, results);
    assert_eq!(sandbox.journal().effects().len() as u64, results);
    sandbox.shutdown().await;
}
