//! `rosterkit-bench run [--quick]`: section 1 (overhead) and the sandbox's own capacity;
//! `rosterkit-bench sign [--quick]`: section 2 (signing), in a process of its own so that the
//! heap the network runs leave behind cannot tilt the allocation-heavy comparison.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use rosterkit_chert::ChertClient;
use rosterkit_core::RetryPolicy;
use serde_json::{Map, Value, json};

use crate::{
    baseline::Baseline,
    capacity,
    child::SandboxChild,
    overhead::{self, Client, RunResult, Sdk},
    serve::member,
    sign,
    stats::{median, median_ratio, quartiles, round},
};

/// Members of each seeded group: a removal answers with a roster of `MEMBERS - 1` entries.
pub const MEMBERS: usize = 8;

/// How much to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds; each re-seeds the chats and measures both concurrencies for every client.
    pub rounds: usize,
    /// Removals per client and turn at concurrency 1 (the clients take turns).
    pub turn_c1: usize,
    /// Turns per client and round at concurrency 1.
    pub turns_c1: usize,
    /// Removals per client in one chunk at concurrency 64 (the clients take turns chunk by
    /// chunk).
    pub chunk_c64: usize,
    /// Chunks per client and round at concurrency 64.
    pub chunks_c64: usize,
    /// Samples per side and body size in the signing comparison.
    pub sign_samples: usize,
    /// Target CPU time of one signing sample.
    pub sign_sample_time: Duration,
}

impl Plan {
    /// `--quick`: the same figures from fewer samples, for a quick local look. CI only builds
    /// the bench (`cargo xtask ci`): its release build does not fit CI's budget.
    pub const QUICK: Plan = Plan {
        rounds: 3,
        turn_c1: 200,
        turns_c1: 8,
        chunk_c64: 1_000,
        chunks_c64: 6,
        sign_samples: 15,
        sign_sample_time: Duration::from_millis(20),
    };

    /// The full run.
    pub const FULL: Plan = Plan {
        rounds: 8,
        turn_c1: 200,
        turns_c1: 25,
        chunk_c64: 1_000,
        chunks_c64: 15,
        sign_samples: 41,
        sign_sample_time: Duration::from_millis(40),
    };
}

/// The compared clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `rosterkit-chert`, default configuration (30 s per-attempt timeout).
    Sdk,
    /// Hand-written, with the same 30 s request timeout: the comparison the targets use.
    Baseline,
    /// Hand-written without any timeout: shows what the timeout itself costs.
    BaselineNoTimeout,
}

const SIDES: [Side; 3] = [Side::Sdk, Side::Baseline, Side::BaselineNoTimeout];

impl Side {
    /// Each client removes from its own chats; the ids have the same length for all.
    fn prefix(self) -> &'static str {
        match self {
            Self::Sdk => "ch_01HZBENCHS00000000000",
            Self::Baseline => "ch_01HZBENCHB00000000000",
            Self::BaselineNoTimeout => "ch_01HZBENCHN00000000000",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Self::Sdk => "sdk",
            Self::Baseline => "baseline",
            Self::BaselineNoTimeout => "baseline_no_timeout",
        }
    }
}

/// `count` chat ids of `side` from number `first` on.
fn chat_ids(side: Side, first: usize, count: usize) -> Arc<[String]> {
    (first..first + count)
        .map(|i| format!("{}{i}", side.prefix()))
        .collect()
}

/// The three clients, configured as `side` says, against the sandbox's Chert emulator.
fn clients(chert: &rosterkit_sandbox::chert::ChertCredentials) -> Result<Arc<[Client]>, String> {
    let timeout = RetryPolicy::default().attempt_timeout;
    let sdk = ChertClient::builder()
        .base_url(&chert.base_url)
        .tenant(&chert.tenant)
        .signing_secret(&chert.signing_secret)
        .build()
        .map_err(|e| e.to_string())?;
    let baseline = |timeout| {
        Baseline::new(
            &chert.base_url,
            &chert.tenant,
            &chert.signing_secret,
            timeout,
        )
        .map(Client::Baseline)
    };
    Ok(SIDES
        .iter()
        .map(|side| match side {
            Side::Sdk => Ok(Client::Sdk(Sdk(sdk.clone()))),
            Side::Baseline => baseline(Some(timeout)),
            Side::BaselineNoTimeout => baseline(None),
        })
        .collect::<Result<Vec<_>, String>>()?
        .into())
}

/// Runs the plan and returns the JSON report.
///
/// # Errors
/// When the sandbox child cannot be started or any removal fails.
pub fn run(plan: Plan) -> Result<Value, String> {
    let mut sandbox = SandboxChild::spawn()?;
    let chert = sandbox.info().chert.clone();
    // Concurrency 1 runs on a current-thread runtime (one thread does all the client's work,
    // so no cross-thread wake-ups blur the figures); concurrency 64 on a multi-threaded one,
    // one worker per core. Each runtime has its own clients (connection pools belong to the
    // runtime that opened them).
    let runtime_c1 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let clients_c1 = runtime_c1.block_on(async { clients(&chert) })?;
    let runtime = client_runtime()?;
    let clients = runtime.block_on(async { clients(&chert) })?;
    let address: Arc<str> = Arc::from(member(0));
    let pid = sandbox.pid();

    // Each round: fresh chats for every client (so every removal succeeds), then
    // - concurrency 1: the clients take turns of `turn_c1` operations;
    // - concurrency 64: the clients take turns chunk by chunk, the order rotating.
    // Neighbouring samples see the same machine load; ratios are medians over neighbours.
    // Round 0 is a warm-up (connections, allocator, caches) and is not recorded.
    let mut results: Vec<(Side, usize, RunResult)> = Vec::new();
    for round in 0..=plan.rounds {
        let (turns, chunks) = if round == 0 {
            (2, 1)
        } else {
            (plan.turns_c1, plan.chunks_c64)
        };
        let ops_c1 = plan.turn_c1 * turns;
        for side in SIDES {
            sandbox.seed(side.prefix(), ops_c1, MEMBERS)?;
        }
        let windows = runtime_c1.block_on(overhead::drive_alternating(
            Arc::clone(&clients_c1),
            SIDES.iter().map(|s| chat_ids(*s, 0, ops_c1)).collect(),
            Arc::clone(&address),
            plan.turn_c1,
        ))?;
        for window in windows {
            for (side, r) in SIDES.iter().zip(window) {
                check_roster(*side, &r)?;
                if round > 0 {
                    results.push((*side, 1, r));
                }
            }
        }

        for side in SIDES {
            sandbox.seed(side.prefix(), plan.chunk_c64 * chunks, MEMBERS)?;
        }
        for c in 0..chunks {
            for k in 0..SIDES.len() {
                let index = (round + c + k) % SIDES.len();
                let (Some(side), Some(client)) = (SIDES.get(index), clients.get(index)) else {
                    continue;
                };
                let r = runtime.block_on(overhead::drive(
                    Arc::new(client.clone()),
                    chat_ids(*side, c * plan.chunk_c64, plan.chunk_c64),
                    Arc::clone(&address),
                    64,
                    pid,
                ))?;
                check_roster(*side, &r)?;
                if round > 0 {
                    results.push((*side, 64, r));
                }
            }
        }
        if round > 0 {
            for concurrency in [1, 64] {
                let total = |side| {
                    let mut t = RunResult::default();
                    pick(&results, side, concurrency)
                        .iter()
                        .for_each(|r| t.add(r));
                    t
                };
                let (s, b) = (total(Side::Sdk), total(Side::Baseline));
                crate::progress(&format!(
                    "after round {round}/{}, c{concurrency}: CPU/op {:.2} vs {:.2} us, ops/s {:.0} vs {:.0}",
                    plan.rounds,
                    s.cpu_us_per_op(),
                    b.cpu_us_per_op(),
                    s.throughput(),
                    b.throughput(),
                ));
            }
        }
    }
    let overhead = overhead_report(&results, plan);

    // The sandbox's own capacity, with a trivial client.
    let addr: SocketAddr = sandbox
        .info()
        .base_url
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("sandbox address: {e}"))?;
    let mut raw = Vec::new();
    for _ in 0..3 {
        let ops = plan.chunk_c64 * plan.chunks_c64;
        sandbox.seed(Side::Sdk.prefix(), ops, MEMBERS)?;
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let signature = rosterkit_sign::chert::sign(chert.signing_secret.as_bytes(), ts, b"");
        let chats = chat_ids(Side::Sdk, 0, ops);
        let requests: Arc<[Vec<u8>]> =
            capacity::requests(addr, &chert.tenant, &signature, &chats, &address).into();
        let r = runtime.block_on(capacity::drive(addr, requests, 64, pid))?;
        crate::progress(&format!(
            "sandbox capacity: {:.0} req/s, sandbox {:.1} us CPU/req",
            r.throughput(),
            r.server_cpu_us_per_op().unwrap_or(f64::NAN)
        ));
        raw.push(r);
    }
    drop(sandbox);
    drop(runtime);

    Ok(json!({
        "overhead": overhead,
        "sandbox": capacity_report(&raw, &results),
    }))
}

/// Section 2: signing 256-byte and 4 KiB bodies, rosterkit-sign against hmac + hex by hand.
#[must_use]
pub fn signing(plan: Plan) -> Value {
    let results: Vec<sign::SignResult> = [256, 4096]
        .into_iter()
        .map(|len| sign::bench(len, plan.sign_samples, plan.sign_sample_time))
        .collect();
    for s in &results {
        crate::progress(&format!(
            "sign {} B: rosterkit {:.0} ns, by hand {:.0} ns, ratio {:.3} (quartiles {:.3}..{:.3}); prepared Signer {:.0} ns, ratio {:.3}",
            s.body_len,
            s.sdk_ns,
            s.hand_ns,
            s.ratio,
            s.ratio_quartiles[0],
            s.ratio_quartiles[1],
            s.signer_ns,
            s.signer_ratio
        ));
    }
    json!({
        "signing": results.iter().map(|s| json!({
            "body_bytes": s.body_len,
            "rosterkit_ns": round(s.sdk_ns, 1),
            "by_hand_ns": round(s.hand_ns, 1),
            "ratio": round(s.ratio, 3),
            "ratio_quartiles": s.ratio_quartiles.map(|x| round(x, 3)),
            "prepared_signer_ns": round(s.signer_ns, 1),
            "prepared_signer_ratio": round(s.signer_ratio, 3),
        })).collect::<Vec<_>>(),
        "sign_ratio_256": results.first().map(|s| round(s.ratio, 3)),
        "sign_ratio_4k": results.get(1).map(|s| round(s.ratio, 3)),
    })
}

/// Every reply's roster must have been parsed in full.
fn check_roster(side: Side, r: &RunResult) -> Result<(), String> {
    let want = r.ops * (MEMBERS - 1);
    if r.roster_entries == want {
        Ok(())
    } else {
        Err(format!(
            "{side:?}: {} roster entries parsed, {want} expected",
            r.roster_entries
        ))
    }
}

/// The client's runtime: multi-threaded (one worker per core), as most applications run.
fn client_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn pick(results: &[(Side, usize, RunResult)], side: Side, concurrency: usize) -> Vec<RunResult> {
    results
        .iter()
        .filter(|(s, c, _)| *s == side && *c == concurrency)
        .map(|(_, _, r)| *r)
        .collect()
}

fn cpu(rs: &[RunResult]) -> Vec<f64> {
    rs.iter().map(RunResult::cpu_us_per_op).collect()
}

fn throughput(rs: &[RunResult]) -> Vec<f64> {
    rs.iter().map(RunResult::throughput).collect()
}

/// Per concurrency: each client's medians, and the SDK's ratios to each baseline (medians of
/// neighbouring samples' ratios, with their quartiles). `cpu_ratio` at the top is the worse of
/// the two concurrencies.
fn overhead_report(results: &[(Side, usize, RunResult)], plan: Plan) -> Value {
    let mut out = Map::new();
    let mut worst: Option<f64> = None;
    for concurrency in [1, 64] {
        let side = |side: Side| {
            let rs = pick(results, side, concurrency);
            let mut total = RunResult::default();
            rs.iter().for_each(|r| total.add(r));
            let server: Vec<f64> = rs
                .iter()
                .filter_map(RunResult::server_cpu_us_per_op)
                .collect();
            json!({
                "client_cpu_us_per_op": median(&cpu(&rs)).map(|x| round(x, 2)),
                "ops_per_s": median(&throughput(&rs)).map(|x| round(x, 0)),
                "sandbox_cpu_us_per_op": median(&server).map(|x| round(x, 2)),
                "pooled_client_cpu_us_per_op": round(total.cpu_us_per_op(), 2),
                "ops": total.ops,
            })
        };
        let sdk = pick(results, Side::Sdk, concurrency);
        let ratios = |against: Side| {
            let base = pick(results, against, concurrency);
            let pairs = |a: &[f64], b: &[f64]| -> Vec<f64> {
                a.iter().zip(b).map(|(x, y)| x / y).collect()
            };
            (
                median_ratio(&cpu(&sdk), &cpu(&base)).map(|x| round(x, 3)),
                quartiles(&pairs(&cpu(&sdk), &cpu(&base))).map(|q| q.map(|x| round(x, 3))),
                median_ratio(&throughput(&sdk), &throughput(&base)).map(|x| round(x, 3)),
                quartiles(&pairs(&throughput(&sdk), &throughput(&base)))
                    .map(|q| q.map(|x| round(x, 3))),
            )
        };
        let (cpu_ratio, cpu_q, tput_ratio, tput_q) = ratios(Side::Baseline);
        let (bare_cpu, bare_cpu_q, bare_tput, bare_tput_q) = ratios(Side::BaselineNoTimeout);
        if let Some(r) = cpu_ratio {
            worst = Some(worst.map_or(r, |w| w.max(r)));
        }
        let mut entry = Map::new();
        entry.insert("samples".to_owned(), json!(sdk.len()));
        entry.insert(
            "ops_per_sample".to_owned(),
            json!(if concurrency == 1 {
                plan.turn_c1
            } else {
                plan.chunk_c64
            }),
        );
        for s in SIDES {
            entry.insert(s.key().to_owned(), side(s));
        }
        entry.insert("cpu_ratio".to_owned(), json!(cpu_ratio));
        entry.insert("cpu_ratio_quartiles".to_owned(), json!(cpu_q));
        entry.insert("throughput_ratio".to_owned(), json!(tput_ratio));
        entry.insert("throughput_ratio_quartiles".to_owned(), json!(tput_q));
        entry.insert("cpu_ratio_vs_no_timeout".to_owned(), json!(bare_cpu));
        entry.insert(
            "cpu_ratio_vs_no_timeout_quartiles".to_owned(),
            json!(bare_cpu_q),
        );
        entry.insert(
            "throughput_ratio_vs_no_timeout".to_owned(),
            json!(bare_tput),
        );
        entry.insert(
            "throughput_ratio_vs_no_timeout_quartiles".to_owned(),
            json!(bare_tput_q),
        );
        out.insert(format!("c{concurrency}"), Value::Object(entry));
    }
    out.insert("cpu_ratio".to_owned(), json!(worst));
    out.insert("rounds".to_owned(), json!(plan.rounds));
    out.insert("roster_entries_per_reply".to_owned(), json!(MEMBERS - 1));
    Value::Object(out)
}

fn capacity_report(raw: &[RunResult], results: &[(Side, usize, RunResult)]) -> Value {
    let server: Vec<f64> = raw
        .iter()
        .filter_map(RunResult::server_cpu_us_per_op)
        .collect();
    let capacity = median(&throughput(raw));
    let demand = median(&throughput(&pick(results, Side::Sdk, 64)));
    json!({
        "capacity_ops_per_s_c64": capacity.map(|x| round(x, 0)),
        "sandbox_cpu_us_per_op": median(&server).map(|x| round(x, 2)),
        "trivial_client_cpu_us_per_op": median(&cpu(raw)).map(|x| round(x, 2)),
        "sdk_demand_ops_per_s_c64": demand.map(|x| round(x, 0)),
        "capacity_over_demand": capacity.zip(demand).map(|(c, d)| round(c / d, 2)),
    })
}

/// `rosterkit-bench profile <sdk|baseline|baseline-no-timeout> [OPS] [CONCURRENCY] [RUNS]`: one
/// client only, for a profiler (`perf record`, `valgrind --tool=callgrind --trace-children=no`).
///
/// # Errors
/// As [`run`].
pub fn profile(side: &str, ops: usize, concurrency: usize, runs: usize) -> Result<Value, String> {
    let side = match side {
        "sdk" => Side::Sdk,
        "baseline" => Side::Baseline,
        "baseline-no-timeout" => Side::BaselineNoTimeout,
        other => return Err(format!("unknown client {other:?}")),
    };
    let mut sandbox = SandboxChild::spawn()?;
    let chert = sandbox.info().chert.clone();
    let runtime = client_runtime()?;
    let clients = runtime.block_on(async { clients(&chert) })?;
    let client = clients
        .get(SIDES.iter().position(|s| *s == side).unwrap_or(0))
        .cloned()
        .ok_or("no client")?;
    let client = Arc::new(client);
    let chats = chat_ids(side, 0, ops);
    let address: Arc<str> = Arc::from(member(0));
    let pid = sandbox.pid();
    let own = std::process::id();
    let start = crate::cpu::pid_user_system(own);
    let mut cpu = Vec::new();
    for _ in 0..runs.max(1) {
        sandbox.seed(side.prefix(), ops, MEMBERS)?;
        let r = runtime.block_on(overhead::drive(
            Arc::clone(&client),
            Arc::clone(&chats),
            Arc::clone(&address),
            concurrency,
            pid,
        ))?;
        crate::progress(&format!(
            "{} c{concurrency}: {:.2} us CPU/op, {:.0} ops/s, sandbox {:.2} us CPU/op",
            side.key(),
            r.cpu_us_per_op(),
            r.throughput(),
            r.server_cpu_us_per_op().unwrap_or(f64::NAN)
        ));
        cpu.push(r.cpu_us_per_op());
    }
    if let (Some((u0, s0)), Some((u1, s1))) = (start, crate::cpu::pid_user_system(own)) {
        let per_op = |d: Duration| d.as_secs_f64() * 1e6 / (ops * runs.max(1)) as f64;
        crate::progress(&format!(
            "{}: user {:.2} us/op, system {:.2} us/op",
            side.key(),
            per_op(u1.saturating_sub(u0)),
            per_op(s1.saturating_sub(s0))
        ));
    }
    Ok(json!({ "client": side.key(), "cpu_us_per_op": cpu }))
}
