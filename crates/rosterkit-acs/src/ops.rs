//! One sans-IO [`Operation`] per ACS call. Build a request, parse a reply; run them with the
//! client's [`Executor`](rosterkit_core::Executor) ([`AcsClient::executor`](crate::AcsClient::executor))
//! or your own, with a [`ChatContext`] from [`AcsClient::chat_context`](crate::AcsClient::chat_context).
//!
//! ```
//! use rosterkit_acs::{ChatContext, CommunicationIdentifier, ops::RemoveParticipant};
//! use rosterkit_core::{Attempt, ChatId, Endpoint, Operation, Secret, SystemClock, Clock};
//!
//! let ctx = ChatContext::new(
//!     Endpoint::parse("https://contoso.communication.azure.com")?,
//!     Secret::new("user-token"),
//! );
//! let op = RemoveParticipant::new(
//!     ctx,
//!     ChatId::new("19:abc@thread.v2")?,
//!     CommunicationIdentifier::from_raw_id("8:acs:1111_2222"),
//! );
//! let request = op.build(&Attempt::first(SystemClock.now()))?;
//! assert_eq!(
//!     request.uri().to_string(),
//!     "https://contoso.communication.azure.com/chat/threads/19%3Aabc%40thread.v2/participants/:remove?api-version=2025-03-15"
//! );
//! assert_eq!(
//!     request.body().as_ref(),
//!     br#"{"rawId":"8:acs:1111_2222","communicationUser":{"id":"8:acs:1111_2222"}}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, sync::Arc};

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use rosterkit_core::{
    Attempt, Authenticate, ChatId, Endpoint, Error, ErrorKind, Operation, Outcome, Probe,
    ProbeWith, Recovery, RouteName, Secret, Settled, encode, path_capacity, push_path,
};

use crate::auth::Renewal;
use crate::errors::{self, trace_id};
use crate::generated::{PROVIDER, Route};
use crate::identifier::CommunicationIdentifier;
use crate::model::{
    AccessKey, AccessToken, AddChatParticipantsResult, ChatParticipant, ParticipantsPage,
};
use crate::rfc3339;
use crate::wire;

/// The Chat REST API version sent by default.
pub const DEFAULT_API_VERSION: &str = "2025-03-15";
/// The Identity REST API version of the token call.
pub const IDENTITY_API_VERSION: &str = "2023-10-01";
/// The most participants one add call may carry (the service's documented batch limit).
pub const MAX_ADD_BATCH: usize = 200;

fn json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

/// Where and as whom chat operations run: the resource endpoint, the Chat API version and a
/// user access token. `Debug` never shows the token.
#[derive(Debug, Clone)]
pub struct ChatContext {
    endpoint: Endpoint,
    api_version: String,
    token: Secret,
    /// With minted tokens: how a 401 gets a fresh token (see [`Renewal`]).
    renewal: Option<Arc<Renewal>>,
}

impl ChatContext {
    /// A context with [`DEFAULT_API_VERSION`].
    pub fn new(endpoint: Endpoint, token: Secret) -> Self {
        Self {
            endpoint,
            api_version: DEFAULT_API_VERSION.to_owned(),
            token,
            renewal: None,
        }
    }

    pub(crate) fn with_renewal(mut self, renewal: Option<Arc<Renewal>>) -> Self {
        self.renewal = renewal;
        self
    }

    /// A 401's recovery when the context can renew its token (once per run).
    fn renew_after<T: 'static>(&self, error: &Error) -> Option<Recovery<T>> {
        self.renewal.as_ref().and_then(|r| r.after(error))
    }

    /// Returns the context with another Chat API version (percent-encoded into the query).
    #[must_use]
    pub fn with_api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    /// The resource endpoint.
    pub fn base_url(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The former name of [`base_url`](Self::base_url).
    #[deprecated(note = "renamed `base_url`, as on the clients")]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The Chat API version.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The user access token.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// `{endpoint}{route's path with the thread}?{query}api-version=...`.
    fn thread_url(&self, route: Route, thread: &ChatId, query: &str) -> String {
        route_url(
            &self.endpoint,
            route,
            thread.as_str(),
            query,
            &self.api_version,
        )
    }

    /// The request on `route` to `url` (from [`ChatContext::thread_url`], or a `nextLink`
    /// already checked), authenticated by the context.
    fn request(
        &self,
        route: Route,
        url: &str,
        body: Option<Vec<u8>>,
        attempt: &Attempt,
    ) -> Result<http::Request<Bytes>, Error> {
        let uri = http::Uri::try_from(url)
            .map_err(|e| invalid(format!("could not build the request: {e}")))?;
        let has_body = body.is_some();
        let mut request = http::Request::new(body.map(Bytes::from).unwrap_or_default());
        *request.method_mut() = route.method();
        *request.uri_mut() = uri;
        self.authenticate(&mut request, attempt)?;
        let headers = request.headers_mut();
        headers.insert(ACCEPT, json());
        if has_body {
            headers.insert(CONTENT_TYPE, json());
        }
        Ok(request)
    }
}

/// `{endpoint}{route's path with param}?{query}api-version={version}`: core's path template,
/// each segment percent-encoded, then ACS's query, its version last.
fn route_url(endpoint: &Endpoint, route: Route, param: &str, query: &str, version: &str) -> String {
    let template = route.path();
    let base = endpoint.as_str();
    let mut url = String::with_capacity(
        base.len() + path_capacity(template, &[param]) + query.len() + version.len() * 3 + 13,
    );
    url.push_str(base);
    push_path(&mut url, template, &[param]);
    url.push('?');
    url.push_str(query);
    url.push_str("api-version=");
    encode::push_path_segment(&mut url, version);
    url
}

/// ACS's user authentication: the access token as a bearer, a renewed one after a 401.
impl Authenticate for ChatContext {
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        _attempt: &Attempt,
    ) -> Result<(), Error> {
        let fresh = self.renewal.as_ref().and_then(|r| r.fresh());
        let token = fresh.as_ref().unwrap_or(&self.token);
        let mut bearer = HeaderValue::try_from(format!("Bearer {}", token.expose()))
            .map_err(|_| invalid("the user access token cannot be sent in a header"))?;
        bearer.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, bearer);
        Ok(())
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid_input(message).with_provider(PROVIDER)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|e| invalid(format!("could not encode the body: {e}")))
}

fn success(response: &http::Response<Bytes>) -> bool {
    response.status().is_success()
}

fn decode_error(what: &str, response: &http::Response<Bytes>, e: &serde_json::Error) -> Error {
    Error::decode(format!("{what}: {e}"))
        .with_provider(PROVIDER)
        .with_http_status(response.status().as_u16())
        .with_body(response.body().clone())
}

/// Checks the shape ACS thread ids have: `19:<id>@thread.<suffix>` (e.g. `@thread.v2`).
///
/// # Errors
/// `InvalidInput` explaining the expected shape.
pub fn check_thread_id(thread: &ChatId) -> Result<(), Error> {
    let id = thread.as_str();
    let ok = id
        .strip_prefix("19:")
        .and_then(|rest| rest.split_once("@thread."))
        .is_some_and(|(name, suffix)| !name.is_empty() && !suffix.is_empty());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "an ACS chat thread id looks like 19:<id>@thread.v2 (e.g. 19:abc@thread.v2)",
        ))
    }
}

// ---- remove / leave ----

/// Whose removal a [`RemoveParticipant`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Removal {
    /// Another participant's.
    #[default]
    Participant,
    /// Our own identity's: leaving the thread.
    Leave,
}

/// `POST /chat/threads/{id}/participants/:remove` with the bare identifier as the body; 204.
///
/// Replies: any 2xx → `Outcome::Applied { roster: None }` (ACS answers 204 for a non-member
/// too); a 404 is the thread (`ChatNotFound`). In ensure mode, for a leave, a 403 after an
/// ambiguous earlier attempt (we are no longer a participant) → `AlreadyDone`, and any other
/// 403 on a leave is settled by listing the thread (403 or absent → `AlreadyDone`).
///
/// Not idempotent, even in ensure mode: ACS does not document what removing a non-member
/// answers, so a repeat's reply cannot prove "already done". After an ambiguous failure
/// [`AcsClient`](crate::AcsClient) lists the thread before repeating the call (absent →
/// `AlreadyDone`); the executor never repeats it blindly.
#[derive(Debug, Clone)]
pub struct RemoveParticipant {
    ctx: ChatContext,
    thread: ChatId,
    participant: CommunicationIdentifier,
    ensure: bool,
    leave: bool,
    after_ambiguous: bool,
}

impl RemoveParticipant {
    /// Removes `participant` from `thread`.
    pub fn new(ctx: ChatContext, thread: ChatId, participant: CommunicationIdentifier) -> Self {
        Self {
            ctx,
            thread,
            participant,
            ensure: false,
            leave: false,
            after_ambiguous: false,
        }
    }

    /// Returns the operation in ensure mode (see the type's docs).
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }

    /// Sets whose removal this is: [`Removal::Leave`] (our own identity) is named `leave` in
    /// errors and traces, and a 403 after an ambiguous attempt means we are already out
    /// (ensure mode).
    #[must_use]
    pub fn removal(mut self, removal: Removal) -> Self {
        self.leave = removal == Removal::Leave;
        self
    }

    /// Marks the removal as a leave, by a flag.
    #[deprecated(note = "use `.removal(Removal::Leave)`")]
    #[must_use]
    pub fn leave(self, leave: bool) -> Self {
        self.removal(if leave {
            Removal::Leave
        } else {
            Removal::Participant
        })
    }

    /// Tells the operation that an earlier run of it failed ambiguously (the client repeats a
    /// remove only after listing the thread).
    #[must_use]
    pub fn after_ambiguous_failure(mut self, after: bool) -> Self {
        self.after_ambiguous = after;
        self
    }

    /// The participant to remove.
    pub fn participant(&self) -> &CommunicationIdentifier {
        &self.participant
    }

    /// The route this removal sends: a leave when the participant is ourselves.
    fn spec_route(&self) -> Route {
        if self.leave {
            Route::Leave
        } else {
            Route::RemoveParticipant
        }
    }
}

impl Operation for RemoveParticipant {
    type Output = Outcome;

    fn route(&self) -> RouteName {
        self.spec_route().into()
    }

    fn idempotent(&self) -> bool {
        self.spec_route().idempotent()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        check_thread_id(&self.thread)?;
        let url = self.ctx.thread_url(self.spec_route(), &self.thread, "");
        let body = to_json(&wire::IdentifierOut::new(&self.participant))?;
        self.ctx
            .request(self.spec_route(), &url, Some(body), attempt)
    }

    fn parse(&self, response: http::Response<Bytes>, attempt: &Attempt) -> Result<Outcome, Error> {
        let trace = trace_id(response.headers());
        if success(&response) {
            return Ok(Outcome::applied(None).with_trace_id(trace));
        }
        let error = errors::from_reply(self.spec_route(), &response);
        let gone = error.kind() == ErrorKind::Forbidden
            && self.ensure
            && self.leave
            && (self.after_ambiguous || attempt.after_ambiguous_failure);
        if gone {
            Ok(Outcome::already_done().with_trace_id(trace))
        } else {
            Err(error)
        }
    }

    /// In ensure mode, after an ambiguous failure the remove may have happened: the thread is
    /// listed (every page) before the executor repeats it. Absent → `AlreadyDone`; still
    /// listed → repeated; for a leave, a 403 on the listing means we are out → `AlreadyDone`;
    /// a listing that fails otherwise leaves the original error standing. Without ensure an
    /// ambiguous remove is not repeated (ACS does not document remove as idempotent).
    fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<Outcome> {
        if let Some(renew) = self.ctx.renew_after(error) {
            return renew;
        }
        // Self-removal is always allowed, so a 403 on our own removal in ensure mode most
        // likely means we already left: the listing settles it (403 or absent → done).
        let refused_leave = self.ensure && self.leave && error.kind() == ErrorKind::Forbidden;
        if !(refused_leave || (self.ensure && error.is_ambiguous() && error.is_retryable())) {
            return Recovery::Standard;
        }
        let first = ListParticipants::first_page(self.ctx.clone(), self.thread.clone());
        Recovery::Probe(membership_probe(
            self.ctx.clone(),
            first,
            self.participant.clone(),
            self.leave,
            !refused_leave,
            MEMBERSHIP_PROBE_PAGES,
        ))
    }
}

/// The most pages the post-ambiguity listing reads: a thread holds at most 250 participants.
const MEMBERSHIP_PROBE_PAGES: u32 = 300;

/// "Is `participant` still in the thread?", one page at a time (see
/// [`RemoveParticipant`]'s `on_failure`).
fn membership_probe(
    ctx: ChatContext,
    page: ListParticipants,
    participant: CommunicationIdentifier,
    leave: bool,
    repeat_if_listed: bool,
    pages_left: u32,
) -> Box<dyn Probe<Outcome>> {
    Box::new(ProbeWith::new(
        page,
        move |listed: Result<ParticipantsPage, Error>, failure: Error| match listed {
            Ok(page)
                if page
                    .participants
                    .iter()
                    .any(|m| m.identifier.same_as(&participant)) =>
            {
                if repeat_if_listed {
                    Settled::Retry(failure)
                } else {
                    Settled::Finish(Err(failure))
                }
            }
            Ok(ParticipantsPage {
                next_link: Some(link),
                ..
            }) if pages_left > 1 => {
                let next = ListParticipants::next_page(ctx.clone(), link);
                Settled::Next(
                    membership_probe(
                        ctx,
                        next,
                        participant,
                        leave,
                        repeat_if_listed,
                        pages_left - 1,
                    ),
                    failure,
                )
            }
            Ok(ParticipantsPage {
                next_link: Some(_), ..
            }) => Settled::Finish(Err(failure)),
            Ok(_) => Settled::Finish(Ok(Outcome::already_done())),
            Err(list_error) if leave && list_error.kind() == ErrorKind::Forbidden => {
                // We can no longer read the thread: our own removal went through.
                Settled::Finish(Ok(Outcome::already_done()))
            }
            Err(list_error) => {
                tracing::debug!(error = %list_error, "could not check membership after an ambiguous remove");
                Settled::Finish(Err(failure))
            }
        },
    ))
}

// ---- add ----

/// `POST /chat/threads/{id}/participants/:add` with `{"participants":[...]}`; 201 with `{}` or
/// `invalidParticipants`. At most [`MAX_ADD_BATCH`] participants (more is `InvalidInput` before
/// sending; [`AcsClient`](crate::AcsClient) splits larger adds). Idempotent by spec.
#[derive(Debug, Clone)]
pub struct AddParticipants {
    ctx: ChatContext,
    thread: ChatId,
    participants: Vec<ChatParticipant>,
}

impl AddParticipants {
    /// Adds `participants` to `thread`.
    pub fn new(ctx: ChatContext, thread: ChatId, participants: Vec<ChatParticipant>) -> Self {
        Self {
            ctx,
            thread,
            participants,
        }
    }

    /// The participants to add.
    pub fn participants(&self) -> &[ChatParticipant] {
        &self.participants
    }
}

impl Operation for AddParticipants {
    type Output = AddChatParticipantsResult;

    /// After a 401 with a minted token: a new token, then the call once more.
    fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<Self::Output> {
        self.ctx.renew_after(error).unwrap_or(Recovery::Standard)
    }

    fn route(&self) -> RouteName {
        Route::AddParticipants.into()
    }

    fn idempotent(&self) -> bool {
        Route::AddParticipants.idempotent()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        check_thread_id(&self.thread)?;
        match self.participants.len() {
            0 => return Err(invalid("an add needs at least one participant")),
            n if n > MAX_ADD_BATCH => {
                return Err(invalid(format!(
                    "ACS adds at most {MAX_ADD_BATCH} participants per call, got {n}"
                )));
            }
            _ => {}
        }
        let url = self
            .ctx
            .thread_url(Route::AddParticipants, &self.thread, "");
        let body = to_json(&wire::AddRequestOut::new(&self.participants))?;
        self.ctx
            .request(Route::AddParticipants, &url, Some(body), attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        _attempt: &Attempt,
    ) -> Result<AddChatParticipantsResult, Error> {
        if !success(&response) {
            return Err(errors::from_reply(Route::AddParticipants, &response));
        }
        // ACS answers 201 with `{}` at least (acs.md §3.3): only a 204 may be empty. Any other
        // empty, `null` or non-JSON body is not its reply, and the add may have happened, so it
        // is an ambiguous `Decode`.
        if response.status() == http::StatusCode::NO_CONTENT
            && response.body().iter().all(u8::is_ascii_whitespace)
        {
            return Ok(AddChatParticipantsResult::default());
        }
        let parsed: wire::AddResultIn = serde_json::from_slice(response.body()).map_err(|e| {
            decode_error("the add reply is not the documented JSON", &response, &e)
                .with_ambiguous(true)
        })?;
        Ok(AddChatParticipantsResult {
            invalid_participants: parsed
                .invalid_participants
                .unwrap_or_default()
                .into_iter()
                .map(wire::CommunicationErrorIn::into_invalid)
                .collect(),
        })
    }
}

// ---- list ----

/// `GET /chat/threads/{id}/participants?maxPageSize=&skip=` (first page), or a `nextLink` as
/// given (next pages); 200 `{"value":[...],"nextLink"?}`.
///
/// A `nextLink` is followed only when it has the endpoint's scheme, host and port; any other
/// link is refused before sending with a `Forbidden` error ("refused to follow nextLink to
/// another host"): the service never sends one, so it is a misconfigured or hostile reply, and
/// following it would hand the bearer token to another host.
#[derive(Debug, Clone)]
pub struct ListParticipants {
    ctx: ChatContext,
    page: Page,
}

#[derive(Debug, Clone)]
enum Page {
    First {
        thread: ChatId,
        max_page_size: Option<u32>,
        skip: Option<u32>,
    },
    Next(String),
}

impl ListParticipants {
    /// The first page of `thread`, with the service's default page size.
    pub fn first_page(ctx: ChatContext, thread: ChatId) -> Self {
        Self {
            ctx,
            page: Page::First {
                thread,
                max_page_size: None,
                skip: None,
            },
        }
    }

    /// A page of `thread` by `maxPageSize` and `skip`.
    pub fn page(
        ctx: ChatContext,
        thread: ChatId,
        max_page_size: Option<u32>,
        skip: Option<u32>,
    ) -> Self {
        Self {
            ctx,
            page: Page::First {
                thread,
                max_page_size,
                skip,
            },
        }
    }

    /// The page a previous reply's `nextLink` names (absolute, or a path on the endpoint's
    /// origin).
    pub fn next_page(ctx: ChatContext, next_link: impl Into<String>) -> Self {
        Self {
            ctx,
            page: Page::Next(next_link.into()),
        }
    }

    fn url(&self) -> Result<String, Error> {
        match &self.page {
            Page::First {
                thread,
                max_page_size,
                skip,
            } => {
                check_thread_id(thread)?;
                let mut query = String::new();
                if let Some(size) = max_page_size {
                    query.push_str(&format!("maxPageSize={size}&"));
                }
                if let Some(skip) = skip {
                    query.push_str(&format!("skip={skip}&"));
                }
                Ok(self.ctx.thread_url(Route::ListParticipants, thread, &query))
            }
            Page::Next(link) => {
                let endpoint = &self.ctx.endpoint;
                let absolute = if link.starts_with('/') && !link.starts_with("//") {
                    format!("{}://{}{link}", endpoint.scheme(), endpoint.authority())
                } else {
                    link.clone()
                };
                if endpoint.same_origin(&absolute) {
                    Ok(absolute)
                } else {
                    Err(Error::new(
                        ErrorKind::Forbidden,
                        format!(
                            "refused to follow nextLink to another host: the endpoint is {}://{}",
                            endpoint.scheme(),
                            endpoint.authority()
                        ),
                    )
                    .with_provider(PROVIDER)
                    .with_retryable(false))
                }
            }
        }
    }
}

impl Operation for ListParticipants {
    type Output = ParticipantsPage;

    /// After a 401 with a minted token: a new token, then the call once more.
    fn on_failure(&self, error: &Error, _attempt: &Attempt) -> Recovery<Self::Output> {
        self.ctx.renew_after(error).unwrap_or(Recovery::Standard)
    }

    fn route(&self) -> RouteName {
        Route::ListParticipants.into()
    }

    fn idempotent(&self) -> bool {
        Route::ListParticipants.idempotent()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        let url = self.url()?;
        self.ctx
            .request(Route::ListParticipants, &url, None, attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        _attempt: &Attempt,
    ) -> Result<ParticipantsPage, Error> {
        if !success(&response) {
            return Err(errors::from_reply(Route::ListParticipants, &response));
        }
        let parsed: wire::ParticipantsIn =
            serde_json::from_slice(response.body()).map_err(|e| {
                decode_error(
                    "the participant list is not the documented JSON",
                    &response,
                    &e,
                )
            })?;
        Ok(ParticipantsPage {
            participants: parsed
                .value
                .unwrap_or_default()
                .into_iter()
                .map(wire::ParticipantIn::into_participant)
                .collect(),
            next_link: parsed.next_link.filter(|l| !l.is_empty()),
        })
    }
}

// ---- identity ----

/// `POST /identities/{id}/:issueAccessToken?api-version=2023-10-01` with
/// `{"scopes":["chat"],"expiresInMinutes":N}`, signed with the access key (HMAC-SHA256 over the
/// exact path, query and body bytes sent, re-signed on every attempt); 200 `{token, expiresOn}`.
/// Safe to repeat.
#[derive(Clone)]
pub struct IssueAccessToken {
    endpoint: Endpoint,
    key: AccessKey,
    user_id: String,
    expires_in_minutes: u32,
}

impl fmt::Debug for IssueAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssueAccessToken")
            .field("endpoint", &self.endpoint)
            .field("key", &self.key)
            .field("user_id", &self.user_id)
            .field("expires_in_minutes", &self.expires_in_minutes)
            .finish()
    }
}

impl IssueAccessToken {
    /// A chat-scoped token for `user_id` (`8:acs:...`), valid 60 minutes.
    pub fn new(endpoint: Endpoint, key: AccessKey, user_id: impl Into<String>) -> Self {
        Self {
            endpoint,
            key,
            user_id: user_id.into(),
            expires_in_minutes: 60,
        }
    }

    /// Returns the operation asking for another lifetime (ACS accepts 60 to 1440 minutes).
    #[must_use]
    pub fn expires_in_minutes(mut self, minutes: u32) -> Self {
        self.expires_in_minutes = minutes;
        self
    }
}

/// ACS's access-key authentication (the Identity API's): HMAC-SHA256 over the request's
/// method, path and query, host and exact body, at the attempt's time, so each attempt is
/// signed afresh.
impl Authenticate for AccessKey {
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        attempt: &Attempt,
    ) -> Result<(), Error> {
        let uri = request.uri();
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str());
        let authority = uri.authority().map_or("", |a| a.as_str());
        // The authority as signed: `host[:port]`, the port only when not the scheme's default.
        let default_port = match uri.scheme_str() {
            Some("https") => ":443",
            _ => ":80",
        };
        let host = authority.strip_suffix(default_port).unwrap_or(authority);
        let signed = rosterkit_sign::acs::sign_request(
            self.bytes(),
            request.method().as_str(),
            path_and_query,
            host,
            request.body(),
            attempt.now,
        );
        let header = |value: String| {
            HeaderValue::try_from(value)
                .map_err(|_| invalid("the signature cannot be sent in a header"))
        };
        let mut authorization = header(signed.authorization)?;
        authorization.set_sensitive(true);
        let date = header(signed.x_ms_date)?;
        let digest = header(signed.x_ms_content_sha256)?;
        let headers = request.headers_mut();
        headers.insert("x-ms-date", date);
        headers.insert("x-ms-content-sha256", digest);
        headers.insert(AUTHORIZATION, authorization);
        Ok(())
    }
}

impl Operation for IssueAccessToken {
    type Output = AccessToken;

    fn route(&self) -> RouteName {
        Route::IssueAccessToken.into()
    }

    fn idempotent(&self) -> bool {
        Route::IssueAccessToken.idempotent()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        if self.user_id.is_empty() {
            return Err(invalid("the user id to mint a token for is empty"));
        }
        let body = to_json(&wire::IssueTokenOut {
            scopes: &["chat"],
            expires_in_minutes: self.expires_in_minutes,
        })?;
        let route = Route::IssueAccessToken;
        let url = route_url(
            &self.endpoint,
            route,
            &self.user_id,
            "",
            IDENTITY_API_VERSION,
        );
        let uri = http::Uri::try_from(url)
            .map_err(|e| invalid(format!("could not build the request: {e}")))?;
        let mut request = http::Request::new(Bytes::from(body));
        *request.method_mut() = route.method();
        *request.uri_mut() = uri;
        self.key.authenticate(&mut request, attempt)?;
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, json());
        headers.insert(ACCEPT, json());
        Ok(request)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        _attempt: &Attempt,
    ) -> Result<AccessToken, Error> {
        if !success(&response) {
            return Err(errors::from_reply(Route::IssueAccessToken, &response));
        }
        let parsed: wire::TokenIn = serde_json::from_slice(response.body()).map_err(|e| {
            decode_error("the token reply is not the documented JSON", &response, &e)
        })?;
        let bad = |what: &str| {
            Error::decode(format!("the token reply has {what}"))
                .with_provider(PROVIDER)
                .with_http_status(response.status().as_u16())
        };
        let token = parsed.token.ok_or_else(|| bad("no token")).and_then(|t| {
            Secret::for_header("ACS user token", t)
                .map_err(|_| bad("a token that cannot be sent in a header"))
        })?;
        let expires_on = parsed
            .expires_on
            .as_deref()
            .ok_or_else(|| bad("no expiresOn"))
            .and_then(|t| {
                rfc3339::parse(t).ok_or_else(|| bad("an expiresOn that is not an RFC 3339 time"))
            })?;
        Ok(AccessToken { token, expires_on })
    }
}
