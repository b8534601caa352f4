//! Secret hygiene: at trace level, across every crate (rosterkit, reqwest, hyper, the sandbox),
//! no signing secret, token or full phone number is ever written to a log, a `Debug` string or
//! an error message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rosterkit::{ChangeOptions, ChatId, Handle, Membership, chert::ChertClient};
use rosterkit_sandbox::Sandbox;
use rosterkit_tests::{LogCapture, assert_absent};

/// Digits of the phone numbers used below; only their last four may ever be shown.
const PHONES: &[&str] = &["4155551234", "4155550100", "4155559999"];

#[tokio::test(flavor = "current_thread")]
async fn chert_never_logs_or_prints_its_secret_or_full_numbers() {
    let (logs, _guard) = LogCapture::install();
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().chert;
    let secret = info.signing_secret.clone();
    let id = sandbox.chert().create_group(&[
        "+14155550100",
        "+14155550200",
        "+14155550300",
        "+14155551234",
    ]);
    let chat = ChatId::new(id).unwrap();
    let good = ChertClient::builder()
        .base_url(info.base_url.clone())
        .tenant(info.tenant.clone())
        .signing_secret(secret.clone())
        .build()
        .unwrap();
    let wrong_secret = "feedfacefeedfacefeedfacefeedface";
    let bad = ChertClient::builder()
        .base_url(info.base_url)
        .tenant(info.tenant)
        .signing_secret(wrong_secret)
        .build()
        .unwrap();

    let mut printed = format!("{good:?}\n{bad:?}\n");
    let who: Handle = "+14155551234".parse().unwrap();
    let stranger: Handle = "+14155559999".parse().unwrap();
    let ok = good
        .remove_participant(&chat, &who, ChangeOptions::default())
        .await;
    printed.push_str(&format!("{ok:?}\n"));
    for (client, handle) in [(&good, &stranger), (&bad, &who)] {
        let err = client
            .remove_participant(&chat, handle, ChangeOptions::default())
            .await
            .unwrap_err();
        printed.push_str(&format!("{err}\n{err:?}\n"));
    }
    printed.push_str(&format!("{who:?} {stranger:?}"));
    sandbox.shutdown().await;

    let secrets = [secret.as_str(), wrong_secret];
    assert_absent("Debug/Display output", &printed, &secrets);
    assert_absent("Debug/Display output", &printed, PHONES);
    let logs = logs.text();
    assert!(
        logs.contains("rosterkit.operation"),
        "spans are logged:\n{logs}"
    );
    assert_absent("trace logs", &logs, &secrets);
    assert_absent("trace logs", &logs, PHONES);
}

// ---- every other provider, through the same checks ----

use rosterkit::{
    RetryPolicy,
    acs::{AcsClient, Pacing},
    linq::LinqClient,
    zapi::ZapiClient,
};
use rosterkit_sandbox::Provider;

/// What one provider's run printed, and what must never appear in it or in the logs.
#[derive(Default)]
struct Exposure {
    printed: String,
    secrets: Vec<String>,
    /// Phone digits that must not appear: each number's digits but its last four.
    phones: Vec<String>,
}

impl Exposure {
    fn print(&mut self, what: impl std::fmt::Debug) {
        self.printed.push_str(&format!("{what:?}\n"));
    }

    /// `Display` and `Debug` of an error (which must exist).
    fn error<T: std::fmt::Debug>(&mut self, result: Result<T, rosterkit::Error>) {
        let err = result.expect_err("this call was meant to fail");
        self.printed
            .push_str(&format!("{err}\n{err:?}\n{}\n", err.message()));
    }

    fn phones(&mut self, numbers: &[&str]) {
        for number in numbers {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            self.phones.push(digits[..digits.len() - 4].to_owned());
        }
    }

    fn check(self, logs: &LogCapture, provider: &str) {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        let phones: Vec<&str> = self.phones.iter().map(String::as_str).collect();
        assert!(!secrets.is_empty() && !phones.is_empty());
        assert_absent(
            &format!("{provider}: Debug/Display output"),
            &self.printed,
            &secrets,
        );
        assert_absent(
            &format!("{provider}: Debug/Display output"),
            &self.printed,
            &phones,
        );
        let logs = logs.text();
        assert!(
            logs.contains("rosterkit.operation") && logs.contains(provider),
            "{provider}: spans are logged:\n{logs}"
        );
        assert_absent(&format!("{provider}: trace logs"), &logs, &secrets);
        assert_absent(&format!("{provider}: trace logs"), &logs, &phones);
    }
}

fn no_retries() -> RetryPolicy {
    RetryPolicy::no_retries()
}

#[tokio::test(flavor = "current_thread")]
async fn linq_never_logs_or_prints_its_api_key_or_full_numbers() {
    let (logs, _guard) = LogCapture::install();
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().linq;
    let numbers = [
        "+12052499136",
        "+14155550100",
        "+14155550101",
        "+14155559999",
    ];
    let mut seen = Exposure {
        secrets: vec![info.api_key.clone(), "linq_wrong_key_feedface".to_owned()],
        ..Exposure::default()
    };
    seen.phones(&numbers);
    let chat = ChatId::new(sandbox.linq().create_group(&numbers[..3])).unwrap();

    let builder = LinqClient::builder()
        .base_url(info.base_url.clone())
        .api_key(info.api_key.clone())
        .retry_policy(no_retries());
    seen.print(&builder);
    let linq = builder.build().unwrap();
    let bad = LinqClient::builder()
        .base_url(info.base_url)
        .api_key("linq_wrong_key_feedface")
        .retry_policy(no_retries())
        .build()
        .unwrap();
    seen.print(&linq);
    seen.print(&bad);
    let h = |s: &str| -> Handle { s.parse().unwrap() };
    seen.print(
        linq.remove_participant(&chat, &h(numbers[0]), ChangeOptions::default())
            .await
            .unwrap(),
    );
    seen.print(
        linq.add_participant(&chat, &h(numbers[3]), ChangeOptions::default())
            .await
            .unwrap(),
    );
    seen.print(linq.participants(&chat).await.unwrap());
    seen.print(linq.get_chat(&chat).await.unwrap());
    // Failures: wrong key (401), a non-UUID chat, a provider error with a phone in the request.
    seen.error(
        bad.remove_participant(&chat, &h(numbers[1]), ChangeOptions::default())
            .await,
    );
    seen.error(
        linq.participants(&ChatId::new("ch_not_a_uuid").unwrap())
            .await,
    );
    sandbox.faults().inject(rosterkit_sandbox::Fault::new(
        Provider::Linq,
        rosterkit_sandbox::FaultAction::json(
            rosterkit_sandbox::StatusCode::BAD_REQUEST,
            r#"{"success":false,"error":{"status":400,"code":1002,"message":"Phone number +14155550101 must be in E.164 format"}}"#,
        ),
    ));
    seen.error(
        linq.remove_participant(&chat, &h(numbers[2]), ChangeOptions::default())
            .await,
    );
    seen.print(linq.leave(&chat, ChangeOptions::default()).await);
    sandbox.shutdown().await;
    seen.check(&logs, "linq");
}

#[tokio::test(flavor = "current_thread")]
async fn zapi_never_logs_or_prints_its_tokens_or_full_numbers() {
    let (logs, _guard) = LogCapture::install();
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().zapi;
    let numbers = [
        "+5544999999999",
        "+5544888888888",
        "+5544777777777",
        "+5544666666666",
    ];
    let mut seen = Exposure {
        secrets: vec![
            info.instance_token.clone(),
            info.client_token.clone(),
            "zapi-wrong-client-token".to_owned(),
        ],
        ..Exposure::default()
    };
    seen.phones(&numbers);
    seen.phones(&[&info.connected_phone]);
    let digits: Vec<&str> = numbers.iter().map(|n| &n[1..]).collect();
    let chat = ChatId::new(sandbox.zapi().create_group(&digits[..3])).unwrap();

    let builder = |client_token: &str, base: &str| {
        ZapiClient::builder()
            .base_url(base)
            .instance_id(info.instance_id.clone())
            .instance_token(info.instance_token.clone())
            .client_token(client_token)
            .pacing(std::time::Duration::ZERO)
            .retry_policy(no_retries())
    };
    seen.print(builder(&info.client_token, &info.base_url));
    let zapi = builder(&info.client_token, &info.base_url).build().unwrap();
    let bad = builder("zapi-wrong-client-token", &info.base_url)
        .build()
        .unwrap();
    // Nothing listens on port 1: a transport error, whose text must not carry the URL (the
    // instance token is in its path).
    let offline = builder(&info.client_token, "http://127.0.0.1:1/zapi")
        .build()
        .unwrap();
    seen.print(&zapi);
    seen.print(&bad);
    let h = |s: &str| -> Handle { s.parse().unwrap() };
    seen.print(
        zapi.remove_participant(&chat, &h(numbers[0]), ChangeOptions::default())
            .await
            .unwrap(),
    );
    seen.print(
        zapi.add_participant(&chat, &h(numbers[3]), ChangeOptions::default())
            .await
            .unwrap(),
    );
    seen.print(zapi.participants(&chat).await.unwrap());
    seen.print(zapi.light_group_metadata(&chat).await.unwrap());
    seen.error(
        bad.remove_participant(&chat, &h(numbers[1]), ChangeOptions::default())
            .await,
    );
    seen.error(
        offline
            .remove_participant(&chat, &h(numbers[1]), ChangeOptions::default())
            .await,
    );
    seen.error(
        zapi.remove_participant(
            &chat,
            &"bob@example.com".parse().unwrap(),
            ChangeOptions::default(),
        )
        .await,
    );
    seen.error(zapi.participants(&ChatId::new("ch_01HTEST").unwrap()).await);
    sandbox.zapi().set_connected(false);
    seen.error(
        zapi.remove_participant(&chat, &h(numbers[2]), ChangeOptions::default())
            .await,
    );
    sandbox.zapi().set_connected(true);
    seen.print(zapi.leave(&chat, ChangeOptions::default()).await);
    sandbox.shutdown().await;
    seen.check(&logs, "zapi");
}

#[tokio::test(flavor = "current_thread")]
async fn acs_never_logs_or_prints_its_keys_tokens_or_full_numbers() {
    let (logs, _guard) = LogCapture::install();
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info().acs;
    let numbers = ["+14155551234", "+14155550100"];
    let wrong_key = "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let mut seen = Exposure {
        secrets: vec![
            info.access_key.clone(),
            info.user_token.clone(),
            // The signature part alone, in case a token is ever cut.
            info.user_token.rsplit('.').nth(1).unwrap().to_owned(),
            wrong_key.to_owned(),
        ],
        ..Exposure::default()
    };
    seen.phones(&numbers);
    let chat = ChatId::new(
        sandbox
            .acs()
            .create_thread(&["8:acs:1111_2222", "4:+14155550100"]),
    )
    .unwrap();
    let plain =
        |b: rosterkit::acs::AcsClientBuilder| b.pacing(Pacing::off()).retry_policy(no_retries());

    let with_token = plain(
        AcsClient::builder()
            .base_url(info.endpoint.clone())
            .user_token(info.user_token.clone()),
    );
    seen.print(&with_token);
    let with_token = with_token.build().unwrap();
    let minting = plain(
        AcsClient::builder()
            .connection_string(info.connection_string.clone())
            .user_id(info.user_id.clone()),
    );
    seen.print(&minting);
    let minting = minting.build().unwrap();
    let wrong = plain(
        AcsClient::builder()
            .base_url(info.endpoint.clone())
            .access_key(wrong_key)
            .user_id(info.user_id.clone()),
    )
    .build()
    .unwrap();
    seen.print(&with_token);
    seen.print(&minting);
    seen.print(&wrong);
    let h = |s: &str| -> Handle { s.parse().unwrap() };
    // The minting client: add, list, remove (each with a token minted from the access key).
    seen.print(
        minting
            .add_participant(&chat, &h(numbers[0]), ChangeOptions::default())
            .await
            .unwrap(),
    );
    seen.print(minting.participants(&chat).await.unwrap());
    seen.print(
        minting
            .remove_participant(&chat, &h(numbers[0]), ChangeOptions::default())
            .await
            .unwrap(),
    );
    seen.print(&minting);
    // The token client.
    seen.print(with_token.participants(&chat).await.unwrap());
    seen.print(
        with_token
            .add_participants(
                &chat,
                &[h(numbers[0]), "8:acs:1111_9999".parse().unwrap()],
                ChangeOptions::default(),
            )
            .await,
    );
    // Failures: a wrong access key (401 on minting), a bad thread id, not a member, an email.
    seen.error(wrong.participants(&chat).await);
    seen.error(
        with_token
            .participants(&ChatId::new("not-a-thread").unwrap())
            .await,
    );
    seen.error(
        with_token
            .participants(&ChatId::new("19:missing@thread.v2").unwrap())
            .await,
    );
    // ACS answers 204 to removing a non-member; a missing thread fails.
    seen.print(
        with_token
            .remove_participant(&chat, &h("+14155559999"), ChangeOptions::default())
            .await,
    );
    let missing = ChatId::new("19:missing@thread.v2").unwrap();
    seen.error(
        with_token
            .add_participant(&missing, &h("+14155559999"), ChangeOptions::default())
            .await,
    );
    seen.error(
        minting
            .remove_participant(&missing, &h("+14155559999"), ChangeOptions::default())
            .await,
    );
    seen.error(
        with_token
            .add_participant(
                &chat,
                &"bob@example.com".parse().unwrap(),
                ChangeOptions::default(),
            )
            .await,
    );
    seen.print(minting.leave(&chat, ChangeOptions::default()).await);

    // Every token the minting client was given went over the wire: none may show anywhere.
    for entry in sandbox.journal().entries_for(Provider::Acs) {
        if let Some(token) = entry
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
            && !seen.secrets.iter().any(|s| s == token)
        {
            seen.secrets.push(token.to_owned());
        }
    }
    assert!(seen.secrets.len() > 4, "a token was minted and used");
    seen.phones(&["+14155559999"]);
    sandbox.shutdown().await;
    seen.check(&logs, "acs");
}

/// `Debug` of every handle kind masks a phone number, including one inside an email address
/// (SMS gateways: `4155551234@vtext.com`) or a native id (`4:+1…`); found by the
/// `handle_from_str` fuzz target.
#[test]
fn handle_debug_masks_numbers_of_every_kind() {
    for text in [
        "+14155551234",
        "4155551234@vtext.com",
        "+14155551234@sms.example.com",
        "4:+14155551234",
        "native:14155551234",
        "14155551234@lid",
    ] {
        let handle: Handle = text.parse().unwrap();
        let shown = format!("{handle:?} {}", handle.redacted());
        assert_absent(text, &shown, &["4155551234"]);
        assert!(shown.contains("1234"), "{shown}");
    }
}
