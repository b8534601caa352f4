//! The bulk step: 251 rows through `rosterkit::bulk` against the sandbox — Chert removes across
//! ten chats with adds, leaves, bad rows and injected faults; Z-API removes that go in batched
//! requests; Linq removes that are queued — and every row accounted for once.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use rosterkit::{
    ChatId, Error, Handle, Membership, ProviderKind, RetryPolicy,
    bulk::{Bulk, BulkResult, Clients, Op, RawOp, Row},
    chert::ChertClient,
    linq::LinqClient,
    zapi::ZapiClient,
};
use rosterkit_sandbox::{Fault, FaultAction, Method, Provider, Sandbox, StatusCode};
use tokio::sync::mpsc;

use super::Tour;

const P: &str = "bulk";
/// Chert rows are 1..=CHERT_ROWS, then Z-API, then Linq, then one refused handle kind.
const CHERT_ROWS: u64 = 200;
const ZAPI_GROUPS: u64 = 2;
const ZAPI_ROWS: u64 = 40;
const LINQ_CHATS: u64 = 5;
const LINQ_ROWS: u64 = 10;
/// A Z-API remove of an email address: refused before any request.
const WRONG_KIND: u64 = CHERT_ROWS + ZAPI_ROWS + LINQ_ROWS + 1;
const ROWS: u64 = WRONG_KIND;
const CHATS: u64 = 10;
/// Rows 1..=REMOVES remove members, interleaved over the chats.
const REMOVES: u64 = 180;
/// Lines that are bad rows, and lines that remove someone who is not in the group.
const BAD: [u64; 5] = [17, 58, 99, 123, 170];
const ABSENT: [u64; 3] = [33, 77, 144];
/// Lines hit by faults: two retryable 503s (then applied), a refusal, a lost reply.
const RETRIED: u64 = 42;
const REFUSED: u64 = 64;
const LOST: u64 = 128;

fn member(chat: u64, n: u64) -> String {
    format!("+1415{chat:03}{n:04}")
}

fn chert(sandbox: &Sandbox) -> Result<Arc<dyn Membership>, Error> {
    let info = sandbox.info().chert;
    let client = ChertClient::builder()
        .base_url(info.base_url)
        .tenant(info.tenant)
        .signing_secret(info.signing_secret)
        .retry_policy(
            RetryPolicy::default()
                .with_backoff(Duration::from_millis(5), Duration::from_millis(50)),
        )
        .build()?;
    Ok(Arc::new(client))
}

fn zapi(sandbox: &Sandbox) -> Result<Arc<dyn Membership>, Error> {
    let info = sandbox.info().zapi;
    let client = ZapiClient::builder()
        .base_url(info.base_url)
        .instance_id(info.instance_id)
        .instance_token(info.instance_token)
        .client_token(info.client_token)
        .pacing(Duration::from_millis(20))
        .build()?;
    Ok(Arc::new(client))
}

fn linq(sandbox: &Sandbox) -> Result<Arc<dyn Membership>, Error> {
    let info = sandbox.info().linq;
    let client = LinqClient::builder()
        .base_url(info.base_url)
        .api_key(info.api_key)
        .build()?;
    Ok(Arc::new(client))
}

fn zapi_member(group: u64, n: u64) -> String {
    format!("55449{group:02}{n:06}")
}

fn linq_member(chat: u64, n: u64) -> String {
    format!("+1212{chat:03}{n:04}")
}

/// The encoded path tail of the remove at `line`.
fn target(line: u64) -> String {
    let who = member(line % CHATS, line / CHATS);
    format!("/participants/%2B{}", who.trim_start_matches('+'))
}

fn bad_row(line: u64, chat: String) -> Row {
    let text = |s: &str| Some(s.to_owned());
    let raw = match line % 4 {
        0 => RawOp::new(
            text("remove"),
            text("telegram"),
            Some(chat),
            text("+14155550100"),
        ),
        1 => RawOp::new(
            text("remove"),
            text("chert"),
            Some(chat),
            text("415-555-0100"),
        ),
        2 => RawOp::new(text("remove"), text("chert"), None, text("+14155550100")),
        _ => RawOp::new(
            text("kick"),
            text("chert"),
            Some(chat),
            text("+14155550100"),
        ),
    };
    Row::parse(line, raw)
}

/// The chats each provider's rows go to.
struct Chats {
    chert: Vec<String>,
    small: Vec<String>,
    zapi: Vec<String>,
    linq: Vec<String>,
}

fn pick(ids: &[String], i: u64) -> Result<ChatId, Error> {
    let id = usize::try_from(i)
        .ok()
        .and_then(|i| ids.get(i))
        .ok_or_else(|| Error::invalid_input("tour setup: no such chat"))?;
    Ok(ChatId::new(id.as_str())?)
}

fn rows(all: &Chats) -> Result<Vec<Row>, Error> {
    let (chats, small) = (&all.chert, &all.small);
    let mut rows = Vec::new();
    for line in 1..=ROWS {
        let row = if line == WRONG_KIND {
            let who: Handle = "someone@example.com".parse()?;
            Row::new(
                line,
                Op::remove(ProviderKind::Zapi, pick(&all.zapi, 0)?, who),
            )
        } else if line > CHERT_ROWS + ZAPI_ROWS {
            let i = line - CHERT_ROWS - ZAPI_ROWS - 1;
            let (c, n) = (i % LINQ_CHATS, i / LINQ_CHATS);
            let who: Handle = linq_member(c, n).parse()?;
            Row::new(
                line,
                Op::remove(ProviderKind::Linq, pick(&all.linq, c)?, who),
            )
        } else if line > CHERT_ROWS {
            let i = line - CHERT_ROWS - 1;
            let (g, n) = (i % ZAPI_GROUPS, i / ZAPI_GROUPS);
            let who: Handle = format!("+{}", zapi_member(g, n)).parse()?;
            Row::new(
                line,
                Op::remove(ProviderKind::Zapi, pick(&all.zapi, g)?, who),
            )
        } else if BAD.contains(&line) {
            bad_row(line, pick(chats, line % CHATS)?.to_string())
        } else if line <= REMOVES {
            let who: Handle = if ABSENT.contains(&line) {
                format!("+1999{line:07}").parse()?
            } else {
                member(line % CHATS, line / CHATS).parse()?
            };
            Row::new(
                line,
                Op::remove(ProviderKind::Chert, pick(chats, line % CHATS)?, who),
            )
        } else if line <= REMOVES + 10 {
            let who: Handle = format!("new{line}@example.com").parse()?;
            Row::new(
                line,
                Op::add(ProviderKind::Chert, pick(chats, line % CHATS)?, who),
            )
        } else {
            Row::new(
                line,
                Op::leave(ProviderKind::Chert, pick(small, line % 10)?),
            )
        };
        rows.push(row);
    }
    Ok(rows)
}

pub(crate) async fn run(sandbox: &Sandbox, tour: &mut Tour) {
    if let Err(e) = steps(sandbox, tour).await {
        tour.step(P, "setup", "a working run", e, false);
    }
    sandbox.faults().clear();
}

async fn steps(sandbox: &Sandbox, tour: &mut Tour) -> Result<(), Error> {
    let emulator = sandbox.chert();
    let chats: Vec<String> = (0..CHATS)
        .map(|c| {
            let members: Vec<String> = (0..22).map(|n| member(c, n)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            emulator.create_group(&members)
        })
        .collect();
    let small: Vec<String> = (0..10u64)
        .map(|c| {
            let members: Vec<String> = (0..3).map(|n| member(500 + c, n)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            emulator.create_group(&members)
        })
        .collect();
    let zapi_groups: Vec<String> = (0..ZAPI_GROUPS)
        .map(|g| {
            let members: Vec<String> = (0..25).map(|n| zapi_member(g, n)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            sandbox.zapi().create_group(&members)
        })
        .collect();
    let linq_chats: Vec<String> = (0..LINQ_CHATS)
        .map(|c| {
            let members: Vec<String> = (0..8).map(|n| linq_member(c, n)).collect();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            sandbox.linq().create_group(&members)
        })
        .collect();
    let faults = sandbox.faults();
    faults.clear();
    let delete = |line: u64, action: FaultAction| {
        Fault::new(Provider::Chert, action)
            .method(Method::DELETE)
            .path_contains(target(line))
    };
    faults.inject(
        delete(
            RETRIED,
            FaultAction::chert_error(StatusCode::SERVICE_UNAVAILABLE, 3002, true, None),
        )
        .times(2),
    );
    faults.inject(delete(
        REFUSED,
        FaultAction::chert_error(StatusCode::FORBIDDEN, 2005, false, None),
    ));
    faults.inject(delete(LOST, FaultAction::DropAfterApply));
    let since = sandbox.journal().entries().last().map_or(0, |e| e.seq);

    let clients = Clients::new()
        .with(ProviderKind::Chert, chert(sandbox)?)
        .with(ProviderKind::Zapi, zapi(sandbox)?)
        .with(ProviderKind::Linq, linq(sandbox)?);
    let all = Chats {
        chert: chats.clone(),
        small,
        zapi: zapi_groups,
        linq: linq_chats,
    };
    // Every row is waiting when the run starts (as when a file is read faster than the
    // providers answer), so the batches are the same on every run of the tour.
    let input = rows(&all)?;
    let (tx, rx) = mpsc::channel(input.len().max(1));
    for row in input {
        tx.send(row)
            .await
            .map_err(|_| Error::invalid_input("tour setup: the run stopped taking rows"))?;
    }
    drop(tx);
    let mut run = Bulk::new(clients).concurrency(8).start(rx);
    let mut results: Vec<BulkResult> = Vec::new();
    while let Some(result) = run.next().await {
        results.push(result);
    }
    let stats = run.finish().await;

    let mut lines: Vec<u64> = results.iter().map(|r| r.line).collect();
    lines.sort_unstable();
    lines.dedup();
    tour.step(
        P,
        "251 rows in: one result per row",
        format!("{ROWS} results, each line once"),
        format!("{} results, {} distinct lines", stats.results, lines.len()),
        stats.results == ROWS && lines == (1..=ROWS).collect::<Vec<_>>(),
    );

    let kind_at = |line: u64| -> String {
        results.iter().find(|r| r.line == line).map_or_else(
            || "missing".to_owned(),
            |r| match &r.result {
                Ok(o) => o.as_str().to_owned(),
                Err(e) => e.kind().to_string(),
            },
        )
    };
    let tally = |lines: &[u64]| -> String {
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for line in lines {
            *kinds.entry(kind_at(*line)).or_default() += 1;
        }
        let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
        parts.join(", ")
    };
    let bad = tally(&BAD);
    tour.step(
        P,
        "bad rows fail alone, with their line",
        "5 × invalid_input",
        &bad,
        bad == "5 × invalid_input",
    );
    let absent = tally(&ABSENT);
    tour.step(
        P,
        "remove someone not in the group",
        "3 × not_a_member",
        &absent,
        absent == "3 × not_a_member",
    );

    let journal: Vec<_> = sandbox
        .journal()
        .entries_for(Provider::Chert)
        .into_iter()
        .filter(|e| e.seq > since)
        .collect();
    let attempts = journal
        .iter()
        .filter(|e| e.path.ends_with(&target(RETRIED)))
        .count();
    tour.step(
        P,
        "two 503s (retryable) then applied",
        "applied after 3 attempts",
        format!("{} after {attempts} attempts", kind_at(RETRIED)),
        kind_at(RETRIED) == "applied" && attempts == 3,
    );
    tour.step(
        P,
        "a 403 refusal fails that row only",
        "forbidden",
        kind_at(REFUSED),
        kind_at(REFUSED) == "forbidden",
    );
    let lost = results.iter().find(|r| r.line == LOST);
    let lost_ok = lost.is_some_and(|r| r.result.is_err() && r.may_have_applied());
    tour.step(
        P,
        "reply lost after the change (not retried)",
        "transport, may have applied",
        format!(
            "{}, may have applied: {}",
            kind_at(LOST),
            lost.is_some_and(BulkResult::may_have_applied)
        ),
        lost_ok,
    );

    // Z-API batches natively: the rows waiting on each group go in one `phones` array.
    let zapi_lines: Vec<u64> = (CHERT_ROWS + 1..=CHERT_ROWS + ZAPI_ROWS).collect();
    let batches: Vec<usize> = sandbox
        .journal()
        .entries_for(Provider::Zapi)
        .iter()
        .filter(|e| e.seq > since && e.path.ends_with("/remove-participant"))
        .map(|e| {
            serde_json::from_slice::<serde_json::Value>(&e.body)
                .ok()
                .and_then(|body| body.get("phones").and_then(|p| p.as_array()).map(Vec::len))
                .unwrap_or(0)
        })
        .collect();
    let zapi_tally = tally(&zapi_lines);
    tour.step(
        P,
        "Z-API: 40 removes on 2 groups, batched",
        "[20, 20] phones; 40 × unconfirmed",
        format!("{batches:?} phones; {zapi_tally}"),
        batches == [20, 20] && zapi_tally == "40 × unconfirmed",
    );
    let linq_lines: Vec<u64> =
        (CHERT_ROWS + ZAPI_ROWS + 1..=CHERT_ROWS + ZAPI_ROWS + LINQ_ROWS).collect();
    let linq_tally = tally(&linq_lines);
    tour.step(
        P,
        "Linq: removes are accepted and queued",
        "10 × queued",
        &linq_tally,
        linq_tally == "10 × queued",
    );
    tour.step(
        P,
        "an email handle for Z-API: refused, not sent",
        "invalid_input",
        kind_at(WRONG_KIND),
        kind_at(WRONG_KIND) == "invalid_input",
    );

    // The summary a user sees, against what the sandbox did.
    let mut summary: BTreeMap<String, u64> = BTreeMap::new();
    for r in &results {
        let key = match &r.result {
            Ok(o) => o.as_str().to_owned(),
            Err(e) => format!("failed:{}", e.kind()),
        };
        *summary.entry(key).or_default() += 1;
    }
    let applied = summary.get("applied").copied().unwrap_or(0);
    let effects = journal.iter().map(|e| e.effects.len() as u64).sum::<u64>();
    let want_applied = CHERT_ROWS - 5 - 3 - 1 - 1;
    tour.step(
        P,
        "Chert: applied vs sandbox effects",
        format!("{want_applied} applied, {} effects", want_applied + 1),
        format!("{applied} applied, {effects} effects"),
        applied == want_applied && effects == applied + 1,
    );

    // Rows on one chat ran in input order (one call at a time per chat): in arrival order,
    // the removes of the first chat name members 1, 2, 3, ...
    let first = chats.first().map(String::as_str).unwrap_or_default();
    let mut removes: Vec<(u64, &str)> = journal
        .iter()
        .filter(|e| e.method == "DELETE" && e.path.contains(first) && e.status == Some(200))
        .map(|e| (e.seq, e.path.as_str()))
        .collect();
    removes.sort_unstable();
    let expected = (1..=REMOVES)
        .filter(|l| l % CHATS == 0 && ![&BAD[..], &ABSENT, &[REFUSED, LOST]].concat().contains(l))
        .count();
    let in_order = removes.windows(2).all(|w| matches!(w, [a, b] if a.1 < b.1));
    tour.step(
        P,
        "one chat's rows ran in input order",
        format!("{expected} removes in order"),
        format!(
            "{} removes {}",
            removes.len(),
            if in_order { "in order" } else { "out of order" }
        ),
        in_order && removes.len() == expected,
    );
    Ok(())
}
