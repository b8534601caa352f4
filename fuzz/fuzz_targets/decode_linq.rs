//! Linq's reply decoders (`parse` of every operation) and its webhook body parser.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rosterkit_core::{
    Attempt, ChatId, Handle, Operation, Outcome,
    testing::{ReplySays, check_outcome},
};
use rosterkit_fuzz::{Reply, check, now, offline};
use rosterkit_linq::{
    LinqClient,
    ops::{AddParticipant, GetChat, Leave, RemoveParticipant},
    webhook,
};

struct Ops {
    remove: RemoveParticipant,
    add: AddParticipant,
    leave: Leave,
    leave_ensure: Leave,
    get: GetChat,
}

static OPS: LazyLock<Ops> = LazyLock::new(|| {
    let client = LinqClient::builder()
        .api_key("test-token")
        .http_client(offline())
        .build()
        .expect("client");
    let chat = ChatId::new("550e8400-e29b-41d4-a716-446655440000").expect("chat");
    let who: Handle = "+12052499136".parse().expect("handle");
    Ops {
        remove: RemoveParticipant::new(client.config(), &chat, &who).expect("op"),
        add: AddParticipant::new(client.config(), &chat, &who).expect("op"),
        leave: Leave::new(client.config(), &chat).expect("op"),
        leave_ensure: Leave::new(client.config(), &chat).expect("op").ensure(true),
        get: GetChat::new(client.config(), &chat).expect("op"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::from_input(data) else {
        return;
    };
    let ops = &*OPS;
    let attempt = Attempt::new(if reply.flag(0) { 2 } else { 1 }, now(), reply.flag(1));
    // A queued change carries the body's `trace_id`.
    let says = ReplySays::from_json(reply.body, None, Some("/trace_id"), None);
    let change = |ensure, result: Result<Outcome, _>| {
        check_outcome("linq", reply.status, false, ensure, &says, result);
    };
    change(
        false,
        ops.remove
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
    change(
        false,
        ops.add.parse(reply.response(), &attempt).map(Outcome::from),
    );
    change(
        false,
        ops.leave
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
    change(
        true,
        ops.leave_ensure
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
    check(
        "linq",
        &reply,
        ops.get.parse(reply.response(), &attempt),
        false,
    );
    // Any JSON is an event (unknown types are `Other`); anything else a `Decode` error.
    let event = webhook::parse_event(reply.body);
    let is_json = serde_json::from_slice::<serde_json::Value>(reply.body).is_ok();
    assert_eq!(event.is_ok(), is_json);
    if let Err(e) = event {
        let _ = rosterkit_core::Error::from(e).to_string();
    }
});
