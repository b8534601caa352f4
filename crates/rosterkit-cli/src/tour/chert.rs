//! The Chert contract: synchronous changes with the roster in every reply, HMAC-signed requests.

use std::time::Duration;

use rosterkit::{
    ChangeOptions, ChatId, Error, ErrorKind, Handle, Membership, RetryPolicy, chert::ChertClient,
};
use rosterkit_sandbox::{
    Fault, FaultAction, Method, Provider, Sandbox, StatusCode, chert::ChertChatSeed,
};

use super::Tour;

const P: &str = "chert";

fn client(sandbox: &Sandbox, secret: &str) -> Result<ChertClient, Error> {
    let info = sandbox.info().chert;
    ChertClient::builder()
        .base_url(info.base_url)
        .tenant(info.tenant)
        .signing_secret(secret)
        .retry_policy(
            RetryPolicy::default().with_backoff(Duration::from_millis(50), Duration::from_secs(2)),
        )
        .build()
}

fn parse(chat: &str, who: &str) -> Result<(ChatId, Handle), Error> {
    Ok((ChatId::new(chat)?, who.parse()?))
}

pub(crate) async fn run(sandbox: &Sandbox, tour: &mut Tour) {
    if let Err(e) = steps(sandbox, tour).await {
        tour.step(P, "setup", "a working client", e, false);
    }
}

async fn steps(sandbox: &Sandbox, tour: &mut Tour) -> Result<(), Error> {
    let emulator = sandbox.chert();
    let chert = client(sandbox, &emulator.signing_secret())?;
    let plain = ChangeOptions::default();
    let ensure = ChangeOptions::ensure();

    let group = emulator.create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
    ]);
    let (chat, who) = parse(&group, "+14155551234")?;
    let r = chert.remove_participant(&chat, &who, plain).await;
    tour.outcome(
        P,
        "remove a member (signed; roster in reply)",
        "applied",
        &r,
    );

    let newcomer: Handle = "dana@example.com".parse()?;
    let r = chert.add_participant(&chat, &newcomer, plain).await;
    tour.outcome(P, "add an email member", "applied", &r);

    let r = chert.leave(&chat, plain).await;
    tour.outcome(P, "leave the group", "applied", &r);

    let small = emulator.create_group(&["+14155550100", "+14155550200"]);
    let (chat, who) = parse(&small, "+14155550200")?;
    let r = chert.remove_participant(&chat, &who, plain).await;
    tour.error(
        P,
        "remove at the minimum size of 3",
        ErrorKind::GroupTooSmall,
        Some("1002"),
        &r,
    );

    let dm = emulator.create_dm("+14155550100");
    let (chat, who) = parse(&dm, "+14155550100")?;
    let r = chert.remove_participant(&chat, &who, plain).await;
    tour.error(
        P,
        "remove from a direct message",
        ErrorKind::NotAGroup,
        Some("1006"),
        &r,
    );

    let (chat, who) = parse("ch_01HNOSUCHCHAT0000000000000", "+14155550100")?;
    let r = chert.remove_participant(&chat, &who, plain).await;
    tour.error(
        P,
        "remove from an unknown chat",
        ErrorKind::ChatNotFound,
        Some("2002"),
        &r,
    );

    let group = emulator.create_group(&["+14155550100", "+14155550200", "+14155550300"]);
    let (chat, stranger) = parse(&group, "+14155559999")?;
    let r = chert.remove_participant(&chat, &stranger, plain).await;
    tour.error(
        P,
        "remove someone not in the group",
        ErrorKind::NotAMember,
        Some("1001"),
        &r,
    );
    let r = chert.remove_participant(&chat, &stranger, ensure).await;
    tour.outcome(P, "the same with --ensure", "already_done", &r);

    let keyless = emulator.create_chat(ChertChatSeed {
        chat_key: false,
        ..ChertChatSeed::group(&["+14155550100", "+14155550200", "+14155550300"])
    });
    let (chat, who) = parse(&keyless, "+14155550100")?;
    let r = chert.remove_participant(&chat, &who, plain).await;
    tour.error(
        P,
        "remove from a group without a chat key",
        ErrorKind::ProviderMisconfigured,
        Some("4099"),
        &r,
    );

    let group = emulator.create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
    ]);
    let (chat, who) = parse(&group, "+14155551234")?;
    sandbox.faults().inject(
        Fault::new(
            Provider::Chert,
            FaultAction::chert_error(StatusCode::TOO_MANY_REQUESTS, 1007, true, Some(1)),
        )
        .method(Method::DELETE)
        .path_contains(group.clone()),
    );
    let before = sandbox.journal().len();
    let r = chert.remove_participant(&chat, &who, plain).await;
    let sent = sandbox.journal().len() - before;
    let ok = matches!(&r, Ok(o) if o.as_str() == "applied") && sent == 2;
    tour.step(
        P,
        "429 with Retry-After: 1 is waited out and retried",
        "applied after 2 requests",
        format!("{} after {sent} requests", super::describe(&r)),
        ok,
    );

    let forged = client(sandbox, "ffffffffffffffffffffffffffffffff")?;
    let (chat, who) = parse(&group, "+14155550100")?;
    let r = forged.remove_participant(&chat, &who, plain).await;
    tour.error(
        P,
        "a request signed with the wrong secret",
        ErrorKind::Unauthorized,
        Some("2004"),
        &r,
    );
    Ok(())
}
