//! Reading input rows: JSON lines, or CSV through the `csv` crate (quoted fields may hold
//! commas, quotes and newlines), each row with the line it starts on.
//!
//! Problems with one row make it a refused row (reported as a failed result); problems with the
//! whole input (an unknown CSV column, a read error) are reported once by [`Rows::open`] or as
//! the iterator's `Err`.

use std::{
    fmt,
    io::{BufRead, BufReader, Read},
};

use rosterkit::{
    Error,
    bulk::{RawOp, Row},
};
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, Visitor},
};
use serde_json::{Map, Value};

use super::Format;

/// The longest input row accepted; longer rows are refused (and skipped) as bad rows.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// The CSV columns, by name; `operation` is accepted for `op`.
const COLUMNS: [&str; 4] = ["op", "provider", "chat", "handle"];

/// Input rows, in order.
pub(crate) enum Rows {
    /// JSON lines.
    Json {
        input: BufReader<Box<dyn Read + Send>>,
        line: u64,
    },
    /// CSV records.
    Csv {
        reader: Box<csv::Reader<LineCounter>>,
        columns: Columns,
        /// The first record, when it was data rather than a header.
        first: Option<csv::ByteRecord>,
    },
}

impl Rows {
    /// Opens `input` as `format`, or as the format its first visible character suggests; for
    /// CSV, reads the first record and checks it when it is a header.
    ///
    /// # Errors
    /// A message for the user (exit 2, nothing sent): an unknown or missing CSV column, or the
    /// input could not be read.
    pub(crate) fn open(
        input: Box<dyn Read + Send>,
        format: Option<Format>,
    ) -> Result<Self, String> {
        let mut input = BufReader::with_capacity(64 * 1024, input);
        let format = match format {
            Some(f) => f,
            None => sniff(
                input
                    .fill_buf()
                    .map_err(|e| format!("reading the input: {e}"))?,
            ),
        };
        if format == Format::Jsonl {
            return Ok(Self::Json { input, line: 0 });
        }
        let mut reader = csv_reader(input);
        let mut record = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut record)
            .map_err(|e| format!("reading the input: {e}"))?;
        let line = reader.get_ref().line_at(&record);
        let (columns, first) = match read.then(|| Columns::from_header(&record, line)).flatten() {
            Some(columns) => (columns?, None),
            None => (Columns::POSITIONAL, read.then_some(record)),
        };
        Ok(Self::Csv {
            reader: Box::new(reader),
            columns,
            first,
        })
    }
}

impl Iterator for Rows {
    /// A row, or an error that ends the input (a failed read).
    type Item = Result<Row, String>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Json { input, line } => next_json(input, line),
            Self::Csv {
                reader,
                columns,
                first,
            } => {
                let record = match first.take() {
                    Some(r) => r,
                    None => {
                        let mut record = csv::ByteRecord::new();
                        match reader.read_byte_record(&mut record) {
                            Ok(true) => record,
                            Ok(false) => return None,
                            Err(e) => return Some(Err(format!("reading the input: {e}"))),
                        }
                    }
                };
                let line = reader.get_ref().line_at(&record);
                Some(Ok(columns.row(&record, line)))
            }
        }
    }
}

/// A CSV reader over `input` that knows the line each record starts on ([`LineCounter`]):
/// no header handling (callers check the first record), fields trimmed, any width. `bulk` and
/// `sync --file` read CSV through it.
pub(crate) fn csv_reader(input: BufReader<Box<dyn Read + Send>>) -> csv::Reader<LineCounter> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(LineCounter::new(input))
}

/// The input under the CSV reader, noting where its newlines are, so a record's line is the
/// physical line it starts on (the `csv` crate counts records' lines, not those inside quoted
/// fields). Only the newlines the reader has read ahead of the current record are kept.
pub(crate) struct LineCounter {
    inner: BufReader<Box<dyn Read + Send>>,
    /// Bytes read so far.
    offset: u64,
    /// Whether the last byte read was a CR.
    after_cr: bool,
    /// The line ends not yet behind a record start, and the lines behind.
    ahead: std::cell::RefCell<(std::collections::VecDeque<LineEnd>, u64)>,
}

/// One line end: where it starts (the CR of a CRLF) and where its LF is.
#[derive(Debug, Clone, Copy)]
struct LineEnd {
    start: u64,
    lf: u64,
}

impl LineCounter {
    fn new(inner: BufReader<Box<dyn Read + Send>>) -> Self {
        Self {
            inner,
            offset: 0,
            after_cr: false,
            ahead: std::cell::RefCell::new((std::collections::VecDeque::new(), 0)),
        }
    }

    /// The 1-based line `record` starts on. Records come in order, so the line ends before it
    /// can be counted and dropped. The reader gives as a record's start the end of the record
    /// before (inside its CRLF) or the empty lines it skips; those line ends are passed over.
    pub(crate) fn line_at(&self, record: &csv::ByteRecord) -> u64 {
        let mut start = record.position().map_or(0, csv::Position::byte);
        let mut ahead = self.ahead.borrow_mut();
        let (ends, behind) = &mut *ahead;
        while let Some(end) = ends.front().copied() {
            if end.lf < start {
                *behind += 1;
            } else if end.start <= start {
                // The previous record's line end, or an empty line, where the record was said
                // to start.
                *behind += 1;
                start = end.lf + 1;
            } else {
                break;
            }
            ends.pop_front();
        }
        *behind + 1
    }
}

impl Read for LineCounter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let ends = &mut self.ahead.get_mut().0;
        for (i, byte) in buf.iter().take(n).enumerate() {
            let at = self.offset + i as u64;
            if *byte == b'\n' {
                let start = if self.after_cr { at - 1 } else { at };
                ends.push_back(LineEnd { start, lf: at });
            }
            self.after_cr = *byte == b'\r';
        }
        self.offset += n as u64;
        Ok(n)
    }
}

fn sniff(start: &[u8]) -> Format {
    let start = start.strip_prefix("\u{feff}".as_bytes()).unwrap_or(start);
    match start.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => Format::Jsonl,
        Some(_) => Format::Csv,
    }
}

fn next_json(
    input: &mut BufReader<Box<dyn Read + Send>>,
    line: &mut u64,
) -> Option<Result<Row, String>> {
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        let read = match input
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
        {
            Ok(n) => n,
            Err(e) => return Some(Err(format!("reading the input at line {}: {e}", *line + 1))),
        };
        if read == 0 {
            return None;
        }
        *line += 1;
        let at = *line;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            // Skip the rest of the line; it is one bad row.
            if let Err(e) = input.skip_until(b'\n') {
                return Some(Err(format!("reading the input at line {at}: {e}")));
            }
            return Some(Ok(invalid(
                at,
                format!("line is longer than {MAX_LINE} bytes"),
            )));
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            return Some(Ok(invalid(at, "line is not valid UTF-8".to_owned())));
        };
        let text = text.trim_end_matches(['\n', '\r']);
        let text = if at == 1 {
            text.trim_start_matches('\u{feff}')
        } else {
            text
        };
        if !text.trim().is_empty() {
            return Some(Ok(parse_json_row(at, text)));
        }
    }
}

fn invalid(line: u64, why: String) -> Row {
    Row::invalid(line, RawOp::default(), Error::invalid_input(why))
}

/// A JSON object whose keys are all different: a row with `"op"` twice is refused, not read as
/// its last value.
pub(crate) struct UniqueKeys(pub(crate) Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> Visitor<'de> for Keys {
            type Value = UniqueKeys;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueKeys, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        return Err(de::Error::custom(format_args!("duplicate key {key:?}")));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(UniqueKeys(map))
            }
        }
        deserializer.deserialize_map(Keys)
    }
}

pub(crate) fn parse_json_row(line: u64, text: &str) -> Row {
    let map = match serde_json::from_str::<UniqueKeys>(text) {
        Ok(UniqueKeys(map)) => map,
        Err(e) => return invalid(line, format!("line is not a valid JSON object: {e}")),
    };
    if map.contains_key("op") && map.contains_key("operation") {
        return invalid(line, "line has both op and operation; give one".to_owned());
    }
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

/// Where each field is in a CSV record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    op: Option<usize>,
    provider: Option<usize>,
    chat: Option<usize>,
    handle: Option<usize>,
    width: usize,
    named: bool,
}

impl Columns {
    /// Positional: op, provider, chat, handle.
    const POSITIONAL: Self = Self {
        op: Some(0),
        provider: Some(1),
        chat: Some(2),
        handle: Some(3),
        width: 4,
        named: false,
    };

    /// `None` when the first record is data (no field is a column name); else the columns, or
    /// why the header is refused: an unknown name, a repeated one, or a missing `op`,
    /// `provider` or `chat` column.
    fn from_header(record: &csv::ByteRecord, line: u64) -> Option<Result<Self, String>> {
        let names: Vec<String> = record
            .iter()
            .map(|f| String::from_utf8_lossy(f).to_ascii_lowercase())
            .collect();
        let known = |n: &str| n == "operation" || COLUMNS.contains(&n);
        if !names.iter().any(|n| known(n)) {
            return None;
        }
        let expected = "the columns are op (or operation), provider, chat and handle";
        if let Some(unknown) = names.iter().find(|n| !known(n)) {
            return Some(Err(format!(
                "unknown column {unknown:?} in the CSV header (line {line}); {expected}"
            )));
        }
        let find = |wanted: &str| {
            let mut at = names
                .iter()
                .enumerate()
                .filter(|(_, n)| *n == wanted || (wanted == "op" && *n == "operation"))
                .map(|(i, _)| i);
            match (at.next(), at.next()) {
                (_, Some(_)) => Err(format!(
                    "column {wanted:?} appears twice in the CSV header (line {line})"
                )),
                (found, None) => Ok(found),
            }
        };
        let columns = (|| {
            Ok::<_, String>(Self {
                op: find("op")?,
                provider: find("provider")?,
                chat: find("chat")?,
                handle: find("handle")?,
                width: names.len(),
                named: true,
            })
        })();
        Some(columns.and_then(|c| {
            let missing = [("op", c.op), ("provider", c.provider), ("chat", c.chat)]
                .into_iter()
                .find(|(_, at)| at.is_none());
            match missing {
                Some((name, _)) => Err(format!(
                    "the CSV header (line {line}) has no {name:?} column; {expected}"
                )),
                None => Ok(c),
            }
        }))
    }

    fn row(&self, record: &csv::ByteRecord, line: u64) -> Row {
        if record.as_slice().len() > MAX_LINE {
            return invalid(line, format!("row is longer than {MAX_LINE} bytes"));
        }
        let mut fields = Vec::with_capacity(record.len());
        for field in record {
            match std::str::from_utf8(field) {
                Ok(f) => fields.push(f),
                Err(_) => return invalid(line, "row is not valid UTF-8".to_owned()),
            }
        }
        let get = |i: Option<usize>| i.and_then(|i| fields.get(i)).map(|f| (*f).to_owned());
        let raw = RawOp::new(
            get(self.op),
            get(self.provider),
            get(self.chat),
            get(self.handle),
        );
        if fields.len() > self.width {
            let why = if self.named {
                format!(
                    "row has {} fields, the header has {}",
                    fields.len(),
                    self.width
                )
            } else {
                format!(
                    "row has {} fields; expected op, provider, chat, handle (quote fields that \
                     contain commas)",
                    fields.len()
                )
            };
            return Row::invalid(line, raw, Error::invalid_input(why));
        }
        Row::parse(line, raw)
    }
}

/// Reads all of `rows`, for tests.
#[cfg(test)]
fn read_all(text: &str, format: Option<Format>) -> Result<Vec<Row>, String> {
    let input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
    Rows::open(input, format)?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit::{ProviderKind, bulk::OpKind};

    fn error_of(row: &Row) -> String {
        match &row.op {
            Ok(op) => panic!("expected a bad row, got {op:?}"),
            Err(bad) => bad.error.to_string(),
        }
    }

    #[test]
    fn csv_quoted_newlines_keep_line_numbers() {
        let text = "op,provider,chat,handle\n\
                    remove,chert,\"ch\n1\",+14155551234\n\
                    \n\
                    \"add\" , linq , c2 , \"alice@example.com\"\n";
        let rows = read_all(text, None).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 2);
        // The quoted newline is part of the chat id (refused by ChatId), not a second row.
        assert!(rows[0].op.is_err());
        assert_eq!(rows[1].line, 5);
        let op = rows[1].op.as_ref().unwrap();
        assert_eq!(
            (op.kind(), op.provider()),
            (OpKind::Add, ProviderKind::Linq.name())
        );
    }

    #[test]
    fn csv_line_numbers_with_crlf_and_blank_lines() {
        let text = "\r\nremove,chert,c,+14155551234\r\n\r\n\n\"leave\",chert,\"a\r\nb\"\r\nleave,chert,c\n";
        let rows = read_all(text, Some(Format::Csv)).unwrap();
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 5, 7]);
    }

    #[test]
    fn csv_positional_and_by_header() {
        let rows = read_all("remove,chert,ch_1,+14155551234\nleave,chert,ch_1\n", None).unwrap();
        assert_eq!(rows[0].op.as_ref().unwrap().kind(), OpKind::Remove);
        assert_eq!(rows[1].op.as_ref().unwrap().kind(), OpKind::Leave);

        let rows = read_all(
            "handle,chat,OP,provider\n+14155551234,ch_1,add,linq\n",
            None,
        )
        .unwrap();
        assert_eq!(rows[0].op.as_ref().unwrap().provider(), ProviderKind::Linq);

        let rows = read_all("remove,chert,ch_1,+14155551234,extra\n", None).unwrap();
        assert!(error_of(&rows[0]).contains("5 fields"));
    }

    #[test]
    fn csv_header_problems_are_reported_once() {
        let e = read_all(
            "op,provder,chat,handle\nremove,chert,c,+14155551234\n",
            None,
        )
        .err()
        .unwrap();
        assert!(
            e.contains("unknown column \"provder\"") && e.contains("line 1"),
            "{e}"
        );
        let e = read_all("op,chat,handle\n", Some(Format::Csv))
            .err()
            .unwrap();
        assert!(e.contains("no \"provider\" column"), "{e}");
        let e = read_all("op,operation,provider,chat\n", None)
            .err()
            .unwrap();
        assert!(e.contains("twice"), "{e}");
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
        assert!(error_of(&row).contains("field handle must be a string"));
        for bad in ["not json", "[1,2]", r#"{"op":"remove""#] {
            let row = parse_json_row(4, bad);
            assert_eq!(
                row.op.unwrap_err().error.kind(),
                rosterkit::ErrorKind::InvalidInput
            );
        }
    }

    #[test]
    fn json_duplicate_keys_are_refused() {
        let row = parse_json_row(
            1,
            r#"{"op":"remove","provider":"chert","chat":"c","handle":"+14155551234","op":"add"}"#,
        );
        assert!(
            error_of(&row).contains("duplicate key \"op\""),
            "{}",
            error_of(&row)
        );
        let row = parse_json_row(
            1,
            r#"{"op":"remove","operation":"add","provider":"chert","chat":"c","handle":"+1"}"#,
        );
        assert!(error_of(&row).contains("both op and operation"));
    }

    #[test]
    fn json_lines_count_blank_lines_and_refuse_long_ones() {
        let long = format!("{{\"op\":\"{}\"}}", "x".repeat(MAX_LINE));
        let text =
            format!("\n{{\"op\":\"leave\",\"provider\":\"chert\",\"chat\":\"c\"}}\n{long}\n{{}}\n");
        let rows = read_all(&text, None).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 4]);
        assert!(rows[0].op.is_ok());
        assert!(error_of(&rows[1]).contains("longer than"));
    }
}
