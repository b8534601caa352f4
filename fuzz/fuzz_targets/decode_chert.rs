//! Chert's reply decoders: `parse` of every operation, with and without ensure mode.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rosterkit_chert::{
    ChertClient,
    ops::{AddParticipant, Leave, RemoveParticipant},
};
use rosterkit_core::{
    Attempt, ChatId, Handle, Operation, Outcome,
    testing::{ReplySays, check_outcome},
};
use rosterkit_fuzz::{Reply, now, offline};

struct Ops {
    remove: RemoveParticipant,
    remove_ensure: RemoveParticipant,
    add: AddParticipant,
    leave: Leave,
    leave_ensure: Leave,
}

static OPS: LazyLock<Ops> = LazyLock::new(|| {
    let client = ChertClient::builder()
        .tenant("acme")
        .signing_secret("0123456789abcdef0123456789abcdef")
        .http_client(offline())
        .build()
        .expect("client");
    let chat = ChatId::new("ch_01HTEST").expect("chat");
    let who: Handle = "+14155551234".parse().expect("handle");
    let remove = || RemoveParticipant::new(client.config(), &chat, &who).expect("op");
    Ops {
        remove: remove(),
        remove_ensure: remove().ensure(true),
        add: AddParticipant::new(client.config(), &chat, &who).expect("op"),
        leave: Leave::new(client.config(), &chat).expect("op"),
        leave_ensure: Leave::new(client.config(), &chat).expect("op").ensure(true),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::from_input(data) else {
        return;
    };
    let ops = &*OPS;
    let attempt = Attempt::new(2, now(), reply.flag(0));
    // The roster is `participants` (strings, or objects with `address` / `handle`); the trace
    // id the body's `trace_id`, else the `X-Trace-ID` header.
    let says = ReplySays::from_json(
        reply.body,
        Some(("/participants", &["address", "handle"])),
        Some("/trace_id"),
        reply.flag(7).then_some("t-1"),
    );
    let check = |ensure, result: Result<Outcome, _>| {
        check_outcome("chert", reply.status, false, ensure, &says, result);
    };
    check(
        false,
        ops.remove
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
    check(
        false,
        ops.add.parse(reply.response(), &attempt).map(Outcome::from),
    );
    check(
        false,
        ops.leave
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
    check(
        true,
        ops.remove_ensure
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
    check(
        true,
        ops.leave_ensure
            .parse(reply.response(), &attempt)
            .map(Outcome::from),
    );
});
