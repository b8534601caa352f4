//! `rosterkit sync`: make a chat's members match a file, through `rosterkit::sync`.
//!
//! Plan by default (only reads are sent), `--apply` to make the changes, `--check` and
//! `--detailed-exitcode` for scheduled jobs. The exit codes are in [`AFTER_HELP`].

use std::{
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use clap::Args;
use rosterkit::{
    E164, Error, Handle, ProviderKind,
    sync::{self, ApplyOptions, MaxRemovals, OwnLine, Plan, RosterSource, Rules, SyncOptions},
};

use crate::{
    args::Common,
    commands, messages,
    output::{self, Record},
};

/// The exit codes, and how `--detailed-exitcode` maps onto them.
pub(crate) const AFTER_HELP: &str = "\
Members files: one handle per line (+E.164 phones, written loosely if you like: \
+1 (415) 555-0101; emails; native ids such as 8:acs:...); blank lines and lines starting \
with # are ignored; `-` reads standard input.

Exit codes:
  0  the plan was printed (or applied with every step done); with --check: no drift
  1  a step failed, or reading the roster failed
  2  bad input or usage, or the plan was refused (too many removals, below the minimum group
     size, an empty members file): nothing was sent
  3  --check only: the chat differs from the members file (drift)

--detailed-exitcode (Terraform's `plan -detailed-exitcode`): 0 no changes, 2 changes present,
1 any error. Because 2 then means \"changes\", every usage error and refused plan exits 1
under --detailed-exitcode (with its message on stderr), including a command line that does not
parse. --detailed-exitcode is for planning: it cannot be combined with --apply or --check.";

/// The exit code `--check` uses for drift: distinct from 1 (an error) and 2 (usage), so a
/// scheduled job can tell \"the chat drifted\" from \"the check could not run\".
const DRIFT: u8 = 3;

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// The members the chat should have: one handle per line; `-` for stdin.
    #[arg(long, short = 'm', value_name = "FILE")]
    pub(crate) members: PathBuf,
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
    /// The chat's current members, one per line, to plan from instead of reading them. Needed
    /// for Chert, which cannot list a chat (its add/remove --json replies carry the roster).
    #[arg(long, value_name = "FILE")]
    pub(crate) current: Option<PathBuf>,
    /// Our own line, never added or removed (ACS: ACS_USER_ID by default; Chert's rosters leave
    /// it out). Without it, a listed own line missing from FILE is planned for removal.
    #[arg(long, value_name = "HANDLE")]
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

/// Reads and parses a members file (`-`: stdin).
fn read_members(path: &Path) -> Result<Vec<Handle>, String> {
    let name = path.display().to_string();
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| format!("cannot read {name}: {e}"))?;
    parse_members(&text, &name)
}

/// How exit codes are reported: rosterkit's own, or Terraform's under `--detailed-exitcode`.
#[derive(Clone, Copy)]
struct Codes {
    detailed: bool,
}

impl Codes {
    /// A usage error or refusal: its message, then 2 (or 1 under `--detailed-exitcode`).
    fn usage(self, message: impl std::fmt::Display) -> u8 {
        commands::usage(message);
        if self.detailed { 1 } else { 2 }
    }
}

/// Whether the command line asks for `sync --detailed-exitcode`: then a command line that does
/// not parse exits 1, not 2 (which would read as "changes present").
pub(crate) fn wants_detailed_exitcode(args: &[std::ffi::OsString]) -> bool {
    let has = |flag: &str| args.iter().any(|a| a == flag);
    has("sync") && has("--detailed-exitcode")
}

/// `rosterkit sync`; returns the process exit code.
pub(crate) async fn run(args: &SyncArgs) -> u8 {
    let codes = Codes {
        detailed: args.detailed_exitcode,
    };
    let common = &args.common;
    let provider = ProviderKind::from(common.provider);
    // `prepare` has printed why it failed; every failure there is a usage error.
    let Ok(prepared) = commands::prepare(common, &[], false) else {
        return if codes.detailed { 1 } else { 2 };
    };
    let client = prepared.client.as_ref();
    let desired = match read_members(&args.members) {
        Ok(d) => d,
        Err(e) => return codes.usage(e),
    };
    let rules = match rules(args, provider) {
        Ok(r) => r,
        Err(e) => return codes.usage(e),
    };
    let mut options = SyncOptions::new(rules);
    match &args.current {
        Some(path) => match read_members(path) {
            Ok(current) => options = options.with_roster(current),
            Err(e) => return codes.usage(e),
        },
        None if !client.capabilities().list => {
            return codes.usage(format!(
                "{provider} cannot list a chat's members, so sync needs the current roster: pass \
                 --current FILE (the participants of the last add or remove --json reply)"
            ));
        }
        None => {}
    }

    let plan = match sync::plan(client, &prepared.chat, &desired, &options).await {
        Ok(plan) => plan,
        Err(e) => {
            if let Some(refusal) = e.refusal() {
                return codes.usage(format!("sync refused, nothing sent: {refusal}"));
            }
            let e = Error::from(e);
            crate::eprint_line(&format!(
                "error: reading the roster failed: {}",
                messages::for_cli_at(&e, provider, common.base_url.as_deref())
            ));
            return 1;
        }
    };
    if plan.source == RosterSource::Supplied && !common.json {
        crate::eprint_line("note: planned from the roster in --current; only as fresh as it is");
    }
    if let Err(e) = print_plan(&plan, common.json) {
        return write_failed(&e);
    }
    if args.check {
        return if plan.is_empty() { 0 } else { DRIFT };
    }
    if args.detailed_exitcode {
        return if plan.is_empty() { 0 } else { 2 };
    }
    if !args.apply || plan.is_empty() {
        return 0;
    }

    let report = match sync::apply(client, &plan, &ApplyOptions::default()).await {
        Ok(report) => report,
        Err(e) => return codes.usage(format!("sync refused, nothing sent: {e}")),
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
    if report.is_complete() { 0 } else { 1 }
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
        .with_allow_protected_removal(args.allow_protected_removal);
    if let Some(limit) = args.max_removals {
        rules = rules.with_max_removals(limit);
    }
    Ok(rules)
}

/// The plan: its diff (each line escaped: handles can come from a server), or one JSON line.
fn print_plan(plan: &Plan, json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
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

/// Output could not be written: exit 1, quietly for a closed pipe.
fn write_failed(e: &io::Error) -> u8 {
    if e.kind() != io::ErrorKind::BrokenPipe {
        crate::eprint_line(&format!("error: writing output: {e}"));
    }
    1
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
