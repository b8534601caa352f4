//! The Linq contract: queued changes (`accepted` + `trace_id`) confirmed by reading the chat,
//! and retries decided by Linq's code, never by status alone.

use std::time::Duration;

use rosterkit::{
    ChangeOptions, ChatId, Error, ErrorKind, Handle, Membership, RetryPolicy,
    linq::{Expect, LinqClient, WaitOptions},
};
use rosterkit_sandbox::{Fault, FaultAction, Method, Provider, Sandbox, StatusCode};

use super::Tour;

const P: &str = "linq";

pub(crate) async fn run(sandbox: &Sandbox, tour: &mut Tour) {
    if let Err(e) = steps(sandbox, tour).await {
        tour.step(P, "setup", "a working client", e, false);
    }
}

/// Requests the sandbox journalled for Linq while `f` ran.
async fn counting<T>(sandbox: &Sandbox, f: impl Future<Output = T>) -> (T, usize) {
    let before = sandbox.journal().entries_for(Provider::Linq).len();
    let out = f.await;
    (
        out,
        sandbox.journal().entries_for(Provider::Linq).len() - before,
    )
}

async fn steps(sandbox: &Sandbox, tour: &mut Tour) -> Result<(), Error> {
    let info = sandbox.info().linq;
    let linq = LinqClient::builder()
        .base_url(info.base_url)
        .api_key(info.api_key)
        .retry_policy(
            RetryPolicy::default().with_backoff(Duration::from_millis(50), Duration::from_secs(1)),
        )
        .build()?;
    let emulator = sandbox.linq();
    let plain = ChangeOptions::default();
    let quick =
        WaitOptions::default().with_delays(Duration::from_millis(20), Duration::from_millis(200));

    let group = emulator.create_group(&[
        "+12052499136",
        "+14155550100",
        "+14155550200",
        "+14155550300",
    ]);
    let chat = ChatId::new(group.clone())?;
    let who: Handle = "+12052499136".parse()?;
    let r = linq.remove_participant(&chat, &who, plain).await;
    tour.outcome(P, "remove is queued (202, trace_id)", "queued", &r);
    let r = linq.wait_for(&chat, &who, Expect::Removed, quick).await;
    tour.outcome(
        P,
        "the queued removal shows in GET /v3/chats/{id}",
        "applied",
        &r,
    );

    let r = linq.leave(&chat, plain).await;
    tour.outcome(P, "leave is queued", "queued", &r);
    let other: Handle = "+14155550100".parse()?;
    let (r, sent) = counting(sandbox, linq.remove_participant(&chat, &other, plain)).await;
    let ok = matches!(&r, Err(e) if e.kind() == ErrorKind::ChatUnavailable && e.code() == Some("2013"))
        && sent == 1;
    tour.step(
        P,
        "after leaving, the next call is 409/2013, sent once",
        "chat_unavailable (code 2013), 1 request",
        format!("{}, {sent} request(s)", super::describe(&r)),
        ok,
    );

    let group = emulator.create_group(&[
        "+12052499136",
        "+14155550100",
        "+14155550200",
        "+14155550300",
    ]);
    let chat = ChatId::new(group.clone())?;
    sandbox.faults().inject(
        Fault::new(
            Provider::Linq,
            FaultAction::linq_error(StatusCode::CONFLICT, 2009, None),
        )
        .method(Method::DELETE)
        .path_contains(group.clone()),
    );
    let (r, sent) = counting(sandbox, linq.remove_participant(&chat, &who, plain)).await;
    let ok = matches!(&r, Ok(o) if o.as_str() == "queued") && sent == 2;
    tour.step(
        P,
        "409/2009 (chat still being created) is retried",
        "queued after 2 requests",
        format!("{} after {sent} requests", super::describe(&r)),
        ok,
    );

    let dm = emulator.create_dm("+14155550100");
    let (chat, member) = (ChatId::new(dm)?, "+14155550100".parse::<Handle>()?);
    let (r, sent) = counting(sandbox, linq.remove_participant(&chat, &member, plain)).await;
    let ok = matches!(&r, Err(e) if e.kind() == ErrorKind::NotAGroup && e.code() == Some("1006"))
        && sent == 1;
    tour.step(
        P,
        "a permanent 409 (1006, a DM) is not retried",
        "not_a_group (code 1006), 1 request",
        format!("{}, {sent} request(s)", super::describe(&r)),
        ok,
    );

    let chat = ChatId::new(group.clone())?;
    sandbox.faults().inject(
        Fault::new(
            Provider::Linq,
            FaultAction::linq_error(StatusCode::BAD_REQUEST, 1002, None),
        )
        .method(Method::POST)
        .path_contains(group),
    );
    let newcomer: Handle = "+14155550400".parse()?;
    let r = linq.add_participant(&chat, &newcomer, plain).await;
    tour.error(
        P,
        "a server-side E.164 refusal (1002)",
        ErrorKind::InvalidInput,
        Some("1002"),
        &r,
    );
    Ok(())
}
