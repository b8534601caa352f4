//! Secret hygiene: at trace level, across every crate (rosterkit, reqwest, hyper, the sandbox),
//! no signing secret, token or full phone number is ever written to a log, a `Debug` string or
//! an error message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rosterkit::{ChangeOptions, ChatId, Handle, Membership, chert::ChertClient};
use rosterkit_sandbox::Sandbox;
use rosterkit_tests::{LogCapture, assert_absent};

/// Digits of the phone numbers used below; only their last four may ever be shown.
const PHONES: &[&str] = &["4155551234", "4155550100", "4155559999"];

#[tokio::test(flavor = "current_thread")]
async fn chert_never_logs_or_prints_its_secret_or_full_numbers() {
    let (logs, _guard) = LogCapture::install();
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().chert;
    let secret = info.signing_secret.clone();
    let id = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
    ]);
    let chat = ChatId::new(id).unwrap();
    let good = ChertClient::builder()
        .base_url(info.base_url.clone())
        .tenant(info.tenant.clone())
        .signing_secret(secret.clone())
        .build()
        .unwrap();
    let wrong_secret = "feedfacefeedfacefeedfacefeedface";
    let bad = ChertClient::builder()
        .base_url(info.base_url)
        .tenant(info.tenant)
        .signing_secret(wrong_secret)
        .build()
        .unwrap();

    let mut printed = format!("{good:?}\n{bad:?}\n");
    let who: Handle = "+14155551234".parse().unwrap();
    let stranger: Handle = "+14155559999".parse().unwrap();
    let ok = good
        .remove_participant(&chat, &who, ChangeOptions::default())
        .await;
    printed.push_str(&format!("{ok:?}\n"));
    for (client, handle) in [(&good, &stranger), (&bad, &who)] {
        let err = client
            .remove_participant(&chat, handle, ChangeOptions::default())
            .await
            .unwrap_err();
        printed.push_str(&format!("{err}\n{err:?}\n"));
    }
    printed.push_str(&format!("{who:?} {stranger:?}"));
    sandbox.shutdown().await;

    let secrets = [secret.as_str(), wrong_secret];
    assert_absent("Debug/Display output", &printed, &secrets);
    assert_absent("Debug/Display output", &printed, PHONES);
    let logs = logs.text();
    assert!(
        logs.contains("rosterkit.operation"),
        "spans are logged:\n{logs}"
    );
    assert_absent("trace logs", &logs, &secrets);
    assert_absent("trace logs", &logs, PHONES);
}
