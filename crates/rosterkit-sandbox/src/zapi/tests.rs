//! The Z-API emulator over real HTTP: check order, exact replies, batch semantics, metadata
//! shapes, the control plane and the journal.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::{Fault, Provider, Sandbox};

const PREFIX: &str = "/zapi/instances/3C01A2B3C4/token/TOKEN123";
const JSON: (&str, &str) = ("content-type", "application/json");
const TOKEN: (&str, &str) = ("client-token", "acct-secret");

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends exactly these bytes on a fresh connection and reads the whole reply.
async fn send(
    sandbox: &Sandbox,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\n{}connection: close\r\n",
        crate::control::test_host_lines(sandbox.addr(), target, body.len())
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&raw[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[line_end + 2..line_end + 2 + size]);
        raw = &raw[line_end + 4 + size..];
    }
}

async fn post(sandbox: &Sandbox, op: &str, body: &Value) -> Reply {
    send(
        sandbox,
        "POST",
        &format!("{PREFIX}/{op}"),
        &[TOKEN, JSON],
        body.to_string().as_bytes(),
    )
    .await
}

async fn get(sandbox: &Sandbox, path: &str) -> Reply {
    send(sandbox, "GET", &format!("{PREFIX}/{path}"), &[TOKEN], b"").await
}

fn assert_value(reply: &Reply, value: bool) {
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), format!(r#"{{"value":{value}}}"#));
}

fn assert_error(reply: &Reply, status: u16, text: &str) {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({ "error": text }));
}

#[tokio::test]
async fn checks_in_documented_order() {
    let sandbox = Sandbox::start().await.unwrap();
    let group = sandbox.zapi().create_group(&["5544999999999"]);
    let body = json!({"groupId": group, "phones": ["5544999999999"]}).to_string();
    let body = body.as_bytes();

    let wrong_token = "/zapi/instances/3C01A2B3C4/token/WRONG/remove-participant";
    let r = send(&sandbox, "POST", wrong_token, &[TOKEN, JSON], body).await;
    assert_error(&r, 401, "invalid instance or token");
    let wrong_id = "/zapi/instances/NOPE/token/TOKEN123/remove-participant";
    let r = send(&sandbox, "POST", wrong_id, &[TOKEN, JSON], body).await;
    assert_error(&r, 401, "invalid instance or token");

    let path = format!("{PREFIX}/remove-participant");
    let r = send(&sandbox, "POST", &path, &[JSON], body).await;
    assert_error(&r, 401, "null not allowed");
    let r = send(
        &sandbox,
        "POST",
        &path,
        &[("client-token", "nope"), JSON],
        body,
    )
    .await;
    assert_error(&r, 401, "null not allowed");

    let r = send(&sandbox, "GET", &path, &[TOKEN], b"").await;
    assert_eq!((r.status, r.body.len()), (405, 0));
    let r = send(
        &sandbox,
        "POST",
        &format!("{PREFIX}/light-group-metadata/{group}"),
        &[TOKEN, JSON],
        b"{}",
    )
    .await;
    assert_eq!((r.status, r.body.len()), (405, 0));
    let r = send(&sandbox, "POST", &path, &[TOKEN], body).await;
    assert_eq!((r.status, r.body.len()), (415, 0));
    let r = send(
        &sandbox,
        "POST",
        &path,
        &[TOKEN, ("content-type", "text/plain")],
        body,
    )
    .await;
    assert_eq!((r.status, r.body.len()), (415, 0));

    let r = send(
        &sandbox,
        "POST",
        &format!("{PREFIX}/nope"),
        &[TOKEN, JSON],
        body,
    )
    .await;
    assert_error(&r, 404, "not found");
    let r = send(&sandbox, "GET", "/zapi/other", &[TOKEN], b"").await;
    assert_error(&r, 404, "not found");

    let r = send(&sandbox, "POST", &path, &[TOKEN, JSON], b"[1]").await;
    assert_eq!(r.status, 400);
    let r = post(&sandbox, "remove-participant", &json!({"phones": []})).await;
    assert_error(&r, 400, "groupId or communityId is required");

    // Nothing changed so far; the parameters of the content type are fine.
    assert_eq!(sandbox.journal().effects(), Vec::<String>::new());
    let r = send(
        &sandbox,
        "POST",
        &path,
        &[TOKEN, ("content-type", "application/json; charset=utf-8")],
        body,
    )
    .await;
    assert_value(&r, true);
    assert_eq!(
        sandbox.journal().effects(),
        vec![format!("zapi:remove {group} 5544999999999")]
    );
    assert_eq!(
        sandbox.zapi().members(&group).unwrap(),
        vec![DEFAULT_CONNECTED_PHONE]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn batches_fail_as_a_whole_but_keep_what_succeeded() {
    let sandbox = Sandbox::start().await.unwrap();
    let zapi = sandbox.zapi();
    let group = zapi.create_group(&["5544999999999", "5544888888888"]);

    // One member and one stranger: value false, the member is gone anyway.
    let r = post(
        &sandbox,
        "remove-participant",
        &json!({"groupId": group, "phones": ["5544999999999", "5544777777777"]}),
    )
    .await;
    assert_value(&r, false);
    assert_eq!(
        zapi.members(&group).unwrap(),
        vec![DEFAULT_CONNECTED_PHONE, "5544888888888"]
    );
    // The connected number cannot remove itself; malformed phones fail.
    for phone in [DEFAULT_CONNECTED_PHONE, "+5544888888888x", "12"] {
        let r = post(
            &sandbox,
            "remove-participant",
            &json!({"groupId": group, "phones": [phone]}),
        )
        .await;
        assert_value(&r, false);
    }

    // Adds: an existing member fails, a new one is added.
    let r = post(
        &sandbox,
        "add-participant",
        &json!({"autoInvite": false, "groupId": group, "phones": ["5544888888888", "5544777777777"]}),
    )
    .await;
    assert_value(&r, false);
    assert!(
        zapi.members(&group)
            .unwrap()
            .contains(&"5544777777777".to_owned())
    );

    // Not a contact: refused, or invited with autoInvite (missing autoInvite is false).
    zapi.set_contact("+5544666666666", false);
    let r = post(
        &sandbox,
        "add-participant",
        &json!({"groupId": group, "phones": ["5544666666666"]}),
    )
    .await;
    assert_value(&r, false);
    let r = post(
        &sandbox,
        "add-participant",
        &json!({"autoInvite": true, "groupId": group, "phones": ["5544666666666"]}),
    )
    .await;
    assert_value(&r, true);
    assert_eq!(zapi.invites(&group), vec!["5544666666666"]);
    assert!(
        !zapi
            .members(&group)
            .unwrap()
            .contains(&"5544666666666".to_owned())
    );
    zapi.set_contact("5544666666666", true);
    let r = post(
        &sandbox,
        "add-participant",
        &json!({"groupId": group, "phones": ["5544666666666"]}),
    )
    .await;
    assert_value(&r, true);

    // Unknown group; a group where the connected number is not an admin.
    let r = post(
        &sandbox,
        "remove-participant",
        &json!({"groupId": "1-group", "phones": ["5544888888888"]}),
    )
    .await;
    assert_value(&r, false);
    let plain = zapi.create_group_with(ZapiGroupSeed {
        connected_admin: false,
        ..ZapiGroupSeed::with_members(&["5544888888888"])
    });
    let r = post(
        &sandbox,
        "remove-participant",
        &json!({"groupId": plain, "phones": ["5544888888888"]}),
    )
    .await;
    assert_value(&r, false);
    assert_eq!(zapi.members(&plain).unwrap().len(), 2);

    let effects = sandbox.journal().effects();
    assert_eq!(
        effects,
        vec![
            format!("zapi:remove {group} 5544999999999"),
            format!("zapi:add {group} 5544777777777"),
            format!("zapi:invite {group} 5544666666666"),
            format!("zapi:add {group} 5544666666666"),
        ]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn metadata_shapes_are_exact() {
    let sandbox = Sandbox::start().await.unwrap();
    let zapi = sandbox.zapi();
    let group = zapi.create_group_with(ZapiGroupSeed {
        id: Some("120363019502650977-group".into()),
        subject: "My group".into(),
        admins: vec!["5511777777777".into()],
        ..ZapiGroupSeed::with_members(&["+5511888888888", "5511777777777"])
    });
    let created = zapi.group(&group).unwrap().creation;

    let light = get(&sandbox, &format!("light-group-metadata/{group}")).await;
    assert_eq!(light.status, 200);
    assert_eq!(
        light.text(),
        format!(
            concat!(
                r#"{{"phone":"120363019502650977-group","owner":"5511999999999","subject":"My group","#,
                r#""creation":{c},"invitationLink":null,"invitationLinkError":null,"communityId":null,"#,
                r#""adminOnlyMessage":false,"adminOnlySettings":false,"requireAdminApproval":false,"#,
                r#""isGroupAnnouncement":false,"participants":["#,
                r#"{{"phone":"5511999999999","isAdmin":true,"isSuperAdmin":true}},"#,
                r#"{{"phone":"5511888888888","isAdmin":false,"isSuperAdmin":false}},"#,
                r#"{{"phone":"5511777777777","isAdmin":true,"isSuperAdmin":false}}],"#,
                r#""subjectTime":{c},"subjectOwner":"5511999999999"}}"#
            ),
            c = created
        )
    );
    let full = get(&sandbox, &format!("group-metadata/{group}"))
        .await
        .json();
    assert!(
        full["invitationLink"]
            .as_str()
            .unwrap()
            .starts_with("https://chat.whatsapp.com/")
    );
    assert_eq!(full["participants"], light.json()["participants"]);

    let r = get(&sandbox, "light-group-metadata/1-group").await;
    assert_error(&r, 404, "group not found");
    let r = get(&sandbox, "communities-metadata/123").await;
    assert_error(&r, 404, "group not found");

    // Community: announcement sub-group + a linked group.
    let community = zapi.create_community_with(ZapiCommunitySeed {
        id: Some("120363186053925765".into()),
        name: "Community".into(),
        description: "d".into(),
        members: vec!["5544999999999".into()],
        sub_groups: vec![group.clone()],
        ..ZapiCommunitySeed::default()
    });
    let announcement = zapi
        .community(&community)
        .unwrap()
        .announcement_group
        .unwrap();
    let meta = get(&sandbox, &format!("communities-metadata/{community}")).await;
    assert_eq!(
        meta.text(),
        format!(
            r#"{{"name":"Community","id":"120363186053925765","description":"d","subGroups":[{{"name":"Community","phone":"{announcement}","isGroupAnnouncement":true}},{{"name":"My group","phone":"120363019502650977-group","isGroupAnnouncement":false}}]}}"#
        )
    );
    let ann = get(&sandbox, &format!("light-group-metadata/{announcement}"))
        .await
        .json();
    assert_eq!(ann["isGroupAnnouncement"], json!(true));
    assert_eq!(ann["communityId"], json!("120363186053925765"));
    assert_eq!(
        zapi.members(&community).unwrap(),
        vec![DEFAULT_CONNECTED_PHONE, "5544999999999"]
    );
    assert_eq!(
        get(&sandbox, &format!("light-group-metadata/{group}"))
            .await
            .json()["communityId"],
        json!("120363186053925765")
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn communities_change_their_announcement_group() {
    let sandbox = Sandbox::start().await.unwrap();
    let zapi = sandbox.zapi();
    let community = zapi.create_community(&["5544999999999", "5544888888888"]);
    let r = post(
        &sandbox,
        "remove-participant",
        &json!({"communityId": community, "phones": ["5544999999999", "5544888888888"]}),
    )
    .await;
    assert_value(&r, true);
    assert_eq!(
        zapi.members(&community).unwrap(),
        vec![DEFAULT_CONNECTED_PHONE]
    );
    let r = post(
        &sandbox,
        "add-participant",
        &json!({"communityId": community, "phones": ["5544777777777"], "autoInvite": true}),
    )
    .await;
    assert_value(&r, true);
    assert_eq!(
        sandbox.journal().effects(),
        vec![
            format!("zapi:remove {community} 5544999999999"),
            format!("zapi:remove {community} 5544888888888"),
            format!("zapi:add {community} 5544777777777"),
        ]
    );
    // Without an announcement group there is nothing to change.
    let bare = zapi.create_community_with(ZapiCommunitySeed {
        announcement: false,
        ..ZapiCommunitySeed::default()
    });
    let r = post(
        &sandbox,
        "remove-participant",
        &json!({"communityId": bare, "phones": ["5544777777777"]}),
    )
    .await;
    assert_value(&r, false);
    assert_eq!(zapi.members(&bare), None);
    let meta = get(&sandbox, &format!("communities-metadata/{bare}"))
        .await
        .json();
    assert_eq!(meta["subGroups"], json!([]));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn leave_and_disconnected_instance() {
    let sandbox = Sandbox::start().await.unwrap();
    let zapi = sandbox.zapi();
    let group = zapi.create_group(&["5544999999999"]);
    let r = post(&sandbox, "leave-group", &json!({"groupId": group})).await;
    assert_value(&r, true);
    assert_eq!(zapi.members(&group).unwrap(), vec!["5544999999999"]);
    // Leaving twice, an unknown group, a community id.
    let r = post(&sandbox, "leave-group", &json!({"groupId": group})).await;
    assert_value(&r, false);
    let r = post(&sandbox, "leave-group", &json!({"groupId": "1-group"})).await;
    assert_value(&r, false);
    let r = post(&sandbox, "leave-group", &json!({"communityId": "1"})).await;
    assert_error(&r, 400, "groupId is required");
    // The group is gone for this instance.
    let r = get(&sandbox, &format!("light-group-metadata/{group}")).await;
    assert_error(&r, 404, "group not found");
    assert_eq!(
        sandbox.journal().effects(),
        vec![format!("zapi:leave {group}")]
    );

    let other = zapi.create_group(&["5544999999999"]);
    zapi.set_connected(false);
    assert!(!zapi.is_connected());
    for reply in [
        post(
            &sandbox,
            "remove-participant",
            &json!({"groupId": other, "phones": ["5544999999999"]}),
        )
        .await,
        post(
            &sandbox,
            "add-participant",
            &json!({"groupId": other, "phones": ["5544777777777"]}),
        )
        .await,
        post(&sandbox, "leave-group", &json!({"groupId": other})).await,
        get(&sandbox, &format!("light-group-metadata/{other}")).await,
        get(&sandbox, &format!("group-metadata/{other}")).await,
    ] {
        assert_value(&reply, false);
    }
    assert_eq!(zapi.members(&other).unwrap().len(), 2);
    // Auth still comes first.
    let r = send(
        &sandbox,
        "GET",
        &format!("{PREFIX}/light-group-metadata/{other}"),
        &[],
        b"",
    )
    .await;
    assert_error(&r, 401, "null not allowed");
    zapi.set_connected(true);
    assert_eq!(
        get(&sandbox, &format!("light-group-metadata/{other}"))
            .await
            .status,
        200
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn control_plane_info_and_faults() {
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().zapi;
    assert_eq!(info.base_url, format!("{}/zapi", sandbox.base_url()));
    assert_eq!(
        (
            info.instance_id.as_str(),
            info.instance_token.as_str(),
            info.client_token.as_str()
        ),
        (
            DEFAULT_INSTANCE_ID,
            DEFAULT_INSTANCE_TOKEN,
            DEFAULT_CLIENT_TOKEN
        )
    );
    let over_http = send(&sandbox, "GET", "/_sandbox/info", &[], b"")
        .await
        .json();
    assert_eq!(over_http["zapi"]["instance_token"], json!("TOKEN123"));

    let r = send(
        &sandbox,
        "POST",
        "/_sandbox/zapi/groups",
        &[JSON],
        br#"{"id":"5511999999999-1623281429","members":["+5544999999999"]}"#,
    )
    .await;
    assert_eq!(
        (r.status, r.json()),
        (201, json!({"id": "5511999999999-1623281429"}))
    );
    let g = send(
        &sandbox,
        "GET",
        "/_sandbox/zapi/groups/5511999999999-1623281429",
        &[],
        b"",
    )
    .await;
    assert_eq!(g.json()["participants"][1]["phone"], json!("5544999999999"));
    assert_eq!(
        send(&sandbox, "GET", "/_sandbox/zapi/groups/nope", &[], b"")
            .await
            .status,
        404
    );
    let r = send(
        &sandbox,
        "POST",
        "/_sandbox/zapi/communities",
        &[JSON],
        br#"{"members":["5544888888888"]}"#,
    )
    .await;
    assert_eq!(r.status, 201);
    let community = r.json()["id"].as_str().unwrap().to_owned();
    assert!(
        r.json()["announcement_group"]
            .as_str()
            .unwrap()
            .ends_with("-group")
    );
    let c = send(
        &sandbox,
        "GET",
        &format!("/_sandbox/zapi/communities/{community}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(c.json()["id"], json!(community));

    let r = send(
        &sandbox,
        "PUT",
        "/_sandbox/zapi/connection",
        &[JSON],
        br#"{"connected":false}"#,
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(!sandbox.zapi().is_connected());
    let r = send(
        &sandbox,
        "PUT",
        "/_sandbox/zapi/contacts/5544777777777",
        &[JSON],
        br#"{"contact":false}"#,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = send(
        &sandbox,
        "PUT",
        "/_sandbox/zapi/credentials",
        &[JSON],
        br#"{"client_token":"rotated"}"#,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(sandbox.zapi().client_token(), "rotated");
    assert_eq!(sandbox.info().zapi.client_token, "rotated");
    let r = send(
        &sandbox,
        "PUT",
        "/_sandbox/zapi/credentials",
        &[JSON],
        br#"{"oops":1}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    sandbox
        .zapi()
        .set_credentials(None, None, Some(DEFAULT_CLIENT_TOKEN));
    sandbox.zapi().set_connected(true);

    // Faults answer before the emulator and are journaled under "zapi".
    sandbox.faults().inject(
        Fault::new(Provider::Zapi, FaultAction::zapi_value(false))
            .path_contains("/remove-participant"),
    );
    sandbox.faults().inject(Fault::new(
        Provider::Zapi,
        FaultAction::zapi_error(StatusCode::FORBIDDEN, "[IP request] not allowed"),
    ));
    let group = sandbox.zapi().create_group(&["5544999999999"]);
    let r = post(
        &sandbox,
        "remove-participant",
        &json!({"groupId": group, "phones": ["5544999999999"]}),
    )
    .await;
    assert_value(&r, false);
    let r = get(&sandbox, &format!("light-group-metadata/{group}")).await;
    assert_error(&r, 403, "[IP request] not allowed");
    let entries = sandbox.journal().entries_for(Provider::Zapi);
    let last = entries.last().unwrap();
    assert_eq!(last.path, format!("{PREFIX}/light-group-metadata/{group}"));
    assert_eq!(last.header("client-token"), Some("acct-secret"));
    assert!(sandbox.journal().effects().is_empty());
    sandbox.shutdown().await;
}
