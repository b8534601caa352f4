//! Chert's calls as sans-IO [`Operation`]s: each builds its request for an attempt (signed
//! afresh) and parses the reply, with no I/O, so it can be tested without a server or run with
//! [`ChertClient::executor`](crate::ChertClient::executor). It is built from a [`ChertConfig`]
//! (endpoint and credentials), never from a client:
//!
//! ```
//! use std::sync::Arc;
//! use rosterkit_chert::{AuthMode, ChertConfig, ops::RemoveParticipant};
//! use rosterkit_core::{Attempt, ChatId, Endpoint, FixedClock, Handle, Operation, Secret};
//!
//! let config = Arc::new(ChertConfig::new(
//!     Endpoint::parse("https://console.trychert.com/api/v1")?,
//!     AuthMode::Hmac,
//!     Some("acme"),
//!     &Secret::new("0123456789abcdef0123456789abcdef"),
//! )?);
//! let who: Handle = "+14155551234".parse()?;
//! let op = RemoveParticipant::new(&config, &ChatId::new("ch_01HTEST")?, &who)?;
//! let request = op.build(&Attempt::first(FixedClock::at_unix(1_700_000_000).0))?;
//! assert_eq!(
//!     request.uri().to_string(),
//!     "https://console.trychert.com/api/v1/chats/ch_01HTEST/participants/%2B14155551234"
//! );
//! assert_eq!(
//!     request.headers()["x-chert-signature"],
//!     "v1,1700000000,6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, sync::Arc};

use rosterkit_core::{
    Attempt, Authenticate, Bytes, ChatId, Error, Handle, Operation, RouteName,
    http::{self, HeaderValue, Method, header::CONTENT_TYPE},
    redact::mask_digits,
    route_uri,
};

use crate::{
    config::{Auth, ChertConfig},
    errors,
    generated::{PROVIDER, Route},
    reply::{AddReply, ChertChange, LeaveReply, LeaveStatus, RemoveReply},
    wire,
};

/// A route's request as every attempt sends it: the route, its method, URL and exact body
/// (fixed at construction, so every attempt sends and signs the same bytes), and the
/// credentials. Each Chert operation holds one.
struct RouteRequest {
    route: Route,
    method: Method,
    uri: http::Uri,
    body: Bytes,
    chat: ChatId,
    auth: Arc<Auth>,
}

impl RouteRequest {
    /// A request on `route` whose path template's `{...}` placeholders take `params` in order, each
    /// percent-encoded as one segment.
    fn new(
        config: &ChertConfig,
        route: Route,
        chat: &ChatId,
        params: &[&str],
        body: Bytes,
    ) -> Result<Self, Error> {
        let uri = route_uri(config.base_url().as_str(), "", route, params)?;
        Ok(Self {
            route,
            method: route.method(),
            uri,
            body,
            chat: chat.clone(),
            auth: Arc::clone(config.auth()),
        })
    }

    /// The request for `attempt`: authentication headers over the exact body bytes at the
    /// attempt's time, and `content-type: application/json` when there is a body.
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        let mut request = http::Request::new(self.body.clone());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        self.auth.authenticate(&mut request, attempt)?;
        if !self.body.is_empty() {
            request
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(request)
    }

    /// The success body, or the mapped error for any other status. A 2xx whose body is not
    /// JSON is a `Decode` error marked ambiguous: Chert may have applied the change.
    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<(wire::Success, Option<String>), Error> {
        let (parts, body) = response.into_parts();
        let header_trace = errors::header_trace_id(&parts.headers);
        if !parts.status.is_success() {
            return Err(errors::from_reply(
                self.route,
                parts.status,
                &parts.headers,
                body,
                attempt.now,
            ));
        }
        match wire::parse_success(&body) {
            Ok(mut success) => {
                let trace_id = success.trace_id.take().or(header_trace);
                Ok((success, trace_id))
            }
            Err(e) => {
                let mut err = Error::decode(format!(
                    "HTTP {} but the reply is not Chert's JSON; the change may have been applied",
                    parts.status.as_u16()
                ))
                .with_provider(PROVIDER)
                .with_operation(self.route.name())
                .with_http_status(parts.status.as_u16())
                .with_ambiguous(true)
                .with_body(body)
                .with_source(e);
                if let Some(trace) = header_trace {
                    err = err.with_trace_id(trace);
                }
                Err(err)
            }
        }
    }

    /// The chat id Chert echoed, else the one requested.
    fn chat_id(&self, echoed: Option<String>) -> ChatId {
        echoed
            .and_then(|id| ChatId::new(id).ok())
            .unwrap_or_else(|| self.chat.clone())
    }
}

impl fmt::Debug for RouteRequest {
    /// Phone numbers in the URL and body are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteRequest")
            .field("route", &self.route.name())
            .field("method", &self.method)
            .field("uri", &mask_digits(&self.uri.to_string()))
            .field("body", &mask_digits(&String::from_utf8_lossy(&self.body)))
            .finish_non_exhaustive()
    }
}

/// The address Chert expects for `handle`: an E.164 number or an email; anything else is
/// refused before a request is built.
fn address(handle: &Handle) -> Result<&str, Error> {
    match handle {
        Handle::Phone(_) | Handle::Email(_) => Ok(handle.as_str()),
        _ => Err(Error::invalid_input(format!(
            "chert accepts E.164 phone numbers and email addresses, not {} handles ({})",
            handle.kind_name(),
            handle.redacted()
        ))
        .with_provider(PROVIDER)),
    }
}

fn trace_of(err: &Error) -> Option<String> {
    err.trace_id().map(str::to_owned)
}

/// `DELETE /chats/{id}/participants/{address}`: remove a participant.
///
/// Not idempotent (a second removal gets 1001). In ensure mode 1001 is
/// [`ChertChange::AlreadyDone`], the operation reports itself idempotent so the executor retries it
/// after an ambiguous failure, and a 1002 on such a retry is [`ChertChange::Unconfirmed`].
#[derive(Debug)]
pub struct RemoveParticipant {
    request: RouteRequest,
    ensure: bool,
}

impl RemoveParticipant {
    /// The removal of `handle` from `chat`, through `client`'s endpoint and credentials.
    ///
    /// # Errors
    /// `InvalidInput` when `handle` is not a phone number or an email.
    pub fn new(config: &Arc<ChertConfig>, chat: &ChatId, handle: &Handle) -> Result<Self, Error> {
        let address = address(handle)?;
        Ok(Self {
            request: RouteRequest::new(
                config,
                Route::RemoveParticipant,
                chat,
                &[chat.as_str(), address],
                Bytes::new(),
            )?,
            ensure: false,
        })
    }

    /// Turns ensure mode on or off (default off).
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }
}

impl Operation for RemoveParticipant {
    type Output = ChertChange<RemoveReply>;

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    /// As the spec says, or in ensure mode.
    fn idempotent(&self) -> bool {
        self.request.route.idempotent() || self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Self::Output, Error> {
        match self.request.parse(response, attempt) {
            Ok((reply, trace_id)) => Ok(ChertChange::Applied(RemoveReply {
                chat_id: self.request.chat_id(reply.chat_id),
                removed: reply.removed.and_then(wire::handle_owned),
                participants: reply.participants.map(wire::roster),
                trace_id,
            })),
            Err(e) if self.ensure && e.code() == Some("1001") => Ok(ChertChange::AlreadyDone {
                trace_id: trace_of(&e),
            }),
            Err(e)
                if self.ensure && attempt.after_ambiguous_failure && e.code() == Some("1002") =>
            {
                Ok(ChertChange::Unconfirmed {
                    trace_id: trace_of(&e),
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// `POST /chats/{id}/participants` with `{"address":"..."}`: add a participant.
///
/// Idempotent (adding a present member is a no-op success), so always safe to retry.
#[derive(Debug)]
pub struct AddParticipant {
    request: RouteRequest,
}

impl AddParticipant {
    /// The addition of `handle` to `chat`, through `client`'s endpoint and credentials. The body
    /// is serialized once here, so every attempt signs and sends the same bytes.
    ///
    /// # Errors
    /// `InvalidInput` when `handle` is not a phone number or an email.
    pub fn new(config: &Arc<ChertConfig>, chat: &ChatId, handle: &Handle) -> Result<Self, Error> {
        let address = address(handle)?;
        let body = serde_json::to_vec(&wire::AddBody { address }).map_err(|e| {
            Error::invalid_input("the add request body could not be serialized")
                .with_provider(PROVIDER)
                .with_source(e)
        })?;
        Ok(Self {
            request: RouteRequest::new(
                config,
                Route::AddParticipant,
                chat,
                &[chat.as_str()],
                Bytes::from(body),
            )?,
        })
    }
}

impl Operation for AddParticipant {
    type Output = AddReply;

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    fn idempotent(&self) -> bool {
        self.request.route.idempotent()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Self::Output, Error> {
        let (reply, trace_id) = self.request.parse(response, attempt)?;
        Ok(AddReply {
            chat_id: self.request.chat_id(reply.chat_id),
            added: reply.added.and_then(wire::handle_owned),
            participants: reply.participants.map(wire::roster),
            trace_id,
        })
    }
}

/// `POST /chats/{id}/leave` (no body, no content type): leave a group.
///
/// Not idempotent (leaving twice gets 1006). In ensure mode 1006 is [`ChertChange::AlreadyDone`]
/// and the operation reports itself idempotent. Chert also answers 1006 for a direct message,
/// so ensure mode trusts the caller that the chat is (or was) a group.
#[derive(Debug)]
pub struct Leave {
    request: RouteRequest,
    ensure: bool,
}

impl Leave {
    /// Leaving `chat`, through `client`'s endpoint and credentials.
    ///
    /// # Errors
    /// `InvalidInput` if the request URL cannot be formed (not expected: the base URL and the
    /// chat id are validated and every path segment is percent-encoded).
    pub fn new(config: &Arc<ChertConfig>, chat: &ChatId) -> Result<Self, Error> {
        Ok(Self {
            request: RouteRequest::new(config, Route::Leave, chat, &[chat.as_str()], Bytes::new())?,
            ensure: false,
        })
    }

    /// Turns ensure mode on or off (default off).
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }
}

impl Operation for Leave {
    type Output = ChertChange<LeaveReply>;

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    /// As the spec says, or in ensure mode.
    fn idempotent(&self) -> bool {
        self.request.route.idempotent() || self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Self::Output, Error> {
        match self.request.parse(response, attempt) {
            Ok((reply, trace_id)) => Ok(ChertChange::Applied(LeaveReply {
                chat_id: self.request.chat_id(reply.chat_id),
                status: reply.status.map(LeaveStatus::from_wire),
                trace_id,
            })),
            Err(e) if self.ensure && e.code() == Some("1006") => Ok(ChertChange::AlreadyDone {
                trace_id: trace_of(&e),
            }),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuthMode, ChertClient};
    use proptest::prelude::*;
    use rosterkit_core::{ErrorKind, FixedClock, NativeId};
    use std::time::SystemTime;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const BASE: &str = "https://console.trychert.com/api/v1";
    /// Vector A: the signature over `"1700000000."`.
    const SIG_EMPTY: &str =
        "v1,1700000000,6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648";

    fn client() -> ChertClient {
        ChertClient::builder()
            .tenant("acme")
            .signing_secret(SECRET)
            .build()
            .unwrap()
    }

    fn at(secs: u64) -> SystemTime {
        FixedClock::at_unix(secs).0
    }

    fn first() -> Attempt {
        Attempt::first(at(1_700_000_000))
    }

    fn chat() -> ChatId {
        ChatId::new("ch_01HTEST").unwrap()
    }

    fn phone() -> Handle {
        "+14155551234".parse().unwrap()
    }

    fn header<'a>(r: &'a http::Request<Bytes>, name: &str) -> Option<&'a str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn response(status: u16, body: &str, trace: Option<&str>) -> http::Response<Bytes> {
        let mut b = http::Response::builder().status(status);
        if let Some(t) = trace {
            b = b.header("x-trace-id", t);
        }
        b.body(Bytes::copy_from_slice(body.as_bytes())).unwrap()
    }

    fn chert_error(status: u16, code: u32, retryable: bool) -> String {
        format!(
            r#"{{"success":false,"error":{{"status":{status},"code":{code},"message":"m","retryable":{retryable}}},"trace_id":"t-0002"}}"#
        )
    }

    #[test]
    fn vector_a_remove() {
        let op = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        let r = op.build(&first()).unwrap();
        assert_eq!(r.method(), Method::DELETE);
        assert_eq!(
            r.uri().to_string(),
            format!("{BASE}/chats/ch_01HTEST/participants/%2B14155551234")
        );
        assert_eq!(header(&r, "x-chert-tenant"), Some("acme"));
        assert_eq!(header(&r, "x-chert-signature"), Some(SIG_EMPTY));
        assert_eq!(r.headers().len(), 2, "no content-type, no authorization");
        assert!(r.body().is_empty());
    }

    #[test]
    fn vector_b_leave_signs_like_a() {
        let op = Leave::new(client().config(), &chat()).unwrap();
        let r = op.build(&first()).unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(
            r.uri().to_string(),
            format!("{BASE}/chats/ch_01HTEST/leave")
        );
        assert_eq!(header(&r, "x-chert-signature"), Some(SIG_EMPTY));
        assert_eq!(
            header(&r, "content-type"),
            None,
            "leave sends no content type"
        );
        assert_eq!(r.headers().len(), 2);
        assert!(r.body().is_empty());
    }

    #[test]
    fn vector_c_add() {
        let op = AddParticipant::new(client().config(), &chat(), &phone()).unwrap();
        let r = op.build(&first()).unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(
            r.uri().to_string(),
            format!("{BASE}/chats/ch_01HTEST/participants")
        );
        assert_eq!(r.body().as_ref(), br#"{"address":"+14155551234"}"#);
        assert_eq!(r.body().len(), 26);
        assert_eq!(header(&r, "content-type"), Some("application/json"));
        assert_eq!(header(&r, "x-chert-tenant"), Some("acme"));
        assert_eq!(
            header(&r, "x-chert-signature"),
            Some("v1,1700000000,72565e0db38544f92a6d0d1c12198d9862498db168d402773d1eea04f429b511")
        );
    }

    #[test]
    fn vector_f_retry_is_resigned_and_1001_is_already_done_in_ensure_mode() {
        let op = RemoveParticipant::new(client().config(), &chat(), &phone())
            .unwrap()
            .ensure(true);
        assert!(op.idempotent());
        let retry = Attempt::new(2, at(1_700_000_005), true);
        let r = op.build(&retry).unwrap();
        assert_eq!(
            header(&r, "x-chert-signature"),
            Some("v1,1700000005,66a20b6c84eb23f09a34d746f7b2f522522655b1afd427f89db816b47c871548")
        );
        let got = op
            .parse(response(400, &chert_error(400, 1001, false), None), &retry)
            .unwrap();
        assert_eq!(
            got,
            ChertChange::AlreadyDone {
                trace_id: Some("t-0002".into())
            }
        );
        // Without ensure, the same reply is the error it says.
        let plain = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        assert!(!plain.idempotent());
        let err = plain
            .parse(response(400, &chert_error(400, 1001, false), None), &retry)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAMember);
        assert!(!err.is_retryable());
    }

    #[test]
    fn remove_1002_after_an_ambiguous_failure_is_unconfirmed_in_ensure_mode() {
        let body = chert_error(400, 1002, false);
        let ensure = RemoveParticipant::new(client().config(), &chat(), &phone())
            .unwrap()
            .ensure(true);
        let retry = Attempt::new(2, at(1_700_000_005), true);
        assert_eq!(
            ensure.parse(response(400, &body, None), &retry).unwrap(),
            ChertChange::Unconfirmed {
                trace_id: Some("t-0002".into())
            }
        );
        // On a first attempt (vector E) it is the group's floor, ensure or not.
        let err = ensure
            .parse(response(400, &body, None), &first())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::GroupTooSmall);
        let plain = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        let err = plain.parse(response(400, &body, None), &retry).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::GroupTooSmall);
        // 1006 on remove is never "already done".
        let err = ensure
            .parse(response(400, &chert_error(400, 1006, false), None), &retry)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAGroup);
    }

    #[test]
    fn leave_1006_is_already_done_only_in_ensure_mode() {
        let body = chert_error(400, 1006, false);
        let ensure = Leave::new(client().config(), &chat()).unwrap().ensure(true);
        assert!(ensure.idempotent());
        assert!(matches!(
            ensure.parse(response(400, &body, None), &first()),
            Ok(ChertChange::AlreadyDone { .. })
        ));
        let plain = Leave::new(client().config(), &chat()).unwrap();
        assert!(!plain.idempotent());
        let err = plain
            .parse(response(400, &body, None), &first())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAGroup);
        // 1002 on leave stays an error even after an ambiguous failure.
        let retry = Attempt::new(2, at(1_700_000_005), true);
        let err = ensure
            .parse(response(400, &chert_error(400, 1002, false), None), &retry)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::GroupTooSmall);
    }

    #[test]
    fn add_is_idempotent_and_4099_is_misconfigured() {
        let op = AddParticipant::new(client().config(), &chat(), &phone()).unwrap();
        assert!(op.idempotent());
        let err = op
            .parse(
                response(422, &chert_error(422, 4099, false), None),
                &first(),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ProviderMisconfigured);
        assert_eq!(err.http_status(), Some(422));
        let leave = Leave::new(client().config(), &chat()).unwrap();
        let err = leave
            .parse(
                response(501, &chert_error(501, 4099, false), None),
                &first(),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ProviderMisconfigured);
        assert_eq!(err.http_status(), Some(501));
    }

    #[test]
    fn documented_success_bodies() {
        let remove = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        let a = r#"{"chat_id":"ch_01HTEST","removed":"+14155551234","participants":["+14155550100","+14155550200","+14155550300"]}"#;
        let ChertChange::Applied(reply) = remove
            .parse(response(200, a, Some("abc123")), &first())
            .unwrap()
        else {
            panic!("applied")
        };
        assert_eq!(reply.chat_id.as_str(), "ch_01HTEST");
        assert_eq!(reply.removed, Some(phone()));
        let roster: Vec<&str> = reply
            .participants
            .as_deref()
            .unwrap()
            .iter()
            .map(Handle::as_str)
            .collect();
        assert_eq!(roster, ["+14155550100", "+14155550200", "+14155550300"]);
        assert_eq!(reply.trace_id.as_deref(), Some("abc123"));
        let outcome = rosterkit_core::Outcome::from(ChertChange::Applied(reply));
        assert_eq!(outcome.roster().map(<[Handle]>::len), Some(3));
        assert_eq!(outcome.trace_id(), Some("abc123"));

        // The seed page's example, pretty-printed with its elided chat id.
        let seed = "{\n  \"chat_id\": \"ch_01H...\",\n  \"removed\": \"+14155551234\",\n  \"participants\": [\"+14155550100\", \"+14155550200\"]\n}";
        let reply = remove
            .parse(response(200, seed, None), &first())
            .unwrap()
            .applied()
            .unwrap();
        assert_eq!(reply.chat_id.as_str(), "ch_01H...");
        assert_eq!(reply.participants.map(|p| p.len()), Some(2));
        assert_eq!(reply.trace_id, None);

        let leave = Leave::new(client().config(), &chat()).unwrap();
        let b = r#"{"chat_id":"ch_01HTEST","status":"left"}"#;
        let reply = leave
            .parse(response(200, b, Some("t9")), &first())
            .unwrap()
            .applied()
            .unwrap();
        assert_eq!(reply.status, Some(LeaveStatus::Left));
        assert_eq!(reply.trace_id.as_deref(), Some("t9"));

        let add = AddParticipant::new(
            client().config(),
            &chat(),
            &"Alice@Example.com".parse().unwrap(),
        )
        .unwrap();
        let c = r#"{"chat_id":"ch_01HTEST","added":"alice@example.com","participants":["+14155550100","alice@example.com"]}"#;
        let reply = add.parse(response(200, c, None), &first()).unwrap();
        assert_eq!(
            reply.added.as_ref().map(Handle::as_str),
            Some("alice@example.com")
        );
        assert_eq!(reply.participants.map(|p| p.len()), Some(2));
    }

    #[test]
    fn tolerant_success_decoding() {
        let remove = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        // Unknown fields, a body trace id (wins over the header), a 2xx other than 200, and
        // odd roster entries kept as native ids.
        let body = r#"{"success":true,"chat_id":"ch_01HTEST","participants":["+14155550100","line-7",{"address":"bob@example.com"}],"trace_id":"body-trace","new_field":{"x":[1]}}"#;
        let reply = remove
            .parse(response(202, body, Some("header-trace")), &first())
            .unwrap()
            .applied()
            .unwrap();
        assert_eq!(reply.trace_id.as_deref(), Some("body-trace"));
        assert_eq!(reply.removed, None);
        let roster = reply.participants.unwrap();
        assert_eq!(roster[1], Handle::Native(NativeId::new("line-7").unwrap()));
        assert_eq!(roster[2].kind_name(), "email");

        // Missing everything: the requested chat id, no roster (not an empty one).
        let reply = remove
            .parse(response(200, "{}", None), &first())
            .unwrap()
            .applied()
            .unwrap();
        assert_eq!(reply.chat_id, chat());
        assert_eq!(reply.participants, None);
        // No body at all is not Chert's reply: an ambiguous decode error, never a success.
        for body in ["", "  "] {
            let err = remove
                .parse(response(200, body, None), &first())
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{body:?}");
            assert!(err.is_ambiguous(), "{body:?}");
        }

        // An unknown leave status is kept.
        let leave = Leave::new(client().config(), &chat()).unwrap();
        let reply = leave
            .parse(response(200, r#"{"status":"leaving"}"#, None), &first())
            .unwrap()
            .applied()
            .unwrap();
        assert_eq!(reply.status, Some(LeaveStatus::Unknown("leaving".into())));
        assert_eq!(reply.status.unwrap().as_str(), "leaving");
    }

    #[test]
    fn a_2xx_that_is_not_json_is_an_ambiguous_decode_error() {
        let remove = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        let err = remove
            .parse(response(200, "<html>ok</html>", Some("t1")), &first())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.is_ambiguous() && !err.is_retryable());
        assert_eq!(err.trace_id(), Some("t1"));
        assert_eq!(err.body().map(|b| b.len()), Some(15));
    }

    #[test]
    fn every_path_segment_is_encoded() {
        let odd = ChatId::new("a/b c?..").unwrap();
        let email: Handle = "alice+tag@example.com".parse().unwrap();
        let r = RemoveParticipant::new(client().config(), &odd, &email)
            .unwrap()
            .build(&first())
            .unwrap();
        assert_eq!(
            r.uri().path(),
            "/api/v1/chats/a%2Fb%20c%3F../participants/alice%2Btag%40example.com"
        );
        // `.` and `..` never reach a path: URL parsers (reqwest's) drop such a segment even
        // sent as `%2E%2E`, which would turn `/chats/../leave` into `/leave`.
        assert!(ChatId::new("..").is_err());
        let dots = ChatId::new("...").unwrap();
        let r = Leave::new(client().config(), &dots)
            .unwrap()
            .build(&first())
            .unwrap();
        assert_eq!(r.uri().path(), "/api/v1/chats/%2E%2E%2E/leave");
    }

    #[test]
    fn bearer_mode() {
        for tenant in [Some("acme"), None] {
            let mut b = ChertClient::builder()
                .signing_secret(SECRET)
                .auth_mode(AuthMode::Bearer);
            if let Some(t) = tenant {
                b = b.tenant(t);
            }
            let op = AddParticipant::new(b.build().unwrap().config(), &chat(), &phone()).unwrap();
            let r = op.build(&first()).unwrap();
            let auth = r.headers().get("authorization").unwrap();
            assert_eq!(auth.to_str().unwrap(), format!("Bearer {SECRET}"));
            assert!(auth.is_sensitive());
            assert_eq!(header(&r, "x-chert-signature"), None);
            assert_eq!(header(&r, "x-chert-tenant"), tenant);
            assert_eq!(header(&r, "content-type"), Some("application/json"));
        }
    }

    #[test]
    fn native_handles_are_refused_before_any_request() {
        for raw in ["4155551234", "a@", "8:acs:1111"] {
            let native = Handle::Native(NativeId::new(raw).unwrap());
            for err in [
                RemoveParticipant::new(client().config(), &chat(), &native).unwrap_err(),
                AddParticipant::new(client().config(), &chat(), &native).unwrap_err(),
            ] {
                assert_eq!(err.kind(), ErrorKind::InvalidInput);
                let text = err.to_string();
                assert!(text.contains("chert") && text.contains("E.164"), "{text}");
                assert!(!text.contains("4155551234"), "{text}");
                assert_eq!(err.attempts(), 0);
            }
        }
    }

    #[test]
    fn debug_masks_phone_numbers() {
        let remove = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap();
        let add = AddParticipant::new(client().config(), &chat(), &phone()).unwrap();
        for dbg in [format!("{remove:?}"), format!("{add:?}")] {
            assert!(!dbg.contains("4155551234"), "{dbg}");
            assert!(dbg.contains("1234"), "{dbg}");
            assert!(!dbg.contains(SECRET), "{dbg}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No reply, however malformed, makes a parse panic.
        #[test]
        fn parse_never_panics(
            status in 100u16..600,
            body in proptest::collection::vec(any::<u8>(), 0..256),
            ensure in any::<bool>(),
            after_ambiguous in any::<bool>(),
        ) {
            let attempt = Attempt::new(2, at(1_700_000_000), after_ambiguous);
            let reply = || {
                http::Response::builder()
                    .status(status)
                    .header("retry-after", "3")
                    .body(Bytes::from(body.clone()))
                    .unwrap()
            };
            let client = client();
            let _ = RemoveParticipant::new(client.config(), &chat(), &phone()).unwrap().ensure(ensure).parse(reply(), &attempt);
            let _ = AddParticipant::new(client.config(), &chat(), &phone()).unwrap().parse(reply(), &attempt);
            let _ = Leave::new(client.config(), &chat()).unwrap().ensure(ensure).parse(reply(), &attempt);
        }

        /// Envelope-shaped replies with arbitrary field values never panic either, and an error
        /// status always yields an error or an ensure-mode outcome.
        #[test]
        fn envelope_fields_never_panic(
            status in 400u16..600,
            code in prop_oneof![any::<i64>().prop_map(|c| c.to_string()), "\"[0-9a-z]{0,6}\"", Just("null".to_owned()), Just("1.5".to_owned())],
            retry_after in prop_oneof![any::<f64>().prop_map(|f| if f.is_finite() { f.to_string() } else { "0".to_owned() }), "\"[0-9 ]{0,4}\"", Just("[]".to_owned())],
            retryable in prop_oneof![Just("true"), Just("false"), Just("\"yes\""), Just("null")],
        ) {
            let body = format!(r#"{{"success":false,"error":{{"status":{status},"code":{code},"retryable":{retryable},"retry_after":{retry_after}}}}}"#);
            let reply = http::Response::builder().status(status).body(Bytes::from(body)).unwrap();
            let result = RemoveParticipant::new(client().config(), &chat(), &phone()).unwrap().parse(reply, &first());
            prop_assert!(result.is_err());
        }
    }
}
