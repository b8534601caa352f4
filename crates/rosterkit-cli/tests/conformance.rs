//! The conformance matrix (`specs/conformance.toml`), run: every scenario against every
//! provider's emulator, once through the `Membership` API and once through the `rosterkit`
//! binary, judged by the outcome, the error kind, the exit code and the sandbox journal
//! (requests naming the chat, changes applied). A cell that disagrees fails the test, and all
//! disagreements are listed together.
//!
//! Each cell gets its own chat, so cells run concurrently: faults are scoped to the chat (its
//! path or body) and the journal is read per chat.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use rosterkit::{
    ChangeOptions, ChatId, ClientOptions, Confirm, Error, Handle, Membership, Outcome, Pacing,
    RetryPolicy,
    acs::AcsClient,
    chert::ChertClient,
    linq::{Expect, LinqClient, WaitOptions},
    zapi::ZapiClient,
};
use rosterkit_sandbox::{
    Fault, FaultAction, Method, Provider, Sandbox, StatusCode,
    acs::{AcsThreadSeed, DEFAULT_USER_ID},
    linq::LinqChatSeed,
    zapi::ZapiGroupSeed,
};
use serde::Deserialize;
use tokio::sync::Semaphore;

#[path = "../../../specs/conformance_cell.rs"]
mod cell;
use cell::Cell;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matrix {
    columns: Vec<String>,
    #[serde(rename = "group")]
    _groups: Vec<toml::Value>,
    #[serde(rename = "legend", default)]
    _legend: Vec<toml::Value>,
    #[serde(rename = "provider_note", default)]
    _notes: Vec<toml::Value>,
    #[serde(rename = "scenario")]
    scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Deserialize)]
struct Scenario {
    id: String,
    run: Run,
    target: Target,
    #[serde(default)]
    ensure: bool,
    #[serde(default)]
    setup: Option<Setup>,
    #[serde(default)]
    fault: Option<FaultCase>,
    expect: Cell,
    /// `[scenario.<provider>]` overrides, plus the scenario's descriptive keys.
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Run {
    Remove,
    Add,
    Leave,
    List,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Target {
    Member,
    Outsider,
    Fresh,
    Invalid,
    Refused,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Setup {
    UnknownChat,
    BadCredentials,
    Left,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultCase {
    EmptyBody,
    NonJsonBody,
    NullBody,
    RateLimited,
    DropAfterApply,
    BadRequest,
}

/// Keys of a scenario that are not provider tables.
const SCENARIO_KEYS: [&str; 2] = ["group", "title"];

fn load() -> Matrix {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/conformance.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let matrix: Matrix = toml::from_str(&text).unwrap();
    for s in &matrix.scenarios {
        for key in s.rest.keys() {
            assert!(
                SCENARIO_KEYS.contains(&key.as_str()) || matrix.columns.contains(key),
                "scenario {}: {key:?} is neither a scenario key nor a column",
                s.id
            );
        }
    }
    matrix
}

fn cell(s: &Scenario, provider: &str) -> Cell {
    Cell::of_column(&s.expect, &s.rest, provider).unwrap()
}

/// One provider's seeded chat and the handles a scenario names.
#[derive(Debug, Clone)]
struct Fixture {
    provider: &'static str,
    chat: String,
    member: String,
    outsider: String,
    fresh: String,
    invalid: String,
    refused: String,
}

impl Fixture {
    fn handle(&self, target: Target) -> Option<&str> {
        match target {
            Target::Member => Some(&self.member),
            Target::Outsider => Some(&self.outsider),
            Target::Fresh => Some(&self.fresh),
            Target::Invalid => Some(&self.invalid),
            Target::Refused => Some(&self.refused),
            Target::None => None,
        }
    }

    /// How the chat shows in a request's raw path or body.
    fn needles(&self) -> Vec<String> {
        vec![
            self.chat.clone(),
            self.chat.replace(':', "%3A").replace('@', "%40"),
        ]
    }

    fn sandbox_provider(&self) -> Provider {
        match self.provider {
            "chert" => Provider::Chert,
            "linq" => Provider::Linq,
            "zapi" => Provider::Zapi,
            _ => Provider::Acs,
        }
    }
}

const MEMBERS: [&str; 4] = [
    "+15550100001",
    "+15550100002",
    "+15550100003",
    "+15550100004",
];
const OUTSIDER: &str = "+15550100099";
const FRESH: &str = "+15550100088";
const REFUSED: &str = "+15550100077";
const ACS_MEMBERS: [&str; 4] = [
    "8:acs:conformance_0001",
    "8:acs:conformance_0002",
    "8:acs:conformance_0003",
    "8:acs:conformance_0004",
];

/// A well-formed chat id of `provider` that names no chat, different on every call (so
/// concurrent cells do not count each other's requests).
fn unknown_chat(provider: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    match provider {
        "chert" => format!("ch_UNKNOWN{n:018}"),
        "linq" => format!("00000000-0000-4000-8000-{n:012}"),
        "zapi" => format!("120363{n:012}-group"),
        _ => format!("19:{n:032x}@thread.v2"),
    }
}

/// Seeds a fresh chat of `provider` (or names one that does not exist).
fn seed(sandbox: &Sandbox, provider: &'static str, unknown: bool) -> Fixture {
    let members: Vec<String> = MEMBERS.iter().map(|m| (*m).to_owned()).collect();
    let phone = |chat: String, invalid: &str| Fixture {
        provider,
        chat,
        member: MEMBERS[0].to_owned(),
        outsider: OUTSIDER.to_owned(),
        fresh: FRESH.to_owned(),
        invalid: invalid.to_owned(),
        refused: REFUSED.to_owned(),
    };
    match provider {
        "chert" => {
            let chat = if unknown {
                unknown_chat(provider)
            } else {
                sandbox.chert().create_group(&MEMBERS)
            };
            phone(chat, "native:conformance")
        }
        "linq" => {
            sandbox.linq().set_handle_service(REFUSED, "RCS");
            let chat = if unknown {
                unknown_chat(provider)
            } else {
                sandbox.linq().create_chat(LinqChatSeed {
                    members,
                    ..LinqChatSeed::default()
                })
            };
            phone(chat, "native:conformance")
        }
        "zapi" => {
            sandbox.zapi().set_contact(&REFUSED[1..], false);
            let chat = if unknown {
                unknown_chat(provider)
            } else {
                sandbox
                    .zapi()
                    .create_group_with(ZapiGroupSeed::with_members(&members))
            };
            phone(chat, "alice@example.com")
        }
        _ => {
            let refused = "8:acs:conformance_0077";
            sandbox
                .acs()
                .set_invalid_participant(refused, "403", "Permissions check failed");
            let chat = if unknown {
                unknown_chat(provider)
            } else {
                sandbox.acs().seed_thread(AcsThreadSeed {
                    participants: ACS_MEMBERS.iter().map(|m| (*m).to_owned()).collect(),
                    ..AcsThreadSeed::default()
                })
            };
            Fixture {
                provider,
                chat,
                member: ACS_MEMBERS[0].to_owned(),
                outsider: "8:acs:conformance_0099".to_owned(),
                fresh: "8:acs:conformance_0088".to_owned(),
                invalid: "alice@example.com".to_owned(),
                refused: refused.to_owned(),
            }
        }
    }
}

/// The fault of `case` on the change request of `run`, scoped to the fixture's chat.
fn fault(f: &Fixture, run: Run, case: FaultCase) -> Fault {
    let success = match (f.provider, run) {
        ("linq", _) => StatusCode::ACCEPTED,
        ("acs", Run::Add) => StatusCode::CREATED,
        ("acs", _) => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    };
    let action = match case {
        FaultCase::EmptyBody => FaultAction::json(success, ""),
        FaultCase::NonJsonBody => FaultAction::json(success, "<html>ok</html>"),
        FaultCase::NullBody => FaultAction::json(success, "null"),
        FaultCase::DropAfterApply => FaultAction::DropAfterApply,
        FaultCase::BadRequest => match f.provider {
            "chert" => FaultAction::chert_error(StatusCode::BAD_REQUEST, 1003, false, None),
            "linq" => FaultAction::linq_error(StatusCode::BAD_REQUEST, 1002, None),
            "zapi" => FaultAction::json(StatusCode::BAD_REQUEST, r#"{"error":"Invalid phone"}"#),
            _ => FaultAction::acs_error(StatusCode::BAD_REQUEST, "BadRequest", None, None),
        },
        FaultCase::RateLimited => match f.provider {
            "chert" => FaultAction::chert_error(StatusCode::TOO_MANY_REQUESTS, 1007, true, Some(1)),
            "linq" => FaultAction::linq_error(StatusCode::TOO_MANY_REQUESTS, 1007, Some(1)),
            "zapi" => FaultAction::Respond {
                status: StatusCode::TOO_MANY_REQUESTS,
                headers: vec![
                    ("content-type".to_owned(), "application/json".to_owned()),
                    ("retry-after".to_owned(), "1".to_owned()),
                ],
                body: r#"{"error":"too many requests"}"#.into(),
            },
            _ => FaultAction::acs_error(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                None,
                Some(1),
            ),
        },
    };
    let method = match (f.provider, run) {
        ("chert" | "linq", Run::Remove) => Method::DELETE,
        _ => Method::POST,
    };
    let fault = Fault::new(f.sandbox_provider(), action).method(method);
    if f.provider == "zapi" {
        fault.body_contains(f.chat.clone())
    } else {
        fault.path_contains(f.needles()[1].clone())
    }
}

/// What one run produced.
#[derive(Debug, Default)]
struct Observed {
    outcome: String,
    kind: Option<String>,
    exit: Option<i32>,
    ambiguous: Option<bool>,
    own_line: Option<String>,
    requests: usize,
    effects: usize,
    detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Api,
    Cli,
}

fn retry_policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Duration::from_millis(5), Duration::from_millis(20))
        .with_jitter(false)
}

fn client(sandbox: &Sandbox, provider: &str, bad: bool, verify: bool) -> Box<dyn Membership> {
    let options = ClientOptions::default()
        .retry_policy(retry_policy())
        .pacing(Pacing::off())
        .confirm(if verify {
            Confirm::ReadBack
        } else {
            Confirm::Trust
        });
    let info = sandbox.info();
    let wrong = |s: String| if bad { format!("{s}-wrong") } else { s };
    match provider {
        "chert" => Box::new(
            ChertClient::builder()
                .base_url(info.chert.base_url)
                .tenant(info.chert.tenant)
                .signing_secret(wrong(info.chert.signing_secret))
                .client_options(options)
                .build()
                .unwrap(),
        ),
        "linq" => Box::new(linq(sandbox, bad)),
        "zapi" => Box::new(
            ZapiClient::builder()
                .base_url(info.zapi.base_url)
                .instance_id(info.zapi.instance_id)
                .instance_token(info.zapi.instance_token)
                .client_token(wrong(info.zapi.client_token))
                .client_options(options)
                .build()
                .unwrap(),
        ),
        _ => Box::new(
            AcsClient::builder()
                .base_url(info.acs.endpoint)
                .user_token(wrong(info.acs.user_token))
                .user_id(DEFAULT_USER_ID)
                .client_options(options)
                .build()
                .unwrap(),
        ),
    }
}

fn linq(sandbox: &Sandbox, bad: bool) -> LinqClient {
    let info = sandbox.info().linq;
    let key = if bad {
        format!("{}-wrong", info.api_key)
    } else {
        info.api_key
    };
    LinqClient::builder()
        .base_url(info.base_url)
        .api_key(key)
        .client_options(ClientOptions::default().retry_policy(retry_policy()))
        .build()
        .unwrap()
}

fn env_for(sandbox: &Sandbox, provider: &str, bad: bool) -> Vec<(&'static str, String)> {
    let info = sandbox.info();
    let wrong = |s: String| if bad { format!("{s}-wrong") } else { s };
    match provider {
        "chert" => vec![
            ("CHERT_TENANT", info.chert.tenant),
            ("CHERT_SIGNING_SECRET", wrong(info.chert.signing_secret)),
            ("CHERT_BASE_URL", info.chert.base_url),
        ],
        "linq" => vec![
            ("LINQ_API_V3_API_KEY", wrong(info.linq.api_key)),
            ("LINQ_API_V3_BASE_URL", info.linq.base_url),
        ],
        "zapi" => vec![
            ("ZAPI_INSTANCE_ID", info.zapi.instance_id),
            ("ZAPI_INSTANCE_TOKEN", info.zapi.instance_token),
            ("ZAPI_CLIENT_TOKEN", wrong(info.zapi.client_token)),
            ("ZAPI_BASE_URL", info.zapi.base_url),
        ],
        _ => vec![
            ("ACS_ENDPOINT", info.acs.endpoint),
            ("ACS_USER_TOKEN", wrong(info.acs.user_token)),
            ("ACS_USER_ID", DEFAULT_USER_ID.to_owned()),
        ],
    }
}

fn name(result: &Result<Outcome, Error>) -> (String, Option<String>, Option<bool>, String) {
    match result {
        Ok(o) => (o.as_str().to_owned(), None, None, format!("{o:?}")),
        Err(e) => (
            "failed".to_owned(),
            Some(e.kind().as_str().to_owned()),
            Some(e.is_ambiguous()),
            e.to_string(),
        ),
    }
}

fn marking(marked: bool) -> String {
    if marked { "marked" } else { "unmarked" }.to_owned()
}

/// The scenario's action through the `Membership` API.
async fn via_api(sandbox: &Sandbox, s: &Scenario, f: &Fixture, flags: &[String]) -> Observed {
    let bad = s.setup == Some(Setup::BadCredentials);
    let verify = flags.iter().any(|x| x == "--verify");
    let client = client(sandbox, f.provider, bad, verify);
    let chat = ChatId::new(f.chat.as_str()).unwrap();
    let options = ChangeOptions::default().with_ensure(s.ensure);
    let handle = f.handle(s.target).map(|h| h.parse::<Handle>().unwrap());
    let mut own_line = None;
    let result = match (s.run, &handle) {
        (Run::Remove, Some(h)) => client.remove_participant(&chat, h, options).await,
        (Run::Add, Some(h)) => client.add_participant(&chat, h, options).await,
        (Run::Leave, _) => client.leave(&chat, options).await,
        (Run::List, _) => {
            let listed = client.participants(&chat).await;
            own_line = listed
                .as_ref()
                .ok()
                .map(|list| marking(list.iter().any(|p| p.is_self == Some(true))));
            listed.map(|list| Outcome::applied(Some(list.into_iter().map(|p| p.handle).collect())))
        }
        _ => panic!("scenario {}: {:?} needs a handle", s.id, s.run),
    };
    let result = match (result, &handle) {
        (Ok(Outcome::Queued { .. }), Some(h)) if flags.iter().any(|x| x == "--wait") => {
            let expect = if s.run == Run::Add {
                Expect::Active
            } else {
                Expect::Removed
            };
            let wait = WaitOptions::new(50, Duration::from_millis(20), Duration::from_millis(200));
            linq(sandbox, bad).wait_for(&chat, h, expect, wait).await
        }
        (result, _) => result,
    };
    let (outcome, kind, ambiguous, detail) = name(&result);
    Observed {
        outcome,
        kind,
        ambiguous,
        own_line,
        detail,
        ..Observed::default()
    }
}

/// The scenario's action through the `rosterkit` binary.
async fn via_cli(sandbox: &Sandbox, s: &Scenario, f: &Fixture, flags: &[String]) -> Observed {
    let bad = s.setup == Some(Setup::BadCredentials);
    let command = match s.run {
        Run::Remove => "remove",
        Run::Add => "add",
        Run::Leave => "leave",
        Run::List => "list",
    };
    let mut args: Vec<String> = vec![
        command.into(),
        "-p".into(),
        f.provider.into(),
        "-c".into(),
        f.chat.clone(),
        "--json".into(),
    ];
    if let Some(h) = f.handle(s.target) {
        args.push(h.to_owned());
    }
    if s.ensure {
        args.push("--ensure".into());
    }
    args.extend(flags.iter().cloned());
    let env = env_for(sandbox, f.provider, bad);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_rosterkit"))
            .args(&args)
            .env_clear()
            .envs(env)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let line: Option<serde_json::Value> = stdout
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok());
    let mut observed = Observed {
        exit: out.status.code(),
        detail: format!("stdout {stdout:?} stderr {stderr:?}"),
        ..Observed::default()
    };
    match line {
        Some(line) => {
            observed.outcome = line["outcome"].as_str().unwrap_or("?").to_owned();
            observed.kind = line["error"]["kind"].as_str().map(str::to_owned);
            if line["participants"].is_array() {
                observed.own_line = Some(marking(line["self_handle"].is_string()));
            }
            let reasoned = line["note"].as_str().is_some_and(|n| !n.is_empty())
                || line["error"]["message"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty());
            if matches!(observed.outcome.as_str(), "unconfirmed" | "failed") && !reasoned {
                observed.outcome.push_str(" (without a reason)");
            }
        }
        // A usage error prints no line: nothing was done.
        None => observed.outcome = "none".to_owned(),
    }
    observed
}

/// Runs one cell and returns its disagreements.
async fn run_cell(
    sandbox: Arc<Sandbox>,
    s: Scenario,
    provider: &'static str,
    via: Via,
) -> Vec<String> {
    let expected = cell(&s, provider);
    let unknown = s.setup == Some(Setup::UnknownChat);
    let f = seed(&sandbox, provider, unknown);
    if s.setup == Some(Setup::Left) {
        let first = client(&sandbox, provider, false, false)
            .leave(
                &ChatId::new(f.chat.as_str()).unwrap(),
                ChangeOptions::default(),
            )
            .await;
        assert!(
            first.is_ok(),
            "{provider}: the first leave failed: {first:?}"
        );
        sandbox.linq().apply_pending();
    }
    let baseline = sandbox.journal().entries().last().map_or(0, |e| e.seq);
    if let Some(case) = s.fault {
        sandbox.faults().inject(fault(&f, s.run, case));
    }
    if s.target == Target::Refused && provider == "chert" {
        // Chert refuses an add downstream: 502/4001, retryable (chert.md §3.3).
        let refuse = FaultAction::chert_error(StatusCode::BAD_GATEWAY, 4001, true, None);
        let refusal = Fault::new(Provider::Chert, refuse)
            .method(Method::POST)
            .path_contains(f.chat.clone())
            .times(9);
        sandbox.faults().inject(refusal);
    }
    let flags = expected.flags.clone().unwrap_or_default();
    let mut observed = match via {
        Via::Api => via_api(&sandbox, &s, &f, &flags).await,
        Via::Cli => via_cli(&sandbox, &s, &f, &flags).await,
    };
    let needles = f.needles();
    let mine: Vec<_> = sandbox
        .journal()
        .entries_for(f.sandbox_provider())
        .into_iter()
        .filter(|e| e.seq > baseline)
        .filter(|e| {
            needles
                .iter()
                .any(|n| e.path.contains(n.as_str()) || e.body_text().contains(n.as_str()))
        })
        .collect();
    observed.requests = mine.len();
    observed.effects = mine.iter().map(|e| e.effects.len()).sum();
    let mut wrong = Vec::new();
    let mut check = |what: &str, want: String, got: String| {
        if want != got {
            wrong.push(format!("{what}: expected {want}, got {got}"));
        }
    };
    let want_outcome = expected.outcome.clone().unwrap_or_default();
    match via {
        Via::Cli if expected.exit == Some(2) => {
            check("outcome", "none".into(), observed.outcome.clone());
        }
        _ => check("outcome", want_outcome, observed.outcome.clone()),
    }
    if via == Via::Api || expected.exit != Some(2) {
        check(
            "kind",
            format!("{:?}", expected.kind),
            format!("{:?}", observed.kind),
        );
    }
    if via == Via::Cli {
        check(
            "exit",
            format!("{:?}", expected.exit),
            format!("{:?}", observed.exit),
        );
    }
    if via == Via::Api && expected.ambiguous.is_some() {
        check(
            "ambiguous",
            format!("{:?}", expected.ambiguous),
            format!("{:?}", observed.ambiguous),
        );
    }
    check(
        "requests",
        format!("{:?}", expected.requests),
        format!("{:?}", Some(observed.requests)),
    );
    if expected.own_line.is_some() {
        check(
            "own line",
            format!("{:?}", expected.own_line),
            format!("{:?}", observed.own_line),
        );
    }
    if let Some(effects) = expected.effects {
        check("effects", effects.to_string(), observed.effects.to_string());
    }
    assert!(observed.effects <= 1, "a duplicate effect: {mine:#?}");
    if wrong.is_empty() {
        return wrong;
    }
    vec![format!(
        "{} × {provider} via {via:?}: {}\n    observed: outcome={} kind={:?} exit={:?} ambiguous={:?} requests={} effects={}\n    {}",
        s.id,
        wrong.join("; "),
        observed.outcome,
        observed.kind,
        observed.exit,
        observed.ambiguous,
        observed.requests,
        observed.effects,
        observed.detail,
    )]
}

/// Cells (`scenario × provider`) known to disagree, each fixed in a later commit: listed here,
/// they must still disagree (a fixed cell is removed from the list), and every other cell
/// must agree.
const KNOWN_FAILING: &[&str] = &[];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cell_of_the_conformance_matrix_holds() {
    let matrix = load();
    let sandbox = Arc::new(Sandbox::start().await.unwrap());
    let limit = Arc::new(Semaphore::new(8));
    let providers: Vec<&'static str> = matrix
        .columns
        .iter()
        .map(|c| match c.as_str() {
            "chert" => "chert",
            "linq" => "linq",
            "zapi" => "zapi",
            "acs" => "acs",
            other => panic!("no fixture for column {other:?}: add one to seed() to add a provider"),
        })
        .collect();
    let mut tasks = tokio::task::JoinSet::new();
    for s in &matrix.scenarios {
        for provider in &providers {
            for via in [Via::Api, Via::Cli] {
                let (sandbox, s, provider, limit) = (
                    Arc::clone(&sandbox),
                    s.clone(),
                    *provider,
                    Arc::clone(&limit),
                );
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await.unwrap();
                    run_cell(sandbox, s, provider, via).await
                });
            }
        }
    }
    let mut failures = Vec::new();
    let mut known_seen = std::collections::BTreeSet::new();
    let mut cells = 0;
    while let Some(result) = tasks.join_next().await {
        cells += 1;
        for failure in result.unwrap() {
            match KNOWN_FAILING
                .iter()
                .find(|k| failure.starts_with(&format!("{k} via")))
            {
                Some(known) => {
                    known_seen.insert(*known);
                }
                None => failures.push(failure),
            }
        }
    }
    for known in KNOWN_FAILING {
        if !known_seen.contains(known) {
            failures.push(format!("{known}: agrees now; remove it from KNOWN_FAILING"));
        }
    }
    failures.sort();
    let mut report = String::new();
    for f in &failures {
        let _ = writeln!(report, "{f}");
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cell runs disagree with specs/conformance.toml:\n{report}",
        failures.len()
    );
}
