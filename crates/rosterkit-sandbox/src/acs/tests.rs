//! The ACS emulator driven in-process through the whole sandbox router (framework layer and
//! control plane included), with exact request targets.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http::{HeaderMap, Request, StatusCode};
use serde_json::{Value, json};
use tower_service::Service;

use super::{AcsEmulator, DEFAULT_USER_ID, DEFAULT_USER_TOKEN};
use crate::app::{self, Emulators};
use crate::clock::Clock;
use crate::fault::Faults;
use crate::framework::{Framework, RawTarget};
use crate::journal::Journal;

const KEY_VECTOR_USER: &str =
    "8%3Aacs%3A2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";
const T0: u64 = 1_700_000_000;

struct Harness {
    router: Router,
    acs: AcsEmulator,
    framework: Framework,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

fn harness() -> Harness {
    let framework = Framework {
        journal: Journal::new(1000),
        faults: Faults::default(),
        clock: Clock::default(),
        body_limit: 1 << 20,
        body_budget: crate::framework::BodyBudget::default(),
    };
    let emulators = Emulators::new(&framework);
    let router = app::build(&framework, &emulators, "http://127.0.0.1:8443");
    Harness {
        router,
        acs: emulators.acs,
        framework,
    }
}

impl Harness {
    async fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        self.call_as(method, target, target, "127.0.0.1:8443", headers, body)
            .await
    }

    /// A request whose target as received (`raw_target`, what the accept loop records) and
    /// `Host` header are given.
    async fn call_as(
        &self,
        method: &str,
        target: &str,
        raw_target: &str,
        host: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(target)
            .header("host", host);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::from(body.to_owned())).unwrap();
        request
            .extensions_mut()
            .insert(RawTarget(raw_target.to_owned()));
        let response = self.router.clone().call(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn chat(&self, method: &str, target: &str, body: &str) -> Reply {
        let bearer = format!("Bearer {DEFAULT_USER_TOKEN}");
        self.call(
            method,
            target,
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
    }
}

#[track_caller]
fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.body);
    assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(reply.headers["content-type"], "application/json");
}

/// Known-answer request computed independently (Python `hmac`): the contract notes' key and
/// date, signed over the path as sent to an emulator at `http://127.0.0.1:8443/acs`.
fn vector_request() -> (String, Vec<(&'static str, &'static str)>, &'static str) {
    (
        format!("/acs/identities/{KEY_VECTOR_USER}/:issueAccessToken?api-version=2023-10-01"),
        vec![
            ("x-ms-date", "Tue, 14 Nov 2023 22:13:20 GMT"),
            (
                "x-ms-content-sha256",
                "E55T2AR1et0dXg9viVUjwxjce4gxp+nmLcQffc3NPsA=",
            ),
            (
                "authorization",
                "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=6YU93sEeYNY0tFe5DL9rt23ReUYh5LYT/99mJETtBCE=",
            ),
        ],
        r#"{"scopes":["chat"],"expiresInMinutes":60}"#,
    )
}

/// `x-ms-content-sha256` and `Authorization` for a request to the emulator at 127.0.0.1:8443
/// signed with the default access key, the string to sign joining date, host and content hash
/// with `joint` (`";"` is right), computed here on `hmac`/`sha2`.
fn access_key_signature(
    method: &str,
    path: &str,
    date: &str,
    body: &str,
    joint: &str,
) -> (String, String) {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use hmac::Mac as _;
    let hash = STANDARD.encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()));
    let key = STANDARD.decode(super::DEFAULT_ACCESS_KEY).unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{method}\n{path}\n{date}{joint}127.0.0.1:8443{joint}{hash}").as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let authorization = format!(
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
    );
    (hash, authorization)
}

/// The emulator checks the string-to-sign layout itself: the same request signed over a
/// wrong layout (fields joined with `\n` instead of `;`) is refused, the right one accepted.
#[tokio::test]
async fn identity_refuses_a_wrong_string_to_sign_layout() {
    let h = harness();
    h.framework.clock.pin(Some(T0));
    let path = "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken?api-version=2023-10-01";
    let body = r#"{"scopes":["chat"]}"#;
    let date = "Tue, 14 Nov 2023 22:13:20 GMT";
    for (joint, status) in [("\n", StatusCode::UNAUTHORIZED), (";", StatusCode::OK)] {
        let (hash, authorization) = access_key_signature("POST", path, date, body, joint);
        let headers = [
            ("x-ms-date", date),
            ("x-ms-content-sha256", hash.as_str()),
            ("authorization", authorization.as_str()),
            ("content-type", "application/json"),
        ];
        let reply = h.call("POST", path, &headers, body).await;
        assert_eq!(reply.status, status, "joint {joint:?}: {}", reply.body);
    }
}

#[tokio::test]
async fn identity_verifies_the_path_as_received() {
    let h = harness();
    h.framework.clock.pin(Some(T0));
    let (target, headers, body) = vector_request();
    let reply = h.call("POST", &target, &headers, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["expiresOn"], "2023-11-14T23:13:20.0000000+00:00");
    let token = reply.body["token"].as_str().unwrap().to_owned();
    // The token works on chat routes for that user once they are in a thread.
    let user = "8:acs:2dee53b4-368b-45b4-ab52-8493fb117652_00000005-14a2-493b-8a72-5a3a0d000081";
    let thread = h.acs.create_thread(&[user]);
    let auth = format!("Bearer {token}");
    let list = h
        .call(
            "GET",
            &format!("/acs/chat/threads/{thread}/participants?api-version=2025-03-15"),
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    // It expires by the emulator's clock.
    h.framework.clock.pin(Some(T0 + 3600));
    let list = h
        .call(
            "GET",
            &format!("/acs/chat/threads/{thread}/participants?api-version=2025-03-15"),
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_error(&list, 401, "Unauthorized");

    h.framework.clock.pin(Some(T0));
    // The same signature over the path without the mount prefix, a tampered body, a missing
    // header, a wrong host, or a clock 16 minutes away: 401.
    let unprefixed = target.trim_start_matches("/acs");
    let wrong_path = h
        .call_as(
            "POST",
            &target,
            unprefixed,
            "127.0.0.1:8443",
            &headers,
            body,
        )
        .await;
    assert_error(&wrong_path, 401, "Unauthorized");
    let tampered = h
        .call(
            "POST",
            &target,
            &headers,
            r#"{"scopes":["chat"],"expiresInMinutes":61}"#,
        )
        .await;
    assert_error(&tampered, 401, "Unauthorized");
    let missing = h.call("POST", &target, &headers[..2], body).await;
    assert_error(&missing, 401, "Unauthorized");
    let other_host = h
        .call_as("POST", &target, &target, "127.0.0.1:9999", &headers, body)
        .await;
    assert_error(&other_host, 401, "Unauthorized");
    h.framework.clock.pin(Some(T0 + 16 * 60));
    assert_error(
        &h.call("POST", &target, &headers, body).await,
        401,
        "Unauthorized",
    );
    h.framework.clock.pin(Some(T0 - 14 * 60));
    assert_eq!(
        h.call("POST", &target, &headers, body).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn identity_checks_version_user_and_body() {
    let harness = harness();
    let h = &harness;
    let sign = |path: &str, body: &str| -> Vec<(String, String)> {
        let date = httpdate::fmt_http_date(std::time::SystemTime::now());
        let (hash, authorization) = access_key_signature("POST", path, &date, body, ";");
        vec![
            ("x-ms-date".into(), date),
            ("x-ms-content-sha256".into(), hash),
            ("authorization".into(), authorization),
        ]
    };
    let send = |path: String, body: &'static str| {
        let headers = sign(&path, body);
        async move {
            let refs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            h.call("POST", &path, &refs, body).await
        }
    };
    let ok = send(
        "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken?api-version=2023-10-01".into(),
        r#"{"scopes":["chat"]}"#,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    for (path, body, status, code) in [
        (
            "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken",
            r#"{"scopes":["chat"]}"#,
            400,
            "BadRequest",
        ),
        (
            "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken?api-version=2025-03-15",
            r#"{"scopes":["chat"]}"#,
            400,
            "BadRequest",
        ),
        (
            "/acs/identities/8%3Aorgid%3Ax/:issueAccessToken?api-version=2023-10-01",
            r#"{"scopes":["chat"]}"#,
            400,
            "BadRequest",
        ),
        (
            "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken?api-version=2023-10-01",
            r#"{"scopes":[]}"#,
            400,
            "BadRequest",
        ),
        (
            "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken?api-version=2023-10-01",
            r#"{"scopes":["chat"],"expiresInMinutes":5}"#,
            400,
            "BadRequest",
        ),
        (
            "/acs/identities/8%3Aacs%3Ax_y/:issueAccessToken?api-version=2023-10-01",
            "not json",
            400,
            "BadRequest",
        ),
        (
            "/acs/identities/8%3Aacs%3Ax_y/:exchangeAccessToken?api-version=2023-10-01",
            "{}",
            404,
            "NotFound",
        ),
        (
            "/acs/identities?api-version=2023-10-01",
            r#"{"createTokenWithScopes":"chat"}"#,
            400,
            "BadRequest",
        ),
    ] {
        let reply = send(path.to_owned(), body).await;
        assert_error(&reply, status, code);
    }
}

/// One access-key signed Identity call, as the SDKs send it to `127.0.0.1:8443`.
async fn identity_call(h: &Harness, method: &str, path: &str, body: &str) -> Reply {
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let (hash, authorization) = access_key_signature(method, path, &date, body, ";");
    let headers = [
        ("x-ms-date", date.as_str()),
        ("x-ms-content-sha256", hash.as_str()),
        ("authorization", authorization.as_str()),
    ];
    h.call(method, path, &headers, body).await
}

#[tokio::test]
async fn identity_lifecycle_create_issue_revoke_delete() {
    let harness = harness();
    let h = &harness;
    const V: &str = "api-version=2023-10-01";
    let created = identity_call(
        h,
        "POST",
        &format!("/acs/identities?{V}"),
        r#"{"createTokenWithScopes":["chat"],"expiresInMinutes":60}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let user = created.body["identity"]["id"].as_str().unwrap().to_owned();
    assert!(user.starts_with("8:acs:") && user.contains('_'), "{user}");
    let token = created.body["accessToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(created.body["accessToken"]["expiresOn"].is_string());
    // The claims the SDKs read.
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    let exp = claims["exp"].as_u64().unwrap();
    assert_eq!(exp - claims["iat"].as_u64().unwrap(), 3600);
    assert_eq!(claims["acsScope"], "chat");
    assert_eq!(format!("8:{}", claims["skypeid"].as_str().unwrap()), user);
    assert_eq!(h.acs.identities(), vec![user.clone()]);

    // Without scopes: a user and no token.
    let bare = identity_call(h, "POST", &format!("/acs/identities?{V}"), "{}").await;
    assert_eq!(bare.status, StatusCode::CREATED);
    assert!(bare.body.get("accessToken").is_none(), "{}", bare.body);

    // The chat emulator accepts the token once the user is in the thread.
    let thread = h.acs.create_thread(&[user.as_str()]);
    let list_as = |token: String| {
        let path = format!("/acs/chat/threads/{thread}/participants?api-version=2025-03-15");
        async move {
            let auth = format!("Bearer {token}");
            h.call("GET", &path, &[("authorization", auth.as_str())], "")
                .await
        }
    };
    assert_eq!(list_as(token.clone()).await.status, StatusCode::OK);

    // A token without a chat scope is refused by chat routes.
    let enc = user.replace(':', "%3A");
    let voip = identity_call(
        h,
        "POST",
        &format!("/acs/identities/{enc}/:issueAccessToken?{V}"),
        r#"{"scopes":["voip"]}"#,
    )
    .await;
    assert_eq!(voip.status, StatusCode::OK, "{}", voip.body);
    let voip = voip.body["token"].as_str().unwrap().to_owned();
    assert_eq!(list_as(voip).await.status, StatusCode::UNAUTHORIZED);

    // Revoked: refused; a new token works again; deleted: refused.
    let revoke = identity_call(
        h,
        "POST",
        &format!("/acs/identities/{enc}/:revokeAccessTokens?{V}"),
        "",
    )
    .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(list_as(token).await.status, StatusCode::UNAUTHORIZED);
    let (fresh, _) = h.acs.issue_token(&user, 60);
    assert_eq!(list_as(fresh.clone()).await.status, StatusCode::OK);
    let deleted = identity_call(h, "DELETE", &format!("/acs/identities/{enc}?{V}"), "").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(list_as(fresh).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.acs.identities().len(), 1, "only the bare user is left");

    // Unsigned: 401, nothing created.
    let unsigned = h
        .call("POST", &format!("/acs/identities?{V}"), &[], "{}")
        .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.acs.identities().len(), 1);
}

#[tokio::test]
async fn participants_round_trip_with_exact_output() {
    let h = harness();
    let thread = h.acs.create_thread(&["8:acs:a_1"]);
    let enc = format!("19%3A{}%40thread.v2", &thread[3..thread.len() - 10]);
    let add = h
        .chat(
            "POST",
            &format!("/acs/chat/threads/{enc}/participants/:add?api-version=2025-03-15"),
            r#"{"participants":[
                {"communicationIdentifier":{"rawId":"8:acs:a_2","communicationUser":{"id":"8:acs:a_2"}},"displayName":"Two","shareHistoryTime":"2020-06-06T05:55:41Z","metadata":{"k":"v"}},
                {"communicationIdentifier":{"phoneNumber":{"value":"+14155551234"}}},
                {"communicationIdentifier":{"rawId":"77:mystery"}},
                {"communicationIdentifier":{"rawId":"8:acs:a_1"}}
            ]}"#,
        )
        .await;
    assert_eq!(add.status, StatusCode::CREATED);
    assert_eq!(
        add.body,
        json!({"invalidParticipants":[{"target":"77:mystery","code":"404","message":"Not found"}]})
    );
    assert!(add.headers.contains_key("ms-cv"));
    assert_eq!(
        add.headers["api-supported-versions"],
        "2021-09-07, 2025-03-15"
    );
    assert_eq!(
        h.framework.journal.effects(),
        vec![
            format!("acs:add {thread} 8:acs:a_2"),
            format!("acs:add {thread} 4:+14155551234"),
        ]
    );
    let list = h
        .chat(
            "GET",
            &format!("/acs/chat/threads/{thread}/participants?api-version=2021-09-07"),
            "",
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.body["value"][2],
        json!({
            "communicationIdentifier": {"kind":"communicationUser","rawId":"8:acs:a_2","communicationUser":{"id":"8:acs:a_2"}},
            "displayName": "Two",
            "shareHistoryTime": "2020-06-06T05:55:41Z",
            "metadata": {"k":"v"}
        })
    );
    assert_eq!(
        list.body["value"][3]["communicationIdentifier"],
        json!({"kind":"phoneNumber","rawId":"4:+14155551234","phoneNumber":{"value":"+14155551234"}})
    );
    // Remove answers 204 with no body, for members and non-members alike.
    for raw in ["8:acs:a_2", "8:acs:not-here"] {
        let removed = h
            .chat(
                "POST",
                &format!("/acs/chat/threads/{enc}/participants/:remove?api-version=2025-03-15"),
                &format!(r#"{{"rawId":"{raw}","communicationUser":{{"id":"{raw}"}}}}"#),
            )
            .await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT);
        assert_eq!(removed.body, Value::Null);
    }
    assert_eq!(
        h.acs.participants(&thread).unwrap(),
        vec![DEFAULT_USER_ID, "8:acs:a_1", "4:+14155551234"]
    );
}

#[tokio::test]
async fn paging_with_next_links() {
    let harness = harness();
    let h = &harness;
    let thread = h
        .acs
        .create_thread(&["8:acs:a_1", "8:acs:a_2", "8:acs:a_3", "8:acs:a_4"]);
    let page = |query: String| {
        let target = format!("/acs/chat/threads/{thread}/participants?{query}");
        async move { h.chat("GET", &target, "").await }
    };
    let first = page("maxPageSize=2&api-version=2025-03-15".into()).await;
    assert_eq!(first.body["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        first.body["nextLink"],
        format!(
            "http://127.0.0.1:8443/acs/chat/threads/{thread}/participants?skip=2&maxPageSize=2&api-version=2025-03-15"
        )
    );
    let last = page("skip=4&maxPageSize=2&api-version=2025-03-15".into()).await;
    assert_eq!(last.body["value"].as_array().unwrap().len(), 1);
    assert!(last.body.get("nextLink").is_none());
    let all = page("api-version=2025-03-15".into()).await;
    assert_eq!(all.body["value"].as_array().unwrap().len(), 5);
    let beyond = page("skip=50&api-version=2025-03-15".into()).await;
    assert_eq!(beyond.body, json!({"value": []}));
    for bad in [
        "maxPageSize=0",
        "maxPageSize=-1",
        "skip=x",
        "maxPageSize=99999999999",
    ] {
        assert_error(
            &page(format!("{bad}&api-version=2025-03-15")).await,
            400,
            "BadRequest",
        );
    }
    h.acs
        .set_foreign_next_link(Some("https://elsewhere.example/"));
    let foreign = page("maxPageSize=2&api-version=2025-03-15".into()).await;
    assert!(
        foreign.body["nextLink"]
            .as_str()
            .unwrap()
            .starts_with("https://elsewhere.example/acs/chat/threads/")
    );
}

#[tokio::test]
async fn who_may_do_what() {
    let harness = harness();
    let h = &harness;
    let ours = h.acs.create_thread(&["8:acs:a_1"]);
    let theirs = h.acs.seed_thread(super::AcsThreadSeed {
        participants: vec!["8:acs:a_1".into()],
        include_service_user: false,
        ..super::AcsThreadSeed::default()
    });
    let remove = |thread: String, raw: &'static str| async move {
        h.chat(
            "POST",
            &format!("/acs/chat/threads/{thread}/participants/:remove?api-version=2025-03-15"),
            &format!(r#"{{"rawId":"{raw}"}}"#),
        )
        .await
    };
    assert_error(&remove(theirs.clone(), "8:acs:a_1").await, 403, "Forbidden");
    assert_error(
        &remove("19:nope@thread.v2".into(), "8:acs:a_1").await,
        404,
        "NotFound",
    );
    h.acs.set_members_may_remove_others(false);
    assert_error(&remove(ours.clone(), "8:acs:a_1").await, 403, "Forbidden");
    assert_eq!(
        remove(ours.clone(), DEFAULT_USER_ID).await.status,
        StatusCode::NO_CONTENT
    );
    // Out of the thread now: even listing is refused.
    let list = h
        .chat(
            "GET",
            &format!("/acs/chat/threads/{ours}/participants?api-version=2025-03-15"),
            "",
        )
        .await;
    assert_error(&list, 403, "Forbidden");
    // Bodies that are not identifiers, unknown actions, wrong methods, unknown paths.
    let ours2 = h.acs.create_thread(&[]);
    let bad = h
        .chat(
            "POST",
            &format!("/acs/chat/threads/{ours2}/participants/:remove?api-version=2025-03-15"),
            "{}",
        )
        .await;
    assert_error(&bad, 400, "BadRequest");
    let unknown = h
        .chat(
            "POST",
            &format!("/acs/chat/threads/{ours2}/participants/:frobnicate?api-version=2025-03-15"),
            "{}",
        )
        .await;
    assert_error(&unknown, 404, "NotFound");
    let wrong = h
        .chat(
            "GET",
            &format!("/acs/chat/threads/{ours2}/participants/:add?api-version=2025-03-15"),
            "",
        )
        .await;
    assert_error(&wrong, 405, "MethodNotAllowed");
    assert_error(&h.chat("GET", "/acs/nothing", "").await, 404, "NotFound");
    // No token at all.
    let anonymous = h
        .call(
            "GET",
            &format!("/acs/chat/threads/{ours2}/participants?api-version=2025-03-15"),
            &[],
            "",
        )
        .await;
    assert_error(&anonymous, 401, "Unauthorized");
}

#[tokio::test]
async fn add_limits() {
    let h = harness();
    let thread = h.acs.create_thread(&[]);
    let target = format!("/acs/chat/threads/{thread}/participants/:add?api-version=2025-03-15");
    let batch = |from: usize, n: usize| {
        let items: Vec<Value> = (from..from + n)
            .map(|i| json!({"communicationIdentifier": {"rawId": format!("8:acs:b_{i}")}}))
            .collect();
        json!({ "participants": items }).to_string()
    };
    h.acs.set_rate_limits(false);
    assert_error(
        &h.chat("POST", &target, &batch(0, 201)).await,
        400,
        "BadRequest",
    );
    assert_error(
        &h.chat("POST", &target, &batch(0, 0)).await,
        400,
        "BadRequest",
    );
    assert_error(
        &h.chat("POST", &target, r#"{"participants":[{}]}"#).await,
        400,
        "BadRequest",
    );
    assert_eq!(
        h.chat("POST", &target, &batch(0, 200)).await.status,
        StatusCode::CREATED
    );
    // 201 in the thread; 50 more would make 251.
    assert_error(
        &h.chat("POST", &target, &batch(200, 50)).await,
        400,
        "BadRequest",
    );
    assert_eq!(
        h.chat("POST", &target, &batch(200, 49)).await.status,
        StatusCode::CREATED
    );
    assert_eq!(h.acs.participants(&thread).unwrap().len(), 250);
    // Refusals set by a test.
    h.acs
        .set_invalid_participant("8:acs:c_1", "403", "Permissions check failed");
    let thread = h.acs.create_thread(&[]);
    let refused = h
        .chat(
            "POST",
            &format!("/acs/chat/threads/{thread}/participants/:add?api-version=2025-03-15"),
            r#"{"participants":[{"communicationIdentifier":{"rawId":"8:acs:c_1"}}]}"#,
        )
        .await;
    assert_eq!(
        refused.body,
        json!({"invalidParticipants":[{"target":"8:acs:c_1","code":"403","message":"Permissions check failed"}]})
    );
}

#[tokio::test(start_paused = true)]
async fn rate_limits_answer_429_with_retry_after() {
    let h = harness();
    let members: Vec<String> = (0..12).map(|i| format!("8:acs:r_{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let thread = h.acs.create_thread(&refs);
    let target = format!("/acs/chat/threads/{thread}/participants/:remove?api-version=2025-03-15");
    for member in &members[..10] {
        let reply = h
            .chat("POST", &target, &format!(r#"{{"rawId":"{member}"}}"#))
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    let throttled = h.chat("POST", &target, r#"{"rawId":"8:acs:r_10"}"#).await;
    assert_error(&throttled, 429, "TooManyRequests");
    assert_eq!(throttled.headers["retry-after"], "10");
    assert!(
        h.acs
            .participants(&thread)
            .unwrap()
            .contains(&"8:acs:r_10".to_owned())
    );
    tokio::time::advance(Duration::from_secs(10)).await;
    let reply = h.chat("POST", &target, r#"{"rawId":"8:acs:r_10"}"#).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    // Lists are not limited, and the limit can be switched off.
    h.acs.set_rate_limits(false);
    for _ in 0..20 {
        let reply = h.chat("POST", &target, r#"{"rawId":"8:acs:r_11"}"#).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn control_plane() {
    let h = harness();
    let created = h
        .call(
            "POST",
            "/_sandbox/acs/threads",
            &[],
            r#"{"id":"19:seeded@thread.v2","topic":"t","participants":["8:acs:a_1"]}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body, json!({"id":"19:seeded@thread.v2"}));
    let thread = h
        .call(
            "GET",
            "/_sandbox/acs/threads/19%3Aseeded%40thread.v2",
            &[],
            "",
        )
        .await;
    assert_eq!(thread.body["participants"][1]["raw_id"], "8:acs:a_1");
    assert_eq!(thread.body["topic"], "t");
    assert_eq!(
        h.call("GET", "/_sandbox/acs/threads/19%3Anope", &[], "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let settings = h
        .call(
            "PUT",
            "/_sandbox/acs/settings",
            &[],
            r#"{"rate_limits":false,"foreign_next_link":"https://x.example","invalid_participants":{"8:acs:z":{"code":"403","message":"no"}}}"#,
        )
        .await;
    assert_eq!(settings.body["rate_limits"], false);
    assert_eq!(settings.body["foreign_next_link"], "https://x.example");
    assert_eq!(settings.body["members_may_remove_others"], true);
    let settings = h
        .call(
            "PUT",
            "/_sandbox/acs/settings",
            &[],
            r#"{"foreign_next_link":null}"#,
        )
        .await;
    assert_eq!(settings.body["foreign_next_link"], Value::Null);
    assert_eq!(settings.body["rate_limits"], false);
    assert_eq!(
        h.call("PUT", "/_sandbox/acs/settings", &[], r#"{"nope":1}"#)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    let token = h
        .call(
            "POST",
            "/_sandbox/acs/tokens",
            &[],
            r#"{"user_id":"8:acs:a_1"}"#,
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED);
    let bearer = format!("Bearer {}", token.body["token"].as_str().unwrap());
    let list = h
        .call(
            "GET",
            "/acs/chat/threads/19:seeded@thread.v2/participants?api-version=2025-03-15",
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_eq!(list.status, StatusCode::OK);
    // The `acs_error` fault shortcut over HTTP.
    let fault = h
        .call(
            "POST",
            "/_sandbox/faults",
            &[],
            r#"{"provider":"acs","method":"GET","action":{"kind":"acs_error","status":503,"code":"ServiceUnavailable","retry_after":2}}"#,
        )
        .await;
    assert_eq!(fault.status, StatusCode::CREATED);
    let failed = h
        .call(
            "GET",
            "/acs/chat/threads/19:seeded@thread.v2/participants?api-version=2025-03-15",
            &[("authorization", &bearer)],
            "",
        )
        .await;
    assert_error(&failed, 503, "ServiceUnavailable");
    assert_eq!(
        failed.body["error"]["message"],
        "The server is currently unable to handle the request."
    );
    assert_eq!(failed.headers["retry-after"], "2");
    let info = h.call("GET", "/_sandbox/info", &[], "").await;
    assert_eq!(info.body["acs"]["endpoint"], "http://127.0.0.1:8443/acs");
    assert_eq!(info.body["acs"]["user_id"], DEFAULT_USER_ID);
    assert_eq!(
        info.body["acs"]["connection_string"],
        format!(
            "endpoint=http://127.0.0.1:8443/acs/;accesskey={}",
            super::DEFAULT_ACCESS_KEY
        )
    );
}
