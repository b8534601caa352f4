//! `rosterkit bulk`: many changes from a JSON-lines or CSV file, one JSON result line each.
//!
//! Input rows have the fields `op` (`remove` | `add` | `leave`; `operation` is accepted too, so
//! a results file can be fed back), `provider`, `chat` and `handle` (empty for `leave`). CSV
//! takes them positionally, or by name after a header line naming `op`. Each row keeps its
//! physical line number (1-based), which every result line carries as `line`.
//!
//! Result lines are the `Record` shape of the other commands plus `line`, and on failures
//! `maybe_applied` (the provider or the transport left it open whether the change happened).
//!
//! Exit status: 0 when every operation succeeded; 1 when any failed, Ctrl-C stopped the run, or
//! results could not be written; 2 for usage errors and when every row was refused before any
//! request (nothing was sent).
//!
//! Resume: an input line counts as *finished* when any result line for it in the `--resume`
//! file says the change may have taken effect — an outcome other than `failed`, or a failure
//! with `maybe_applied: true`. Those are skipped; everything else runs again: failures the
//! provider definitely did not apply (a repeat cannot do twice what was never done, and fixed
//! rows or credentials get picked up) and lines with no result (never sent, or in flight when
//! the run was killed). With `--ensure`, `maybe_applied` failures of `remove` and `leave` run
//! again as well, since ensure mode turns "already done" into success.

use std::{
    fmt::Write as _,
    fs::{File, OpenOptions},
    io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rosterkit::{
    ConnectOptions, Error, ErrorKind, ProviderKind, RetryPolicy,
    bulk::{Bulk, BulkPacing, BulkResult, BulkStats, Clients, Rate, RawOp, Row},
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::{
    commands::Exit,
    output::{self, ErrorRecord, Record},
};

/// The longest input line accepted; longer lines are refused (and skipped) as bad rows.
const MAX_LINE: usize = 64 * 1024;
/// Rows read ahead of the run.
const INPUT_BUFFER: usize = 256;

#[derive(Debug, Args)]
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
    /// Skip the lines an earlier run finished, as recorded in its results file.
    #[arg(long, value_name = "RESULTS")]
    pub(crate) resume: Option<PathBuf>,
    /// Ensure mode: "already not a member" / "already left" count as done, so repeats are safe.
    #[arg(long)]
    pub(crate) ensure: bool,
    /// Print the end-of-run summary as one JSON object (on stderr) instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Pace a provider: PROVIDER=RATE across its chats, PROVIDER/chat=RATE within each chat
    /// (e.g. linq=5/s, chert/chat=1/2s). Off by default; ACS and Z-API pace themselves.
    #[arg(long, value_name = "SPEC")]
    pub(crate) pace: Vec<String>,
    /// Seconds in-flight calls may take to finish after Ctrl-C (a second Ctrl-C stops at once).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub(crate) grace: u64,
    /// Retries after the first attempt of each call.
    #[arg(long, default_value_t = 2)]
    pub(crate) max_retries: u32,
    /// Allow plain http:// to a non-loopback host.
    #[arg(long)]
    pub(crate) allow_insecure_http: bool,
}

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values, optionally with a header line.
    Csv,
}

/// `rosterkit bulk`.
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
    input: Box<dyn BufRead + Send>,
    format: Option<Format>,
    out: Box<dyn Write + Send>,
    skip: LineSet,
    resume_note: Option<String>,
    pacing: Vec<(ProviderKind, BulkPacing)>,
    total: Option<u64>,
}

impl Plan {
    fn new(args: &BulkArgs) -> Result<Self, String> {
        let mut pacing: Vec<(ProviderKind, BulkPacing)> = Vec::new();
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
        let input: Box<dyn BufRead + Send> = if stdin {
            Box::new(BufReader::new(io::stdin()))
        } else {
            let file = File::open(&args.file)
                .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
            Box::new(BufReader::new(file))
        };
        let (skip, resume_note) = match &args.resume {
            Some(path) => {
                let (skip, note) = load_resume(path, args.ensure)?;
                (skip, Some(note))
            }
            None => (LineSet::default(), None),
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
        let total = if io::stderr().is_terminal() && !stdin {
            count_lines(&args.file).ok()
        } else {
            None
        };
        Ok(Self {
            input,
            format,
            out,
            skip,
            resume_note,
            pacing,
            total,
        })
    }
}

/// `--out FILE`: created or truncated, except when it is the `--resume` file, which is appended
/// to (after a newline if a killed run left a partial last line).
fn open_out(path: &Path, resume: Option<&Path>) -> Result<File, String> {
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
fn same_file(a: &Path, b: &Path) -> bool {
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(a), Ok(b)) if a == b
    )
}

fn parse_pace(spec: &str) -> Result<(ProviderKind, BulkPacing), String> {
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
    let provider: ProviderKind = provider.parse().map_err(|e| bad(format!("{e}")))?;
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

/// A set of line numbers, one bit each: the resume skip set stays small (125 KiB per million
/// lines) and never holds the lines themselves.
#[derive(Debug, Default)]
pub(crate) struct LineSet {
    words: Vec<u64>,
    len: u64,
}

impl LineSet {
    pub(crate) fn insert(&mut self, line: u64) {
        let Ok(index) = usize::try_from(line / 64) else {
            return;
        };
        if index >= self.words.len() {
            self.words.resize(index + 1, 0);
        }
        if let Some(word) = self.words.get_mut(index) {
            let bit = 1u64 << (line % 64);
            if *word & bit == 0 {
                *word |= bit;
                self.len += 1;
            }
        }
    }

    pub(crate) fn contains(&self, line: u64) -> bool {
        usize::try_from(line / 64)
            .ok()
            .and_then(|i| self.words.get(i))
            .is_some_and(|word| word & (1u64 << (line % 64)) != 0)
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }
}

/// What resume reads from an earlier result line; other fields are ignored.
#[derive(Deserialize)]
struct Prior {
    line: u64,
    outcome: String,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    maybe_applied: bool,
}

impl Prior {
    /// Whether the line must not run again (see the module docs).
    fn finished(&self, ensure: bool) -> bool {
        if self.outcome != "failed" {
            return true;
        }
        let repeat_is_safe =
            ensure && matches!(self.operation.as_deref(), Some("remove" | "leave"));
        self.maybe_applied && !repeat_is_safe
    }
}

fn load_resume(path: &Path, ensure: bool) -> Result<(LineSet, String), String> {
    let file = File::open(path).map_err(|e| {
        format!(
            "cannot read the --resume file {}: {e} (omit --resume on a first run)",
            path.display()
        )
    })?;
    let mut reader = BufReader::new(file);
    let mut skip = LineSet::default();
    let (mut read, mut unreadable) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        read += 1;
        match serde_json::from_slice::<Prior>(&buf) {
            Ok(prior) if prior.finished(ensure) => skip.insert(prior.line),
            Ok(_) => {}
            // Typically the last line of a killed run, cut mid-write.
            Err(_) => unreadable += 1,
        }
    }
    let mut note = format!(
        "resume: {} of {read} result lines in {} are finished; those input lines are skipped",
        skip.len(),
        path.display()
    );
    if unreadable > 0 {
        let _ = write!(note, " ({unreadable} unreadable lines ignored)");
    }
    Ok((skip, note))
}

/// Counts the reader sends back when the input ends (or the run stops taking rows).
#[derive(Debug, Default)]
struct ReadStats {
    skipped: u64,
    error: Option<String>,
}

/// Reads rows on a blocking thread and sends them to the run; stops when the run stops
/// taking them.
fn read_rows(
    mut input: Box<dyn BufRead + Send>,
    mut format: Option<Format>,
    skip: &LineSet,
    rows: &mpsc::Sender<Row>,
    progress: &ProgressBar,
) -> ReadStats {
    let mut stats = ReadStats::default();
    let mut buf = Vec::with_capacity(256);
    let mut header: Option<Columns> = None;
    let mut first_data_line = true;
    let mut line = 0u64;
    loop {
        buf.clear();
        let read = match input
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(n) => n,
            Err(e) => {
                stats.error = Some(format!("reading the input at line {}: {e}", line + 1));
                return stats;
            }
        };
        if read == 0 {
            return stats;
        }
        line += 1;
        let too_long = buf.len() > MAX_LINE && buf.last() != Some(&b'\n');
        if too_long {
            // Skip the rest of the line; it is one bad row.
            if let Err(e) = input.skip_until(b'\n') {
                stats.error = Some(format!("reading the input at line {line}: {e}"));
                return stats;
            }
        }
        let row = if too_long {
            Some(Row::invalid(
                line,
                RawOp::default(),
                Error::invalid_input(format!("line is longer than {MAX_LINE} bytes")),
            ))
        } else {
            match std::str::from_utf8(&buf) {
                Err(_) => Some(Row::invalid(
                    line,
                    RawOp::default(),
                    Error::invalid_input("line is not valid UTF-8"),
                )),
                Ok(text) => {
                    let text = text.trim_end_matches(['\n', '\r']);
                    let text = if line == 1 {
                        text.trim_start_matches('\u{feff}')
                    } else {
                        text
                    };
                    if text.trim().is_empty() {
                        None
                    } else {
                        let format = *format.get_or_insert_with(|| sniff(text));
                        match format {
                            Format::Jsonl => Some(parse_json_row(line, text)),
                            Format::Csv => {
                                let first = std::mem::replace(&mut first_data_line, false);
                                if first && let Some(columns) = Columns::from_header(text) {
                                    header = Some(columns);
                                    None
                                } else {
                                    Some(parse_csv_row(line, text, header.as_ref()))
                                }
                            }
                        }
                    }
                }
            }
        };
        let Some(row) = row else {
            continue;
        };
        if skip.contains(line) {
            stats.skipped += 1;
            progress.inc(1);
            continue;
        }
        if rows.blocking_send(row).is_err() {
            // The run stopped taking rows (Ctrl-C).
            return stats;
        }
    }
}

fn sniff(first_line: &str) -> Format {
    if first_line.trim_start().starts_with('{') {
        Format::Jsonl
    } else {
        Format::Csv
    }
}

fn parse_json_row(line: u64, text: &str) -> Row {
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Row::invalid(
                line,
                RawOp::default(),
                Error::invalid_input(format!("line is not valid JSON: {e}")),
            );
        }
    };
    let Value::Object(map) = value else {
        return Row::invalid(
            line,
            RawOp::default(),
            Error::invalid_input("line is not a JSON object"),
        );
    };
    let mut problems = Vec::new();
    let mut field = |names: &[&'static str]| -> Option<String> {
        let (name, value) = names.iter().find_map(|n| map.get(*n).map(|v| (*n, v)))?;
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            _ => {
                problems.push(name);
                None
            }
        }
    };
    let raw = RawOp::new(
        field(&["op", "operation"]),
        field(&["provider"]),
        field(&["chat"]),
        field(&["handle"]),
    );
    match problems.first() {
        Some(name) => Row::invalid(
            line,
            raw,
            Error::invalid_input(format!("field {name} must be a string")),
        ),
        None => Row::parse(line, raw),
    }
}

/// Where each field is in a CSV row.
#[derive(Debug, Clone, Copy)]
struct Columns {
    op: Option<usize>,
    provider: Option<usize>,
    chat: Option<usize>,
    handle: Option<usize>,
    width: usize,
}

impl Columns {
    /// Positional: op, provider, chat, handle.
    const POSITIONAL: Self = Self {
        op: Some(0),
        provider: Some(1),
        chat: Some(2),
        handle: Some(3),
        width: 4,
    };

    /// A header is a first line with a field named `op` or `operation`.
    fn from_header(text: &str) -> Option<Self> {
        let names: Vec<String> = split_csv(text)
            .ok()?
            .into_iter()
            .map(|f| f.to_ascii_lowercase())
            .collect();
        let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
        let op = find(&["op", "operation"])?;
        Some(Self {
            op: Some(op),
            provider: find(&["provider"]),
            chat: find(&["chat"]),
            handle: find(&["handle"]),
            width: names.len(),
        })
    }
}

fn parse_csv_row(line: u64, text: &str, header: Option<&Columns>) -> Row {
    let fields = match split_csv(text) {
        Ok(f) => f,
        Err(why) => return Row::invalid(line, RawOp::default(), Error::invalid_input(why)),
    };
    let columns = header.copied().unwrap_or(Columns::POSITIONAL);
    let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).cloned();
    let raw = RawOp::new(
        get(columns.op),
        get(columns.provider),
        get(columns.chat),
        get(columns.handle),
    );
    if fields.len() > columns.width {
        let why = if header.is_some() {
            format!(
                "row has {} fields, the header has {}",
                fields.len(),
                columns.width
            )
        } else {
            format!(
                "row has {} fields; expected op, provider, chat, handle (quote fields that contain commas)",
                fields.len()
            )
        };
        return Row::invalid(line, raw, Error::invalid_input(why));
    }
    Row::parse(line, raw)
}

/// Splits one CSV line: fields separated by commas, optionally in double quotes with `""` for
/// a quote inside. Fields cannot span lines.
fn split_csv(text: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
        } else {
            match c {
                ',' => fields.push(std::mem::take(&mut field).trim().to_owned()),
                '"' if field.trim().is_empty() => {
                    field.clear();
                    quoted = true;
                }
                _ => field.push(c),
            }
        }
    }
    if quoted {
        return Err("unterminated quote (a CSV field cannot span lines)");
    }
    fields.push(field.trim().to_owned());
    Ok(fields)
}

/// One result line: the `Record` of the other commands plus `line` and, on failures,
/// `maybe_applied`.
#[derive(Debug, Serialize)]
struct ResultLine<'a> {
    line: u64,
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
}

/// Writes one result line.
fn write_result(out: &mut impl Write, result: &BulkResult) -> io::Result<()> {
    let maybe_applied = result.result.is_err().then(|| result.may_have_applied());
    let (provider, operation, chat, handle, record) = match &result.op {
        Ok(op) => {
            let record = Record::new(
                op.provider().as_str(),
                op.kind().as_str(),
                op.chat().as_str(),
                op.handle(),
                &result.result,
            );
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
            fn text(field: &Option<String>) -> &str {
                field.as_deref().map(str::trim).unwrap_or_default()
            }
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
        provider,
        operation,
        chat: chat.unwrap_or(&record.chat),
        handle: handle.or(record.handle.as_deref()),
        outcome: record.outcome,
        participants: record.participants,
        trace_id: record.trace_id,
        error: record.error,
        maybe_applied,
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// What the summary counts, from the lines written.
#[derive(Debug, Default, Serialize)]
struct Summary {
    results: u64,
    applied: u64,
    queued: u64,
    already_done: u64,
    unconfirmed: u64,
    failed: u64,
    failed_by_kind: std::collections::BTreeMap<&'static str, u64>,
    /// Failures after which the change may have happened (not re-run by --resume).
    maybe_applied: u64,
    /// Input lines skipped as finished in the --resume file.
    skipped: u64,
    /// Rows read but never started because of Ctrl-C (nothing sent; --resume runs them).
    not_started: u64,
    /// Calls cut off at the end of the grace period after Ctrl-C.
    interrupted: u64,
    /// Whether Ctrl-C stopped the run before the input ended.
    stopped: bool,
    elapsed_ms: u64,
    /// Failures refused before any request (bad rows, missing credentials).
    #[serde(skip)]
    refused_locally: u64,
}

impl Summary {
    fn count(&mut self, result: &BulkResult) {
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

    fn print(&self, json: bool) -> io::Result<()> {
        let mut err = io::stderr().lock();
        if json {
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
        if self.maybe_applied > 0 {
            rows.push([
                "  (may have applied)".to_owned(),
                self.maybe_applied.to_string(),
            ]);
        }
        if self.skipped > 0 {
            rows.push([
                "skipped (finished before)".to_owned(),
                self.skipped.to_string(),
            ]);
        }
        if self.stopped {
            rows.push([
                "not started (Ctrl-C)".to_owned(),
                self.not_started.to_string(),
            ]);
        }
        if self.interrupted > 0 {
            rows.push([
                "interrupted (Ctrl-C)".to_owned(),
                self.interrupted.to_string(),
            ]);
        }
        output::table(&mut err, ["OUTCOME", "COUNT"], &rows)?;
        if self.stopped {
            writeln!(
                err,
                "stopped by Ctrl-C: run again with --resume to do the rest (lines with a result that \
                 may have taken effect are not repeated)"
            )?;
        }
        err.flush()
    }
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(len) => (
            ProgressBar::new(len),
            "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {rate} ETA {eta} {msg}",
        ),
        None => (
            ProgressBar::no_length(),
            "{spinner} {elapsed_precise} {pos} {rate} {msg}",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        ));
    }
    bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(5));
    bar
}

async fn execute(args: BulkArgs, plan: Plan) -> Exit {
    let started = Instant::now();
    let Plan {
        input,
        format,
        mut out,
        skip,
        resume_note,
        pacing,
        total,
    } = plan;
    let progress = progress_bar(total);
    if let Some(note) = resume_note {
        progress.suspend(|| crate::eprint_line(&note));
    }

    let retries = RetryPolicy::default().with_max_attempts(args.max_retries.saturating_add(1));
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

    let (rows, input_rx) = mpsc::channel(INPUT_BUFFER);
    let mut run = bulk.start(input_rx);
    // A plain thread, not `spawn_blocking`: a read blocked on an open stdin must not keep the
    // process from exiting after Ctrl-C.
    let (read_done, reader) = tokio::sync::oneshot::channel();
    let reader_progress = progress.clone();
    let spawned = std::thread::Builder::new()
        .name("rosterkit-bulk-reader".to_owned())
        .spawn(move || {
            let stats = read_rows(input, format, &skip, &rows, &reader_progress);
            let _ = read_done.send(stats);
        });
    if let Err(e) = spawned {
        crate::eprint_line(&format!("error: cannot start the input reader: {e}"));
        return Exit::Failed;
    }

    let stop = run.stop_handle();
    let ctrl_c_progress = progress.clone();
    let grace = args.grace;
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        stop.stop();
        ctrl_c_progress.suspend(|| {
            crate::eprint_line(&format!(
                "stopping: no new operations; waiting up to {grace} s for those in flight \
                 (Ctrl-C again to stop now)"
            ));
        });
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.stop_now();
        }
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
            match write_result(&mut out, &result) {
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
    ctrl_c.abort();
    // The reader has ended unless the run was stopped while it waited on its input.
    let read = match tokio::time::timeout(Duration::from_secs(1), reader).await {
        Ok(Ok(stats)) => stats,
        _ => ReadStats::default(),
    };
    progress.finish_and_clear();

    summary.skipped = read.skipped;
    summary.not_started = not_started;
    summary.interrupted = interrupted;
    summary.stopped = stopped && write_error.is_none();
    summary.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let _ = summary.print(args.json);

    if let Some(e) = &read.error {
        crate::eprint_line(&format!("error: {e}; the rest of the input was not read"));
    }
    if let Some(e) = &write_error {
        crate::eprint_line(&format!(
            "error: writing results: {e}; {unwritten} results were lost and the run was stopped \
             (re-running those lines with --resume repeats them: use --ensure)"
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
    use rosterkit::bulk::OpKind;

    fn raw_of(row: &Row) -> (Option<&str>, Option<&str>, Option<&str>, Option<&str>) {
        let raw = match &row.op {
            Ok(_) => panic!("expected a bad row"),
            Err(bad) => &bad.raw,
        };
        (
            raw.op.as_deref(),
            raw.provider.as_deref(),
            raw.chat.as_deref(),
            raw.handle.as_deref(),
        )
    }

    #[test]
    fn csv_fields_quotes_and_errors() {
        assert_eq!(split_csv("a, b ,c,").unwrap(), ["a", "b", "c", ""]);
        assert_eq!(
            split_csv(r#""x,y","say ""hi""",z"#).unwrap(),
            ["x,y", r#"say "hi""#, "z"]
        );
        assert!(split_csv(r#"a,"b"#).is_err());
    }

    #[test]
    fn csv_rows_positional_and_by_header() {
        let row = parse_csv_row(3, "remove,chert,ch_1,+14155551234", None);
        assert_eq!(row.line, 3);
        let op = row.op.unwrap();
        assert_eq!(op.kind(), OpKind::Remove);
        assert!(parse_csv_row(1, "leave,chert,ch_1", None).op.is_ok());

        let header = Columns::from_header("handle,chat,OP,provider,note").unwrap();
        let row = parse_csv_row(2, "+14155551234,ch_1,add,linq,hello", Some(&header));
        assert_eq!(row.op.unwrap().provider(), ProviderKind::Linq);
        assert!(Columns::from_header("remove,chert,ch_1,+14155551234").is_none());

        let no_chat = Columns::from_header("op,provider,handle").unwrap();
        let row = parse_csv_row(2, "remove,chert,+14155551234", Some(&no_chat));
        let e = row.op.unwrap_err().error;
        assert!(e.to_string().contains("missing column chat"), "{e}");

        let row = parse_csv_row(9, "remove,chert,ch_1,+14155551234,extra", None);
        assert_eq!(raw_of(&row).1, Some("chert"));
        assert!(row.op.unwrap_err().error.to_string().contains("5 fields"));
    }

    #[test]
    fn json_rows() {
        let row = parse_json_row(
            1,
            r#"{"op":"remove","provider":"chert","chat":"c","handle":"+14155551234","x":1}"#,
        );
        assert!(row.op.is_ok());
        let row = parse_json_row(
            2,
            r#"{"operation":"leave","provider":"zapi","chat":"g","handle":null}"#,
        );
        assert_eq!(row.op.unwrap().kind(), OpKind::Leave);
        let row = parse_json_row(
            3,
            r#"{"op":"remove","provider":"chert","chat":"c","handle":14155551234}"#,
        );
        assert_eq!(
            raw_of(&row),
            (Some("remove"), Some("chert"), Some("c"), None)
        );
        assert!(
            row.op
                .unwrap_err()
                .error
                .to_string()
                .contains("field handle must be a string")
        );
        for bad in ["not json", "[1,2]", r#"{"op":"remove""#] {
            let row = parse_json_row(4, bad);
            assert_eq!(
                row.op.unwrap_err().error.kind(),
                rosterkit::ErrorKind::InvalidInput
            );
        }
    }

    #[test]
    fn line_sets() {
        let mut set = LineSet::default();
        for line in [1, 64, 65, 1_000_000, 64] {
            set.insert(line);
        }
        assert_eq!(set.len(), 4);
        assert!(
            set.contains(64)
                && set.contains(1_000_000)
                && !set.contains(2)
                && !set.contains(u64::MAX)
        );
        assert!(set.words.len() <= 1_000_000 / 64 + 1);
    }

    #[test]
    fn resume_rule() {
        let prior = |outcome: &str, op: &str, maybe: bool| Prior {
            line: 1,
            outcome: outcome.to_owned(),
            operation: Some(op.to_owned()),
            maybe_applied: maybe,
        };
        for outcome in ["applied", "queued", "already_done", "unconfirmed"] {
            assert!(prior(outcome, "remove", false).finished(false));
            assert!(prior(outcome, "add", false).finished(true));
        }
        // A definite failure never took effect: it runs again.
        assert!(!prior("failed", "remove", false).finished(false));
        // A failure that may have taken effect is not repeated...
        assert!(prior("failed", "remove", true).finished(false));
        assert!(prior("failed", "add", true).finished(true));
        // ...unless ensure mode makes the repeat safe.
        assert!(!prior("failed", "remove", true).finished(true));
        assert!(!prior("failed", "leave", true).finished(true));
    }

    #[test]
    fn pace_specs() {
        let (p, pace) = parse_pace("linq=5/s").unwrap();
        assert_eq!(p, ProviderKind::Linq);
        assert_eq!(
            pace.per_provider.unwrap().interval(),
            Duration::from_millis(200)
        );
        let (p, pace) = parse_pace("chert/chat=1/2s").unwrap();
        assert_eq!(p, ProviderKind::Chert);
        assert_eq!(pace.per_chat.unwrap().interval(), Duration::from_secs(2));
        for bad in ["linq", "linq=fast", "telegram=1/s", "chert/group=1/s"] {
            assert!(parse_pace(bad).is_err(), "{bad}");
        }
    }
}
