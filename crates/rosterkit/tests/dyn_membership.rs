//! Issue 17's library items through `Box<dyn Membership>` over loopback HTTP against the
//! sandbox: `Membership::confirm` (Linq's queued changes waited for in paused tokio time,
//! Z-API's "ok" read back, nothing pending → no request), and the `{:?}` of an error returned
//! from `main` telling the truth (attempts, one kind, help examples as written).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rosterkit::{
    ChangeOptions, ChatId, ErrorKind, Handle, Membership, Outcome, Pending, acs::AcsClient,
    chert::ChertClient, linq::LinqClient, zapi::ZapiClient,
};
use rosterkit_sandbox::{Provider, Sandbox};

fn h(s: &str) -> Handle {
    s.parse().unwrap()
}

fn linq(sandbox: &Sandbox) -> Box<dyn Membership> {
    let info = sandbox.info().linq;
    Box::new(
        LinqClient::builder()
            .base_url(info.base_url)
            .api_key(info.api_key)
            .build()
            .unwrap(),
    )
}

fn zapi(sandbox: &Sandbox) -> Box<dyn Membership> {
    let info = sandbox.info().zapi;
    Box::new(
        ZapiClient::builder()
            .base_url(info.base_url)
            .instance_id(info.instance_id)
            .instance_token(info.instance_token)
            .client_token(info.client_token)
            .build()
            .unwrap(),
    )
}

fn chert(sandbox: &Sandbox) -> Box<dyn Membership> {
    let info = sandbox.info().chert;
    Box::new(
        ChertClient::builder()
            .base_url(info.base_url)
            .tenant(info.tenant)
            .signing_secret(info.signing_secret)
            .build()
            .unwrap(),
    )
}

fn acs(sandbox: &Sandbox) -> Box<dyn Membership> {
    let info = sandbox.info().acs;
    Box::new(
        AcsClient::builder()
            .base_url(info.endpoint)
            .user_token(info.user_token)
            .build()
            .unwrap(),
    )
}

/// A Linq group of our line and three members (4 active: one removal or a leave is allowed).
fn group(sandbox: &Sandbox) -> ChatId {
    ChatId::new(
        sandbox
            .linq()
            .create_group(&["+12052499136", "+14155550100", "+14155550101"]),
    )
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn linq_queued_changes_are_confirmed_or_left_queued_when_time_runs_out() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.linq().set_apply_delay(Duration::from_secs(3));
    let client = linq(&sandbox);
    let chat = group(&sandbox);
    let bob = h("+14155550100");

    let queued = client
        .remove_participant(&chat, &bob, ChangeOptions::default())
        .await
        .unwrap();
    assert!(matches!(queued, Outcome::Queued { .. }), "{queued:?}");
    let trace = queued.trace_id().map(str::to_owned);
    assert!(queued.is_pending());

    // One second is not enough for a change applied after three: still queued, unchanged.
    let early = client
        .confirm(
            &chat,
            Pending::Remove(&bob),
            queued.clone(),
            Duration::from_secs(1),
        )
        .await
        .unwrap();
    assert_eq!(early, queued);

    let done = client
        .confirm(
            &chat,
            Pending::Remove(&bob),
            queued,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let Outcome::Applied {
        roster: Some(roster),
        trace_id,
    } = &done
    else {
        panic!("{done:?}");
    };
    assert!(!roster.contains(&bob), "{roster:?}");
    assert_eq!(*trace_id, trace, "the queued reply's trace id is kept");

    // A leave: confirmed once our own line is marked left.
    let other = group(&sandbox);
    let queued = client
        .leave(&other, ChangeOptions::default())
        .await
        .unwrap();
    assert!(queued.is_pending(), "{queued:?}");
    let left = client
        .confirm(&other, Pending::Leave, queued, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(left, Outcome::Applied { .. }), "{left:?}");
    assert!(sandbox.linq().has_left(other.as_str()));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn zapi_ok_is_read_back_and_nothing_pending_sends_nothing() {
    let sandbox = Sandbox::start().await.unwrap();
    let zapi = zapi(&sandbox);
    let chat = ChatId::new(
        sandbox
            .zapi()
            .create_group(&["5544999999999", "5544888888888"]),
    )
    .unwrap();
    let who = h("+5544999999999");
    let said_ok = zapi
        .remove_participant(&chat, &who, ChangeOptions::default())
        .await
        .unwrap();
    assert!(
        matches!(said_ok, Outcome::Unconfirmed { .. }),
        "{said_ok:?}"
    );
    let before = sandbox.journal().entries_for(Provider::Zapi).len();
    let confirmed = zapi
        .confirm(
            &chat,
            Pending::Remove(&who),
            said_ok,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let roster = confirmed.roster().unwrap();
    assert!(
        matches!(confirmed, Outcome::Applied { .. }),
        "{confirmed:?}"
    );
    assert!(!roster.contains(&who) && roster.contains(&h("+5544888888888")));
    assert_eq!(
        sandbox.journal().entries_for(Provider::Zapi).len(),
        before + 1,
        "one metadata read"
    );

    // Applied already: returned as it is, with no request.
    let chert = chert(&sandbox);
    let applied = Outcome::applied(None);
    let same = chert
        .confirm(
            &chat,
            Pending::Leave,
            applied.clone(),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(same, applied);
    assert!(sandbox.journal().entries_for(Provider::Chert).is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn debug_of_a_refused_remove_is_consistent() {
    let sandbox = Sandbox::start().await.unwrap();
    let linq = linq(&sandbox);
    let chat = group(&sandbox);
    let stranger = h("+14155550999");

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

    // A roster read names the trait method called, not the route read for it (`get_chat`).
    let unknown = ChatId::new("550e8400-e29b-41d4-a716-446655440000").unwrap();
    let err = linq.participants(&unknown).await.unwrap_err();
    assert_eq!(err.operation(), Some("participants"), "{err:?}");
    assert_eq!(err.attempts(), 1, "{err:?}");
    sandbox.shutdown().await;
}

/// A participant refused inside ACS's 201 reply: the error follows a request that was sent, so
/// it never reads as a refusal made before sending (`attempts: 0`, the CLI's exit 2).
#[tokio::test]
async fn an_item_refused_in_a_batch_reply_counts_its_attempt() {
    let sandbox = Sandbox::start().await.unwrap();
    let acs = acs(&sandbox);
    let thread = ChatId::new(sandbox.acs().create_thread(&["8:acs:1111_2222"])).unwrap();
    sandbox
        .acs()
        .set_invalid_participant("8:acs:1111_3333", "400", "Invalid participant");
    let err = acs
        .add_participant(&thread, &h("8:acs:1111_3333"), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("400"), "{err:?}");
    assert!(err.attempts() >= 1, "{err:?}");
    sandbox.shutdown().await;
}

/// A roster read fails under the name of the trait method called (`participants`), whatever
/// route each provider reads for it, before a request or after one.
#[tokio::test]
async fn roster_reads_are_labelled_participants_on_every_provider() {
    let sandbox = Sandbox::start().await.unwrap();
    let unknown = [
        (chert(&sandbox), "ch_unknown"),
        (linq(&sandbox), "550e8400-e29b-41d4-a716-446655440000"),
        (zapi(&sandbox), "120363019502650977-group"),
        (acs(&sandbox), "19:unknown@thread.v2"),
        (linq(&sandbox), "not-a-uuid"),
        (zapi(&sandbox), "not a group"),
    ];
    for (client, chat) in unknown {
        let err = client
            .participants(&ChatId::new(chat).unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.operation(), Some("participants"), "{err:?}");
    }
    sandbox.shutdown().await;
}
