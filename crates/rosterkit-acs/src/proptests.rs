//! Reply decoders under arbitrary input (issue #10, item 3): every operation's `parse` (and
//! through it `wire`, `errors`, `identifier` and `rfc3339`) is fed arbitrary bytes, arbitrary
//! JSON built from ACS's field names, and valid replies mutated (truncated, bytes flipped or
//! inserted, fields deleted, values swapped for another type), with any status. It never
//! panics; a 2xx gives a value or a `Decode` error, any other status a typed error carrying
//! that status.

use std::time::{Duration, SystemTime};

use rosterkit_core::testing::{DecoderProps, check_result};
use rosterkit_core::{Attempt, Bytes, ChatId, Endpoint, Error, Operation, Secret, http};

use crate::{
    AccessKey, ChatContext, ChatParticipant, CommunicationIdentifier,
    ops::{AddParticipants, IssueAccessToken, ListParticipants, RemoveParticipant},
};

const CASES: u32 = 1_024;

/// Valid replies (status, body, how many of the checked parses give a value).
const VALID: &[(u16, &str, usize)] = &[
    (204, "", 2),
    (201, "{}", 3),
    (
        201,
        r#"{"invalidParticipants":[{"target":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_a34d2d65-d72f-4c48-a12c-2d5c9ac75a1a","code":"403","message":"Permissions check failed"},{"target":"4:+14155551234","code":"404","message":"Not found","details":[{"code":"x"}]}]}"#,
        3,
    ),
    (
        200,
        r#"{"value":[{"communicationIdentifier":{"rawId":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715","communicationUser":{"id":"8:acs:8540c0de-899f-5cce-acb5-3ec493af3800_c94ff260-162d-46d6-94fd-e79f4d213715"}},"displayName":"Jane","shareHistoryTime":"2020-06-06T05:55:41Z"},{"communicationIdentifier":{"kind":"phoneNumber","rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}},"displayName":"Alex"},{"communicationIdentifier":{"rawId":"8:orgid:u1","microsoftTeamsUser":{"userId":"u1","isAnonymous":false,"cloud":"gcch"}}},{"communicationIdentifier":{"rawId":"99:x"}}],"nextLink":"https://contoso.westus.communications.azure.com/chat/threads/19:453dafb77b26481ea2e73bcada0324af@thread.v2/participants?skip=2&maxPageSize=2&api-version=2025-03-15"}"#,
        3,
    ),
    (
        200,
        r#"{"token":"eyJhbGciOiJSUzI1NiJ9.eyJza3lwZWlkIjoiYWNzOjExMTFfMjIyMiJ9.c2ln","expiresOn":"2023-10-10T21:39:39.3244584+00:00"}"#,
        4,
    ),
    (
        401,
        r#"{"error":{"code":"Unauthorized","message":"Request is not authorized."}}"#,
        0,
    ),
    (
        429,
        r#"{"error":{"code":"TooManyRequests","message":"Rate limit exceeded.","target":"thread","details":[]}}"#,
        0,
    ),
    (
        400,
        r#"{"Code":"BadRequest","Message":"Initiator is not a participant of the thread","InnerErrors":[{"Code":"NotAParticipant"}]}"#,
        0,
    ),
    (
        403,
        r#"{"error":{"code":"Forbidden","message":"x","innerError":{"code":"NotAParticipant","innererror":{"code":"Deeper"}}}}"#,
        0,
    ),
];

/// Field names ACS uses, for arbitrary JSON that gets past the first checks.
const KEYS: &[&str] = &[
    "value",
    "nextLink",
    "communicationIdentifier",
    "rawId",
    "kind",
    "communicationUser",
    "phoneNumber",
    "microsoftTeamsUser",
    "microsoftTeamsApp",
    "teamsExtensionUser",
    "id",
    "userId",
    "isAnonymous",
    "cloud",
    "displayName",
    "shareHistoryTime",
    "invalidParticipants",
    "target",
    "code",
    "message",
    "details",
    "error",
    "innererror",
    "token",
    "expiresOn",
];

/// Runs every operation's `parse` on the reply, checks the results without ensure mode, and
/// returns how many gave a value.
fn parse_all(status: u16, body: &[u8], ensure: bool, after_ambiguous: bool) -> usize {
    let endpoint = Endpoint::parse("https://contoso.communication.azure.com").unwrap();
    let ctx = ChatContext::new(endpoint.clone(), Secret::new("user-token"));
    let thread = ChatId::new("19:abc@thread.v2").unwrap();
    let who = CommunicationIdentifier::from_raw_id("8:acs:1111_2222");
    let attempt = Attempt::new(
        2,
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        after_ambiguous,
    );
    let reply = || {
        http::Response::builder()
            .status(status)
            .header("x-ms-retry-after-ms", "250")
            .header("ms-cv", "trace-1")
            .body(Bytes::copy_from_slice(body))
            .unwrap()
    };
    let remove = RemoveParticipant::new(ctx.clone(), thread.clone(), who.clone());
    let mut values = check(status, remove.parse(reply(), &attempt));
    let add = AddParticipants::new(
        ctx.clone(),
        thread.clone(),
        vec![ChatParticipant::new(who.clone())],
    );
    values += check(status, add.parse(reply(), &attempt));
    let list = ListParticipants::first_page(ctx.clone(), thread.clone());
    values += check(status, list.parse(reply(), &attempt));
    let key = AccessKey::from_base64("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    let token = IssueAccessToken::new(endpoint, key, "8:acs:1111_2222");
    values += check(status, token.parse(reply(), &attempt));
    // Ensure mode and leave turn some errors into outcomes: only "never panics" holds there.
    let leave = RemoveParticipant::new(ctx, thread, who)
        .ensure(ensure)
        .removal(crate::ops::Removal::Leave)
        .after_ambiguous_failure(after_ambiguous);
    let _ = leave.parse(reply(), &attempt);
    values
}

/// The decoder contract ([`check_result`]) for this provider.
fn check<T: std::fmt::Debug>(status: u16, result: Result<T, Error>) -> usize {
    check_result("acs", status, result)
}

rosterkit_core::decoder_tests!(
    DecoderProps {
        provider: "acs",
        keys: KEYS,
        valid: VALID,
        cases: CASES,
    },
    parse_all
);
