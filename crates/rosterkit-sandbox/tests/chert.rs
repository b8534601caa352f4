//! The Chert emulator over real HTTP: auth, operations, errors and check order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.

mod common;

use common::{Chert, FOUR, PREFIX, send};
use rosterkit_sandbox::Sandbox;
use rosterkit_sandbox::chert::{ChertChatSeed, DEFAULT_SIGNING_SECRET};
use serde_json::{Value, json};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const T0: u64 = 1_700_000_000;
/// Contract §8 A/B: `v1,1700000000,…` over `"1700000000."` with the ASCII key.
const SIG_EMPTY_T0: &str =
    "v1,1700000000,6d033471ca61b72c721ec8c18ea70b31ea9ee2c7aab01ae0fa01bc68c1579648";

/// A sandbox with tenant `acme` (the §8 secret), the clock pinned at `T0`, and chat
/// `ch_01HTEST` = line + `+14155550100`, `+14155550200`, `+14155550300`, `+14155551234`.
async fn vectors_sandbox() -> Sandbox {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.chert().add_tenant("acme", SECRET);
    sandbox.pin_clock(Some(T0));
    sandbox.chert().create_chat(ChertChatSeed {
        id: Some("ch_01HTEST".into()),
        ..ChertChatSeed::group(&FOUR)
    });
    sandbox
}

async fn acme(
    sandbox: &Sandbox,
    method: &str,
    path: &str,
    signature: &str,
    body: &[u8],
) -> common::Reply {
    send(
        sandbox.addr(),
        method,
        &format!("{PREFIX}{path}"),
        &[("x-chert-tenant", "acme"), ("x-chert-signature", signature)],
        body,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn known_answer_remove_and_leave_share_one_signature() {
    let sandbox = vectors_sandbox().await;
    assert_eq!(DEFAULT_SIGNING_SECRET, SECRET);

    // A: exact request and exact success body.
    let reply = acme(
        &sandbox,
        "DELETE",
        "/chats/ch_01HTEST/participants/%2B14155551234",
        SIG_EMPTY_T0,
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.text(),
        r#"{"chat_id":"ch_01HTEST","removed":"+14155551234","participants":["+14155550100","+14155550200","+14155550300"]}"#
    );
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.header("x-trace-id").is_some_and(|t| !t.is_empty()));

    // B: the same header value is valid for leave (signatures are not bound to a route).
    let reply = acme(
        &sandbox,
        "POST",
        "/chats/ch_01HTEST/leave",
        SIG_EMPTY_T0,
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), r#"{"chat_id":"ch_01HTEST","status":"left"}"#);
    assert!(reply.header("x-trace-id").is_some());
    assert!(sandbox.chert().has_left("ch_01HTEST"));
}

#[tokio::test]
async fn known_answer_add_with_address_and_handle_alias() {
    let sandbox = vectors_sandbox().await;
    sandbox.chert().create_chat(ChertChatSeed {
        id: Some("ch_01HTEST".into()),
        ..ChertChatSeed::group(&["+14155550100", "+14155550200"])
    });
    let sig = "v1,1700000000,72565e0db38544f92a6d0d1c12198d9862498db168d402773d1eea04f429b511";
    let reply = acme(
        &sandbox,
        "POST",
        "/chats/ch_01HTEST/participants",
        sig,
        br#"{"address":"+14155551234"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.text(),
        r#"{"chat_id":"ch_01HTEST","added":"+14155551234","participants":["+14155550100","+14155550200","+14155551234"]}"#
    );

    let sig = "v1,1700000000,b4f95deeb7519c302e3cc08df666185d5071db8c4da8b818d7065de44d8882ed";
    let reply = acme(
        &sandbox,
        "POST",
        "/chats/ch_01HTEST/participants",
        sig,
        br#"{"handle":"alice@example.com"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["added"], "alice@example.com");
    assert_eq!(reply.json()["participants"].as_array().unwrap().len(), 4);
}

/// `v1,<ts>,<hex>` over `signed`, computed here on `hmac`/`sha2` (neither rosterkit-sign nor
/// the emulator's own code).
fn sign_string(ts: u64, signed: &[u8]) -> String {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(signed);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1,{ts},{hex}")
}

/// The emulator checks the signed string's layout itself: `"<ts>:<body>"` (a colon where the
/// contract has a dot) is refused with 401/2004 and changes nothing; `"<ts>.<body>"` passes.
#[tokio::test]
async fn a_wrong_signed_string_layout_is_refused() {
    let sandbox = vectors_sandbox().await;
    let body = br#"{"address":"+14155550999"}"#;
    let layout = |sep: &str| [format!("{T0}{sep}").as_bytes(), body].concat();
    let wrong = sign_string(T0, &layout(":"));
    let reply = acme(
        &sandbox,
        "POST",
        "/chats/ch_01HTEST/participants",
        &wrong,
        body,
    )
    .await;
    reply.assert_chert_error(401, 2004, false);
    assert!(
        !sandbox
            .chert()
            .members("ch_01HTEST")
            .unwrap()
            .contains(&"+14155550999".to_owned())
    );
    let right = sign_string(T0, &layout("."));
    let reply = acme(
        &sandbox,
        "POST",
        "/chats/ch_01HTEST/participants",
        &right,
        body,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // Bodiless: `"<ts>:"` against the contract's `"<ts>."` (§8 A).
    let wrong = sign_string(T0, format!("{T0}:").as_bytes());
    let reply = acme(&sandbox, "POST", "/chats/ch_01HTEST/leave", &wrong, b"").await;
    reply.assert_chert_error(401, 2004, false);
    assert_eq!(sign_string(T0, format!("{T0}.").as_bytes()), SIG_EMPTY_T0);
}

#[tokio::test]
async fn hex_decoded_key_is_a_bad_signature() {
    let sandbox = vectors_sandbox().await;
    let sig = "v1,1700000000,24f2385989b79a03d37b147a39a018c818efd7b4984014bb4158204d866fb88e";
    let reply = acme(
        &sandbox,
        "DELETE",
        "/chats/ch_01HTEST/participants/%2B14155551234",
        sig,
        b"",
    )
    .await;
    reply.assert_chert_error(401, 2004, false);
    assert_eq!(sandbox.chert().members("ch_01HTEST").unwrap().len(), 4);
}

#[tokio::test]
async fn window_is_300_seconds_each_way() {
    let sandbox = vectors_sandbox().await;
    // §8 D: a correct signature at T0 + 301 against a server clock at T0.
    let sig = "v1,1700000301,bc5c638fc3e9ff6b11d62bc47e298caf8baefda7a08e655dd83bb562a5c539a4";
    assert_eq!(
        rosterkit_sandbox::chert::request_signature(SECRET, T0 + 301, b""),
        sig
    );
    let reply = acme(&sandbox, "POST", "/chats/ch_01HTEST/leave", sig, b"").await;
    let body = reply.assert_chert_error(401, 2013, false);
    assert_eq!(
        body["error"]["message"],
        "timestamp outside the 5 minute window"
    );

    let past = rosterkit_sandbox::chert::request_signature(SECRET, T0 - 301, b"");
    acme(&sandbox, "POST", "/chats/ch_01HTEST/leave", &past, b"")
        .await
        .assert_chert_error(401, 2013, false);
    assert!(!sandbox.chert().has_left("ch_01HTEST"));

    // ±300 exactly is accepted (two bodiless calls: remove, then leave).
    let future = rosterkit_sandbox::chert::request_signature(SECRET, T0 + 300, b"");
    let reply = acme(
        &sandbox,
        "DELETE",
        "/chats/ch_01HTEST/participants/%2B14155551234",
        &future,
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let past = rosterkit_sandbox::chert::request_signature(SECRET, T0 - 300, b"");
    let reply = acme(&sandbox, "POST", "/chats/ch_01HTEST/leave", &past, b"").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn clock_offset_skews_the_server_both_ways() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let chert = Chert::new(&sandbox);
    let header = rosterkit_sandbox::chert::request_signature(SECRET, sandbox.now_unix(), b"");
    let headers = [
        ("x-chert-tenant", "sandbox"),
        ("x-chert-signature", header.as_str()),
    ];
    let path = format!("{PREFIX}/chats/{chat}/participants/%2B14155551234");

    for offset in [600, -600] {
        sandbox.set_clock_offset_secs(offset);
        assert_eq!(sandbox.clock_offset_secs(), offset);
        let reply = send(sandbox.addr(), "DELETE", &path, &headers, b"")
            .await
            .unwrap();
        reply.assert_chert_error(401, 2013, false);
    }
    sandbox.set_clock_offset_secs(0);
    let reply = send(sandbox.addr(), "DELETE", &path, &headers, b"")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());

    // A client whose clock is off by as much as the server's offset is fine.
    sandbox.set_clock_offset_secs(-3600);
    let reply = chert.leave(&chat).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn tampered_body_and_malformed_headers_are_2004() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let path = format!("{PREFIX}/chats/{chat}/participants");
    let now = sandbox.now_unix();
    let signed_for =
        rosterkit_sandbox::chert::request_signature(SECRET, now, br#"{"address":"+14155550999"}"#);
    let tampered = br#"{"address":"+14155550998"}"#;
    let reply = send(
        sandbox.addr(),
        "POST",
        &path,
        &[
            ("x-chert-tenant", "sandbox"),
            ("x-chert-signature", &signed_for),
        ],
        tampered,
    )
    .await
    .unwrap();
    reply.assert_chert_error(401, 2004, false);

    let hex = signed_for.rsplit(',').next().unwrap();
    for malformed in [
        "garbage".to_owned(),
        format!("v1,{now}"),
        format!("v2,{now},{hex}"),
        format!("v1,abc,{hex}"),
        format!("v1,-{now},{hex}"),
        format!("v1,{now},{hex},extra"),
        format!("t={now},v1={hex}"), // the webhook form is not a request signature
    ] {
        let reply = send(
            sandbox.addr(),
            "POST",
            &path,
            &[
                ("x-chert-tenant", "sandbox"),
                ("x-chert-signature", &malformed),
            ],
            br#"{"address":"+14155550999"}"#,
        )
        .await
        .unwrap();
        reply.assert_chert_error(401, 2004, false);
    }
    assert_eq!(sandbox.chert().members(&chat).unwrap().len(), 4);
    assert!(sandbox.journal().effects().is_empty());
}

#[tokio::test]
async fn signature_needs_a_known_tenant() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let sig = sandbox.chert().sign_now(b"");
    let path = format!("{PREFIX}/chats/{chat}/leave");

    let reply = send(
        sandbox.addr(),
        "POST",
        &path,
        &[("x-chert-signature", &sig)],
        b"",
    )
    .await
    .unwrap();
    reply.assert_chert_error(401, 2012, false);

    let reply = send(
        sandbox.addr(),
        "POST",
        &path,
        &[("x-chert-tenant", "nope"), ("x-chert-signature", &sig)],
        b"",
    )
    .await
    .unwrap();
    reply.assert_chert_error(404, 2001, false);

    let bearer = format!("Bearer {SECRET}");
    let reply = send(
        sandbox.addr(),
        "POST",
        &path,
        &[("x-chert-tenant", "nope"), ("authorization", &bearer)],
        b"",
    )
    .await
    .unwrap();
    reply.assert_chert_error(404, 2001, false);
    assert!(!sandbox.chert().has_left(&chat));
}

#[tokio::test]
async fn bearer_auth() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let path = format!("{PREFIX}/chats/{chat}/participants/%2B14155551234");

    for bad in [
        "Bearer wrong",
        "Basic MDEyMzQ1Njc4OWFiY2RlZg==",
        "Bearer",
        SECRET,
    ] {
        let reply = send(
            sandbox.addr(),
            "DELETE",
            &path,
            &[("authorization", bad)],
            b"",
        )
        .await
        .unwrap();
        reply.assert_chert_error(401, 2004, false);
    }
    // A secret of another tenant is wrong for this one.
    sandbox
        .chert()
        .add_tenant("other", "ffffffffffffffffffffffffffffffff");
    let reply = send(
        sandbox.addr(),
        "DELETE",
        &path,
        &[
            ("x-chert-tenant", "other"),
            ("authorization", &format!("Bearer {SECRET}")),
        ],
        b"",
    )
    .await
    .unwrap();
    reply.assert_chert_error(401, 2004, false);

    let reply = send(
        sandbox.addr(),
        "DELETE",
        &path,
        &[
            ("x-chert-tenant", "sandbox"),
            ("authorization", &format!("Bearer {SECRET}")),
        ],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());

    // Tenant optional.
    let reply = Chert::new(&sandbox)
        .bearer("POST", &format!("/chats/{chat}/leave"), b"")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(sandbox.journal().effects().len(), 2);
}

#[tokio::test]
async fn no_credentials_is_2012() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let path = format!("{PREFIX}/chats/{chat}/leave");
    send(sandbox.addr(), "POST", &path, &[], b"")
        .await
        .unwrap()
        .assert_chert_error(401, 2012, false);
    send(
        sandbox.addr(),
        "POST",
        &path,
        &[("x-chert-tenant", "sandbox")],
        b"",
    )
    .await
    .unwrap()
    .assert_chert_error(401, 2012, false);
}

#[tokio::test]
async fn signature_decides_when_both_are_sent() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let path = format!("{PREFIX}/chats/{chat}/participants/%2B14155551234");
    let good_bearer = format!("Bearer {SECRET}");
    let bad_sig = format!("v1,{},{}", sandbox.now_unix(), "0".repeat(64));
    let reply = send(
        sandbox.addr(),
        "DELETE",
        &path,
        &[
            ("x-chert-tenant", "sandbox"),
            ("x-chert-signature", &bad_sig),
            ("authorization", &good_bearer),
        ],
        b"",
    )
    .await
    .unwrap();
    reply.assert_chert_error(401, 2004, false);

    let good_sig = sandbox.chert().sign_now(b"");
    let reply = send(
        sandbox.addr(),
        "DELETE",
        &path,
        &[
            ("x-chert-tenant", "sandbox"),
            ("x-chert-signature", &good_sig),
            ("authorization", "Bearer wrong"),
        ],
        b"",
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn settable_secret() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    sandbox
        .chert()
        .set_signing_secret("fedcba9876543210fedcba9876543210");
    assert_eq!(
        sandbox.info().chert.signing_secret,
        "fedcba9876543210fedcba9876543210"
    );
    let stale = format!("Bearer {SECRET}");
    let path = format!("{PREFIX}/chats/{chat}/leave");
    send(
        sandbox.addr(),
        "POST",
        &path,
        &[("authorization", &stale)],
        b"",
    )
    .await
    .unwrap()
    .assert_chert_error(401, 2004, false);
    let reply = Chert::new(&sandbox).leave(&chat).await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn remove_is_not_idempotent_and_checks_membership() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
        "+14155550500",
    ]);
    let chert = Chert::new(&sandbox);

    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["removed"], "+14155551234");
    let reply = chert.remove(&chat, "%2B14155551234").await.unwrap();
    let body = reply.assert_chert_error(400, 1001, false);
    assert!(body["error"].get("retry_after").is_none());
    assert!(reply.header("retry-after").is_none());

    chert
        .remove(&chat, "%2B19999999999")
        .await
        .unwrap()
        .assert_chert_error(400, 1001, false);
    // An empty address segment is "address missing", the same code.
    chert
        .remove(&chat, "")
        .await
        .unwrap()
        .assert_chert_error(400, 1001, false);
    assert_eq!(
        sandbox.journal().effects(),
        vec![format!("chert:remove {chat} +14155551234")]
    );
}

#[tokio::test]
async fn literal_plus_is_not_a_space_and_emails_decode() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155551234",
        "Alice@Example.com",
        "bob@example.com",
    ]);
    let chert = Chert::new(&sandbox);

    let reply = chert.remove(&chat, "+14155551234").await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["removed"], "+14155551234");

    let reply = chert.remove(&chat, "ALICE%40EXAMPLE.COM").await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["removed"], "alice@example.com");

    let reply = chert.remove(&chat, "bob@example.com").await.unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["participants"],
        json!(["+14155550100", "+14155550200"])
    );

    // A space-decoded plus is a different (absent) address.
    let chat = sandbox.chert().create_group(&FOUR);
    chert
        .remove(&chat, "%2014155551234")
        .await
        .unwrap()
        .assert_chert_error(400, 1001, false);
    let entry = sandbox.journal().last().unwrap();
    assert_eq!(
        entry.path,
        format!("{PREFIX}/chats/{chat}/participants/%2014155551234")
    );
}

#[tokio::test]
async fn remove_at_the_floor_is_1002() {
    let sandbox = Sandbox::start().await.unwrap();
    // §8 E: line + two members.
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200"]);
    let reply = Chert::new(&sandbox)
        .remove(&chat, "%2B14155550200")
        .await
        .unwrap();
    let body = reply.assert_chert_error(400, 1002, false);
    let trace = body["trace_id"].clone();
    assert_eq!(
        body,
        json!({"success":false,"error":{"status":400,"code":1002,"message":"group is at the minimum size of 3","retryable":false},"trace_id":trace})
    );
    // Exactly the documented key order.
    assert!(
        reply
            .text()
            .starts_with(r#"{"success":false,"error":{"status":400,"code":1002,"message":"#)
    );
    // Line + three members: the last allowed removal.
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200", "+14155550300"]);
    let reply = Chert::new(&sandbox)
        .remove(&chat, "%2B14155550300")
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    Chert::new(&sandbox)
        .remove(&chat, "%2B14155550200")
        .await
        .unwrap()
        .assert_chert_error(400, 1002, false);
}

#[tokio::test]
async fn leave_needs_four_and_then_answers_1006() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    let small = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200"]);
    chert
        .leave(&small)
        .await
        .unwrap()
        .assert_chert_error(400, 1002, false);
    assert!(!sandbox.chert().has_left(&small));

    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200", "+14155550300"]);
    let reply = chert.leave(&chat).await.unwrap();
    assert_eq!(reply.status, 200);
    assert!(sandbox.chert().has_left(&chat));
    // A left chat answers 1006 to everything.
    chert
        .leave(&chat)
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
    chert
        .remove(&chat, "%2B14155550100")
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
    chert
        .add(&chat, r#"{"address":"+14155550999"}"#)
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
    assert_eq!(
        sandbox.journal().effects(),
        vec![format!("chert:leave {chat}")]
    );
}

#[tokio::test]
async fn dm_is_1006_everywhere() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    let dm = sandbox.chert().create_dm("+14155550100");
    chert
        .remove(&dm, "%2B14155550100")
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
    chert
        .leave(&dm)
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
    chert
        .add(&dm, r#"{"address":"+14155550999"}"#)
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
}

#[tokio::test]
async fn unknown_chat_is_404_2002() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    chert
        .remove("ch_NOPE", "%2B14155550100")
        .await
        .unwrap()
        .assert_chert_error(404, 2002, false);
    chert
        .leave("ch_NOPE")
        .await
        .unwrap()
        .assert_chert_error(404, 2002, false);
    chert
        .add("ch_NOPE", r#"{"address":"+14155550999"}"#)
        .await
        .unwrap()
        .assert_chert_error(404, 2002, false);
}

#[tokio::test]
async fn missing_chat_key_or_pinned_line_is_4099() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    for (chat_key, pinned_line) in [(false, true), (true, false)] {
        let chat = sandbox.chert().create_chat(ChertChatSeed {
            chat_key,
            pinned_line,
            ..ChertChatSeed::group(&FOUR)
        });
        chert
            .remove(&chat, "%2B14155551234")
            .await
            .unwrap()
            .assert_chert_error(422, 4099, false);
        chert
            .add(&chat, r#"{"address":"+14155550999"}"#)
            .await
            .unwrap()
            .assert_chert_error(422, 4099, false);
        chert
            .leave(&chat)
            .await
            .unwrap()
            .assert_chert_error(501, 4099, false);
        assert_eq!(sandbox.chert().chat(&chat).unwrap().members.len(), 4);
    }
    assert!(sandbox.journal().effects().is_empty());
}

#[tokio::test]
async fn check_order_is_1006_1001_1002_4099() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    let broken = |is_group: bool, members: &[&str]| ChertChatSeed {
        is_group,
        chat_key: false,
        pinned_line: false,
        ..ChertChatSeed::group(members)
    };
    // DM beats everything.
    let dm = sandbox
        .chert()
        .create_chat(broken(false, &["+14155550100"]));
    chert
        .remove(&dm, "%2B19999999999")
        .await
        .unwrap()
        .assert_chert_error(400, 1006, false);
    // Membership beats size and chat key.
    let small = sandbox
        .chert()
        .create_chat(broken(true, &["+14155550100", "+14155550200"]));
    chert
        .remove(&small, "%2B19999999999")
        .await
        .unwrap()
        .assert_chert_error(400, 1001, false);
    // Size beats chat key.
    chert
        .remove(&small, "%2B14155550100")
        .await
        .unwrap()
        .assert_chert_error(400, 1002, false);
    chert
        .leave(&small)
        .await
        .unwrap()
        .assert_chert_error(400, 1002, false);
    // Only then the chat key.
    let big = sandbox.chert().create_chat(broken(true, &FOUR));
    chert
        .remove(&big, "%2B14155550100")
        .await
        .unwrap()
        .assert_chert_error(422, 4099, false);
    chert
        .add(&big, "{}")
        .await
        .unwrap()
        .assert_chert_error(400, 1001, false);
}

#[tokio::test]
async fn add_validation_and_normalisation() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200"]);

    for missing in [
        "",
        "{}",
        r#"{"address":""}"#,
        r#"{"address":null}"#,
        r#"{"address":42}"#,
        "[]",
    ] {
        chert
            .add(&chat, missing)
            .await
            .unwrap()
            .assert_chert_error(400, 1001, false);
    }
    chert
        .add(&chat, "{not json")
        .await
        .unwrap()
        .assert_chert_error(400, 1004, false);
    chert
        .add(&chat, r#"{"address":"14155550999"}"#)
        .await
        .unwrap()
        .assert_chert_error(400, 1003, false);

    let reply = chert
        .add(&chat, r#"{"address":"Carol@Example.COM"}"#)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["added"], "carol@example.com");
    // Adding a present member is a no-op success with no effect.
    let reply = chert
        .add(&chat, r#"{"handle":"carol@example.com"}"#)
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["participants"],
        json!(["+14155550100", "+14155550200", "carol@example.com"])
    );
    assert_eq!(
        sandbox.journal().effects(),
        vec![format!("chert:add {chat} carol@example.com")]
    );
    // Content type is not required.
    let sig = sandbox.chert().sign_now(br#"{"address":"+14155550777"}"#);
    let reply = send(
        sandbox.addr(),
        "POST",
        &format!("{PREFIX}/chats/{chat}/participants"),
        &[("x-chert-tenant", "sandbox"), ("x-chert-signature", &sig)],
        br#"{"address":"+14155550777"}"#,
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test]
async fn optional_group_cap_on_add() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox
        .chert()
        .create_group(&["+14155550100", "+14155550200"]);
    sandbox.chert().set_max_group_size(Some(4));
    let chert = Chert::new(&sandbox);
    assert_eq!(
        chert
            .add(&chat, r#"{"address":"+14155550300"}"#)
            .await
            .unwrap()
            .status,
        200
    );
    chert
        .add(&chat, r#"{"address":"+14155550400"}"#)
        .await
        .unwrap()
        .assert_chert_error(422, 1006, false);
    // Present members are still a no-op success at the cap.
    assert_eq!(
        chert
            .add(&chat, r#"{"address":"+14155550300"}"#)
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn unknown_routes_are_chert_errors_after_auth() {
    let sandbox = Sandbox::start().await.unwrap();
    let chat = sandbox.chert().create_group(&FOUR);
    let chert = Chert::new(&sandbox);
    chert
        .signed("GET", &format!("/chats/{chat}"), b"")
        .await
        .unwrap()
        .assert_chert_error(404, 2000, false);
    chert
        .signed("GET", "/chats", b"")
        .await
        .unwrap()
        .assert_chert_error(404, 2000, false);
    chert
        .signed("PATCH", &format!("/chats/{chat}"), b"")
        .await
        .unwrap()
        .assert_chert_error(404, 2000, false);
    chert
        .signed("GET", &format!("/chats/{chat}/participants"), b"")
        .await
        .unwrap()
        .assert_chert_error(405, 2000, false);
    chert
        .signed("GET", &format!("/chats/{chat}/leave"), b"")
        .await
        .unwrap()
        .assert_chert_error(405, 2000, false);
    // Without credentials, auth answers first.
    send(
        sandbox.addr(),
        "GET",
        &format!("{PREFIX}/chats/{chat}"),
        &[],
        b"",
    )
    .await
    .unwrap()
    .assert_chert_error(401, 2012, false);
}

#[tokio::test]
async fn trace_ids_differ_per_response() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = Chert::new(&sandbox);
    let a = chert.leave("ch_NOPE").await.unwrap();
    let b = chert.leave("ch_NOPE").await.unwrap();
    assert_ne!(a.header("x-trace-id"), b.header("x-trace-id"));
    let body: Value = a.json();
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "success, error, trace_id only"
    );
    assert_eq!(
        body["error"].as_object().unwrap().len(),
        4,
        "no retry_after on 2002"
    );
}
