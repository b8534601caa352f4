//! Nasty inputs (issue #10, item 2): every entry of `tests/fixtures/nasty.txt` is fed as a chat
//! id and as a handle to every provider's `Membership` operations, against one sandbox. Each
//! case must end one of two ways:
//!
//! - rejected before any request: the value does not parse (`ChatId::new`, `Handle::from_str`,
//!   `NativeId::new`), or the adapter answers `InvalidInput` (or `Unsupported`) and the journal
//!   is unchanged;
//! - sent safely encoded: every request it caused has exactly the path of the same operation
//!   with a valid value (same method, same literal segments, same query, same number of
//!   segments), the value percent-encoded into its one segment (decoding it gives the value
//!   back), only visible ASCII in the raw path, no header value with CR, LF or NUL, and a JSON
//!   body that still parses.
//!
//! The per-provider counts are printed (`cargo test -p rosterkit-tests --test nasty -- --nocapture`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::{collections::BTreeMap, fmt::Write as _};

use rosterkit::{
    ChangeOptions, ChatId, ErrorKind, Handle, Membership, NativeId, RetryPolicy,
    acs::{AcsClient, Pacing},
    adapter::encode::path_segment,
    chert::ChertClient,
    linq::LinqClient,
    zapi::ZapiClient,
};
use rosterkit_sandbox::{JournalEntry, Provider, Sandbox};

// ---- the corpus ----

const CORPUS: &str = include_str!("../fixtures/nasty.txt");

/// Decodes one entry's escapes (see the file's header).
fn unescape(text: &str, line: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('0') => out.push('\0'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                assert_eq!(chars.next(), Some('{'), "line {line}: \\u needs {{HEX}}");
                let hex: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let value = u32::from_str_radix(&hex, 16)
                    .unwrap_or_else(|_| panic!("line {line}: bad hex {hex:?}"));
                out.push(char::from_u32(value).unwrap_or_else(|| panic!("line {line}: U+{hex}")));
            }
            other => panic!("line {line}: unknown escape \\{other:?}"),
        }
    }
    out
}

/// Every entry with its line number.
fn corpus() -> Vec<(usize, String)> {
    let mut entries = Vec::new();
    for (index, raw) in CORPUS.lines().enumerate() {
        let line = index + 1;
        if raw.is_empty() || raw == "#" || raw.starts_with("# ") {
            continue;
        }
        let value = if raw == "@empty" {
            String::new()
        } else if let Some(rest) = raw.strip_prefix("@repeat ") {
            let (count, text) = rest.split_once(' ').expect("@repeat COUNT TEXT");
            unescape(text, line).repeat(count.parse().expect("@repeat COUNT"))
        } else {
            unescape(raw, line)
        };
        entries.push((line, value));
    }
    entries
}

#[test]
fn corpus_covers_what_the_issue_lists() {
    let entries: Vec<String> = corpus().into_iter().map(|(_, v)| v).collect();
    let has = |f: &dyn Fn(&str) -> bool| entries.iter().any(|e| f(e));
    assert!(has(&|e| e == "../"));
    assert!(has(&|e| e == "%2F"));
    assert!(has(&|e| e == "/"));
    assert!(has(&|e| e == "?"));
    assert!(has(&|e| e == "#"));
    assert!(has(&|e| e.contains("\r\n")));
    assert!(has(&|e| e.contains('\0')));
    assert!(has(&|e| e.contains('\t')));
    assert!(has(&|e| e.contains('\u{202E}')));
    assert!(has(&|e| e.contains('\u{200F}')));
    assert!(has(&|e| e.contains('１')));
    assert!(has(&|e| e.len() >= 10 * 1024));
    assert!(has(&|e| e.contains('😀')));
    assert!(has(&str::is_empty));
    assert!(entries.len() >= 100, "{} entries", entries.len());
    assert_eq!(
        unescape(r"a\r\n\t\0\\\u{202E}\u{23}", 0),
        "a\r\n\t\0\\\u{202E}#"
    );
}

// ---- the providers ----

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Remove,
    Add,
    Leave,
    List,
}

const CHAT_OPS: [Op; 4] = [Op::Remove, Op::Add, Op::Leave, Op::List];
const HANDLE_OPS: [Op; 2] = [Op::Remove, Op::Add];

async fn run(
    client: &dyn Membership,
    op: Op,
    chat: &ChatId,
    handle: &Handle,
) -> Result<(), rosterkit::Error> {
    let options = ChangeOptions::default();
    match op {
        Op::Remove => client
            .remove_participant(chat, handle, options)
            .await
            .map(drop),
        Op::Add => client
            .add_participant(chat, handle, options)
            .await
            .map(drop),
        Op::Leave => client.leave(chat, options).await.map(drop),
        Op::List => client.participants(chat).await.map(drop),
    }
}

/// One provider under test: a client on the sandbox, a chat for the nasty handles, a chat for
/// the reference run, a valid handle, and how the adapter writes a chat id on the wire.
struct Target {
    name: &'static str,
    provider: Provider,
    client: Box<dyn Membership>,
    chat: ChatId,
    reference_chat: ChatId,
    handle: Handle,
    wire_chat: fn(&str) -> String,
    templates: Vec<Template>,
}

fn targets(sandbox: &Sandbox) -> Vec<Target> {
    let quick = RetryPolicy::no_retries();
    let info = sandbox.info();
    let chert = ChertClient::builder()
        .base_url(info.chert.base_url)
        .tenant(info.chert.tenant)
        .signing_secret(info.chert.signing_secret)
        .retry_policy(quick.clone())
        .build()
        .unwrap();
    let linq = LinqClient::builder()
        .base_url(info.linq.base_url)
        .api_key(info.linq.api_key)
        .retry_policy(quick.clone())
        .build()
        .unwrap();
    let zapi = ZapiClient::builder()
        .base_url(info.zapi.base_url)
        .instance_id(info.zapi.instance_id)
        .instance_token(info.zapi.instance_token)
        .client_token(info.zapi.client_token)
        .pacing(std::time::Duration::ZERO)
        .retry_policy(quick.clone())
        .build()
        .unwrap();
    let acs = AcsClient::builder()
        .base_url(info.acs.endpoint)
        .user_token(info.acs.user_token)
        .pacing(Pacing::off())
        .retry_policy(quick)
        .build()
        .unwrap();
    let chert_members = [
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155550400",
    ];
    let linq_members = ["+14155550100", "+14155550200", "+14155550300"];
    let zapi_members = ["5544999999999", "5544888888888", "5544777777777"];
    let acs_members = ["8:acs:1111_2222", "8:acs:1111_3333", "8:acs:1111_4444"];
    let id = |s: String| ChatId::new(s).unwrap();
    vec![
        Target {
            name: "chert",
            provider: Provider::Chert,
            client: Box::new(chert),
            chat: id(sandbox.chert().create_group(&chert_members)),
            reference_chat: id(sandbox.chert().create_group(&chert_members)),
            handle: "+14155550300".parse().unwrap(),
            wire_chat: str::to_owned,
            templates: Vec::new(),
        },
        Target {
            name: "linq",
            provider: Provider::Linq,
            client: Box::new(linq),
            chat: id(sandbox.linq().create_group(&linq_members)),
            reference_chat: id(sandbox.linq().create_group(&linq_members)),
            handle: "+14155550300".parse().unwrap(),
            wire_chat: str::to_ascii_lowercase,
            templates: Vec::new(),
        },
        Target {
            name: "zapi",
            provider: Provider::Zapi,
            client: Box::new(zapi),
            chat: id(sandbox.zapi().create_group(&zapi_members)),
            reference_chat: id(sandbox.zapi().create_group(&zapi_members)),
            handle: "+5544777777777".parse().unwrap(),
            wire_chat: |s| {
                s.strip_prefix("group:")
                    .or_else(|| s.strip_prefix("community:"))
                    .unwrap_or(s)
                    .to_owned()
            },
            templates: Vec::new(),
        },
        Target {
            name: "acs",
            provider: Provider::Acs,
            client: Box::new(acs),
            chat: id(sandbox.acs().create_thread(&acs_members)),
            reference_chat: id(sandbox.acs().create_thread(&acs_members)),
            handle: Handle::Native(NativeId::new("8:acs:1111_4444").unwrap()),
            wire_chat: str::to_owned,
            templates: Vec::new(),
        },
    ]
}

// ---- what a safe request looks like ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    Chat,
    Handle,
}

/// The shape of one request of a reference run: method, segments (with the chat and handle
/// slots marked) and query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Template {
    method: String,
    segments: Vec<Seg>,
    query: Option<String>,
}

fn split(path: &str) -> (&str, Option<&str>) {
    match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    }
}

fn template(entry: &JournalEntry, chat: &str, handle: &str) -> Template {
    let (path, query) = split(&entry.path);
    let encoded_chat = path_segment(chat);
    let encoded_handle = path_segment(handle);
    Template {
        method: entry.method.clone(),
        segments: path
            .split('/')
            .map(|s| {
                if s == encoded_chat {
                    Seg::Chat
                } else if s == encoded_handle {
                    Seg::Handle
                } else {
                    Seg::Lit(s.to_owned())
                }
            })
            .collect(),
        query: query.map(str::to_owned),
    }
}

/// Percent-decodes a path segment; `None` if the escapes or the UTF-8 are broken.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Checks one request a nasty case caused; `Err` says what is unsafe.
fn check_request(
    entry: &JournalEntry,
    templates: &[Template],
    chat: &str,
    handle: &str,
) -> Result<(), String> {
    for (name, value) in &entry.headers {
        if value.contains(['\r', '\n', '\0']) {
            return Err(format!("header {name} has CR/LF/NUL: {value:?}"));
        }
    }
    if !entry
        .path
        .bytes()
        .all(|b| (0x21..0x7f).contains(&b) && b != b'#')
    {
        return Err(format!(
            "raw path has bytes outside visible ASCII or a '#': {:?}",
            entry.path
        ));
    }
    let (path, query) = split(&entry.path);
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(format!("raw path has a dot segment: {path}"));
    }
    let matches_template = |t: &Template| {
        t.method == entry.method
            && t.query.as_deref() == query
            && t.segments.len() == segments.len()
            && t.segments
                .iter()
                .zip(&segments)
                .all(|(seg, got)| match seg {
                    Seg::Lit(lit) => lit == got,
                    Seg::Chat => percent_decode(got).as_deref() == Some(chat),
                    Seg::Handle => percent_decode(got).as_deref() == Some(handle),
                })
    };
    if !templates.iter().any(matches_template) {
        return Err(format!(
            "{} {} matches no reference request with the value encoded into its one segment \
             (expected chat {chat:?}, handle {handle:?}); references: {templates:?}",
            entry.method, entry.path
        ));
    }
    if !entry.body.is_empty()
        && entry
            .header("content-type")
            .is_some_and(|c| c.contains("json"))
        && serde_json::from_slice::<serde_json::Value>(&entry.body).is_err()
    {
        return Err(format!("JSON body does not parse: {:?}", entry.body_text()));
    }
    Ok(())
}

// ---- the run ----

#[derive(Debug, Default)]
struct Counts {
    /// Refused by `ChatId::new`, `Handle::from_str` or `NativeId::new`: never reached a client.
    parse_rejected: usize,
    /// `InvalidInput` from the adapter, journal unchanged.
    adapter_rejected: usize,
    /// `Unsupported` (Chert has no roster read), journal unchanged.
    unsupported: usize,
    /// Cases that sent requests, every request checked.
    sent: usize,
    /// Requests checked.
    requests: usize,
}

impl Counts {
    fn rejected(&self) -> usize {
        self.parse_rejected + self.adapter_rejected + self.unsupported
    }
}

/// One way of feeding a value: its role, the chat and handle (`None` when the value did not
/// parse as one), and the operations to run.
type Case = (Role, Option<ChatId>, Option<Handle>, &'static [Op]);

/// Where a nasty value went.
#[derive(Debug, Clone, Copy)]
enum Role {
    Chat,
    HandleParsed,
    HandleNative,
}

#[tokio::test]
async fn nasty_inputs_are_rejected_or_sent_encoded() {
    let sandbox = Sandbox::start().await.unwrap();
    let journal = sandbox.journal();
    let mut targets = targets(&sandbox);

    // Reference run: every operation with valid values sends requests; their shapes are the
    // only ones a nasty value may produce.
    for t in &mut targets {
        for op in CHAT_OPS {
            let before = journal.entries_for(t.provider).len();
            let result = run(t.client.as_ref(), op, &t.reference_chat, &t.handle).await;
            let sent = journal.entries_for(t.provider);
            if op == Op::List && matches!(&result, Err(e) if e.kind() == ErrorKind::Unsupported) {
                assert!(!t.client.capabilities().list, "{}", t.name);
                continue;
            }
            assert!(
                sent.len() > before,
                "{} {op:?}: the reference run sent nothing: {result:?}",
                t.name
            );
            let chat = (t.wire_chat)(t.reference_chat.as_str());
            for entry in &sent[before..] {
                let shape = template(entry, &chat, t.handle.as_str());
                if !t.templates.contains(&shape) {
                    t.templates.push(shape);
                }
            }
        }
    }

    let entries = corpus();
    let mut report: BTreeMap<&str, Counts> = BTreeMap::new();
    let mut failures = Vec::new();
    for t in &targets {
        let counts = report.entry(t.name).or_default();
        for (line, value) in &entries {
            // As a chat id with a valid handle; as a handle (parsed, or as a native id) in a
            // valid chat. `None`: the value did not parse.
            let cases: Vec<Case> = vec![
                (
                    Role::Chat,
                    ChatId::new(value.clone()).ok(),
                    Some(t.handle.clone()),
                    &CHAT_OPS,
                ),
                (
                    Role::HandleParsed,
                    Some(t.chat.clone()),
                    value.parse::<Handle>().ok(),
                    &HANDLE_OPS,
                ),
                (
                    Role::HandleNative,
                    Some(t.chat.clone()),
                    NativeId::new(value.clone()).ok().map(Handle::Native),
                    &HANDLE_OPS,
                ),
            ];
            for (role, chat, handle, ops) in cases {
                let (Some(chat), Some(handle)) = (chat, handle) else {
                    counts.parse_rejected += ops.len();
                    continue;
                };
                for &op in ops {
                    let before = journal.entries_for(t.provider).len();
                    let result = run(t.client.as_ref(), op, &chat, &handle).await;
                    let after = journal.entries_for(t.provider);
                    let new = &after[before..];
                    let case = format!("{} line {line} as {role:?} via {op:?}", t.name);
                    if new.is_empty() {
                        match &result {
                            Err(e) if e.kind() == ErrorKind::InvalidInput => {
                                counts.adapter_rejected += 1;
                            }
                            Err(e) if e.kind() == ErrorKind::Unsupported => counts.unsupported += 1,
                            other => failures.push(format!("{case}: nothing sent but {other:?}")),
                        }
                        continue;
                    }
                    if matches!(&result, Err(e) if e.kind() == ErrorKind::InvalidInput && e.http_status().is_none())
                    {
                        failures.push(format!(
                            "{case}: local InvalidInput after sending {} request(s)",
                            new.len()
                        ));
                    }
                    counts.sent += 1;
                    let wire_chat = (t.wire_chat)(chat.as_str());
                    for entry in new {
                        counts.requests += 1;
                        if let Err(why) =
                            check_request(entry, &t.templates, &wire_chat, handle.as_str())
                        {
                            failures.push(format!("{case}: {why}"));
                        }
                    }
                }
            }
        }
    }
    sandbox.shutdown().await;

    let mut table = String::from(
        "provider  cases  rejected locally (parse + adapter + unsupported)  sent encoded (requests)\n",
    );
    for (name, c) in &report {
        let _ = writeln!(
            table,
            "{name:<8}  {:>5}  {:>5} ({} + {} + {})  {:>5} ({})",
            c.rejected() + c.sent,
            c.rejected(),
            c.parse_rejected,
            c.adapter_rejected,
            c.unsupported,
            c.sent,
            c.requests
        );
    }
    eprintln!("{} corpus entries\n{table}", entries.len());
    assert!(
        failures.is_empty(),
        "{} unsafe case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (name, c) in &report {
        assert!(
            c.sent > 0,
            "{name}: no nasty value was sent at all, so encoding went untested"
        );
        assert!(c.rejected() > 0, "{name}: nothing was rejected");
    }
}
