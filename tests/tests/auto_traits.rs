//! Compile-time guarantees of the public API (issue #18): every client, the executor and a
//! shared `dyn Membership` can be sent to and shared between tasks; clients are cheap to clone
//! (an `Arc` inside); every public future can be spawned on a multi-threaded runtime.
//!
//! Nothing here runs: the functions below are only type-checked, so a change that makes one of
//! these types or futures `!Send` / `!Sync` (an `Rc`, a `RefCell`, a guard held across an
//! `.await`) fails the build of this test.

#![allow(dead_code, clippy::needless_pass_by_value)]

use std::{future::Future, sync::Arc};

use rosterkit::{
    ChangeOptions, ChatId, Handle, Membership, ReqwestClient,
    acs::{AcsClient, CommunicationIdentifier},
    adapter::Executor,
    bulk::{Bulk, BulkRun, Row},
    chert::ChertClient,
    linq::{Expect, LinqClient, WaitOptions},
    zapi::ZapiClient,
};

const fn send_sync<T: Send + Sync>() {}
const fn send_only<T: Send>() {}
const fn send_sync_clone<T: Send + Sync + Clone>() {}
fn send<F: Future + Send>(_: F) {}

const _: () = {
    send_sync_clone::<ChertClient>();
    send_sync_clone::<LinqClient>();
    send_sync_clone::<ZapiClient>();
    send_sync_clone::<AcsClient>();
    send_sync_clone::<ReqwestClient>();
    send_sync_clone::<Arc<dyn Membership>>();
    send_sync::<Executor>();
    // Consumed by one task (`start(self)`, `next(&mut self)`): moved, never shared.
    send_only::<Bulk>();
    send_only::<BulkRun>();
    send_sync::<Row>();
};

fn core_futures(m: Arc<dyn Membership>, chat: &ChatId, who: &Handle, opts: ChangeOptions) {
    send(m.remove_participant(chat, who, opts));
    send(m.add_participant(chat, who, opts));
    send(m.leave(chat, opts));
    send(m.participants(chat));
}

fn bulk_futures(mut run: BulkRun) {
    send(run.next());
    send(run.finish());
}

fn chert_futures(c: &ChertClient, chat: &ChatId, who: &Handle, opts: ChangeOptions) {
    send(c.remove(chat, who, opts));
    send(c.add(chat, who));
    send(c.leave_group(chat, opts));
}

fn linq_futures(
    c: &LinqClient,
    chat: &ChatId,
    who: &Handle,
    opts: ChangeOptions,
    wait: WaitOptions,
) {
    send(c.remove(chat, who, opts));
    send(c.add(chat, who, opts));
    send(c.leave_group(chat, opts));
    send(c.get_chat(chat));
    send(c.wait_for(chat, who, Expect::Removed, wait));
    send(c.wait_for_leave(chat, wait));
}

fn zapi_futures(c: &ZapiClient, chat: &ChatId, who: &[Handle], opts: ChangeOptions) {
    send(c.remove(chat, who, opts));
    send(c.add(chat, who, false, opts));
    send(c.leave_group(chat, opts));
    send(c.group_metadata(chat));
    send(c.light_group_metadata(chat));
    send(c.community_metadata(chat));
    send(c.roster(chat));
}

fn acs_futures(c: &AcsClient, thread: &ChatId, who: &CommunicationIdentifier, opts: ChangeOptions) {
    send(c.chat_context());
    send(c.remove(thread, who, opts));
    send(c.leave_group(thread, opts));
    send(c.add(thread, &[]));
    send(c.list(thread));
}

/// The assertions above are compile-time; this names the file in the test output.
#[test]
fn public_types_and_futures_are_send_sync() {
    send(async {});
}
