//! The Linq emulator over real loopback HTTP: exact statuses, bodies and state changes.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::{Fault, FaultAction, Method, Sandbox, StatusCode};

const BASE: &str = "/linq/api/partner";
const ALICE: &str = "+12052499136";
const BOB: &str = "+14155550100";
const CAROL: &str = "+14155550101";
const DAVE: &str = "+14155550102";

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Asserts the complete Linq envelope with this status and code.
    #[track_caller]
    fn assert_error(&self, status: u16, code: u64) -> Value {
        let body = self.json();
        assert_eq!(self.status, status, "{body}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(body["success"], json!(false), "{body}");
        assert_eq!(body["error"]["status"], json!(status), "{body}");
        assert_eq!(body["error"]["code"], json!(code), "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(
            body["error"]["doc_url"],
            json!(format!(
                "https://docs.linqapp.com/error/codes/{}xxx/{code}/",
                code / 1000
            ))
        );
        let trace = body["trace_id"].as_str().unwrap_or_default();
        assert_eq!(trace.len(), 32, "{body}");
        body
    }
}

async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\n{}connection: close\r\n",
        crate::control::test_host_lines(addr, target, body.len())
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse_reply(&raw)
}

fn parse_reply(raw: &[u8]) -> Reply {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    // For a request (the webhook receiver) the second word is the path: status 0.
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

struct Linq {
    sandbox: Sandbox,
    auth: String,
}

impl Linq {
    async fn start() -> Self {
        let sandbox = Sandbox::start().await.unwrap();
        let auth = format!("Bearer {}", sandbox.linq().api_key());
        Linq { sandbox, auth }
    }

    fn addr(&self) -> SocketAddr {
        self.sandbox.addr()
    }

    async fn call(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let content_type = [
            ("authorization", self.auth.as_str()),
            ("content-type", "application/json"),
        ];
        let headers: &[(&str, &str)] = if body.is_empty() {
            &content_type[..1]
        } else {
            &content_type
        };
        send(self.addr(), method, &format!("{BASE}{path}"), headers, body).await
    }

    async fn remove(&self, chat: &str, handle: &str) -> Reply {
        let body = format!(r#"{{"handle":"{handle}"}}"#);
        self.call(
            "DELETE",
            &format!("/v3/chats/{chat}/participants"),
            body.as_bytes(),
        )
        .await
    }

    async fn add(&self, chat: &str, handle: &str) -> Reply {
        let body = format!(r#"{{"handle":"{handle}"}}"#);
        self.call(
            "POST",
            &format!("/v3/chats/{chat}/participants"),
            body.as_bytes(),
        )
        .await
    }

    async fn leave(&self, chat: &str) -> Reply {
        self.call("POST", &format!("/v3/chats/{chat}/leave"), b"")
            .await
    }

    async fn get(&self, chat: &str) -> Reply {
        self.call("GET", &format!("/v3/chats/{chat}"), b"").await
    }

    fn status_of(&self, chat: &str, handle: &str) -> Option<String> {
        self.sandbox
            .linq()
            .handles(chat)?
            .into_iter()
            .rev()
            .find(|h| h.handle == handle)
            .map(|h| h.status)
    }
}

#[track_caller]
fn assert_queued(reply: &Reply, message: &str) -> String {
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let body = reply.json();
    assert_eq!(body["message"], json!(message));
    assert_eq!(body["status"], json!("accepted"));
    let trace = body["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(trace.len(), 32);
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    trace
}

#[test]
fn ids_and_times() {
    let id = new_uuid();
    assert!(is_uuid(&id));
    assert_eq!(id, id.to_ascii_lowercase());
    assert_eq!(&id[14..15], "4");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    assert!(!is_uuid("550e8400-e29b-41d4-a716-44665544000"));
    assert!(!is_uuid("550e8400e29b41d4a716446655440000"));
    assert!(is_uuid("550E8400-E29B-41D4-A716-446655440000"));
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}

#[tokio::test]
async fn bearer_token_is_checked_first_on_every_route() {
    let linq = Linq::start().await;
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB, CAROL]);
    let target = format!("{BASE}/v3/chats/{chat}");
    send(linq.addr(), "GET", &target, &[], b"")
        .await
        .assert_error(401, 2004);
    send(
        linq.addr(),
        "GET",
        &target,
        &[("authorization", "Bearer nope")],
        b"",
    )
    .await
    .assert_error(401, 2004);
    send(
        linq.addr(),
        "GET",
        &target,
        &[("authorization", "Basic x")],
        b"",
    )
    .await
    .assert_error(401, 2004);
    send(linq.addr(), "GET", &format!("{BASE}/v2/x"), &[], b"")
        .await
        .assert_error(401, 2004);
    let lower = format!("bearer {DEFAULT_API_KEY}");
    let ok = send(
        linq.addr(),
        "GET",
        &target,
        &[("authorization", &lower)],
        b"",
    )
    .await;
    assert_eq!(ok.status, 200);
    linq.call("GET", "/v3/nothing", b"")
        .await
        .assert_error(404, 2001);
    linq.call("PUT", &format!("/v3/chats/{chat}/leave"), b"")
        .await
        .assert_error(404, 2001);
    assert!(linq.sandbox.journal().effects().is_empty());
}

#[tokio::test]
async fn get_chat_is_the_bare_chat_object() {
    let linq = Linq::start().await;
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB]);
    let reply = linq.get(&chat.to_ascii_uppercase()).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "display_name",
            "handles",
            "id",
            "is_archived",
            "is_group",
            "service",
            "updated_at"
        ]
    );
    assert_eq!(body["id"], json!(chat));
    assert_eq!(body["is_group"], json!(true));
    assert_eq!(body["display_name"], Value::Null);
    let handles = body["handles"].as_array().unwrap();
    assert_eq!(handles.len(), 3);
    assert_eq!(handles[0]["handle"], json!(DEFAULT_LINE));
    assert_eq!(handles[0]["is_me"], json!(true));
    for h in handles {
        assert_eq!(h["status"], json!("active"));
        assert_eq!(h["service"], json!("iMessage"));
        assert_eq!(h["left_at"], Value::Null);
        assert!(is_uuid(h["id"].as_str().unwrap()));
    }
    linq.get("550e8400-e29b-41d4-a716-446655440000")
        .await
        .assert_error(404, 2001);
    linq.get("not-a-uuid").await.assert_error(400, 1005);
}

#[tokio::test]
async fn remove_is_queued_and_applied_before_the_reply() {
    let linq = Linq::start().await;
    linq.sandbox.pin_clock(Some(1_700_000_000));
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB, CAROL]);
    let reply = linq.remove(&chat, ALICE).await;
    assert_queued(&reply, "Participant removal queued");
    let entry = linq.sandbox.journal().last().unwrap();
    assert_eq!(entry.path, format!("{BASE}/v3/chats/{chat}/participants"));
    assert_eq!(entry.effects, vec![format!("linq:remove {chat} {ALICE}")]);
    let handles = linq.sandbox.linq().handles(&chat).unwrap();
    let alice = handles.iter().find(|h| h.handle == ALICE).unwrap();
    assert_eq!(alice.status, "removed");
    assert_eq!(alice.left_at.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(
        linq.sandbox.linq().active_handles(&chat).unwrap(),
        vec![DEFAULT_LINE, BOB, CAROL]
    );
    // Now at 3 active: the next removal would leave 2.
    linq.remove(&chat, BOB).await.assert_error(400, 1005);
    // The removed member is no longer active.
    linq.remove(&chat, ALICE).await.assert_error(400, 1005);
}

#[tokio::test]
async fn body_validation() {
    let linq = Linq::start().await;
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB, CAROL]);
    let path = format!("/v3/chats/{chat}/participants");
    for (body, code) in [
        (&b""[..], 1001),
        (b"{}", 1001),
        (br#"{"handle":null}"#, 1001),
        (b"{", 1003),
        (br#"{"handle":42}"#, 1003),
        (br#"{"handle":"2052499136"}"#, 1002),
        (br#"{"handle":"+1 205 249 9136"}"#, 1002),
        (br#"{"handle":"bob@"}"#, 1005),
    ] {
        for method in ["DELETE", "POST"] {
            linq.call(method, &path, body).await.assert_error(400, code);
        }
    }
    linq.remove(&chat, "+19995550000")
        .await
        .assert_error(400, 1005);
    linq.remove(&chat, DEFAULT_LINE)
        .await
        .assert_error(400, 1005);
    linq.remove("550e8400-e29b-41d4-a716-446655440000", ALICE)
        .await
        .assert_error(404, 2001);
    assert!(linq.sandbox.journal().effects().is_empty());
    assert_eq!(linq.sandbox.linq().active_handles(&chat).unwrap().len(), 4);
}

#[tokio::test]
async fn direct_messages_and_services() {
    let linq = Linq::start().await;
    let dm = linq.sandbox.linq().create_dm(ALICE);
    linq.remove(&dm, ALICE).await.assert_error(409, 1006);
    linq.add(&dm, BOB).await.assert_error(409, 1006);
    linq.leave(&dm).await.assert_error(409, 1006);
    let sms = linq.sandbox.linq().create_chat(LinqChatSeed {
        service: "SMS".into(),
        ..LinqChatSeed::group(&[ALICE, BOB, CAROL])
    });
    linq.leave(&sms).await.assert_error(409, 2017);
    let group = linq.sandbox.linq().create_group(&[ALICE, BOB]);
    linq.sandbox.linq().set_handle_service(DAVE, "RCS");
    linq.add(&group, DAVE).await.assert_error(409, 2017);
    assert!(linq.sandbox.journal().effects().is_empty());
}

#[tokio::test]
async fn leave_then_every_call_is_2013_but_get() {
    let linq = Linq::start().await;
    let small = linq.sandbox.linq().create_group(&[ALICE, BOB]);
    linq.leave(&small).await.assert_error(400, 1005);
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB, CAROL]);
    assert_queued(&linq.leave(&chat).await, "Leave group chat queued");
    assert!(linq.sandbox.linq().has_left(&chat));
    assert_eq!(
        linq.sandbox.journal().last().unwrap().effects,
        vec![format!("linq:leave {chat}")]
    );
    linq.leave(&chat).await.assert_error(409, 2013);
    linq.remove(&chat, ALICE).await.assert_error(409, 2013);
    linq.add(&chat, DAVE).await.assert_error(409, 2013);
    // Even a malformed body: the chat is checked first.
    linq.call("DELETE", &format!("/v3/chats/{chat}/participants"), b"")
        .await
        .assert_error(409, 2013);
    let got = linq.get(&chat).await;
    assert_eq!(got.status, 200);
    let me = got.json()["handles"][0].clone();
    assert_eq!(me["is_me"], json!(true));
    assert_eq!(me["status"], json!("left"));
    assert!(me["left_at"].is_string());
}

#[tokio::test]
async fn add_rules() {
    let linq = Linq::start().await;
    let pair = linq.sandbox.linq().create_group(&[ALICE]);
    linq.add(&pair, BOB).await.assert_error(400, 1005);
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB, CAROL]);
    assert_queued(&linq.add(&chat, ALICE).await, "Participant addition queued");
    assert!(
        linq.sandbox.journal().last().unwrap().effects.is_empty(),
        "no-op add"
    );
    assert_queued(
        &linq.remove(&chat, ALICE).await,
        "Participant removal queued",
    );
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("removed"));
    assert_queued(&linq.add(&chat, ALICE).await, "Participant addition queued");
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("active"));
    let handles = linq.sandbox.linq().handles(&chat).unwrap();
    assert_eq!(handles.iter().filter(|h| h.handle == ALICE).count(), 1);
    assert_queued(
        &linq.add(&chat, "Dave@Example.com").await,
        "Participant addition queued",
    );
    assert_queued(
        &linq.add(&chat, "dave@example.com").await,
        "Participant addition queued",
    );
    assert_eq!(linq.sandbox.linq().active_handles(&chat).unwrap().len(), 5);
}

#[tokio::test]
async fn delayed_application_and_async_reject() {
    let linq = Linq::start().await;
    let emulator = linq.sandbox.linq();
    let chat = emulator.create_group(&[ALICE, BOB, CAROL]);
    emulator.set_apply_delay(Duration::from_secs(3600));
    assert_queued(
        &linq.remove(&chat, ALICE).await,
        "Participant removal queued",
    );
    assert_eq!(
        linq.sandbox.journal().last().unwrap().effects,
        vec![format!("linq:queued remove {chat} {ALICE}")]
    );
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("active"));
    assert_eq!(emulator.pending_count(), 1);
    // A second removal while 4 are still active is accepted too, but only one can apply.
    assert_queued(&linq.remove(&chat, BOB).await, "Participant removal queued");
    assert_eq!(emulator.apply_pending(), 2);
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("removed"));
    assert_eq!(
        linq.status_of(&chat, BOB).as_deref(),
        Some("active"),
        "stale change dropped"
    );

    emulator.set_apply_delay(Duration::ZERO);
    emulator.set_async_reject(true);
    let dm = emulator.create_dm(ALICE);
    assert_queued(&linq.remove(&dm, ALICE).await, "Participant removal queued");
    assert_queued(
        &linq.remove(&chat, DAVE).await,
        "Participant removal queued",
    );
    assert_eq!(emulator.active_handles(&dm).unwrap().len(), 2);
    // Body errors are still synchronous.
    linq.remove(&chat, "2052499136")
        .await
        .assert_error(400, 1002);
}

#[tokio::test(start_paused = true)]
async fn delayed_application_by_the_clock() {
    let linq = Linq::start().await;
    let emulator = linq.sandbox.linq();
    let chat = emulator.create_group(&[ALICE, BOB, CAROL]);
    emulator.set_apply_delay(Duration::from_secs(2));
    assert_queued(
        &linq.remove(&chat, ALICE).await,
        "Participant removal queued",
    );
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("active"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("removed"));
    assert_eq!(emulator.pending_count(), 0);
}

#[tokio::test]
async fn faults_answer_in_the_linq_envelope() {
    let linq = Linq::start().await;
    let chat = linq.sandbox.linq().create_group(&[ALICE, BOB, CAROL]);
    linq.sandbox.faults().inject(
        Fault::new(
            crate::Provider::Linq,
            FaultAction::linq_error(StatusCode::TOO_MANY_REQUESTS, 1007, Some(12)),
        )
        .method(Method::DELETE),
    );
    let reply = linq.remove(&chat, ALICE).await;
    let body = reply.assert_error(429, 1007);
    assert_eq!(body["error"]["retry_after"], json!(12));
    assert_eq!(reply.header("retry-after"), Some("12"));
    assert_eq!(linq.status_of(&chat, ALICE).as_deref(), Some("active"));
    // The same fault over the control plane.
    let fault = json!({"provider":"linq","method":"DELETE","action":{"kind":"linq_error","status":409,"code":2009}});
    let added = send(
        linq.addr(),
        "POST",
        "/_sandbox/faults",
        &[],
        fault.to_string().as_bytes(),
    )
    .await;
    assert_eq!(added.status, 201);
    linq.remove(&chat, ALICE).await.assert_error(409, 2009);
    assert_queued(
        &linq.remove(&chat, ALICE).await,
        "Participant removal queued",
    );
}

#[tokio::test]
async fn control_plane() {
    let linq = Linq::start().await;
    let info = send(linq.addr(), "GET", "/_sandbox/info", &[], b"").await;
    assert_eq!(
        info.json()["linq"],
        json!({
            "base_url": format!("{}/linq/api/partner", linq.sandbox.base_url()),
            "api_key": DEFAULT_API_KEY,
        })
    );
    let seed = json!({"members":[ALICE, BOB, CAROL], "display_name": "Team", "id": "550E8400-E29B-41D4-A716-446655440000"});
    let created = send(
        linq.addr(),
        "POST",
        "/_sandbox/linq/chats",
        &[],
        seed.to_string().as_bytes(),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.json()["id"],
        json!("550e8400-e29b-41d4-a716-446655440000")
    );
    let got = send(
        linq.addr(),
        "GET",
        "/_sandbox/linq/chats/550e8400-e29b-41d4-a716-446655440000",
        &[],
        b"",
    )
    .await;
    assert_eq!(got.json()["display_name"], json!("Team"));
    assert_eq!(got.json()["handles"].as_array().unwrap().len(), 4);
    let settings = json!({"api_key":"other","apply_delay_ms":1500,"async_reject":true});
    let put = send(
        linq.addr(),
        "PUT",
        "/_sandbox/linq/settings",
        &[],
        settings.to_string().as_bytes(),
    )
    .await;
    assert_eq!(put.status, 200);
    assert_eq!(
        put.json(),
        json!({"api_key":"other","apply_delay_ms":1500,"async_reject":true,"pending":0})
    );
    assert_eq!(linq.sandbox.info().linq.api_key, "other");
    assert!(
        linq.sandbox
            .info()
            .linq
            .base_url
            .ends_with("/linq/api/partner")
    );
    let bad = send(
        linq.addr(),
        "PUT",
        "/_sandbox/linq/settings",
        &[],
        br#"{"nope":1}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    let applied = send(
        linq.addr(),
        "POST",
        "/_sandbox/linq/pending/apply",
        &[],
        b"",
    )
    .await;
    assert_eq!(applied.json(), json!({"applied": 0}));
    let missing = send(linq.addr(), "GET", "/_sandbox/linq/chats/nope", &[], b"").await;
    assert_eq!(missing.status, 404);
}

/// A receiver that answers each delivery with the next status and hands over the request.
async fn receiver(
    statuses: Vec<u16>,
) -> (
    String,
    tokio::sync::mpsc::UnboundedReceiver<(Vec<(String, String)>, Vec<u8>)>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/linq?version=2025-01-01",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        for status in statuses {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                raw.extend_from_slice(&buf[..n]);
                if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if raw.len() >= split + 4 + len {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let reply = parse_reply(&raw);
            let _ = tx.send((reply.headers, reply.body));
            let answer =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(answer.as_bytes()).await.unwrap();
        }
    });
    (url, rx)
}

#[tokio::test]
async fn webhooks_are_signed_like_linq_and_retried_on_5xx() {
    let linq = Linq::start().await;
    linq.sandbox.pin_clock(Some(1_700_000_000));
    let emulator = linq.sandbox.linq();
    emulator.set_webhook_retry_delays(vec![Duration::ZERO, Duration::from_millis(10)]);
    let (url, mut rx) = receiver(vec![500, 200]).await;
    let secret = "whsec_test_0123456789";
    let sub = emulator.add_webhook(&url, secret);
    let chat = emulator.create_group(&[ALICE, BOB, CAROL]);
    let trace = assert_queued(
        &linq.remove(&chat, ALICE).await,
        "Participant removal queued",
    );

    let mut bodies = Vec::new();
    for _ in 0..2 {
        let (headers, body) = rx.recv().await.unwrap();
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        assert_eq!(
            get("x-webhook-event").as_deref(),
            Some("participant.removed")
        );
        assert_eq!(
            get("x-webhook-subscription-id").as_deref(),
            Some(sub.as_str())
        );
        assert_eq!(get("content-type").as_deref(), Some("application/json"));
        let ts = get("x-webhook-timestamp").unwrap();
        assert_eq!(ts, "1700000000");
        let signature = get("x-webhook-signature").unwrap();
        // Recomputed here, on `hmac` directly: the signed string is `"<ts>.<body>"`.
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(secret.as_bytes()).unwrap();
        hmac::Mac::update(&mut mac, format!("{ts}.").as_bytes());
        hmac::Mac::update(&mut mac, &body);
        let expected = crate::signing::hex(&hmac::Mac::finalize(mac).into_bytes());
        assert_eq!(signature, expected);
        bodies.push(body);
    }
    assert_eq!(bodies[0], bodies[1], "a retry resends the same event");
    let event: Value = serde_json::from_slice(&bodies[0]).unwrap();
    assert_eq!(event["api_version"], json!("v3"));
    assert_eq!(event["webhook_version"], json!("2025-01-01"));
    assert_eq!(event["event_type"], json!("participant.removed"));
    assert_eq!(event["trace_id"], json!(trace));
    assert!(is_uuid(event["event_id"].as_str().unwrap()));
    assert_eq!(event["data"]["chat_id"], json!(chat));
    assert_eq!(event["data"]["handle"], json!(ALICE));
    assert_eq!(event["data"]["participant"]["handle"], json!(ALICE));
    assert_eq!(event["data"]["participant"]["status"], json!("removed"));
    assert_eq!(event["data"]["removed_at"], json!("2023-11-14T22:13:20Z"));
    assert!(event["data"].get("added_at").is_none());

    // The delivery log shows both attempts, the first answered 500.
    for _ in 0..100 {
        if emulator.deliveries().len() == 2 {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let log = emulator.deliveries();
    assert_eq!(
        log.iter().map(|d| d.status).collect::<Vec<_>>(),
        [Some(500), Some(200)]
    );
    assert_eq!(log[1].attempt, 2);
    assert_eq!(log[0].event_id, log[1].event_id);
}

#[tokio::test]
async fn leave_and_add_webhooks() {
    let linq = Linq::start().await;
    let emulator = linq.sandbox.linq();
    let (url, mut rx) = receiver(vec![200, 200]).await;
    emulator.add_webhook_subscription(LinqWebhookSeed {
        target_url: url,
        signing_secret: "whsec_x".into(),
        subscribed_events: vec!["participant.added".into(), "participant.removed".into()],
    });
    let chat = emulator.create_group(&[ALICE, BOB, CAROL]);
    assert_queued(&linq.add(&chat, DAVE).await, "Participant addition queued");
    let (_, body) = rx.recv().await.unwrap();
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event_type"], json!("participant.added"));
    assert_eq!(event["data"]["participant"]["status"], json!("active"));
    assert!(event["data"]["added_at"].is_string());
    assert_queued(&linq.leave(&chat).await, "Leave group chat queued");
    let (_, body) = rx.recv().await.unwrap();
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["event_type"], json!("participant.removed"));
    assert_eq!(event["data"]["participant"]["is_me"], json!(true));
    assert_eq!(event["data"]["participant"]["status"], json!("left"));
}
