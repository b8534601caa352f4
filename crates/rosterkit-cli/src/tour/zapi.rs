//! The Z-API contract: instance and token in the path, `Client-Token` header, one request for a
//! batch of digits-only phones, and `{"value": bool}` as the only answer.

use std::time::Duration;

use rosterkit::{ChangeOptions, ChatId, Error, ErrorKind, Handle, Membership, zapi::ZapiClient};
use rosterkit_sandbox::{Provider, Sandbox};

use super::Tour;

const P: &str = "zapi";

pub(crate) async fn run(sandbox: &Sandbox, tour: &mut Tour) {
    if let Err(e) = steps(sandbox, tour).await {
        tour.step(P, "setup", "a working client", e, false);
    }
}

fn client(sandbox: &Sandbox, client_token: &str, verify: bool) -> Result<ZapiClient, Error> {
    let info = sandbox.info().zapi;
    ZapiClient::builder()
        .base_url(info.base_url)
        .instance_id(info.instance_id)
        .instance_token(info.instance_token)
        .client_token(client_token)
        .verify(verify)
        // The client spaces participant changes 2 s apart by default (WhatsApp bans aggressive
        // numbers); the tour shortens that against its own emulator.
        .pacing(Duration::from_millis(100))
        .build()
}

fn handles(list: &[&str]) -> Result<Vec<Handle>, Error> {
    list.iter()
        .map(|h| h.parse().map_err(Error::from))
        .collect()
}

fn zapi_requests(sandbox: &Sandbox) -> usize {
    sandbox.journal().entries_for(Provider::Zapi).len()
}

async fn steps(sandbox: &Sandbox, tour: &mut Tour) -> Result<(), Error> {
    let emulator = sandbox.zapi();
    let token = sandbox.info().zapi.client_token;
    let zapi = client(sandbox, &token, false)?;
    let plain = ChangeOptions::default();

    let community = emulator.create_community(&["5544999999999", "5544888888888", "5544777777777"]);
    let chat = ChatId::new(community)?;
    let two = handles(&["+5544999999999", "+5544888888888"])?;
    let before = zapi_requests(sandbox);
    let results = zapi.remove_participants(&chat, &two, plain).await;
    let sent = zapi_requests(sandbox) - before;
    let outcomes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().map_or("failed", |o| o.as_str()))
        .collect();
    tour.step(
        P,
        "remove 2 phones from a community: one request",
        "unconfirmed ×2, 1 request",
        format!("{}, {sent} request(s)", outcomes.join(" + ")),
        outcomes == ["unconfirmed", "unconfirmed"] && sent == 1,
    );

    let group = emulator.create_group(&["5544999999999", "5544888888888", "5544777777777"]);
    let chat = ChatId::new(group)?;
    let verified = client(sandbox, &token, true)?;
    let results = verified.remove_participants(&chat, &two, plain).await;
    let applied = results
        .iter()
        .filter(|r| matches!(r, Ok(o) if o.as_str() == "applied"))
        .count();
    tour.step(
        P,
        "remove 2 phones from a group, --verify reads the roster",
        "applied ×2",
        format!("applied ×{applied}"),
        applied == 2,
    );

    let r = zapi.leave(&chat, plain).await;
    tour.outcome(P, "leave the group (value: true)", "unconfirmed", &r);

    let group = emulator.create_group(&["5544999999999", "5544888888888"]);
    let chat = ChatId::new(group)?;
    emulator.set_connected(false);
    let one = handles(&["+5544999999999"])?;
    let r = zapi.remove_participant(&chat, &one[0], plain).await;
    emulator.set_connected(true);
    tour.error(
        P,
        "a disconnected instance answers value: false",
        ErrorKind::DeliveryFailed,
        None,
        &r,
    );

    let before = zapi_requests(sandbox);
    let email: Handle = "alice@example.com".parse()?;
    let r = zapi.remove_participant(&chat, &email, plain).await;
    let sent = zapi_requests(sandbox) - before;
    let ok = matches!(&r, Err(e) if e.kind() == ErrorKind::InvalidInput) && sent == 0;
    tour.step(
        P,
        "an email handle is refused before any request",
        "invalid_input, 0 requests",
        format!("{}, {sent} request(s)", super::describe(&r)),
        ok,
    );

    let wrong = client(sandbox, "not-the-account-token", false)?;
    let r = wrong.remove_participant(&chat, &one[0], plain).await;
    tour.error(
        P,
        "a wrong Client-Token",
        ErrorKind::Unauthorized,
        Some("null not allowed"),
        &r,
    );
    Ok(())
}
