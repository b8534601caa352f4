//! `sync --file`: many chats from one file, streamed, `--concurrency` at a time, resumable.
//!
//! A reader thread turns rows into chat groups ([`Groups`]) and hands them over a channel as
//! wide as `--concurrency`, so the file is never held whole; each chat is planned (and applied)
//! by its own task, its steps in order; every chat's result is written whole when it ends. The
//! pieces `bulk` has are shared, not copied: its CSV reader and line numbers, its fingerprints
//! and `--resume` parser ([`Priors`]), its `--out` file handling and its signal handling.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::{self, BufWriter, Read, Write},
    path::Path,
    sync::Arc,
    time::Duration,
};

use rosterkit::{ChatId, Membership, sync::Plan};
use serde::Serialize;
use tokio::{sync::mpsc, task::JoinSet};

use super::{
    End, SyncArgs, Synced, common, exit_code,
    rosters::{Group, Groups},
    write_failed,
};
use crate::{
    args::Provider,
    bulk::{
        resume::{self, Skip},
        run::{Signals, open_out, same_file},
    },
    commands,
    output::Record,
};

/// One chat's result line (`--json`, `--out`): `line` and `fingerprint` first, so a line cut
/// off by a crash still says which chat it was about (see [`Priors`]).
#[derive(Serialize)]
struct ChatLine<'a> {
    line: u64,
    /// Only with `--apply`: a plan's "changes" must never read as finished to `--resume`.
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    provider: &'a str,
    operation: &'static str,
    chat: &'a str,
    /// `unchanged`, `changes`, `applied` or `failed`.
    outcome: &'static str,
    /// Nothing was sent: bad rows, a refused plan, a provider that is not configured.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    refused: bool,
    /// Cut off by a second signal or the end of `--grace`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    interrupted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a Plan>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    results: &'a [Record],
}

/// Which chat a task syncs.
struct Chat {
    line: u64,
    provider: String,
    chat: String,
    fingerprint: String,
}

impl Chat {
    fn of(group: &Group) -> Self {
        Self {
            line: group.line,
            provider: group.provider.map_or_else(
                || group.provider_text.clone(),
                |p| rosterkit::ProviderName::from(p).as_str().to_owned(),
            ),
            chat: group.chat.clone(),
            fingerprint: group.fingerprint().to_string(),
        }
    }
}

/// How many chats ended how, for the summary on stderr.
#[derive(Debug, Default)]
struct Tally {
    chats: u64,
    unchanged: u64,
    changes: u64,
    applied: u64,
    failed: u64,
    refused: u64,
    interrupted: u64,
    skipped: u64,
    not_started: u64,
    /// The distinct ends, for the exit code.
    ends: Vec<End>,
}

impl Tally {
    fn count(&mut self, end: End, interrupted: bool) {
        self.chats += 1;
        *match end {
            End::NoChanges => &mut self.unchanged,
            End::Changes => &mut self.changes,
            End::Applied => &mut self.applied,
            End::Failed => &mut self.failed,
            End::Refused => &mut self.refused,
        } += 1;
        self.interrupted += u64::from(interrupted);
        if !self.ends.contains(&end) {
            self.ends.push(end);
        }
    }

    fn line(&self) -> String {
        let parts = [
            ("unchanged", self.unchanged),
            ("with changes", self.changes),
            ("applied", self.applied),
            ("failed", self.failed),
            ("refused (nothing sent)", self.refused),
            ("interrupted", self.interrupted),
            ("skipped (finished before, --resume)", self.skipped),
            ("not started (stopped)", self.not_started),
        ];
        let parts: Vec<String> = parts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        format!("sync: {} chats: {}", self.chats, parts.join(", "))
    }
}

/// The checks before anything is sent: the input, `--resume` matched against it, `--out`.
struct Start {
    input: Box<dyn Read + Send>,
    skips: HashSet<u64>,
    out: Box<dyn Write + Send>,
}

/// Opens the input; `-` is stdin.
fn open(file: &Path) -> Result<Box<dyn Read + Send>, String> {
    if file.as_os_str() == "-" {
        return Ok(Box::new(io::stdin()));
    }
    File::open(file)
        .map(|f| Box::new(f) as Box<dyn Read + Send>)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))
}

impl Start {
    fn new(args: &SyncArgs, file: &Path) -> Result<Self, String> {
        let stdin = file.as_os_str() == "-";
        let name = file.display().to_string();
        let skips = match &args.resume {
            Some(_) if stdin => {
                return Err(
                    "--resume needs the input as a file (--file FILE, not -): it is \
                            matched against the results before anything is sent"
                        .to_owned(),
                );
            }
            Some(path) => finished(path, Groups::new(open(file)?, name, args.provider))?,
            None => HashSet::new(),
        };
        let out: Box<dyn Write + Send> = match &args.out {
            Some(path) if !stdin && same_file(path, file) => {
                return Err(format!(
                    "--out {} is the input file; write the results elsewhere",
                    path.display()
                ));
            }
            Some(path) => Box::new(open_out(path, args.resume.as_deref())?),
            None => Box::new(io::stdout()),
        };
        Ok(Self {
            input: open(file)?,
            skips,
            out,
        })
    }
}

/// The lines of the chats an earlier run finished (applied or unchanged), matched through
/// bulk's `--resume` parser by line and fingerprint: a pass over the input that keeps 16 bytes
/// per chat. A result cut off by a crash (`Skip::Unknown`) is planned again: a re-plan reads
/// the roster first, so it never repeats an effect.
fn finished(path: &Path, groups: Groups) -> Result<HashSet<u64>, String> {
    let priors = resume::load(path, false).map_err(|e| {
        format!("{e} (resume from the result lines of an --apply run: --out or --json)")
    })?;
    let mut keys = Vec::new();
    for group in groups {
        let group = group?;
        keys.push((group.line, group.fingerprint()));
    }
    let last = keys.iter().map(|(line, _)| *line).max().unwrap_or(0);
    let matched = priors
        .match_rows(keys, last)
        .map_err(|e| resume::message(path, &e))?;
    let skips: HashSet<u64> = matched
        .skips
        .into_iter()
        .filter(|(_, skip)| *skip == Skip::Finished)
        .map(|(line, _)| line)
        .collect();
    let moved = if matched.moved > 0 {
        format!(" ({} at a new line)", matched.moved)
    } else {
        String::new()
    };
    crate::eprint_line(&format!(
        "resume: {} chats in {} were applied or unchanged with the same members{moved}; they \
         are skipped",
        skips.len(),
        path.display()
    ));
    Ok(skips)
}

/// `sync --file`: returns the exit code.
pub(crate) async fn run(args: SyncArgs, file: &Path) -> u8 {
    let usage = |e: String| {
        let end = super::refused(e);
        exit_code(&[end], &args)
    };
    let Start { input, skips, out } = match Start::new(&args, file) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    // Before anything is sent: from here on a signal stops the run instead of killing it.
    let mut signals = match Signals::new() {
        Ok(s) => s,
        Err(e) => {
            crate::eprint_line(&format!("error: cannot handle signals: {e}"));
            return 1;
        }
    };
    let (signal_tx, mut signal_rx) = mpsc::unbounded_channel();
    let on_signal = tokio::spawn(async move {
        for _ in 0..2 {
            let name = signals.next().await;
            if signal_tx.send(name).is_err() {
                return;
            }
        }
    });
    let concurrency = usize::from(args.concurrency.unwrap_or(4));
    let grace = args.grace.unwrap_or(30);
    let (tx, mut rx) = mpsc::channel::<Group>(concurrency);
    let (read_done, reader) = tokio::sync::oneshot::channel();
    let groups = Groups::new(input, file.display().to_string(), args.provider);
    // A plain thread, as bulk's: a read blocked on an open stdin must not keep the process
    // from exiting after a signal.
    let spawned = std::thread::Builder::new()
        .name("rosterkit-sync-reader".to_owned())
        .spawn(move || {
            let _ = read_done.send(pump(groups, &skips, &tx));
        });
    if let Err(e) = spawned {
        crate::eprint_line(&format!("error: cannot start the input reader: {e}"));
        return 1;
    }

    let args = Arc::new(args);
    let json = args.json || args.out.is_some();
    let mut writer = Writer {
        out: BufWriter::new(out),
        json,
        apply: args.apply,
        error: None,
    };
    let mut tally = Tally::default();
    let mut clients = Clients::default();
    let mut tasks: JoinSet<Synced> = JoinSet::new();
    let mut running: HashMap<tokio::task::Id, Chat> = HashMap::new();
    let (mut intake, mut stopped) = (true, false);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let grace_over = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(name) = signal_rx.recv() => {
                if stopped {
                    tasks.abort_all();
                } else {
                    stopped = true;
                    intake = false;
                    rx.close();
                    deadline = Some(tokio::time::Instant::now() + Duration::from_secs(grace));
                    crate::eprint_line(&format!(
                        "{name}: stopping: no new chats; waiting up to {} s for the {} in \
                         flight (a second signal stops now)",
                        grace,
                        tasks.len()
                    ));
                }
            }
            () = grace_over => {
                deadline = None;
                tasks.abort_all();
            }
            Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let (id, ended) = match joined {
                    Ok((id, synced)) => (id, Ok(synced)),
                    Err(e) => (e.id(), Err(e.is_cancelled())),
                };
                if let Some(chat) = running.remove(&id) {
                    let interrupted = ended.as_ref().err() == Some(&true);
                    let synced = ended.unwrap_or_else(|cancelled| {
                        let why = if cancelled {
                            "interrupted: stopped before its sync ended"
                        } else {
                            "its sync ended abnormally"
                        };
                        let error = format!(
                            "{} {}: {why}; --resume plans it again",
                            chat.provider, chat.chat
                        );
                        Synced::ended(End::Failed, error)
                    });
                    writer.write(&chat, &synced, interrupted, &mut tally);
                    if writer.error.is_some() {
                        intake = false;
                        rx.close();
                    }
                }
            }
            group = rx.recv(), if intake && tasks.len() < concurrency => {
                match group {
                    Some(group) => {
                        let chat = Chat::of(&group);
                        match start(&args, &mut clients, group) {
                            Ok(task) => {
                                let handle = tasks.spawn(task);
                                running.insert(handle.id(), chat);
                            }
                            Err(refusal) => {
                                let synced = Synced::ended(End::Refused, refusal);
                                writer.write(&chat, &synced, false, &mut tally);
                            }
                        }
                    }
                    None => intake = false,
                }
            }
            else => break,
        }
        if !intake && tasks.is_empty() {
            break;
        }
    }
    on_signal.abort();
    // Chats read but never started: nothing was sent for them.
    while rx.try_recv().is_ok() {
        tally.not_started += 1;
    }
    drop(rx);
    let read = tokio::time::timeout(Duration::from_secs(1), reader)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    tally.skipped = read.skipped;
    let flushed = writer.out.flush();
    crate::eprint_line(&tally.line());
    if let Some(e) = &read.error {
        crate::eprint_line(&format!("error: {e}; the rest of the input was not read"));
    }
    let write_error = writer.error.take().or(flushed.err());
    if let Some(e) = &write_error {
        write_failed(e);
    }
    if stopped || read.error.is_some() || write_error.is_some() {
        1
    } else {
        exit_code(&tally.ends, &args)
    }
}

/// What the reader thread saw.
#[derive(Debug, Default)]
struct ReadStats {
    /// Chats skipped as finished before (`--resume`).
    skipped: u64,
    error: Option<String>,
}

/// Reads groups, leaves out the finished ones, and hands the rest on until the run stops
/// taking them.
fn pump(groups: Groups, skips: &HashSet<u64>, tx: &mpsc::Sender<Group>) -> ReadStats {
    let mut stats = ReadStats::default();
    for group in groups {
        match group {
            Ok(group) if group.problem.is_none() && skips.contains(&group.line) => {
                stats.skipped += 1;
            }
            Ok(group) => {
                if tx.blocking_send(group).is_err() {
                    break;
                }
            }
            Err(e) => {
                stats.error = Some(e);
                break;
            }
        }
    }
    stats
}

/// One client per provider, made on its first chat and shared by the chats after it; `None`
/// when it could not be made (the reason was printed once).
#[derive(Default)]
struct Clients(Vec<(Provider, Option<Arc<dyn Membership>>)>);

/// The task that syncs a chat, or why it is refused before any request.
fn start(
    args: &Arc<SyncArgs>,
    clients: &mut Clients,
    group: Group,
) -> Result<impl Future<Output = Synced> + Send + 'static, String> {
    if let Some(problem) = group.problem {
        return Err(problem);
    }
    let Some(provider) = group.provider else {
        return Err(format!("line {}: no provider", group.line));
    };
    let name = format!("{} {}", rosterkit::ProviderName::from(provider), group.chat);
    let chat = ChatId::new(group.chat.as_str()).map_err(|e| format!("{name}: {e}"))?;
    let common = common(args, provider, &group.chat);
    let client = match clients.0.iter().find(|(p, _)| *p == provider) {
        Some((_, client)) => client.clone(),
        None => {
            // `prepare` prints why it failed (missing credentials, a bad base URL).
            let client = commands::prepare(&common, &[], false)
                .ok()
                .map(|p| Arc::from(p.client));
            clients.0.push((provider, client.clone()));
            client
        }
    };
    let client = client.ok_or_else(|| {
        format!(
            "{name}: {} cannot be used (see the first error above)",
            rosterkit::ProviderName::from(provider)
        )
    })?;
    let args = Arc::clone(args);
    Ok(async move {
        super::sync_chat(
            &args,
            &common,
            client.as_ref(),
            &chat,
            &group.members,
            None,
            true,
        )
        .await
    })
}

/// Writes each chat's result whole, and stops writing at the first error.
struct Writer {
    out: BufWriter<Box<dyn Write + Send>>,
    json: bool,
    apply: bool,
    error: Option<io::Error>,
}

impl Writer {
    /// Prints the chat's error on stderr, writes its result and counts it.
    fn write(&mut self, chat: &Chat, synced: &Synced, interrupted: bool, tally: &mut Tally) {
        tally.count(synced.end, interrupted);
        if let Some(error) = &synced.error {
            crate::eprint_line(&format!("error: {error}"));
        }
        if self.error.is_some() {
            return;
        }
        let written = if self.json {
            let line = ChatLine {
                line: chat.line,
                fingerprint: self.apply.then(|| chat.fingerprint.clone()),
                provider: &chat.provider,
                operation: "sync",
                chat: &chat.chat,
                outcome: match synced.end {
                    End::NoChanges => "unchanged",
                    End::Changes => "changes",
                    End::Applied => "applied",
                    End::Failed | End::Refused => "failed",
                },
                refused: synced.end == End::Refused,
                interrupted,
                error: synced.error.as_deref(),
                plan: synced.plan.as_ref(),
                results: &synced.records,
            };
            serde_json::to_writer(&mut self.out, &line)
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"))
        } else {
            let header = format!("# {} {}", chat.provider, chat.chat);
            synced.write(&mut self.out, Some(&header), false, false)
        };
        if let Err(e) = written.and_then(|()| self.out.flush()) {
            self.error = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_only_what_happened() {
        let mut tally = Tally::default();
        tally.count(End::Applied, false);
        tally.count(End::Applied, false);
        tally.count(End::Failed, true);
        tally.skipped = 3;
        assert_eq!(
            tally.line(),
            "sync: 3 chats: 2 applied, 1 failed, 1 interrupted, 3 skipped (finished before, \
             --resume)"
        );
        assert_eq!(tally.ends, [End::Applied, End::Failed]);
    }
}
