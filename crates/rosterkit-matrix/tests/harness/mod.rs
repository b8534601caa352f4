//! A real Synapse homeserver for tests: installed from PyPI into a virtualenv under `target/`
//! on first use, configured for loopback only (SQLite, no federation, no outbound calls), and
//! driven over its client and admin APIs.
//!
//! One Synapse per test binary ([`shared`]): started on first use on a free 127.0.0.1 port in
//! its own directory, and stopped when the binary exits (a small Python launcher holds it and
//! stops it on EOF of its stdin, which this process holds). Needs `python3` with `venv`;
//! without it every test fails with a message saying so.
#![allow(dead_code, unreachable_pub, clippy::print_stderr, clippy::panic)]

use std::{
    fmt::Write as _,
    fs,
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

/// The Synapse release the tests pin.
pub const SYNAPSE_VERSION: &str = "1.163.2";
/// The shared secret of the test server's registration API (loopback only, throwaway).
const SHARED_SECRET: &str = "rosterkit-test-registration-secret";
/// The test server's name: user ids are `@name:localhost`.
pub const SERVER_NAME: &str = "localhost";
/// How long Synapse may take to start on a busy 2-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A user on the test server.
#[derive(Debug, Clone)]
pub struct User {
    /// `@localpart:localhost`.
    pub user_id: String,
    /// The user's access token.
    pub token: String,
}

/// A running Synapse.
#[derive(Debug)]
pub struct Synapse {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    port: u16,
    run_dir: PathBuf,
    /// Closing this (at process exit) stops Synapse.
    _stop: Mutex<ChildStdin>,
    launcher: Mutex<Child>,
    admin: User,
    /// How long the first-use install took, when this process installed it.
    pub install_time: Option<Duration>,
    /// From spawning the launcher to Synapse answering `/health`.
    pub start_time: Duration,
}

static SHARED: OnceLock<Result<Synapse, String>> = OnceLock::new();
static NEXT_USER: AtomicU32 = AtomicU32::new(1);

/// The binary's Synapse, started on first use.
///
/// # Panics
/// When Synapse cannot be installed or started: the message says why (python3 missing, pip
/// failing, Synapse's own log).
pub fn shared() -> &'static Synapse {
    let started = SHARED.get_or_init(|| {
        let synapse = Synapse::start(&workspace_target())?;
        eprintln!(
            "synapse {SYNAPSE_VERSION}: install {}, start-up {:.1} s, {}",
            synapse.install_time.map_or_else(
                || "cached".to_owned(),
                |t| format!("{:.1} s", t.as_secs_f64())
            ),
            synapse.start_time.as_secs_f64(),
            synapse.base_url
        );
        Ok(synapse)
    });
    match started {
        Ok(synapse) => synapse,
        Err(message) => panic!("the Synapse test server is not available: {message}"),
    }
}

/// `target/` of the workspace (or `CARGO_TARGET_DIR`).
pub fn workspace_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}

impl Synapse {
    /// Installs (once per `target/`) and starts a Synapse under `target/synapse/`.
    ///
    /// # Errors
    /// Why it could not: python3 missing, pip failing, or Synapse not starting (with its log).
    pub fn start(target: &Path) -> Result<Self, String> {
        let base = target.join("synapse");
        fs::create_dir_all(&base).map_err(|e| format!("{}: {e}", base.display()))?;
        let (python, install_time) = install(&base)?;
        let port = free_port()?;
        let run_dir = base.join(format!("run-{}-{port}", std::process::id()));
        let _ = fs::remove_dir_all(&run_dir);
        fs::create_dir_all(run_dir.join("media"))
            .map_err(|e| format!("{}: {e}", run_dir.display()))?;
        let config = run_dir.join("homeserver.yaml");
        write(&config, &homeserver_yaml(&run_dir, port))?;
        write(&run_dir.join("log.yaml"), &log_yaml(&run_dir))?;
        let launcher_path = base.join("launcher.py");
        write(&launcher_path, include_str!("launcher.py"))?;

        let started = Instant::now();
        let mut launcher = Command::new(&python)
            .arg(&launcher_path)
            .arg(&config)
            .arg(run_dir.join("signing.key"))
            .arg(&run_dir)
            .current_dir(&run_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!(
                    "starting {}: {e} (the virtualenv links to the python3 that created it; \
                     delete {} to reinstall)",
                    python.display(),
                    base.join(format!("venv-{SYNAPSE_VERSION}")).display()
                )
            })?;
        let stop = launcher.stdin.take().ok_or("the launcher has no stdin")?;
        let base_url = format!("http://127.0.0.1:{port}");
        loop {
            if let Ok((200, _)) = raw(port, "GET", "/health", None, None) {
                break;
            }
            if let Ok(Some(status)) = launcher.try_wait() {
                let mut stderr = String::new();
                if let Some(mut err) = launcher.stderr.take() {
                    let _ = err.read_to_string(&mut stderr);
                }
                return Err(format!(
                    "Synapse exited ({status}) before it was ready:\n{stderr}\n{}",
                    tail(&run_dir.join("stdout.log"))
                ));
            }
            if started.elapsed() > START_TIMEOUT {
                let _ = launcher.kill();
                return Err(format!(
                    "Synapse did not answer /health within {START_TIMEOUT:?}:\n{}",
                    tail(&run_dir.join("homeserver.log"))
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let start_time = started.elapsed();
        let admin = register_with_secret(port, "rk-admin", true)?;
        let synapse = Self {
            base_url,
            port,
            run_dir,
            _stop: Mutex::new(stop),
            launcher: Mutex::new(launcher),
            admin,
            install_time,
            start_time,
        };
        synapse.unlimit(&synapse.admin)?;
        Ok(synapse)
    }

    /// Registers a fresh user (a unique localpart starting with `prefix`) through the
    /// shared-secret admin API. Unless `rate_limited`, the user is exempt from the low
    /// `rc_message` limit the server is configured with.
    ///
    /// # Errors
    /// Synapse's refusal.
    pub fn user(&self, prefix: &str, rate_limited: bool) -> Result<User, String> {
        let n = NEXT_USER.fetch_add(1, Ordering::Relaxed);
        let user = register_with_secret(self.port, &format!("{prefix}-{n}"), false)?;
        if !rate_limited {
            self.unlimit(&user)?;
        }
        Ok(user)
    }

    /// Lifts the message rate limit for `user` (admin API `override_ratelimit`).
    fn unlimit(&self, user: &User) -> Result<(), String> {
        let path = format!(
            "/_synapse/admin/v1/users/{}/override_ratelimit",
            encode(&user.user_id)
        );
        let body = json!({"messages_per_second": 0, "burst_count": 0});
        self.expect(&self.admin, "POST", &path, Some(body))
            .map(drop)
    }

    /// Calls the client or admin API as `user`; the status and the JSON reply.
    ///
    /// # Errors
    /// A transport failure.
    pub fn api(
        &self,
        user: &User,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        raw(self.port, method, path, Some(&user.token), body)
    }

    /// [`Synapse::api`], requiring a 200.
    ///
    /// # Errors
    /// Any other status, with the reply.
    pub fn expect(
        &self,
        user: &User,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        match self.api(user, method, path, body)? {
            (200, reply) => Ok(reply),
            (status, reply) => Err(format!("{method} {path}: HTTP {status} {reply}")),
        }
    }

    /// Creates a private room owned by `owner` (with `extra` merged into the request) and has
    /// every one of `members` invited and joined. Returns the room id.
    ///
    /// # Errors
    /// Synapse's refusal.
    pub fn room(&self, owner: &User, members: &[&User], extra: Value) -> Result<String, String> {
        let mut request = json!({"preset": "private_chat"});
        if let (Some(map), Value::Object(more)) = (request.as_object_mut(), extra) {
            map.extend(more);
        }
        let created = self.expect(
            owner,
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(request),
        )?;
        let room = created["room_id"]
            .as_str()
            .ok_or_else(|| format!("createRoom: no room_id in {created}"))?
            .to_owned();
        for member in members {
            self.join(owner, member, &room)?;
        }
        Ok(room)
    }

    /// `owner` invites `member` to `room`, and `member` joins.
    ///
    /// # Errors
    /// Synapse's refusal.
    pub fn join(&self, owner: &User, member: &User, room: &str) -> Result<(), String> {
        let r = encode(room);
        self.expect(
            owner,
            "POST",
            &format!("/_matrix/client/v3/rooms/{r}/invite"),
            Some(json!({"user_id": member.user_id})),
        )?;
        self.expect(
            member,
            "POST",
            &format!("/_matrix/client/v3/join/{r}"),
            Some(json!({})),
        )
        .map(drop)
    }

    /// `user`'s membership event content in `room` as `owner` sees it (`membership`, `reason`).
    ///
    /// # Errors
    /// Synapse's refusal.
    pub fn member_state(&self, owner: &User, room: &str, user: &str) -> Result<Value, String> {
        self.expect(
            owner,
            "GET",
            &format!(
                "/_matrix/client/v3/rooms/{}/state/m.room.member/{}",
                encode(room),
                encode(user)
            ),
            None,
        )
    }
}

/// Creates the virtualenv and installs the pinned Synapse, once per `target/`; returns the
/// venv's python and how long installing took (None when it was there already).
fn install(base: &Path) -> Result<(PathBuf, Option<Duration>), String> {
    install_with(base, "python3")
}

/// [`install`] with the Python interpreter named `python3` (a seam for testing the message
/// given when it is missing).
pub fn install_with(base: &Path, python3: &str) -> Result<(PathBuf, Option<Duration>), String> {
    let venv = base.join(format!("venv-{SYNAPSE_VERSION}"));
    let python = venv.join("bin/python");
    if venv.join("installed").is_file() {
        return Ok((python, None));
    }
    let started = Instant::now();
    let version = Command::new(python3).arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        return Err(format!(
            "{python3} was not found on PATH. The Matrix tests run a real Synapse homeserver, which \
             the test harness installs (matrix-synapse=={SYNAPSE_VERSION} from PyPI) into a \
             virtualenv under {}: install python3 with its venv module (Debian/Ubuntu: \
             `apt-get install python3 python3-venv`) and run the tests again",
            base.display()
        ));
    }
    // Install beside the final place and rename, so a crashed or concurrent install never
    // leaves a half-installed venv that looks complete.
    let staging = base.join(format!("venv-{SYNAPSE_VERSION}.tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&staging);
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&staging),
        "python3 -m venv",
    )?;
    run(
        Command::new(staging.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("matrix-synapse=={SYNAPSE_VERSION}")),
        "pip install matrix-synapse",
    )?;
    write(&staging.join("installed"), SYNAPSE_VERSION)?;
    if fs::rename(&staging, &venv).is_err() {
        // Another process finished first: use its venv.
        let _ = fs::remove_dir_all(&staging);
        if !venv.join("installed").is_file() {
            return Err(format!("could not move the venv into {}", venv.display()));
        }
    }
    Ok((python, Some(started.elapsed())))
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("{what}: could not run: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The server's configuration: loopback client listener only, SQLite, no federation, no
/// outbound calls (no stats, no key servers, no URL previews, no presence), registration only
/// through the shared secret, and a low `rc_message` (the limit kicks, invites and leaves
/// count against) for the rate-limit test; other users are exempted through the admin API.
fn homeserver_yaml(run_dir: &Path, port: u16) -> String {
    let dir = run_dir.display();
    let generous = "{per_second: 1000, burst_count: 1000}";
    format!(
        r#"server_name: "{SERVER_NAME}"
pid_file: "{dir}/homeserver.pid"
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "{dir}/homeserver.db"
log_config: "{dir}/log.yaml"
media_store_path: "{dir}/media"
signing_key_path: "{dir}/signing.key"
registration_shared_secret: "{SHARED_SECRET}"
enable_registration: false
macaroon_secret_key: "rosterkit-test-macaroon"
form_secret: "rosterkit-test-form"
report_stats: false
enable_metrics: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
url_preview_enabled: false
presence:
  enabled: false
rc_message:
  per_second: 0.5
  burst_count: 3
rc_invites:
  per_room: {generous}
  per_user: {generous}
  per_issuer: {generous}
rc_joins:
  local: {generous}
  remote: {generous}
rc_joins_per_room: {generous}
rc_registration: {generous}
rc_login:
  address: {generous}
  account: {generous}
  failed_attempts: {generous}
"#
    )
}

fn log_yaml(run_dir: &Path) -> String {
    format!(
        r#"version: 1
formatters:
  precise:
    format: "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s"
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: "{}/homeserver.log"
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"#,
        run_dir.display()
    )
}

/// Registers `localpart` through `/_synapse/admin/v1/register`: a nonce, then an HMAC-SHA1
/// over `nonce\0user\0password\0admin|notadmin` keyed with the shared secret.
fn register_with_secret(port: u16, localpart: &str, admin: bool) -> Result<User, String> {
    let (_, nonce) = raw(port, "GET", "/_synapse/admin/v1/register", None, None)?;
    let nonce = nonce["nonce"]
        .as_str()
        .ok_or_else(|| format!("no registration nonce: {nonce}"))?;
    let password = format!("pw-{localpart}");
    let role = if admin { "admin" } else { "notadmin" };
    let message = format!("{nonce}\0{localpart}\0{password}\0{role}");
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(SHARED_SECRET.as_bytes())
        .map_err(|e| format!("HMAC-SHA1 key: {e}"))?;
    mac.update(message.as_bytes());
    let mac = mac
        .finalize()
        .into_bytes()
        .iter()
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
    let body = json!({
        "nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac,
    });
    match raw(
        port,
        "POST",
        "/_synapse/admin/v1/register",
        None,
        Some(body),
    )? {
        (200, reply) => Ok(User {
            user_id: reply["user_id"].as_str().unwrap_or_default().to_owned(),
            token: reply["access_token"]
                .as_str()
                .ok_or_else(|| format!("register {localpart}: no access_token in {reply}"))?
                .to_owned(),
        }),
        (status, reply) => Err(format!("register {localpart}: HTTP {status} {reply}")),
    }
}

/// One HTTP/1.1 request to 127.0.0.1:`port` over a plain socket (the harness needs no async
/// runtime, so it works from any test); the status and the JSON body (`null` if not JSON).
fn raw(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        let _ = write!(request, "Authorization: Bearer {token}\r\n");
    }
    request.push_str("\r\n");
    request.push_str(&body);
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&reply);
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP reply: {head}"))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let payload = if chunked {
        dechunk(payload)
    } else {
        payload.to_owned()
    };
    Ok((
        status,
        serde_json::from_str(&payload).unwrap_or(Value::Null),
    ))
}

/// A chunked body's data.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(rest.get(..n).unwrap_or_default());
        s = rest.get(n + 2..).unwrap_or_default();
    }
    out
}

/// Percent-encodes a path segment (`!`, `:`, `@`, `#` and all but unreserved characters).
pub fn encode(s: &str) -> String {
    rosterkit_core::encode::path_segment(s)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
