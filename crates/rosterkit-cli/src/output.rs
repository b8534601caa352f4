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
    /// `list`: our own line or identity among `participants`, where the provider marks it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) self_handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<ErrorRecord>,
    /// Why an outcome is not final: every `queued` and `unconfirmed` record says what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// One line under every table: what each outcome means.
pub(crate) const LEGEND: &str = "applied: done now · queued: accepted, applied later (Linq) · \
already_done: nothing to do (--ensure) · unconfirmed: sent, the provider did not confirm · \
failed: not done, see DETAIL";

/// Why a `queued` or `unconfirmed` outcome of `provider`'s `operation` is not final, and what
/// to do.
pub(crate) fn note_for(provider: &str, operation: &str, outcome: &str) -> Option<&'static str> {
    match (outcome, provider) {
        ("queued", _) => {
            Some("accepted and applied later; --wait waits until the chat shows it, `list` checks")
        }
        // `leave` has no --verify: Z-API does not say which number is ours.
        ("unconfirmed", "zapi") if operation == "leave" => Some(
            "Z-API answered only `value: true`; `leave --ensure` again confirms it (only members can read the group)",
        ),
        ("unconfirmed", "zapi") => {
            Some("Z-API answered only `value: true`; --verify reads the group back to confirm")
        }
        ("unconfirmed", _) => {
            Some("a retry left it open whether the first attempt took effect; `list` checks")
        }
        _ => None,
    }
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
            self_handle: None,
            trace_id: None,
            error: None,
            note: None,
        };
        match result {
            Ok(outcome) => {
                record.outcome = outcome.as_str();
                record.note = note_for(provider, operation, record.outcome).map(str::to_owned);
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
            self_handle: None,
            trace_id: None,
            error: None,
            note: None,
        };
        match result {
            Ok(list) => {
                record.participants = Some(list.iter().map(|p| p.handle.to_string()).collect());
                record.self_handle = list
                    .iter()
                    .find(|p| p.is_self == Some(true))
                    .map(|p| p.handle.to_string());
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
            let marked: Vec<String> = p
                .iter()
                .map(|h| match &self.self_handle {
                    Some(me) if me == h => format!("{h} (you)"),
                    _ => h.clone(),
                })
                .collect();
            parts.push(format!("members: {}", marked.join(", ")));
        }
        if let Some(t) = &self.trace_id {
            parts.push(format!("trace {t}"));
        }
        if let Some(n) = &self.note {
            parts.push(n.clone());
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
    if records.iter().any(|r| r.operation != "list" || r.failed()) {
        writeln!(out, "{LEGEND}")?;
    }
    out.flush()
}

/// Makes `text` safe to print on a terminal: control characters (C0, DEL, C1: escape
/// sequences, CR/LF that would fake rows) and bidirectional overrides and isolates (which
/// reorder what is shown) become `\u{..}` escapes. Every table cell goes through it, since
/// messages, handles and ids can come from a server.
pub(crate) fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Writes an aligned text table; the last column is not padded.
pub(crate) fn table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let rows: Vec<Vec<std::borrow::Cow<'_, str>>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| escape(cell)).collect())
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
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
    for row in &rows {
        line(out, row.iter().map(AsRef::as_ref).collect())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unconfirmed_note_names_a_step_the_command_has() {
        let leave = note_for("zapi", "leave", "unconfirmed").unwrap();
        assert!(!leave.contains("--verify"), "{leave}");
        assert!(
            note_for("zapi", "remove", "unconfirmed")
                .unwrap()
                .contains("--verify")
        );
        assert!(note_for("acs", "remove", "unconfirmed").is_some());
        assert_eq!(note_for("chert", "remove", "applied"), None);
    }

    #[test]
    fn escape_neutralises_terminal_controls_and_bidi() {
        assert_eq!(escape("plain +14155551234"), "plain +14155551234");
        assert_eq!(
            escape("bad\x1b[2J\r\nfake row\u{202e}gnp.exe\u{9b}"),
            "bad\\u{001b}[2J\\u{000d}\\u{000a}fake row\\u{202e}gnp.exe\\u{009b}"
        );
    }

    #[test]
    fn table_cells_are_escaped_and_stay_on_one_line() {
        let mut out = Vec::new();
        table(
            &mut out,
            ["A", "B"],
            &[["x\ny".to_owned(), "\u{2066}z".to_owned()]],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(
            text.contains("x\\u{000a}y") && text.contains("\\u{2066}z"),
            "{text}"
        );
    }
}
