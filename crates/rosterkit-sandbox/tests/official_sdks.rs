//! The providers' official SDKs against the sandbox over HTTPS: `@linqapp/sdk` (retrieve,
//! remove, add, leave) and `@azure/communication-identity` + `@azure/communication-chat`
//! (create a user and token from the connection string, list participants paged, remove,
//! add, issue and revoke). The pinned packages (`tests/npm/package-lock.json`) are installed
//! with `npm ci` into the target directory; node and npm must be on `PATH`.

#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test helpers may fail loudly.
#![allow(clippy::print_stderr)] // Reports how long the install and the SDK run took.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use rosterkit_sandbox::acs::{AcsThreadSeed, DEFAULT_USER_ID, DEFAULT_USER_TOKEN};
use rosterkit_sandbox::{Provider, Sandbox, SandboxConfig};
use serde_json::Value;

const LINQ_MEMBERS: [&str; 4] = [
    "+14155550101",
    "+14155550102",
    "+14155550103",
    "+14155550104",
];
/// Participants of the ACS thread besides the service user: more than a few pages of 2.
const ACS_MEMBERS: usize = 7;
const ACS_PAGE_SIZE: usize = 2;

fn run(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "{what}: cannot run {:?} ({e}). The official-SDK test needs Node.js 20+ and npm on \
             PATH (https://nodejs.org); install them and run the tests again.",
            command.get_program()
        )
    });
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Installs the pinned packages into the target directory, once per lockfile change.
fn install() -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/npm");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("official-sdks");
    std::fs::create_dir_all(&dir).unwrap();
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let installed = dir.join("node_modules/.rosterkit-lock");
    if std::fs::read(&installed).ok().as_deref() != Some(lock.as_slice()) {
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(source.join(file), dir.join(file)).unwrap();
        }
        let started = Instant::now();
        run(
            Command::new("npm")
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--prefix",
                ])
                .arg(&dir),
            "npm ci (the pinned official SDKs)",
        );
        eprintln!("npm ci took {:.1} s", started.elapsed().as_secs_f64());
        std::fs::write(&installed, &lock).unwrap();
    }
    std::fs::copy(source.join("sdk_test.js"), dir.join("sdk_test.js")).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_sdks_over_tls() {
    let dir = tokio::task::spawn_blocking(install).await.unwrap();
    let mut config = SandboxConfig::default();
    config.tls = true;
    let sandbox = Sandbox::start_with(config).await.unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, sandbox.ca_pem().unwrap()).unwrap();
    let info = sandbox.info();

    let linq_chat = sandbox.linq().create_group(&LINQ_MEMBERS);
    let acs_members: Vec<String> = (1..=ACS_MEMBERS)
        .map(|i| format!("8:acs:5a4db0c5-0000-4000-8000-000000000000_member{i}"))
        .collect();
    let thread = sandbox.acs().seed_thread(AcsThreadSeed {
        participants: acs_members.clone(),
        ..AcsThreadSeed::default()
    });
    let acs_add = "8:acs:5a4db0c5-0000-4000-8000-000000000000_newcomer";

    let mut node = Command::new("node");
    node.arg(dir.join("sdk_test.js"))
        .current_dir(&dir)
        .env("NODE_EXTRA_CA_CERTS", &ca)
        .env("LINQ_BASE_URL", &info.linq.base_url)
        .env("LINQ_API_KEY", &info.linq.api_key)
        .env("LINQ_CHAT", &linq_chat)
        .env("LINQ_REMOVE", LINQ_MEMBERS[3])
        .env("LINQ_ADD", "+14155550105")
        .env("ACS_ENDPOINT", &info.acs.sdk_endpoint)
        .env("ACS_CONNECTION_STRING", &info.acs.sdk_connection_string)
        .env("ACS_SERVICE_TOKEN", DEFAULT_USER_TOKEN)
        .env("ACS_THREAD", &thread)
        .env("ACS_PAGE_SIZE", ACS_PAGE_SIZE.to_string())
        .env("ACS_REMOVE", &acs_members[0])
        .env("ACS_ADD", acs_add);
    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || run(&mut node, "node sdk_test.js"))
        .await
        .unwrap();
    eprintln!("the SDK run took {:.1} s", started.elapsed().as_secs_f64());
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();

    // Linq: what the SDK saw, and what the emulator holds.
    let linq = &result["linq"];
    assert_eq!(linq["before"].as_array().unwrap().len(), 5, "{linq}");
    assert!(linq["removed"]["trace_id"].is_string(), "{linq}");
    let after: Vec<&str> = linq["after"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !after.contains(&LINQ_MEMBERS[3]) && after.contains(&"+14155550105"),
        "{linq}"
    );
    assert!(sandbox.linq().has_left(&linq_chat));
    let linq_effects: Vec<String> = sandbox
        .journal()
        .entries_for(Provider::Linq)
        .into_iter()
        .flat_map(|e| e.effects)
        .collect();
    assert_eq!(
        linq_effects.len(),
        3,
        "remove, add, leave applied once each: {linq_effects:?}"
    );

    // ACS: the created user listed every participant through the SDK's paging.
    let acs = &result["acs"];
    let user = acs["user"].as_str().unwrap();
    assert!(user.starts_with("8:acs:"), "{acs}");
    let listed: Vec<&str> = acs["listed"]["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let everyone = ACS_MEMBERS + 2; // + the service user and the new user
    assert_eq!(listed.len(), everyone, "{acs}");
    assert_eq!(
        acs["listed"]["pages"].as_u64(),
        Some(everyone.div_ceil(ACS_PAGE_SIZE) as u64),
        "{acs}"
    );
    assert!(listed.contains(&DEFAULT_USER_ID) && listed.contains(&user));
    assert_eq!(acs["invalid"], serde_json::json!([]));
    assert_eq!(
        acs["afterRevoke"], "401",
        "a revoked token is refused: {acs}"
    );
    let members = sandbox.acs().participants(&thread).unwrap();
    assert!(!members.contains(&acs_members[0]) && members.contains(&acs_add.to_owned()));
    assert_eq!(members.len(), everyone);
    assert_eq!(sandbox.acs().identities(), vec![user.to_owned()]);
    // Every paged request went over TLS to the nextLink the emulator built.
    let acs_entries = sandbox.journal().entries_for(Provider::Acs);
    let pages: Vec<_> = acs_entries
        .iter()
        .filter(|e| e.method == "GET" && e.path.contains("skip="))
        .collect();
    assert_eq!(pages.len(), everyone.div_ceil(ACS_PAGE_SIZE) - 1);
    assert!(pages.iter().all(|e| e.status == Some(200)));
    let identity_calls = acs_entries
        .iter()
        .filter(|e| e.path.starts_with("/identities"))
        .count();
    assert_eq!(identity_calls, 3, "create, issue, revoke");
    sandbox.shutdown().await;
}
