//! `--wait`: turn Linq's queued changes into confirmed ones through the connected client's
//! `Membership::confirm` (Linq polls the chat), for at most `--wait-timeout` seconds. A wait
//! that runs out leaves the change `queued` (Linq accepted it and may still apply it): exit 0,
//! with a note saying so.
//!
//! Only Linq queues changes, and `--wait` is refused for the other providers before anything
//! is sent (see [`crate::args::check_flags`]).

use std::{
    io::{IsTerminal, Write},
    time::{Duration, Instant},
};

use rosterkit::{ChatId, Error, Handle, Membership, Outcome, Pending};

use crate::args::Wait;

/// The note on a change still queued when the wait ran out.
pub(crate) fn timed_out_note(secs: u64) -> String {
    format!(
        "still queued after waiting {secs} s: Linq accepted the change and may apply it later; \
         check with `rosterkit list`, or wait longer with --wait-timeout"
    )
}

/// Confirms `outcome` through [`Membership::confirm`], for at most `--wait-timeout` seconds,
/// with a progress line on a terminal. The second value is the note for a change still queued
/// when the wait ran out.
async fn confirmed(
    client: &dyn Membership,
    chat: &ChatId,
    change: Pending<'_>,
    outcome: Outcome,
    wait: &Wait,
) -> (Result<Outcome, Error>, Option<String>) {
    let what = match change {
        Pending::Add(_) => "add",
        Pending::Leave => "leave",
        _ => "remove",
    };
    let started = Instant::now();
    let limit = Duration::from_secs(wait.wait_timeout);
    let terminal = std::io::stderr().is_terminal();
    let confirm = client.confirm(chat, change, outcome, limit);
    tokio::pin!(confirm);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let result = loop {
        tokio::select! {
            r = &mut confirm => break r,
            _ = tick.tick() => {
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
        }
    };
    if terminal {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
    match result {
        Ok(still @ Outcome::Queued { .. }) => (Ok(still), Some(timed_out_note(wait.wait_timeout))),
        other => (other, None),
    }
}

/// Waits for each queued add (`add`) or remove to show in the chat.
pub(crate) async fn confirm(
    client: &dyn Membership,
    wait: &Wait,
    chat: &ChatId,
    handles: &[Handle],
    results: Vec<Result<Outcome, Error>>,
    add: bool,
) -> Vec<(Result<Outcome, Error>, Option<String>)> {
    let mut out = Vec::with_capacity(results.len());
    for (handle, result) in handles.iter().zip(results) {
        out.push(match result {
            Ok(queued @ Outcome::Queued { .. }) => {
                let change = if add {
                    Pending::Add(handle)
                } else {
                    Pending::Remove(handle)
                };
                confirmed(client, chat, change, queued, wait).await
            }
            other => (other, None),
        });
    }
    out
}

/// Waits for a queued leave to show: our own line `left`, or the chat no longer served.
pub(crate) async fn confirm_leave(
    client: &dyn Membership,
    wait: &Wait,
    chat: &ChatId,
    result: Result<Outcome, Error>,
) -> (Result<Outcome, Error>, Option<String>) {
    match result {
        Ok(queued @ Outcome::Queued { .. }) => {
            confirmed(client, chat, Pending::Leave, queued, wait).await
        }
        other => (other, None),
    }
}
