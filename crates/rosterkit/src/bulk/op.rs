//! What goes in (rows of operations) and what comes out (one result per row).

use std::{fmt, str::FromStr};

use rosterkit_core::{ChatId, Error, Handle, Outcome};

use crate::{ProviderName, Registry};

/// The membership change an [`Op`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// Remove a participant ([`Membership::remove_participant`](crate::Membership::remove_participant)).
    Remove,
    /// Add a participant ([`Membership::add_participant`](crate::Membership::add_participant)).
    Add,
    /// Leave the chat with our own identity ([`Membership::leave`](crate::Membership::leave)).
    Leave,
}

impl OpKind {
    /// The lowercase name used in input and output (`"remove"`, `"add"`, `"leave"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Remove => "remove",
            Self::Add => "add",
            Self::Leave => "leave",
        }
    }

    /// Whether the operation names a participant.
    pub const fn needs_handle(self) -> bool {
        matches!(self, Self::Remove | Self::Add)
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OpKind {
    type Err = Error;

    /// Parses `remove`, `add` or `leave` (case-insensitive, surrounding spaces ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        [Self::Remove, Self::Add, Self::Leave]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "unknown op {:?}: expected remove, add or leave",
                    rosterkit_core::redact::mask_digits(s)
                ))
            })
    }
}

/// One validated membership change: which provider, which chat, and (for remove and add)
/// which participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    kind: OpKind,
    provider: ProviderName,
    chat: ChatId,
    handle: Option<Handle>,
}

impl Op {
    /// Remove `handle` from `chat`.
    pub fn remove(provider: impl Into<ProviderName>, chat: ChatId, handle: Handle) -> Self {
        Self {
            kind: OpKind::Remove,
            provider: provider.into(),
            chat,
            handle: Some(handle),
        }
    }

    /// Add `handle` to `chat`.
    pub fn add(provider: impl Into<ProviderName>, chat: ChatId, handle: Handle) -> Self {
        Self {
            kind: OpKind::Add,
            provider: provider.into(),
            chat,
            handle: Some(handle),
        }
    }

    /// Leave `chat`.
    pub fn leave(provider: impl Into<ProviderName>, chat: ChatId) -> Self {
        Self {
            kind: OpKind::Leave,
            provider: provider.into(),
            chat,
            handle: None,
        }
    }

    /// The change.
    pub fn kind(&self) -> OpKind {
        self.kind
    }

    /// The provider.
    pub fn provider(&self) -> ProviderName {
        self.provider
    }

    /// The chat.
    pub fn chat(&self) -> &ChatId {
        &self.chat
    }

    /// The participant: `Some` for remove and add, `None` for leave.
    pub fn handle(&self) -> Option<&Handle> {
        self.handle.as_ref()
    }
}

/// A row as read, before validation: each field as text, `None` when the column or field is
/// missing. Readers of any format (JSON lines, CSV, a database) produce these and let
/// [`Row::parse`] validate them, so every format refuses bad rows the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RawOp {
    /// `remove`, `add` or `leave`.
    pub op: Option<String>,
    /// A registered provider's name (`chert`, `linq`, `zapi`, `acs`, `matrix`, ...).
    pub provider: Option<String>,
    /// The chat id.
    pub chat: Option<String>,
    /// The participant (remove and add only).
    pub handle: Option<String>,
}

impl RawOp {
    /// A raw row from its four fields.
    pub fn new(
        op: Option<String>,
        provider: Option<String>,
        chat: Option<String>,
        handle: Option<String>,
    ) -> Self {
        Self {
            op,
            provider,
            chat,
            handle,
        }
    }

    /// Validates the row against the process-wide registry ([`Registry::global`]):
    /// [`RawOp::parse_with`].
    ///
    /// # Errors
    /// As [`RawOp::parse_with`].
    pub fn parse(&self) -> Result<Op, Error> {
        self.parse_with(&Registry::global())
    }

    /// Validates the row; the handle is read with the row's provider's rules
    /// ([`Provider::parse_handle`](crate::Provider::parse_handle): a Matrix `@alice:server`
    /// needs no `native:` prefix).
    ///
    /// Empty or whitespace-only fields count as missing.
    ///
    /// # Errors
    /// `InvalidInput` naming the first problem: a missing column, an unknown op or a provider
    /// not in `registry`, a chat id or handle that does not parse, a remove or add without a
    /// handle, or a leave with one. Messages never echo a phone number (digit runs are
    /// masked).
    pub fn parse_with(&self, registry: &Registry) -> Result<Op, Error> {
        let field = |value: &Option<String>, name: &str| -> Result<String, Error> {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => Ok(v.to_owned()),
                _ => Err(Error::invalid_input(format!("missing column {name}"))),
            }
        };
        let kind: OpKind = field(&self.op, "op")?.parse()?;
        let rules = registry.get(&field(&self.provider, "provider")?)?;
        let provider = ProviderName::of(rules.as_ref())?;
        let chat = ChatId::new(field(&self.chat, "chat")?)?;
        let handle = self
            .handle
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty());
        match (kind.needs_handle(), handle) {
            (true, None) => Err(Error::invalid_input(format!(
                "missing column handle: {kind} needs a participant"
            ))),
            (true, Some(text)) => {
                let handle = rules.parse_handle(text)?;
                Ok(Op {
                    kind,
                    provider,
                    chat,
                    handle: Some(handle),
                })
            }
            (false, Some(_)) => Err(Error::invalid_input(
                "leave takes no handle: leave the handle column empty (or use remove)",
            )),
            (false, None) => Ok(Op::leave(provider, chat)),
        }
    }
}

/// A row that is not a valid operation: the fields as read, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct BadRow {
    /// The fields as read.
    pub raw: RawOp,
    /// Why the row was refused (`InvalidInput`).
    pub error: Error,
}

/// One input row: its number in the input (the line, for files) and the operation, or why the
/// row is not one. Bad rows go through the run like any other and come out as failed results
/// with the same line number: nothing is dropped.
#[derive(Debug)]
#[non_exhaustive]
pub struct Row {
    /// The row's number in the input (1-based line numbers for files); results carry it back.
    pub line: u64,
    /// The operation, or the refused row.
    pub op: Result<Op, BadRow>,
}

impl Row {
    /// A valid operation at `line`.
    pub fn new(line: u64, op: Op) -> Self {
        Self { line, op: Ok(op) }
    }

    /// Validates `raw` ([`RawOp::parse`]) into a row at `line`.
    pub fn parse(line: u64, raw: RawOp) -> Self {
        let op = match raw.parse() {
            Ok(op) => Ok(op),
            Err(error) => Err(BadRow { raw, error }),
        };
        Self { line, op }
    }

    /// A row refused by the reader itself (for example a line that is not JSON), at `line`.
    pub fn invalid(line: u64, raw: RawOp, error: Error) -> Self {
        Self {
            line,
            op: Err(BadRow { raw, error }),
        }
    }
}

/// The result of one input row.
#[derive(Debug)]
#[non_exhaustive]
pub struct BulkResult {
    /// The row's number, as given in [`Row::line`].
    pub line: u64,
    /// The operation, or the fields of a row that was not one.
    pub op: Result<Op, RawOp>,
    /// What the provider did, or why it did not.
    pub result: Result<Outcome, Error>,
}

impl BulkResult {
    /// Whether the change may have taken effect: any outcome, or a failure the provider or the
    /// transport left ambiguous (a timeout, a dropped connection, an interrupted call).
    ///
    /// This is what makes resuming safe: an operation for which this is `true` must not be
    /// sent again unless a repeat is harmless (ensure mode for remove and leave).
    pub fn may_have_applied(&self) -> bool {
        match &self.result {
            Ok(_) => true,
            Err(e) => e.is_ambiguous(),
        }
    }

    /// The op name as text, for a valid or a refused row (`""` when the row had none).
    pub fn op_name(&self) -> &str {
        match &self.op {
            Ok(op) => op.kind.as_str(),
            Err(raw) => raw.op.as_deref().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProviderKind;
    use rosterkit_core::ErrorKind;

    fn raw(op: &str, provider: &str, chat: &str, handle: &str) -> RawOp {
        let some = |s: &str| Some(s.to_owned());
        RawOp::new(some(op), some(provider), some(chat), some(handle))
    }

    #[test]
    fn parses_each_kind() {
        let op = raw(" Remove ", "CHERT", "ch_1", "+14155551234")
            .parse()
            .unwrap();
        assert_eq!(op.kind(), OpKind::Remove);
        assert_eq!(op.provider(), ProviderKind::Chert);
        assert_eq!(op.chat().as_str(), "ch_1");
        assert_eq!(op.handle().unwrap().as_str(), "+14155551234");
        let op = raw("add", "linq", "c", "alice@example.com")
            .parse()
            .unwrap();
        assert_eq!(op.kind(), OpKind::Add);
        let op = raw("leave", "zapi", "g", "  ").parse().unwrap();
        assert_eq!(op, Op::leave(ProviderKind::Zapi, ChatId::new("g").unwrap()));
    }

    /// The handle is read with the row's provider's rules.
    #[cfg(feature = "matrix")]
    #[test]
    fn handles_parse_with_the_rows_provider() {
        let op = raw("remove", "matrix", "!r:example.org", "@bob:example.org")
            .parse()
            .unwrap();
        assert_eq!(op.provider(), "matrix");
        assert!(
            matches!(op.handle(), Some(Handle::Native(id)) if id.as_str() == "@bob:example.org")
        );
        let err = raw("remove", "chert", "c", "@bob:example.org")
            .parse()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = raw("remove", "matrix", "!r:s", "@bob").parse().unwrap_err();
        assert!(err.message().contains("@localpart:server"), "{err}");
    }

    #[test]
    fn refuses_bad_rows_with_reasons() {
        let cases = [
            (raw("", "chert", "c", "+14155551234"), "missing column op"),
            (raw("kick", "chert", "c", "+14155551234"), "unknown op"),
            (
                raw("remove", "telegram", "c", "+14155551234"),
                "unknown provider",
            ),
            (
                raw("remove", "chert", " ", "+14155551234"),
                "missing column chat",
            ),
            (raw("remove", "chert", "c", ""), "missing column handle"),
            (raw("remove", "chert", "c", "4155551234"), "E.164"),
            (
                raw("leave", "chert", "c", "+14155551234"),
                "leave takes no handle",
            ),
        ];
        for (row, want) in cases {
            let err = row.parse().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(want), "{err} should say {want}");
        }
        let missing = RawOp::default().parse().unwrap_err();
        assert!(missing.to_string().contains("missing column op"));
    }

    #[test]
    fn unknown_op_does_not_echo_phone_numbers() {
        let err = raw("+14155551234", "chert", "c", "").parse().unwrap_err();
        assert!(!err.to_string().contains("4155551234"), "{err}");
    }

    #[test]
    fn rows_keep_line_and_raw_fields() {
        let row = Row::parse(7, raw("remove", "nope", "c", "+14155551234"));
        assert_eq!(row.line, 7);
        let bad = row.op.unwrap_err();
        assert_eq!(bad.raw.provider.as_deref(), Some("nope"));
        assert_eq!(bad.error.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn may_have_applied_follows_outcome_and_ambiguity() {
        let result = |r| BulkResult {
            line: 1,
            op: Err(RawOp::default()),
            result: r,
        };
        assert!(result(Ok(Outcome::applied(None))).may_have_applied());
        assert!(result(Err(Error::new(ErrorKind::Timeout, "t"))).may_have_applied());
        assert!(!result(Err(Error::new(ErrorKind::NotAMember, "n"))).may_have_applied());
        assert!(!result(Err(Error::invalid_input("bad"))).may_have_applied());
    }
}
