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
    let mark = super::journal_mark(sandbox);
    let r = chert.remove_participant(&chat, &who, plain).await;
    let signed = signed_since(sandbox, mark, &emulator.signing_secret());
    let want = ["+14155550100", "+14155550200", "+14155550300"];
    let roster: Option<Vec<String>> = r
        .as_ref()
        .ok()
        .and_then(|o| o.roster())
        .map(|handles| handles.iter().map(ToString::to_string).collect());
    let held = emulator.members(&group).unwrap_or_default();
    tour.step(
        P,
        "remove a member (signed; roster in reply)",
        format!("applied, signed, roster [{}]", want.join(", ")),
        format!(
            "{}{}",
            super::describe(&r),
            if signed { ", signed" } else { ", NOT signed" }
        ),
        matches!(&r, Ok(o) if o.as_str() == "applied")
            && signed
            && roster.as_deref().is_some_and(|r| same_set(r, &want))
            && same_set(&held, &want),
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
            FaultAction::chert_error(
                StatusCode::TOO_MANY_REQUESTS,
                1007,
                true,
                Some(super::RETRY_AFTER_SECS),
            ),
        )
        .method(Method::DELETE)
        .path_contains(group.clone()),
    );
    let mark = super::journal_mark(sandbox);
    let r = chert.remove_participant(&chat, &who, plain).await;
    super::waited_out(
        tour,
        P,
        "429 with Retry-After: 1 is waited out and retried",
        &r,
        super::requests_and_wait(sandbox, Provider::Chert, mark),
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

/// Whether every Chert request after `mark` carried an `x-chert-signature` equal to the one the
/// sandbox computes (with its own code) over the request's bytes as received.
fn signed_since(sandbox: &Sandbox, mark: u64, secret: &str) -> bool {
    let entries: Vec<_> = sandbox
        .journal()
        .entries_for(Provider::Chert)
        .into_iter()
        .filter(|e| e.seq > mark)
        .collect();
    !entries.is_empty()
        && entries.iter().all(|e| {
            let header = e.header("x-chert-signature").unwrap_or_default();
            let ts = header.split(',').nth(1).and_then(|t| t.parse::<u64>().ok());
            ts.is_some_and(|ts| {
                header == rosterkit_sandbox::chert::request_signature(secret, ts, &e.body)
            })
        })
}

/// Whether `got` holds exactly the handles `want`, in any order.
fn same_set(got: &[String], want: &[&str]) -> bool {
    got.len() == want.len() && want.iter().all(|w| got.iter().any(|g| g == w))
}
