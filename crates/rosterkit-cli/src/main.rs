//! The `rosterkit` command.
#![forbid(unsafe_code)]

use std::{io::Write, process::ExitCode};

use clap::{CommandFactory, FromArgMatches};

mod args;
mod bulk;
mod commands;
mod completions;
mod env;
mod messages;
mod output;
mod sandbox;
mod seed;
mod sync;
mod tour;
mod wait;

use args::{Cli, Command};

/// Writes one line to stderr, ignoring a closed stream.
pub(crate) fn eprint_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// The command line, with the environment and exit codes in the top-level help.
pub(crate) fn command() -> clap::Command {
    Cli::command().after_help(env::help())
}

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match command()
        .try_get_matches_from(&argv)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        // Under `sync --detailed-exitcode`, 2 means "changes present": a usage error is 1.
        Err(e) if e.use_stderr() && sync::wants_detailed_exitcode(&argv) => {
            let _ = e.print();
            return ExitCode::from(1);
        }
        Err(e) => e.exit(),
    };
    // Logs go to stderr, only when RUST_LOG asks for them; they never carry secrets.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprint_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let exit = match cli.command {
            Command::Tour => tour::run().await,
            Command::Sandbox(a) => sandbox::run(a).await,
            Command::Remove(a) => {
                commands::change(&a.common, &a.handles, a.ensure, &a.wait, false).await
            }
            Command::Add(a) => {
                commands::change(&a.common, &a.handles, a.ensure, &a.wait, true).await
            }
            Command::Leave(a) => commands::leave(&a).await,
            Command::List(a) => commands::list(&a).await,
            Command::Bulk(a) => bulk::run(a).await,
            Command::Completions(a) => completions::run(&a),
            Command::Sync(a) => return ExitCode::from(sync::run(&a).await),
        };
        exit.into()
    })
}
