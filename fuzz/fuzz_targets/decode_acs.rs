//! ACS's reply decoders: `parse` of every operation (remove and leave, add, list, token).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use rosterkit_acs::{
    AccessKey, ChatContext, ChatParticipant, CommunicationIdentifier, Removal,
    ops::{AddParticipants, IssueAccessToken, ListParticipants, RemoveParticipant},
};
use rosterkit_core::{
    Attempt, ChatId, Endpoint, Operation, Secret,
    testing::{ReplySays, check_outcome},
};
use rosterkit_fuzz::{Reply, check, now};

struct Ops {
    remove: RemoveParticipant,
    leave_ensure: RemoveParticipant,
    add: AddParticipants,
    list: ListParticipants,
    token: IssueAccessToken,
}

static OPS: LazyLock<Ops> = LazyLock::new(|| {
    let endpoint = Endpoint::parse("https://contoso.communication.azure.com").expect("endpoint");
    let ctx = ChatContext::new(endpoint.clone(), Secret::new("user-token"));
    let thread = ChatId::new("19:abc@thread.v2").expect("thread");
    let who = CommunicationIdentifier::from_raw_id("8:acs:1111_2222");
    let key = AccessKey::from_base64("AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("key");
    Ops {
        remove: RemoveParticipant::new(ctx.clone(), thread.clone(), who.clone()),
        leave_ensure: RemoveParticipant::new(ctx.clone(), thread.clone(), who.clone())
            .ensure(true)
            .removal(Removal::Leave)
            .after_ambiguous_failure(true),
        add: AddParticipants::new(ctx.clone(), thread.clone(), vec![ChatParticipant::new(who)]),
        list: ListParticipants::first_page(ctx, thread),
        token: IssueAccessToken::new(endpoint, key, "8:acs:1111_2222"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Some(reply) = Reply::from_input(data) else {
        return;
    };
    let ops = &*OPS;
    let attempt = Attempt::new(2, now(), reply.flag(0));
    // The trace id is a header's (`ms-cv` among those the fuzz reply sends).
    let says = ReplySays::from_json(reply.body, None, None, reply.flag(7).then_some("cv-1"));
    check_outcome(
        "acs",
        reply.status,
        false,
        false,
        &says,
        ops.remove.parse(reply.response(), &attempt),
    );
    check_outcome(
        "acs",
        reply.status,
        false,
        true,
        &says,
        ops.leave_ensure.parse(reply.response(), &attempt),
    );
    check(
        "acs",
        &reply,
        ops.add.parse(reply.response(), &attempt),
        false,
    );
    check(
        "acs",
        &reply,
        ops.list.parse(reply.response(), &attempt),
        false,
    );
    check(
        "acs",
        &reply,
        ops.token.parse(reply.response(), &attempt),
        false,
    );
});
