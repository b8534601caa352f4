//! The ACS Chat contract: a chat token minted with the access key, typed communication
//! identifiers, 204/201 replies, `nextLink` paging, per-thread rate limits.

use std::time::Duration;

use rosterkit::{
    ChangeOptions, ChatId, Error, ErrorKind, Handle, Membership, RetryPolicy, acs::AcsClient,
};
use rosterkit_sandbox::{Fault, FaultAction, Method, Provider, Sandbox, StatusCode};

use super::Tour;

const P: &str = "acs";

pub(crate) async fn run(sandbox: &Sandbox, tour: &mut Tour) {
    if let Err(e) = steps(sandbox, tour).await {
        tour.step(P, "setup", "a working client", e, false);
    }
}

fn client(sandbox: &Sandbox, page_size: u32) -> Result<AcsClient, Error> {
    let info = sandbox.info().acs;
    AcsClient::builder()
        .connection_string(info.connection_string)
        .user_id(info.user_id)
        .page_size(page_size)
        .retry_policy(
            RetryPolicy::default().with_backoff(Duration::from_millis(50), Duration::from_secs(1)),
        )
        .build()
}

/// Participant-list pages fetched so far (token calls excluded).
fn pages(sandbox: &Sandbox) -> usize {
    sandbox
        .journal()
        .entries_for(Provider::Acs)
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains("/participants"))
        .count()
}

const ALICE: &str =
    "8:acs:5e1c0d4e-0000-4000-8000-000000000001_00000001-aaaa-4bbb-8ccc-000000000001";
const BOB: &str = "8:acs:5e1c0d4e-0000-4000-8000-000000000001_00000001-aaaa-4bbb-8ccc-000000000002";
const CAROL: &str =
    "8:acs:5e1c0d4e-0000-4000-8000-000000000001_00000001-aaaa-4bbb-8ccc-000000000003";
const MALLORY: &str =
    "8:acs:5e1c0d4e-0000-4000-8000-000000000001_00000001-aaaa-4bbb-8ccc-00000000dead";

async fn steps(sandbox: &Sandbox, tour: &mut Tour) -> Result<(), Error> {
    let emulator = sandbox.acs();
    let acs = client(sandbox, 100)?;
    let plain = ChangeOptions::default();

    let thread = emulator.create_thread(&[ALICE, BOB, "4:+14155550100"]);
    let chat = ChatId::new(thread.clone())?;
    let alice: Handle = ALICE.parse()?;
    let r = acs.remove_participant(&chat, &alice, plain).await;
    let minted = sandbox
        .journal()
        .entries_for(Provider::Acs)
        .iter()
        .any(|e| e.path.contains(":issueAccessToken"));
    tour.step(
        P,
        "remove a communication user (token minted, HMAC)",
        "applied (204), token minted",
        format!(
            "{}{}",
            super::describe(&r),
            if minted { ", token minted" } else { "" }
        ),
        matches!(&r, Ok(o) if o.as_str() == "applied") && minted,
    );

    let phone: Handle = "+14155550100".parse()?;
    let r = acs.remove_participant(&chat, &phone, plain).await;
    tour.outcome(P, "remove a phone participant (4:+1...)", "applied", &r);

    emulator.set_invalid_participant(MALLORY, "403", "Permissions check failed");
    let adds: Vec<Handle> = vec![CAROL.parse()?, MALLORY.parse()?];
    let results = acs.add_participants(&chat, &adds, plain).await;
    let got: Vec<String> = results
        .iter()
        .map(|r| match r {
            Ok(o) => o.as_str().to_owned(),
            Err(e) => e.kind().to_string(),
        })
        .collect();
    tour.step(
        P,
        "add two, one refused inside the 201",
        "applied + forbidden",
        got.join(" + "),
        got == ["applied", "forbidden"],
    );

    let many = emulator.create_thread(&[ALICE, BOB, CAROL, "4:+14155550100", "4:+14155550200"]);
    let paged = client(sandbox, 2)?;
    let before = pages(sandbox);
    let listed = paged.participants(&ChatId::new(many.clone())?).await;
    let pages = pages(sandbox) - before;
    let count = listed.as_ref().map_or(0, Vec::len);
    tour.step(
        P,
        "list 6 members, 2 per page, following nextLink",
        "6 members over 3 pages",
        match &listed {
            Ok(_) => format!("{count} members over {pages} pages"),
            Err(e) => e.to_string(),
        },
        count == 6 && pages == 3,
    );

    let r = acs.leave(&chat, plain).await;
    tour.outcome(P, "leave (remove our own identity)", "applied", &r);

    let busy = emulator.create_thread(&[ALICE, BOB]);
    sandbox.faults().inject(
        Fault::new(
            Provider::Acs,
            FaultAction::acs_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                None,
                Some(super::RETRY_AFTER_SECS),
            ),
        )
        .method(Method::POST)
        .path_contains(":remove"),
    );
    let mark = super::journal_mark(sandbox);
    let r = acs
        .remove_participant(&ChatId::new(busy)?, &BOB.parse()?, plain)
        .await;
    super::waited_out(
        tour,
        P,
        "429 TooManyRequests with Retry-After: 1 is waited out and retried",
        &r,
        super::requests_and_wait(sandbox, Provider::Acs, mark),
    );

    emulator.set_foreign_next_link(Some("https://elsewhere.example"));
    let r = paged.participants(&ChatId::new(many)?).await;
    emulator.set_foreign_next_link(None);
    let refused = matches!(&r, Err(e) if e.to_string().contains("nextLink"));
    tour.error(
        P,
        "a nextLink to another host is refused",
        ErrorKind::Forbidden,
        None,
        &r,
    );
    if !refused {
        tour.step(
            P,
            "the refusal names the nextLink",
            "refused to follow nextLink",
            "no",
            false,
        );
    }
    Ok(())
}
