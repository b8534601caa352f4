//! The planner's properties, and plan/apply over [`FakeMembership`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use proptest::prelude::*;
use rosterkit_core::testing::FakeMembership;

use super::canonical::Key;
use super::*;
use crate::{Capabilities, Error, ErrorKind, HandleKinds, Outcome};

fn h(s: &str) -> Handle {
    s.parse().unwrap()
}

/// Person `i`, as a phone.
fn phone(i: usize) -> Handle {
    h(&format!("+1415555{i:04}"))
}

/// Person `i`, as an ACS phone identity: the same member as [`phone`].
fn acs_phone(i: usize) -> Handle {
    h(&format!("4:+1415555{i:04}"))
}

fn chat() -> ChatId {
    ChatId::new("team").unwrap()
}

const PEOPLE: usize = 10;

#[derive(Debug, Clone)]
struct Case {
    current: Vec<(usize, bool)>,
    desired: Vec<(usize, bool)>,
    protected: Vec<usize>,
    own: Option<Option<usize>>,
    rules: Rules,
}

fn case() -> impl Strategy<Value = Case> {
    let people = || proptest::collection::vec((0..PEOPLE, any::<bool>()), 0..PEOPLE + 2);
    (
        people(),
        people(),
        proptest::collection::vec(0..PEOPLE, 0..4),
        proptest::option::of(proptest::option::of(0..PEOPLE)),
        proptest::option::of(0usize..6),
        proptest::option::of(prop_oneof![
            (0usize..6).prop_map(MaxRemovals::Count),
            (0u8..=100).prop_map(MaxRemovals::Percent),
        ]),
        any::<(bool, bool, bool)>(),
    )
        .prop_map(
            |(current, desired, protected, own, min, limit, (admins, allow, empty))| {
                let own_line = match own {
                    None => OwnLine::Unknown,
                    Some(None) => OwnLine::NotInRoster,
                    Some(Some(i)) => OwnLine::Handle(phone(i)),
                };
                let mut rules = Rules::default()
                    .with_own_line(own_line)
                    .with_protected(protected.iter().map(|&i| phone(i)))
                    .with_protect_admins(admins)
                    .with_allow_protected_removal(allow)
                    .with_allow_empty(empty);
                rules.min_group_size = min;
                rules.max_removals = limit;
                Case {
                    current,
                    desired,
                    protected,
                    own,
                    rules,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any current × desired × protected × own line × minimum × guard: the plan's steps,
    /// applied to the current roster, give the desired roster plus the protected members kept;
    /// no step touches a protected member or our line; adds come first and no removal takes the
    /// group below the minimum; a refused plan is refused for a rule it really breaks.
    #[test]
    fn applying_a_plan_yields_the_desired_roster(case in case()) {
        // Person `i` is an admin when the current roster says so (first listing wins).
        let current: Vec<Participant> = case.current.iter()
            .map(|&(i, admin)| Participant::new(phone(i)).with_admin(Some(admin)))
            .collect();
        // The desired roster writes some people as ACS phone identities: the same members.
        let desired: Vec<Handle> = case.desired.iter()
            .map(|&(i, acs)| if acs { acs_phone(i) } else { phone(i) })
            .collect();
        let rules = &case.rules;
        let own = case.own.flatten();

        let mut admin = [None; PEOPLE];
        for &(i, a) in &case.current {
            admin[i].get_or_insert(a);
        }
        let now: BTreeSet<usize> = case.current.iter().map(|p| p.0).collect();
        let wanted: BTreeSet<usize> = case.desired.iter().map(|p| p.0).collect();
        let protected = |i: usize| {
            !rules.allow_protected_removal
                && (case.protected.contains(&i) || (rules.protect_admins && admin[i] == Some(true)))
        };
        let keep = |i: usize| wanted.contains(&i) || Some(i) == own || protected(i);
        let expected: BTreeSet<usize> = now.iter().copied().filter(|&i| keep(i))
            .chain(wanted.iter().copied().filter(|&i| Some(i) != own))
            .collect();
        let removals = now.iter().filter(|&&i| !keep(i)).count();
        let own_extra = match case.own {
            Some(Some(i)) => usize::from(!now.contains(&i)),
            Some(None) => 1,
            None => 0,
        };
        let below = rules.min_group_size.is_some_and(|m| expected.len() + own_extra < m);
        let empty = wanted.iter().all(|&i| Some(i) == own) && removals > 0 && !rules.allow_empty;
        let guard = rules.max_removals.is_some_and(|l| !l.allows(removals, now.len()));

        match Plan::compute(chat(), &current, &desired, rules) {
            Err(refusal) => {
                let justified = match refusal {
                    Refusal::BelowMinimum { .. } => below,
                    Refusal::EmptyDesired { .. } => empty && !below,
                    Refusal::TooManyRemovals { .. } => guard && !below && !empty,
                    _ => false,
                };
                prop_assert!(justified, "{refusal}: below {below}, empty {empty}, guard {guard}");
            }
            Ok(plan) => {
                prop_assert!(!below && !empty && !guard, "{plan}");
                let mut set: BTreeSet<Key> = current.iter().map(|p| Key::of(&p.handle)).collect();
                let mut size = plan.size_before;
                prop_assert_eq!(size, now.len() + own_extra);
                let mut removing = false;
                for step in &plan.steps {
                    let key = Key::of(step.handle());
                    let i = (0..PEOPLE).find(|&i| Key::of(&phone(i)) == key).unwrap();
                    prop_assert_ne!(Some(i), own, "{} touches our line", step);
                    match step {
                        Step::Add(_) => {
                            prop_assert!(!removing, "an add after a remove");
                            prop_assert!(set.insert(key), "{} is already a member", step);
                            size += 1;
                        }
                        Step::Remove(_) => {
                            removing = true;
                            prop_assert!(!protected(i), "{} removes a protected member", step);
                            prop_assert!(set.remove(&key), "{} is not a member", step);
                            size -= 1;
                            if let Some(min) = rules.min_group_size {
                                prop_assert!(size >= min, "{} leaves {} < {}", step, size, min);
                            }
                        }
                    }
                }
                let expected: BTreeSet<Key> = expected.iter().map(|&i| Key::of(&phone(i))).collect();
                prop_assert_eq!(set, expected);
                prop_assert_eq!(size, plan.size_after);
                prop_assert_eq!(plan.removes().count(), removals);
            }
        }
    }
}

fn fake(me: &Handle, members: &[Handle]) -> FakeMembership {
    FakeMembership::new("fake", me.clone()).with_chat(
        chat(),
        std::iter::once(me.clone()).chain(members.iter().cloned()),
    )
}

fn with_me(me: &Handle) -> SyncOptions {
    SyncOptions::new(Rules::default().with_own_line(OwnLine::Handle(me.clone())))
}

/// With no own line given, the roster's `is_self` mark keeps our line out of the plan.
#[test]
fn the_rosters_own_mark_is_our_line_when_none_is_given() {
    let me = phone(0);
    let current: Vec<Participant> =
        std::iter::once(Participant::new(me.clone()).with_self(Some(true)))
            .chain((1..=3).map(|i| Participant::new(phone(i))))
            .collect();
    let desired = [phone(1), phone(2), phone(3)];
    let plan = Plan::compute(chat(), &current, &desired, &Rules::default()).unwrap();
    assert!(plan.steps.is_empty(), "{:?}", plan.steps);
    // Unmarked, the same line is just a member the desired roster leaves out.
    let unmarked: Vec<Participant> = current.iter().cloned().map(|p| p.with_self(None)).collect();
    let plan = Plan::compute(chat(), &unmarked, &desired, &Rules::default()).unwrap();
    assert_eq!(plan.steps, [Step::Remove(me)]);
}

#[tokio::test]
async fn plan_apply_converge() {
    let me = phone(0);
    let client = fake(&me, &[phone(1), phone(2), phone(3)]);
    let desired = [phone(2), phone(3), phone(4), h("Ann@Example.com")];
    let options = with_me(&me);
    let plan = plan(&client, &chat(), &desired, &options).await.unwrap();
    assert_eq!(plan.source, RosterSource::Listed);
    assert_eq!(plan.provider.as_deref(), Some("fake"));
    assert_eq!(
        plan.steps,
        [
            Step::Add(phone(4)),
            Step::Add(h("Ann@Example.com")),
            Step::Remove(phone(1))
        ]
    );
    assert_eq!((plan.size_before, plan.size_after), (4, 5));
    let report = apply(&client, &plan, &ApplyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.results.len(), 3);
    assert!(report.is_complete(), "{report:?}");
    let roster = client.roster(&chat()).unwrap();
    assert_eq!(roster.len(), 5);
    assert!(!roster.contains(&phone(1)) && roster.contains(&me));

    // Written differently, the same people: nothing to do.
    let same = [acs_phone(2), phone(3), phone(4), h("ann@example.com")];
    let again = super::plan(&client, &chat(), &same, &options)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again}");
    assert_eq!(again.to_string(), "= 5 kept\n");
}

#[tokio::test]
async fn the_minimum_comes_from_the_capabilities_and_refuses_before_any_change() {
    let me = phone(0);
    let caps = Capabilities::none()
        .with_remove()
        .with_add()
        .with_leave()
        .with_list()
        .with_handles(HandleKinds::none().with_phone().with_email().with_native())
        .with_min_group_size(3);
    let client = fake(&me, &[phone(1), phone(2)]).with_capabilities(caps);
    let err = plan(&client, &chat(), &[phone(1)], &with_me(&me))
        .await
        .unwrap_err();
    assert_eq!(
        err.refusal(),
        Some(&Refusal::BelowMinimum { size: 2, min: 3 })
    );
    assert_eq!(Error::from(err).kind(), ErrorKind::GroupTooSmall);
    assert_eq!(client.roster(&chat()).unwrap().len(), 3);

    // A replacement at the minimum: the add goes first. When it fails, the remove is not sent.
    let plan = plan(&client, &chat(), &[phone(2), phone(3)], &with_me(&me))
        .await
        .unwrap();
    assert_eq!(plan.steps, [Step::Add(phone(3)), Step::Remove(phone(1))]);
    client.fail_next(Error::new(ErrorKind::RateLimited, "slow down"));
    let report = apply(&client, &plan, &ApplyOptions::default())
        .await
        .unwrap();
    let kinds: Vec<_> = report
        .results
        .iter()
        .map(|r| r.result.as_ref().map_err(Error::kind).map(Outcome::as_str))
        .collect();
    assert_eq!(
        kinds,
        [Err(ErrorKind::RateLimited), Err(ErrorKind::GroupTooSmall)]
    );
    assert_eq!(client.roster(&chat()).unwrap(), [me, phone(1), phone(2)]);
    let json = serde_json::to_string(&report).unwrap();
    assert!(
        json.contains(
            r#""action":"remove","handle":"+14155550001","error":{"kind":"group_too_small""#
        ),
        "{json}"
    );
}

#[tokio::test]
async fn a_provider_without_a_list_route_needs_a_supplied_roster() {
    let me = phone(0);
    let caps = Capabilities::none()
        .with_remove()
        .with_add()
        .with_leave()
        .with_handles(HandleKinds::none().with_phone().with_email());
    let client = fake(&me, &[phone(1), phone(2)]).with_capabilities(caps);
    let err = plan(&client, &chat(), &[phone(1)], &SyncOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(Refusal::NoRoster { .. })),
        "{err}"
    );

    let options = SyncOptions::new(Rules::default().with_own_line(OwnLine::NotInRoster))
        .with_roster([phone(1), phone(2)]);
    let plan = plan(&client, &chat(), &[phone(2), phone(3)], &options)
        .await
        .unwrap();
    assert_eq!(plan.source, RosterSource::Supplied);
    assert_eq!(plan.size_before, 3);
    assert_eq!(plan.steps, [Step::Add(phone(3)), Step::Remove(phone(1))]);
}

#[tokio::test]
async fn bad_handles_and_the_wrong_client_are_refused_before_any_request() {
    let me = phone(0);
    let caps = Capabilities::none()
        .with_remove()
        .with_add()
        .with_leave()
        .with_list()
        .with_handles(HandleKinds::none().with_phone());
    let client = fake(&me, &[phone(1)]).with_capabilities(caps);
    // A pending failure shows whether anything was called.
    client.fail_next(Error::new(ErrorKind::ServerError, "unused"));
    let err = plan(
        &client,
        &chat(),
        &[h("ann@example.com")],
        &SyncOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(Refusal::HandleNotAccepted { .. })),
        "{err}"
    );
    let read = plan(&client, &chat(), &[phone(1)], &SyncOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(read, SyncError::Read(ref e) if e.kind() == ErrorKind::ServerError),
        "{read}"
    );

    let mut other = Plan::compute(chat(), &[], &[phone(5)], &Rules::default()).unwrap();
    other.provider = Some("elsewhere".into());
    let err = apply(&client, &other, &ApplyOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err.refusal(), Some(Refusal::ProviderMismatch { .. })),
        "{err}"
    );
    assert_eq!(client.roster(&chat()).unwrap().len(), 2);
}

#[test]
fn guards_protected_members_and_the_diff() {
    let current = [
        Participant::new(phone(1)).with_admin(Some(true)),
        Participant::new(phone(2)),
        Participant::new(phone(3)),
        Participant::new(phone(4)),
    ];
    let rules = Rules::default().with_protected([phone(2)]);
    // Admin 1 and protected 2 stay; 4 goes.
    let plan = Plan::compute(chat(), &current, &[phone(3), phone(5)], &rules).unwrap();
    assert_eq!(
        plan.to_string(),
        "+ +14155550005\n- +14155550004\n= 3 kept (2 protected)\n"
    );
    let allowed = rules.clone().with_allow_protected_removal(true);
    let plan = Plan::compute(chat(), &current, &[phone(3)], &allowed).unwrap();
    assert_eq!(plan.removes().count(), 3);

    // An empty export would remove everyone but the protected: refused, unless allowed.
    let empty = Plan::compute(chat(), &current, &[], &rules).unwrap_err();
    assert_eq!(empty, Refusal::EmptyDesired { removals: 2 });
    assert!(Plan::compute(chat(), &current, &[], &rules.clone().with_allow_empty(true)).is_ok());
    let guarded = rules.with_max_removals(MaxRemovals::Count(1));
    let err = Plan::compute(chat(), &current, &[phone(5)], &guarded).unwrap_err();
    assert_eq!(
        err,
        Refusal::TooManyRemovals {
            removals: 2,
            current: 4,
            limit: MaxRemovals::Count(1)
        }
    );

    // Plans round-trip through JSON, for `--json` and for a saved plan.
    let json = serde_json::to_string(&plan).unwrap();
    assert!(
        json.contains(r#"{"action":"remove","handle":"+14155550001"}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Plan>(&json).unwrap(), plan);
}
