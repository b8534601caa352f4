//! `rosterkit-bench serve`: hosts the sandbox in its own process, so its CPU is never counted
//! as the client's, and seeds Chert chats on request.
//!
//! Protocol: the first stdout line is the [`SandboxInfo`](rosterkit_sandbox::SandboxInfo) as
//! JSON. Then, one command per stdin line, each answered by one stdout line:
//!
//! - `seed <prefix> <count> <members>` creates (or replaces) the groups `<prefix>0` ..
//!   `<prefix><count-1>`, each with the members [`member`]`(0..members)`, and answers `ok`;
//! - `quit` (or the end of stdin) stops the sandbox.

use std::{io, net::SocketAddr};

use rosterkit_sandbox::{Sandbox, SandboxConfig, chert::ChertChatSeed};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Journal entries kept: enough for a look at the last requests, small enough that a long run
/// keeps the sandbox's memory (and allocator work) flat.
const JOURNAL_CAPACITY: usize = 1024;

/// The `j`-th member of every seeded group: `+14155550000`, `+14155550001`, ...
#[must_use]
pub fn member(j: usize) -> String {
    format!("+1415555{:04}", j % 10_000)
}

/// Runs the sandbox on `addr` until `quit` or the end of stdin.
///
/// # Errors
/// When the address cannot be bound or stdin/stdout fail.
pub async fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut config = SandboxConfig::default();
    config.addr = addr;
    config.journal_capacity = JOURNAL_CAPACITY;
    let sandbox = Sandbox::start_with(config).await?;
    let mut out = tokio::io::stdout();
    let info = serde_json::to_string(&sandbox.info()).map_err(io::Error::other)?;
    out.write_all(format!("{info}\n").as_bytes()).await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["seed", prefix, count, members] => match (count.parse(), members.parse()) {
                (Ok(count), Ok(members)) => {
                    seed(&sandbox, prefix, count, members);
                    "ok".to_owned()
                }
                _ => format!("error: bad numbers in {line:?}"),
            },
            ["quit"] => break,
            _ => format!("error: unknown command {line:?}"),
        };
        out.write_all(format!("{reply}\n").as_bytes()).await?;
        out.flush().await?;
    }
    sandbox.shutdown().await;
    Ok(())
}

fn seed(sandbox: &Sandbox, prefix: &str, count: usize, members: usize) {
    let roster: Vec<String> = (0..members).map(member).collect();
    let chert = sandbox.chert();
    for i in 0..count {
        chert.create_chat(ChertChatSeed {
            id: Some(format!("{prefix}{i}")),
            ..ChertChatSeed::group(&roster)
        });
    }
}
