//! `rosterkit sync`: make a chat's members match a file, through `rosterkit::sync`.
//!
//! Plan by default (only reads are sent), `--apply` to make the changes, `--check` and
//! `--detailed-exitcode` for scheduled jobs. The exit codes are in [`AFTER_HELP`].

use std::{
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use clap::{Args, ValueEnum};
use rosterkit::{
    ChatId, E164, Error, Handle, ProviderKind,
    sync::{
        self, ApplyOptions, MaxRemovals, OwnLine, Plan, Refusal, RosterSource, Rules, SyncOptions,
    },
};

use crate::{
    args::{Common, Provider},
    commands, messages,
    output::{self, Record},
};

/// The exit codes, and how `--detailed-exitcode` maps onto them.
pub(crate) const AFTER_HELP: &str = "\
Members files: one handle per line (+E.164 phones, written loosely if you like: \
+1 (415) 555-0101; emails; native ids such as 8:acs:...); blank lines and lines starting \
with # are ignored; `-` reads standard input.

Many chats: --file FILE holds CSV rows provider,chat,handle (an optional header line; # comments),
grouped per chat and synced one chat after another, in the order each first appears, with the
same flags (plan by default, --apply, --check, --json). A re-run after a partial failure plans
only what is left. Chert chats cannot be planned from --file (no list route): sync them one at
a time with --current.

Exit codes:
  0  the plan was printed (or applied with every step done); with --check: no drift
  1  a step failed, or reading the roster failed
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

#[derive(Debug, Args)]
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
    /// them), grouped per chat; each chat is planned (and applied) in turn, in the order it
    /// first appears. `-` for stdin.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Override the provider's base URL (else from its *_BASE_URL variable or its default).
    #[arg(long, value_name = "URL", conflicts_with = "file")]
    pub(crate) base_url: Option<String>,
    #[command(flatten)]
    pub(crate) attempts: crate::args::Attempts,
    /// The plan as one JSON line, then one JSON object per step, instead of a diff and a table.
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

/// A handle as a members file or a flag writes it: phones leniently (`+1 (415) 555-0101`).
fn parse_handle(text: &str) -> Result<Handle, String> {
    match text.parse::<Handle>() {
        Ok(h) => Ok(h),
        Err(e) => E164::parse_lenient(text)
            .map(Handle::from)
            .map_err(|_| e.to_string()),
    }
}

/// The handles of a members file's text: one per line, `#` comments and blank lines skipped.
fn parse_members(text: &str, name: &str) -> Result<Vec<Handle>, String> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(n, line)| parse_handle(line).map_err(|e| format!("{name} line {n}: {e}")))
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
fn read_members(path: &Path) -> Result<Vec<Handle>, String> {
    parse_members(&read_text(path)?, &path.display().to_string())
}

/// One chat's desired members, from a `--file` of `provider,chat,handle` rows.
struct Roster {
    provider: Provider,
    chat: String,
    members: Vec<Handle>,
}

/// Groups `provider,chat,handle` rows per chat, in the order each chat first appears; an
/// optional header line names the fields. Every row is checked before any request.
fn parse_rosters(text: &str, name: &str, default: Option<Provider>) -> Result<Vec<Roster>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rosters: Vec<Roster> = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("{name}: {e}"))?;
        let line = row.position().map_or(i as u64 + 1, csv::Position::line);
        let at = |e: String| format!("{name} line {line}: {e}");
        let fields: Vec<&str> = row.iter().collect();
        let [provider, chat, handle] = fields[..] else {
            return Err(at(format!(
                "expected 3 fields provider,chat,handle, found {}",
                fields.len()
            )));
        };
        if i == 0 && [provider, chat, handle] == ["provider", "chat", "handle"] {
            continue;
        }
        let provider = match (provider, default) {
            ("", Some(p)) => p,
            ("", None) => return Err(at("no provider, and no --provider".to_owned())),
            (p, _) => Provider::from_str(p, true)
                .map_err(|_| at(format!("unknown provider {p:?} (chert, linq, zapi or acs)")))?,
        };
        if chat.is_empty() {
            return Err(at("no chat".to_owned()));
        }
        let handle = parse_handle(handle).map_err(at)?;
        match rosters
            .iter_mut()
            .find(|r| r.provider == provider && r.chat == chat)
        {
            Some(roster) => roster.members.push(handle),
            None => rosters.push(Roster {
                provider,
                chat: chat.to_owned(),
                members: vec![handle],
            }),
        }
    }
    Ok(rosters)
}

/// How one chat's sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
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
fn exit_code(ends: &[End], args: &SyncArgs) -> u8 {
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
    let ends = match &args.file {
        Some(file) => run_file(args, file).await,
        None => vec![run_one(args).await],
    };
    exit_code(&ends, args)
}

/// One chat: `--chat` and `--members`.
async fn run_one(args: &SyncArgs) -> End {
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
    let desired = match read_members(members) {
        Ok(d) => d,
        Err(e) => return refused(e),
    };
    let current = match args.current.as_deref().map(read_members).transpose() {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    sync_chat(
        args,
        &common(args, provider, chat),
        &desired,
        current,
        false,
    )
    .await
}

/// Many chats: `--file`, one chat after another.
async fn run_file(args: &SyncArgs, file: &Path) -> Vec<End> {
    let rosters = match read_text(file)
        .and_then(|text| parse_rosters(&text, &file.display().to_string(), args.provider))
    {
        Ok(r) if r.is_empty() => {
            return vec![refused(format!("{} has no rows", file.display()))];
        }
        Ok(r) => r,
        Err(e) => return vec![refused(e)],
    };
    let mut ends = Vec::with_capacity(rosters.len());
    for roster in rosters {
        let common = common(args, roster.provider, &roster.chat);
        ends.push(sync_chat(args, &common, &roster.members, None, true).await);
    }
    ends
}

/// The options every provider command shares, for one chat.
fn common(args: &SyncArgs, provider: Provider, chat: &str) -> Common {
    Common {
        provider,
        chat: chat.to_owned(),
        base_url: args.base_url.clone(),
        attempts: args.attempts,
        json: args.json,
        allow_insecure_http: args.allow_insecure_http,
    }
}

/// Plans one chat, prints the plan, and applies it with `--apply`. `many`: one of a `--file`'s
/// chats (each diff gets a `# provider chat` header; errors name the chat).
async fn sync_chat(
    args: &SyncArgs,
    common: &Common,
    desired: &[Handle],
    current: Option<Vec<Handle>>,
    many: bool,
) -> End {
    let provider = ProviderKind::from(common.provider);
    let name = if many {
        format!("{provider} {}: ", common.chat)
    } else {
        String::new()
    };
    // `prepare` has printed why it failed; every failure there is a usage error.
    let Ok(prepared) = commands::prepare(common, &[], false) else {
        return End::Refused;
    };
    let client = prepared.client.as_ref();
    let mut rules = match rules(args, provider) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    if provider == ProviderKind::Linq && args.own_line.is_none() {
        // Linq marks our line (`is_me`) in the chat it returns: one more read.
        match linq_own_line(common, &prepared.chat).await {
            Ok(own) => rules = rules.with_own_line(own),
            Err(e) => {
                crate::eprint_line(&format!(
                    "error: {name}reading the chat failed: {}",
                    messages::for_cli_at(&e, provider, common.base_url.as_deref())
                ));
                return End::Failed;
            }
        }
    }
    let mut options = SyncOptions::new(rules);
    match current {
        Some(current) => options = options.with_roster(current),
        None if !client.capabilities().list && many => {
            return refused(format!(
                "{name}{provider} cannot list a chat's members, so sync --file cannot plan it; \
                 run `rosterkit sync -p {provider} -c CHAT -m FILE --current FILE` for it"
            ));
        }
        None if !client.capabilities().list => {
            return refused(format!(
                "{provider} cannot list a chat's members, so sync needs the current roster: pass \
                 --current FILE (the participants of the last add or remove --json reply)"
            ));
        }
        None => {}
    }

    let plan = match sync::plan(client, &prepared.chat, desired, &options).await {
        Ok(plan) => plan,
        Err(e) => {
            if let Some(refusal) = e.refusal() {
                let hint = match refusal {
                    Refusal::EmptyDesired { .. } => " (--allow-empty)",
                    Refusal::TooManyRemovals { .. } => "; raise --max-removals if it is meant",
                    _ => "",
                };
                return refused(format!("{name}sync refused, nothing sent: {refusal}{hint}"));
            }
            let e = Error::from(e);
            crate::eprint_line(&format!(
                "error: {name}reading the roster failed: {}",
                messages::for_cli_at(&e, provider, common.base_url.as_deref())
            ));
            return End::Failed;
        }
    };
    if plan.source == RosterSource::Supplied && !common.json {
        crate::eprint_line("note: planned from the roster in --current; only as fresh as it is");
    }
    let header = (many && !common.json).then(|| format!("# {provider} {}", common.chat));
    if let Err(e) = print_plan(&plan, header.as_deref(), common.json) {
        return write_failed(&e);
    }
    if plan.is_empty() {
        return End::NoChanges;
    }
    if !args.apply {
        return End::Changes;
    }

    let report = match sync::apply(client, &plan, &ApplyOptions::default()).await {
        Ok(report) => report,
        Err(e) => return refused(format!("{name}sync refused, nothing sent: {e}")),
    };
    let records: Vec<Record> = report
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
        .collect();
    if let Err(e) = output::print(&records, common.json) {
        return write_failed(&e);
    }
    if report.is_complete() {
        End::Applied
    } else {
        End::Failed
    }
}

/// Our line in a Linq chat, as Linq marks it (`is_me`); unknown when it marks none.
async fn linq_own_line(common: &Common, chat: &ChatId) -> Result<OwnLine, Error> {
    let chat = crate::wait::linq_client(common)?.get_chat(chat).await?;
    Ok(chat
        .me()
        .map_or(OwnLine::Unknown, |me| OwnLine::Handle(me.handle.clone())))
}

/// The rules from the flags.
fn rules(args: &SyncArgs, provider: ProviderKind) -> Result<Rules, String> {
    let protected = args
        .protect
        .iter()
        .map(|h| parse_handle(h).map_err(|e| format!("--protect {h}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let own_line = match (&args.own_line, provider) {
        (Some(h), _) => {
            OwnLine::Handle(parse_handle(h).map_err(|e| format!("--own-line {h}: {e}"))?)
        }
        (None, ProviderKind::Chert) => OwnLine::NotInRoster,
        (None, ProviderKind::Acs) => match std::env::var("ACS_USER_ID") {
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
fn print_plan(plan: &Plan, header: Option<&str>, json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if let Some(header) = header {
        writeln!(out, "{}", output::escape(header))?;
    }
    if json {
        serde_json::to_writer(&mut out, plan)?;
        out.write_all(b"\n")?;
    } else {
        for line in plan.to_string().lines() {
            writeln!(out, "{}", output::escape(line))?;
        }
    }
    out.flush()
}

/// Output could not be written: a failure, reported quietly for a closed pipe.
fn write_failed(e: &io::Error) -> End {
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
        let got = parse_members(text, "m.txt").unwrap();
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
        let e = parse_members("+14155550101\nnot a handle\n", "m.txt").unwrap_err();
        assert!(e.starts_with("m.txt line 2: "), "{e}");
    }

    #[test]
    fn rosters_group_rows_per_chat_in_first_seen_order() {
        let text = "provider,chat,handle\n# a comment\nacs,t1,8:acs:a\n,t2,+1 415 555 0101\nacs,t1,8:acs:b\n";
        let rosters = parse_rosters(text, "r.csv", Some(Provider::Zapi)).unwrap();
        let got: Vec<(Provider, &str, usize)> = rosters
            .iter()
            .map(|r| (r.provider, r.chat.as_str(), r.members.len()))
            .collect();
        assert_eq!(got, [(Provider::Acs, "t1", 2), (Provider::Zapi, "t2", 1)]);
        assert_eq!(rosters[1].members[0].as_str(), "+14155550101");
        for (bad, want) in [
            ("acs,t1\n", "line 1: expected 3 fields"),
            (
                "acs,t1,8:acs:a\nnope,t1,8:acs:a\n",
                "line 2: unknown provider",
            ),
            (",t1,8:acs:a\n", "line 1: no provider"),
            ("acs,,8:acs:a\n", "line 1: no chat"),
            ("acs,t1,not a handle\n", "line 1: "),
        ] {
            let e = parse_rosters(bad, "r.csv", None).err().unwrap();
            assert!(e.starts_with("r.csv ") && e.contains(want), "{bad}: {e}");
        }
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
