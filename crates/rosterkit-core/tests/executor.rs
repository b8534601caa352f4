//! The executor over real loopback HTTP: retries, server delays, timeouts, body caps.
//!
//! Time is paused, so multi-second backoffs and `Retry-After` waits complete instantly while
//! still being measured in tokio time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, SystemTime},
};

use axum::{Router, body::Body, http::Response, routing::any};
use rosterkit_core::{
    Attempt, Bytes, Error, ErrorKind, Executor, HttpClient, Operation, ReqwestClient, RetryPolicy,
    RouteName, http,
};

/// Scripted replies: each request takes the next one; the last repeats.
#[derive(Clone)]
struct Script {
    replies: Arc<Mutex<Vec<Reply>>>,
    hits: Arc<AtomicU32>,
}

#[derive(Clone)]
enum Reply {
    Status(u16, Vec<(&'static str, String)>, &'static str),
    Stall,
    Big(usize),
}

async fn serve(replies: Vec<Reply>) -> (SocketAddr, Arc<AtomicU32>) {
    let script = Script {
        replies: Arc::new(Mutex::new(replies)),
        hits: Arc::new(AtomicU32::new(0)),
    };
    let hits = script.hits.clone();
    let app = Router::new().fallback(any(move || {
        let script = script.clone();
        async move {
            script.hits.fetch_add(1, Ordering::SeqCst);
            let reply = {
                let mut r = script.replies.lock().unwrap();
                if r.len() > 1 {
                    r.remove(0)
                } else {
                    r[0].clone()
                }
            };
            match reply {
                Reply::Status(status, headers, body) => {
                    let mut b = Response::builder().status(status);
                    for (k, v) in headers {
                        b = b.header(k, v);
                    }
                    b.body(Body::from(body)).unwrap()
                }
                Reply::Stall => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Response::new(Body::empty())
                }
                Reply::Big(n) => Response::new(Body::from(vec![b'x'; n])),
            }
        }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, hits)
}

/// A minimal operation: GET /thing; 2xx → body text; otherwise an error whose retryability
/// follows the status the way a provider table would.
struct Probe {
    url: String,
    idempotent: bool,
    built: AtomicU32,
}

impl Probe {
    fn new(addr: SocketAddr, idempotent: bool) -> Self {
        Self {
            url: format!("http://{addr}/thing"),
            idempotent,
            built: AtomicU32::new(0),
        }
    }
}

impl Operation for Probe {
    type Output = String;
    fn route(&self) -> RouteName {
        RouteName::new("probe", "get_thing")
    }
    fn idempotent(&self) -> bool {
        self.idempotent
    }
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.built.fetch_add(1, Ordering::SeqCst);
        Ok(http::Request::get(&self.url)
            .header("x-attempt", attempt.number.to_string())
            .body(Bytes::new())
            .unwrap())
    }
    fn parse(&self, r: http::Response<Bytes>, _: &Attempt) -> Result<String, Error> {
        let status = r.status().as_u16();
        if r.status().is_success() {
            return Ok(String::from_utf8_lossy(r.body()).into_owned());
        }
        Err(Error::new(ErrorKind::from_status(status), "probe failed")
            .with_http_status(status)
            .with_retryable(matches!(status, 429 | 503)))
    }
}

fn executor(policy: RetryPolicy) -> Executor {
    Executor::new(Arc::new(ReqwestClient::new().unwrap())).with_retry_policy(policy)
}

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(100), Duration::from_secs(1))
        .with_jitter(false)
}

fn ok() -> Reply {
    Reply::Status(200, vec![], "done")
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_honoured() {
    let (addr, hits) = serve(vec![
        Reply::Status(429, vec![("retry-after", "7".into())], ""),
        ok(),
    ])
    .await;
    let op = Probe::new(addr, false);
    let start = tokio::time::Instant::now();
    assert_eq!(executor(quick()).execute(&op).await.unwrap(), "done");
    assert!(
        start.elapsed() >= Duration::from_secs(7),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    assert_eq!(
        op.built.load(Ordering::SeqCst),
        2,
        "each attempt is built afresh"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_http_date_is_honoured() {
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
    let (addr, _) = serve(vec![
        Reply::Status(503, vec![("retry-after", when)], ""),
        ok(),
    ])
    .await;
    let start = tokio::time::Instant::now();
    executor(quick())
        .execute(&Probe::new(addr, true))
        .await
        .unwrap();
    // The date has one-second resolution, and the wall clock it is measured against keeps
    // running while the paused test clock does not (building the client, on a loaded machine).
    assert!(
        start.elapsed() >= Duration::from_secs(18),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_ms_headers_are_honoured() {
    for header in ["retry-after-ms", "x-ms-retry-after-ms"] {
        let (addr, _) = serve(vec![
            Reply::Status(429, vec![(header, "4500".into())], ""),
            ok(),
        ])
        .await;
        let start = tokio::time::Instant::now();
        executor(quick())
            .execute(&Probe::new(addr, true))
            .await
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(4500), "{header}");
        assert!(start.elapsed() < Duration::from_secs(5), "{header}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_allowed_ends_the_retries() {
    let (addr, hits) = serve(vec![Reply::Status(
        429,
        vec![("retry-after", "600".into())],
        "",
    )])
    .await;
    let err = executor(quick())
        .execute(&Probe::new(addr, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_until_attempts_run_out() {
    let (addr, hits) = serve(vec![Reply::Status(503, vec![], "busy")]).await;
    let err = executor(quick())
        .execute(&Probe::new(addr, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.attempts(), 3);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(err.provider(), Some("probe"));
    assert_eq!(err.operation(), Some("get_thing"));
}

#[tokio::test(start_paused = true)]
async fn ambiguous_failures_are_not_retried_for_non_idempotent_operations() {
    let (addr, hits) = serve(vec![Reply::Status(503, vec![], "busy"), ok()]).await;
    let err = executor(quick())
        .execute(&Probe::new(addr, false))
        .await
        .unwrap_err();
    assert!(err.is_ambiguous());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn non_retryable_4xx_is_answered_once() {
    let (addr, hits) = serve(vec![Reply::Status(409, vec![], "no")]).await;
    let err = executor(quick())
        .execute(&Probe::new(addr, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.http_status(), Some(409));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_reply_times_out_per_attempt() {
    let (addr, hits) = serve(vec![Reply::Stall, ok()]).await;
    let policy = quick().with_attempt_timeout(Duration::from_secs(2));
    let start = tokio::time::Instant::now();
    assert_eq!(
        executor(policy.clone())
            .execute(&Probe::new(addr, true))
            .await
            .unwrap(),
        "done"
    );
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Not idempotent: the stall is ambiguous, so no second attempt.
    let (addr, hits) = serve(vec![Reply::Stall, ok()]).await;
    let err = executor(policy)
        .execute(&Probe::new(addr, false))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.is_ambiguous());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn total_deadline_stops_retries() {
    let (addr, hits) = serve(vec![Reply::Status(
        429,
        vec![("retry-after", "10".into())],
        "",
    )])
    .await;
    let policy = quick()
        .with_max_attempts(10)
        .with_total_timeout(Some(Duration::from_secs(25)));
    let err = executor(policy)
        .execute(&Probe::new(addr, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "0 s, 10 s, 20 s; the next wait passes 25 s"
    );
}

#[tokio::test]
async fn connection_refused_is_retried_even_when_not_idempotent() {
    // Bind then drop, so the port is very likely closed.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let policy = quick()
        .with_max_attempts(2)
        .with_backoff(Duration::from_millis(1), Duration::from_millis(1));
    let err = executor(policy)
        .execute(&Probe::new(addr, false))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport);
    assert!(!err.is_ambiguous(), "nothing was sent");
    assert_eq!(err.attempts(), 2);
}

#[tokio::test]
async fn bodies_over_the_cap_are_refused() {
    let (addr, _) = serve(vec![Reply::Big(64 * 1024)]).await;
    let client = ReqwestClient::builder().body_limit(1024).build().unwrap();
    let err = Executor::new(Arc::new(client))
        .with_retry_policy(RetryPolicy::no_retries())
        .execute(&Probe::new(addr, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("1024-byte cap"), "{err}");

    // A chunked body (no Content-Length) is cut off as it streams.
    let (addr, _) = serve(vec![Reply::Big(8)]).await;
    let client = ReqwestClient::builder().body_limit(1024).build().unwrap();
    let reply = client
        .send(
            http::Request::get(format!("http://{addr}/"))
                .body(Bytes::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(reply.body().as_ref(), b"xxxxxxxx");
}

#[tokio::test]
async fn plain_http_to_remote_hosts_is_refused() {
    let client = ReqwestClient::new().unwrap();
    let err = client
        .send(
            http::Request::get("http://example.com/x")
                .body(Bytes::new())
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rosterkit_core::TransportErrorKind::Refused);
    assert!(!err.request_may_have_been_sent());
}

#[tokio::test(start_paused = true)]
async fn the_total_deadline_cuts_an_attempt_in_flight() {
    let (addr, hits) = serve(vec![Reply::Stall]).await;
    let policy = quick()
        .with_attempt_timeout(Duration::from_secs(30))
        .with_total_timeout(Some(Duration::from_secs(5)));
    let start = tokio::time::Instant::now();
    let err = executor(policy)
        .execute(&Probe::new(addr, true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(6),
        "{took:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn attempts_and_the_run_are_bounded_by_default() {
    assert_eq!(
        RetryPolicy::default().with_max_attempts(1000).max_attempts,
        RetryPolicy::MAX_ATTEMPTS
    );
    assert_eq!(RetryPolicy::default().with_max_attempts(0).max_attempts, 1);
    assert_eq!(
        RetryPolicy::default().total_timeout,
        Some(RetryPolicy::DEFAULT_TOTAL_TIMEOUT)
    );
}

/// An operation whose retry cannot be built (a signing key gone, a token that cannot be
/// minted): the error still counts the attempt that was sent before it.
struct FailsToRebuild(Probe);

impl Operation for FailsToRebuild {
    type Output = String;
    fn route(&self) -> RouteName {
        self.0.route()
    }
    fn idempotent(&self) -> bool {
        self.0.idempotent()
    }
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        if attempt.number > 1 {
            return Err(Error::invalid_input("the retry could not be signed"));
        }
        self.0.build(attempt)
    }
    fn parse(&self, r: http::Response<Bytes>, attempt: &Attempt) -> Result<String, Error> {
        self.0.parse(r, attempt)
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_cannot_be_built_counts_the_attempts_sent() {
    let (addr, hits) = serve(vec![Reply::Status(503, vec![], "busy")]).await;
    let op = FailsToRebuild(Probe::new(addr, true));
    let err = executor(quick()).execute(&op).await.unwrap_err();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.attempts(), 1, "{err:?}");
}

/// A batch of items sent in one request; a 409 is settled by a read listing the items already
/// done, and the rest is resent ([`Settled::Resend`]) carrying the settled results.
struct Batch {
    url: String,
    items: Vec<&'static str>,
    pending: Vec<usize>,
    settled: Vec<Option<Result<String, Error>>>,
    resent: bool,
}

impl Batch {
    fn new(addr: SocketAddr, items: Vec<&'static str>) -> Self {
        Self {
            url: format!("http://{addr}"),
            pending: (0..items.len()).collect(),
            settled: items.iter().map(|_| None).collect(),
            items,
            resent: false,
        }
    }

    fn output(&self, pending: &Result<String, Error>) -> Vec<Result<String, Error>> {
        let mut out = self.settled.clone();
        for &i in &self.pending {
            out[i] = Some(pending.clone());
        }
        out.into_iter().map(Option::unwrap).collect()
    }
}

struct DoneRead {
    url: String,
    batch: Batch,
}

impl rosterkit_core::Probe<Vec<Result<String, Error>>> for DoneRead {
    fn build(&self, _: &Attempt) -> Result<http::Request<Bytes>, Error> {
        Ok(http::Request::get(&self.url).body(Bytes::new()).unwrap())
    }

    fn settle(
        self: Box<Self>,
        reply: Result<http::Response<Bytes>, Error>,
        _: &Attempt,
        failure: Error,
    ) -> rosterkit_core::Settled<Vec<Result<String, Error>>> {
        let done = String::from_utf8_lossy(reply.unwrap().body()).into_owned();
        let Batch {
            url,
            items,
            pending,
            mut settled,
            ..
        } = self.batch;
        let mut rest = Vec::new();
        for i in pending {
            if done.split(',').any(|d| d == items[i]) {
                settled[i] = Some(Ok("already".to_owned()));
            } else {
                rest.push(i);
            }
        }
        let next = Batch {
            url,
            items,
            pending: rest,
            settled,
            resent: true,
        };
        rosterkit_core::Settled::Resend(
            Box::new(next),
            failure.with_retry_after(Duration::from_secs(5)),
        )
    }
}

impl Operation for Batch {
    type Output = Vec<Result<String, Error>>;
    fn route(&self) -> RouteName {
        RouteName::new("probe", "batch")
    }
    fn idempotent(&self) -> bool {
        false
    }
    fn build(&self, _: &Attempt) -> Result<http::Request<Bytes>, Error> {
        let items: Vec<&str> = self.pending.iter().map(|&i| self.items[i]).collect();
        Ok(http::Request::post(format!("{}/batch", self.url))
            .body(Bytes::from(items.join(",")))
            .unwrap())
    }
    fn parse(&self, r: http::Response<Bytes>, _: &Attempt) -> Result<Self::Output, Error> {
        let status = r.status().as_u16();
        if r.status().is_success() {
            return Ok(self.output(&Ok("sent".to_owned())));
        }
        Err(Error::new(ErrorKind::from_status(status), "batch failed")
            .with_http_status(status)
            .with_retryable(false))
    }
    fn on_failure(&self, error: &Error, _: &Attempt) -> rosterkit_core::Recovery<Self::Output> {
        if self.resent || error.http_status() != Some(409) {
            return rosterkit_core::Recovery::Standard;
        }
        let batch = Batch {
            url: self.url.clone(),
            items: self.items.clone(),
            pending: self.pending.clone(),
            settled: self.settled.clone(),
            resent: false,
        };
        rosterkit_core::Recovery::Probe(Box::new(DoneRead {
            url: format!("{}/done", self.url),
            batch,
        }))
    }
    fn fold_error(&self, error: Error) -> Result<Self::Output, Error> {
        Ok(self.output(&Err(error)))
    }
    fn item_errors<'a>(&self, output: &'a mut Self::Output) -> Vec<&'a mut Error> {
        output.iter_mut().filter_map(|r| r.as_mut().err()).collect()
    }
}

fn texts(results: &[Result<String, Error>]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Ok(text) => text.clone(),
            Err(e) => format!(
                "{}/{}/{}",
                e.kind(),
                e.attempts(),
                e.operation().unwrap_or("")
            ),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_resend_sends_only_the_unsettled_items_and_keeps_the_settled_ones() {
    let (addr, hits) = serve(vec![
        Reply::Status(409, vec![], ""),
        Reply::Status(200, vec![], "a"),
        ok(),
    ])
    .await;
    let started = tokio::time::Instant::now();
    let out = executor(quick())
        .execute(&Batch::new(addr, vec!["a", "b", "c"]))
        .await
        .unwrap();
    assert_eq!(texts(&out), ["already", "sent", "sent"]);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    // The pause the resend asked for (the operation's pacing) is waited.
    assert!(started.elapsed() >= Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_failed_resend_is_folded_into_the_carried_results() {
    let (addr, hits) = serve(vec![
        Reply::Status(409, vec![], ""),
        Reply::Status(200, vec![], "b"),
        Reply::Status(400, vec![], ""),
    ])
    .await;
    let out = executor(quick())
        .execute(&Batch::new(addr, vec!["a", "b", "c"]))
        .await
        .unwrap();
    // The resend is the run's second attempt; its error names the operation.
    assert_eq!(
        texts(&out),
        ["invalid_input/2/batch", "already", "invalid_input/2/batch"]
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}
