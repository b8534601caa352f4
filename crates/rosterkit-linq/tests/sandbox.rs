//! End to end over real loopback HTTP against the sandbox's Linq emulator: every operation,
//! every documented failure, retries decided by code (asserted on the journal), ensure mode,
//! confirmation by polling, and webhooks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use rosterkit_core::{
    ChangeOptions, ChatId, ErrorKind, Handle, Membership, NativeId, Outcome, RetryPolicy,
};
use rosterkit_linq::{Expect, HandleStatus, LinqChange, LinqClient, WaitOptions, webhook};
use rosterkit_sandbox::{
    Fault, FaultAction, JournalEntry, Method, Provider, Sandbox, StatusCode, linq::DEFAULT_LINE,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ALICE: &str = "+12052499136";
const BOB: &str = "+14155550100";
const CAROL: &str = "+14155550101";
const DAVE: &str = "+14155550102";

fn h(s: &str) -> Handle {
    s.parse().unwrap()
}

/// Tiny backoffs, no jitter: retries are fast and deterministic.
fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .with_backoff(Duration::from_millis(1), Duration::from_millis(2))
        .with_jitter(false)
}

struct Env {
    sandbox: Sandbox,
    linq: LinqClient,
}

impl Env {
    async fn start() -> Self {
        Self::with_policy(fast()).await
    }

    async fn with_policy(policy: RetryPolicy) -> Self {
        let sandbox = Sandbox::start().await.unwrap();
        let info = sandbox.info().linq;
        let linq = LinqClient::builder()
            .base_url(info.base_url)
            .api_key(info.api_key)
            .retry_policy(policy)
            .build()
            .unwrap();
        Self { sandbox, linq }
    }

    /// A group of our line and three members: 4 active, so one removal or a leave is allowed.
    fn group(&self) -> ChatId {
        ChatId::new(self.sandbox.linq().create_group(&[ALICE, BOB, CAROL])).unwrap()
    }

    fn journal(&self) -> Vec<JournalEntry> {
        self.sandbox.journal().entries_for(Provider::Linq)
    }

    fn requests(&self, method: &str) -> usize {
        self.journal().iter().filter(|e| e.method == method).count()
    }

    fn fault(&self, method: Method, action: FaultAction, times: u32) {
        self.sandbox.faults().inject(
            Fault::new(Provider::Linq, action)
                .method(method)
                .times(times),
        );
    }

    fn status_of(&self, chat: &ChatId, handle: &str) -> Option<String> {
        self.sandbox
            .linq()
            .handles(chat.as_str())?
            .into_iter()
            .rev()
            .find(|x| x.handle == handle)
            .map(|x| x.status)
    }
}

/// The issue's "done when": exactly `DELETE {base}/v3/chats/<uuid>/participants` with body
/// `{"handle":"+12052499136"}`, `Queued` with the reply's trace id; then confirmed by polling.
#[tokio::test]
async fn remove_is_queued_then_confirmed() {
    let env = Env::start().await;
    let chat = env.group();
    let change = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();
    let LinqChange::Queued(accepted) = change else {
        panic!("{change:?}")
    };
    let trace = accepted.trace_id.clone().unwrap();
    assert_eq!(trace.len(), 32);
    assert_eq!(
        accepted.message.as_deref(),
        Some("Participant removal queued")
    );

    let journal = env.journal();
    assert_eq!(journal.len(), 1);
    let entry = &journal[0];
    assert_eq!(entry.method, "DELETE");
    assert_eq!(
        entry.path,
        format!("/linq/api/partner/v3/chats/{chat}/participants")
    );
    assert_eq!(entry.body.as_ref(), br#"{"handle":"+12052499136"}"#);
    assert_eq!(entry.header("content-type"), Some("application/json"));
    assert_eq!(
        entry.header("authorization"),
        Some(format!("Bearer {}", env.sandbox.linq().api_key()).as_str())
    );
    assert_eq!(entry.status, Some(202));

    let outcome = env
        .linq
        .wait_for(&chat, &h(ALICE), Expect::Removed, WaitOptions::default())
        .await
        .unwrap();
    let Outcome::Applied {
        roster: Some(roster),
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(roster, vec![h(DEFAULT_LINE), h(BOB), h(CAROL)]);
    let read = env.linq.get_chat(&chat).await.unwrap();
    let alice = read.handle(&h(ALICE)).unwrap();
    assert_eq!(alice.status, HandleStatus::Removed);
    assert!(alice.left_at.is_some());
    assert_eq!(env.requests("GET"), 2);
}

/// A change applied some time after the 202: `wait_for` polls with backoff until it shows.
#[tokio::test(start_paused = true)]
async fn wait_for_polls_until_a_delayed_change_shows() {
    let env = Env::start().await;
    env.sandbox.linq().set_apply_delay(Duration::from_secs(3));
    let chat = env.group();
    let change = env
        .linq
        .remove(&chat, &h(BOB), ChangeOptions::default())
        .await
        .unwrap();
    assert!(matches!(change, LinqChange::Queued(_)));
    assert_eq!(env.status_of(&chat, BOB).as_deref(), Some("active"));
    let options =
        WaitOptions::default().with_delays(Duration::from_secs(1), Duration::from_secs(2));
    let outcome = env
        .linq
        .wait_for(&chat, &h(BOB), Expect::Removed, options)
        .await
        .unwrap();
    assert!(!outcome.roster().unwrap().contains(&h(BOB)));
    // Reads at 0, 1, 3 (and 5) s: at least three, and not all ten.
    let gets = env.requests("GET");
    assert!((3..=4).contains(&gets), "{gets}");
}

#[tokio::test]
async fn wait_for_gives_up_with_a_timeout() {
    let env = Env::start().await;
    env.sandbox
        .linq()
        .set_apply_delay(Duration::from_secs(3600));
    let chat = env.group();
    env.linq
        .add(&chat, &h(DAVE), ChangeOptions::default())
        .await
        .unwrap();
    let options = WaitOptions::new(3, Duration::from_millis(1), Duration::from_millis(2));
    let err = env
        .linq
        .wait_for(&chat, &h(DAVE), Expect::Active, options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!err.is_retryable());
    assert!(!err.to_string().contains("4155550102"), "{err}");
    assert!(err.to_string().contains("queued addition of"), "{err}");
    assert_eq!(env.requests("GET"), 3);
    assert_eq!(err.attempts(), 3, "each read was an answered request");
    // Once applied, the same wait succeeds at once.
    assert_eq!(env.sandbox.linq().apply_pending(), 1);
    let outcome = env
        .linq
        .wait_for(&chat, &h(DAVE), Expect::Active, options)
        .await
        .unwrap();
    assert!(outcome.roster().unwrap().contains(&h(DAVE)));
}

/// After leaving, every call is 409/2013, answered once; ensure mode makes it `AlreadyDone`.
#[tokio::test]
async fn leave_then_2013_on_the_next_call() {
    let env = Env::start().await;
    let chat = env.group();
    let change = env
        .linq
        .leave_group(&chat, ChangeOptions::default())
        .await
        .unwrap();
    assert!(matches!(change, LinqChange::Queued(_)));
    let leave = &env.journal()[0];
    assert_eq!(leave.method, "POST");
    assert_eq!(
        leave.path,
        format!("/linq/api/partner/v3/chats/{chat}/leave")
    );
    assert!(leave.body.is_empty());
    assert_eq!(leave.header("content-type"), None);

    let confirmed = env
        .linq
        .wait_for(
            &chat,
            &h(DEFAULT_LINE),
            Expect::Left,
            WaitOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(confirmed, Outcome::Applied { .. }));
    assert!(env.linq.get_chat(&chat).await.unwrap().has_left());
    let confirmed = env
        .linq
        .wait_for_leave(&chat, WaitOptions::default())
        .await
        .unwrap();
    assert!(!confirmed.roster().unwrap().contains(&h(DEFAULT_LINE)));
    // A Linq that stops serving the chat after a leave (409/2013 on the read) also confirms it.
    env.fault(
        Method::GET,
        FaultAction::linq_error(StatusCode::CONFLICT, 2013, None),
        1,
    );
    let confirmed = env
        .linq
        .wait_for_leave(&chat, WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(confirmed.roster(), None);

    env.sandbox.journal().clear();
    let err = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatUnavailable);
    assert_eq!(err.code(), Some("2013"));
    assert_eq!(err.http_status(), Some(409));
    assert!(err.trace_id().is_some());
    assert_eq!(env.journal().len(), 1, "a permanent 409 is answered once");

    let err = env
        .linq
        .leave_group(&chat, ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatUnavailable);
    let again = env
        .linq
        .leave_group(&chat, ChangeOptions::ensure())
        .await
        .unwrap();
    assert!(matches!(
        again,
        LinqChange::AlreadyDone { trace_id: Some(_) }
    ));
    assert_eq!(env.journal().len(), 3);
    let err = env
        .linq
        .add(&chat, &h(DAVE), ChangeOptions::ensure())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatUnavailable);
}

/// 409/2009 "chat still being created" is retried; the retry is accepted.
#[tokio::test]
async fn code_2009_is_retried() {
    let env = Env::start().await;
    let chat = env.group();
    env.fault(
        Method::DELETE,
        FaultAction::linq_error(StatusCode::CONFLICT, 2009, None),
        2,
    );
    let change = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();
    assert!(matches!(change, LinqChange::Queued(_)));
    let statuses: Vec<_> = env.journal().iter().map(|e| e.status).collect();
    assert_eq!(statuses, [Some(409), Some(409), Some(202)]);
    assert_eq!(env.status_of(&chat, ALICE).as_deref(), Some("removed"));
}

/// Permanent 409s are answered once: documented ones and the undocumented 2014/2018 (which
/// map by status and are not retried).
#[tokio::test]
async fn permanent_409s_are_answered_once() {
    let env = Env::start().await;
    let chat = env.group();
    for (code, kind) in [
        (2013, ErrorKind::ChatUnavailable),
        (1006, ErrorKind::NotAGroup),
        (2014, ErrorKind::Conflict),
        (2016, ErrorKind::Unsupported),
        (2017, ErrorKind::Unsupported),
        (2018, ErrorKind::Conflict),
    ] {
        env.sandbox.journal().clear();
        env.fault(
            Method::DELETE,
            FaultAction::linq_error(StatusCode::CONFLICT, code, None),
            3,
        );
        let err = env
            .linq
            .remove(&chat, &h(ALICE), ChangeOptions::ensure())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(err.code(), Some(code.to_string().as_str()));
        assert_eq!(env.journal().len(), 1, "{code} was retried");
        env.sandbox.faults().clear();
    }
    // A real DM answers 409/1006 once.
    let dm = ChatId::new(env.sandbox.linq().create_dm(ALICE)).unwrap();
    env.sandbox.journal().clear();
    let err = env
        .linq
        .remove(&dm, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAGroup);
    assert_eq!(env.journal().len(), 1);
}

/// The client validates E.164 first, so a server's 400/1002 is injected: `InvalidInput`, once.
#[tokio::test]
async fn e164_error_from_the_server_is_invalid_input() {
    let env = Env::start().await;
    let chat = env.group();
    env.fault(
        Method::POST,
        FaultAction::linq_error(StatusCode::BAD_REQUEST, 1002, None),
        1,
    );
    let err = env
        .linq
        .add(&chat, &h(DAVE), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.code(), Some("1002"));
    assert_eq!(err.message(), "Phone number must be in E.164 format");
    assert_eq!(env.journal().len(), 1);
}

/// 429/1007 with `Retry-After: 12`: the retry waits 12 s (tokio time, paused).
#[tokio::test(start_paused = true)]
async fn rate_limit_honours_retry_after() {
    let env = Env::start().await;
    let chat = env.group();
    env.fault(
        Method::DELETE,
        FaultAction::linq_error(StatusCode::TOO_MANY_REQUESTS, 1007, Some(12)),
        1,
    );
    let started = tokio::time::Instant::now();
    let change = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();
    assert!(matches!(change, LinqChange::Queued(_)));
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(12), "{waited:?}");
    assert!(waited < Duration::from_secs(20), "{waited:?}");
    assert_eq!(env.journal().len(), 2);
}

/// A wait longer than the policy allows ends the run with the delay on the error.
#[tokio::test]
async fn rate_limit_longer_than_the_policy_is_returned() {
    let env = Env::with_policy(fast().with_max_retry_after(Duration::from_secs(5))).await;
    let chat = env.group();
    env.fault(
        Method::GET,
        FaultAction::linq_error(StatusCode::TOO_MANY_REQUESTS, 1007, Some(12)),
        1,
    );
    let err = env.linq.get_chat(&chat).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert!(err.is_retryable());
    assert_eq!(env.journal().len(), 1);
}

/// 5xx on a mutation is ambiguous: not retried unless in ensure mode. Reads are retried.
#[tokio::test]
async fn ambiguous_failures_are_retried_only_in_ensure_mode() {
    let env = Env::start().await;
    let chat = env.group();
    env.fault(
        Method::DELETE,
        FaultAction::linq_error(StatusCode::INTERNAL_SERVER_ERROR, 3006, None),
        1,
    );
    let err = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert!(err.is_retryable() && err.is_ambiguous());
    assert_eq!(env.journal().len(), 1);

    env.fault(
        Method::DELETE,
        FaultAction::linq_error(StatusCode::INTERNAL_SERVER_ERROR, 3006, None),
        1,
    );
    let change = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::ensure())
        .await
        .unwrap();
    assert!(matches!(change, LinqChange::Queued(_)));
    assert_eq!(env.requests("DELETE"), 3);

    // A gateway page without an envelope on a read: retried.
    env.fault(
        Method::GET,
        FaultAction::Respond {
            status: StatusCode::BAD_GATEWAY,
            headers: vec![("content-type".into(), "text/html".into())],
            body: "<html>bad gateway</html>".into(),
        },
        1,
    );
    assert!(env.linq.get_chat(&chat).await.is_ok());
    assert_eq!(env.requests("GET"), 2);

    // 4004 (503) and 4001 mean "not processed": retried even outside ensure mode.
    env.fault(
        Method::POST,
        FaultAction::linq_error(StatusCode::SERVICE_UNAVAILABLE, 4004, None),
        1,
    );
    env.linq
        .add(&chat, &h(DAVE), ChangeOptions::default())
        .await
        .unwrap();
    assert_eq!(env.requests("POST"), 2);
}

/// The removal was applied but its reply was lost; ensure mode retries, Linq answers "not a
/// member", and a read of the chat confirms it: `AlreadyDone`.
#[tokio::test]
async fn ensure_mode_survives_a_lost_reply() {
    let env = Env::start().await;
    let chat = env.group();
    env.fault(Method::DELETE, FaultAction::DropAfterApply, 1);
    let change = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::ensure())
        .await
        .unwrap();
    assert!(
        matches!(change, LinqChange::AlreadyDone { .. }),
        "{change:?}"
    );
    let methods: Vec<_> = env
        .journal()
        .iter()
        .map(|e| (e.method.clone(), e.status))
        .collect();
    assert_eq!(
        methods,
        [
            ("DELETE".to_owned(), None),
            ("DELETE".to_owned(), Some(400)),
            ("GET".to_owned(), Some(200)),
        ]
    );
    assert_eq!(
        env.sandbox
            .journal()
            .effects()
            .iter()
            .filter(|e| e.starts_with("linq:remove"))
            .count(),
        1
    );

    // Without ensure the lost reply is an error and nothing is retried.
    env.sandbox.journal().clear();
    env.fault(Method::DELETE, FaultAction::DropAfterApply, 1);
    let err = env
        .linq
        .remove(&chat, &h(BOB), ChangeOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_ambiguous());
    assert_eq!(env.journal().len(), 1);
}

/// Linq's `x-should-retry` overrides the table both ways.
#[tokio::test]
async fn x_should_retry_overrides_the_table() {
    let env = Env::start().await;
    let chat = env.group();
    let body = r#"{"success":false,"error":{"status":409,"code":2013,"message":"This chat is unavailable"},"trace_id":"t"}"#;
    env.fault(
        Method::DELETE,
        FaultAction::Respond {
            status: StatusCode::CONFLICT,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-should-retry".into(), "true".into()),
            ],
            body: body.into(),
        },
        1,
    );
    env.linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();
    assert_eq!(env.journal().len(), 2);

    env.sandbox.journal().clear();
    let body = r#"{"error":{"status":409,"code":2009,"message":"Chat is still being created"}}"#;
    env.fault(
        Method::POST,
        FaultAction::Respond {
            status: StatusCode::CONFLICT,
            headers: vec![("x-should-retry".into(), "false".into())],
            body: body.into(),
        },
        1,
    );
    let err = env
        .linq
        .add(&chat, &h(DAVE), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("2009"));
    assert_eq!(env.journal().len(), 1);
}

/// The emulator's synchronous rejections, each mapped to its kind.
#[tokio::test]
async fn documented_failures_map_to_kinds() {
    let env = Env::start().await;
    let chat = env.group();
    let unknown = ChatId::new("550e8400-e29b-41d4-a716-446655440000").unwrap();
    let err = env.linq.get_chat(&unknown).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ChatNotFound);
    assert_eq!(err.code(), Some("2001"));

    let bad_key = LinqClient::builder()
        .base_url(env.sandbox.info().linq.base_url)
        .api_key("wrong")
        .build()
        .unwrap();
    let err = bad_key.get_chat(&chat).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.code(), Some("2004"));

    // Not a member: 400/1005, classified by one read of the chat.
    env.sandbox.journal().clear();
    let err = env
        .linq
        .remove(&chat, &h(DAVE), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAMember);
    assert_eq!(err.code(), Some("1005"));
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(env.requests("DELETE"), 1);
    assert_eq!(env.requests("GET"), 1);
    // ... and in ensure mode that is the goal.
    let done = env
        .linq
        .remove(&chat, &h(DAVE), ChangeOptions::ensure())
        .await
        .unwrap();
    assert!(matches!(done, LinqChange::AlreadyDone { .. }));

    // Group at its minimum.
    env.linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();
    let err = env
        .linq
        .remove(&chat, &h(BOB), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::GroupTooSmall);
    let err = env
        .linq
        .leave_group(&chat, ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::GroupTooSmall);
    let pair = ChatId::new(env.sandbox.linq().create_group(&[ALICE])).unwrap();
    let err = env
        .linq
        .add(&pair, &h(BOB), ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::GroupTooSmall);

    // Services.
    let sms = ChatId::new(
        env.sandbox
            .linq()
            .create_chat(rosterkit_sandbox::linq::LinqChatSeed {
                service: "SMS".into(),
                ..rosterkit_sandbox::linq::LinqChatSeed::group(&[ALICE, BOB, CAROL])
            }),
    )
    .unwrap();
    let err = env
        .linq
        .leave_group(&sms, ChangeOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert_eq!(err.code(), Some("2017"));
    let dm = ChatId::new(env.sandbox.linq().create_dm(ALICE)).unwrap();
    let err = env
        .linq
        .leave_group(&dm, ChangeOptions::ensure())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAGroup);
}

/// Invalid input is refused before anything is sent.
#[tokio::test]
async fn invalid_input_sends_nothing() {
    let env = Env::start().await;
    let chat = env.group();
    let not_uuid = ChatId::new("ch_01HTEST").unwrap();
    let native = Handle::Native(NativeId::new("8:acs:1").unwrap());
    let errors = [
        env.linq
            .remove(&not_uuid, &h(ALICE), ChangeOptions::default())
            .await
            .unwrap_err(),
        env.linq
            .remove(&chat, &native, ChangeOptions::default())
            .await
            .unwrap_err(),
        env.linq
            .add(&chat, &native, ChangeOptions::ensure())
            .await
            .unwrap_err(),
        env.linq
            .leave_group(&not_uuid, ChangeOptions::default())
            .await
            .unwrap_err(),
        env.linq.get_chat(&not_uuid).await.unwrap_err(),
        env.linq
            .wait_for(
                &not_uuid,
                &h(ALICE),
                Expect::Removed,
                WaitOptions::default(),
            )
            .await
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert_eq!(err.attempts(), 0);
    }
    assert!(env.journal().is_empty());
}

/// Chat ids in upper case are accepted and sent lowercased.
#[tokio::test]
async fn upper_case_chat_ids() {
    let env = Env::start().await;
    let chat = env.group();
    let upper = ChatId::new(chat.as_str().to_ascii_uppercase()).unwrap();
    let read = env.linq.get_chat(&upper).await.unwrap();
    assert_eq!(read.id, chat.as_str());
    assert_eq!(
        env.journal()[0].path,
        format!("/linq/api/partner/v3/chats/{chat}")
    );
}

/// Add, confirm, and the re-add of a removed member.
#[tokio::test]
async fn add_is_queued_then_confirmed() {
    let env = Env::start().await;
    let chat = env.group();
    let change = env
        .linq
        .add(&chat, &h("dave@example.com"), ChangeOptions::default())
        .await
        .unwrap();
    assert!(matches!(change, LinqChange::Queued(_)));
    let entry = &env.journal()[0];
    assert_eq!(entry.method, "POST");
    assert_eq!(entry.body.as_ref(), br#"{"handle":"dave@example.com"}"#);
    assert_eq!(entry.header("content-type"), Some("application/json"));
    let outcome = env
        .linq
        .wait_for(
            &chat,
            &h("Dave@Example.com"),
            Expect::Active,
            WaitOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(outcome.roster().unwrap().len(), 5);
}

/// Provider-agnostic code through `Box<dyn Membership>`.
#[tokio::test]
async fn membership_trait() {
    let env = Env::start().await;
    let chat = env.group();
    let m: Box<dyn Membership> = Box::new(env.linq.clone());
    assert_eq!(m.provider(), "linq");
    let caps = m.capabilities();
    assert!(caps.remove && caps.add && caps.leave && caps.list && caps.queued);
    assert!(caps.handles.phone && caps.handles.email && !caps.handles.native);
    assert!(!caps.batch);

    let roster: Vec<Handle> = m
        .participants(&chat)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.handle)
        .collect();
    assert_eq!(roster, vec![h(DEFAULT_LINE), h(ALICE), h(BOB), h(CAROL)]);
    let outcome = m
        .remove_participant(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();
    let Outcome::Queued { trace_id: Some(_) } = outcome else {
        panic!("{outcome:?}")
    };
    let outcome = m
        .remove_participant(&chat, &h(ALICE), ChangeOptions::ensure())
        .await
        .unwrap();
    assert_eq!(outcome.as_str(), "already_done");
    let results = m
        .add_participants(&chat, &[h(ALICE), h(DAVE)], ChangeOptions::default())
        .await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(Outcome::Queued { .. })))
    );
    assert_eq!(
        m.leave(&chat, ChangeOptions::default())
            .await
            .unwrap()
            .as_str(),
        "queued"
    );
    assert_eq!(
        m.leave(&chat, ChangeOptions::ensure())
            .await
            .unwrap()
            .as_str(),
        "already_done"
    );
}

/// The emulator's signed webhook verifies with our verifier, and its trace id is the one the
/// queued reply returned.
#[tokio::test]
async fn webhook_confirms_the_queued_change() {
    let env = Env::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let secret = "whsec_test_0123456789";
    env.sandbox.linq().add_webhook(&url, secret);
    let chat = env.group();
    let change = env
        .linq
        .remove(&chat, &h(ALICE), ChangeOptions::default())
        .await
        .unwrap();

    let (mut stream, _) = listener.accept().await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let (head, body) = loop {
        let n = stream.read(&mut buf).await.unwrap();
        raw.extend_from_slice(&buf[..n]);
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap();
            if raw.len() >= split + 4 + len {
                break (head, raw[split + 4..split + 4 + len].to_vec());
            }
        }
        assert!(n > 0, "connection closed early");
    };
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut headers = rosterkit_core::http::HeaderMap::new();
    for line in head.lines().skip(1) {
        let (name, value) = line.split_once(':').unwrap();
        headers.insert(
            rosterkit_core::http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    let event = webhook::WebhookVerifier::new(secret)
        .unwrap()
        .verify_headers(&headers, &body, std::time::SystemTime::now())
        .unwrap();
    assert_eq!(event.trace_id.as_deref(), change.trace_id());
    let webhook::EventKind::ParticipantRemoved(removed) = event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(removed.handle, Some(h(ALICE)));
    assert_eq!(removed.chat_id.as_deref(), Some(chat.as_str()));
    assert_eq!(
        removed.participant.map(|p| p.status),
        Some(HandleStatus::Removed)
    );
    // A tampered body fails.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert!(
        webhook::WebhookVerifier::new(secret)
            .unwrap()
            .verify_headers(&headers, &tampered, std::time::SystemTime::now())
            .is_err()
    );
}
