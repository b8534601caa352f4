//! The emulated Z-API: one handler that checks credentials, method and content type in the
//! documented order, then runs the operation.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{ZapiEmulator, ZapiGroup, ZapiState, error_body, normalize_phone};
use crate::framework::Effects;
use crate::sync::lock;

pub(super) fn router(emulator: ZapiEmulator) -> Router {
    // One handler for everything under the mount, so the checks run in the documented order
    // for known and unknown operations alike.
    Router::new()
        .route("/instances/{instance}/token/{token}/{*rest}", any(handle))
        .fallback(handle)
        .with_state(emulator)
}

/// The operations, by their path after `/instances/{id}/token/{token}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Remove,
    Add,
    Leave,
    GroupMetadata { light: bool },
    CommunityMetadata,
}

impl Op {
    /// The operation and its path parameter, from the decoded segments after the token.
    fn route(rest: &[String]) -> Option<(Op, Option<&str>)> {
        match rest {
            [op] if op == "remove-participant" => Some((Op::Remove, None)),
            [op] if op == "add-participant" => Some((Op::Add, None)),
            [op] if op == "leave-group" => Some((Op::Leave, None)),
            [op, id] if op == "group-metadata" => {
                Some((Op::GroupMetadata { light: false }, Some(id)))
            }
            [op, id] if op == "light-group-metadata" => {
                Some((Op::GroupMetadata { light: true }, Some(id)))
            }
            [op, id] if op == "communities-metadata" => Some((Op::CommunityMetadata, Some(id))),
            _ => None,
        }
    }

    fn method(self) -> Method {
        match self {
            Op::Remove | Op::Add | Op::Leave => Method::POST,
            Op::GroupMetadata { .. } | Op::CommunityMetadata => Method::GET,
        }
    }
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, text: &str) -> Response {
    json_response(status, error_body(text))
}

fn value(value: bool) -> Response {
    json_response(
        StatusCode::OK,
        if value {
            &br#"{"value":true}"#[..]
        } else {
            &br#"{"value":false}"#[..]
        },
    )
}

/// A bare status with an empty body (405, 415).
fn empty(status: StatusCode) -> Response {
    status.into_response()
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Every request under the mount.
async fn handle(
    State(emulator): State<ZapiEmulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    effects: Effects,
    body: Bytes,
) -> Response {
    let segments: Vec<String> = uri
        .path()
        .split('/')
        .skip(1)
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let (instance, token, rest) = match segments.as_slice() {
        [instances, instance, token_word, token, rest @ ..]
            if instances == "instances" && token_word == "token" && !rest.is_empty() =>
        {
            (instance, token, rest)
        }
        _ => return error(StatusCode::NOT_FOUND, "not found"),
    };
    {
        let state = lock(&emulator.state);
        // Both compared, so the time taken does not say which one was wrong.
        let id_ok = same(instance, &state.instance_id);
        let token_ok = same(token, &state.instance_token);
        if !(id_ok & token_ok) {
            return error(StatusCode::UNAUTHORIZED, "invalid instance or token");
        }
        let client_token = headers
            .get("client-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !same(client_token, &state.client_token) {
            return error(StatusCode::UNAUTHORIZED, "null not allowed");
        }
    }
    let Some((op, param)) = Op::route(rest) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    if method != op.method() {
        return empty(StatusCode::METHOD_NOT_ALLOWED);
    }
    if op.method() == Method::POST && !is_json(&headers) {
        return empty(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let mut state = lock(&emulator.state);
    if !state.connected {
        return value(false);
    }
    match (op, param) {
        (Op::GroupMetadata { light }, Some(id)) => group_metadata(&state, id, light),
        (Op::CommunityMetadata, Some(id)) => community_metadata(&state, id),
        (Op::Remove | Op::Add | Op::Leave, _) => {
            let body = match parse_object(&body) {
                Ok(body) => body,
                Err(response) => return *response,
            };
            match op {
                Op::Leave => leave(&mut state, &body, &effects),
                _ => change(&mut state, op, &body, &effects),
            }
        }
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// `Content-Type: application/json`, parameters allowed, any case.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Box<Response>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        ))),
    }
}

/// Phones are digits (8 to 15, the first not 0) or `<digits>@lid`.
fn valid_phone(phone: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(lid) = phone.strip_suffix("@lid") {
        return digits(lid);
    }
    digits(phone) && (8..=15).contains(&phone.len()) && !phone.starts_with('0')
}

/// `POST /remove-participant` and `POST /add-participant`.
fn change(state: &mut ZapiState, op: Op, body: &Map<String, Value>, effects: &Effects) -> Response {
    let group_id = body.get("groupId").and_then(Value::as_str);
    let community_id = body.get("communityId").and_then(Value::as_str);
    let Some(chat) = group_id.or(community_id) else {
        return error(
            StatusCode::BAD_REQUEST,
            "groupId or communityId is required",
        );
    };
    let Some(phones) = body.get("phones").and_then(Value::as_array) else {
        return error(StatusCode::BAD_REQUEST, "phones is required");
    };
    // zapi.md §7 #1: a missing autoInvite is false.
    let auto_invite = body.get("autoInvite").and_then(Value::as_bool) == Some(true);
    let target = match (group_id, community_id) {
        (Some(id), _) => Some(id.to_owned()),
        (None, Some(id)) => state
            .communities
            .get(id)
            .and_then(|c| c.announcement_group.clone()),
        (None, None) => None,
    };
    let connected = state.connected_phone.clone();
    let non_contacts = state.non_contacts.clone();
    let Some(group) = target.and_then(|id| state.groups.get_mut(&id)) else {
        return value(false);
    };
    let admin = group
        .member(&connected)
        .is_some_and(|m| m.is_admin || m.is_super_admin);
    if !admin {
        return value(false);
    }
    let mut all_ok = true;
    for phone in phones {
        let Some(phone) = phone.as_str().map(normalize_phone) else {
            all_ok = false;
            continue;
        };
        let ok = if !valid_phone(&phone) {
            false
        } else if op == Op::Remove {
            remove_one(group, &phone, &connected)
        } else if group.member(&phone).is_some() {
            false
        } else if non_contacts.contains(&phone) {
            if auto_invite {
                group.invites.push(phone.clone());
                effects.record(format!("zapi:invite {chat} {phone}"));
            }
            auto_invite
        } else {
            group.participants.push(super::ZapiMember {
                phone: phone.clone(),
                is_admin: false,
                is_super_admin: false,
            });
            effects.record(format!("zapi:add {chat} {phone}"));
            true
        };
        if ok && op == Op::Remove {
            effects.record(format!("zapi:remove {chat} {phone}"));
        }
        all_ok &= ok;
    }
    value(all_ok)
}

fn remove_one(group: &mut ZapiGroup, phone: &str, connected: &str) -> bool {
    if phone == connected {
        return false;
    }
    match group.participants.iter().position(|m| m.phone == phone) {
        Some(index) => {
            group.participants.remove(index);
            true
        }
        None => false,
    }
}

/// `POST /leave-group`.
fn leave(state: &mut ZapiState, body: &Map<String, Value>, effects: &Effects) -> Response {
    let Some(group_id) = body.get("groupId").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "groupId is required");
    };
    let connected = state.connected_phone.clone();
    let Some(group) = state.groups.get_mut(group_id) else {
        return value(false);
    };
    let Some(index) = group.participants.iter().position(|m| m.phone == connected) else {
        return value(false);
    };
    group.participants.remove(index);
    effects.record(format!("zapi:leave {group_id}"));
    value(true)
}

/// zapi.md §3.4's shape, in its key order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    phone: &'a str,
    owner: &'a str,
    subject: &'a str,
    creation: u64,
    invitation_link: Option<String>,
    invitation_link_error: Option<&'a str>,
    community_id: Option<&'a str>,
    admin_only_message: bool,
    admin_only_settings: bool,
    require_admin_approval: bool,
    is_group_announcement: bool,
    participants: Vec<MetadataParticipant<'a>>,
    subject_time: u64,
    subject_owner: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MetadataParticipant<'a> {
    phone: &'a str,
    is_admin: bool,
    is_super_admin: bool,
}

/// `GET /group-metadata/{id}` and `GET /light-group-metadata/{id}`.
fn group_metadata(state: &ZapiState, id: &str, light: bool) -> Response {
    let Some(group) = state
        .groups
        .get(id)
        .filter(|g| g.member(&state.connected_phone).is_some())
    else {
        return error(StatusCode::NOT_FOUND, "group not found");
    };
    let metadata = Metadata {
        phone: &group.id,
        owner: &group.owner,
        subject: &group.subject,
        creation: group.creation,
        invitation_link: (!light).then(|| {
            let digits: String = group.id.chars().filter(char::is_ascii_digit).collect();
            format!("https://chat.whatsapp.com/SANDBOX{digits}")
        }),
        invitation_link_error: None,
        community_id: group.community_id.as_deref(),
        admin_only_message: group.is_announcement,
        admin_only_settings: false,
        require_admin_approval: false,
        is_group_announcement: group.is_announcement,
        participants: group
            .participants
            .iter()
            .map(|m| MetadataParticipant {
                phone: &m.phone,
                is_admin: m.is_admin,
                is_super_admin: m.is_super_admin,
            })
            .collect(),
        subject_time: group.creation,
        subject_owner: &group.owner,
    };
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&metadata).unwrap_or_default(),
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CommunityMetadata<'a> {
    name: &'a str,
    id: &'a str,
    description: &'a str,
    sub_groups: Vec<SubGroup<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubGroup<'a> {
    name: &'a str,
    phone: &'a str,
    is_group_announcement: bool,
}

/// `GET /communities-metadata/{id}`.
fn community_metadata(state: &ZapiState, id: &str) -> Response {
    let Some(community) = state.communities.get(id) else {
        return error(StatusCode::NOT_FOUND, "group not found");
    };
    let mut sub_groups = Vec::new();
    let linked = community
        .announcement_group
        .iter()
        .chain(community.sub_groups.iter());
    for group_id in linked {
        if let Some(group) = state.groups.get(group_id) {
            sub_groups.push(SubGroup {
                name: &group.subject,
                phone: &group.id,
                is_group_announcement: group.is_announcement,
            });
        }
    }
    let metadata = CommunityMetadata {
        name: &community.name,
        id: &community.id,
        description: &community.description,
        sub_groups,
    };
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&metadata).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        assert!(valid_phone("5544999999999"));
        assert!(valid_phone("999999999999999@lid"));
        assert!(!valid_phone("+5544999999999"));
        assert!(!valid_phone("0544999999"));
        assert!(!valid_phone("1234"));
        assert!(!valid_phone("@lid"));
        assert!(!valid_phone("55449x9999999"));
    }

    #[test]
    fn routes() {
        let r = |s: &[&str]| {
            Op::route(&s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .map(|(op, p)| (op, p.map(str::to_owned)))
        };
        assert_eq!(r(&["remove-participant"]), Some((Op::Remove, None)));
        assert_eq!(
            r(&["light-group-metadata", "1-group"]),
            Some((
                Op::GroupMetadata { light: true },
                Some("1-group".to_owned())
            ))
        );
        assert_eq!(r(&["group-metadata"]), None);
        assert_eq!(r(&["remove-participant", "x"]), None);
    }
}
