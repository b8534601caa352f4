//! Z-API's reply decoders: `parse` of every operation, for a group and a community.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rosterkit_core::{Attempt, Handle, Operation};
use rosterkit_fuzz::{Reply, check, now, offline};
use rosterkit_zapi::{
    ZapiChat, ZapiClient,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, LeaveGroup, RemoveParticipants,
    },
};
use serde_json::Value;

struct Ops {
    remove: [RemoveParticipants; 2],
    add: [AddParticipants; 2],
    leave: LeaveGroup,
    group: GetGroupMetadata,
    community: GetCommunityMetadata,
}

static OPS: LazyLock<Ops> = LazyLock::new(|| {
    let client = ZapiClient::builder()
        .instance_id("3C01A2B3C4")
        .instance_token("TOKEN123")
        .client_token("acct-secret")
        .http_client(offline())
        .build()
        .expect("client");
    let group = ZapiChat::parse("120363019502650977-group").expect("group");
    let community = ZapiChat::parse("120363186053925765").expect("community");
    let phones: Vec<Handle> = vec![
        "+5544999999999".parse().expect("handle"),
        "+5544888888888".parse().expect("handle"),
    ];
    Ops {
        remove: [
            RemoveParticipants::new(client.config(), &group, &phones).expect("op"),
            RemoveParticipants::new(client.config(), &community, &phones).expect("op"),
        ],
        add: [
            AddParticipants::new(client.config(), &group, &phones).expect("op"),
            AddParticipants::new(client.config(), &community, &phones).expect("op"),
        ],
        leave: LeaveGroup::new(client.config(), &group).expect("op"),
        group: GetGroupMetadata::new(client.config(), &group).expect("op"),
        community: GetCommunityMetadata::new(client.config(), &community).expect("op"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::from_input(data) else {
        return;
    };
    let ops = &*OPS;
    let attempt = Attempt::first(now());
    // Z-API reports failures as 200 (`value: false`, `{"error": ..}`): a typed error on a 2xx
    // only when the body says so; any other 2xx is a value or a `Decode` error.
    let failed = says_failed(reply.body);
    let which = usize::from(reply.flag(0));
    check(
        "zapi",
        &reply,
        ops.remove[which].parse(reply.response(), &attempt),
        failed,
    );
    check(
        "zapi",
        &reply,
        ops.add[which].parse(reply.response(), &attempt),
        failed,
    );
    check(
        "zapi",
        &reply,
        ops.leave.parse(reply.response(), &attempt),
        failed,
    );
    check(
        "zapi",
        &reply,
        ops.group.parse(reply.response(), &attempt),
        failed,
    );
    check(
        "zapi",
        &reply,
        ops.community.parse(reply.response(), &attempt),
        failed,
    );
});

/// Whether a Z-API body reports a failure, as the provider notes describe it: an object whose
/// `value` (or `success`) is false — `false`, `"false"` in any case, or `0` — or that has a
/// non-null `error` member.
fn says_failed(body: &[u8]) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let falsy = |v: Option<&Value>| match v {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    };
    falsy(map.get("value"))
        || falsy(map.get("success"))
        || map.get("error").is_some_and(|e| !e.is_null())
}
