//! What a bulk run writes: one JSON result line per row, the progress bar and the summary.

use std::{
    collections::BTreeMap,
    io::{self, IsTerminal, Write},
    time::Duration,
};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use rosterkit::{ErrorKind, bulk::BulkResult};
use serde::Serialize;

use super::{
    SummaryFormat,
    key::{Fingerprint, field_text},
};
use crate::output::{self, ErrorRecord, Record};

/// One result line: the `Record` of the other commands plus `line`, `fingerprint` and, on
/// failures, `maybe_applied` and `invalid_row`. `line` and `fingerprint` come first, so a line
/// cut off by a crash still says which row it was about.
#[derive(Debug, Serialize)]
struct ResultLine<'a> {
    line: u64,
    fingerprint: String,
    provider: &'a str,
    operation: &'a str,
    chat: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle: Option<&'a str>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    participants: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maybe_applied: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    invalid_row: bool,
}

/// Writes one result line.
pub(crate) fn write_result(out: &mut impl Write, result: &BulkResult) -> io::Result<()> {
    let maybe_applied = result.result.is_err().then(|| result.may_have_applied());
    let fingerprint = Fingerprint::of(result.op.as_ref()).to_string();
    let (provider, operation, chat, handle, record) = match &result.op {
        Ok(op) => {
            let mut record = Record::new(
                op.provider().as_str(),
                op.kind().as_str(),
                op.chat().as_str(),
                op.handle(),
                &result.result,
            );
            if let (Err(e), Some(error)) = (&result.result, record.error.as_mut()) {
                error.message = crate::messages::for_cli_at(e, op.provider(), None);
            }
            (
                op.provider().as_str(),
                op.kind().as_str(),
                None,
                None,
                record,
            )
        }
        Err(raw) => {
            let record = Record::new("", "", "", None, &result.result);
            let text = field_text;
            (
                text(&raw.provider),
                text(&raw.op),
                Some(text(&raw.chat)),
                raw.handle
                    .as_deref()
                    .map(str::trim)
                    .filter(|h| !h.is_empty()),
                record,
            )
        }
    };
    let line = ResultLine {
        line: result.line,
        fingerprint,
        provider,
        operation,
        chat: chat.unwrap_or(&record.chat),
        handle: handle.or(record.handle.as_deref()),
        outcome: record.outcome,
        participants: record.participants,
        trace_id: record.trace_id,
        error: record.error,
        maybe_applied,
        invalid_row: result.op.is_err(),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// What the summary counts, from the lines written.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Summary {
    pub(crate) results: u64,
    pub(crate) applied: u64,
    pub(crate) queued: u64,
    pub(crate) already_done: u64,
    pub(crate) unconfirmed: u64,
    pub(crate) failed: u64,
    pub(crate) failed_by_kind: BTreeMap<&'static str, u64>,
    /// Failures after which the change may have happened (not re-run by --resume), and rows
    /// skipped because an earlier run's result line was cut off.
    pub(crate) maybe_applied: u64,
    /// Rows skipped as finished in the --resume file.
    pub(crate) skipped: u64,
    /// Rows skipped because the --resume file refused the same row as invalid.
    pub(crate) skipped_invalid: u64,
    /// Rows skipped because the --resume file's result for them was cut off (unknown).
    pub(crate) skipped_unknown: u64,
    /// Rows left to the other shards (--shard).
    pub(crate) other_shards: u64,
    /// Rows read but never started because of a signal (nothing sent; --resume runs them).
    pub(crate) not_started: u64,
    /// Calls cut off at the end of the grace period after a signal.
    pub(crate) interrupted: u64,
    /// Whether a signal stopped the run before the input ended.
    pub(crate) stopped: bool,
    pub(crate) elapsed_ms: u64,
    /// Failures refused before any request (bad rows, missing credentials).
    #[serde(skip)]
    pub(crate) refused_locally: u64,
}

impl Summary {
    pub(crate) fn count(&mut self, result: &BulkResult) {
        self.results += 1;
        match &result.result {
            Ok(outcome) => match outcome.as_str() {
                "applied" => self.applied += 1,
                "queued" => self.queued += 1,
                "already_done" => self.already_done += 1,
                _ => self.unconfirmed += 1,
            },
            Err(e) => {
                self.failed += 1;
                *self.failed_by_kind.entry(e.kind().as_str()).or_default() += 1;
                if e.is_ambiguous() {
                    self.maybe_applied += 1;
                }
                if e.kind() == ErrorKind::InvalidInput && e.attempts() == 0 {
                    self.refused_locally += 1;
                }
            }
        }
    }

    pub(crate) fn print(&self, format: SummaryFormat) -> io::Result<()> {
        let mut err = io::stderr().lock();
        if format == SummaryFormat::Json {
            serde_json::to_writer(&mut err, self)?;
            return writeln!(err);
        }
        let secs = self.elapsed_ms as f64 / 1000.0;
        let rate = if secs > 0.0 {
            self.results as f64 / secs
        } else {
            0.0
        };
        writeln!(
            err,
            "\n{} results in {secs:.1} s ({rate:.0}/s)",
            self.results
        )?;
        let mut rows: Vec<[String; 2]> = [
            ("applied", self.applied),
            ("queued", self.queued),
            ("already done", self.already_done),
            ("unconfirmed", self.unconfirmed),
            ("failed", self.failed),
        ]
        .into_iter()
        .map(|(k, v)| [k.to_owned(), v.to_string()])
        .collect();
        for (kind, n) in &self.failed_by_kind {
            rows.push([format!("  {kind}"), n.to_string()]);
        }
        let optional = [
            ("  (may have applied)", self.maybe_applied),
            ("skipped (finished before)", self.skipped),
            ("skipped (invalid before)", self.skipped_invalid),
            ("skipped (result cut off)", self.skipped_unknown),
            ("other shards", self.other_shards),
            ("interrupted (signal)", self.interrupted),
        ];
        rows.extend(
            optional
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| [k.to_owned(), n.to_string()]),
        );
        if self.stopped {
            rows.push([
                "not started (signal)".to_owned(),
                self.not_started.to_string(),
            ]);
        }
        output::table(&mut err, ["OUTCOME", "COUNT"], &rows)?;
        writeln!(err, "{}", output::LEGEND)?;
        if self.skipped_invalid > 0 {
            writeln!(
                err,
                "rows refused as invalid before were skipped: fix them and resume to run them"
            )?;
        }
        if self.stopped {
            writeln!(
                err,
                "stopped by a signal: run again with --resume to do the rest (rows with a result \
                 that may have taken effect are not repeated)"
            )?;
        }
        err.flush()
    }
}

/// The progress bar on stderr, when it is a terminal and not turned off. Its length counts the
/// rows this run will send (skipped rows shorten it), and the ETA is the remaining rows over
/// the rate so far, shown once there is a rate to go by.
pub(crate) fn progress_bar(total: Option<u64>, enabled: bool) -> ProgressBar {
    if !enabled || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(len) => (
            ProgressBar::new(len),
            "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {rate} ETA {honest_eta} {msg}",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} {elapsed_precise} {pos} {rate} {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        let style = style
            .with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0}/s", average_rate(state));
                },
            )
            .with_key(
                "honest_eta",
                |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&eta(state.pos(), state.len(), state.elapsed()));
                },
            );
        bar.set_style(style);
    }
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(5));
    bar
}

fn average_rate(state: &ProgressState) -> f64 {
    let secs = state.elapsed().as_secs_f64();
    if secs > 0.0 {
        state.pos() as f64 / secs
    } else {
        0.0
    }
}

/// Remaining rows over the average rate since the start: steady under pacing, where the rate
/// is the pace. `?` until a second has passed and a row has finished.
fn eta(done: u64, len: Option<u64>, elapsed: Duration) -> String {
    let Some(len) = len else {
        return "?".to_owned();
    };
    if done == 0 || elapsed < Duration::from_secs(1) {
        return "?".to_owned();
    }
    let left = len.saturating_sub(done) as f64;
    let secs = (left * elapsed.as_secs_f64() / done as f64).min(1e7) as u64;
    match secs {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_unknown_then_remaining_over_average_rate() {
        assert_eq!(eta(0, Some(100), Duration::from_secs(5)), "?");
        assert_eq!(eta(5, Some(100), Duration::from_millis(500)), "?");
        // Paced at 1 row/s: 10 done in 10 s, 90 left.
        assert_eq!(eta(10, Some(100), Duration::from_secs(10)), "1m30s");
        assert_eq!(eta(1, Some(10_000), Duration::from_secs(2)), "5h33m");
        assert_eq!(eta(100, Some(100), Duration::from_secs(2)), "0s");
        assert_eq!(eta(1, None, Duration::from_secs(2)), "?");
    }
}
