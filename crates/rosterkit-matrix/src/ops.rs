//! Matrix's calls as sans-IO [`Operation`]s: each builds its request and parses the reply with
//! no I/O, so it can be tested without a server or run with
//! [`MatrixClient::executor`](crate::MatrixClient::executor). It is built from a
//! [`MatrixConfig`] (endpoint and credentials), never from a client:
//!
//! ```
//! use std::sync::Arc;
//! use rosterkit_matrix::{MatrixConfig, ops::Kick};
//! use rosterkit_core::{
//!     Attempt, ChatId, Clock, Endpoint, Handle, NativeId, Operation, Secret, SystemClock,
//! };
//!
//! let config = Arc::new(MatrixConfig::new(
//!     Endpoint::parse("https://matrix.example.org")?,
//!     &Secret::new("syt_example"),
//! )?);
//! let room = ChatId::new("!abc:example.org")?;
//! let bob = Handle::Native(NativeId::new("@bob:example.org")?);
//! let op = Kick::new(&config, &room, &bob, None)?;
//! let request = op.build(&Attempt::first(SystemClock.now()))?;
//! assert_eq!(
//!     request.uri().to_string(),
//!     "https://matrix.example.org/_matrix/client/v3/rooms/%21abc%3Aexample.org/kick"
//! );
//! assert_eq!(request.body().as_ref(), br#"{"user_id":"@bob:example.org"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, sync::Arc};

use rosterkit_core::{
    Attempt, Authenticate, Bytes, ChatId, Error, ErrorKind, Handle, NativeId, Operation, Outcome,
    Participant, ProbeWith, Reason, Recovery, RouteName, Settled,
    http::{self, HeaderValue, header},
    route_uri,
};
use serde_json::{Map, Value};

use crate::{
    config::MatrixConfig,
    errors,
    generated::{PROVIDER, Route},
    ids::{Room, user_id},
};

/// A route's request as every attempt sends it: the route, the URL and exact body (fixed at
/// construction), and the credentials.
struct RouteRequest {
    route: Route,
    uri: http::Uri,
    body: Option<Bytes>,
    config: Arc<MatrixConfig>,
}

impl RouteRequest {
    /// A request on `route` whose one `{…}` path placeholder takes `param`, percent-encoded as one
    /// segment (`!` → `%21`, `:` → `%3A`, `#` → `%23`) by core's template ([`route_uri`]).
    fn new(
        config: &Arc<MatrixConfig>,
        route: Route,
        param: &str,
        body: Option<Value>,
    ) -> Result<Self, Error> {
        let config = Arc::clone(config);
        let uri = route_uri(config.base_url().as_str(), "", route, &[param])?;
        let body = body
            .map(|v| serde_json::to_vec(&v).map(Bytes::from))
            .transpose()
            .map_err(|e| {
                Error::invalid_input(format!("request body: {e}")).with_provider(PROVIDER)
            })?;
        Ok(Self {
            route,
            uri,
            body,
            config,
        })
    }

    /// The request for `attempt`: the route's method, the credentials ([`Config`]'s
    /// [`Authenticate`]), JSON accepted and, with a body, sent.
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        let mut request = http::Request::new(self.body.clone().unwrap_or_default());
        *request.method_mut() = self.route.method();
        *request.uri_mut() = self.uri.clone();
        self.config.authenticate(&mut request, attempt)?;
        let json = HeaderValue::from_static("application/json");
        if self.body.is_some() {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, json.clone());
        }
        request.headers_mut().insert(header::ACCEPT, json);
        Ok(request)
    }

    /// The reply's JSON object on success, or the mapped error.
    fn object(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Map<String, Value>, Error> {
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            return Err(errors::from_reply(
                self.route,
                parts.status,
                &parts.headers,
                body,
                attempt.now,
            ));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(errors::decode(
                self.route,
                parts.status,
                body,
                "the reply is not a JSON object",
            )),
        }
    }
}

impl fmt::Debug for RouteRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteRequest")
            .field("route", &self.route.name())
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

/// A room id for a membership path: aliases must be resolved first ([`ResolveAlias`]).
fn room_id(chat: &ChatId) -> Result<&str, Error> {
    match Room::parse(chat)? {
        Room::Id(id) => Ok(id),
        Room::Alias(_) => Err(Error::invalid_input(
            "a room alias must be resolved to a room id first (ops::ResolveAlias, or MatrixClient which does it)",
        )
        .with_provider(PROVIDER)),
    }
}

/// `{"user_id", "reason"?}` or `{"reason"?}`.
fn body(user: Option<&str>, reason: Option<Reason>) -> Value {
    let mut map = Map::new();
    if let Some(user) = user {
        map.insert("user_id".into(), Value::from(user));
    }
    if let Some(reason) = reason {
        map.insert("reason".into(), Value::from(reason.as_str()));
    }
    Value::Object(map)
}

/// The [`Operation`] methods every Matrix call shares: the request's route, build and
/// idempotence (the route's, or ensure mode).
macro_rules! call_operation {
    () => {
        fn route(&self) -> RouteName {
            self.request.route.into()
        }

        fn idempotent(&self) -> bool {
            self.request.route.idempotent() || self.ensure
        }

        fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
            self.request.build(attempt)
        }
    };
}

/// Kick and invite: the same request (`{"user_id", "reason"?}` to a room) on two routes, the
/// same reply (`{}`), and the same ambiguity: a 403 M_FORBIDDEN that only a membership read
/// explains. `$done_when_joined` is the goal (false for a kick, true for an invite); `$missed`
/// and `$missed_kind` say what reaching it already means outside ensure mode.
macro_rules! user_change {
    (
        $(#[$doc:meta])* $name:ident, $route:expr, $verb:literal,
        done_when_joined: $done_when_joined:literal, $missed_kind:expr, $missed:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            request: RouteRequest,
            room: String,
            user: String,
            ensure: bool,
        }

        impl $name {
            #[doc = concat!($verb, " `user` (a native `@localpart:server` handle) in `room` (a room id), with an optional reason.")]
            ///
            /// # Errors
            /// `InvalidInput` for an alias, a malformed room id or a handle that is not a user id.
            pub fn new(
                config: &Arc<MatrixConfig>,
                room: &ChatId,
                user: &Handle,
                reason: Option<Reason>,
            ) -> Result<Self, Error> {
                let user = user_id(user)?;
                let body = body(Some(user), reason);
                let room = room_id(room)?;
                Ok(Self {
                    request: RouteRequest::new(config, $route, room, Some(body))?,
                    room: room.to_owned(),
                    user: user.to_owned(),
                    ensure: false,
                })
            }

            /// Ensure mode: the goal already reached is [`Outcome::AlreadyDone`], and the call is
            /// retried after an ambiguous failure.
            #[must_use]
            pub fn ensure(mut self, ensure: bool) -> Self {
                self.ensure = ensure;
                self
            }

            /// Whether `error` is Matrix's ambiguous 403 M_FORBIDDEN, which only a read of the
            /// room's joined members ([`JoinedMembers`]) explains.
            pub fn needs_membership_read(&self, error: &Error) -> bool {
                error.http_status() == Some(403) && error.code() == Some("M_FORBIDDEN")
            }

            /// Decides a failed call from the joined members read after it (`None` when they
            /// could not be read: the call's error stands).
            ///
            /// # Errors
            #[doc = concat!("`", stringify!($missed_kind), "` outside ensure mode when the goal was already reached; otherwise `error`.")]
            pub fn reconcile(
                &self,
                error: Error,
                joined: Option<&[Participant]>,
            ) -> Result<Outcome, Error> {
                settle_user_change(
                    &self.user,
                    self.ensure,
                    ($done_when_joined, $missed_kind, $missed),
                    error,
                    joined,
                )
            }
        }

        impl Operation for $name {
            type Output = Outcome;
            call_operation!();

            fn parse(
                &self,
                response: http::Response<Bytes>,
                attempt: &Attempt,
            ) -> Result<Outcome, Error> {
                self.request.object(response, attempt).map(|_| Outcome::applied(None))
            }

            /// Matrix's ambiguous 403 is settled by a read of the joined members, sent by the
            /// executor ([`Recovery::Probe`]); a read that fails leaves the 403 standing.
            fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<Outcome> {
                if !self.needs_membership_read(error) {
                    return Recovery::Standard;
                }
                let Ok(read) = JoinedMembers::in_room(&self.request.config, &self.room) else {
                    return Recovery::Standard;
                };
                let (user, ensure) = (self.user.clone(), self.ensure);
                Recovery::Probe(Box::new(ProbeWith::new(read, move |joined: Result<Vec<Participant>, Error>, error| {
                    if let Err(e) = &joined {
                        tracing::debug!(error = %e, "membership read after a 403 failed");
                    }
                    Settled::Finish(settle_user_change(
                        &user,
                        ensure,
                        ($done_when_joined, $missed_kind, $missed),
                        error,
                        joined.ok().as_deref(),
                    ))
                })))
            }
        }
    };
}

/// A kick's or invite's 403 decided from the joined members read after it (`None`: unread):
/// `goal` is (done when joined, the error kind when already done outside ensure mode, its
/// wording).
fn settle_user_change(
    user: &str,
    ensure: bool,
    goal: (bool, ErrorKind, &str),
    error: Error,
    joined: Option<&[Participant]>,
) -> Result<Outcome, Error> {
    let (done_when_joined, missed_kind, missed) = goal;
    let Some(joined) = joined else {
        return Err(error);
    };
    let is_joined = joined.iter().any(|m| m.handle.as_str() == user);
    if is_joined != done_when_joined {
        Err(error)
    } else if ensure {
        Ok(Outcome::already_done())
    } else {
        Err(error.restated(missed_kind, format!("{user} {missed}")))
    }
}

user_change!(
    /// `POST /rooms/{roomId}/kick`: removes a member. A 403 M_FORBIDDEN is either "no power" or
    /// "not in the room": [`Kick::reconcile`] tells them apart from the joined members, which
    /// the executor reads after the 403 ([`Operation::on_failure`]).
    Kick,
    Route::Kick,
    "Kicks",
    done_when_joined: false,
    ErrorKind::NotAMember,
    "is not in the room"
);

user_change!(
    /// `POST /rooms/{roomId}/invite`: adds a member by invitation (they join when they accept).
    /// A 403 M_FORBIDDEN may mean "already in the room": [`Invite::reconcile`] tells from the
    /// joined members, which the executor reads after the 403 ([`Operation::on_failure`]).
    Invite,
    Route::Invite,
    "Invites",
    done_when_joined: true,
    ErrorKind::Conflict,
    "is already in the room"
);

/// `POST /rooms/{roomId}/leave`: leaves with the access token's own user. In ensure mode
/// Synapse's "not in room" (403 M_FORBIDDEN) is [`Outcome::AlreadyDone`].
#[derive(Debug)]
pub struct Leave {
    request: RouteRequest,
    ensure: bool,
}

impl Leave {
    /// Leaves `room` (a room id), with an optional reason.
    ///
    /// # Errors
    /// `InvalidInput` for an alias or a malformed room id.
    pub fn new(
        config: &Arc<MatrixConfig>,
        room: &ChatId,
        reason: Option<Reason>,
    ) -> Result<Self, Error> {
        Ok(Self {
            request: RouteRequest::new(
                config,
                Route::Leave,
                room_id(room)?,
                Some(body(None, reason)),
            )?,
            ensure: false,
        })
    }

    /// Ensure mode: "not in the room" is the goal reached, and the leave is retried after an
    /// ambiguous failure.
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }
}

impl Operation for Leave {
    type Output = Outcome;
    call_operation!();

    fn parse(&self, response: http::Response<Bytes>, attempt: &Attempt) -> Result<Outcome, Error> {
        match self.request.object(response, attempt) {
            Ok(_) => Ok(Outcome::applied(None)),
            Err(e) if self.ensure && e.kind() == ErrorKind::NotAMember => {
                Ok(Outcome::already_done())
            }
            Err(e) => Err(e),
        }
    }
}

/// `GET /rooms/{roomId}/joined_members`: the joined members (not the invited ones), with
/// display names.
#[derive(Debug)]
pub struct JoinedMembers {
    request: RouteRequest,
    ensure: bool,
}

impl JoinedMembers {
    /// Reads `room`'s (a room id) joined members.
    ///
    /// # Errors
    /// `InvalidInput` for an alias or a malformed room id.
    pub fn new(config: &Arc<MatrixConfig>, room: &ChatId) -> Result<Self, Error> {
        Self::in_room(config, room_id(room)?)
    }

    /// The read of `room` (a checked room id) with `config`'s credentials.
    fn in_room(config: &Arc<MatrixConfig>, room: &str) -> Result<Self, Error> {
        Ok(Self {
            request: RouteRequest::new(config, Route::JoinedMembers, room, None)?,
            ensure: false,
        })
    }
}

impl Operation for JoinedMembers {
    type Output = Vec<Participant>;
    call_operation!();

    fn parse(
        &self,
        response: http::Response<Bytes>,
        attempt: &Attempt,
    ) -> Result<Vec<Participant>, Error> {
        let status = response.status();
        let body = response.body().clone();
        let reply = self.request.object(response, attempt)?;
        let bad = |what: &str| errors::decode(self.request.route, status, body.clone(), what);
        let Some(Value::Object(joined)) = reply.get("joined") else {
            return Err(bad("`joined` is not an object"));
        };
        let mut members = Vec::with_capacity(joined.len());
        for (user, profile) in joined {
            let handle = NativeId::new(user.as_str())
                .ok()
                .filter(|id| id.as_str().starts_with('@'))
                .map(Handle::Native)
                .ok_or_else(|| bad("a member of `joined` is not a user id"))?;
            let display_name = profile
                .get("display_name")
                .and_then(Value::as_str)
                .map(display_name);
            members.push(Participant::new(handle).with_display_name(display_name));
        }
        Ok(members)
    }
}

/// The longest display name kept, in characters.
const MAX_DISPLAY_NAME: usize = 256;

/// A server-supplied display name made safe to print: control characters (terminal escapes,
/// newlines) dropped, capped at [`MAX_DISPLAY_NAME`] characters.
fn display_name(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control())
        .take(MAX_DISPLAY_NAME)
        .collect()
}

/// `GET /directory/room/{roomAlias}`: the room id an alias points to.
#[derive(Debug)]
pub struct ResolveAlias {
    request: RouteRequest,
    ensure: bool,
}

impl ResolveAlias {
    /// Resolves `alias` (`#name:server`).
    ///
    /// # Errors
    /// `InvalidInput` when `alias` is not an alias.
    pub fn new(config: &Arc<MatrixConfig>, alias: &ChatId) -> Result<Self, Error> {
        let Room::Alias(alias) = Room::parse(alias)? else {
            return Err(
                Error::invalid_input("not a room alias (#name:server)").with_provider(PROVIDER)
            );
        };
        Ok(Self {
            request: RouteRequest::new(config, Route::ResolveAlias, alias, None)?,
            ensure: false,
        })
    }
}

impl Operation for ResolveAlias {
    type Output = ChatId;
    call_operation!();

    fn parse(&self, response: http::Response<Bytes>, attempt: &Attempt) -> Result<ChatId, Error> {
        let status = response.status();
        let body = response.body().clone();
        let reply = self.request.object(response, attempt)?;
        reply
            .get("room_id")
            .and_then(Value::as_str)
            .and_then(|id| ChatId::new(id).ok())
            .filter(|id| matches!(Room::parse(id), Ok(Room::Id(_))))
            .ok_or_else(|| {
                errors::decode(
                    self.request.route,
                    status,
                    body,
                    "`room_id` is not a room id",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MatrixClient;
    use rosterkit_core::{
        Clock, SystemClock,
        testing::{DecoderProps, check_result},
    };

    fn client() -> MatrixClient {
        MatrixClient::builder()
            .homeserver("http://127.0.0.1:8008")
            .access_token("t")
            .build()
            .unwrap()
    }

    /// Every operation's parse on one reply; the number that decoded into a value.
    fn parse_all(status: u16, body: &[u8], ensure: bool, after_ambiguous: bool) -> usize {
        let m = client();
        let room = ChatId::new("!r:example.org").unwrap();
        let bob = Handle::Native(NativeId::new("@bob:example.org").unwrap());
        let alias = ChatId::new("#a:example.org").unwrap();
        let attempt = Attempt::new(2, SystemClock.now(), after_ambiguous);
        let response = || {
            http::Response::builder()
                .status(status)
                .body(Bytes::copy_from_slice(body))
                .unwrap()
        };
        let kick = Kick::new(m.config(), &room, &bob, None)
            .unwrap()
            .ensure(ensure);
        let invite = Invite::new(m.config(), &room, &bob, None)
            .unwrap()
            .ensure(ensure);
        let leave = Leave::new(m.config(), &room, None).unwrap().ensure(ensure);
        let members = JoinedMembers::new(m.config(), &room).unwrap();
        let resolve = ResolveAlias::new(m.config(), &alias).unwrap();
        let leave_result = leave.parse(response(), &attempt);
        // Ensure mode turns a 403 "not in room" on leave into a value.
        let leave_values = match leave_result {
            Ok(Outcome::AlreadyDone { .. }) if ensure && status == 403 => 1,
            other => check_result(PROVIDER, status, other),
        };
        check_result(PROVIDER, status, kick.parse(response(), &attempt))
            + check_result(PROVIDER, status, invite.parse(response(), &attempt))
            + leave_values
            + check_result(PROVIDER, status, members.parse(response(), &attempt))
            + check_result(PROVIDER, status, resolve.parse(response(), &attempt))
    }

    rosterkit_core::decoder_tests!(
        DecoderProps {
            provider: PROVIDER,
            keys: &[
                "errcode",
                "error",
                "retry_after_ms",
                "joined",
                "display_name",
                "room_id"
            ],
            valid: &[
                (200, "{}", 3),
                (200, r#"{"joined":{"@a:s":{"display_name":"A"}}}"#, 4),
                (200, r#"{"room_id":"!r:s","servers":["s"]}"#, 4),
                (403, r#"{"errcode":"M_FORBIDDEN","error":"x"}"#, 0),
                (
                    429,
                    r#"{"errcode":"M_LIMIT_EXCEEDED","error":"x","retry_after_ms":100}"#,
                    0
                ),
            ],
            cases: 512,
        },
        parse_all
    );

    /// The reconciliation decision is pure: a failed kick or invite plus the members read after.
    #[test]
    fn reconcile_decides_from_the_members() {
        let m = client();
        let room = ChatId::new("!r:s").unwrap();
        let bob = Handle::Native(NativeId::new("@bob:s").unwrap());
        let forbidden = || {
            Error::new(ErrorKind::Forbidden, "x")
                .with_http_status(403)
                .with_code("M_FORBIDDEN")
        };
        let with_bob = [Participant::new(bob.clone())];
        let kick = Kick::new(m.config(), &room, &bob, None).unwrap();
        assert!(kick.needs_membership_read(&forbidden()));
        assert!(!kick.needs_membership_read(&Error::new(ErrorKind::Forbidden, "x")));
        let absent = kick.reconcile(forbidden(), Some(&[])).unwrap_err();
        assert_eq!(absent.kind(), ErrorKind::NotAMember);
        assert_eq!(absent.code(), Some("M_FORBIDDEN"));
        assert!(absent.message().contains("@bob:s is not in the room"));
        let present = kick.reconcile(forbidden(), Some(&with_bob)).unwrap_err();
        assert_eq!(present.kind(), ErrorKind::Forbidden);
        let unread = kick.reconcile(forbidden(), None).unwrap_err();
        assert_eq!(unread.kind(), ErrorKind::Forbidden);
        let kick = kick.ensure(true);
        assert_eq!(
            kick.reconcile(forbidden(), Some(&[])).unwrap(),
            Outcome::already_done()
        );
        let invite = Invite::new(m.config(), &room, &bob, None).unwrap();
        let member = invite.reconcile(forbidden(), Some(&with_bob)).unwrap_err();
        assert_eq!(member.kind(), ErrorKind::Conflict);
        assert_eq!(
            invite.reconcile(forbidden(), Some(&[])).unwrap_err().kind(),
            ErrorKind::Forbidden
        );
        let invite = invite.ensure(true);
        assert_eq!(
            invite.reconcile(forbidden(), Some(&with_bob)).unwrap(),
            Outcome::already_done()
        );
    }

    #[test]
    fn display_names_are_made_safe_to_print() {
        let m = client();
        let op = JoinedMembers::new(m.config(), &ChatId::new("!r:s").unwrap()).unwrap();
        let long = "x".repeat(1000);
        let body = format!(
            r#"{{"joined":{{"@a:s":{{"display_name":"Eve\u001b[31m\nred"}},"@b:s":{{"display_name":"{long}"}},"@c:s":{{"display_name":7}}}}}}"#
        );
        let reply = http::Response::builder()
            .status(200)
            .body(Bytes::from(body))
            .unwrap();
        let mut members = op.parse(reply, &Attempt::first(SystemClock.now())).unwrap();
        members.sort_by(|a, b| a.handle.as_str().cmp(b.handle.as_str()));
        assert_eq!(members[0].display_name.as_deref(), Some("Eve[31mred"));
        assert_eq!(members[1].display_name.as_ref().map(String::len), Some(256));
        assert_eq!(members[2].display_name, None);
    }

    #[test]
    fn paths_are_encoded_and_bodies_exact() {
        let m = client();
        let room = ChatId::new("!opaque").unwrap();
        let leave = Leave::new(m.config(), &room, Some(Reason::new("bye").unwrap())).unwrap();
        let request = leave.build(&Attempt::first(SystemClock.now())).unwrap();
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:8008/_matrix/client/v3/rooms/%21opaque/leave"
        );
        assert_eq!(request.body().as_ref(), br#"{"reason":"bye"}"#);
        assert_eq!(request.headers()["authorization"], "Bearer t");
        assert!(request.headers()["authorization"].is_sensitive());
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.headers()["content-type"], "application/json");
        let alias = ChatId::new("#a/b:example.org").unwrap();
        let resolve = ResolveAlias::new(m.config(), &alias).unwrap();
        let request = resolve.build(&Attempt::first(SystemClock.now())).unwrap();
        assert_eq!(request.method(), http::Method::GET);
        assert_eq!(request.headers()["accept"], "application/json");
        assert!(request.headers().get("content-type").is_none());
        assert!(
            request
                .uri()
                .path()
                .ends_with("/directory/room/%23a%2Fb%3Aexample.org")
        );
        assert!(
            Kick::new(
                m.config(),
                &alias,
                &Handle::Native(NativeId::new("@b:s").unwrap()),
                None
            )
            .is_err()
        );
    }
}
