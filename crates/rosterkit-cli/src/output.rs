//! What the commands print: one JSON object per line, or a table.

use std::io::{self, Write};

use rosterkit::{Error, Handle, Outcome, Participant};
use serde::Serialize;

/// One result line.
#[derive(Debug, Serialize)]
pub(crate) struct Record {
    pub(crate) provider: &'static str,
    pub(crate) operation: &'static str,
    pub(crate) chat: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) handle: Option<String>,
    /// `applied`, `queued`, `already_done`, `unconfirmed` or `failed`.
    pub(crate) outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) participants: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ErrorRecord>,
}

/// The failure part of a [`Record`].
#[derive(Debug, Serialize)]
pub(crate) struct ErrorRecord {
    pub(crate) kind: &'static str,
    pub(crate) code: Option<String>,
    pub(crate) http_status: Option<u16>,
    pub(crate) message: String,
}

impl Record {
    pub(crate) fn new(
        provider: &'static str,
        operation: &'static str,
        chat: &str,
        handle: Option<&Handle>,
        result: &Result<Outcome, Error>,
    ) -> Self {
        let mut record = Self {
            provider,
            operation,
            chat: chat.to_owned(),
            handle: handle.map(ToString::to_string),
            outcome: "failed",
            participants: None,
            trace_id: None,
            error: None,
        };
        match result {
            Ok(outcome) => {
                record.outcome = outcome.as_str();
                record.participants = outcome
                    .roster()
                    .map(|r| r.iter().map(ToString::to_string).collect());
                record.trace_id = outcome.trace_id().map(str::to_owned);
            }
            Err(e) => record.fail(e),
        }
        record
    }

    pub(crate) fn listed(
        provider: &'static str,
        chat: &str,
        result: &Result<Vec<Participant>, Error>,
    ) -> Self {
        let mut record = Self {
            provider,
            operation: "list",
            chat: chat.to_owned(),
            handle: None,
            outcome: "applied",
            participants: None,
            trace_id: None,
            error: None,
        };
        match result {
            Ok(list) => {
                record.participants = Some(list.iter().map(|p| p.handle.to_string()).collect());
            }
            Err(e) => record.fail(e),
        }
        record
    }

    fn fail(&mut self, e: &Error) {
        self.outcome = "failed";
        self.trace_id = e.trace_id().map(str::to_owned);
        self.error = Some(ErrorRecord {
            kind: e.kind().as_str(),
            code: e.code().map(str::to_owned),
            http_status: e.http_status(),
            message: e.message(),
        });
    }

    pub(crate) fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn detail(&self) -> String {
        if let Some(e) = &self.error {
            let mut s = format!("{}: {}", e.kind, e.message);
            if let Some(code) = &e.code {
                s.push_str(&format!(" [code {code}"));
                if let Some(status) = e.http_status {
                    s.push_str(&format!(", HTTP {status}"));
                }
                s.push(']');
            } else if let Some(status) = e.http_status {
                s.push_str(&format!(" [HTTP {status}]"));
            }
            return s;
        }
        let mut parts = Vec::new();
        if let Some(p) = &self.participants {
            parts.push(format!("members: {}", p.join(", ")));
        }
        if let Some(t) = &self.trace_id {
            parts.push(format!("trace {t}"));
        }
        parts.join("; ")
    }
}

/// Prints records as JSON lines or as an aligned table.
pub(crate) fn print(records: &[Record], json: bool) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if json {
        for r in records {
            serde_json::to_writer(&mut out, r)?;
            out.write_all(b"\n")?;
        }
        return out.flush();
    }
    let rows: Vec<[String; 5]> = records
        .iter()
        .map(|r| {
            [
                r.operation.to_owned(),
                r.chat.clone(),
                r.handle.clone().unwrap_or_else(|| "-".to_owned()),
                r.outcome.to_owned(),
                r.detail(),
            ]
        })
        .collect();
    table(
        &mut out,
        ["OPERATION", "CHAT", "HANDLE", "OUTCOME", "DETAIL"],
        &rows,
    )?;
    out.flush()
}

/// Writes an aligned text table; the last column is not padded.
pub(crate) fn table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| -> io::Result<()> {
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == last {
                write!(out, "{cell}")?;
            } else {
                write!(out, "{cell:<w$}  ")?;
            }
        }
        writeln!(out)
    };
    line(out, header.to_vec())?;
    for row in rows {
        line(out, row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}
