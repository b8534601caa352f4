//! Ordering, concurrency, batching, backpressure, pacing and stopping, over an in-test
//! `Membership` (the end-to-end tests over HTTP are in `tests/bulk*.rs`).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rosterkit_core::{
    Capabilities, ChangeOptions, ChatId, Error, ErrorKind, Handle, HandleKinds, Membership,
    Outcome, Participant, async_trait,
};
use tokio::{sync::mpsc, time::Instant};

use super::*;
use crate::ProviderKind;

/// Removing this handle answers `NotAMember`.
const NOT_A_MEMBER: &str = "+15550000404";
/// Removing this handle panics inside the adapter.
const PANICS: &str = "+15550000666";

#[derive(Debug, Clone)]
struct Call {
    at: Instant,
    kind: &'static str,
    chat: String,
    handles: Vec<String>,
}

#[derive(Debug)]
struct Fake {
    name: &'static str,
    capabilities: Capabilities,
    delay: Duration,
    calls: Mutex<Vec<Call>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    chats_in_flight: Mutex<HashMap<String, usize>>,
    max_per_chat: AtomicUsize,
    /// Answer this many results fewer than handles in a batch.
    short_by: usize,
}

impl Fake {
    fn new(capabilities: Capabilities, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            name: "fake",
            capabilities,
            delay,
            calls: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            chats_in_flight: Mutex::new(HashMap::new()),
            max_per_chat: AtomicUsize::new(0),
            short_by: 0,
        })
    }

    fn single(delay: Duration) -> Arc<Self> {
        Self::new(
            Capabilities::none()
                .with_remove()
                .with_add()
                .with_leave()
                .with_handles(HandleKinds::none().with_phone().with_email()),
            delay,
        )
    }

    fn batching(max: usize, delay: Duration) -> Arc<Self> {
        Self::new(
            Capabilities::none()
                .with_remove()
                .with_add()
                .with_leave()
                .with_batch(Some(max))
                .with_handles(HandleKinds::none().with_phone()),
            delay,
        )
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    async fn call(&self, kind: &'static str, chat: &ChatId, handles: &[Handle]) {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        {
            let mut chats = self.chats_in_flight.lock().unwrap();
            let n = chats.entry(chat.to_string()).or_default();
            *n += 1;
            self.max_per_chat.fetch_max(*n, Ordering::SeqCst);
        }
        self.calls.lock().unwrap().push(Call {
            at: Instant::now(),
            kind,
            chat: chat.to_string(),
            handles: handles.iter().map(ToString::to_string).collect(),
        });
        tokio::time::sleep(self.delay).await;
        *self
            .chats_in_flight
            .lock()
            .unwrap()
            .get_mut(chat.as_str())
            .unwrap() -= 1;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        assert!(
            !handles.iter().any(|h| h.as_str() == PANICS),
            "the adapter panicked"
        );
    }

    fn answer(handle: &Handle) -> Result<Outcome, Error> {
        if handle.as_str() == NOT_A_MEMBER {
            Err(Error::new(ErrorKind::NotAMember, "not in the group").with_provider("fake"))
        } else {
            Ok(Outcome::applied(None))
        }
    }
}

#[async_trait]
impl Membership for Fake {
    fn provider(&self) -> &'static str {
        self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn remove_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        _: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.call("remove", chat, std::slice::from_ref(handle))
            .await;
        Self::answer(handle)
    }

    async fn add_participant(
        &self,
        chat: &ChatId,
        handle: &Handle,
        _: ChangeOptions,
    ) -> Result<Outcome, Error> {
        self.call("add", chat, std::slice::from_ref(handle)).await;
        Ok(Outcome::applied(None))
    }

    async fn leave(&self, chat: &ChatId, options: ChangeOptions) -> Result<Outcome, Error> {
        self.call("leave", chat, &[]).await;
        Ok(if options.ensure {
            Outcome::already_done()
        } else {
            Outcome::applied(None)
        })
    }

    async fn participants(&self, _: &ChatId) -> Result<Vec<Participant>, Error> {
        Err(Error::unsupported("no roster"))
    }

    async fn remove_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        _: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        self.call("remove_many", chat, handles).await;
        let keep = handles.len().saturating_sub(self.short_by);
        handles.iter().take(keep).map(Self::answer).collect()
    }

    async fn add_participants(
        &self,
        chat: &ChatId,
        handles: &[Handle],
        _: ChangeOptions,
    ) -> Vec<Result<Outcome, Error>> {
        self.call("add_many", chat, handles).await;
        handles.iter().map(|_| Ok(Outcome::applied(None))).collect()
    }
}

fn phone(n: u64) -> Handle {
    format!("+1444{n:07}").parse().unwrap()
}

fn chat(name: &str) -> ChatId {
    ChatId::new(name).unwrap()
}

fn remove(line: u64, chat_name: &str, who: Handle) -> Row {
    Row::new(line, Op::remove(ProviderKind::Chert, chat(chat_name), who))
}

/// Feeds `rows` through a small channel from another task, as a file reader would.
fn feed(rows: Vec<Row>) -> mpsc::Receiver<Row> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for row in rows {
            if tx.send(row).await.is_err() {
                break;
            }
        }
    });
    rx
}

async fn collect(mut run: BulkRun) -> (Vec<BulkResult>, BulkStats) {
    let mut results = Vec::new();
    while let Some(r) = run.next().await {
        results.push(r);
    }
    (results, run.finish().await)
}

fn clients(fake: &Arc<Fake>) -> Clients {
    Clients::new().with(ProviderKind::Chert, Arc::clone(fake) as Arc<dyn Membership>)
}

fn sorted_lines(results: &[BulkResult]) -> Vec<u64> {
    let mut lines: Vec<u64> = results.iter().map(|r| r.line).collect();
    lines.sort_unstable();
    lines
}

#[tokio::test(start_paused = true)]
async fn every_row_has_exactly_one_result_and_bad_rows_keep_their_line() {
    let fake = Fake::single(Duration::from_millis(5));
    let mut rows = Vec::new();
    for line in 1..=500u64 {
        let row = match line % 50 {
            7 => Row::parse(
                line,
                RawOp::new(
                    Some("remove".into()),
                    Some("telegram".into()),
                    Some("c".into()),
                    Some("+14155551234".into()),
                ),
            ),
            8 => Row::parse(
                line,
                RawOp::new(
                    Some("remove".into()),
                    Some("chert".into()),
                    Some("c".into()),
                    Some("4155551234".into()),
                ),
            ),
            9 => Row::parse(
                line,
                RawOp::new(Some("remove".into()), Some("chert".into()), None, None),
            ),
            10 => remove(line, "c3", NOT_A_MEMBER.parse().unwrap()),
            _ => remove(line, &format!("c{}", line % 13), phone(line)),
        };
        rows.push(row);
    }
    let run = Bulk::new(clients(&fake))
        .concurrency(4)
        .window(16)
        .start(feed(rows));
    let (results, stats) = collect(run).await;
    assert_eq!(sorted_lines(&results), (1..=500).collect::<Vec<_>>());
    assert_eq!(stats.rows, 500);
    assert_eq!(stats.results, 500);
    assert!(!stats.stopped);
    for r in &results {
        match r.line % 50 {
            7..=9 => {
                let e = r.result.as_ref().unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "line {}", r.line);
                assert!(r.op.is_err());
                assert_eq!(r.op_name(), "remove");
            }
            10 => assert_eq!(r.result.as_ref().unwrap_err().kind(), ErrorKind::NotAMember),
            _ => assert!(r.result.is_ok(), "line {}", r.line),
        }
    }
    // Bad rows never reached the adapter.
    assert_eq!(fake.calls().len(), 500 - 30);
}

#[tokio::test(start_paused = true)]
async fn rows_on_one_chat_run_one_at_a_time_in_input_order() {
    let fake = Fake::single(Duration::from_millis(10));
    let mut rows = Vec::new();
    for line in 1..=120u64 {
        rows.push(remove(line, &format!("chat{}", line % 3), phone(line)));
    }
    let run = Bulk::new(clients(&fake)).concurrency(8).start(feed(rows));
    let (results, _) = collect(run).await;
    assert_eq!(results.len(), 120);
    assert_eq!(fake.max_per_chat.load(Ordering::SeqCst), 1);
    // Three chats: at most three calls at once, whatever the concurrency.
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 3);
    for c in 0..3u64 {
        let order: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|call| call.chat == format!("chat{c}"))
            .flat_map(|call| call.handles)
            .collect();
        let want: Vec<String> = (1..=120u64)
            .filter(|l| l % 3 == c)
            .map(|l| phone(l).to_string())
            .collect();
        assert_eq!(order, want, "chat{c} ran out of order");
    }
}

#[tokio::test(start_paused = true)]
async fn concurrency_bounds_calls_across_chats() {
    let fake = Fake::single(Duration::from_millis(10));
    let rows = (1..=200u64)
        .map(|line| remove(line, &format!("chat{line}"), phone(line)))
        .collect();
    let run = Bulk::new(clients(&fake)).concurrency(5).start(feed(rows));
    let (results, _) = collect(run).await;
    assert_eq!(results.len(), 200);
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn batching_providers_get_consecutive_rows_of_one_kind_per_call() {
    let fake = Fake::batching(3, Duration::from_millis(10));
    let c = "g";
    let kinds = [
        ("remove", 1),
        ("remove", 2),
        ("remove", 3),
        ("remove", 4),
        ("remove", 5),
        ("remove", 5), // the same handle twice: never in one call
        ("add", 6),
        ("add", 7),
        ("leave", 0),
        ("remove", 8),
    ];
    let rows: Vec<Row> = kinds
        .iter()
        .zip(1u64..)
        .map(|(&(kind, n), line)| {
            let op = match kind {
                "remove" => Op::remove(ProviderKind::Zapi, chat(c), phone(n)),
                "add" => Op::add(ProviderKind::Zapi, chat(c), phone(n)),
                _ => Op::leave(ProviderKind::Zapi, chat(c)),
            };
            Row::new(line, op)
        })
        .collect();
    // Everything is queued before the first call starts (the reader is ahead).
    let (tx, rx) = mpsc::channel(16);
    for row in rows {
        tx.send(row).await.unwrap();
    }
    drop(tx);
    let clients = Clients::new().with(ProviderKind::Zapi, Arc::clone(&fake) as Arc<dyn Membership>);
    let (results, _) = collect(Bulk::new(clients).start(rx)).await;
    assert_eq!(sorted_lines(&results), (1..=10).collect::<Vec<_>>());
    let shape: Vec<(&str, usize)> = fake
        .calls()
        .iter()
        .map(|c| (c.kind, c.handles.len()))
        .collect();
    assert_eq!(
        shape,
        [
            ("remove_many", 3),
            ("remove_many", 2),
            ("remove", 1),
            ("add_many", 2),
            ("leave", 0),
            ("remove", 1)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn short_batch_replies_are_padded_with_ambiguous_failures() {
    let mut fake = Fake::batching(10, Duration::from_millis(1));
    Arc::get_mut(&mut fake).unwrap().short_by = 1;
    let (tx, rx) = mpsc::channel(16);
    for line in 1..=4u64 {
        tx.send(Row::new(
            line,
            Op::remove(ProviderKind::Zapi, chat("g"), phone(line)),
        ))
        .await
        .unwrap();
    }
    drop(tx);
    let clients = Clients::new().with(ProviderKind::Zapi, Arc::clone(&fake) as Arc<dyn Membership>);
    let (results, _) = collect(Bulk::new(clients).start(rx)).await;
    assert_eq!(results.len(), 4);
    let failed: Vec<&BulkResult> = results.iter().filter(|r| r.result.is_err()).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].line, 4);
    assert_eq!(
        failed[0].result.as_ref().unwrap_err().kind(),
        ErrorKind::Decode
    );
    assert!(failed[0].may_have_applied());
}

#[tokio::test(start_paused = true)]
async fn a_panicking_adapter_yields_failed_results() {
    let fake = Fake::single(Duration::from_millis(1));
    let rows = vec![
        remove(1, "a", PANICS.parse().unwrap()),
        remove(2, "a", phone(2)),
    ];
    let (results, stats) = collect(Bulk::new(clients(&fake)).start(feed(rows))).await;
    assert_eq!(stats.results, 2);
    let first = results.iter().find(|r| r.line == 1).unwrap();
    let e = first.result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServerError);
    assert!(e.is_ambiguous());
    assert!(results.iter().find(|r| r.line == 2).unwrap().result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn unbuildable_clients_and_refused_handle_kinds_fail_their_rows_only() {
    let fake = Fake::single(Duration::from_millis(1));
    let built = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&built);
    let good = Arc::clone(&fake);
    let clients = Clients::with_connector(move |provider| {
        counter.fetch_add(1, Ordering::SeqCst);
        if provider == ProviderKind::Chert {
            Ok(Arc::clone(&good) as Arc<dyn Membership>)
        } else {
            Err(Error::invalid_input("LINQ_API_V3_API_KEY is not set"))
        }
    });
    let mut rows = Vec::new();
    for line in 1..=10u64 {
        let provider = if line % 2 == 0 {
            ProviderKind::Linq
        } else {
            ProviderKind::Chert
        };
        rows.push(Row::new(line, Op::remove(provider, chat("c"), phone(line))));
    }
    rows.push(Row::new(
        11,
        Op::remove(ProviderKind::Chert, chat("c"), "8:acs:1".parse().unwrap()),
    ));
    let (results, _) = collect(Bulk::new(clients).start(feed(rows))).await;
    assert_eq!(results.len(), 11);
    assert_eq!(built.load(Ordering::SeqCst), 2, "each client is built once");
    for r in &results {
        let provider = r.op.as_ref().unwrap().provider();
        if r.line == 11 {
            let e = r.result.as_ref().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(
                e.to_string().contains("does not accept native handles"),
                "{e}"
            );
        } else if provider == ProviderKind::Linq {
            let e = r.result.as_ref().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            assert!(e.to_string().contains("LINQ_API_V3_API_KEY"), "{e}");
        } else {
            assert!(r.result.is_ok());
        }
    }
    assert_eq!(fake.calls().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_that_does_not_read_holds_the_reader_back() {
    let fake = Fake::single(Duration::from_millis(1));
    let taken = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel(8);
    let counter = Arc::clone(&taken);
    tokio::spawn(async move {
        for line in 1..=20_000u64 {
            let row = remove(line, &format!("c{}", line % 100), phone(line));
            if tx.send(row).await.is_err() {
                break;
            }
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let mut run = Bulk::new(clients(&fake))
        .concurrency(4)
        .window(32)
        .start(rx);
    // Paused time advances only when every task is blocked: after this, the run is stuck on
    // the full results channel.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let sent = taken.load(Ordering::SeqCst);
    // Results buffer + window + in-flight units + the input channel, give or take a few.
    assert!(
        sent < RESULTS_BUFFER + 32 + 4 + 8 + 8,
        "the reader ran ahead: {sent} rows taken"
    );
    assert!(sent >= RESULTS_BUFFER, "{sent}");
    // Reading on lets everything through.
    let mut n = 0;
    while let Some(_r) = run.next().await {
        n += 1;
    }
    assert_eq!(n, 20_000);
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn per_chat_and_per_provider_pacing_space_the_calls() {
    let fake = Fake::single(Duration::from_millis(1));
    let rows: Vec<Row> = (1..=6u64).map(|l| remove(l, "one", phone(l))).collect();
    let pacing = BulkPacing::none().with_per_chat(Some("1/2s".parse().unwrap()));
    let start = Instant::now();
    let run = Bulk::new(clients(&fake))
        .pacing(ProviderKind::Chert, pacing)
        .start(feed(rows));
    let (results, _) = collect(run).await;
    assert_eq!(results.len(), 6);
    let offsets: Vec<u64> = fake
        .calls()
        .iter()
        .map(|c| (c.at - start).as_secs())
        .collect();
    assert_eq!(offsets, [0, 2, 4, 6, 8, 10]);

    let fake = Fake::single(Duration::from_millis(1));
    let rows: Vec<Row> = (1..=5u64)
        .map(|l| remove(l, &format!("c{l}"), phone(l)))
        .collect();
    let pacing = BulkPacing::none().with_per_provider(Some(Rate::per_second(2)));
    let start = Instant::now();
    let run = Bulk::new(clients(&fake))
        .pacing(ProviderKind::Chert, pacing)
        .start(feed(rows));
    let (results, _) = collect(run).await;
    assert_eq!(results.len(), 5);
    let offsets: Vec<u128> = fake
        .calls()
        .iter()
        .map(|c| (c.at - start).as_millis())
        .collect();
    assert_eq!(offsets, [0, 500, 1000, 1500, 2000]);
    // BulkPacing for another provider does not slow this one.
    let fake = Fake::single(Duration::from_millis(1));
    let rows: Vec<Row> = (1..=5u64).map(|l| remove(l, "one", phone(l))).collect();
    let pacing = BulkPacing::none().with_per_chat(Some(Rate::per_second(1)));
    let start = Instant::now();
    let run = Bulk::new(clients(&fake))
        .pacing(ProviderKind::Linq, pacing)
        .start(feed(rows));
    let _ = collect(run).await;
    assert!(Instant::now() - start < Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn stop_lets_in_flight_calls_finish_and_starts_nothing_new() {
    let fake = Fake::single(Duration::from_secs(5));
    let rows: Vec<Row> = (1..=50u64)
        .map(|l| remove(l, &format!("c{}", l % 10), phone(l)))
        .collect();
    let mut run = Bulk::new(clients(&fake))
        .concurrency(4)
        .grace(Duration::from_secs(30))
        .start(feed(rows));
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.stop_handle().stop();
    assert!(run.stop_handle().is_stopped());
    let mut results = Vec::new();
    while let Some(r) = run.next().await {
        results.push(r);
    }
    let stats = run.finish().await;
    assert!(stats.stopped);
    // The four calls in flight finished normally; nothing else was sent.
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(|r| r.result.is_ok()));
    assert_eq!(fake.calls().len(), 4);
    assert_eq!(stats.interrupted, 0);
    assert_eq!(stats.results + stats.not_started, stats.rows);
}

#[tokio::test(start_paused = true)]
async fn calls_still_running_after_the_grace_period_are_reported_interrupted() {
    let fake = Fake::single(Duration::from_secs(600));
    let rows: Vec<Row> = (1..=3u64)
        .map(|l| remove(l, &format!("c{l}"), phone(l)))
        .collect();
    let mut run = Bulk::new(clients(&fake))
        .grace(Duration::from_secs(2))
        .start(feed(rows));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    run.stop_handle().stop();
    let mut results = Vec::new();
    while let Some(r) = run.next().await {
        results.push(r);
    }
    assert_eq!(Instant::now() - started, Duration::from_secs(2));
    let stats = run.finish().await;
    assert_eq!(results.len(), 3);
    assert_eq!(stats.interrupted, 3);
    for r in &results {
        let e = r.result.as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.to_string().contains("interrupted"), "{e}");
        assert!(r.may_have_applied());
    }

    // stop_now skips the grace period.
    let fake = Fake::single(Duration::from_secs(600));
    let rows: Vec<Row> = vec![remove(1, "c", phone(1))];
    let mut run = Bulk::new(clients(&fake)).start(feed(rows));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    run.stop_handle().stop_now();
    let r = run.next().await.unwrap();
    assert!(Instant::now() - started < Duration::from_millis(10));
    assert_eq!(r.result.unwrap_err().kind(), ErrorKind::Timeout);
    assert!(run.next().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn ensure_mode_reaches_the_adapter() {
    let fake = Fake::single(Duration::from_millis(1));
    let rows = vec![Row::new(1, Op::leave(ProviderKind::Chert, chat("c")))];
    let (results, _) = collect(Bulk::new(clients(&fake)).ensure(true).start(feed(rows))).await;
    assert_eq!(results[0].result.as_ref().unwrap().as_str(), "already_done");
}
