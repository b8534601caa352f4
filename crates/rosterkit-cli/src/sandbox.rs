//! `rosterkit sandbox`: the emulators on a loopback port, for tests in any language.

use std::{io::Write, net::SocketAddr};

use rosterkit_sandbox::Sandbox;

use crate::commands::Exit;

/// `rosterkit sandbox --help`: what a test or a person can do with a running sandbox.
pub(crate) const CONTROL_PLANE_HELP: &str = "\
Output: one JSON line with every emulator's base URL and credentials; with --env, `export`
lines (POSIX shell) for every provider's variables plus ROSTERKIT_SANDBOX_URL, a line
`# seeded <provider> <kind> <id>` per --seed chat, then `# ready: ...`. Paste them into
another shell, or:
  rosterkit sandbox --env > rk.env &
  until grep -q '^# ready' rk.env 2>/dev/null; do sleep 0.2; done; . ./rk.env

Control plane (plain HTTP on the sandbox's root URL, $ROSTERKIT_SANDBOX_URL; JSON bodies):
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

pub(crate) async fn run(addr: SocketAddr, env: bool, seed: Option<&std::path::Path>) -> Exit {
    if !addr.ip().is_loopback() {
        crate::eprint_line(
            "error: the sandbox listens on loopback addresses only (127.0.0.1, ::1)",
        );
        return Exit::Usage;
    }
    let sandbox = match Sandbox::start_on(addr).await {
        Ok(s) => s,
        Err(e) => {
            crate::eprint_line(&format!("error: cannot listen on {addr}: {e}"));
            return Exit::Failed;
        }
    };
    let seeded = match seed.map(|path| crate::seed::apply(&sandbox, path)) {
        None => Vec::new(),
        Some(Ok(seeded)) => seeded,
        Some(Err(e)) => {
            crate::eprint_line(&format!("error: {e}"));
            sandbox.shutdown().await;
            return Exit::Usage;
        }
    };
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
