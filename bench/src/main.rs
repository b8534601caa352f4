//! `rosterkit-bench`: see the crate docs and `BENCHMARKS.md`. Run through `cargo xtask bench`.
//!
//! ```text
//! rosterkit-bench serve [--addr 127.0.0.1:0]
//! rosterkit-bench run [--quick] [--out FILE]
//! rosterkit-bench sign [--quick] [--out FILE]
//! rosterkit-bench bulk --cli PATH --ops N [--out FILE]
//! ```

#![forbid(unsafe_code)]
#![allow(clippy::print_stderr)]

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use rosterkit_bench::{bulk, run, serve};

const USAGE: &str = "usage: rosterkit-bench serve [--addr ADDR]
       rosterkit-bench run [--quick] [--out FILE]
       rosterkit-bench sign [--quick] [--out FILE]
       rosterkit-bench bulk --cli PATH --ops N [--out FILE]
       rosterkit-bench profile <sdk|baseline> [OPS] [CONCURRENCY] [RUNS]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rosterkit-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `--name`, if given.
fn option<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn dispatch(args: &[String]) -> Result<(), String> {
    let out = option(args, "--out").map(PathBuf::from);
    match args.first().map(String::as_str) {
        Some("serve") => {
            let addr: SocketAddr = option(args, "--addr")
                .unwrap_or("127.0.0.1:0")
                .parse()
                .map_err(|e| format!("--addr: {e}"))?;
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(serve::serve(addr))
                .map_err(|e| e.to_string())
        }
        Some("run") => {
            let plan = if args.iter().any(|a| a == "--quick") {
                run::Plan::QUICK
            } else {
                run::Plan::FULL
            };
            write(out, &run::run(plan)?)
        }
        Some("sign") => {
            let plan = if args.iter().any(|a| a == "--quick") {
                run::Plan::QUICK
            } else {
                run::Plan::FULL
            };
            write(out, &run::signing(plan))
        }
        Some("bulk") => {
            let cli = option(args, "--cli").ok_or("bulk needs --cli PATH")?;
            let ops: usize = option(args, "--ops")
                .ok_or("bulk needs --ops N")?
                .parse()
                .map_err(|e| format!("--ops: {e}"))?;
            write(out, &bulk::run(PathBuf::from(cli).as_path(), ops)?)
        }
        Some("profile") => {
            let arg = |i: usize, default: usize| {
                args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
            };
            let side = args.get(1).map_or("sdk", String::as_str);
            write(
                out,
                &run::profile(side, arg(2, 5_000), arg(3, 1), arg(4, 3))?,
            )
        }
        _ => Err(USAGE.to_owned()),
    }
}

/// Writes the JSON report to `out`, or to stdout.
fn write(out: Option<PathBuf>, report: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    match out {
        Some(path) => std::fs::write(&path, text + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => {
            use std::io::Write as _;
            writeln!(std::io::stdout().lock(), "{text}").map_err(|e| e.to_string())
        }
    }
}
