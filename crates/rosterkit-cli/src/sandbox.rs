//! `rosterkit sandbox`: the emulators on a loopback port, for tests in any language.

use std::{io::Write, net::SocketAddr};

use rosterkit_sandbox::Sandbox;

use crate::commands::Exit;

pub(crate) async fn run(addr: SocketAddr) -> Exit {
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
    let line = match serde_json::to_string(&sandbox.info()) {
        Ok(l) => l,
        Err(e) => {
            crate::eprint_line(&format!("error: {e}"));
            return Exit::Failed;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return Exit::Failed;
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
