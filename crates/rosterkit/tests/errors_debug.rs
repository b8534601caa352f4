//! Issue 17: the `{:?}` of an error returned from `main` tells the truth: the attempts made,
//! one kind (no cause stating another), the operation by the trait's name, and examples in
//! the help text as written.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rosterkit::{ChangeOptions, ChatId, ErrorKind, Handle, Membership, linq::LinqClient};
use rosterkit_sandbox::Sandbox;

#[tokio::test]
async fn debug_of_a_refused_remove_is_consistent() {
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().linq;
    let linq: Box<dyn Membership> = Box::new(
        LinqClient::builder()
            .base_url(info.base_url)
            .api_key(info.api_key)
            .build()
            .unwrap(),
    );
    let chat =
        ChatId::new(
            sandbox
                .linq()
                .create_group(&["+12052499136", "+14155550100", "+14155550101"]),
        )
        .unwrap();
    let stranger: Handle = "+14155550999".parse().unwrap();

    // HTTP 400 / 1005, restated as NotAMember after a roster read.
    let err = linq
        .remove_participant(&chat, &stranger, ChangeOptions::default())
        .await
        .unwrap_err();
    let debug = format!("{err:?}");
    assert_eq!(err.kind(), ErrorKind::NotAMember, "{debug}");
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(err.attempts(), 1, "{debug}");
    assert!(debug.contains("attempts: 1"), "{debug}");
    assert!(
        debug.contains("operation: Some(\"remove_participant\")"),
        "{debug}"
    );
    assert!(!debug.contains("invalid_input"), "{debug}");
    assert!(!debug.contains("InvalidInput"), "{debug}");
    assert_eq!(
        err.message(),
        "the handle is not an active member of the chat"
    );

    // Refused before any request: no attempt, and the example left as written.
    let bad = ChatId::new("nope").unwrap();
    let err = linq
        .remove_participant(&bad, &stranger, ChangeOptions::default())
        .await
        .unwrap_err();
    let debug = format!("{err:?}");
    assert_eq!(err.attempts(), 0, "{debug}");
    assert!(
        debug.contains("e.g. 550e8400-e29b-41d4-a716-446655440000"),
        "{debug}"
    );
    sandbox.shutdown().await;
}
