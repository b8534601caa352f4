//! Z-API's calls as sans-IO [`Operation`]s: each builds its request and parses the reply with
//! no I/O, so it can be tested without a server or run with
//! [`ZapiClient::executor`](crate::ZapiClient::executor) (not paced: pacing belongs to the
//! client's own methods). It is built from a [`ZapiConfig`], never from a client.
//!
//! Every request carries `Client-Token`; requests with a body carry
//! `Content-Type: application/json` and reads `Accept: application/json`, as in Z-API's request
//! examples. Bodies keep the key order of those examples.
//!
//! ```
//! use std::sync::Arc;
//! use rosterkit_core::{Attempt, Endpoint, Handle, Operation, Secret};
//! use rosterkit_zapi::{ZapiChat, ZapiConfig, ops::RemoveParticipants};
//!
//! let config = Arc::new(ZapiConfig::new(
//!     Endpoint::parse("https://api.z-api.io")?,
//!     "3C01A2B3C4".to_owned(),
//!     &Secret::new("TOKEN123"),
//!     Secret::new("acct-secret"),
//! ));
//! let chat: ZapiChat = "120363186053925765".parse()?;
//! let who: Vec<Handle> = vec!["+5544999999999".parse()?, "+5544888888888".parse()?];
//! let op = RemoveParticipants::new(&config, &chat, &who)?;
//! let request = op.build(&Attempt::first(std::time::SystemTime::now()))?;
//! assert_eq!(
//!     request.uri().to_string(),
//!     "https://api.z-api.io/instances/3C01A2B3C4/token/TOKEN123/remove-participant"
//! );
//! assert_eq!(request.headers()["client-token"], "acct-secret");
//! assert_eq!(
//!     request.body().as_ref(),
//!     br#"{"communityId":"120363186053925765","phones":["5544999999999","5544888888888"]}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::{fmt, sync::Arc};

use rosterkit_core::{
    Attempt, Authenticate, Bytes, Error, ErrorKind, Handle, Operation, Outcome, ProbeWith,
    Recovery, RouteName, Settled,
    http::{
        self, HeaderValue,
        header::{ACCEPT, CONTENT_TYPE},
    },
    push_path,
    redact::mask_digits,
};

pub use crate::batch::{ChangeParticipants, PhoneResults, ZapiChange};

use crate::{
    chat::{ChatKind, ZapiChat, wire_phone},
    config::{MAX_BATCH, ZapiConfig},
    errors,
    generated::{PROVIDER, Route},
    reply::{CommunityMetadata, GroupMetadata},
    wire::{self, LeaveBody, PhonesBody},
};

/// A route's request as every attempt sends it: the route and its path parameter, the exact
/// body (fixed at construction, so every attempt sends the same bytes) and the credentials,
/// built by core's template: [`route_uri`] under the instance prefix, authenticated by
/// [`ZapiConfig`].
struct RouteRequest {
    route: Route,
    /// The path template's one parameter (a group or community id), if any.
    param: Option<String>,
    body: Bytes,
    config: Arc<ZapiConfig>,
}

impl RouteRequest {
    fn new(config: &Arc<ZapiConfig>, route: Route, param: Option<&str>, body: Bytes) -> Self {
        Self {
            route,
            param: param.map(str::to_owned),
            body,
            config: Arc::clone(config),
        }
    }

    fn params(&self) -> &[String] {
        self.param.as_slice()
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        let params: Vec<&str> = self.params().iter().map(String::as_str).collect();
        let uri = self.config.route_uri(self.route, &params)?;
        let mut request = http::Request::new(self.body.clone());
        *request.method_mut() = self.route.method();
        *request.uri_mut() = uri;
        self.config.authenticate(&mut request, attempt)?;
        let headers = request.headers_mut();
        if self.body.is_empty() {
            headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        } else {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(request)
    }

    /// The reply as a JSON object when it is a 2xx with one; otherwise the mapped error.
    fn success_object(
        &self,
        response: http::Response<Bytes>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            return Err(errors::from_reply(self.route, parts.status, body));
        }
        match wire::object(&body) {
            Some(map) if wire::error_text(&map).is_none() => Ok(map),
            _ => Err(errors::from_reply(self.route, parts.status, body)),
        }
    }

    /// A mutation's reply: `{"value": true}` is `Ok`; `{"value": false}` and everything else
    /// are errors.
    fn parse_value(&self, response: http::Response<Bytes>) -> Result<(), Error> {
        let status = response.status();
        let (parts, body) = response.into_parts();
        let value = status
            .is_success()
            .then(|| wire::object(&body))
            .flatten()
            .and_then(|map| wire::value_of(&map));
        if value == Some(true) {
            return Ok(());
        }
        Err(errors::from_reply(self.route, parts.status, body))
    }
}

impl fmt::Debug for RouteRequest {
    /// The instance prefix (with the token) is left out; phone numbers are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut path = String::new();
        let params: Vec<&str> = self.params().iter().map(String::as_str).collect();
        push_path(&mut path, self.route.path(), &params);
        f.debug_struct("RouteRequest")
            .field("route", &self.route.name())
            .field("method", &self.route.method())
            .field("path", &mask_digits(&path))
            .field("body", &mask_digits(&String::from_utf8_lossy(&self.body)))
            .finish_non_exhaustive()
    }
}

fn json(value: &impl serde::Serialize) -> Result<Bytes, Error> {
    serde_json::to_vec(value).map(Bytes::from).map_err(|e| {
        Error::invalid_input("the Z-API request body could not be written")
            .with_provider(PROVIDER)
            .with_source(e)
    })
}

/// The wire phones of `handles`: 1 to [`MAX_BATCH`], each a phone number or a LID.
pub(crate) fn checked_phones(
    handles: &[Handle],
    operation: &'static str,
) -> Result<Vec<String>, Error> {
    if handles.is_empty() {
        return Err(
            Error::invalid_input("no phones to send: give at least one handle")
                .with_provider(PROVIDER)
                .with_operation(operation),
        );
    }
    if handles.len() > MAX_BATCH {
        return Err(Error::invalid_input(format!(
            "{} phones in one request: at most {MAX_BATCH} are sent at once (the Membership bulk methods split larger lists)",
            handles.len()
        ))
        .with_provider(PROVIDER)
        .with_operation(operation));
    }
    handles
        .iter()
        .map(|h| wire_phone(h).map_err(|e| e.with_operation(operation)))
        .collect()
}

fn phones_body(
    chat: &ZapiChat,
    auto_invite: Option<bool>,
    phones: &[String],
) -> Result<Bytes, Error> {
    let (group_id, community_id) = match chat.kind() {
        ChatKind::Community => (None, Some(chat.id())),
        _ => (Some(chat.id()), None),
    };
    json(&PhonesBody {
        auto_invite,
        group_id,
        community_id,
        phones,
    })
}

/// `POST /remove-participant` `{"groupId"|"communityId", "phones"}`: remove up to
/// [`MAX_BATCH`] phones in one request.
///
/// Z-API answers one `{"value": bool}` for the whole batch: `true` is `Ok(())` (not proof that
/// each phone left), `false` is a `DeliveryFailed` error with code `value_false`. Not
/// idempotent (a repeat answers `false`); in ensure mode the operation reports itself
/// idempotent, so the executor retries it after an ambiguous failure.
pub struct RemoveParticipants {
    request: RouteRequest,
    phones: Vec<String>,
    ensure: bool,
}

impl RemoveParticipants {
    /// The removal of `handles` from `chat`, through `client`'s endpoint and credentials.
    ///
    /// # Errors
    /// `InvalidInput` for no handles, more than [`MAX_BATCH`], or a handle that is neither a
    /// phone number nor a `…@lid` native id (emails do not exist on WhatsApp).
    pub fn new(
        config: &Arc<ZapiConfig>,
        chat: &ZapiChat,
        handles: &[Handle],
    ) -> Result<Self, Error> {
        Self::from_phones(
            config,
            chat,
            checked_phones(handles, Route::RemoveParticipant.name())?,
        )
    }

    /// From phones already in wire form.
    pub(crate) fn from_phones(
        config: &Arc<ZapiConfig>,
        chat: &ZapiChat,
        phones: Vec<String>,
    ) -> Result<Self, Error> {
        let body = phones_body(chat, None, &phones)?;
        Ok(Self {
            request: RouteRequest::new(config, Route::RemoveParticipant, None, body),
            phones,
            ensure: false,
        })
    }

    /// Turns ensure mode on or off (default off).
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }

    /// The phones as sent (digits, or LIDs).
    pub fn phones(&self) -> &[String] {
        &self.phones
    }
}

impl fmt::Debug for RemoveParticipants {
    /// Phone numbers are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoveParticipants")
            .field("request", &self.request)
            .field("phones", &self.phones.len())
            .field("ensure", &self.ensure)
            .finish()
    }
}

impl Operation for RemoveParticipants {
    type Output = ();

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    fn idempotent(&self) -> bool {
        self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(&self, response: http::Response<Bytes>, _attempt: &Attempt) -> Result<(), Error> {
        self.request.parse_value(response)
    }
}

/// `POST /add-participant` `{"autoInvite", "groupId"|"communityId", "phones"}`: add up to
/// [`MAX_BATCH`] phones in one request. `autoInvite` is always sent (default `false`).
///
/// `value: true` does not mean every phone joined: with `autoInvite`, WhatsApp may have sent an
/// invite link instead. Idempotent only in ensure mode and without `autoInvite` (a repeat could
/// send the links twice).
pub struct AddParticipants {
    request: RouteRequest,
    chat: ZapiChat,
    phones: Vec<String>,
    auto_invite: bool,
    ensure: bool,
}

impl AddParticipants {
    /// The addition of `handles` to `chat` with `autoInvite: false`.
    ///
    /// # Errors
    /// As [`RemoveParticipants::new`].
    pub fn new(
        config: &Arc<ZapiConfig>,
        chat: &ZapiChat,
        handles: &[Handle],
    ) -> Result<Self, Error> {
        Self::from_phones(
            config,
            chat,
            checked_phones(handles, Route::AddParticipant.name())?,
        )
    }

    /// From phones already in wire form.
    pub(crate) fn from_phones(
        config: &Arc<ZapiConfig>,
        chat: &ZapiChat,
        phones: Vec<String>,
    ) -> Result<Self, Error> {
        let body = phones_body(chat, Some(false), &phones)?;
        Ok(Self {
            request: RouteRequest::new(config, Route::AddParticipant, None, body),
            chat: chat.clone(),
            phones,
            auto_invite: false,
            ensure: false,
        })
    }

    /// Sets `autoInvite`: numbers WhatsApp refuses get a private invite link instead.
    #[must_use]
    pub fn auto_invite(mut self, auto_invite: bool) -> Self {
        if auto_invite != self.auto_invite {
            self.auto_invite = auto_invite;
            // The phones were validated by `new`; only the flag changes.
            if let Ok(body) = phones_body(&self.chat, Some(auto_invite), &self.phones) {
                self.request.body = body;
            }
        }
        self
    }

    /// Turns ensure mode on or off (default off).
    #[must_use]
    pub fn ensure(mut self, ensure: bool) -> Self {
        self.ensure = ensure;
        self
    }

    /// The phones as sent.
    pub fn phones(&self) -> &[String] {
        &self.phones
    }
}

impl fmt::Debug for AddParticipants {
    /// Phone numbers are masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddParticipants")
            .field("request", &self.request)
            .field("chat", &self.chat)
            .field("phones", &self.phones.len())
            .field("auto_invite", &self.auto_invite)
            .field("ensure", &self.ensure)
            .finish()
    }
}

impl Operation for AddParticipants {
    type Output = ();

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    fn idempotent(&self) -> bool {
        self.ensure && !self.auto_invite
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(&self, response: http::Response<Bytes>, _attempt: &Attempt) -> Result<(), Error> {
        self.request.parse_value(response)
    }
}

/// `POST /leave-group` `{"groupId"}`: the connected number leaves a group.
///
/// `value: true` is `Outcome::Unconfirmed` (Z-API does not say which number is connected, so a
/// roster read cannot confirm it); `value: false` is a `DeliveryFailed` error (`value_false`).
/// Not idempotent; idempotent in ensure mode, where a failure is settled by reading the group.
#[derive(Debug)]
pub struct LeaveGroup {
    request: RouteRequest,
    group: ZapiChat,
    ensure: bool,
}

impl LeaveGroup {
    /// Leaving `chat`, which must be a group.
    ///
    /// # Errors
    /// `Unsupported` for a community: Z-API's `/leave-group` takes a `groupId` only.
    pub fn new(config: &Arc<ZapiConfig>, chat: &ZapiChat) -> Result<Self, Error> {
        let route = Route::Leave;
        if chat.is_community() {
            return Err(Error::unsupported(
                "Z-API cannot leave a community: /leave-group takes a groupId; leave the community's groups instead",
            )
            .with_provider(PROVIDER)
            .with_operation(route.name()));
        }
        let body = json(&LeaveBody {
            group_id: chat.id(),
        })?;
        Ok(Self {
            request: RouteRequest::new(config, route, None, body),
            group: chat.clone(),
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

impl Operation for LeaveGroup {
    type Output = Outcome;

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    fn idempotent(&self) -> bool {
        self.ensure
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(&self, response: http::Response<Bytes>, _attempt: &Attempt) -> Result<Outcome, Error> {
        self.request.parse_value(response)?;
        Ok(Outcome::unconfirmed(None))
    }

    /// In ensure mode, after `value: false` or an ambiguous failure the standard retries did
    /// not settle, the group's light metadata: `ChatNotFound` (only members read a group's
    /// metadata) is `AlreadyDone`, `Forbidden` is `Unconfirmed`; otherwise the failure stands.
    fn on_failure(&self, error: &Error, attempt: &Attempt) -> Recovery<Outcome> {
        let unclear = error.code() == Some(errors::VALUE_FALSE) || error.is_ambiguous();
        if !self.ensure || !unclear || attempt.would_retry(error, self.idempotent()) {
            return Recovery::Standard;
        }
        let Ok(read) = GetGroupMetadata::new(&self.request.config, &self.group) else {
            return Recovery::Standard;
        };
        Recovery::Probe(Box::new(ProbeWith::new(
            read,
            move |read: Result<GroupMetadata, Error>, failure: Error| match read {
                Err(e) if e.kind() == ErrorKind::ChatNotFound => {
                    Settled::Finish(Ok(Outcome::already_done()))
                }
                Err(e) if e.kind() == ErrorKind::Forbidden => {
                    Settled::Finish(Ok(Outcome::unconfirmed(None)))
                }
                _ => Settled::Finish(Err(failure)),
            },
        )))
    }
}

/// How much of a group's metadata [`GetGroupMetadata`] asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetadataDetail {
    /// `GET /light-group-metadata/{groupId}`: the roster, no invite link (the roster read).
    #[default]
    Light,
    /// `GET /group-metadata/{groupId}`: everything, the invite link included.
    Full,
}

/// `GET /light-group-metadata/{groupId}` (default) or `GET /group-metadata/{groupId}`: a
/// group's metadata and participants. Idempotent.
///
/// The light variant is the roster read: it does not make WhatsApp fetch an invite link
/// (`invitationLink` is `null`), which costs time and can fail on its own
/// (`invitationLinkError`).
#[derive(Debug)]
pub struct GetGroupMetadata {
    request: RouteRequest,
}

impl GetGroupMetadata {
    /// The light metadata of `chat`, which must be a group.
    ///
    /// # Errors
    /// `InvalidInput` for a community (read [`GetCommunityMetadata`] and then its
    /// announcement group).
    pub fn new(config: &Arc<ZapiConfig>, chat: &ZapiChat) -> Result<Self, Error> {
        let route = Route::LightGroupMetadata;
        if chat.is_community() {
            return Err(Error::invalid_input(
                "group metadata needs a group id, not a community id: read the community's metadata and then its announcement group",
            )
            .with_provider(PROVIDER)
            .with_operation(route.name()));
        }
        Ok(Self {
            request: RouteRequest::new(config, route, Some(chat.id()), Bytes::new()),
        })
    }

    /// Chooses the light (default) or full (with the invite link) route.
    #[must_use]
    pub fn detail(mut self, detail: MetadataDetail) -> Self {
        let route = match detail {
            MetadataDetail::Light => Route::LightGroupMetadata,
            MetadataDetail::Full => Route::GroupMetadata,
        };
        self.request.route = route;
        self
    }
}

impl Operation for GetGroupMetadata {
    type Output = GroupMetadata;

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        _attempt: &Attempt,
    ) -> Result<GroupMetadata, Error> {
        let status = response.status();
        let (parts, body) = response.into_parts();
        let response = http::Response::from_parts(parts, body.clone());
        let map = self.request.success_object(response)?;
        if is_bare_value(&map) {
            return Err(errors::from_reply(self.request.route, status, body));
        }
        Ok(GroupMetadata::from_json(&map))
    }
}

/// `GET /communities-metadata/{communityId}`: a community's name, description and sub-groups.
/// Idempotent.
#[derive(Debug)]
pub struct GetCommunityMetadata {
    request: RouteRequest,
}

impl GetCommunityMetadata {
    /// The metadata of `chat`, which must be a community.
    ///
    /// # Errors
    /// `InvalidInput` for a group.
    pub fn new(config: &Arc<ZapiConfig>, chat: &ZapiChat) -> Result<Self, Error> {
        let route = Route::CommunityMetadata;
        if !chat.is_community() {
            return Err(Error::invalid_input(
                "community metadata needs a community id (digits only), not a group id",
            )
            .with_provider(PROVIDER)
            .with_operation(route.name()));
        }
        Ok(Self {
            request: RouteRequest::new(config, route, Some(chat.id()), Bytes::new()),
        })
    }
}

impl Operation for GetCommunityMetadata {
    type Output = CommunityMetadata;

    fn route(&self) -> RouteName {
        self.request.route.into()
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.request.build(attempt)
    }

    fn parse(
        &self,
        response: http::Response<Bytes>,
        _attempt: &Attempt,
    ) -> Result<CommunityMetadata, Error> {
        let status = response.status();
        let (parts, body) = response.into_parts();
        let response = http::Response::from_parts(parts, body.clone());
        let map = self.request.success_object(response)?;
        if is_bare_value(&map) {
            return Err(errors::from_reply(self.request.route, status, body));
        }
        Ok(CommunityMetadata::from_json(&map))
    }
}

/// A `{"value": ..}` reply where metadata was expected (a disconnected instance).
fn is_bare_value(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    wire::value_of(map).is_some()
        && !["participants", "phone", "subGroups", "id", "name"]
            .iter()
            .any(|k| map.contains_key(*k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ZapiClient;
    use proptest::prelude::*;
    use rosterkit_core::{ErrorKind, http::StatusCode};
    use std::time::SystemTime;

    /// zapi.md §8: instance `3C01A2B3C4`, token `TOKEN123`, `Client-Token: acct-secret`.
    fn client() -> ZapiClient {
        crate::builder::testing::builder()
            .instance_id("3C01A2B3C4")
            .instance_token("TOKEN123")
            .client_token("acct-secret")
            .build()
            .unwrap()
    }

    const BASE: &str = "https://api.z-api.io/instances/3C01A2B3C4/token/TOKEN123";
    const GROUP: &str = "120363019502650977-group";

    fn group() -> ZapiChat {
        ZapiChat::parse(GROUP).unwrap()
    }

    fn handles(list: &[&str]) -> Vec<Handle> {
        list.iter().map(|h| h.parse().unwrap()).collect()
    }

    fn attempt() -> Attempt {
        Attempt::first(SystemTime::UNIX_EPOCH)
    }

    fn reply(status: u16, body: &str) -> http::Response<Bytes> {
        let mut response = http::Response::new(Bytes::copy_from_slice(body.as_bytes()));
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        response
    }

    /// Method, full URL, the exact header set, and the exact body.
    #[track_caller]
    fn assert_request(
        request: &http::Request<Bytes>,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) {
        assert_eq!(request.method().as_str(), method);
        assert_eq!(request.uri().to_string(), url);
        let mut ours: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        ours.sort();
        let mut want: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        assert_eq!(ours, want);
        assert_eq!(String::from_utf8_lossy(request.body()), body);
    }

    const POST_HEADERS: [(&str, &str); 2] = [
        ("client-token", "acct-secret"),
        ("content-type", "application/json"),
    ];
    const GET_HEADERS: [(&str, &str); 2] = [
        ("client-token", "acct-secret"),
        ("accept", "application/json"),
    ];

    #[test]
    fn worked_example_a_remove_one_member() {
        let op =
            RemoveParticipants::new(client().config(), &group(), &handles(&["+5544999999999"]))
                .unwrap();
        assert_request(
            &op.build(&attempt()).unwrap(),
            "POST",
            &format!("{BASE}/remove-participant"),
            &POST_HEADERS,
            r#"{"groupId":"120363019502650977-group","phones":["5544999999999"]}"#,
        );
        assert_eq!(op.phones(), ["5544999999999"]);
        assert_eq!(op.name(), "remove_participant");
        assert_eq!(op.provider(), "zapi");
        assert!(!op.idempotent());
        assert!(op.ensure(true).idempotent());
        assert!(
            client()
                .config()
                .client_token_header()
                .unwrap()
                .is_sensitive()
        );
    }

    #[test]
    fn the_issue_s_community_remove() {
        let chat = ZapiChat::parse("120363186053925765").unwrap();
        let op = RemoveParticipants::new(
            client().config(),
            &chat,
            &handles(&["+5544999999999", "+5544888888888"]),
        )
        .unwrap();
        assert_request(
            &op.build(&attempt()).unwrap(),
            "POST",
            &format!("{BASE}/remove-participant"),
            &POST_HEADERS,
            r#"{"communityId":"120363186053925765","phones":["5544999999999","5544888888888"]}"#,
        );
    }

    #[test]
    fn worked_example_c_and_d_leave_and_add() {
        let op = LeaveGroup::new(client().config(), &group()).unwrap();
        assert_request(
            &op.build(&attempt()).unwrap(),
            "POST",
            &format!("{BASE}/leave-group"),
            &POST_HEADERS,
            r#"{"groupId":"120363019502650977-group"}"#,
        );
        assert_eq!(op.name(), "leave");
        assert!(!op.idempotent());
        let op = AddParticipants::new(client().config(), &group(), &handles(&["+5544777777777"]))
            .unwrap();
        assert_request(
            &op.build(&attempt()).unwrap(),
            "POST",
            &format!("{BASE}/add-participant"),
            &POST_HEADERS,
            r#"{"autoInvite":false,"groupId":"120363019502650977-group","phones":["5544777777777"]}"#,
        );
        assert!(!op.idempotent());
        let op = op.ensure(true);
        assert!(op.idempotent());
        let op = op.auto_invite(true);
        assert!(!op.idempotent(), "autoInvite is never retried blindly");
        assert!(
            String::from_utf8_lossy(op.build(&attempt()).unwrap().body())
                .starts_with(r#"{"autoInvite":true,"groupId""#)
        );
        let op = op.auto_invite(false);
        assert!(op.idempotent());
    }

    #[test]
    fn metadata_requests() {
        let op = GetGroupMetadata::new(client().config(), &group()).unwrap();
        assert_request(
            &op.build(&attempt()).unwrap(),
            "GET",
            &format!("{BASE}/light-group-metadata/120363019502650977-group"),
            &GET_HEADERS,
            "",
        );
        assert_eq!(op.name(), "light_group_metadata");
        assert!(op.idempotent());
        let op = op.detail(MetadataDetail::Full);
        assert_eq!(op.name(), "group_metadata");
        assert_eq!(
            op.build(&attempt()).unwrap().uri().to_string(),
            format!("{BASE}/group-metadata/120363019502650977-group")
        );
        let odd = ZapiChat::group("a.b@g.us").unwrap();
        let op = GetGroupMetadata::new(client().config(), &odd).unwrap();
        assert_eq!(
            op.build(&attempt()).unwrap().uri().to_string(),
            format!("{BASE}/light-group-metadata/a.b%40g.us")
        );
        let community = ZapiChat::parse("120363186053925765").unwrap();
        let op = GetCommunityMetadata::new(client().config(), &community).unwrap();
        assert_request(
            &op.build(&attempt()).unwrap(),
            "GET",
            &format!("{BASE}/communities-metadata/120363186053925765"),
            &GET_HEADERS,
            "",
        );
        assert!(op.idempotent());
        // Kinds are checked at construction.
        assert_eq!(
            GetGroupMetadata::new(client().config(), &community)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            GetCommunityMetadata::new(client().config(), &group())
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            LeaveGroup::new(client().config(), &community)
                .unwrap_err()
                .kind(),
            ErrorKind::Unsupported
        );
    }

    #[test]
    fn handles_are_checked_before_any_request() {
        let c = client();
        for bad in [
            &["alice@example.com"][..],
            &["+5544999999999", "8:acs:x"],
            &[],
        ] {
            let err = RemoveParticipants::new(c.config(), &group(), &handles(bad)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
            assert_eq!(err.operation(), Some("remove_participant"));
        }
        let many: Vec<Handle> = (0..51)
            .map(|i| format!("+55449{i:08}").parse().unwrap())
            .collect();
        let err = AddParticipants::new(c.config(), &group(), &many).unwrap_err();
        assert!(err.message().contains("at most 50"), "{err}");
        assert!(AddParticipants::new(c.config(), &group(), &many[..50]).is_ok());
        let lid =
            RemoveParticipants::new(c.config(), &group(), &handles(&["123456789@lid"])).unwrap();
        assert_eq!(lid.phones(), ["123456789@lid"]);
    }

    #[test]
    fn debug_shows_neither_token_nor_full_phones() {
        let op =
            RemoveParticipants::new(client().config(), &group(), &handles(&["+5544999999999"]))
                .unwrap();
        let dbg = format!("{op:?}");
        assert!(
            !dbg.contains("TOKEN123") && !dbg.contains("acct-secret"),
            "{dbg}"
        );
        assert!(!dbg.contains("5544999999999"), "{dbg}");
        assert!(dbg.contains("remove_participant"), "{dbg}");
    }

    #[test]
    fn mutation_replies() {
        let op =
            RemoveParticipants::new(client().config(), &group(), &handles(&["+5544999999999"]))
                .unwrap();
        let parse = |status, body| op.parse(reply(status, body), &attempt());
        assert!(parse(200, r#"{"value":true}"#).is_ok());
        assert!(parse(200, r#"{"value": true, "unknown": [1]}"#).is_ok());
        assert!(parse(201, r#"{"success":true}"#).is_ok());
        assert!(parse(200, r#"{"value":"true"}"#).is_ok());
        let err = parse(200, r#"{"value":false}"#).unwrap_err();
        assert_eq!(
            (err.kind(), err.code()),
            (ErrorKind::DeliveryFailed, Some("value_false"))
        );
        let err = parse(401, r#"{"error":"null not allowed"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized);
        let err = parse(415, "").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = parse(200, "").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(err.is_ambiguous());
        // A 4xx that says value:true is still a failure.
        let err = parse(400, r#"{"value":true}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = parse(200, r#"{"error":"Invalid phone"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn metadata_replies() {
        let op = GetGroupMetadata::new(client().config(), &group()).unwrap();
        let parse = |status, body| op.parse(reply(status, body), &attempt());
        let meta = parse(200, crate::reply::tests::METADATA).unwrap();
        assert_eq!(meta.participants.len(), 2);
        assert_eq!(parse(200, "{}").unwrap(), GroupMetadata::default());
        let err = parse(200, r#"{"value":false}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ProviderMisconfigured);
        let err = parse(200, r#"{"error":"You need to restore the session."}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ProviderMisconfigured);
        let err = parse(404, r#"{"error":"group not found"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ChatNotFound);
        let err = parse(200, "not json").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
        assert!(!err.is_ambiguous());
        let err = parse(503, "").unwrap_err();
        assert!(err.is_retryable());

        let community = ZapiChat::parse("120363186053925765").unwrap();
        let op = GetCommunityMetadata::new(client().config(), &community).unwrap();
        let meta = op
            .parse(
                reply(
                    200,
                    r#"{"name":"n","id":"120363186053925765","description":null,"subGroups":[{"name":"n","phone":"1-group","isGroupAnnouncement":"true"}]}"#,
                ),
                &attempt(),
            )
            .unwrap();
        assert_eq!(meta.announcement_group().unwrap().phone, "1-group");
        assert_eq!(meta.description, None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// No reply — any status, any bytes — makes a parser panic.
        #[test]
        fn parsers_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let c = client();
            let response = || {
                let mut r = http::Response::new(Bytes::from(body.clone()));
                *r.status_mut() = StatusCode::from_u16(status).unwrap();
                r
            };
            let phones = handles(&["+5544999999999"]);
            let _ = RemoveParticipants::new(c.config(), &group(), &phones).unwrap().parse(response(), &attempt());
            let _ = AddParticipants::new(c.config(), &group(), &phones).unwrap().parse(response(), &attempt());
            let _ = LeaveGroup::new(c.config(), &group()).unwrap().parse(response(), &attempt());
            let _ = GetGroupMetadata::new(c.config(), &group()).unwrap().parse(response(), &attempt());
            let community = ZapiChat::parse("1").unwrap();
            let _ = GetCommunityMetadata::new(c.config(), &community).unwrap().parse(response(), &attempt());
        }

        /// JSON-shaped replies (the likelier input) never panic either, and a 2xx success is
        /// only ever `value: true`.
        #[test]
        fn json_replies_never_panic(status in prop_oneof![Just(200u16), 100u16..600], value in "\\PC{0,12}", key in "(value|success|error|participants|phone|subGroups|x)") {
            let c = client();
            let body = format!(r#"{{"{key}": {value}}}"#);
            let mut r = http::Response::new(Bytes::from(body.clone()));
            *r.status_mut() = StatusCode::from_u16(status).unwrap();
            let phones = handles(&["+5544999999999"]);
            let ok = RemoveParticipants::new(c.config(), &group(), &phones).unwrap().parse(r, &attempt()).is_ok();
            if ok {
                prop_assert!((200..300).contains(&status));
            }
            let mut r = http::Response::new(Bytes::from(body));
            *r.status_mut() = StatusCode::from_u16(status).unwrap();
            let _ = GetGroupMetadata::new(c.config(), &group()).unwrap().parse(r, &attempt());
        }
    }
}
