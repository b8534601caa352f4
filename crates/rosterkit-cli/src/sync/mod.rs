//! `rosterkit sync`: make a chat's members match a file, through `rosterkit::sync`.
//!
//! Plan by default (only reads are sent), `--apply` to make the changes, `--check` and
//! `--detailed-exitcode` for scheduled jobs. The exit codes are in [`AFTER_HELP`]. One chat
//! here; many chats from one file (`--file`) in [`many`], read by [`rosters`].

use std::{
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use clap::Args;
use rosterkit::{
    ChatId, E164, Error, Handle, Membership, ProviderName,
    sync::{
        self, ApplyOptions, MaxRemovals, OwnLine, Plan, Refusal, RosterSource, Rules, SyncOptions,
    },
};

use crate::{
    args::{Common, Provider},
    commands, messages,
    output::{self, Record},
};

mod many;
mod rosters;

/// The exit codes, and how `--detailed-exitcode` maps onto them.
pub(crate) const AFTER_HELP: &str = "\
Members files: one handle per line (+E.164 phones, written loosely if you like: \
+1 (415) 555-0101; emails; native ids such as 8:acs:...); blank lines and lines starting \
with # are ignored; `-` reads standard input.

Many chats: --file FILE holds CSV rows provider,chat,handle (an optional header line; # comments;
an empty provider field takes --provider). The file is streamed, never held whole: the rows of one
chat must be contiguous (sorted by chat, for instance), and a chat's members end at the first row
of another chat. A chat whose rows appear again after that is refused at the line where it
reappears (its earlier rows were already planned, or applied: fix the file and run again); a bad
row refuses its own chat only. Up to --concurrency chats are planned (and applied) at once, each
chat's steps in order; each chat's output is written whole when it ends, in the order chats end:
its diff under `# provider chat`, or with --json one line per chat:
  {\"line\":3,\"fingerprint\":\"9f0c…\",\"provider\":\"acs\",\"operation\":\"sync\",\"chat\":\"…\",
   \"outcome\":\"applied\",\"plan\":{…},\"results\":[…]}
  outcome: unchanged | changes | applied | failed (with error; refused: true when nothing was
  sent); line: where the chat's rows start; fingerprint: with --apply only
A summary of the chats goes to stderr. Chert chats cannot be planned from --file (no list
route): sync them one at a time with --current.

Resume: --apply --resume RESULTS, RESULTS holding the JSON lines of an earlier --apply run (its
--out file, or its --json output): a chat is skipped when RESULTS says it was applied or
unchanged under the same fingerprint (FNV-1a-64 of provider, chat and the chat's members, sorted
and de-duplicated), so a chat whose members changed since is planned again and an applied chat is
not applied again. Every other chat is planned again from its current roster: safe, since a
re-plan converges with no duplicate effect (so is a chat whose result line is longer than bulk's
64 KiB limit, some thousands of members, or was cut off by a crash). RESULTS none of whose
applied chats is in the input is refused (exit 2) as another input's. --out FILE writes the
result lines (JSON) to FILE, appended when it is the --resume file:
  rosterkit sync -f rosters.csv --apply --out results.jsonl
  rosterkit sync -f rosters.csv --apply --resume results.jsonl --out results.jsonl

Signals (--file): SIGINT or SIGTERM stops taking new chats, lets the chats in flight finish
(--grace), writes their results and exits 1; a second signal stops at once, and the chats cut
off are reported as failed (interrupted). --resume continues from there.

Exit codes:
  0  the plan was printed (or applied with every step done); with --check: no drift
  1  a step failed, or reading the roster failed (with --file: also a signal stopped the run,
     or the input could not be read to its end)
  2  bad input or usage, or the plan was refused (too many removals, below the minimum group
     size, an empty members file): nothing was sent (with --file: for every chat; when only
     some chats were refused, the exit is 1)
  3  --check only: the chat differs from the members file (drift)

--detailed-exitcode (Terraform's `plan -detailed-exitcode`): 0 no changes, 2 changes present,
1 any error. Because 2 then means \"changes\", every usage error and refused plan exits 1
under --detailed-exitcode (with its message on stderr), including a command line that does not
parse. --detailed-exitcode is for planning: it cannot be combined with --apply or --check.";

/// The exit code `--check` uses for drift: distinct from 1 (an error) and 2 (usage), so a
/// scheduled job can tell "the chat drifted" from "the check could not run".
const DRIFT: u8 = 3;

#[derive(Debug, Clone, Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct SyncArgs {
    /// The provider (with --file, the default for rows whose provider field is empty).
    #[arg(long, short = 'p', value_enum, env = "ROSTERKIT_PROVIDER")]
    pub(crate) provider: Option<Provider>,
    /// Chat id: a Chert chat (ch_...), a Linq chat UUID, a Z-API group (...-group) or
    /// community id, an ACS thread (19:...@thread.v2).
    #[arg(
        long,
        short = 'c',
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub(crate) chat: Option<String>,
    /// The members the chat should have: one handle per line; `-` for stdin.
    #[arg(
        long,
        short = 'm',
        value_name = "FILE",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub(crate) members: Option<PathBuf>,
    /// Many chats at once: CSV rows `provider,chat,handle` (an optional header line naming
    /// them), the rows of each chat together; streamed, several chats at a time (see below).
    /// `-` for stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// With --file: chats planned (and applied) at once, 4 unless given; each chat's steps
    /// run in order.
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=256)
    )]
    pub(crate) concurrency: Option<u16>,
    /// With --file --apply: skip the chats an earlier run applied, as its JSON result lines
    /// record them (matched by each chat's fingerprint: a changed member list runs again).
    #[arg(long, value_name = "RESULTS", requires = "apply")]
    pub(crate) resume: Option<PathBuf>,
    /// With --file: write the per-chat JSON result lines to FILE instead of stdout (appended
    /// if FILE is the --resume file).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// With --file: seconds the chats in flight may take to finish after SIGINT or SIGTERM, 30
    /// unless given; a second signal stops at once.
    #[arg(long, value_name = "SECS")]
    pub(crate) grace: Option<u64>,
    /// Override the provider's base URL (else from its *_BASE_URL variable or its default).
    #[arg(long, value_name = "URL", conflicts_with = "file")]
    pub(crate) base_url: Option<String>,
    #[command(flatten)]
    pub(crate) attempts: crate::args::Attempts,
    /// The plan as one JSON line, then one JSON object per step, instead of a diff and a table
    /// (with --file: one JSON line per chat, below).
    #[arg(long)]
    pub(crate) json: bool,
    /// Allow plain http:// to a non-loopback host.
    #[arg(long)]
    pub(crate) allow_insecure_http: bool,
    /// Make the changes (else only print the plan; only reads are sent).
    #[arg(long)]
    pub(crate) apply: bool,
    /// Exit 3 when the chat differs from FILE, 0 when it matches; changes nothing.
    #[arg(long, conflicts_with = "apply")]
    pub(crate) check: bool,
    /// Terraform's exit codes for a plan: 0 no changes, 2 changes, 1 error (see below).
    #[arg(long, conflicts_with_all = ["apply", "check"])]
    pub(crate) detailed_exitcode: bool,
    /// Refuse a plan with more removals than N, or than N% of the current members.
    #[arg(long, value_name = "N|N%", value_parser = parse_max_removals)]
    pub(crate) max_removals: Option<MaxRemovals>,
    /// Never remove this member (repeatable); admins are protected too.
    #[arg(long, value_name = "HANDLE")]
    pub(crate) protect: Vec<String>,
    /// Remove protected members (and admins) that are not in FILE.
    #[arg(long)]
    pub(crate) allow_protected_removal: bool,
    /// Let an empty members file remove everyone (else it is refused as a likely mistake).
    #[arg(long)]
    pub(crate) allow_empty: bool,
    /// The chat's current members, one per line, to plan from instead of reading them. Needed
    /// for Chert, which cannot list a chat (its add/remove --json replies carry the roster).
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    pub(crate) current: Option<PathBuf>,
    /// Our own line, never added or removed. By default: Linq's `is_me` handle (one more read),
    /// ACS_USER_ID for ACS; Chert's rosters leave it out. Z-API needs it: without it, a listed
    /// own line missing from FILE is planned for removal.
    #[arg(long, value_name = "HANDLE", conflicts_with = "file")]
    pub(crate) own_line: Option<String>,
}

/// Parses `N` or `N%`.
fn parse_max_removals(text: &str) -> Result<MaxRemovals, String> {
    let bad = |_| format!("expected a count N or a percentage N% (0-100), got {text:?}");
    match text.trim().strip_suffix('%') {
        Some(p) => match p.trim().parse::<u8>() {
            Ok(p) if p <= 100 => Ok(MaxRemovals::Percent(p)),
            Ok(_) => Err(bad(())),
            Err(_) => Err(bad(())),
        },
        None => text
            .trim()
            .parse()
            .map(MaxRemovals::Count)
            .map_err(|_| bad(())),
    }
}

/// A handle as a members file or a flag writes it, by the provider's rules (a Matrix
/// `@alice:server` needs no `native:`), and phones leniently (`+1 (415) 555-0101`).
pub(crate) fn parse_handle(provider: Provider, text: &str) -> Result<Handle, String> {
    let parsed = match provider.rules() {
        Ok(rules) => rules.parse_handle(text).map_err(|e| e.to_string()),
        Err(_) => text.parse::<Handle>().map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(h) => Ok(h),
        Err(e) => E164::parse_lenient(text).map(Handle::from).map_err(|_| e),
    }
}

/// The handles of a members file's text: one per line, `#` comments and blank lines skipped.
fn parse_members(provider: Provider, text: &str, name: &str) -> Result<Vec<Handle>, String> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| parse_handle(provider, line).map_err(|e| format!("{name} line {n}: {e}")))
        .collect()
}

/// Reads a file (`-`: stdin) as text.
fn read_text(path: &Path) -> Result<String, String> {
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text)
}

/// Reads and parses a members file (`-`: stdin).
fn read_members(provider: Provider, path: &Path) -> Result<Vec<Handle>, String> {
    parse_members(provider, &read_text(path)?, &path.display().to_string())
}

/// How one chat's sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The chat matches: nothing to do.
    NoChanges,
    /// The plan has changes, printed and not applied.
    Changes,
    /// The plan was applied, every step done.
    Applied,
    /// A step, the roster read or the output failed.
    Failed,
    /// Bad input or a refused plan: nothing was sent for this chat.
    Refused,
}

/// The exit code for the ends of every chat: a failure, then a refusal (2 only when every chat
/// was refused, so nothing was sent at all), then drift or changes.
pub(crate) fn exit_code(ends: &[End], args: &SyncArgs) -> u8 {
    let any = |end| ends.contains(&end);
    if any(End::Failed) {
        1
    } else if any(End::Refused) {
        let all = ends.iter().all(|e| *e == End::Refused);
        if all && !args.detailed_exitcode { 2 } else { 1 }
    } else if any(End::Changes) && args.check {
        DRIFT
    } else if any(End::Changes) && args.detailed_exitcode {
        2
    } else {
        0
    }
}

/// Prints a usage error or refusal.
fn refused(message: impl std::fmt::Display) -> End {
    commands::usage(message);
    End::Refused
}

/// Whether the command line asks for `sync --detailed-exitcode`: then a command line that does
/// not parse exits 1, not 2 (which would read as "changes present").
pub(crate) fn wants_detailed_exitcode(args: &[std::ffi::OsString]) -> bool {
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("sync") && has("--detailed-exitcode")
}

/// `rosterkit sync`; returns the process exit code.
pub(crate) async fn run(args: &SyncArgs) -> u8 {
    match &args.file {
        Some(file) => many::run(args.clone(), file).await,
        None => exit_code(&[run_one(args).await], args),
    }
}

/// One chat: `--chat` and `--members`.
async fn run_one(args: &SyncArgs) -> End {
    // Checked here: clap drops `requires = "file"` when --chat (which conflicts with it) is given.
    let many_only = [
        ("--concurrency", args.concurrency.is_some()),
        ("--resume", args.resume.is_some()),
        ("--out", args.out.is_some()),
        ("--grace", args.grace.is_some()),
    ];
    if let Some((flag, _)) = many_only.iter().find(|(_, given)| *given) {
        return refused(format!("{flag} goes with --file (many chats)"));
    }
    let (Some(provider), Some(chat), Some(members)) = (args.provider, &args.chat, &args.members)
    else {
        return refused("--provider (or ROSTERKIT_PROVIDER), --chat and --members are needed");
    };
    if members.as_os_str() == "-"
        && args
            .current
            .as_deref()
            .is_some_and(|c| c.as_os_str() == "-")
    {
        return refused("--members and --current cannot both read standard input");
    }
    let desired = match read_members(provider, members) {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    let current = match args
        .current
        .as_deref()
        .map(|path| read_members(provider, path))
        .transpose()
    {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    let common = common(args, provider, chat);
    // `prepare` has printed why it failed; every failure there is a usage error.
    let Ok(prepared) = commands::prepare(&common, &[], false) else {
        return End::Refused;
    };
    let synced = sync_chat(
        args,
        &common,
        prepared.client.as_ref(),
        &prepared.chat,
        &desired,
        current,
        false,
    )
    .await;
    if let Some(error) = &synced.error {
        crate::eprint_line(&format!("error: {error}"));
    }
    if synced
        .plan
        .as_ref()
        .is_some_and(|p| p.source == RosterSource::Supplied)
        && !common.json
    {
        crate::eprint_line("note: planned from the roster in --current; only as fresh as it is");
    }
    let mut out = io::stdout().lock();
    match synced
        .write(&mut out, None, common.json, true)
        .and_then(|()| out.flush())
    {
        Ok(()) => synced.end,
        Err(e) => write_failed(&e),
    }
}

/// The options every provider command shares, for one chat.
pub(crate) fn common(args: &SyncArgs, provider: Provider, chat: &str) -> Common {
    Common {
        provider,
        chat: chat.to_owned(),
        base_url: args.base_url.clone(),
        attempts: args.attempts,
        json: args.json,
        allow_insecure_http: args.allow_insecure_http,
    }
}

/// What one chat's sync came to.
pub(crate) struct Synced {
    pub(crate) end: End,
    /// The plan, once made.
    pub(crate) plan: Option<Plan>,
    /// One record per step applied.
    pub(crate) records: Vec<Record>,
    /// Why the chat failed or was refused, for stderr (after `error: `).
    pub(crate) error: Option<String>,
}

impl Synced {
    fn ended(end: End, error: String) -> Self {
        Self {
            end,
            plan: None,
            records: Vec::new(),
            error: Some(error),
        }
    }

    /// Writes the plan (a diff under `header`, or one JSON line) and the step records (a
    /// table, with the legend when `legend`, or JSON lines).
    pub(crate) fn write(
        &self,
        out: &mut impl Write,
        header: Option<&str>,
        json: bool,
        legend: bool,
    ) -> io::Result<()> {
        if let Some(plan) = &self.plan {
            write_plan(out, plan, header, json)?;
        }
        if !self.records.is_empty() {
            output::write_records(out, &self.records, json, legend)?;
        }
        Ok(())
    }
}

/// Plans one chat and applies the plan with `--apply`; prints nothing. `many`: one of a
/// `--file`'s chats (errors name the chat; a chat that cannot be listed is refused, since
/// `--current` is for one chat).
pub(crate) async fn sync_chat(
    args: &SyncArgs,
    common: &Common,
    client: &dyn Membership,
    chat: &ChatId,
    desired: &[Handle],
    current: Option<Vec<Handle>>,
    many: bool,
) -> Synced {
    let provider = ProviderName::from(common.provider);
    let name = if many {
        format!("{provider} {}: ", common.chat)
    } else {
        String::new()
    };
    let refuse = |message: String| Synced::ended(End::Refused, message);
    // Linq marks our line (`is_me`) in the roster the plan reads: `Plan` keeps it.
    let rules = match rules(args, common.provider) {
        Ok(r) => r,
        Err(e) => return refuse(e),
    };
    let mut options = SyncOptions::new(rules);
    match current {
        Some(current) => options = options.with_roster(current),
        None if !client.capabilities().list && many => {
            return refuse(format!(
                "{name}{provider} cannot list a chat's members, so sync --file cannot plan it; \
                 run `rosterkit sync -p {provider} -c CHAT -m FILE --current FILE` for it"
            ));
        }
        None if !client.capabilities().list => {
            return refuse(format!(
                "{provider} cannot list a chat's members, so sync needs the current roster: pass \
                 --current FILE (the participants of the last add or remove --json reply)"
            ));
        }
        None => {}
    }

    let plan = match sync::plan(client, chat, desired, &options).await {
        Ok(plan) => plan,
        Err(e) => {
            if let Some(refusal) = e.refusal() {
                let hint = match refusal {
                    Refusal::EmptyDesired { .. } => " (--allow-empty)",
                    Refusal::TooManyRemovals { .. } => "; raise --max-removals if it is meant",
                    _ => "",
                };
                return refuse(format!("{name}sync refused, nothing sent: {refusal}{hint}"));
            }
            let e = Error::from(e);
            return Synced::ended(
                End::Failed,
                format!(
                    "{name}reading the roster failed: {}",
                    messages::for_cli_at(&e, provider, common.base_url.as_deref())
                ),
            );
        }
    };
    let mut synced = Synced {
        end: End::Changes,
        plan: None,
        records: Vec::new(),
        error: None,
    };
    if plan.is_empty() {
        synced.end = End::NoChanges;
    } else if args.apply {
        match sync::apply(client, &plan, &ApplyOptions::default()).await {
            Ok(report) => {
                synced.records = records(&report, &plan, provider, common);
                synced.end = if report.is_complete() {
                    End::Applied
                } else {
                    End::Failed
                };
            }
            Err(e) => {
                synced.end = End::Refused;
                synced.error = Some(format!("{name}sync refused, nothing sent: {e}"));
            }
        }
    }
    synced.plan = Some(plan);
    synced
}

/// One record per step of an apply, with the CLI's wording for errors.
fn records(
    report: &sync::ApplyReport,
    plan: &Plan,
    provider: ProviderName,
    common: &Common,
) -> Vec<Record> {
    report
        .results
        .iter()
        .map(|r| {
            let operation = if r.step.is_add() { "add" } else { "remove" };
            let mut record = Record::new(
                provider.as_str(),
                operation,
                plan.chat.as_str(),
                Some(r.step.handle()),
                &r.result,
            );
            if let (Err(e), Some(error)) = (&r.result, record.error.as_mut()) {
                error.message = messages::for_cli_at(e, provider, common.base_url.as_deref());
            }
            record
        })
        .collect()
}

/// The rules from the flags.
fn rules(args: &SyncArgs, provider: Provider) -> Result<Rules, String> {
    let parse_handle = |text: &str| parse_handle(provider, text);
    let provider = ProviderName::from(provider);
    let protected = args
        .protect
        .iter()
        .map(|h| parse_handle(h).map_err(|e| format!("--protect {h}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let own_line = match (&args.own_line, provider.as_str()) {
        (Some(h), _) => {
            OwnLine::Handle(parse_handle(h).map_err(|e| format!("--own-line {h}: {e}"))?)
        }
        (None, "chert") => OwnLine::NotInRoster,
        (None, "acs") => match std::env::var("ACS_USER_ID") {
            Ok(id) if !id.trim().is_empty() => {
                OwnLine::Handle(parse_handle(id.trim()).map_err(|e| format!("ACS_USER_ID: {e}"))?)
            }
            _ => OwnLine::Unknown,
        },
        (None, _) => OwnLine::Unknown,
    };
    let mut rules = Rules::default()
        .with_own_line(own_line)
        .with_protected(protected)
        .with_allow_protected_removal(args.allow_protected_removal)
        .with_allow_empty(args.allow_empty);
    if let Some(limit) = args.max_removals {
        rules = rules.with_max_removals(limit);
    }
    Ok(rules)
}

/// The plan: its diff (each line escaped: handles can come from a server), or one JSON line.
fn write_plan(
    out: &mut impl Write,
    plan: &Plan,
    header: Option<&str>,
    json: bool,
) -> io::Result<()> {
    if let Some(header) = header {
        writeln!(out, "{}", output::escape(header))?;
    }
    if json {
        serde_json::to_writer(&mut *out, plan)?;
        out.write_all(b"\n")
    } else {
        for line in plan.to_string().lines() {
            writeln!(out, "{}", output::escape(line))?;
        }
        Ok(())
    }
}

/// Output could not be written: a failure, reported quietly for a closed pipe.
pub(crate) fn write_failed(e: &io::Error) -> End {
    if e.kind() != io::ErrorKind::BrokenPipe {
        crate::eprint_line(&format!("error: writing output: {e}"));
    }
    End::Failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_removals_takes_a_count_or_a_percentage() {
        assert_eq!(parse_max_removals("3"), Ok(MaxRemovals::Count(3)));
        assert_eq!(parse_max_removals("25%"), Ok(MaxRemovals::Percent(25)));
        for bad in ["", "-1", "101%", "x%", "3.5"] {
            assert!(parse_max_removals(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn members_files_skip_comments_and_blanks_and_name_the_bad_line() {
        let text = "# team\n+14155550101\n\n  +1 (415) 555-0102  \nAlice@Example.com\n8:acs:x\n";
        let got = parse_members(Provider::Acs, text, "m.txt").unwrap();
        let got: Vec<&str> = got.iter().map(Handle::as_str).collect();
        assert_eq!(
            got,
            [
                "+14155550101",
                "+14155550102",
                "Alice@Example.com",
                "8:acs:x"
            ]
        );
        let e = parse_members(Provider::Acs, "+14155550101\nnot a handle\n", "m.txt").unwrap_err();
        assert!(e.starts_with("m.txt line 2: "), "{e}");
    }

    #[test]
    fn detailed_exitcode_is_seen_before_parsing() {
        let args = |a: &[&str]| -> Vec<std::ffi::OsString> { a.iter().map(Into::into).collect() };
        assert!(wants_detailed_exitcode(&args(&[
            "rosterkit",
            "sync",
            "--detailed-exitcode",
            "--bogus"
        ])));
        assert!(!wants_detailed_exitcode(&args(&[
            "rosterkit",
            "sync",
            "--bogus"
        ])));
    }
}
