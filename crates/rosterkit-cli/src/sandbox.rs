//! `rosterkit sandbox`: the emulators on a loopback port, for tests in any language.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use rosterkit_sandbox::{Sandbox, SandboxConfig};

use crate::commands::Exit;

/// Options of `rosterkit sandbox`.
#[derive(Debug, Args)]
pub(crate) struct SandboxArgs {
    /// Address to listen on (loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
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
