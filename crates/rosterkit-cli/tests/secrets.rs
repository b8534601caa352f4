//! Secret hygiene of the `rosterkit` binary (issue #10, item 5): with `RUST_LOG=trace`, for
//! every provider's commands, successful and failing, no signing secret, API key, instance
//! token, `Client-Token`, access key or user token appears anywhere in stdout or stderr, and no
//! full phone number appears in the logs, the usage errors (stderr) or the error messages of
//! the result lines. (Result lines may echo the handles the user passed, and rosters.)
//!
//! The test numbers (`+1650555…`, `+55219876…`) appear in no message or documentation
//! example, so finding their leading digits anywhere is a leak.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;

use rosterkit_sandbox::Sandbox;

/// Runs `rosterkit` with exactly `env` (plus `RUST_LOG=trace`).
async fn rosterkit(env: &[(&str, String)], args: &[&str]) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let bin = env!("CARGO_BIN_EXE_rosterkit");
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(&args)
            .env_clear()
            .envs(env)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

/// The environment one run gets.
type Env<'a> = &'a [(&'a str, String)];

/// Everything the runs printed, sorted by what may appear where.
#[derive(Default)]
struct Printed {
    /// stdout and stderr of every run.
    everything: String,
    /// stderr (logs, usage errors) and the `error.message` of every JSON result line.
    errors_and_logs: String,
    runs: usize,
    /// Runs whose stderr had trace-level logs of an operation.
    logged: usize,
    failures: usize,
}

impl Printed {
    async fn run(&mut self, env: &[(&str, String)], args: &[&str]) -> Output {
        let out = rosterkit(env, args).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.contains("TRACE") && stderr.contains("rosterkit.operation") {
            self.logged += 1;
        }
        // Table output (no `--json`) is checked for secrets only: its rows mix the handles
        // passed in with the messages.
        let json = args.contains(&"--json");
        for line in stdout.lines().filter(|_| json) {
            let record: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{args:?}: not a JSON line ({e}): {line}"));
            if let Some(message) = record["error"]["message"].as_str() {
                self.failures += 1;
                self.errors_and_logs.push_str(message);
                self.errors_and_logs.push('\n');
            }
        }
        self.everything.push_str(&stdout);
        self.everything.push_str(&stderr);
        self.errors_and_logs.push_str(&stderr);
        self.runs += 1;
        out
    }

    /// Runs each `(env, args)` in order.
    async fn script(&mut self, runs: &[(Env<'_>, &[&str])]) {
        for (env, args) in runs {
            self.run(env, args).await;
        }
    }

    fn check(&self, secrets: &[&str], phones: &[&str]) {
        /// Up to three lines of `text` that contain `needle`, for a failure message.
        fn lines_with(text: &str, needle: &str) -> String {
            let lines: Vec<&str> = text
                .lines()
                .filter(|l| l.contains(needle))
                .take(3)
                .collect();
            lines.join("\n")
        }
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(
                !self.everything.contains(secret),
                "a secret was printed: {}",
                lines_with(&self.everything, secret)
            );
        }
        for number in phones {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            let needle = &digits[..digits.len() - 4];
            assert!(
                !self.errors_and_logs.contains(needle),
                "a full phone number ({number}) was printed in a log or an error: {}",
                lines_with(&self.errors_and_logs, needle)
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_or_full_number_in_cli_output_at_trace_level() {
    let sandbox = Sandbox::start().await.unwrap();
    let info = sandbox.info();
    let mut printed = Printed::default();
    let mut secrets: Vec<String> = Vec::new();

    // Chert.
    let chert_phones = [
        "+16505550100",
        "+16505550200",
        "+16505550300",
        "+16505551234",
    ];
    let chat = sandbox.chert().create_group(&chert_phones);
    let env = |secret: &str| {
        vec![
            ("CHERT_TENANT", info.chert.tenant.clone()),
            ("CHERT_SIGNING_SECRET", secret.to_owned()),
            ("CHERT_BASE_URL", info.chert.base_url.clone()),
        ]
    };
    let good = env(&info.chert.signing_secret);
    let wrong = env("feedfacefeedfacefeedfacefeedface");
    secrets.extend([
        info.chert.signing_secret.clone(),
        "feedfacefeedfacefeedfacefeedface".to_owned(),
    ]);
    let ok = printed
        .run(
            &good,
            &[
                "remove",
                "-p",
                "chert",
                "-c",
                &chat,
                "+16505551234",
                "--json",
            ],
        )
        .await;
    assert_eq!(ok.status.code(), Some(0));
    printed
        .script(&[
            (&good, &["add", "-p", "chert", "-c", &chat, "+16505551234"]),
            (
                &good,
                &[
                    "remove",
                    "-p",
                    "chert",
                    "-c",
                    &chat,
                    "+16505559999",
                    "--json",
                ],
            ),
            (&good, &["list", "-p", "chert", "-c", &chat, "--json"]),
        ])
        .await;
    let denied = printed
        .run(
            &wrong,
            &[
                "remove",
                "-p",
                "chert",
                "-c",
                &chat,
                "+16505550300",
                "--json",
            ],
        )
        .await;
    assert_eq!(denied.status.code(), Some(1));
    printed
        .run(
            &wrong,
            &["remove", "-p", "chert", "-c", &chat, "+16505550300"],
        )
        .await;
    // Usage errors: a number without `+`, a chat id with a control character.
    let usage = printed
        .run(&good, &["remove", "-p", "chert", "-c", &chat, "6505557777"])
        .await;
    assert_eq!(usage.status.code(), Some(2));
    printed
        .script(&[
            (
                &good,
                &["remove", "-p", "chert", "-c", "a\r\nb", "+16505557777"],
            ),
            (&good, &["leave", "-p", "chert", "-c", &chat, "--json"]),
        ])
        .await;

    // Linq.
    let linq_phones = ["+16505552499", "+16505550101", "+16505550102"];
    let chat = sandbox.linq().create_group(&linq_phones);
    let env = |key: &str| {
        vec![
            ("LINQ_API_V3_API_KEY", key.to_owned()),
            ("LINQ_API_V3_BASE_URL", info.linq.base_url.clone()),
        ]
    };
    let good = env(&info.linq.api_key);
    let wrong = env("linq_wrong_key_0000");
    secrets.extend([info.linq.api_key.clone(), "linq_wrong_key_0000".to_owned()]);
    printed
        .script(&[
            (
                &good,
                &[
                    "remove",
                    "-p",
                    "linq",
                    "-c",
                    &chat,
                    "+16505552499",
                    "--json",
                ],
            ),
            (
                &good,
                &["add", "-p", "linq", "-c", &chat, "+16505550199", "--json"],
            ),
            (&good, &["list", "-p", "linq", "-c", &chat, "--json"]),
            (
                &wrong,
                &[
                    "remove",
                    "-p",
                    "linq",
                    "-c",
                    &chat,
                    "+16505550101",
                    "--json",
                ],
            ),
            (&good, &["list", "-p", "linq", "-c", "not-a-uuid"]),
            (&good, &["leave", "-p", "linq", "-c", &chat, "--json"]),
        ])
        .await;

    // Z-API: the instance token travels in the URL path.
    let zapi_phones = ["+5521987650001", "+5521987650002", "+5521987650003"];
    let digits: Vec<&str> = zapi_phones.iter().map(|p| &p[1..]).collect();
    let chat = sandbox.zapi().create_group(&digits);
    let env = |client_token: &str, base: &str| {
        vec![
            ("ZAPI_INSTANCE_ID", info.zapi.instance_id.clone()),
            ("ZAPI_INSTANCE_TOKEN", info.zapi.instance_token.clone()),
            ("ZAPI_CLIENT_TOKEN", client_token.to_owned()),
            ("ZAPI_BASE_URL", base.to_owned()),
        ]
    };
    let good = env(&info.zapi.client_token, &info.zapi.base_url);
    let wrong = env("zapi-wrong-client-token", &info.zapi.base_url);
    let offline = env(&info.zapi.client_token, "http://127.0.0.1:1/zapi");
    secrets.extend([
        info.zapi.instance_token.clone(),
        info.zapi.client_token.clone(),
        "zapi-wrong-client-token".to_owned(),
    ]);
    printed
        .script(&[
            (
                &good,
                &[
                    "remove",
                    "-p",
                    "zapi",
                    "-c",
                    &chat,
                    "+5521987650001",
                    "--json",
                    "--verify",
                ],
            ),
            (
                &good,
                &["add", "-p", "zapi", "-c", &chat, "+5521987650004", "--json"],
            ),
            (&good, &["list", "-p", "zapi", "-c", &chat]),
            (
                &wrong,
                &[
                    "remove",
                    "-p",
                    "zapi",
                    "-c",
                    &chat,
                    "+5521987650002",
                    "--json",
                ],
            ),
            (
                &offline,
                &[
                    "remove",
                    "-p",
                    "zapi",
                    "-c",
                    &chat,
                    "+5521987650002",
                    "--json",
                    "--max-attempts",
                    "1",
                ],
            ),
            (&good, &["leave", "-p", "zapi", "-c", &chat, "--json"]),
        ])
        .await;

    // ACS: a fixed user token, and tokens minted from the connection string's access key.
    let chat = sandbox
        .acs()
        .create_thread(&["8:acs:1111_2222", "4:+16505552222"]);
    let with_token = vec![
        ("ACS_ENDPOINT", info.acs.endpoint.clone()),
        ("ACS_USER_TOKEN", info.acs.user_token.clone()),
    ];
    let minting = vec![
        ("ACS_CONNECTION_STRING", info.acs.connection_string.clone()),
        ("ACS_USER_ID", info.acs.user_id.clone()),
    ];
    let wrong_key = "AQECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let wrong = vec![
        (
            "ACS_CONNECTION_STRING",
            format!("endpoint={}/;accesskey={wrong_key}", info.acs.endpoint),
        ),
        ("ACS_USER_ID", info.acs.user_id.clone()),
    ];
    secrets.extend([
        info.acs.access_key.clone(),
        info.acs.user_token.clone(),
        info.acs.connection_string.clone(),
        wrong_key.to_owned(),
    ]);
    printed
        .script(&[
            (
                &minting,
                &[
                    "add",
                    "-p",
                    "acs",
                    "-c",
                    &chat,
                    "+16505553333",
                    "8:acs:1111_3333",
                    "--json",
                ],
            ),
            (&minting, &["list", "-p", "acs", "-c", &chat, "--json"]),
            (
                &with_token,
                &["remove", "-p", "acs", "-c", &chat, "+16505553333", "--json"],
            ),
            (
                &with_token,
                &[
                    "add",
                    "-p",
                    "acs",
                    "-c",
                    "19:missing@thread.v2",
                    "+16505554444",
                    "--json",
                ],
            ),
            (&wrong, &["list", "-p", "acs", "-c", &chat, "--json"]),
            (&minting, &["leave", "-p", "acs", "-c", &chat, "--json"]),
        ])
        .await;
    // Every token the minting runs were given went over the wire: none may show anywhere.
    for entry in sandbox
        .journal()
        .entries_for(rosterkit_sandbox::Provider::Acs)
    {
        if let Some(token) = entry
            .header("authorization")
            .and_then(|a| a.strip_prefix("Bearer "))
        {
            secrets.push(token.to_owned());
        }
    }
    sandbox.shutdown().await;

    assert!(
        printed.runs >= 25 && printed.failures >= 7 && printed.logged >= 20,
        "{} runs, {} failures, {} with trace logs",
        printed.runs,
        printed.failures,
        printed.logged
    );
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let phones: Vec<&str> = chert_phones
        .iter()
        .chain(&linq_phones)
        .chain(&zapi_phones)
        .copied()
        .chain([
            "+16505559999",
            "+16505557777",
            "+16505550199",
            "+5521987650004",
            "+16505552222",
            "+16505553333",
            "+16505554444",
        ])
        .collect();
    printed.check(&secrets, &phones);
}
