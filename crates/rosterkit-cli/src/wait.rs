//! `--wait`: turn Linq's queued changes into confirmed ones by polling the chat, for at most
//! `--wait-timeout` seconds. A wait that runs out leaves the change `queued` (Linq accepted
//! it and may still apply it): exit 0, with a note saying so.
//!
//! Only Linq queues changes, and `--wait` is refused for the other providers before anything
//! is sent (see [`crate::args::check_flags`]).

use std::{
    future::Future,
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use rosterkit::{
    ChatId, Error, ErrorKind, Handle, Outcome,
    linq::{Expect, LinqClient, WaitOptions},
};

use crate::args::{Common, Wait};

/// The note on a change still queued when the wait ran out.
pub(crate) fn timed_out_note(secs: u64) -> String {
    format!(
        "still queued after waiting {secs} s: Linq accepted the change and may apply it later; \
         check with `rosterkit list`, or wait longer with --wait-timeout"
    )
}

pub(crate) fn linq_client(common: &Common) -> Result<LinqClient, Error> {
    let mut builder = LinqClient::builder_from_env()
        .allow_insecure_http(common.allow_insecure_http)
        .retry_policy(common.attempts.policy());
    if let Some(url) = &common.base_url {
        builder = builder.base_url(url.clone());
    }
    builder.build()
}

/// What a wait ended with: the confirmed outcome or an error, or `None` when it ran out.
type Waited = Option<Result<Outcome, Error>>;

/// Polls until `deadline` (the library's own poll count is not the limit: the CLI's is), with
/// a progress line on a terminal.
async fn bounded(
    what: &str,
    wait: &Wait,
    poll: impl Future<Output = Result<Outcome, Error>>,
) -> Waited {
    let started = Instant::now();
    let limit = Duration::from_secs(wait.wait_timeout);
    let terminal = std::io::stderr().is_terminal();
    let progress = async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if terminal {
                let mut err = std::io::stderr().lock();
                let _ = write!(
                    err,
                    "\r\x1b[2Kwaiting for Linq to apply the queued {what}: {} s of {} s",
                    started.elapsed().as_secs(),
                    wait.wait_timeout
                );
                let _ = err.flush();
            }
        }
    };
    let result = tokio::select! {
        r = tokio::time::timeout(limit, poll) => r.ok(),
        () = progress => None,
    };
    if terminal {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
    match result {
        // The library's own limit, before ours: still queued as well.
        Some(Err(e)) if e.kind() == ErrorKind::Timeout => None,
        other => other,
    }
}

/// Poll as long as the CLI's limit allows: about every 8 s after a quick start.
fn options() -> WaitOptions {
    WaitOptions::default().with_max_polls(u32::MAX)
}

/// Keeps the queued reply's trace id on the confirmed outcome; a wait that ran out keeps the
/// queued outcome and says so.
fn settle(
    waited: Waited,
    trace_id: Option<String>,
    wait: &Wait,
) -> (Result<Outcome, Error>, Option<String>) {
    match waited {
        None => (
            Ok(Outcome::queued(trace_id)),
            Some(timed_out_note(wait.wait_timeout)),
        ),
        Some(result) => (
            result.map(|o| {
                if o.trace_id().is_none() {
                    o.with_trace_id(trace_id)
                } else {
                    o
                }
            }),
            None,
        ),
    }
}

/// Waits for each queued add (`add`) or remove to show in the chat; the second value is the
/// note for a change still queued when the wait ran out.
pub(crate) async fn confirm(
    common: &Common,
    wait: &Wait,
    chat: &ChatId,
    handles: &[Handle],
    results: Vec<Result<Outcome, Error>>,
    add: bool,
) -> Vec<(Result<Outcome, Error>, Option<String>)> {
    let client = match linq_client(common) {
        Ok(c) => c,
        Err(e) => {
            let message = e.message();
            return results
                .into_iter()
                .map(|_| (Err(Error::invalid_input(message.clone())), None))
                .collect();
        }
    };
    let (expect, what) = if add {
        (Expect::Active, "add")
    } else {
        (Expect::Removed, "remove")
    };
    let mut out = Vec::with_capacity(results.len());
    for (handle, result) in handles.iter().zip(results) {
        out.push(match result {
            Ok(Outcome::Queued { trace_id }) => {
                let waited =
                    bounded(what, wait, client.wait_for(chat, handle, expect, options())).await;
                settle(waited, trace_id, wait)
            }
            other => (other, None),
        });
    }
    out
}

/// Waits for a queued leave to show: our own line `left`, or the chat no longer served.
pub(crate) async fn confirm_leave(
    common: &Common,
    wait: &Wait,
    chat: &ChatId,
    result: Result<Outcome, Error>,
) -> (Result<Outcome, Error>, Option<String>) {
    let Ok(Outcome::Queued { trace_id }) = result else {
        return (result, None);
    };
    let client = match linq_client(common) {
        Ok(c) => c,
        Err(e) => return (Err(e), None),
    };
    let waited = bounded("leave", wait, client.wait_for_leave(chat, options())).await;
    settle(waited, trace_id, wait)
}
