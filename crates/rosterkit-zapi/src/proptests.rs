//! Reply decoders under arbitrary input (issue #10, item 3): every operation's `parse` (and
//! through it `wire`, `errors` and `reply`) is fed arbitrary bytes, arbitrary JSON built from
//! Z-API's field names, and valid replies mutated (truncated, bytes flipped or inserted, fields
//! deleted, values swapped for another type), with any status. It never panics; a 2xx gives a
//! value, a `Decode` error, or (Z-API reports failures as 200) a typed error for a body that
//! says `value: false` or carries an `error` text; any other status gives a typed error
//! carrying that status.

use std::time::SystemTime;

use rosterkit_core::testing::{DecoderProps, check_result_with};
use rosterkit_core::{Attempt, Bytes, Error, Handle, Operation, http};

use crate::{
    ZapiChat,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, LeaveGroup, RemoveParticipants,
    },
    wire,
};

const CASES: u32 = 1_024;

/// Valid replies (status, body, how many of the checked parses give a value).
const VALID: &[(u16, &str, usize)] = &[
    (200, r#"{"value":true}"#, 3),
    (201, r#"{"success":true}"#, 3),
    (200, r#"{"value":false}"#, 0),
    (200, r#"{"error":"You need to restore the session."}"#, 0),
    (401, r#"{"error":"null not allowed"}"#, 0),
    (404, r#"{"error":"group not found"}"#, 0),
    (
        200,
        r#"{ "phone": "120363019502650977-group", "owner": "5511999999999", "subject": "My group",
  "creation": 1588721491000, "invitationLink": "https://chat.whatsapp.com/abc",
  "invitationLinkError": null, "communityId": null, "adminOnlyMessage": false,
  "adminOnlySettings": false, "requireAdminApproval": false, "isGroupAnnouncement": false,
  "participants": [ {"phone": "5511888888888", "isAdmin": false, "isSuperAdmin": false},
                    {"phone": "5511777777777", "isAdmin": true, "isSuperAdmin": false,
                     "short": "ZAPIs", "name": "ZAPIs Boys"}, {"phone": "1234@lid", "isAdmin": "true"} ],
  "subjectTime": 1617805323000, "subjectOwner": "554497050785" }"#,
        2,
    ),
    (
        200,
        r#"{"name":"Community","id":"120363186053925765","description":null,"subGroups":[{"name":"Announcements","phone":"120363186053925765-group","isGroupAnnouncement":true},{"name":"Other","phone":"120363019502650977-group","isGroupAnnouncement":"false"}]}"#,
        2,
    ),
];

/// Field names Z-API uses, for arbitrary JSON that gets past the first checks.
const KEYS: &[&str] = &[
    "value",
    "success",
    "error",
    "message",
    "phone",
    "owner",
    "subject",
    "creation",
    "participants",
    "isAdmin",
    "isSuperAdmin",
    "name",
    "id",
    "description",
    "subGroups",
    "isGroupAnnouncement",
    "communityId",
    "invitationLink",
];

fn client() -> crate::ZapiClient {
    crate::builder::testing::builder()
        .instance_id("3C01A2B3C4")
        .instance_token("TOKEN123")
        .client_token("acct-secret")
        .build()
        .unwrap()
}

/// Runs every operation's `parse` on the reply, checks the results, and returns how many gave
/// a value.
fn parse_all(status: u16, body: &[u8], community: bool, _unused: bool) -> usize {
    let client = client();
    let group = ZapiChat::parse("120363019502650977-group").unwrap();
    let community_id = ZapiChat::parse("120363186053925765").unwrap();
    let chat = if community { &community_id } else { &group };
    let phones: Vec<Handle> = vec![
        "+5544999999999".parse().unwrap(),
        "+5544888888888".parse().unwrap(),
    ];
    let attempt = Attempt::first(SystemTime::UNIX_EPOCH);
    let reply = || {
        http::Response::builder()
            .status(status)
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let says_failed = wire::object(body)
        .is_some_and(|m| wire::value_of(&m) == Some(false) || wire::error_text(&m).is_some());
    let check = |result: Result<(), Error>| check(status, says_failed, result);
    let mut values = check(
        RemoveParticipants::new(client.config(), chat, &phones)
            .unwrap()
            .parse(reply(), &attempt),
    );
    values += check(
        AddParticipants::new(client.config(), chat, &phones)
            .unwrap()
            .parse(reply(), &attempt),
    );
    values += check(
        LeaveGroup::new(client.config(), &group)
            .unwrap()
            .parse(reply(), &attempt)
            .map(|_| ()),
    );
    values += check(
        GetGroupMetadata::new(client.config(), &group)
            .unwrap()
            .parse(reply(), &attempt)
            .map(drop),
    );
    values += check(
        GetCommunityMetadata::new(client.config(), &community_id)
            .unwrap()
            .parse(reply(), &attempt)
            .map(drop),
    );
    values
}

/// The decoder contract ([`check_result_with`]) for Z-API, which answers some failures with a
/// 2xx whose body says so.
fn check(status: u16, says_failed: bool, result: Result<(), Error>) -> usize {
    check_result_with("zapi", status, says_failed, result)
}

rosterkit_core::decoder_tests!(
    DecoderProps {
        provider: "zapi",
        keys: KEYS,
        valid: VALID,
        cases: CASES,
    },
    parse_all
);
