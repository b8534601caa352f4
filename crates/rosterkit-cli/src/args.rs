//! Command-line arguments.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// Manage group-chat membership across messaging providers.
///
/// Credentials come from the environment (see the README). Exit codes: 0 when every operation
/// succeeded, 1 when any failed at the provider, 2 for bad input or usage (no request sent).
#[derive(Debug, Parser)]
#[command(name = "rosterkit", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start an embedded sandbox and walk through every provider's contract.
    Tour,
    /// Run the provider emulators on a loopback port until interrupted.
    Sandbox {
        /// Address to listen on (loopback).
        #[arg(long, default_value = "127.0.0.1:0")]
        addr: SocketAddr,
    },
    /// Remove participants from a group chat.
    Remove(ChangeArgs),
    /// Add participants to a group chat.
    Add(ChangeArgs),
    /// Leave a group chat with our own identity.
    Leave(ChatArgs),
    /// List the members of a chat.
    List(ChatArgs),
    /// Run many changes from a JSON-lines or CSV file; one JSON result line per operation.
    Bulk(crate::bulk::BulkArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(crate::completions::CompletionsArgs),
}

/// Options every provider command shares.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Provider: chert, linq, zapi or acs.
    #[arg(long, short = 'p')]
    pub(crate) provider: String,
    /// Chat (group, thread or community) id.
    #[arg(long, short = 'c')]
    pub(crate) chat: String,
    /// Override the provider's base URL (else from the environment or the provider's default).
    #[arg(long)]
    pub(crate) base_url: Option<String>,
    /// Retries after the first attempt (at most 9).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=9))]
    pub(crate) max_retries: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Allow plain http:// to a non-loopback host.
    #[arg(long)]
    pub(crate) allow_insecure_http: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ChangeArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Handles: +E.164 phones, emails, or native ids (8:acs:..., native:...).
    #[arg(required = true)]
    pub(crate) handles: Vec<String>,
    /// Ensure the end state: "already not a member" counts as done (remove).
    #[arg(long)]
    pub(crate) ensure: bool,
    /// Z-API: read the roster afterwards to confirm each change.
    #[arg(long)]
    pub(crate) verify: bool,
    /// Linq: wait until a queued change shows in the chat.
    #[arg(long)]
    pub(crate) wait: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Ensure the end state: "already left" counts as done (leave).
    #[arg(long)]
    pub(crate) ensure: bool,
    /// Linq: wait until a queued leave shows in the chat.
    #[arg(long)]
    pub(crate) wait: bool,
}
