//! `rosterkit bulk`: many changes from a JSON-lines or CSV file, one JSON result line each.
//!
//! Input rows have the fields `op` (`remove` | `add` | `leave`; `operation` is accepted too, so
//! a results file can be fed back), `provider`, `chat` and `handle` (empty for `leave`). CSV
//! takes them positionally, or by name after a header line; the header is checked once, before
//! any request. Each row keeps the number of the line it starts on (1-based), which every result
//! line carries as `line`, beside the row's `fingerprint` (see [`key`]).
//!
//! Result lines are the `Record` shape of the other commands plus `line` and `fingerprint`, and
//! on failures `maybe_applied` (the provider or the transport left it open whether the change
//! happened) and, for rows that are not operations, `invalid_row`.
//!
//! Exit status: 0 when every operation succeeded; 1 when any failed, a signal stopped the run,
//! or results could not be written; 2 for usage errors and when every row was refused before
//! any request (nothing was sent).
//!
//! Resume is keyed by content: see [`resume`].
//!
//! The files: [`input`] reads rows, [`key`] fingerprints and shards them, [`resume`] decides
//! what an earlier run finished, [`report`] writes result lines and the summary, [`run`] ties
//! them to the engine and the signals.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::commands::Exit;

pub(crate) mod input;
pub(crate) mod key;
mod report;
pub(crate) mod resume;
pub(crate) mod run;

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct BulkArgs {
    /// Operations: JSON lines or CSV with the fields op, provider, chat, handle; `-` for stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Input format; by default from the extension (.csv, .jsonl, .ndjson), else the first line.
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    /// Calls (or native batches) in flight at once; rows on one chat always run in order.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) concurrency: u16,
    /// Write the result lines to FILE instead of stdout (appended if FILE is the --resume file).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Skip the rows an earlier run finished, as recorded in its results file (matched by each
    /// row's fingerprint, so rows added, removed or moved since are handled). Needs --file FILE.
    #[arg(long, value_name = "RESULTS")]
    pub(crate) resume: Option<PathBuf>,
    /// Run only the rows whose chat falls in shard I of N (0-based), for N processes splitting
    /// one file; rows of one chat stay in one shard, in order.
    #[arg(long, value_name = "I/N", value_parser = key::Shard::parse)]
    pub(crate) shard: Option<key::Shard>,
    /// Ensure mode: "already not a member" / "already left" count as done, so repeats are safe.
    #[arg(long)]
    pub(crate) ensure: bool,
    /// The end-of-run summary on stderr: a table, or one JSON object.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Table, value_name = "FORMAT")]
    pub(crate) summary_format: SummaryFormat,
    /// Replaced by --summary-format json (bulk results are always JSON lines).
    #[arg(long, hide = true)]
    pub(crate) json: bool,
    /// No progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// Print only errors on stderr: no progress bar, notes or summary.
    #[arg(long, short = 'q')]
    pub(crate) quiet: bool,
    /// Pace a provider: PROVIDER=RATE across its chats, PROVIDER/chat=RATE within each chat
    /// (e.g. linq=5/s, chert/chat=1/2s). Off by default; ACS and Z-API pace themselves. Pacing
    /// is per process: with --shard, each shard paces on its own.
    #[arg(long, value_name = "SPEC")]
    pub(crate) pace: Vec<String>,
    /// Seconds in-flight calls may take to finish after SIGINT (Ctrl-C) or SIGTERM; a second
    /// signal stops at once.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub(crate) grace: u64,
    #[command(flatten)]
    pub(crate) attempts: crate::args::Attempts,
    /// Allow plain http:// to a non-loopback host.
    #[arg(long)]
    pub(crate) allow_insecure_http: bool,
}

const AFTER_HELP: &str = "\
Result lines (stdout or --out), one per input row:
  {\"line\":3,\"fingerprint\":\"9f0c…\",\"provider\":\"chert\",\"operation\":\"remove\",\"chat\":\"…\",
   \"handle\":\"…\",\"outcome\":\"applied\"}
  outcome: applied | queued | already_done | unconfirmed | failed (with error and maybe_applied)

Resume: a row is skipped when the --resume file has a result for the same fingerprint
(op, provider, chat, handle) that may have taken effect, or that refused the same row as
invalid; everything else runs again. A result line cut off by a crash counts as maybe_applied.

Sharding: the shard of a row is FNV-1a-64(chat id as UTF-8) mod N. Kubernetes Indexed Job:
  rosterkit bulk -f ops.csv --shard \"$JOB_COMPLETION_INDEX/4\" --out results-$JOB_COMPLETION_INDEX.jsonl
Not coordinated across shards: --pace and the provider's per-account rate limits.

Signals: SIGINT or SIGTERM stops intake, lets calls in flight finish (--grace), writes their
results and exits 1; a second signal stops at once.";

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values, optionally with a header line.
    Csv,
}

/// How the end-of-run summary is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SummaryFormat {
    /// An aligned table with a legend.
    Table,
    /// One JSON object.
    Json,
}

/// `rosterkit bulk`.
pub(crate) async fn run(args: BulkArgs) -> Exit {
    if args.json {
        crate::eprint_line(
            "error: bulk always writes JSON result lines; for the summary as JSON use \
             --summary-format json",
        );
        return Exit::Usage;
    }
    run::run(args).await
}
