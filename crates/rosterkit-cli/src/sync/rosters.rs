//! Reading `sync --file`: `provider,chat,handle` rows streamed into one group per chat.
//!
//! The rows of a chat must be contiguous: a group ends at the first row of another chat, so
//! only one group is held at a time (plus one 16-byte entry per chat seen, to notice a chat
//! that comes back). A chat that comes back is refused from that line on; its earlier group has
//! already gone on to be planned. Rows are read by bulk's CSV reader ([`csv_reader`]), which
//! knows the line each record starts on.
//!
//! A row's problem (a bad handle, a wrong field count, an unknown provider, an empty chat
//! field) refuses the group it is in: the chat named by its chat field when that is the group
//! being read, so a typo inside a chat's rows never splits the chat in two.

use std::{
    collections::HashMap,
    io::{BufReader, Read},
};

use clap::ValueEnum;
use rosterkit::Handle;

use super::parse_handle;
use crate::{
    args::Provider,
    bulk::{
        input::{LineCounter, MAX_LINE, csv_reader},
        key::{Fingerprint, fnv1a64},
    },
};

/// One chat's rows: the members it should have, or why it is refused.
#[derive(Debug)]
pub(crate) struct Group {
    /// The line the chat's first row is on (1-based).
    pub(crate) line: u64,
    /// The provider; `None` when the rows do not name one that is known.
    pub(crate) provider: Option<Provider>,
    /// The provider as written (for reports when it is unknown).
    pub(crate) provider_text: String,
    pub(crate) chat: String,
    pub(crate) members: Vec<Handle>,
    /// The first problem in the chat's rows: the whole chat is refused.
    pub(crate) problem: Option<String>,
}

impl Group {
    /// What `--resume` matches on: FNV-1a-64 of the provider, the chat and the members,
    /// sorted and de-duplicated, joined by U+001F (see [`Fingerprint`]).
    pub(crate) fn fingerprint(&self) -> Fingerprint {
        let provider = match self.provider {
            Some(p) => provider_name(p),
            None => self.provider_text.as_str(),
        };
        let mut members: Vec<&str> = self.members.iter().map(Handle::as_str).collect();
        members.sort_unstable();
        members.dedup();
        Fingerprint::of_fields([provider, self.chat.as_str()].into_iter().chain(members))
    }
}

/// A provider's name as rows write it.
fn provider_name(provider: Provider) -> &'static str {
    rosterkit::ProviderName::from(provider).as_str()
}

/// The groups of a `--file`, in file order; `Err` ends the input (a failed read).
pub(crate) struct Groups {
    reader: csv::Reader<LineCounter>,
    name: String,
    default: Option<Provider>,
    /// The group being read.
    open: Option<Group>,
    /// The chats whose groups ended: key hash -> the line their group started on.
    ended: HashMap<u64, u64>,
    first: bool,
}

impl Groups {
    /// Groups the rows of `input` (named `name` in messages); an empty provider field takes
    /// `default`.
    pub(crate) fn new(
        input: Box<dyn Read + Send>,
        name: String,
        default: Option<Provider>,
    ) -> Self {
        Self {
            reader: csv_reader(BufReader::with_capacity(
                64 * 1024,
                Box::new(Uncommented::new(input)),
            )),
            name,
            default,
            open: None,
            ended: HashMap::new(),
            first: true,
        }
    }

    /// The key a chat is remembered by once its group ended.
    fn key(provider: Option<Provider>, provider_text: &str, chat: &str) -> u64 {
        let provider = match provider {
            Some(p) => provider_name(p),
            None => provider_text,
        };
        fnv1a64(format!("{provider}\u{1f}{chat}").as_bytes())
    }

    /// Ends the open group, remembering its chat.
    fn close(&mut self) -> Option<Group> {
        let group = self.open.take()?;
        let key = Self::key(group.provider, &group.provider_text, &group.chat);
        self.ended.entry(key).or_insert(group.line);
        Some(group)
    }

    /// Reads the next record; `None` at the end.
    fn record(&mut self) -> Option<Result<(u64, csv::ByteRecord), String>> {
        let mut record = csv::ByteRecord::new();
        match self.reader.read_byte_record(&mut record) {
            Ok(true) => {
                let line = self.reader.get_ref().line_at(&record);
                Some(Ok((line, record)))
            }
            Ok(false) => None,
            Err(e) => Some(Err(format!("{}: {e}", self.name))),
        }
    }

    /// Takes one row into the open group, or ends it and returns it.
    fn take(&mut self, line: u64, record: &csv::ByteRecord) -> Option<Group> {
        let name = self.name.clone();
        let at = |e: &str| format!("{name} line {line}: {e}");
        let row = Row::parse(record, self.default);
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                let problem = at(&e);
                match &mut self.open {
                    Some(group) => {
                        group.problem.get_or_insert(problem);
                        return None;
                    }
                    None => {
                        self.open = Some(Group {
                            line,
                            provider: None,
                            provider_text: String::new(),
                            chat: String::new(),
                            members: Vec::new(),
                            problem: Some(problem),
                        });
                        return None;
                    }
                }
            }
        };
        let same = self.open.as_ref().is_some_and(|g| {
            g.chat == row.chat
                && (row.provider.is_err()
                    || g.provider.is_none()
                    || g.provider == row.provider.as_ref().ok().copied())
        });
        let ended = if same { None } else { self.close() };
        let group = self.open.get_or_insert_with(|| {
            let provider = row.provider.as_ref().ok().copied();
            Group {
                line,
                provider,
                provider_text: row.provider_text.clone(),
                chat: row.chat.clone(),
                members: Vec::new(),
                problem: None,
            }
        });
        if !same
            && let Some(first) = self.ended.get(&Self::key(
                group.provider,
                &group.provider_text,
                &group.chat,
            ))
        {
            group.problem = Some(at(&format!(
                "chat {} appears again; its rows began on line {first} and ended before this line: \
                 the rows of one chat must be together (sort the file by chat), so these are \
                 refused",
                row.chat
            )));
        }
        match (row.provider, row.handle) {
            (Err(e), _) | (_, Err(e)) => {
                group.problem.get_or_insert_with(|| at(&e));
            }
            (Ok(_), Ok(handle)) => group.members.push(handle),
        }
        ended
    }
}

impl Iterator for Groups {
    type Item = Result<Group, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, record) = match self.record() {
                Some(Ok(r)) => r,
                Some(Err(e)) => return Some(Err(e)),
                None => return self.close().map(Ok),
            };
            if std::mem::take(&mut self.first) && is_header(&record) {
                continue;
            }
            if let Some(group) = self.take(line, &record) {
                return Some(Ok(group));
            }
        }
    }
}

/// The input with every line that starts with `#` emptied, its line end kept: the CSV reader
/// skips empty lines, and the line numbers stay those of the file (the `csv` crate's own
/// comment option would give a record after a comment the comment's line).
struct Uncommented {
    inner: Box<dyn Read + Send>,
    line_start: bool,
    in_comment: bool,
}

impl Uncommented {
    fn new(inner: Box<dyn Read + Send>) -> Self {
        Self {
            inner,
            line_start: true,
            in_comment: false,
        }
    }
}

impl Read for Uncommented {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            let mut kept = 0;
            for i in 0..n {
                let byte = buf[i];
                if self.line_start && byte == b'#' {
                    self.in_comment = true;
                }
                if byte == b'\n' {
                    self.in_comment = false;
                }
                self.line_start = byte == b'\n';
                if !self.in_comment {
                    buf[kept] = byte;
                    kept += 1;
                }
            }
            // A read that was all comment is not the end of the input.
            if kept > 0 || n == 0 {
                return Ok(kept);
            }
        }
    }
}

/// Whether the first record names the fields.
fn is_header(record: &csv::ByteRecord) -> bool {
    record.len() == 3
        && record
            .iter()
            .zip(["provider", "chat", "handle"])
            .all(|(f, name)| f.eq_ignore_ascii_case(name.as_bytes()))
}

/// One row, its chat known; the provider and handle may still be wrong.
struct Row {
    provider: Result<Provider, String>,
    provider_text: String,
    chat: String,
    handle: Result<Handle, String>,
}

impl Row {
    /// `Err` when the row cannot be placed in a chat: too long, not UTF-8, not three fields,
    /// no chat.
    fn parse(record: &csv::ByteRecord, default: Option<Provider>) -> Result<Self, String> {
        if record.as_slice().len() > MAX_LINE {
            return Err(format!("row is longer than {MAX_LINE} bytes"));
        }
        let fields = record
            .iter()
            .map(std::str::from_utf8)
            .collect::<Result<Vec<&str>, _>>()
            .map_err(|_| "row is not valid UTF-8".to_owned())?;
        let [provider, chat, handle] = fields[..] else {
            return Err(format!(
                "expected 3 fields provider,chat,handle, found {} (quote fields that contain \
                 commas)",
                fields.len()
            ));
        };
        if chat.is_empty() {
            return Err("no chat".to_owned());
        }
        let provider_result = match (provider, default) {
            ("", Some(p)) => Ok(p),
            ("", None) => Err("no provider, and no --provider".to_owned()),
            (p, _) => Provider::from_str(p, true).map_err(|_| {
                let known: Vec<&str> = rosterkit::Registry::global().names().collect();
                format!("unknown provider {p:?} ({})", known.join(", "))
            }),
        };
        let handle = match &provider_result {
            Ok(p) => parse_handle(*p, handle),
            Err(_) => handle
                .parse::<rosterkit::Handle>()
                .map_err(|e| e.to_string()),
        };
        Ok(Self {
            provider: provider_result,
            provider_text: provider.to_ascii_lowercase(),
            chat: chat.to_owned(),
            handle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(text: &str, default: Option<Provider>) -> Vec<Group> {
        let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        Groups::new(input, "r.csv".to_owned(), default)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    fn shape(groups: &[Group]) -> Vec<(u64, &str, usize, bool)> {
        groups
            .iter()
            .map(|g| {
                (
                    g.line,
                    g.chat.as_str(),
                    g.members.len(),
                    g.problem.is_some(),
                )
            })
            .collect()
    }

    #[test]
    fn contiguous_rows_make_one_group_each_with_their_first_line() {
        let text = "provider,chat,handle\n# a comment, \"quoted\nacs,t1,8:acs:a\nacs,t1,8:acs:b\n#\n,t2,+1 415 555 0101\n";
        let got = groups(text, Some(Provider::Zapi));
        assert_eq!(shape(&got), [(3, "t1", 2, false), (6, "t2", 1, false)]);
        assert_eq!(got[1].provider, Some(Provider::Zapi));
        assert_eq!(got[1].members[0].as_str(), "+14155550101");
    }

    #[test]
    fn a_chat_that_comes_back_is_refused_at_the_line_it_returns() {
        let got = groups("acs,t1,8:acs:a\nacs,t2,8:acs:b\nacs,t1,8:acs:c\n", None);
        assert_eq!(
            shape(&got),
            [(1, "t1", 1, false), (2, "t2", 1, false), (3, "t1", 1, true)]
        );
        let problem = got[2].problem.as_deref().unwrap();
        assert!(
            problem.starts_with("r.csv line 3: chat t1 appears again")
                && problem.contains("line 1"),
            "{problem}"
        );
        // The same chat id under another provider is another chat.
        let got = groups("acs,t1,8:acs:a\nzapi,t1,+14155550101\n", None);
        assert_eq!(shape(&got), [(1, "t1", 1, false), (2, "t1", 1, false)]);
    }

    #[test]
    fn a_bad_row_refuses_its_own_chat_and_does_not_split_it() {
        let text = "acs,t1,8:acs:a\nacs,t1,not a handle\nnope,t1,8:acs:b\nacs,t1\nacs,t1,8:acs:c\nacs,t2,8:acs:d\n";
        let got = groups(text, None);
        assert_eq!(shape(&got), [(1, "t1", 2, true), (6, "t2", 1, false)]);
        assert!(
            got[0]
                .problem
                .as_deref()
                .unwrap()
                .starts_with("r.csv line 2: "),
            "{got:?}"
        );
        for (bad, want) in [
            (",t1,8:acs:a\n", "line 1: no provider"),
            ("acs,,8:acs:a\n", "line 1: no chat"),
            ("acs,t1,a,b\n", "line 1: expected 3 fields"),
        ] {
            let got = groups(bad, None);
            let problem = got[0].problem.as_deref().unwrap_or_default();
            assert!(problem.contains(want), "{bad}: {problem}");
        }
    }

    #[test]
    fn fingerprints_follow_the_member_set_not_its_order() {
        let a = groups("acs,t1,8:acs:a\nacs,t1,8:acs:b\n", None);
        let b = groups("acs,t1,8:acs:b\nacs,t1,8:acs:a\nacs,t1,8:acs:a\n", None);
        let c = groups("acs,t1,8:acs:a\n", None);
        let d = groups("acs,t2,8:acs:a\nacs,t2,8:acs:b\n", None);
        assert_eq!(a[0].fingerprint(), b[0].fingerprint());
        assert_ne!(a[0].fingerprint(), c[0].fingerprint());
        assert_ne!(a[0].fingerprint(), d[0].fingerprint());
    }
}
