//! The one error type of every rosterkit operation.

use std::{error::Error as StdError, fmt, sync::Arc, time::Duration};

use bytes::Bytes;

use crate::{
    Secret,
    input::ParseError,
    redact::Masked,
    secret::{scrub_bytes, scrub_text},
};

/// What went wrong, independent of the provider. Decided per provider *code* where the provider
/// has codes, never by HTTP status alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input was refused (locally, before any request, or by the provider).
    InvalidInput,
    /// The handle is not a member of the chat.
    NotAMember,
    /// The change would take the group below its minimum size.
    GroupTooSmall,
    /// The chat is not a group (a DM, or no longer a group from our side).
    NotAGroup,
    /// No such chat.
    ChatNotFound,
    /// The chat exists but can no longer be acted on (for example after leaving it).
    ChatUnavailable,
    /// Missing or wrong credentials.
    Unauthorized,
    /// Credentials are fine but the action is not allowed.
    Forbidden,
    /// The provider asked us to slow down.
    RateLimited,
    /// The provider could not deliver the change downstream.
    DeliveryFailed,
    /// The provider-side setup is incomplete (a missing chat key, a disconnected instance).
    ProviderMisconfigured,
    /// The request conflicts with the chat's current state.
    Conflict,
    /// The provider failed.
    ServerError,
    /// The provider or this client does not support the operation.
    Unsupported,
    /// No reply in time.
    Timeout,
    /// The request could not be sent or the connection broke.
    Transport,
    /// The reply could not be understood.
    Decode,
}

impl ErrorKind {
    /// The snake_case name used in JSON output (`"group_too_small"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::NotAMember => "not_a_member",
            Self::GroupTooSmall => "group_too_small",
            Self::NotAGroup => "not_a_group",
            Self::ChatNotFound => "chat_not_found",
            Self::ChatUnavailable => "chat_unavailable",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::RateLimited => "rate_limited",
            Self::DeliveryFailed => "delivery_failed",
            Self::ProviderMisconfigured => "provider_misconfigured",
            Self::Conflict => "conflict",
            Self::ServerError => "server_error",
            Self::Unsupported => "unsupported",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
            Self::Decode => "decode",
        }
    }

    /// Every kind, in declaration order (for tables and tests).
    pub const ALL: [Self; 17] = [
        Self::InvalidInput,
        Self::NotAMember,
        Self::GroupTooSmall,
        Self::NotAGroup,
        Self::ChatNotFound,
        Self::ChatUnavailable,
        Self::Unauthorized,
        Self::Forbidden,
        Self::RateLimited,
        Self::DeliveryFailed,
        Self::ProviderMisconfigured,
        Self::Conflict,
        Self::ServerError,
        Self::Unsupported,
        Self::Timeout,
        Self::Transport,
        Self::Decode,
    ];

    /// Parses [`ErrorKind::as_str`] names back, as written in `specs/*.toml`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The kind an HTTP status suggests when a provider gives nothing more specific.
    pub const fn from_status(status: u16) -> Self {
        match status {
            400 | 405 | 413 | 415 | 422 => Self::InvalidInput,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::ChatNotFound,
            408 | 504 => Self::Timeout,
            409 => Self::Conflict,
            429 => Self::RateLimited,
            501 => Self::Unsupported,
            _ => Self::ServerError,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed operation: what kind of failure, which provider said so and how (code, message,
/// HTTP status, trace id), and whether a retry could help.
///
/// `Display` names all of that; phone numbers in messages are masked to the last 4 digits in
/// both `Display` and `Debug`. The raw reply body (capped by the transport) and the underlying
/// cause stay reachable through [`Error::body`] and [`std::error::Error::source`].
///
/// ```
/// use rosterkit_core::{Error, ErrorKind};
/// let err = Error::new(ErrorKind::GroupTooSmall, "group is at the minimum size of 3")
///     .with_provider("chert")
///     .with_code("1002")
///     .with_http_status(400);
/// assert_eq!(
///     err.to_string(),
///     "chert: group is at the minimum size of 3 (group_too_small, code 1002, HTTP 400)"
/// );
/// assert!(!err.is_retryable());
/// ```
///
/// `Clone` is cheap (the cause is shared behind an [`Arc`]): one batch reply is handed to every
/// handle it answered for with everything kept, the attempt count included.
#[derive(Clone)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    provider: Option<&'static str>,
    operation: Option<&'static str>,
    http_status: Option<u16>,
    code: Option<String>,
    message: String,
    /// The message is this library's own text (help, examples) with no caller or provider
    /// data in it: shown as written, not masked.
    own_message: bool,
    trace_id: Option<String>,
    retry_after: Option<Duration>,
    retryable: bool,
    ambiguous: bool,
    attempts: u32,
    body: Option<Bytes>,
    source: Option<Arc<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// A new error. Retryable by default only for `RateLimited`, `ServerError`, `Timeout` and
    /// `Transport`; ambiguous (the change may have happened) by default for `ServerError` and
    /// `Timeout`. Providers override both from their own tables.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            provider: None,
            operation: None,
            http_status: None,
            code: None,
            message: message.into(),
            own_message: false,
            trace_id: None,
            retry_after: None,
            retryable: matches!(
                kind,
                ErrorKind::RateLimited
                    | ErrorKind::ServerError
                    | ErrorKind::Timeout
                    | ErrorKind::Transport
            ),
            ambiguous: matches!(kind, ErrorKind::ServerError | ErrorKind::Timeout),
            attempts: 0,
            body: None,
            source: None,
        }))
    }

    /// An [`ErrorKind::InvalidInput`] error: refused before any request was sent.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// An [`ErrorKind::Unsupported`] error.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    /// An [`ErrorKind::Decode`] error for a reply that could not be understood.
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Sets the provider name (`"chert"`, `"linq"`, `"zapi"`, `"acs"`, or a downstream one).
    #[must_use]
    pub fn with_provider(mut self, provider: &'static str) -> Self {
        self.0.provider = Some(provider);
        self
    }

    /// Sets the operation name: the [`Membership`](crate::Membership) method's name for a
    /// membership change (`"remove_participant"`, `"add_participant"`, `"leave"`,
    /// `"participants"`), so an error names the call in the trait's vocabulary; a provider's
    /// own calls without a trait method keep their own name (`"wait_for"`).
    #[must_use]
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        self.0.operation = Some(operation);
        self
    }

    /// Sets the HTTP status of the reply.
    #[must_use]
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.0.http_status = Some(status);
        self
    }

    /// Sets the provider's own error code, as text (`"1002"`, `"TooManyRequests"`).
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.0.code = Some(code.into());
        self
    }

    /// Sets the provider's trace or request id.
    #[must_use]
    pub fn with_trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.0.trace_id = Some(trace_id.into());
        self
    }

    /// Sets how long the provider asked us to wait before retrying.
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }

    /// Sets whether a retry could succeed.
    #[must_use]
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.0.retryable = retryable;
        self
    }

    /// Sets whether the change may have been applied despite the failure (a timeout, a broken
    /// connection, a gateway error). Non-idempotent operations are retried after an ambiguous
    /// failure only in ensure mode.
    #[must_use]
    pub fn with_ambiguous(mut self, ambiguous: bool) -> Self {
        self.0.ambiguous = ambiguous;
        self
    }

    /// Keeps the raw reply body (already capped by the transport).
    #[must_use]
    pub fn with_body(mut self, body: Bytes) -> Self {
        self.0.body = Some(body);
        self
    }

    /// Keeps the underlying cause, reachable through [`std::error::Error::source`].
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.0.source = Some(Arc::new(source));
        self
    }

    /// Sets the kind, keeping everything else (code, status, trace id, body, retryability,
    /// ambiguity, attempts, cause): for an adapter that learns more about a failure after the
    /// reply, such as a follow-up read showing why a provider's generic code was sent.
    #[must_use]
    ///
    /// A cause that is itself an [`Error`] of another kind (an adapter that wrapped the
    /// provider's error before restating it) would contradict the new kind beside it; it is
    /// replaced by its own cause, its code, status and message being this error's already.
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        let wrapped = self
            .0
            .source
            .as_deref()
            .and_then(|s| s.downcast_ref::<Self>())
            .filter(|inner| inner.kind() != kind)
            .map(|inner| inner.0.source.clone());
        if let Some(cause) = wrapped {
            self.0.source = cause;
        }
        self
    }

    /// The same failure, understood better after a follow-up read (a roster showing why the
    /// provider sent a generic code): `kind`, and `message` stating what was verified.
    ///
    /// The rule for every restated error: the message says it once, in our words. The
    /// provider's message is replaced, not glossed — its words would repeat ours ("not an
    /// active participant…: not an active member…") or contradict them; they stay in the raw
    /// reply ([`Error::body`]) and the code. A restated error is a definite refusal: not
    /// retried, not ambiguous. Code, status, trace id, body, attempts and context are kept.
    ///
    /// ```
    /// use rosterkit_core::{Error, ErrorKind};
    /// let reply = Error::new(ErrorKind::InvalidInput, "Invalid parameter value: not a participant")
    ///     .with_provider("linq")
    ///     .with_code("1005")
    ///     .with_http_status(400);
    /// let err = reply.restated(ErrorKind::NotAMember, "the handle is not an active member of the chat");
    /// assert_eq!(
    ///     err.to_string(),
    ///     "linq: the handle is not an active member of the chat (not_a_member, code 1005, HTTP 400)"
    /// );
    /// ```
    #[must_use]
    pub fn restated(self, kind: ErrorKind, message: impl Into<String>) -> Self {
        self.with_kind(kind)
            .with_message(message)
            .with_retryable(false)
            .with_ambiguous(false)
    }

    /// Sets the message, keeping everything else. Long digit runs in it (phone numbers a
    /// caller or a provider put there) are masked when shown.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self.0.own_message = false;
        self
    }

    /// Sets a message that is entirely the library's own text — a refusal with help and
    /// examples, holding no provider reply and caller input only already redacted — shown as
    /// written: its
    /// examples (`e.g. +14155551234`) are not masked as if they were someone's number. Input
    /// refusals made from a [`ParseError`] are such messages (a `ParseError` never echoes the
    /// value).
    ///
    /// ```
    /// use rosterkit_core::{Error, ErrorKind};
    /// let help = Error::new(ErrorKind::InvalidInput, "")
    ///     .with_own_message("expected a phone number, e.g. +14155551234");
    /// assert_eq!(help.message(), "expected a phone number, e.g. +14155551234");
    /// let echoed = Error::invalid_input("+14155551234 is not in the group");
    /// assert_eq!(echoed.message(), "+*******1234 is not in the group");
    /// ```
    #[must_use]
    pub fn with_own_message(mut self, message: &str) -> Self {
        self.0.message = message.to_owned();
        self.0.own_message = true;
        self
    }

    /// Replaces every occurrence of each of `secrets` with [`crate::REDACTED`] in
    /// everything a server may have echoed: the message, code, trace id, kept body and the
    /// source chain's text (a chain that mentions one becomes a plain-text cause). The
    /// executor does this with the secrets its client registered
    /// ([`crate::ClientOptions::secrets`]), so a server that reflects the request (URL path,
    /// headers) cannot make an error carry the client's credentials. Secrets shorter than
    /// [`crate::MIN_SCRUBBED_LEN`] bytes are left alone (they would match ordinary
    /// text).
    ///
    /// ```
    /// use rosterkit_core::{Error, ErrorKind, Secret};
    /// let err = Error::new(ErrorKind::InvalidInput, "bad request: Bearer tok-0123456789")
    ///     .scrub(&[Secret::new("tok-0123456789")]);
    /// assert_eq!(err.message(), "bad request: Bearer ** redacted **");
    /// ```
    #[must_use]
    pub fn scrub(mut self, secrets: &[Secret]) -> Self {
        let i = &mut *self.0;
        if let Some(clean) = scrub_text(&i.message, secrets) {
            i.message = clean;
        }
        for field in [&mut i.code, &mut i.trace_id].into_iter().flatten() {
            if let Some(clean) = scrub_text(field, secrets) {
                *field = clean;
            }
        }
        if let Some(clean) = i.body.as_ref().and_then(|b| scrub_bytes(b, secrets)) {
            i.body = Some(Bytes::from(clean));
        }
        if let Some(source) = &i.source {
            let mut chain = vec![source.to_string()];
            let mut next = source.source();
            while let Some(cause) = next {
                chain.push(cause.to_string());
                next = cause.source();
            }
            if let Some(clean) = scrub_text(&chain.join(": "), secrets) {
                i.source = Some(Arc::new(ScrubbedCause(clean)));
            }
        }
        self
    }

    /// Sets how many attempts were made, for an error an adapter makes from a reply the
    /// executor returned as a success: one item a batch reply refused, or a read-back that
    /// contradicts an "ok". Such an error follows at least one answered request, so it is never
    /// mistaken for a refusal made before anything was sent (`attempts() == 0`). The executor
    /// counts its own errors itself.
    #[must_use]
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        self.0.attempts = attempts;
    }

    pub(crate) fn fill_context(&mut self, provider: &'static str, operation: &'static str) {
        self.0.provider.get_or_insert(provider);
        self.0.operation.get_or_insert(operation);
    }

    pub(crate) fn fill_retry_after(&mut self, delay: Option<Duration>) {
        if self.0.retry_after.is_none() {
            self.0.retry_after = delay;
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The provider that answered, if any.
    pub fn provider(&self) -> Option<&'static str> {
        self.0.provider
    }

    /// The operation that failed, if known.
    pub fn operation(&self) -> Option<&'static str> {
        self.0.operation
    }

    /// The HTTP status of the reply, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// The provider's error code, as text.
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The message, with phone numbers masked (a message of the library's own, see
    /// [`Error::with_own_message`], as written).
    pub fn message(&self) -> String {
        self.shown_message().to_string()
    }

    /// The message as `Display`, `Debug` and [`Error::message`] show it.
    fn shown_message(&self) -> ShownMessage<'_> {
        if self.0.own_message {
            ShownMessage::Own(&self.0.message)
        } else {
            ShownMessage::Masked(Masked(&self.0.message))
        }
    }

    /// The provider's trace or request id.
    pub fn trace_id(&self) -> Option<&str> {
        self.0.trace_id.as_deref()
    }

    /// How long the provider asked us to wait, from a header or the body.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// Whether a retry could succeed, as decided by the provider's code table.
    pub fn is_retryable(&self) -> bool {
        self.0.retryable
    }

    /// Whether the change may have been applied despite the failure.
    pub fn is_ambiguous(&self) -> bool {
        self.0.ambiguous
    }

    /// How many attempts were made before giving up (0 when no request was sent).
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// The raw reply body, capped by the transport.
    pub fn body(&self) -> Option<&Bytes> {
        self.0.body.as_ref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.0;
        match (i.provider, i.operation) {
            (Some(p), Some(op)) => write!(f, "{p} {op}: ")?,
            (Some(p), None) => write!(f, "{p}: ")?,
            (None, Some(op)) => write!(f, "{op}: ")?,
            (None, None) => {}
        }
        write!(f, "{} ({}", self.shown_message(), i.kind)?;
        if let Some(code) = &i.code {
            write!(f, ", code {}", Masked(code))?;
        }
        if let Some(status) = i.http_status {
            write!(f, ", HTTP {status}")?;
        }
        if let Some(trace) = &i.trace_id {
            write!(f, ", trace {}", Masked(trace))?;
        }
        f.write_str(")")
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.0;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind)
            .field("provider", &i.provider)
            .field("operation", &i.operation)
            .field("http_status", &i.http_status)
            .field("code", &i.code.as_deref().map(Masked))
            .field("message", &self.shown_message().to_string())
            .field("trace_id", &i.trace_id)
            .field("retry_after", &i.retry_after)
            .field("retryable", &i.retryable)
            .field("ambiguous", &i.ambiguous)
            .field("attempts", &i.attempts)
            .field("body_len", &i.body.as_ref().map(Bytes::len));
        if let Some(source) = &i.source {
            // A refusal of input never echoes the value: its help text is shown as written.
            if source.downcast_ref::<ParseError>().is_some() {
                d.field("source", &source.to_string());
            } else {
                d.field("source", &Masked(&source.to_string()));
            }
        }
        d.finish()
    }
}

/// A message as shown: masked, or the library's own text as written.
#[derive(Clone, Copy)]
enum ShownMessage<'a> {
    Masked(Masked<'a>),
    Own(&'a str),
}

impl fmt::Display for ShownMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Masked(m) => m.fmt(f),
            Self::Own(s) => f.write_str(s),
        }
    }
}

impl fmt::Debug for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// The text of a failure's causes after [`Error::scrub`] took secrets out of it.
#[derive(Debug)]
struct ScrubbedCause(String);

impl fmt::Display for ScrubbedCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for ScrubbedCause {}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Self::new(ErrorKind::InvalidInput, "")
            .with_own_message(&e.to_string())
            .with_source(e)
    }
}

/// One row of a provider's error-code table, generated from `specs/<provider>.toml` by
/// `cargo xtask codegen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeEntry {
    /// The provider's code, as text.
    pub code: &'static str,
    /// The HTTP status the provider documents for it.
    pub http_status: u16,
    /// Our kind for it.
    pub kind: ErrorKind,
    /// Whether a retry could succeed.
    pub retryable: bool,
    /// Whether the change may have happened anyway.
    pub ambiguous: bool,
    /// The provider's meaning, in a few words.
    pub meaning: &'static str,
}

impl CodeEntry {
    /// A table row (used by generated code): neither retryable nor ambiguous unless marked
    /// with [`CodeEntry::retryable`] and [`CodeEntry::ambiguous`].
    pub const fn new(
        code: &'static str,
        http_status: u16,
        kind: ErrorKind,
        meaning: &'static str,
    ) -> Self {
        Self {
            code,
            http_status,
            kind,
            retryable: false,
            ambiguous: false,
            meaning,
        }
    }

    /// Marks the row retryable: a retry could succeed.
    #[must_use]
    pub const fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }

    /// Marks the row ambiguous: the change may have happened anyway.
    #[must_use]
    pub const fn ambiguous(mut self) -> Self {
        self.ambiguous = true;
        self
    }

    /// A new [`Error`] with this row's kind, code, retryability and ambiguity.
    pub fn to_error(&self, provider: &'static str, message: impl Into<String>) -> Error {
        Error::new(self.kind, message)
            .with_provider(provider)
            .with_code(self.code)
            .with_retryable(self.retryable)
            .with_ambiguous(self.ambiguous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_takes_secrets_out_of_every_echoed_part() {
        #[derive(Debug)]
        struct Cause(&'static str);
        impl fmt::Display for Cause {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.0)
            }
        }
        impl StdError for Cause {}

        let secrets = [Secret::new("instance-TOKEN-42"), Secret::new("short")];
        let e = Error::new(
            ErrorKind::InvalidInput,
            "POST /instances/instance-TOKEN-42/x short",
        )
        .with_code("instance-TOKEN-42")
        .with_trace_id("t-instance-TOKEN-42")
        .with_body(Bytes::from_static(b"{\"echo\":\"instance-TOKEN-42\"}"))
        .with_source(Cause("connect to /instance-TOKEN-42 failed"))
        .scrub(&secrets);
        let shown = format!("{e} {e:?} {:?}", e.body());
        assert!(!shown.contains("instance-TOKEN-42"), "{shown}");
        assert_eq!(e.message(), "POST /instances/** redacted **/x short");
        assert_eq!(e.code(), Some("** redacted **"));
        assert_eq!(e.trace_id(), Some("t-** redacted **"));
        assert_eq!(
            e.body().map(|b| &b[..]),
            Some(&b"{\"echo\":\"** redacted **\"}"[..])
        );
        let source = StdError::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("connect to /** redacted ** failed"));

        // A source that mentions no secret stays the typed original.
        let kept = Error::new(ErrorKind::Transport, "x")
            .with_source(Cause("plain"))
            .scrub(&secrets);
        assert!(StdError::source(&kept).is_some_and(|s| s.is::<Cause>()));
    }

    #[test]
    fn display_names_provider_code_message_status() {
        let e = Error::new(ErrorKind::ChatUnavailable, "This chat is unavailable")
            .with_provider("linq")
            .with_operation("remove_participant")
            .with_code("2013")
            .with_http_status(409)
            .with_trace_id("t-1");
        assert_eq!(
            e.to_string(),
            "linq remove_participant: This chat is unavailable (chat_unavailable, code 2013, HTTP 409, trace t-1)"
        );
    }

    #[test]
    fn phone_numbers_are_masked_in_display_and_debug() {
        let e = Error::new(ErrorKind::NotAMember, "+14155551234 is not in the group")
            .with_source(std::io::Error::other("peer +14155551234"));
        for text in [e.to_string(), format!("{e:?}"), e.message()] {
            assert!(!text.contains("4155551234"), "{text}");
            assert!(text.contains("+*******1234"), "{text}");
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(k.as_str()), Some(k));
        }
        assert_eq!(ErrorKind::from_name("nope"), None);
    }

    #[test]
    fn parse_error_becomes_invalid_input() {
        let e: Error = crate::E164::parse("4155551234").unwrap_err().into();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("E.164"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn default_retryability_by_kind() {
        assert!(Error::new(ErrorKind::RateLimited, "").is_retryable());
        assert!(!Error::new(ErrorKind::RateLimited, "").is_ambiguous());
        assert!(Error::new(ErrorKind::Timeout, "").is_ambiguous());
        assert!(!Error::new(ErrorKind::GroupTooSmall, "").is_retryable());
    }

    #[test]
    fn clone_and_with_kind_keep_everything_but_the_kind() {
        let mut e = Error::new(ErrorKind::InvalidInput, "invalid parameter")
            .with_provider("linq")
            .with_code("1005")
            .with_http_status(400)
            .with_trace_id("t-9")
            .with_body(Bytes::from_static(b"{}"))
            .with_source(std::io::Error::other("cause"));
        e.set_attempts(2);
        let copy = e.clone().with_kind(ErrorKind::NotAMember);
        assert_eq!(copy.kind(), ErrorKind::NotAMember);
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(copy.attempts(), 2);
        assert_eq!(copy.code(), Some("1005"));
        assert_eq!(copy.http_status(), Some(400));
        assert_eq!(copy.trace_id(), Some("t-9"));
        assert_eq!(copy.body().map(Bytes::len), Some(2));
        assert!(std::error::Error::source(&copy).is_some());
    }

    #[test]
    fn own_text_keeps_its_examples_and_user_data_stays_masked() {
        // A refusal of input: the rule's example is shown as written, in every rendering.
        let refused: Error = crate::E164::parse("4155551234").unwrap_err().into();
        for text in [
            refused.to_string(),
            format!("{refused:?}"),
            refused.message(),
        ] {
            assert!(text.contains("e.g. +14155551234"), "{text}");
            assert!(!text.contains('*'), "{text}");
        }
        // A provider's or caller's text is still masked, also after it replaced our own.
        let echoed = refused.with_message("+14155551234 is not in the group");
        assert_eq!(echoed.message(), "+*******1234 is not in the group");
        assert!(
            echoed.to_string().starts_with("+*******1234 is not"),
            "{echoed}"
        );
        assert!(format!("{echoed:?}").contains("message: \"+*******1234 is not"));
    }

    #[test]
    fn with_kind_drops_a_wrapped_error_that_states_another_kind() {
        let provider = Error::new(ErrorKind::InvalidInput, "Invalid parameter value")
            .with_code("1005")
            .with_source(std::io::Error::other("root cause"));
        let restated = Error::new(ErrorKind::InvalidInput, "Invalid parameter value")
            .with_code("1005")
            .with_source(provider)
            .with_kind(ErrorKind::NotAMember);
        let debug = format!("{restated:?}");
        assert!(debug.contains("kind: NotAMember"), "{debug}");
        assert!(!debug.contains("invalid_input"), "{debug}");
        assert_eq!(
            std::error::Error::source(&restated).map(ToString::to_string),
            Some("root cause".to_owned())
        );
        // A wrapped error of the same kind agrees and stays.
        let same = Error::new(ErrorKind::NotAMember, "x")
            .with_source(Error::new(ErrorKind::NotAMember, "y"))
            .with_kind(ErrorKind::NotAMember);
        assert!(std::error::Error::source(&same).is_some_and(|s| s.is::<Error>()));
    }
}
