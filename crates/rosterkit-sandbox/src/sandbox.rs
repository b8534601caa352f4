//! The sandbox server: start, inspect, stop.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::acs::{AcsCredentials, AcsEmulator};
use crate::app::{self, Emulators};
use crate::chert::{ChertCredentials, ChertEmulator};
use crate::clock::Clock;
use crate::fault::Faults;
use crate::framework::{BodyBudget, Framework};
use crate::journal::{DEFAULT_JOURNAL_CAPACITY, DEFAULT_JOURNAL_MAX_BYTES, Journal};
use crate::linq::{LinqCredentials, LinqEmulator};
use crate::server;
use crate::state::{self, StateSaver};
use crate::zapi::{ZapiCredentials, ZapiEmulator};

/// The default limit on a request body an emulator accepts (8 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// How to start a [`Sandbox`]. Start from [`SandboxConfig::default`] and change fields.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SandboxConfig {
    /// Where to listen; `127.0.0.1:0` (any free loopback port) by default.
    pub addr: SocketAddr,
    /// How many journal entries to keep before dropping the oldest.
    pub journal_capacity: usize,
    /// How many bytes (bodies, headers, paths) the journal keeps before dropping the oldest
    /// entries.
    pub journal_max_bytes: usize,
    /// The largest request body an emulator accepts; larger ones get a bare 413 (not in the
    /// provider's error format, and journaled with status 413).
    pub body_limit: usize,
    /// Serve HTTPS with a certificate for `127.0.0.1`, `::1` and `localhost` signed by a CA
    /// generated at start ([`Sandbox::ca_pem`]); base URLs are then `https://`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub tls: bool,
    /// Keep the emulators' chats, threads, groups, tenants and settings in this JSON file:
    /// loaded at start (a file that is not a sandbox state file is an error, never replaced),
    /// written atomically after every request that changed them and at
    /// [`shutdown`](Sandbox::shutdown); [`Sandbox::save_state`] writes changes made from Rust.
    pub state_file: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            journal_capacity: DEFAULT_JOURNAL_CAPACITY,
            journal_max_bytes: DEFAULT_JOURNAL_MAX_BYTES,
            body_limit: DEFAULT_BODY_LIMIT,
            #[cfg(feature = "tls")]
            tls: false,
            state_file: None,
        }
    }
}

/// Where each emulator lives and the credentials it accepts.
///
/// `rosterkit sandbox` prints it as one JSON line:
///
/// ```json
/// {"base_url":"http://127.0.0.1:40123",
///  "chert":{"base_url":"http://127.0.0.1:40123/chert/api/v1","tenant":"sandbox",
///           "signing_secret":"0123456789abcdef0123456789abcdef"}}
/// ```
///
/// Field names are stable snake_case; more providers add more top-level fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SandboxInfo {
    /// The sandbox's root URL, `http://127.0.0.1:PORT`; the control plane is under
    /// `/_sandbox`.
    pub base_url: String,
    /// The Chert emulator.
    pub chert: ChertCredentials,
    /// The Linq emulator.
    pub linq: LinqCredentials,
    /// The Z-API emulator.
    pub zapi: ZapiCredentials,
    /// The ACS emulator.
    pub acs: AcsCredentials,
}

/// A running sandbox: one HTTP server on loopback hosting every emulator and the control
/// plane.
///
/// Dropping it stops accepting connections and lets in-flight requests finish in the
/// background; [`shutdown`](Sandbox::shutdown) does the same and waits for it.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    base_url: String,
    framework: Framework,
    emulators: Emulators,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
    saver: Option<StateSaver>,
    #[cfg(feature = "tls")]
    ca_pem: Option<String>,
}

impl Sandbox {
    /// Starts a sandbox on a free loopback port (`127.0.0.1:0`).
    ///
    /// Must be called within a Tokio runtime with I/O and time enabled (as `#[tokio::main]`
    /// and `#[tokio::test]` set up); the server runs as a task on that runtime.
    ///
    /// # Errors
    ///
    /// If the listening socket cannot be bound.
    pub async fn start() -> io::Result<Sandbox> {
        Sandbox::start_with(SandboxConfig::default()).await
    }

    /// Starts a sandbox listening on `addr`.
    ///
    /// # Errors
    ///
    /// If the listening socket cannot be bound (e.g. the port is taken).
    pub async fn start_on(addr: SocketAddr) -> io::Result<Sandbox> {
        Sandbox::start_with(SandboxConfig {
            addr,
            ..SandboxConfig::default()
        })
        .await
    }

    /// Starts a sandbox with a full configuration.
    ///
    /// # Errors
    ///
    /// If the listening socket cannot be bound, the TLS certificate cannot be generated, or
    /// the state file cannot be read (corrupt, another format) or written.
    pub async fn start_with(config: SandboxConfig) -> io::Result<Sandbox> {
        #[cfg(feature = "tls")]
        let tls = config.tls.then(crate::tls::generate).transpose()?;
        #[cfg(feature = "tls")]
        let (transport, scheme, ca_pem) = match tls {
            Some(setup) => (
                server::Transport::Tls(setup.acceptor),
                "https",
                Some(setup.ca_pem),
            ),
            None => (server::Transport::Plain, "http", None),
        };
        #[cfg(not(feature = "tls"))]
        let (transport, scheme) = (server::Transport::Plain, "http");
        let listener = TcpListener::bind(config.addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("{scheme}://{}", reachable(addr));
        let journal = Journal::new(config.journal_capacity);
        journal.set_max_bytes(config.journal_max_bytes);
        let framework = Framework {
            journal,
            faults: Faults::default(),
            clock: Clock::default(),
            body_limit: config.body_limit,
            body_budget: BodyBudget::default(),
        };
        let emulators = Emulators::new(&framework);
        let mut router = app::build(&framework, &emulators, &base_url);
        let (shutdown, signal) = watch::channel(false);
        let saver = match config.state_file {
            Some(path) => {
                let saver = StateSaver::open(path, emulators.clone())?;
                router = router.layer(axum::middleware::from_fn_with_state(
                    saver.clone(),
                    state::mark_changed,
                ));
                tokio::spawn(saver.clone().run(signal.clone()));
                Some(saver)
            }
            None => None,
        };
        let task = tokio::spawn(server::run(listener, transport, router, signal));
        Ok(Sandbox {
            addr,
            base_url,
            framework,
            emulators,
            shutdown,
            task,
            saver,
            #[cfg(feature = "tls")]
            ca_pem,
        })
    }

    /// The PEM of the certificate authority that signed the server's certificate, when
    /// serving HTTPS ([`SandboxConfig::tls`]): what clients must trust.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    #[must_use]
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The address the server is bound to.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root URL, `http://127.0.0.1:PORT` (`https://` with TLS; no trailing slash). When bound to an
    /// unspecified address (`0.0.0.0`), the URL names loopback instead.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Every emulator's base URL and credentials.
    #[must_use]
    pub fn info(&self) -> SandboxInfo {
        self.emulators.info(&self.base_url)
    }

    /// The request journal.
    #[must_use]
    pub fn journal(&self) -> Journal {
        self.framework.journal.clone()
    }

    /// The pending faults.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.framework.faults.clone()
    }

    /// The Chert emulator's state.
    #[must_use]
    pub fn chert(&self) -> &ChertEmulator {
        &self.emulators.chert
    }

    /// The Linq emulator's state.
    #[must_use]
    pub fn linq(&self) -> &LinqEmulator {
        &self.emulators.linq
    }

    /// The Z-API emulator's state.
    #[must_use]
    pub fn zapi(&self) -> &ZapiEmulator {
        &self.emulators.zapi
    }

    /// The ACS emulator's state.
    #[must_use]
    pub fn acs(&self) -> &AcsEmulator {
        &self.emulators.acs
    }

    /// Shifts the emulators' clock: now = system time + `offset` seconds (negative for the
    /// past). Used for clock-skew tests.
    pub fn set_clock_offset_secs(&self, offset: i64) {
        self.framework.clock.set_offset_secs(offset);
    }

    /// The current clock offset in seconds.
    #[must_use]
    pub fn clock_offset_secs(&self) -> i64 {
        self.framework.clock.offset_secs()
    }

    /// Freezes the emulators' clock at `unix` seconds (the offset is then ignored), or lets it
    /// run again with `None`. Used for known-answer signature vectors.
    pub fn pin_clock(&self, unix: Option<u64>) {
        self.framework.clock.pin(unix);
    }

    /// The emulators' current Unix time in seconds.
    #[must_use]
    pub fn now_unix(&self) -> u64 {
        self.framework.clock.now_unix()
    }

    /// Stops accepting connections, closes idle ones, and waits (up to 5 s) for in-flight
    /// requests to finish.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Err(error) = self.task.await {
            tracing::debug!(%error, "sandbox server task failed");
        }
        if let Some(Err(error)) = self.saver.as_ref().map(StateSaver::save_if_changed) {
            tracing::warn!(%error, "sandbox state not saved at shutdown");
        }
    }

    /// Writes the state file now if the state changed since it was last written (changes
    /// made through the Rust API are not requests, so they are saved here or at shutdown).
    /// Does nothing without [`SandboxConfig::state_file`].
    ///
    /// # Errors
    ///
    /// If the file cannot be written.
    pub fn save_state(&self) -> io::Result<()> {
        self.saver
            .as_ref()
            .map_or(Ok(()), StateSaver::save_if_changed)
    }
}

/// The address clients should use: loopback instead of an unspecified address.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}
