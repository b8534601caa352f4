//! Linq's replies to mutations.

use std::fmt;

use rosterkit_core::Outcome;

use crate::wire;

/// The former name of [`LinqChange`].
#[deprecated(note = "renamed `LinqChange`: each provider's change type carries its name")]
pub type Change = LinqChange;

/// What a remove, add or leave did: Linq accepted (queued) it, or ensure mode found the chat
/// already in the requested state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinqChange {
    /// Linq accepted the change and will apply it later: confirm it with a `participant.*`
    /// webhook ([`crate::webhook`]) or by reading the chat ([`crate::LinqClient::wait_for`]).
    Queued(Accepted),
    /// Ensure mode: the chat was already in the requested state (the handle is not an active
    /// member, or our line already left: 409/2013 on leave).
    AlreadyDone {
        /// Linq's trace id, when the reply had one.
        trace_id: Option<String>,
    },
}

impl LinqChange {
    /// The accepted reply, when Linq queued the change.
    pub fn queued(self) -> Option<Accepted> {
        match self {
            Self::Queued(accepted) => Some(accepted),
            Self::AlreadyDone { .. } => None,
        }
    }

    /// Linq's trace id, if any.
    pub fn trace_id(&self) -> Option<&str> {
        match self {
            Self::Queued(accepted) => accepted.trace_id.as_deref(),
            Self::AlreadyDone { trace_id } => trace_id.as_deref(),
        }
    }
}

impl From<LinqChange> for Outcome {
    fn from(change: LinqChange) -> Self {
        match change {
            LinqChange::Queued(accepted) => Outcome::queued(accepted.trace_id),
            LinqChange::AlreadyDone { trace_id } => Outcome::already_done().with_trace_id(trace_id),
        }
    }
}

/// Linq's 202 reply to a queued mutation: `{"message", "status": "accepted", "trace_id"}`.
/// Every field is optional, as in Linq's own SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// E.g. `"Participant removal queued"`.
    pub message: Option<String>,
    /// Documented as `"accepted"`.
    pub status: Option<QueueStatus>,
    /// Linq's trace id, to match the later webhook and for support requests.
    pub trace_id: Option<String>,
}

impl Accepted {
    pub(crate) fn from_wire(reply: wire::Accepted) -> Self {
        Self {
            message: reply.message,
            status: reply.status.map(QueueStatus::from_wire),
            trace_id: reply.trace_id,
        }
    }
}

/// The `status` of an [`Accepted`] reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueueStatus {
    /// `"accepted"`.
    Accepted,
    /// A value this version does not know, kept as sent.
    Unknown(String),
}

impl QueueStatus {
    fn from_wire(value: String) -> Self {
        if value == "accepted" {
            Self::Accepted
        } else {
            Self::Unknown(value)
        }
    }

    /// The value as on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Accepted => "accepted",
            Self::Unknown(other) => other,
        }
    }
}

impl fmt::Display for QueueStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        let accepted = Accepted::from_wire(
            wire::parse(br#"{"message":"Participant removal queued","status":"accepted","trace_id":"trace-0001"}"#)
                .unwrap(),
        );
        assert_eq!(accepted.status, Some(QueueStatus::Accepted));
        let change = LinqChange::Queued(accepted);
        assert_eq!(change.trace_id(), Some("trace-0001"));
        assert_eq!(
            Outcome::from(change),
            Outcome::queued(Some("trace-0001".into()))
        );
        let done = LinqChange::AlreadyDone {
            trace_id: Some("t".into()),
        };
        assert!(done.clone().queued().is_none());
        assert_eq!(
            Outcome::from(done),
            Outcome::already_done().with_trace_id(Some("t".into()))
        );
        assert_eq!(QueueStatus::from_wire("pending".into()).as_str(), "pending");
    }
}
