//! Linq's calls as sans-IO [`Operation`]s: build a request, parse a reply, no I/O.
//!
//! [`LinqClient`](crate::LinqClient)'s methods run these with its
//! [`Executor`](rosterkit_core::Executor); run them yourself with
//! [`LinqClient::executor`](crate::LinqClient::executor), or build and parse them from a
//! [`LinqConfig`] alone, with no client and no server:
//!
//! ```
//! use std::{sync::Arc, time::SystemTime};
//! use rosterkit_core::{Attempt, ChatId, Endpoint, Handle, Operation, Secret};
//! use rosterkit_linq::{LinqConfig, ops::RemoveParticipant};
//!
//! let config = Arc::new(LinqConfig::new(
//!     Endpoint::parse("https://api.linqapp.com/api/partner")?,
//!     Secret::new("test-token"),
//! ));
//! let chat = ChatId::new("550e8400-e29b-41d4-a716-446655440000")?;
//! let who: Handle = "+12052499136".parse()?;
//! let request = RemoveParticipant::new(&config, &chat, &who)?.build(&Attempt::first(SystemTime::now()))?;
//! assert_eq!(request.method(), "DELETE");
//! assert_eq!(
//!     request.uri(),
//!     "https://api.linqapp.com/api/partner/v3/chats/550e8400-e29b-41d4-a716-446655440000/participants"
//! );
//! assert_eq!(request.body().as_ref(), br#"{"handle":"+12052499136"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use rosterkit_core::{
    Attempt, Authenticate, Bytes, ChatId, Error, ErrorKind, Handle, Operation, ProbeWith, Recovery,
    RouteName, Settled,
    http::{self, HeaderValue, header},
    route_uri,
};

use crate::{
    chat::Chat,
    config::LinqConfig,
    errors,
    generated::{PROVIDER, Route},
    reply::{Accepted, LinqChange},
    wire,
};

/// Checks that `chat` is a UUID (8-4-4-4-12 hex digits, any case) and returns it lowercased,
/// the form Linq issues.
///
/// # Errors
/// `InvalidInput` naming the expected shape.
pub(crate) fn chat_uuid(chat: &ChatId) -> Result<String, Error> {
    let id = chat.as_str();
    let groups: Vec<&str> = id.split('-').collect();
    let shape = [8, 4, 4, 4, 12];
    let ok = groups.len() == shape.len()
        && groups
            .iter()
            .zip(shape)
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if ok {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(Error::invalid_input("")
            .with_own_message(
                "invalid Linq chat id: Linq chat ids are UUIDs (8-4-4-4-12 hex digits, e.g. 550e8400-e29b-41d4-a716-446655440000)",
            )
            .with_provider(PROVIDER))
    }
}

/// Checks that `handle` is a phone number or an email, the kinds Linq accepts.
fn linq_handle(handle: &Handle) -> Result<Handle, Error> {
    match handle {
        Handle::Phone(_) | Handle::Email(_) => Ok(handle.clone()),
        other => Err(Error::invalid_input(format!(
            "Linq accepts E.164 phone numbers and email addresses, not a {} handle",
            other.kind_name()
        ))
        .with_provider(PROVIDER)),
    }
}

/// A request on `route` for `chat` (core's template: the path's `{chatId}` encoded as one
/// segment) with the bearer token, `accept: application/json`, and, when `body` is given,
/// `content-type: application/json`.
fn request(
    config: &LinqConfig,
    route: Route,
    chat: &str,
    body: Option<Vec<u8>>,
    attempt: &Attempt,
) -> Result<http::Request<Bytes>, Error> {
    let uri = route_uri(config.base_url().as_str(), "", route, &[chat])?;
    let has_body = body.is_some();
    let mut request = http::Request::new(body.map(Bytes::from).unwrap_or_default());
    *request.method_mut() = route.method();
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    if has_body {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    config.authenticate(&mut request, attempt)?;
    Ok(request)
}

/// `{"handle": ..}`, exactly.
fn handle_body(handle: &Handle) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(&wire::HandleBody {
        handle: handle.as_str(),
    })
    .map_err(|e| Error::invalid_input("could not encode the handle").with_source(e))
}

/// Parses a queued mutation's reply: any 2xx with a JSON object body is accepted (Linq
/// documents 202 and `{"message","status","trace_id"}`, every field optional), or a 204. A 2xx
/// with an empty, `null` or non-JSON body is not Linq's reply (a proxy's, a truncated one): a `Decode`
/// error marked ambiguous, since the change may have been queued, never a success.
fn parse_queued(
    route: Route,
    response: http::Response<Bytes>,
    attempt: &Attempt,
) -> Result<LinqChange, Error> {
    let (parts, body) = response.into_parts();
    if parts.status.is_success() {
        // Only a 204 may come without a body ("no content" is a deliberate answer).
        let bodiless = body.iter().all(u8::is_ascii_whitespace);
        let shaped = !bodiless || parts.status == http::StatusCode::NO_CONTENT;
        return match wire::parse::<wire::Accepted>(&body).filter(|_| shaped) {
            Some(reply) => Ok(LinqChange::Queued(Accepted::from_wire(reply))),
            None => Err(Error::decode(format!(
                "HTTP {} but the reply is not Linq's JSON object; the change may have been queued",
                parts.status.as_u16()
            ))
            .with_provider(PROVIDER)
            .with_operation(route.name())
            .with_http_status(parts.status.as_u16())
            .with_ambiguous(true)
            .with_body(body)),
        };
    }
    Err(errors::from_reply(
        route,
        parts.status,
        &parts.headers,
        body,
        attempt,
    ))
}

/// `DELETE /v3/chats/{chatId}/participants` with `{"handle": ..}`: queue a removal.
///
/// Not idempotent (Linq has no idempotency keys); in ensure mode it is retried after an
/// ambiguous failure. Output: [`LinqChange::Queued`].
#[derive(Debug, Clone)]
pub struct RemoveParticipant {
    config: Arc<LinqConfig>,
    chat: String,
    handle: Handle,
    ensure: bool,
}

impl RemoveParticipant {
    /// Validates the chat id (a UUID) and the handle (phone or email); `config` is the
    /// endpoint and credentials ([`LinqClient::config`](crate::LinqClient::config)).
    ///
    /// # Errors
    /// `InvalidInput` naming what is wrong; nothing is sent.
    pub fn new(config: &Arc<LinqConfig>, chat: &ChatId, handle: &Handle) -> Result<Self, Error> {
        Ok(Self {
            config: Arc::clone(config),
            chat: chat_uuid(chat)?,
            handle: linq_handle(handle)?,
            ensure: false,
        })
    }

    /// Ensure mode: retried after ambiguous failures.
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }
}

impl Operation for RemoveParticipant {
    type Output = LinqChange;

    fn route(&self) -> RouteName {
        Route::RemoveParticipant.into()
    }

    fn idempotent(&self) -> bool {
        self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        request(
            &self.config,
            Route::RemoveParticipant,
            &self.chat,
            Some(handle_body(&self.handle)?),
            attempt,
        )
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<LinqChange, Error> {
        parse_queued(Route::RemoveParticipant, response, attempt)
    }

    /// A 400/1005 is classified by reading the chat once: not an active member (ensure:
    /// `AlreadyDone`, else `NotAMember`) or fewer than 4 active (`GroupTooSmall`).
    fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<LinqChange> {
        let (handle, ensure) = (self.handle.clone(), self.ensure);
        classify_1005(&self.config, &self.chat, error, move |chat, err| {
            if !chat.is_active(&handle) {
                return if ensure {
                    Ok(LinqChange::AlreadyDone {
                        trace_id: err.trace_id().map(str::to_owned),
                    })
                } else {
                    Err(err.restated(
                        ErrorKind::NotAMember,
                        "the handle is not an active member of the chat",
                    ))
                };
            }
            if chat.active_count() < 4 {
                return Err(err.restated(
                    ErrorKind::GroupTooSmall,
                    "a group must keep 3 active participants after a removal",
                ));
            }
            Err(err)
        })
    }
}

/// `POST /v3/chats/{chatId}/participants` with `{"handle": ..}`: queue an addition.
///
/// Not idempotent; in ensure mode it is retried after an ambiguous failure. Output:
/// [`LinqChange::Queued`].
#[derive(Debug, Clone)]
pub struct AddParticipant {
    config: Arc<LinqConfig>,
    chat: String,
    handle: Handle,
    ensure: bool,
}

impl AddParticipant {
    /// Validates the chat id (a UUID) and the handle (phone or email); `config` is the
    /// endpoint and credentials ([`LinqClient::config`](crate::LinqClient::config)).
    ///
    /// # Errors
    /// `InvalidInput` naming what is wrong; nothing is sent.
    pub fn new(config: &Arc<LinqConfig>, chat: &ChatId, handle: &Handle) -> Result<Self, Error> {
        Ok(Self {
            config: Arc::clone(config),
            chat: chat_uuid(chat)?,
            handle: linq_handle(handle)?,
            ensure: false,
        })
    }

    /// Ensure mode: retried after ambiguous failures.
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }
}

impl Operation for AddParticipant {
    type Output = LinqChange;

    fn route(&self) -> RouteName {
        Route::AddParticipant.into()
    }

    fn idempotent(&self) -> bool {
        self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        request(
            &self.config,
            Route::AddParticipant,
            &self.chat,
            Some(handle_body(&self.handle)?),
            attempt,
        )
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<LinqChange, Error> {
        parse_queued(Route::AddParticipant, response, attempt)
    }

    /// A 400/1005 is classified by reading the chat once: already active (ensure:
    /// `AlreadyDone`) or fewer than 3 active (`GroupTooSmall`).
    fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<LinqChange> {
        let (handle, ensure) = (self.handle.clone(), self.ensure);
        classify_1005(&self.config, &self.chat, error, move |chat, err| {
            if ensure && chat.is_active(&handle) {
                return Ok(LinqChange::AlreadyDone {
                    trace_id: err.trace_id().map(str::to_owned),
                });
            }
            if chat.active_count() < 3 {
                return Err(err.restated(
                    ErrorKind::GroupTooSmall,
                    "adding needs a group with at least 3 active participants",
                ));
            }
            Err(err)
        })
    }
}

/// `POST /v3/chats/{chatId}/leave` (no body): queue leaving the group with our own line.
///
/// In ensure mode a 409/2013 ("chat unavailable": we already left) is
/// [`LinqChange::AlreadyDone`], and the call is retried after an ambiguous failure.
#[derive(Debug, Clone)]
pub struct Leave {
    config: Arc<LinqConfig>,
    chat: String,
    ensure: bool,
}

impl Leave {
    /// Validates the chat id (a UUID).
    ///
    /// # Errors
    /// `InvalidInput`; nothing is sent.
    pub fn new(config: &Arc<LinqConfig>, chat: &ChatId) -> Result<Self, Error> {
        Ok(Self {
            config: Arc::clone(config),
            chat: chat_uuid(chat)?,
            ensure: false,
        })
    }

    /// Ensure mode: 409/2013 is [`LinqChange::AlreadyDone`]; retried after ambiguous failures.
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }
}

impl Operation for Leave {
    type Output = LinqChange;

    fn route(&self) -> RouteName {
        Route::Leave.into()
    }

    fn idempotent(&self) -> bool {
        self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        request(&self.config, Route::Leave, &self.chat, None, attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<LinqChange, Error> {
        match parse_queued(Route::Leave, response, attempt) {
            Err(err) if self.ensure && err.code() == Some("2013") => Ok(LinqChange::AlreadyDone {
                trace_id: err.trace_id().map(str::to_owned),
            }),
            other => other,
        }
    }

    /// A 400/1005 is classified by reading the chat once: fewer than 4 active
    /// (`GroupTooSmall`).
    fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<LinqChange> {
        classify_1005(&self.config, &self.chat, error, |chat, err| {
            if chat.active_count() < 4 {
                return Err(err.restated(
                    ErrorKind::GroupTooSmall,
                    "leaving needs a group with at least 4 active participants, yourself included",
                ));
            }
            Err(err)
        })
    }
}

/// After a 400/1005 ("invalid parameter", which Linq sends for a handle that is not a member
/// or a group at its minimum size; it documents no code for these): read the chat once and
/// let `decide` turn the error into something more precise. When the read fails, the
/// original error stands. Any other failure follows the executor's standard rule.
fn classify_1005(
    config: &Arc<LinqConfig>,
    chat: &str,
    error: &Error,
    decide: impl FnOnce(&Chat, Error) -> Result<LinqChange, Error> + Send + Sync + 'static,
) -> Recovery<LinqChange> {
    if error.code() != Some("1005") {
        return Recovery::Standard;
    }
    let read = GetChat {
        config: Arc::clone(config),
        chat: chat.to_owned(),
    };
    Recovery::Probe(Box::new(ProbeWith::new(
        read,
        move |read: Result<Chat, Error>, err: Error| match read {
            Ok(chat) => Settled::Finish(decide(&chat, err)),
            Err(read_err) => {
                tracing::debug!(error = %read_err, "could not read the chat to classify a 1005");
                Settled::Finish(Err(err))
            }
        },
    )))
}

/// `GET /v3/chats/{chatId}`: the chat with its roster. Idempotent.
#[derive(Debug, Clone)]
pub struct GetChat {
    config: Arc<LinqConfig>,
    chat: String,
}

impl GetChat {
    /// Validates the chat id (a UUID).
    ///
    /// # Errors
    /// `InvalidInput`; nothing is sent.
    pub fn new(config: &Arc<LinqConfig>, chat: &ChatId) -> Result<Self, Error> {
        Ok(Self {
            config: Arc::clone(config),
            chat: chat_uuid(chat)?,
        })
    }
}

impl Operation for GetChat {
    type Output = Chat;

    fn route(&self) -> RouteName {
        Route::GetChat.into()
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        request(&self.config, Route::GetChat, &self.chat, None, attempt)
    }

    fn parse(&self, response: http::Response<Bytes>, attempt: &Attempt) -> Result<Chat, Error> {
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            return Err(errors::from_reply(
                Route::GetChat,
                parts.status,
                &parts.headers,
                body,
                attempt,
            ));
        }
        let decoded = if body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            wire::parse::<wire::Chat>(&body)
        };
        match decoded {
            Some(chat) => Ok(Chat::from_wire(chat, &self.chat)),
            None => Err(Error::decode(format!(
                "HTTP {} from GET /v3/chats/{{chatId}} is not a Linq chat object",
                parts.status.as_u16()
            ))
            .with_provider(PROVIDER)
            .with_operation(Route::GetChat.name())
            .with_http_status(parts.status.as_u16())
            .with_body(body)),
        }
    }
}
