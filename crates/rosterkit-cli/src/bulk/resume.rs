//! `--resume`: which input rows an earlier run finished, matched by content.
//!
//! Every result line carries its row's `line` and `fingerprint` ([`Fingerprint`]). A row is
//! *finished* when a result for it says the change may have taken effect (an outcome other than
//! `failed`, or a failure with `maybe_applied: true`), or refused the row itself as invalid
//! (`invalid_row`: the same row would be refused again). With `--ensure`, `maybe_applied`
//! failures of `remove` and `leave` are not finished: ensure mode makes repeating them safe.
//! A result line cut off by a crash (*torn*) counts as finished and `maybe_applied` when its
//! line number can be read from what is left.
//!
//! Matching: a row takes a finished result with its own line number and fingerprint, else any
//! unclaimed finished result with its fingerprint (the row moved), each result at most once.
//! So rows added since run, rows edited since run as new rows, and rows that moved are skipped
//! only when their own content finished: never skipped wrongly, never repeated.
//!
//! Refused (exit 2, nothing sent): a result line without a fingerprint, a line number beyond
//! the input, or a results file none of whose results that may have taken effect matches a
//! row of the input (the wrong file).
//!
//! Parsing is bounded: each result line is read up to [`MAX_LINE`] bytes, line numbers are
//! checked against the input, and only finished results are kept (a few words each).

use std::{
    collections::{HashMap, VecDeque},
    fs::File,
    io::{BufRead, BufReader, Read},
    path::Path,
};

use serde::Deserialize;

use super::{input::MAX_LINE, key::Fingerprint};

/// Why a row is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// A result says the change may have taken effect.
    Finished,
    /// The row was refused as invalid, and has not changed since.
    Invalid,
    /// A torn result line: the call was made, its result is unknown (counted `maybe_applied`).
    Unknown,
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

/// The finished results of a `--resume` file.
#[derive(Debug, Default)]
pub(crate) struct Priors {
    priors: Vec<Prior>,
    /// Result lines read (not blank).
    read: u64,
    /// Lines neither JSON nor torn with a readable line number.
    unreadable: u64,
}

impl Priors {
    /// Reads `path`.
    ///
    /// # Errors
    /// A message for the user (exit 2): the file cannot be read, or a result has no
    /// fingerprint.
    pub(crate) fn load(path: &Path, ensure: bool) -> Result<Self, String> {
        let file = File::open(path).map_err(|e| {
            format!(
                "cannot read the --resume file {}: {e} (omit --resume on a first run)",
                path.display()
            )
        })?;
        Self::read(BufReader::new(file), ensure)
            .map_err(|e| format!("the --resume file {}: {e}", path.display()))
    }

    fn read(mut reader: impl BufRead, ensure: bool) -> Result<Self, String> {
        let mut priors = Self::default();
        let mut buf = Vec::new();
        let mut at = 0u64;
        loop {
            buf.clear();
            let n = reader
                .by_ref()
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            at += 1;
            if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
                reader.skip_until(b'\n').map_err(|e| e.to_string())?;
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            priors.read += 1;
            match serde_json::from_slice::<ResultFields>(&buf) {
                Ok(fields) => {
                    let Some(text) = &fields.fingerprint else {
                        return Err(format!(
                            "line {at} has no fingerprint (written by an older rosterkit, or not \
                             a results file); run without --resume, with --ensure for safe \
                             repeats"
                        ));
                    };
                    let fingerprint = text
                        .parse()
                        .map_err(|()| format!("line {at} has a malformed fingerprint"))?;
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

    /// Matches the results to the input rows `(line, fingerprint)` (see the module docs).
    ///
    /// # Errors
    /// A message for the user (exit 2): a result names a line beyond the input, or no result
    /// matches any row.
    pub(crate) fn match_rows(
        self,
        rows: impl IntoIterator<Item = (u64, Fingerprint)>,
        last_line: u64,
    ) -> Result<Matched, String> {
        if let Some(p) = self
            .priors
            .iter()
            .find(|p| p.line == 0 || p.line > last_line)
        {
            return Err(format!(
                "the --resume file's line {} is the result of input line {}, but the input has \
                 {last_line} lines: is it the results file of another input?",
                p.at, p.line
            ));
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
            effective.fold((0usize, false), |(n, any), (_, c)| (n + 1, any || *c));
        if total > 0 && !matched_any {
            let first = self
                .priors
                .iter()
                .filter(|p| p.skip != Skip::Invalid)
                .map(|p| p.at)
                .min()
                .unwrap_or(0);
            return Err(format!(
                "none of its {total} results that may have taken effect matches a row of the \
                 input (the first is on its line {first}): is it the results file of another \
                 input? If the finished rows were removed from the input, run without --resume"
            ));
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
pub(crate) struct Matched {
    pub(crate) skips: HashMap<u64, Skip>,
    /// Results matched at a different line than they were written for.
    pub(crate) moved: u64,
    /// Finished results that match no row (their rows were edited or removed).
    pub(crate) unmatched: u64,
    pub(crate) read: u64,
    pub(crate) unreadable: u64,
}

impl Matched {
    /// One line for stderr.
    pub(crate) fn note(&self, path: &Path) -> String {
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
        let e = Priors::read(&b"{\"line\":1,\"outcome\":\"applied\"}\n"[..], false).unwrap_err();
        assert!(e.contains("line 1 has no fingerprint"), "{e}");
        let huge = result(u64::MAX, 0xA, "applied", "");
        let e = priors(&huge, false)
            .match_rows([(1, fp(0xA))], 1)
            .unwrap_err();
        assert!(
            e.contains("input line 18446744073709551615") && e.contains("1 lines"),
            "{e}"
        );
        let e = priors(&result(1, 0xA, "applied", ""), false)
            .match_rows([(1, fp(0xB))], 1)
            .unwrap_err();
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
