//! Chert's replies, in full.

use std::fmt;

use rosterkit_core::{ChatId, Handle, Outcome};

/// The former name of [`ChertChange`].
#[deprecated(note = "renamed `ChertChange`: each provider's change type carries its name")]
pub type Change<T> = ChertChange<T>;

/// What a remove or leave did: Chert's reply when it applied the change, or what ensure mode
/// made of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChertChange<T> {
    /// Chert applied the change; its reply.
    Applied(T),
    /// Ensure mode: the chat was already in the requested state (1001 "not in the group" on
    /// remove, 1006 on leave).
    AlreadyDone {
        /// Chert's trace id (`trace_id` or `X-Trace-ID`).
        trace_id: Option<String>,
    },
    /// Ensure mode: a retry after an ambiguous failure got 1002 "group at minimum size", so it
    /// is open whether the first attempt removed the member (the group had exactly 4) or not.
    /// The next reply with a roster settles it.
    Unconfirmed {
        /// Chert's trace id.
        trace_id: Option<String>,
    },
}

impl<T> ChertChange<T> {
    /// The reply, when Chert applied the change.
    pub fn applied(self) -> Option<T> {
        match self {
            Self::Applied(reply) => Some(reply),
            Self::AlreadyDone { .. } | Self::Unconfirmed { .. } => None,
        }
    }
}

impl<T: Into<Outcome>> From<ChertChange<T>> for Outcome {
    fn from(change: ChertChange<T>) -> Self {
        match change {
            ChertChange::Applied(reply) => reply.into(),
            ChertChange::AlreadyDone { trace_id } => {
                Outcome::already_done().with_trace_id(trace_id)
            }
            ChertChange::Unconfirmed { trace_id } => {
                Outcome::unconfirmed(None).with_trace_id(trace_id)
            }
        }
    }
}

/// Chert's reply to a removal: `200 {"chat_id", "removed", "participants"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoveReply {
    /// The chat (as Chert echoed it, else the one requested).
    pub chat_id: ChatId,
    /// The address Chert removed.
    pub removed: Option<Handle>,
    /// The roster after the removal, excluding the Chert line itself (so the group's size is
    /// `participants.len() + 1`). `None` when the reply carried none.
    pub participants: Option<Vec<Handle>>,
    /// Chert's trace id (`trace_id` in the body, else the `X-Trace-ID` header).
    pub trace_id: Option<String>,
}

/// Chert's reply to an add: `{"chat_id", "added", "participants"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AddReply {
    /// The chat (as Chert echoed it, else the one requested).
    pub chat_id: ChatId,
    /// The address as Chert normalised it (emails may come back lowercased: compare emails
    /// case-insensitively).
    pub added: Option<Handle>,
    /// The roster after the add, excluding the Chert line itself. `None` when the reply carried
    /// none.
    pub participants: Option<Vec<Handle>>,
    /// Chert's trace id (`trace_id` in the body, else the `X-Trace-ID` header).
    pub trace_id: Option<String>,
}

/// Chert's reply to a leave: `200 {"chat_id", "status": "left"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaveReply {
    /// The chat (as Chert echoed it, else the one requested).
    pub chat_id: ChatId,
    /// The status Chert reported (documented as always `"left"`).
    pub status: Option<LeaveStatus>,
    /// Chert's trace id (`trace_id` in the body, else the `X-Trace-ID` header).
    pub trace_id: Option<String>,
}

/// The `status` of a leave reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LeaveStatus {
    /// `"left"`.
    Left,
    /// A value this version does not know, kept as sent.
    Unknown(String),
}

impl LeaveStatus {
    pub(crate) fn from_wire(value: String) -> Self {
        if value == "left" {
            Self::Left
        } else {
            Self::Unknown(value)
        }
    }

    /// The value as on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Left => "left",
            Self::Unknown(other) => other,
        }
    }
}

impl fmt::Display for LeaveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<RemoveReply> for Outcome {
    fn from(reply: RemoveReply) -> Self {
        Outcome::applied(reply.participants).with_trace_id(reply.trace_id)
    }
}

impl From<AddReply> for Outcome {
    fn from(reply: AddReply) -> Self {
        Outcome::applied(reply.participants).with_trace_id(reply.trace_id)
    }
}

impl From<LeaveReply> for Outcome {
    fn from(reply: LeaveReply) -> Self {
        Outcome::applied(None).with_trace_id(reply.trace_id)
    }
}
