//! Chert end to end through the facade: the exact bytes on the wire, read back from the
//! sandbox journal and checked against the contract.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rosterkit::{
    ChangeOptions, ChatId, ErrorKind, Handle, Membership, Outcome,
    chert::{AuthMode, ChertClient},
};
use rosterkit_sandbox::{JournalEntry, Sandbox};

fn client(sandbox: &Sandbox, mode: AuthMode) -> Box<dyn Membership> {
    let info = sandbox.info().chert;
    Box::new(
        ChertClient::builder()
            .base_url(info.base_url)
            .tenant(info.tenant)
            .signing_secret(info.signing_secret)
            .auth_mode(mode)
            .build()
            .unwrap(),
    )
}

fn handle(s: &str) -> Handle {
    s.parse().unwrap()
}

/// Recomputes the signature from the journalled bytes, with the sandbox's secret and the
/// sandbox's own signing code (independent of the rosterkit-sign the client signed with).
fn assert_signed(entry: &JournalEntry, secret: &str) {
    let header = entry.header("x-chert-signature").expect("signed");
    let ts: u64 = header.split(',').nth(1).unwrap().parse().unwrap();
    let expected = rosterkit_sandbox::chert::request_signature(secret, ts, &entry.body);
    assert_eq!(header, expected, "signature over \"{ts}.<body>\"");
    assert_eq!(entry.header("x-chert-tenant"), Some("sandbox"));
    assert_eq!(entry.header("authorization"), None);
}

#[tokio::test]
async fn remove_add_leave_on_the_wire() {
    let sandbox = Sandbox::start().await.unwrap();
    let secret = sandbox.chert().signing_secret();
    let id = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "alice@example.com",
    ]);
    let chat = ChatId::new(id.clone()).unwrap();
    let chert = client(&sandbox, AuthMode::Hmac);

    let out = chert
        .remove_participant(
            &chat,
            &handle("alice@example.com"),
            ChangeOptions::default(),
        )
        .await
        .unwrap();
    let Outcome::Applied {
        roster: Some(roster),
        trace_id,
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(roster.len(), 3);
    assert!(trace_id.is_some(), "X-Trace-ID is kept");
    let remove = sandbox.journal().last().unwrap();
    assert_eq!(remove.method, "DELETE");
    assert_eq!(
        remove.path,
        format!("/chert/api/v1/chats/{id}/participants/alice%40example.com")
    );
    assert!(
        remove.body.is_empty(),
        "DELETE signs and sends the empty body"
    );
    assert_signed(&remove, &secret);

    chert
        .add_participant(&chat, &handle("+14155551234"), ChangeOptions::default())
        .await
        .unwrap();
    let add = sandbox.journal().last().unwrap();
    assert_eq!(add.path, format!("/chert/api/v1/chats/{id}/participants"));
    assert_eq!(add.body_text(), r#"{"address":"+14155551234"}"#);
    assert_eq!(add.header("content-type"), Some("application/json"));
    assert_signed(&add, &secret);

    chert
        .remove_participant(&chat, &handle("+14155551234"), ChangeOptions::default())
        .await
        .unwrap();
    let phone = sandbox.journal().last().unwrap();
    assert_eq!(
        phone.path,
        format!("/chert/api/v1/chats/{id}/participants/%2B14155551234"),
        "+ is %2B, never a raw + (a space to some servers)"
    );

    chert.leave(&chat, ChangeOptions::default()).await.unwrap();
    let leave = sandbox.journal().last().unwrap();
    assert_eq!(leave.method, "POST");
    assert_eq!(leave.path, format!("/chert/api/v1/chats/{id}/leave"));
    assert!(leave.body.is_empty());
    assert_eq!(
        leave.header("content-type"),
        None,
        "bodiless POST sends no content type"
    );
    assert_signed(&leave, &secret);
    assert!(sandbox.chert().has_left(&id));

    // The emulator's own record of what changed, once each.
    assert_eq!(sandbox.journal().effects().len(), 4);
}

#[tokio::test]
async fn bearer_mode_sends_the_secret_as_a_bearer_token() {
    let sandbox = Sandbox::start().await.unwrap();
    let id = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
    ]);
    let chert = client(&sandbox, AuthMode::Bearer);
    chert
        .remove_participant(
            &ChatId::new(id).unwrap(),
            &handle("+14155551234"),
            ChangeOptions::default(),
        )
        .await
        .unwrap();
    let entry = sandbox.journal().last().unwrap();
    let expected = format!("Bearer {}", sandbox.chert().signing_secret());
    assert_eq!(entry.header("authorization"), Some(expected.as_str()));
    assert_eq!(entry.header("x-chert-signature"), None);
}

#[tokio::test]
async fn invalid_input_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let chert = client(&sandbox, AuthMode::Hmac);
    for bad in ["4155551234", "a@", "+1415\r\n5551234", "+1415\u{0}5551234"] {
        assert!(bad.parse::<Handle>().is_err(), "{bad:?}");
    }
    // A handle the provider cannot take is refused by the adapter, before any request.
    let native: Handle = "8:acs:1111_2222".parse().unwrap();
    let chat = ChatId::new("ch_01HTEST").unwrap();
    let err = chert
        .remove_participant(&chat, &native, ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.attempts(), 0);
    assert!(sandbox.journal().is_empty());
}
