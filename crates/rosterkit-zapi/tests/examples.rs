//! The adapter's requests against Z-API's own request examples (`json-examples/`, copied into
//! `tests/fixtures/json-examples/`): method, URL, headers and body, sans-IO.
//!
//! Known, deliberate differences (zapi.md §7): `Client-Token` is always sent, also where an
//! example omits it (#2); `autoInvite` is always sent, also where the add example omits it
//! (#1), and first, in the key order of zapi.md's add example; reads send `Accept` and no
//! `Content-Type` (the community-metadata example sends `Content-Type` on a GET without body).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::SystemTime;

use rosterkit_core::{Attempt, Handle, Operation, http};
use rosterkit_zapi::{
    ZapiChat, ZapiClient,
    ops::{
        AddParticipants, GetCommunityMetadata, GetGroupMetadata, LeaveGroup, RemoveParticipants,
    },
};
use serde_json::Value;

/// A client whose URLs read like the examples' (`SUA_INSTANCIA` / `SEU_TOKEN`).
fn client() -> ZapiClient {
    ZapiClient::builder()
        .instance_id("SUA_INSTANCIA")
        .instance_token("SEU_TOKEN")
        .client_token("security-token")
        .build()
        .unwrap()
}

fn example(name: &str) -> Value {
    let text = match name {
        "remove-participant" => include_str!("fixtures/json-examples/remove-participant.json"),
        "remove-community-participant" => {
            include_str!("fixtures/json-examples/remove-community-participant.json")
        }
        "add-participant" => include_str!("fixtures/json-examples/add-participant.json"),
        "add-community-participant" => {
            include_str!("fixtures/json-examples/add-community-participant.json")
        }
        "leave-group" => include_str!("fixtures/json-examples/leave-group.json"),
        "get-group-metadata" => include_str!("fixtures/json-examples/get-group-metadata.json"),
        "get-light-group-metadata" => {
            include_str!("fixtures/json-examples/get-light-group-metadata.json")
        }
        "community-metadata" => include_str!("fixtures/json-examples/community-metadata.json"),
        other => panic!("no example {other}"),
    };
    serde_json::from_str(text).unwrap()
}

fn example_body(example: &Value) -> Option<Value> {
    example["postData"]["text"]
        .as_str()
        .map(|t| serde_json::from_str(t).unwrap())
}

fn example_headers(example: &Value) -> Vec<(String, String)> {
    example["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["name"].as_str().unwrap().to_ascii_lowercase(),
                h["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn build(op: &impl Operation) -> http::Request<rosterkit_core::Bytes> {
    op.build(&Attempt::first(SystemTime::now())).unwrap()
}

fn phones(body: &Value) -> Vec<Handle> {
    body["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("+{}", p.as_str().unwrap()).parse().unwrap())
        .collect()
}

/// Method, the example's exact URL (its `{idDaComunidade}` placeholder filled with a real
/// id), the example's headers (values too, but the Client-Token placeholder), and the body as
/// JSON equal to `expected_body`.
#[track_caller]
fn check(name: &str, request: &http::Request<rosterkit_core::Bytes>, expected_body: Option<Value>) {
    let example = example(name);
    assert_eq!(
        request.method().as_str(),
        example["method"].as_str().unwrap(),
        "{name}"
    );
    let url = example["url"]
        .as_str()
        .unwrap()
        .replace("{idDaComunidade}", "120363186053925765");
    assert_eq!(request.uri().to_string(), url, "{name}");
    for (header, value) in example_headers(&example) {
        if header == "content-type" && request.body().is_empty() {
            continue; // A GET without body: we send Accept instead.
        }
        let ours = request
            .headers()
            .get(&header)
            .unwrap_or_else(|| panic!("{name}: missing {header}"));
        if header != "client-token" {
            assert_eq!(ours, value.as_str(), "{name}: {header}");
        }
    }
    assert_eq!(
        request.headers()["client-token"],
        "security-token",
        "{name}"
    );
    match expected_body {
        Some(body) => {
            let ours: Value = serde_json::from_slice(request.body()).unwrap();
            assert_eq!(ours, body, "{name}");
        }
        None => assert!(request.body().is_empty(), "{name}"),
    }
}

#[test]
fn remove_examples() {
    let zapi = client();
    for name in ["remove-participant", "remove-community-participant"] {
        let body = example_body(&example(name)).unwrap();
        let chat = match (body["groupId"].as_str(), body["communityId"].as_str()) {
            (Some(group), None) => ZapiChat::parse(group).unwrap(),
            (None, Some(community)) => ZapiChat::community(community).unwrap(),
            other => panic!("{other:?}"),
        };
        let op = RemoveParticipants::new(zapi.config(), &chat, &phones(&body)).unwrap();
        check(name, &build(&op), Some(body));
    }
}

#[test]
fn add_examples() {
    let zapi = client();
    // The group example omits autoInvite: ours adds `"autoInvite": false` and nothing else.
    let mut body = example_body(&example("add-participant")).unwrap();
    let chat = ZapiChat::parse(body["groupId"].as_str().unwrap()).unwrap();
    let op = AddParticipants::new(zapi.config(), &chat, &phones(&body)).unwrap();
    let request = build(&op);
    body["autoInvite"] = Value::Bool(false);
    check("add-participant", &request, Some(body));
    assert_eq!(
        request.body().as_ref(),
        br#"{"autoInvite":false,"groupId":"5511999999999-1623281429","phones":["5511999999999"]}"#
    );

    let body = example_body(&example("add-community-participant")).unwrap();
    assert_eq!(body["autoInvite"], Value::Bool(true));
    let chat = ZapiChat::community(body["communityId"].as_str().unwrap()).unwrap();
    let op = AddParticipants::new(zapi.config(), &chat, &phones(&body))
        .unwrap()
        .auto_invite(true);
    let request = build(&op);
    check("add-community-participant", &request, Some(body));
    assert_eq!(
        request.body().as_ref(),
        br#"{"autoInvite":true,"communityId":"120363186053925765","phones":["5511999999999"]}"#
    );
}

#[test]
fn leave_example() {
    let body = example_body(&example("leave-group")).unwrap();
    let chat = ZapiChat::parse(body["groupId"].as_str().unwrap()).unwrap();
    let op = LeaveGroup::new(client().config(), &chat).unwrap();
    let request = build(&op);
    check("leave-group", &request, Some(body));
    assert_eq!(
        request.body().as_ref(),
        br#"{"groupId":"5511999999999-1623281429"}"#
    );
}

#[test]
fn metadata_examples() {
    let zapi = client();
    let group = ZapiChat::parse("5511999999999-1623281429").unwrap();
    let op = GetGroupMetadata::new(zapi.config(), &group)
        .unwrap()
        .detail(rosterkit_zapi::ops::MetadataDetail::Full);
    check("get-group-metadata", &build(&op), None);
    let light = ZapiChat::parse("123123123-group").unwrap();
    let op = GetGroupMetadata::new(zapi.config(), &light).unwrap();
    check("get-light-group-metadata", &build(&op), None);
    let community = ZapiChat::community("120363186053925765").unwrap();
    let op = GetCommunityMetadata::new(zapi.config(), &community).unwrap();
    check("community-metadata", &build(&op), None);
}
