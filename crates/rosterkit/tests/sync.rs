//! `rosterkit::sync` end to end: every adapter over real loopback HTTP against the sandbox —
//! Linq, Z-API and ACS list their rosters, Chert plans from a supplied one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg(all(
    feature = "sync",
    feature = "chert",
    feature = "linq",
    feature = "zapi",
    feature = "acs"
))]

use std::collections::BTreeSet;

use rosterkit::{
    ChatId, Handle, Membership, RetryPolicy,
    acs::{AcsClient, Pacing},
    chert::ChertClient,
    linq::LinqClient,
    sync::{
        self, ApplyOptions, ApplyReport, MaxRemovals, OwnLine, Plan, Refusal, RosterSource, Rules,
        Step, SyncError, SyncOptions,
    },
    zapi::ZapiClient,
};
use rosterkit_sandbox::{Fault, FaultAction, JournalEntry, Method, Provider, Sandbox, StatusCode};

const ALL: [Provider; 4] = [
    Provider::Chert,
    Provider::Linq,
    Provider::Zapi,
    Provider::Acs,
];

/// One chat on one provider, seeded with our line and members `1..`.
struct Env {
    sandbox: Sandbox,
    provider: Provider,
    client: Box<dyn Membership>,
    chat: ChatId,
    own_line: OwnLine,
}

impl Env {
    async fn new(provider: Provider, members: &[usize]) -> Self {
        let sandbox = Sandbox::start().await.unwrap();
        let info = sandbox.info();
        let seeds: Vec<String> = members.iter().map(|&i| seed(provider, i)).collect();
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        // No retries: a fault shows up as a failed step, as after the executor gave up.
        let once = RetryPolicy::no_retries();
        let (client, chat, own_line): (Box<dyn Membership>, String, OwnLine) = match provider {
            Provider::Chert => (
                Box::new(
                    ChertClient::builder()
                        .base_url(info.chert.base_url)
                        .tenant(info.chert.tenant)
                        .signing_secret(info.chert.signing_secret)
                        .retry_policy(once)
                        .build()
                        .unwrap(),
                ),
                sandbox.chert().create_group(&seeds),
                OwnLine::NotInRoster,
            ),
            Provider::Linq => (
                Box::new(
                    LinqClient::builder()
                        .base_url(info.linq.base_url)
                        .api_key(info.linq.api_key)
                        .retry_policy(once)
                        .build()
                        .unwrap(),
                ),
                sandbox.linq().create_group(&seeds),
                OwnLine::Handle(rosterkit_sandbox::linq::DEFAULT_LINE.parse().unwrap()),
            ),
            Provider::Zapi => (
                Box::new(
                    ZapiClient::builder()
                        .base_url(info.zapi.base_url)
                        .instance_id(info.zapi.instance_id)
                        .instance_token(info.zapi.instance_token)
                        .client_token(info.zapi.client_token)
                        .pacing(std::time::Duration::ZERO)
                        .retry_policy(once)
                        .build()
                        .unwrap(),
                ),
                sandbox.zapi().create_group(&seeds),
                OwnLine::Handle(
                    format!("+{}", sandbox.zapi().connected_phone())
                        .parse()
                        .unwrap(),
                ),
            ),
            Provider::Acs => (
                Box::new(
                    AcsClient::builder()
                        .base_url(info.acs.endpoint)
                        .user_token(info.acs.user_token)
                        .pacing(Pacing::off())
                        .retry_policy(once)
                        .build()
                        .unwrap(),
                ),
                sandbox.acs().create_thread(&seeds),
                OwnLine::Handle(rosterkit_sandbox::acs::DEFAULT_USER_ID.parse().unwrap()),
            ),
            other => panic!("no sync test for {other:?}"),
        };
        Self {
            sandbox,
            provider,
            client,
            chat: ChatId::new(chat).unwrap(),
            own_line,
        }
    }

    /// Member `i` as the desired roster writes it.
    fn member(&self, i: usize) -> Handle {
        match self.provider {
            Provider::Acs => seed(self.provider, i),
            Provider::Zapi => format!("+{}", seed(self.provider, i)),
            _ => seed(self.provider, i),
        }
        .parse()
        .unwrap()
    }

    /// The members now, as the emulator holds them (our line excluded).
    fn members(&self) -> BTreeSet<String> {
        let own = match &self.own_line {
            OwnLine::Handle(h) => h.as_str().trim_start_matches('+').to_owned(),
            _ => String::new(),
        };
        let all = match self.provider {
            Provider::Chert => self.sandbox.chert().members(self.chat.as_str()),
            Provider::Linq => self.sandbox.linq().active_handles(self.chat.as_str()),
            Provider::Zapi => self.sandbox.zapi().members(self.chat.as_str()),
            _ => self.sandbox.acs().participants(self.chat.as_str()),
        };
        all.unwrap()
            .into_iter()
            .filter(|m| m.trim_start_matches('+') != own)
            .collect()
    }

    /// The members `ids`, as the emulator holds them.
    fn expect(&self, ids: &[usize]) -> BTreeSet<String> {
        ids.iter().map(|&i| seed(self.provider, i)).collect()
    }

    /// Chert has no list route: the caller supplies the roster it keeps (here, the emulator's).
    fn options(&self, rules: Rules) -> SyncOptions {
        let options = SyncOptions::new(rules.with_own_line(self.own_line.clone()));
        match self.provider {
            Provider::Chert => {
                options.with_roster(self.members().iter().map(|m| m.parse().unwrap()))
            }
            _ => options,
        }
    }

    async fn plan(&self, desired: &[usize], rules: Rules) -> Result<Plan, SyncError> {
        let desired: Vec<Handle> = desired.iter().map(|&i| self.member(i)).collect();
        sync::plan(&*self.client, &self.chat, &desired, &self.options(rules)).await
    }

    async fn apply(&self, plan: &Plan) -> ApplyReport {
        sync::apply(&*self.client, plan, &ApplyOptions::default())
            .await
            .unwrap()
    }

    /// The membership changes sent, in arrival order: `("add" | "remove", status)`.
    fn mutations(&self) -> Vec<(&'static str, Option<u16>)> {
        let mut entries = self.sandbox.journal().entries_for(self.provider);
        entries.sort_by_key(|e| e.seq);
        entries
            .iter()
            .filter_map(|e| change(e).map(|c| (c, e.status)))
            .collect()
    }

    /// Every add and remove the emulator applied, in journal order.
    fn effects(&self) -> Vec<String> {
        self.sandbox
            .journal()
            .effects()
            .into_iter()
            .filter(|e| e.contains(":add ") || e.contains(":remove "))
            .collect()
    }
}

/// Member `i` as the emulator is seeded with it.
fn seed(provider: Provider, i: usize) -> String {
    match provider {
        Provider::Zapi => format!("5511999{i:06}"),
        Provider::Acs => format!("8:acs:sync_member_{i}"),
        _ => format!("+1415555{i:04}"),
    }
}

/// Whether a request is an add or a remove.
fn change(e: &JournalEntry) -> Option<&'static str> {
    let p = &e.path;
    if e.method == "GET" {
        None
    } else if p.contains(":add") || p.contains("/add-participant") {
        Some("add")
    } else if p.contains(":remove") || p.contains("/remove-participant") {
        Some("remove")
    } else if p.contains("/participants") {
        Some(if e.method == "DELETE" {
            "remove"
        } else {
            "add"
        })
    } else {
        None
    }
}

fn refusal(result: Result<Plan, SyncError>) -> Refusal {
    match result {
        Err(SyncError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Plan, apply, plan again: the second plan is empty. Adds go first, batched where the
/// provider batches (one Z-API `phones` array, one ACS `:add`).
#[tokio::test]
async fn plan_apply_converge_on_every_provider() {
    for provider in ALL {
        let env = Env::new(provider, &[1, 2, 3]).await;
        let plan = env.plan(&[2, 3, 4, 5], Rules::default()).await.unwrap();
        let expected_source = match provider {
            Provider::Chert => RosterSource::Supplied,
            _ => RosterSource::Listed,
        };
        assert_eq!(plan.source, expected_source, "{provider:?}");
        assert_eq!(
            plan.steps,
            [
                Step::Add(env.member(4)),
                Step::Add(env.member(5)),
                Step::Remove(env.member(1)),
            ],
            "{provider:?}: {plan}"
        );
        assert!(
            env.mutations().is_empty(),
            "{provider:?}: planning sent a change"
        );

        let report = env.apply(&plan).await;
        assert!(report.is_complete(), "{provider:?}: {report:?}");
        assert_eq!(env.members(), env.expect(&[2, 3, 4, 5]), "{provider:?}");
        if provider == Provider::Chert {
            // Chert's replies carry the roster: the next plan can start from it.
            let carried = report.last_roster().unwrap();
            let carried: BTreeSet<String> = carried.iter().map(ToString::to_string).collect();
            assert_eq!(carried, env.members());
        }
        let again = env.plan(&[2, 3, 4, 5], Rules::default()).await.unwrap();
        assert!(again.is_empty(), "{provider:?}: {again}");

        let kinds: Vec<&str> = env.mutations().iter().map(|m| m.0).collect();
        let expected: &[&str] = match provider {
            Provider::Zapi | Provider::Acs => &["add", "remove"],
            _ => &["add", "add", "remove"],
        };
        assert_eq!(kinds, expected, "{provider:?}");
        assert_eq!(env.effects().len(), 3, "{provider:?}: {:?}", env.effects());
        env.sandbox.shutdown().await;
    }
}

/// Chert and Linq keep 3 members (our line included): a replacement at the minimum goes
/// through because the add is sent before the remove, and a roster below it is refused with
/// nothing sent.
#[tokio::test]
async fn at_the_minimum_size_adds_go_before_removes() {
    for provider in [Provider::Chert, Provider::Linq] {
        let env = Env::new(provider, &[1, 2]).await;
        assert_eq!(env.client.capabilities().min_group_size, Some(3));
        let refused = refusal(env.plan(&[2], Rules::default()).await);
        assert_eq!(
            refused,
            Refusal::BelowMinimum { size: 2, min: 3 },
            "{provider:?}"
        );
        assert!(env.mutations().is_empty(), "{provider:?}");

        let plan = env.plan(&[2, 3], Rules::default()).await.unwrap();
        assert_eq!((plan.size_before, plan.size_after), (3, 3), "{provider:?}");
        let report = env.apply(&plan).await;
        assert!(report.is_complete(), "{provider:?}: {report:?}");
        let order = env.mutations();
        assert_eq!(
            order,
            [
                ("add", Some(change_status(provider))),
                ("remove", Some(change_status(provider)))
            ],
            "{provider:?}"
        );
        assert_eq!(env.members(), env.expect(&[2, 3]), "{provider:?}");
        env.sandbox.shutdown().await;
    }
}

/// The success status of a change: Linq queues (202), Chert applies (200).
fn change_status(provider: Provider) -> u16 {
    if provider == Provider::Linq { 202 } else { 200 }
}

/// A desired roster that removes too much is refused before anything is sent; protected
/// members stay though they are not desired.
#[tokio::test]
async fn the_guard_and_protected_members_on_every_provider() {
    for provider in ALL {
        let env = Env::new(provider, &[1, 2, 3, 4]).await;
        let guarded = Rules::default().with_max_removals(MaxRemovals::Percent(50));
        let refused = refusal(env.plan(&[1, 5], guarded.clone()).await);
        assert!(
            matches!(refused, Refusal::TooManyRemovals { removals: 3, .. }),
            "{provider:?}: {refused}"
        );
        // An empty export: refused as such, or (Chert, Linq) as below the minimum first.
        let empty = refusal(env.plan(&[], Rules::default()).await);
        assert!(
            matches!(
                (provider, &empty),
                (
                    Provider::Zapi | Provider::Acs,
                    Refusal::EmptyDesired { removals: 4 }
                ) | (
                    Provider::Chert | Provider::Linq,
                    Refusal::BelowMinimum { .. }
                )
            ),
            "{provider:?}: {empty}"
        );
        assert!(env.mutations().is_empty(), "{provider:?}");

        let protect = guarded.with_protected([env.member(2)]);
        let plan = env.plan(&[1, 3], protect.clone()).await.unwrap();
        assert_eq!(
            plan.steps,
            [Step::Remove(env.member(4))],
            "{provider:?}: {plan}"
        );
        assert_eq!(plan.protected, [env.member(2)], "{provider:?}");
        assert!(env.apply(&plan).await.is_complete(), "{provider:?}");
        assert_eq!(env.members(), env.expect(&[1, 2, 3]), "{provider:?}");
        assert!(
            env.plan(&[1, 3], protect).await.unwrap().is_empty(),
            "{provider:?}"
        );
        env.sandbox.shutdown().await;
    }
}

/// A fault in the middle of apply — the add's reply lost after it took effect, the remove
/// refused (403, not applied) — leaves a step failed; planning and applying again converges,
/// and each change took effect exactly once.
#[tokio::test]
async fn a_fault_mid_apply_then_a_rerun_converges_with_no_duplicate_effect() {
    for provider in ALL {
        let env = Env::new(provider, &[1, 2, 3]).await;
        let (add_path, remove_path, remove_method) = match provider {
            Provider::Zapi => ("/add-participant", "/remove-participant", Method::POST),
            Provider::Acs => (":add", ":remove", Method::POST),
            _ => ("/participants", "/participants", Method::DELETE),
        };
        let faults = env.sandbox.faults();
        faults.inject(
            Fault::new(provider, FaultAction::DropAfterApply)
                .method(Method::POST)
                .path_contains(add_path),
        );
        faults.inject(
            Fault::new(provider, FaultAction::status(StatusCode::FORBIDDEN))
                .method(remove_method)
                .path_contains(remove_path),
        );
        let plan = env.plan(&[2, 3, 4], Rules::default()).await.unwrap();
        assert_eq!(plan.steps.len(), 2, "{provider:?}: {plan}");
        let first = env.apply(&plan).await;
        // Every step reports. Whether the add whose reply was lost is an error or an
        // unconfirmed success is the adapter's call; the refused remove is an error.
        assert_eq!(first.results.len(), 2, "{provider:?}");
        assert!(first.results[1].result.is_err(), "{provider:?}: {first:?}");
        assert!(faults.is_empty(), "{provider:?}: a fault did not fire");

        let rerun = env.plan(&[2, 3, 4], Rules::default()).await.unwrap();
        assert_eq!(
            rerun.steps,
            [Step::Remove(env.member(1))],
            "{provider:?}: {rerun}"
        );
        assert!(env.apply(&rerun).await.is_complete(), "{provider:?}");
        assert!(
            env.plan(&[2, 3, 4], Rules::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(env.members(), env.expect(&[2, 3, 4]), "{provider:?}");

        let effects = env.effects();
        let distinct: BTreeSet<&String> = effects.iter().collect();
        assert_eq!(effects.len(), 2, "{provider:?}: {effects:?}");
        assert_eq!(distinct.len(), 2, "{provider:?}: {effects:?}");
        env.sandbox.shutdown().await;
    }
}
