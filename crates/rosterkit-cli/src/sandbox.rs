//! `rosterkit sandbox`: the emulators on a loopback port, for tests in any language.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use rosterkit_sandbox::{Sandbox, SandboxConfig};

use crate::commands::Exit;

/// `rosterkit sandbox --help`: what a test or a person can do with a running sandbox.
pub(crate) const CONTROL_PLANE_HELP: &str = "\
Output: one JSON line with every emulator's base URL and credentials; with --env, `export`
lines (POSIX shell) for every provider's variables plus ROSTERKIT_SANDBOX_URL, a line
`# seeded <provider> <kind> <id>` per --seed chat, then `# ready: ...`. Paste them into
another shell, or:
  rosterkit sandbox --env > rk.env &
  until grep -q '^# ready' rk.env 2>/dev/null; do sleep 0.2; done; . ./rk.env

Control plane (on the sandbox's root URL, $ROSTERKIT_SANDBOX_URL; bodies are application/json;
loopback Host only):
  GET    /_sandbox/info                   base URLs and credentials (the JSON line)
  GET    /_sandbox/health                 liveness
  GET    /_sandbox/journal                every request received (DELETE clears it)
  POST   /_sandbox/faults                 inject a fault (DELETE clears them)
  GET    /_sandbox/clock                  the emulated clock (PUT sets it)
  POST   /_sandbox/chert/chats            seed a chat {\"members\":[\"+14155550100\",...]} -> {\"id\":\"ch_...\"}
  POST   /_sandbox/linq/chats             seed a chat {\"me\":\"+1...\",\"members\":[...]} -> {\"id\":UUID}
  POST   /_sandbox/linq/pending/apply     apply Linq's queued changes now
  POST   /_sandbox/zapi/groups            seed a group {\"subject\":\"..\",\"members\":[\"5511...\"]} -> {\"id\":\"...-group\"}
  POST   /_sandbox/zapi/communities       seed a community
  POST   /_sandbox/acs/threads            seed a thread {\"participants\":[\"8:acs:...\"]}
  GET    /_sandbox/{chert,linq}/chats/ID, /_sandbox/zapi/groups/ID, /_sandbox/acs/threads/ID

Example, after sourcing the --env lines:
  curl -s -X POST \"$ROSTERKIT_SANDBOX_URL/_sandbox/chert/chats\" -H 'content-type: application/json' \\
       -d '{\"members\":[\"+14155550100\",\"+14155550101\",\"+14155550102\",\"+14155550103\"]}'
  rosterkit remove --provider chert --chat ch_... +14155550100";

/// Options of `rosterkit sandbox`.
#[derive(Debug, Args)]
pub(crate) struct SandboxArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Print `export NAME='value'` lines (POSIX shell) for every provider's variables
    /// instead of one JSON line.
    #[arg(long)]
    env: bool,
    /// Create the chats in FILE (JSON, the control plane's seed bodies by provider) at
    /// start, e.g. {"chert":{"chats":[{"id":"ch_demo","members":["+14155550100",...]}]}}.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
    /// Serve HTTPS with a certificate for 127.0.0.1, ::1 and localhost, signed by a CA
    /// generated at start (trust it with NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, ...).
    #[arg(long)]
    tls: bool,
    /// Write the generated CA certificate (PEM) here; needs --tls.
    #[arg(long, value_name = "PATH", requires = "tls")]
    cert_out: Option<PathBuf>,
    /// Keep chats, threads, groups, tenants and settings in this JSON file: loaded at start
    /// (created if missing), saved atomically after every change.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
}

pub(crate) async fn run(args: SandboxArgs) -> Exit {
    let addr = args.addr;
    if !addr.ip().is_loopback() {
        crate::eprint_line(
            "error: the sandbox listens on loopback addresses only (127.0.0.1, ::1)",
        );
        return Exit::Usage;
    }
    let mut config = SandboxConfig::default();
    config.addr = addr;
    config.tls = args.tls;
    config.state_file = args.state;
    let sandbox = match Sandbox::start_with(config).await {
        Ok(s) => s,
        Err(e) => {
            crate::eprint_line(&format!("error: cannot start the sandbox on {addr}: {e}"));
            return Exit::Failed;
        }
    };
    if let (Some(path), Some(pem)) = (&args.cert_out, sandbox.ca_pem())
        && let Err(e) = std::fs::write(path, pem)
    {
        crate::eprint_line(&format!(
            "error: cannot write the CA certificate to {}: {e}",
            path.display()
        ));
        sandbox.shutdown().await;
        return Exit::Failed;
    }
    let seeded = match args
        .seed
        .as_deref()
        .map(|path| crate::seed::apply(&sandbox, path))
    {
        None => Vec::new(),
        Some(Ok(seeded)) => seeded,
        Some(Err(e)) => {
            crate::eprint_line(&format!("error: {e}"));
            sandbox.shutdown().await;
            return Exit::Usage;
        }
    };
    let env = args.env;
    let line = if env {
        let seeded: String = seeded.iter().map(|s| format!("# seeded {s}\n")).collect();
        format!(
            "{}{seeded}# ready: rosterkit sandbox on {} (Ctrl-C to stop)",
            crate::env::sandbox_exports(&sandbox.info()),
            sandbox.base_url()
        )
    } else {
        match serde_json::to_string(&sandbox.info()) {
            Ok(l) => l,
            Err(e) => {
                crate::eprint_line(&format!("error: {e}"));
                return Exit::Failed;
            }
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Exit::Failed;
        }
    }
    if !env {
        for s in &seeded {
            crate::eprint_line(&format!("seeded {s}"));
        }
    }
    crate::eprint_line(&format!(
        "rosterkit sandbox listening on {}; Ctrl-C to stop",
        sandbox.base_url()
    ));
    let _ = tokio::signal::ctrl_c().await;
    sandbox.shutdown().await;
    Exit::Ok
}
