//! Resuming a bulk run: which input rows an earlier run finished, matched by content.
//!
//! A results file holds one JSON line per row, each with the row's `line` and [`Fingerprint`].
//! A row is *finished* when a result for it says the change may have taken effect (an outcome
//! other than `failed`, or a failure with `maybe_applied: true`), or refused the row itself as
//! invalid (`invalid_row`: the same row would be refused again). In ensure mode,
//! `maybe_applied` failures of `remove` and `leave` are not finished: ensure mode makes
//! repeating them safe. A result line cut off by a crash (*torn*) counts as finished and
//! `maybe_applied` when its line number can be read from what is left.
//!
//! Matching ([`Priors::match_rows`]): a row takes a finished result with its own line number
//! and fingerprint, else any unclaimed finished result with its fingerprint (the row moved),
//! each result at most once. So rows added since, rows edited since (new rows) and rows that
//! moved are skipped only when their own content finished: never skipped wrongly, never
//! repeated.
//!
//! Refused ([`ResumeError`]): a result line without a fingerprint, a line number beyond the
//! input, or a results file none of whose results that may have taken effect matches a row of
//! the input (the wrong file).
//!
//! Parsing ([`Priors::read`]) is bounded, whatever the file holds: each line is read up to
//! [`MAX_LINE`] bytes, line numbers are checked against the input, and only finished results
//! are kept (a few words each).
//!
//! ```
//! use rosterkit::bulk::resume::{Fingerprint, Priors, Skip};
//!
//! let done: Fingerprint = "00000000000000aa".parse().unwrap();
//! let file = format!("{{\"line\":1,\"fingerprint\":\"{done}\",\"outcome\":\"applied\"}}\n");
//! let priors = Priors::read(file.as_bytes(), false).unwrap();
//! // A new row was inserted at the top: the finished row is now line 2, and is still skipped.
//! let new: Fingerprint = "00000000000000bb".parse().unwrap();
//! let matched = priors.match_rows([(1, new), (2, done)], 2).unwrap();
//! assert_eq!(matched.skips.get(&2), Some(&Skip::Finished));
//! assert_eq!(matched.skips.get(&1), None);
//! ```

use std::{
    collections::{HashMap, VecDeque},
    fmt,
    io::{BufRead, Read},
    path::Path,
    str::FromStr,
};

use serde::Deserialize;

use super::{Op, RawOp};

/// Bytes of one result line read at most; the rest of a longer line is skipped unread.
pub const MAX_LINE: usize = 64 * 1024;

/// 64-bit FNV-1a of `bytes`: tiny, dependency-free and fixed by its definition, so a results
/// file (or a shard split) made by one build means the same to every other build and platform.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// The fingerprint of a row: FNV-1a-64 of `op`, `provider`, `chat` and `handle` joined by
/// U+001F (a byte no field can hold), written as 16 lowercase hex digits. Valid rows use the
/// parsed (normalised) fields, refused rows the fields as read, trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// The fingerprint of any record made of text fields (a sync chat's provider, chat and
    /// members, say): FNV-1a-64 of the fields joined by U+001F.
    pub fn of_fields<'a>(fields: impl IntoIterator<Item = &'a str>) -> Self {
        let mut bytes = Vec::new();
        for (i, field) in fields.into_iter().enumerate() {
            if i > 0 {
                bytes.extend_from_slice("\u{1f}".as_bytes());
            }
            bytes.extend_from_slice(field.as_bytes());
        }
        Self(fnv1a64(&bytes))
    }

    /// The fingerprint of a row, valid or refused.
    pub fn of(op: Result<&Op, &RawOp>) -> Self {
        match op {
            Ok(op) => Self::of_fields([
                op.kind().as_str(),
                op.provider().as_str(),
                op.chat().as_str(),
                op.handle().map(|h| h.as_str()).unwrap_or_default(),
            ]),
            Err(raw) => {
                Self::of_fields([&raw.op, &raw.provider, &raw.chat, &raw.handle].map(
                    |field: &Option<String>| field.as_deref().map(str::trim).unwrap_or_default(),
                ))
            }
        }
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A fingerprint that is not 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFingerprint;

impl fmt::Display for BadFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a fingerprint is 16 hex digits")
    }
}

impl std::error::Error for BadFingerprint {}

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(s: &str) -> Result<Self, BadFingerprint> {
        if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadFingerprint);
        }
        u64::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| BadFingerprint)
    }
}

/// Why a row is skipped (a closed set: a row runs, or is skipped for one of these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A result says the change may have taken effect.
    Finished,
    /// The row was refused as invalid, and has not changed since.
    Invalid,
    /// A torn result line: the call was made, its result is unknown (counted `maybe_applied`).
    Unknown,
}

/// Why a results file cannot be resumed from; nothing should be sent.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResumeError {
    /// Reading failed.
    Io(std::io::Error),
    /// The result on line `at` has no fingerprint (an older rosterkit, or not a results file).
    NoFingerprint {
        /// Line of the results file.
        at: u64,
    },
    /// The result on line `at` has a fingerprint that is not 16 hex digits.
    BadFingerprint {
        /// Line of the results file.
        at: u64,
    },
    /// The result on line `at` is for input line `line`, which the input does not have.
    BeyondInput {
        /// Line of the results file.
        at: u64,
        /// The input line it names.
        line: u64,
        /// The input's last line.
        last_line: u64,
    },
    /// None of the `total` results that may have taken effect matches a row of the input.
    NoMatch {
        /// Results that may have taken effect.
        total: u64,
        /// The results-file line of the first.
        first: u64,
    },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::NoFingerprint { at } => write!(
                f,
                "line {at} has no fingerprint (written by an older rosterkit, or not a results \
                 file); run without --resume, with --ensure for safe repeats"
            ),
            Self::BadFingerprint { at } => write!(f, "line {at} has a malformed fingerprint"),
            Self::BeyondInput {
                at,
                line,
                last_line,
            } => write!(
                f,
                "the --resume file's line {at} is the result of input line {line}, but the \
                 input has {last_line} lines: is it the results file of another input?"
            ),
            Self::NoMatch { total, first } => write!(
                f,
                "none of its {total} results that may have taken effect matches a row of the \
                 input (the first is on its line {first}): is it the results file of another \
                 input? If the finished rows were removed from the input, run without --resume"
            ),
        }
    }
}

impl std::error::Error for ResumeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// One finished result from the file.
#[derive(Debug, Clone, Copy)]
struct Prior {
    /// Line in the results file (for messages).
    at: u64,
    line: u64,
    fingerprint: Option<Fingerprint>,
    skip: Skip,
}

/// What resume reads from an earlier result line; other fields are ignored.
#[derive(Deserialize)]
struct ResultFields {
    line: u64,
    #[serde(default)]
    fingerprint: Option<String>,
    outcome: String,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    maybe_applied: bool,
    #[serde(default)]
    invalid_row: bool,
}

impl ResultFields {
    /// Whether the row must not run again (see the module docs).
    fn skip(&self, ensure: bool) -> Option<Skip> {
        if self.outcome != "failed" {
            return Some(Skip::Finished);
        }
        if self.invalid_row {
            return Some(Skip::Invalid);
        }
        let repeat_is_safe =
            ensure && matches!(self.operation.as_deref(), Some("remove" | "leave"));
        (self.maybe_applied && !repeat_is_safe).then_some(Skip::Finished)
    }
}

/// The finished results of a results file, read by [`Priors::read`].
#[derive(Debug, Default)]
pub struct Priors {
    priors: Vec<Prior>,
    /// Result lines read (not blank).
    read: u64,
    /// Lines neither JSON nor torn with a readable line number.
    unreadable: u64,
}

impl Priors {
    /// Reads a results file; `ensure` is whether the run resuming it is in ensure mode.
    ///
    /// Memory is bounded by the finished results, whatever the file holds (see the module
    /// docs); lines that are not results are counted, not kept.
    ///
    /// # Errors
    /// [`ResumeError::Io`], [`ResumeError::NoFingerprint`], [`ResumeError::BadFingerprint`].
    pub fn read(mut reader: impl BufRead, ensure: bool) -> Result<Self, ResumeError> {
        let mut priors = Self::default();
        let mut buf = Vec::new();
        let mut at = 0u64;
        loop {
            buf.clear();
            let n = reader
                .by_ref()
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(ResumeError::Io)?;
            if n == 0 {
                break;
            }
            at += 1;
            if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
                reader.skip_until(b'\n').map_err(ResumeError::Io)?;
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            priors.read += 1;
            match serde_json::from_slice::<ResultFields>(&buf) {
                Ok(fields) => {
                    let Some(text) = &fields.fingerprint else {
                        return Err(ResumeError::NoFingerprint { at });
                    };
                    let fingerprint = text
                        .parse()
                        .map_err(|_| ResumeError::BadFingerprint { at })?;
                    if let Some(skip) = fields.skip(ensure) {
                        priors.priors.push(Prior {
                            at,
                            line: fields.line,
                            fingerprint: Some(fingerprint),
                            skip,
                        });
                    }
                }
                Err(_) => match torn(&buf) {
                    Some((line, fingerprint)) => priors.priors.push(Prior {
                        at,
                        line,
                        fingerprint,
                        skip: Skip::Unknown,
                    }),
                    None => priors.unreadable += 1,
                },
            }
        }
        Ok(priors)
    }

    /// Matches the results to the input rows `(line, fingerprint)`, whose last line is
    /// `last_line` (see the module docs).
    ///
    /// # Errors
    /// [`ResumeError::BeyondInput`], [`ResumeError::NoMatch`].
    pub fn match_rows(
        self,
        rows: impl IntoIterator<Item = (u64, Fingerprint)>,
        last_line: u64,
    ) -> Result<Matched, ResumeError> {
        if let Some(p) = self
            .priors
            .iter()
            .find(|p| p.line == 0 || p.line > last_line)
        {
            return Err(ResumeError::BeyondInput {
                at: p.at,
                line: p.line,
                last_line,
            });
        }
        let mut at_line: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut by_fingerprint: HashMap<Fingerprint, VecDeque<usize>> = HashMap::new();
        for (i, p) in self.priors.iter().enumerate() {
            at_line.entry(p.line).or_default().push(i);
            if let Some(fp) = p.fingerprint {
                by_fingerprint.entry(fp).or_default().push_back(i);
            }
        }
        let rows: Vec<(u64, Fingerprint)> = rows.into_iter().collect();
        let mut claimed = vec![false; self.priors.len()];
        let mut matched = Matched::default();
        // First the rows whose result has their own line and fingerprint, then the rows that
        // moved, so a moved row never takes the result of a row that stayed.
        let mut moved_rows = Vec::new();
        for (line, fingerprint) in rows {
            let exact = at_line.get(&line).and_then(|at| {
                at.iter().copied().find(|&i| {
                    !claimed[i]
                        && self.priors[i]
                            .fingerprint
                            .is_none_or(|fp| fp == fingerprint)
                })
            });
            match exact {
                Some(i) => {
                    claimed[i] = true;
                    matched.skips.insert(line, self.priors[i].skip);
                }
                None => moved_rows.push((line, fingerprint)),
            }
        }
        for (line, fingerprint) in moved_rows {
            let Some(queue) = by_fingerprint.get_mut(&fingerprint) else {
                continue;
            };
            while let Some(i) = queue.pop_front() {
                if !claimed[i] {
                    claimed[i] = true;
                    matched.moved += 1;
                    matched.skips.insert(line, self.priors[i].skip);
                    break;
                }
            }
        }
        let unmatched = claimed.iter().filter(|c| !**c).count();
        // Results of rows that may have taken effect, none of which is in the input: the wrong
        // file, or the input lost those rows. (Invalid rows do not count: fixing every one of
        // them is a normal reason for none to match.)
        let effective = self
            .priors
            .iter()
            .zip(&claimed)
            .filter(|(p, _)| p.skip != Skip::Invalid);
        let (total, matched_any) =
            effective.fold((0u64, false), |(n, any), (_, c)| (n + 1, any || *c));
        if total > 0 && !matched_any {
            let first = self
                .priors
                .iter()
                .filter(|p| p.skip != Skip::Invalid)
                .map(|p| p.at)
                .min()
                .unwrap_or(0);
            return Err(ResumeError::NoMatch { total, first });
        }
        matched.unmatched = unmatched as u64;
        matched.read = self.read;
        matched.unreadable = self.unreadable;
        Ok(matched)
    }
}

/// The `line` (and `fingerprint`, when complete) at the start of a torn result line, which
/// rosterkit writes as `{"line":N,"fingerprint":"…",…`.
fn torn(buf: &[u8]) -> Option<(u64, Option<Fingerprint>)> {
    let rest = buf.strip_prefix(b"{\"line\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    // The number must be complete: something follows it.
    let after = rest.get(digits..).filter(|a| !a.is_empty())?;
    let line = std::str::from_utf8(rest.get(..digits)?)
        .ok()?
        .parse()
        .ok()?;
    let fingerprint = after
        .strip_prefix(b",\"fingerprint\":\"")
        .and_then(|f| f.get(..16))
        .and_then(|f| std::str::from_utf8(f).ok())
        .and_then(|f| f.parse().ok());
    Some((line, fingerprint))
}

/// The rows to skip, and what to tell the user.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Matched {
    /// The input lines to skip, and why.
    pub skips: HashMap<u64, Skip>,
    /// Results matched at a different line than they were written for.
    pub moved: u64,
    /// Finished results that match no row (their rows were edited or removed).
    pub unmatched: u64,
    /// Result lines read (not blank).
    pub read: u64,
    /// Lines neither a result nor a torn result with a readable line number.
    pub unreadable: u64,
}

impl Matched {
    /// One line for the user, naming the results file `path`.
    pub fn note(&self, path: &Path) -> String {
        let mut note = format!(
            "resume: {} of {} results in {} are finished or invalid rows; those rows are skipped",
            self.skips.len(),
            self.read,
            path.display()
        );
        if self.moved > 0 {
            note.push_str(&format!(" ({} matched at a new line)", self.moved));
        }
        if self.unmatched > 0 {
            note.push_str(&format!(
                "; {} match no row of the input (edited or removed since)",
                self.unmatched
            ));
        }
        if self.unreadable > 0 {
            note.push_str(&format!("; {} unreadable lines ignored", self.unreadable));
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatId, Handle, ProviderKind};

    fn fp(n: u64) -> Fingerprint {
        Fingerprint(n)
    }

    fn result(line: u64, fingerprint: u64, outcome: &str, extra: &str) -> String {
        format!(
            "{{\"line\":{line},\"fingerprint\":\"{}\",\"operation\":\"remove\",\"outcome\":\"{outcome}\"{extra}}}\n",
            fp(fingerprint)
        )
    }

    fn priors(text: &str, ensure: bool) -> Priors {
        Priors::read(text.as_bytes(), ensure).unwrap()
    }

    #[test]
    fn fnv1a_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fingerprints_are_stable_and_field_sensitive() {
        let chat = ChatId::new("ch_1").unwrap();
        let handle: Handle = "+14155551234".parse().unwrap();
        let op = Op::remove(ProviderKind::Chert, chat.clone(), handle.clone());
        let fp = Fingerprint::of(Ok(&op));
        assert_eq!(fp.to_string(), Fingerprint::of(Ok(&op)).to_string());
        // The same fields as read, spelled loosely, are the same row once parsed.
        let raw = RawOp::new(
            Some(" Remove ".into()),
            Some("CHERT".into()),
            Some("ch_1".into()),
            Some("+14155551234".into()),
        );
        assert_eq!(Fingerprint::of(Ok(&raw.parse().unwrap())), fp);
        assert_ne!(Fingerprint::of(Err(&raw)), fp, "a refused row is as read");
        let add = Op::add(ProviderKind::Chert, chat, handle);
        assert_ne!(Fingerprint::of(Ok(&add)), fp);
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        for bad in [
            "xyz",
            "+000000000000000",
            "00000000000000000",
            "000000000000000g",
        ] {
            assert_eq!(bad.parse::<Fingerprint>(), Err(BadFingerprint), "{bad}");
        }
    }

    #[test]
    fn the_finished_rule() {
        let skip = |outcome: &str, extra: &str, ensure: bool| {
            priors(&result(1, 1, outcome, extra), ensure)
                .priors
                .first()
                .map(|p| p.skip)
        };
        for outcome in ["applied", "queued", "already_done", "unconfirmed"] {
            assert_eq!(skip(outcome, "", false), Some(Skip::Finished));
        }
        // A definite failure never took effect: it runs again.
        assert_eq!(skip("failed", "", false), None);
        // A failure that may have taken effect is not repeated...
        assert_eq!(
            skip("failed", ",\"maybe_applied\":true", false),
            Some(Skip::Finished)
        );
        // ...unless ensure mode makes the repeat safe.
        assert_eq!(skip("failed", ",\"maybe_applied\":true", true), None);
        // An invalid row stays invalid until it is edited.
        assert_eq!(
            skip("failed", ",\"invalid_row\":true", true),
            Some(Skip::Invalid)
        );
    }

    #[test]
    fn rows_match_by_fingerprint_when_lines_move() {
        // The earlier input: rows A (line 1) and B (line 2), both applied.
        let text = result(1, 0xA, "applied", "") + &result(2, 0xB, "applied", "");
        // A row N was inserted at the top: A is now line 2, B line 3.
        let matched = priors(&text, false)
            .match_rows([(1, fp(0xE)), (2, fp(0xA)), (3, fp(0xB))], 3)
            .unwrap();
        assert_eq!(matched.skips.get(&1), None, "the new row runs");
        assert_eq!(matched.skips.get(&2), Some(&Skip::Finished));
        assert_eq!(matched.skips.get(&3), Some(&Skip::Finished));
        assert_eq!(matched.moved, 2);
    }

    #[test]
    fn each_result_is_claimed_once() {
        // The same operation twice in the input, done once before: it runs once more.
        let text = result(2, 0xA, "applied", "");
        let matched = priors(&text, false)
            .match_rows([(1, fp(0xA)), (2, fp(0xA))], 2)
            .unwrap();
        assert_eq!(matched.skips.len(), 1);
        assert_eq!(matched.skips.get(&2), Some(&Skip::Finished));
    }

    #[test]
    fn refusals_name_the_line() {
        let e = Priors::read(&b"{\"line\":1,\"outcome\":\"applied\"}\n"[..], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1 has no fingerprint"), "{e}");
        let huge = result(u64::MAX, 0xA, "applied", "");
        let e = priors(&huge, false)
            .match_rows([(1, fp(0xA))], 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("input line 18446744073709551615") && e.contains("1 lines"),
            "{e}"
        );
        let e = priors(&result(1, 0xA, "applied", ""), false)
            .match_rows([(1, fp(0xB))], 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("another input"), "{e}");
    }

    #[test]
    fn fixing_every_invalid_row_is_not_a_foreign_file() {
        let text = result(1, 0xA, "failed", ",\"invalid_row\":true");
        let matched = priors(&text, false).match_rows([(1, fp(0xB))], 1).unwrap();
        assert!(matched.skips.is_empty());
        assert_eq!(matched.unmatched, 1);
    }

    #[test]
    fn a_torn_line_is_unknown_and_skipped() {
        let whole = result(1, 0xA, "applied", "");
        let torn_line = &result(2, 0xB, "applied", "")[..40];
        let text = format!("{whole}{torn_line}");
        let matched = priors(&text, false)
            .match_rows([(1, fp(0xA)), (2, fp(0xB)), (3, fp(0xC))], 3)
            .unwrap();
        assert_eq!(matched.skips.get(&2), Some(&Skip::Unknown));
        assert_eq!(matched.skips.get(&3), None);
        // Cut inside the line number: nothing can be said about it.
        assert_eq!(priors("{\"line\":1", false).unreadable, 1);
        assert_eq!(torn(b"{\"line\":7,\"finger"), Some((7, None)));
    }

    #[test]
    fn long_lines_are_bounded() {
        let text = format!(
            "{}\n{}",
            "x".repeat(3 * MAX_LINE),
            result(1, 0xA, "applied", "")
        );
        let p = priors(&text, false);
        assert_eq!((p.unreadable, p.priors.len()), (1, 1));
    }
}
