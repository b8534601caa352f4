//! A bulk run: the checks before any request, the reader thread, the engine, the signals and
//! the exit status.

use std::{
    collections::HashMap,
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Seek, SeekFrom, Write},
    path::Path,
    time::{Duration, Instant},
};

use indicatif::ProgressBar;
use rosterkit::{
    ConnectOptions, Error, ProviderName,
    bulk::{Bulk, BulkPacing, BulkStats, Clients, Rate, Row},
};
use tokio::sync::mpsc;

use super::{
    BulkArgs, Format,
    input::Rows,
    key::{Fingerprint, Shard},
    report::{self, Summary},
    resume::{self, Skip},
};
use crate::commands::Exit;

/// Rows read ahead of the run.
const INPUT_BUFFER: usize = 256;

/// `rosterkit bulk`, once `args` passed clap.
pub(crate) async fn run(args: BulkArgs) -> Exit {
    let plan = match Plan::new(&args) {
        Ok(plan) => plan,
        Err(message) => {
            crate::eprint_line(&format!("error: {message}"));
            return Exit::Usage;
        }
    };
    execute(args, plan).await
}

/// Everything checked before any request is sent.
struct Plan {
    rows: Rows,
    out: Box<dyn Write + Send>,
    skips: HashMap<u64, Skip>,
    resume_note: Option<String>,
    pacing: Vec<(ProviderName, BulkPacing)>,
    total: Option<u64>,
}

impl Plan {
    fn new(args: &BulkArgs) -> Result<Self, String> {
        let mut pacing: Vec<(ProviderName, BulkPacing)> = Vec::new();
        for spec in &args.pace {
            let (provider, pace) = parse_pace(spec)?;
            match pacing.iter_mut().find(|(p, _)| *p == provider) {
                Some((_, existing)) => {
                    *existing = existing
                        .with_per_provider(pace.per_provider.or(existing.per_provider))
                        .with_per_chat(pace.per_chat.or(existing.per_chat));
                }
                None => pacing.push((provider, pace)),
            }
        }
        let stdin = args.file.as_os_str() == "-";
        if stdin && args.resume.is_some() {
            return Err(
                "--resume needs the input as a file (--file FILE, not -): the input is \
                 matched against the results before anything is sent"
                    .to_owned(),
            );
        }
        let format = args
            .format
            .or_else(|| match args.file.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("csv") => Some(Format::Csv),
                Some(e)
                    if ["jsonl", "ndjson", "json"]
                        .iter()
                        .any(|j| e.eq_ignore_ascii_case(j)) =>
                {
                    Some(Format::Jsonl)
                }
                _ => None,
            });
        let open = || -> Result<Box<dyn Read + Send>, String> {
            if stdin {
                return Ok(Box::new(io::stdin()));
            }
            File::open(&args.file)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| format!("cannot read {}: {e}", args.file.display()))
        };
        let rows = Rows::open(open()?, format)?;
        let (skips, resume_note) = match &args.resume {
            Some(path) => {
                let priors = resume::load(path, args.ensure)?;
                let mut keys = Vec::new();
                let mut last_line = 0;
                for row in Rows::open(open()?, format)? {
                    let row = row?;
                    last_line = last_line.max(row.line);
                    let op = row.op.as_ref().map_err(|bad| &bad.raw);
                    if args.shard.is_none_or(|s| s.holds(Shard::chat_of(op))) {
                        keys.push((row.line, Fingerprint::of(op)));
                    }
                }
                let matched = priors
                    .match_rows(keys, last_line)
                    .map_err(|e| resume::message(path, &e))?;
                let note = matched.note(path);
                (matched.skips, Some(note))
            }
            None => (HashMap::new(), None),
        };
        let out: Box<dyn Write + Send> = match &args.out {
            Some(path) if !stdin && same_file(path, &args.file) => {
                return Err(format!(
                    "--out {} is the input file; write the results elsewhere",
                    path.display()
                ));
            }
            None => Box::new(io::stdout()),
            Some(path) => Box::new(open_out(path, args.resume.as_deref())?),
        };
        // The progress bar's length: only worth a pass over the file when someone watches.
        let total = if io::stderr().is_terminal() && !stdin && !args.quiet && !args.no_progress {
            count_lines(&args.file).ok()
        } else {
            None
        };
        Ok(Self {
            rows,
            out,
            skips,
            resume_note,
            pacing,
            total,
        })
    }
}

/// `--out FILE`: created or truncated, except when it is the `--resume` file, which is appended
/// to (after a newline if a killed run left a partial last line).
pub(crate) fn open_out(path: &Path, resume: Option<&Path>) -> Result<File, String> {
    let same = resume.is_some_and(|r| same_file(r, path));
    let fail = |e: io::Error| format!("cannot write {}: {e}", path.display());
    if !same {
        return File::create(path).map_err(fail);
    }
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(fail)?;
    let len = file.metadata().map_err(fail)?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1)).map_err(fail)?;
        file.read_exact(&mut last).map_err(fail)?;
        if last != *b"\n" {
            file.write_all(b"\n").map_err(fail)?;
        }
    }
    Ok(file)
}

/// Whether both paths name one existing file.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(a), Ok(b)) if a == b
    )
}

fn parse_pace(spec: &str) -> Result<(ProviderName, BulkPacing), String> {
    let bad = |why: String| format!("invalid --pace {spec:?}: {why}");
    let (target, rate) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected PROVIDER=RATE or PROVIDER/chat=RATE".to_owned()))?;
    let rate: Rate = rate.parse().map_err(|e: Error| bad(e.message()))?;
    let (provider, per_chat) = match target.trim().split_once('/') {
        Some((p, scope)) if scope.trim().eq_ignore_ascii_case("chat") => (p, true),
        Some(_) => return Err(bad("the scope after '/' can only be `chat`".to_owned())),
        None => (target, false),
    };
    let provider: ProviderName = provider.parse().map_err(|e| bad(format!("{e}")))?;
    let pacing = if per_chat {
        BulkPacing::none().with_per_chat(Some(rate))
    } else {
        BulkPacing::none().with_per_provider(Some(rate))
    };
    Ok((provider, pacing))
}

fn count_lines(path: &Path) -> io::Result<u64> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut lines = 0u64;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(lines);
        }
        lines += buf.iter().filter(|b| **b == b'\n').count() as u64;
        let n = buf.len();
        reader.consume(n);
    }
}

/// What the reader sends back when the input ends (or the run stops taking rows).
#[derive(Debug, Default)]
struct ReadStats {
    skipped: u64,
    skipped_invalid: u64,
    skipped_unknown: u64,
    other_shards: u64,
    error: Option<String>,
}

/// Reads rows on a blocking thread, leaves out other shards' rows and finished ones, and sends
/// the rest to the run; stops when the run stops taking them.
fn pump(
    rows: Rows,
    shard: Option<Shard>,
    mut skips: HashMap<u64, Skip>,
    tx: &mpsc::Sender<Row>,
    progress: &ProgressBar,
) -> ReadStats {
    let mut stats = ReadStats::default();
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                stats.error = Some(e);
                return stats;
            }
        };
        let op = row.op.as_ref().map_err(|bad| &bad.raw);
        let counter = if shard.is_some_and(|s| !s.holds(Shard::chat_of(op))) {
            Some(&mut stats.other_shards)
        } else {
            match skips.remove(&row.line) {
                Some(Skip::Finished) => Some(&mut stats.skipped),
                Some(Skip::Invalid) => Some(&mut stats.skipped_invalid),
                Some(Skip::Unknown) => Some(&mut stats.skipped_unknown),
                None => None,
            }
        };
        if let Some(counter) = counter {
            *counter += 1;
            progress.dec_length(1);
            continue;
        }
        if tx.blocking_send(row).is_err() {
            // The run stopped taking rows (a signal, or results cannot be written).
            return stats;
        }
    }
    stats
}

/// SIGINT (Ctrl-C) and, on Unix, SIGTERM: what `timeout`, systemd, `docker stop` and
/// Kubernetes send.
pub(crate) struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// The next signal's name.
    pub(crate) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                Ok(()) = tokio::signal::ctrl_c() => "SIGINT",
                Some(()) = self.term.recv() => "SIGTERM",
                else => std::future::pending().await,
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(_) => std::future::pending().await,
            }
        }
    }
}

async fn execute(args: BulkArgs, plan: Plan) -> Exit {
    let started = Instant::now();
    let Plan {
        rows,
        mut out,
        skips,
        resume_note,
        pacing,
        total,
    } = plan;
    let note = |line: &str, progress: &ProgressBar| {
        if !args.quiet {
            progress.suspend(|| crate::eprint_line(line));
        }
    };
    // Before anything is sent: from here on a signal stops the run instead of killing it.
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            crate::eprint_line(&format!("error: cannot handle signals: {e}"));
            return Exit::Failed;
        }
    };
    let progress = report::progress_bar(total, !args.quiet && !args.no_progress);
    if let Some(line) = resume_note {
        note(&line, &progress);
    }

    let retries = args.attempts.policy();
    let options = ConnectOptions::default()
        .with_retry_policy(retries)
        .with_insecure_http(args.allow_insecure_http);
    let mut bulk = Bulk::new(Clients::from_env(options))
        .concurrency(usize::from(args.concurrency))
        .ensure(args.ensure)
        .grace(Duration::from_secs(args.grace));
    for (provider, pace) in pacing {
        bulk = bulk.pacing(provider, pace);
    }

    let (tx, input_rx) = mpsc::channel(INPUT_BUFFER);
    let mut run = bulk.start(input_rx);
    // A plain thread, not `spawn_blocking`: a read blocked on an open stdin must not keep the
    // process from exiting after a signal.
    let (read_done, reader) = tokio::sync::oneshot::channel();
    let reader_progress = progress.clone();
    let shard = args.shard;
    let spawned = std::thread::Builder::new()
        .name("rosterkit-bulk-reader".to_owned())
        .spawn(move || {
            let stats = pump(rows, shard, skips, &tx, &reader_progress);
            let _ = read_done.send(stats);
        });
    if let Err(e) = spawned {
        crate::eprint_line(&format!("error: cannot start the input reader: {e}"));
        return Exit::Failed;
    }

    let stop = run.stop_handle();
    let signal_progress = progress.clone();
    let (grace, quiet) = (args.grace, args.quiet);
    let on_signal = tokio::spawn(async move {
        let name = signals.next().await;
        stop.stop();
        if !quiet {
            signal_progress.suspend(|| {
                crate::eprint_line(&format!(
                    "{name}: stopping: no new operations; waiting up to {grace} s for those in \
                     flight (a second signal stops now)"
                ));
            });
        }
        signals.next().await;
        stop.stop_now();
    });

    let mut summary = Summary::default();
    let mut out = BufWriter::new(&mut out);
    let mut write_error: Option<io::Error> = None;
    let mut unwritten = 0u64;
    loop {
        let result = match run.try_next() {
            Some(r) => r,
            None => {
                if write_error.is_none()
                    && let Err(e) = out.flush()
                {
                    write_error = Some(e);
                    run.stop_handle().stop();
                }
                match run.next().await {
                    Some(r) => r,
                    None => break,
                }
            }
        };
        if write_error.is_none() {
            match report::write_result(&mut out, &result) {
                Ok(()) => summary.count(&result),
                Err(e) => {
                    write_error = Some(e);
                    // Results that cannot be recorded must not pile up: take no new rows.
                    run.stop_handle().stop();
                    unwritten += 1;
                }
            }
        } else {
            unwritten += 1;
        }
        progress.inc(1);
        if summary.failed > 0 {
            progress.set_message(format!("{} failed", summary.failed));
        }
    }
    if write_error.is_none()
        && let Err(e) = out.flush()
    {
        write_error = Some(e);
    }
    drop(out);
    let BulkStats {
        not_started,
        interrupted,
        stopped,
        ..
    } = run.finish().await;
    on_signal.abort();
    // The reader has ended unless the run was stopped while it waited on its input.
    let read = match tokio::time::timeout(Duration::from_secs(1), reader).await {
        Ok(Ok(stats)) => stats,
        _ => ReadStats::default(),
    };
    progress.finish_and_clear();

    // A closed pipe (`| head`) ends the run quietly, as Unix tools do.
    let broken_pipe = write_error
        .as_ref()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe);
    summary.skipped = read.skipped;
    summary.skipped_invalid = read.skipped_invalid;
    summary.skipped_unknown = read.skipped_unknown;
    summary.maybe_applied += read.skipped_unknown;
    summary.other_shards = read.other_shards;
    summary.not_started = not_started;
    summary.interrupted = interrupted;
    summary.stopped = stopped && write_error.is_none();
    summary.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !args.quiet && !broken_pipe {
        let _ = summary.print(args.summary_format);
    }

    if let Some(e) = &read.error {
        crate::eprint_line(&format!("error: {e}; the rest of the input was not read"));
    }
    if let Some(e) = write_error.as_ref().filter(|_| !broken_pipe) {
        crate::eprint_line(&format!(
            "error: writing results: {e}; {unwritten} results were lost and the run was stopped \
             (re-running those rows with --resume repeats them: use --ensure)"
        ));
    }
    if write_error.is_some() || read.error.is_some() || stopped {
        Exit::Failed
    } else if summary.results > 0 && summary.refused_locally == summary.results {
        // Every row was refused before any request: bad input, nothing sent.
        Exit::Usage
    } else if summary.failed > 0 {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_specs() {
        let (p, pace) = parse_pace("linq=5/s").unwrap();
        assert_eq!(p, rosterkit::ProviderKind::Linq);
        assert_eq!(
            pace.per_provider.unwrap().interval(),
            Duration::from_millis(200)
        );
        let (p, pace) = parse_pace("chert/chat=1/2s").unwrap();
        assert_eq!(p, rosterkit::ProviderKind::Chert);
        assert_eq!(pace.per_chat.unwrap().interval(), Duration::from_secs(2));
        for bad in ["linq", "linq=fast", "telegram=1/s", "chert/group=1/s"] {
            assert!(parse_pace(bad).is_err(), "{bad}");
        }
    }
}
