//! A local Synapse by hand (`cargo xtask synapse`): the test harness's server, with an owner, a
//! member and a room, and the environment to point rosterkit at it. Stops on Enter or Ctrl-C.
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::io::BufRead as _;

fn main() -> Result<(), String> {
    let synapse = harness::Synapse::start(&harness::workspace_target())?;
    eprintln!(
        "synapse {}: install {}, start-up {:.1} s",
        harness::SYNAPSE_VERSION,
        synapse.install_time.map_or_else(
            || "cached".to_owned(),
            |t| format!("{:.1} s", t.as_secs_f64())
        ),
        synapse.start_time.as_secs_f64()
    );
    let owner = synapse.user("owner", false)?;
    let bob = synapse.user("bob", false)?;
    let room = synapse.room(&owner, &[&bob], serde_json::json!({}))?;
    println!("export MATRIX_HOMESERVER={}", synapse.base_url);
    println!("export MATRIX_ACCESS_TOKEN={}", owner.token);
    // For `rosterkit tour`'s Matrix steps.
    println!("export ROSTERKIT_TOUR_MATRIX_ROOM='{room}'");
    println!("export ROSTERKIT_TOUR_MATRIX_MEMBER='{}'", bob.user_id);
    println!(
        "# room {room} (owner {}, member {})",
        owner.user_id, bob.user_id
    );
    println!(
        "# try: rosterkit remove --provider matrix --chat '{room}' {}",
        bob.user_id
    );
    eprintln!("Synapse runs until Enter or Ctrl-C.");
    let _ = std::io::stdin().lock().lines().next();
    Ok(())
}
