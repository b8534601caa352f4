//! `rosterkit tour`: an embedded sandbox, seeded, and every provider's contract walked through
//! the public API — successes and each documented failure — as a table of expected vs got.

use std::{fmt::Display, io::Write, time::Duration};

use rosterkit::{Error, ErrorKind, Outcome};
use rosterkit_sandbox::{Provider, Sandbox};

use crate::commands::Exit;

mod acs;
mod bulk;
mod chert;
mod linq;
mod matrix;
mod sync;
mod zapi;

/// The steps so far, printed as they complete.
pub(crate) struct Tour {
    passed: usize,
    failed: Vec<String>,
}

const WIDTHS: [usize; 3] = [6, 50, 34];

impl Tour {
    fn new() -> Self {
        let mut tour = Self {
            passed: 0,
            failed: Vec::new(),
        };
        tour.line(["", "PROVIDER", "STEP", "EXPECTED", "GOT"]);
        tour
    }

    fn line(&mut self, cells: [&str; 5]) {
        let [mark, provider, step, expected, got] = cells;
        let [w1, w2, w3] = WIDTHS;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{mark:<2}{provider:<w1$}  {step:<w2$}  {expected:<w3$}  {got}"
        );
    }

    /// Records one step: `ok` says whether it behaved as the contract says.
    pub(crate) fn step(
        &mut self,
        provider: &str,
        step: &str,
        expected: impl Display,
        got: impl Display,
        ok: bool,
    ) {
        let (expected, got) = (expected.to_string(), got.to_string());
        self.line([if ok { "✓" } else { "✗" }, provider, step, &expected, &got]);
        if ok {
            self.passed += 1;
        } else {
            self.failed.push(format!("{provider}: {step}"));
        }
    }

    /// A step that must succeed with the outcome named `want` (`"applied"`, `"queued"`, ...).
    pub(crate) fn outcome(
        &mut self,
        provider: &str,
        step: &str,
        want: &str,
        result: &Result<Outcome, Error>,
    ) -> bool {
        let ok = matches!(result, Ok(o) if o.as_str() == want);
        self.step(provider, step, want, describe(result), ok);
        ok
    }

    /// A step that must fail with `kind` and, when given, the provider code `code`.
    pub(crate) fn error<T>(
        &mut self,
        provider: &str,
        step: &str,
        kind: ErrorKind,
        code: Option<&str>,
        result: &Result<T, Error>,
    ) -> bool {
        let expected = match code {
            Some(c) => format!("{kind} (code {c})"),
            None => kind.to_string(),
        };
        let (ok, got) = match result {
            Ok(_) => (false, "succeeded".to_owned()),
            Err(e) => (
                e.kind() == kind && (code.is_none() || e.code() == code),
                describe_error(e),
            ),
        };
        self.step(provider, step, expected, got, ok);
        ok
    }

    fn finish(self) -> Exit {
        let total = self.passed + self.failed.len();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out);
        if self.failed.is_empty() {
            let _ = writeln!(out, "{total}/{total} steps behaved as the contracts say.");
            Exit::Ok
        } else {
            let _ = writeln!(
                out,
                "{}/{total} steps behaved as the contracts say; these did not:",
                self.passed
            );
            for f in &self.failed {
                let _ = writeln!(out, "  - {f}");
            }
            Exit::Failed
        }
    }
}

/// The `Retry-After` (seconds) of the tour's injected 429s: the wait its steps check.
pub(crate) const RETRY_AFTER_SECS: u64 = 1;

/// The last arrival number in the sandbox's journal: a step's requests are those after it.
pub(crate) fn journal_mark(sandbox: &Sandbox) -> u64 {
    sandbox
        .journal()
        .entries()
        .iter()
        .map(|e| e.seq)
        .max()
        .unwrap_or(0)
}

/// The requests `provider` received after `mark`, and the time between the first one's reply
/// and the second one's arrival, measured by the sandbox where the requests land.
pub(crate) fn requests_and_wait(
    sandbox: &Sandbox,
    provider: Provider,
    mark: u64,
) -> (usize, Option<Duration>) {
    let mut entries: Vec<_> = sandbox
        .journal()
        .entries_for(provider)
        .into_iter()
        .filter(|e| e.seq > mark)
        .collect();
    entries.sort_by_key(|e| e.seq);
    let wait = match entries.as_slice() {
        [first, second, ..] => Some(second.received_at.saturating_sub(first.finished_at)),
        _ => None,
    };
    (entries.len(), wait)
}

/// The verdict of a "429 with `Retry-After` is waited out" step: applied after exactly two
/// requests, the second no sooner than [`RETRY_AFTER_SECS`] after the 429 went out.
pub(crate) fn waited_out(
    tour: &mut Tour,
    provider: &str,
    step: &str,
    result: &Result<Outcome, Error>,
    (sent, wait): (usize, Option<Duration>),
) {
    let asked = Duration::from_secs(RETRY_AFTER_SECS);
    let ok = matches!(result, Ok(o) if o.as_str() == "applied")
        && sent == 2
        && wait.is_some_and(|w| w >= asked);
    let waited = wait.map_or_else(|| "-".to_owned(), |w| format!("{:.2} s", w.as_secs_f64()));
    tour.step(
        provider,
        step,
        format!("applied after 2 requests, ≥ {RETRY_AFTER_SECS} s apart"),
        format!("{} after {sent} requests, {waited} apart", describe(result)),
        ok,
    );
}

/// A short description of a result for the GOT column.
pub(crate) fn describe(result: &Result<Outcome, Error>) -> String {
    match result {
        Ok(o) => {
            let mut s = o.as_str().to_owned();
            if let Some(roster) = o.roster() {
                let names: Vec<String> = roster.iter().map(ToString::to_string).collect();
                s.push_str(&format!(" [{}]", names.join(", ")));
            }
            if let Some(t) = o.trace_id() {
                s.push_str(&format!(" trace {t}"));
            }
            s
        }
        Err(e) => describe_error(e),
    }
}

fn describe_error(e: &Error) -> String {
    let mut s = e.kind().to_string();
    if let Some(c) = e.code() {
        s.push_str(&format!(" code {c}"));
    }
    if let Some(st) = e.http_status() {
        s.push_str(&format!(" HTTP {st}"));
    }
    if e.attempts() > 1 {
        s.push_str(&format!(" after {} attempts", e.attempts()));
    }
    s
}

/// Runs the tour; exits 0 only when every step behaved as the contract says.
pub(crate) async fn run() -> Exit {
    let sandbox = match Sandbox::start().await {
        Ok(s) => s,
        Err(e) => {
            crate::eprint_line(&format!("error: cannot start the sandbox: {e}"));
            return Exit::Failed;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "rosterkit tour: every provider's contract against the embedded sandbox at {}\n",
            sandbox.base_url()
        );
    }
    let mut tour = Tour::new();
    chert::run(&sandbox, &mut tour).await;
    linq::run(&sandbox, &mut tour).await;
    zapi::run(&sandbox, &mut tour).await;
    acs::run(&sandbox, &mut tour).await;
    matrix::run(&mut tour).await;
    sync::run(&sandbox, &mut tour).await;
    bulk::run(&sandbox, &mut tour).await;
    sandbox.shutdown().await;
    tour.finish()
}
