//! The Matrix contract, against a real homeserver: the embedded sandbox has no Matrix emulator
//! (Matrix is tested against a real Synapse), and the tour never installs one. When the
//! environment names a homeserver, a room and a member, the tour walks Matrix through the
//! provider registry, as `--provider matrix` does; otherwise it prints one line saying why
//! Matrix was skipped and how to enable it.

use std::io::Write as _;

use rosterkit::{ChangeOptions, ChatId, ConnectOptions, Error, ErrorKind, Reason, Registry};

use super::Tour;

const P: &str = "matrix";

/// The room the tour changes: one the token's user may kick and invite in.
pub(crate) const ENV_ROOM: &str = "ROSTERKIT_TOUR_MATRIX_ROOM";
/// A member of that room the tour kicks and invites back.
pub(crate) const ENV_MEMBER: &str = "ROSTERKIT_TOUR_MATRIX_MEMBER";
/// Everything the Matrix steps need, in the order `cargo xtask synapse` prints them.
const NEEDED: [&str; 4] = [
    "MATRIX_HOMESERVER",
    "MATRIX_ACCESS_TOKEN",
    ENV_ROOM,
    ENV_MEMBER,
];

/// The line printed when Matrix is skipped (no step is recorded, so the exit code is the other
/// providers').
pub(crate) fn skip_line(missing: &[&str]) -> String {
    format!(
        "matrix: skipped, {} not set: the sandbox has no Matrix emulator and the tour installs no \
         homeserver. To include Matrix, run `cargo xtask synapse` (a local Synapse), export the \
         lines it prints and run the tour again.",
        missing.join(", ")
    )
}

pub(crate) async fn run(tour: &mut Tour) {
    let lookup = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let missing: Vec<&str> = NEEDED
        .into_iter()
        .filter(|name| lookup(name).is_none())
        .collect();
    if !missing.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", skip_line(&missing));
        return;
    }
    let (room, member) = (
        lookup(ENV_ROOM).unwrap_or_default(),
        lookup(ENV_MEMBER).unwrap_or_default(),
    );
    if let Err(e) = steps(tour, &room, &member).await {
        tour.step(P, "setup", "a working client", e, false);
    }
}

/// Kick, the ambiguous 403 settled by a membership read (plain and ensure mode), and an invite
/// back, so the tour can run again on the same room.
async fn steps(tour: &mut Tour, room: &str, member: &str) -> Result<(), Error> {
    let matrix = Registry::global().get(P)?;
    let client = matrix.connect(ConnectOptions::default())?;
    let chat = ChatId::new(room)?;
    let who = matrix.parse_handle(member)?;

    let listed = client.participants(&chat).await;
    let seen = listed
        .as_ref()
        .map(|m| format!("{} joined", m.len()))
        .unwrap_or_else(|e| e.kind().to_string());
    tour.step(
        P,
        "list the joined members",
        "readable",
        seen,
        listed.is_ok(),
    );
    // A member (or an invitee left by an earlier tour, whose invite the kick revokes) goes.
    let reason = Reason::new("rosterkit tour")?;
    let r = client
        .remove_participant(&chat, &who, ChangeOptions::default().with_reason(reason))
        .await;
    tour.outcome(P, "kick with a reason", "applied", &r);
    let r = client
        .remove_participant(&chat, &who, ChangeOptions::default())
        .await;
    tour.error(
        P,
        "kick again: 403, the member read says not a member",
        ErrorKind::NotAMember,
        Some("M_FORBIDDEN"),
        &r,
    );
    let r = client
        .remove_participant(&chat, &who, ChangeOptions::ensure())
        .await;
    tour.outcome(P, "kick again with --ensure", "already_done", &r);
    let r = client
        .add_participant(&chat, &who, ChangeOptions::default())
        .await;
    tour.outcome(P, "invite them back", "applied", &r);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_line_says_why_and_how() {
        let line = skip_line(&["MATRIX_HOMESERVER", ENV_ROOM]);
        assert!(line.starts_with("matrix: skipped"));
        assert!(line.contains("MATRIX_HOMESERVER, ROSTERKIT_TOUR_MATRIX_ROOM not set"));
        assert!(line.contains("cargo xtask synapse"));
        assert!(!line.contains('\n'));
    }
}
