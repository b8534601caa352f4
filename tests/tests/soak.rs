//! The bounded soak (issue #10): 800 operations across every provider against the sandbox with
//! about 30 % injected faults — 429 with `Retry-After` (seconds and milliseconds), 503, Chert
//! 502/4001, connections dropped before the reply and after the change was applied, stalls past
//! the attempt timeout, malformed and truncated JSON, HTML, a 2 MiB body, and 429/503 replies
//! with hostile retry hints (huge, negative, NaN, non-UTF-8; issue #16). Nothing may be lost,
//! applied twice or contradict the journal; nothing may panic; every wait honours the delay the
//! reply asked for. `cargo xtask soak [--quick]` runs the same engine with more operations.
//!
//! The two checks that were blind before issue #22 are proven against the real failure: a
//! transport that sends every mutation twice, and one that waits a hundredth of the delay asked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::print_stdout)] // The summary, shown on failure or with --nocapture.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rosterkit::{
    HttpClient,
    adapter::{Bytes, TransportError, async_trait, http},
};
use rosterkit_tests::soak::{self, SoakConfig};

/// One soak at a time in this process: each counts every panic in the process and wants the
/// machine's cores to itself, as `cargo xtask soak` has them.
async fn one_soak_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static SOAK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SOAK.lock().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_soak_loses_nothing_and_honours_retry_after() {
    let _alone = one_soak_at_a_time().await;
    let config = SoakConfig::bounded().with_verbose(std::env::var_os("SOAK_VERBOSE").is_some());
    let started = Instant::now();
    let report = soak::run(&config).await.expect("the soak starts");
    let summary = report.render();
    // Printed on failure by the harness (or with --nocapture).
    println!("{summary}");

    assert_eq!(report.operations, config.operations, "{summary}");
    assert!(report.passed(), "{summary}");
    assert_eq!(report.lost, 0, "{summary}");
    assert_eq!(report.duplicated, 0, "{summary}");
    assert_eq!(report.panics, 0, "{summary}");
    assert_eq!(report.disagreements, 0, "{summary}");
    assert_eq!(
        report.retry_after_honoured, report.retry_after_waits,
        "{summary}"
    );

    // The fault mix really ran: about 30 % of operations, every type, on every provider.
    let share = report.faulted_operations as f64 / report.operations as f64;
    assert!((0.2..=0.4).contains(&share), "{share}\n{summary}");
    for fault in [
        "429_retry_after",
        "429_retry_after_ms",
        "503",
        "503_persistent_retry_after",
        "chert_502_4001_delivery_failed",
        "drop_before_reply",
        "drop_after_apply",
        "stall_past_attempt_timeout",
        "malformed_json",
        "truncated_json",
        "wrong_content_type",
        "body_2mib",
        "hostile_retry_hint",
    ] {
        assert!(
            report.faults_fired.get(fault).copied().unwrap_or(0) > 0,
            "{fault} never fired\n{summary}"
        );
    }
    // Hostile retry hints: every wait after one within the cap (no panic is checked above).
    assert!(report.hostile_hint_waits > 0, "{summary}");
    assert_eq!(
        report.hostile_hint_capped, report.hostile_hint_waits,
        "{summary}"
    );
    assert_eq!(report.operations_by_provider.len(), 4, "{summary}");
    assert!(report.retries > 0, "{summary}");
    assert!(report.retry_after_waits > 0, "{summary}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}\n{summary}",
        started.elapsed()
    );
}

/// A transport that sends every mutation that succeeded a second time: the bug the duplicate
/// count is there to catch (issue #22), reaching the emulators as it would in production.
#[derive(Debug)]
struct DoubleSend(Arc<dyn HttpClient>);

#[async_trait]
impl HttpClient for DoubleSend {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        if request.method() == http::Method::GET {
            return self.0.send(request).await;
        }
        let again = request.clone();
        let reply = self.0.send(request).await?;
        if reply.status().is_success() {
            // What the second send gets back is beside the point: it reached the emulator.
            drop(self.0.send(again).await);
        }
        Ok(reply)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_catches_a_double_send() {
    let _alone = one_soak_at_a_time().await;
    let config = SoakConfig::bounded().with_operations(400);
    let report = soak::run_with(&config, Box::new(|t| Arc::new(DoubleSend(t))))
        .await
        .expect("the soak starts");
    let summary = report.render();
    println!("{summary}");
    assert!(report.duplicated > 0, "{summary}");
    assert!(!report.passed(), "{summary}");
    assert!(summary.contains("result: FAIL"), "{summary}");
}

/// A transport that reads `retry-after-ms` and `x-ms-retry-after-ms` 100 times too small, as
/// a client with that parsing bug would: its waits are too short.
#[derive(Debug)]
struct ShortRetryWait(Arc<dyn HttpClient>);

#[async_trait]
impl HttpClient for ShortRetryWait {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let mut reply = self.0.send(request).await?;
        for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
            let asked = reply
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if let Some(ms) = asked {
                reply
                    .headers_mut()
                    .insert(name, http::HeaderValue::from(ms / 100));
            }
        }
        Ok(reply)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_catches_a_short_retry_wait() {
    let _alone = one_soak_at_a_time().await;
    let config = SoakConfig::bounded().with_operations(400);
    let report = soak::run_with(&config, Box::new(|t| Arc::new(ShortRetryWait(t))))
        .await
        .expect("the soak starts");
    let summary = report.render();
    println!("{summary}");
    assert!(report.retry_after_waits > 0, "{summary}");
    assert!(
        report.retry_after_honoured < report.retry_after_waits,
        "{summary}"
    );
    assert!(!report.passed(), "{summary}");
}
