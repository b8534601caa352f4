//! `rosterkit --provider matrix` against a real Synapse (the `rosterkit-matrix` test harness's,
//! installed into `target/synapse/` on first use): the built binary reaches Matrix through the
//! provider registry, reads `@user:server` with Matrix's handle rules, and the tour walks
//! Matrix when the environment names a homeserver.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../rosterkit-matrix/tests/harness/mod.rs"]
mod harness;

use std::process::{Command, Output};

use serde_json::json;

/// `rosterkit args...` with only the Matrix variables set.
fn rosterkit(synapse: &harness::Synapse, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rosterkit"))
        .args(args)
        .env_clear()
        .env("MATRIX_HOMESERVER", &synapse.base_url)
        .env("MATRIX_ACCESS_TOKEN", token)
        .output()
        .unwrap()
}

fn report(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn remove_with_provider_matrix_kicks_a_member() {
    let synapse = harness::shared();
    let owner = synapse.user("cliowner", false).unwrap();
    let bob = synapse.user("clibob", false).unwrap();
    let room = synapse.room(&owner, &[&bob], json!({})).unwrap();
    let bob_id = bob.user_id.as_str();

    // Exactly the README's recipe: no `native:` prefix on the user id.
    let out = rosterkit(
        synapse,
        &owner.token,
        &["remove", "--provider", "matrix", "--chat", &room, bob_id],
    );
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("applied"), "{}", report(&out));
    let state = synapse.member_state(&owner, &room, bob_id).unwrap();
    assert_eq!(state["membership"], "leave", "{state}");

    // Again: Synapse's 403, settled by the member read (the operation's probe).
    let out = rosterkit(
        synapse,
        &owner.token,
        &["remove", "-p", "matrix", "-c", &room, bob_id, "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", report(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["error"]["kind"], "not_a_member", "{line}");
    assert_eq!(line["error"]["code"], "M_FORBIDDEN", "{line}");
    let out = rosterkit(
        synapse,
        &owner.token,
        &["remove", "-p", "matrix", "-c", &room, bob_id, "--ensure"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already_done"),
        "{}",
        report(&out)
    );

    // The list shows the owner only; a phone number is refused before any request.
    let out = rosterkit(
        synapse,
        &owner.token,
        &["list", "-p", "matrix", "-c", &room, "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains(&owner.user_id) && !listed.contains(bob_id),
        "{listed}"
    );
    let out = rosterkit(
        synapse,
        &owner.token,
        &["remove", "-p", "matrix", "-c", &room, "+14155551234"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", report(&out));
}

#[test]
fn missing_matrix_variables_are_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_rosterkit"))
        .args(["list", "-p", "matrix", "-c", "!r:example.org"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", report(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("MATRIX_HOMESERVER, MATRIX_ACCESS_TOKEN")
            && stderr.contains("xtask synapse"),
        "{stderr}"
    );
}

/// With a homeserver, a room and a member in the environment (what `cargo xtask synapse`
/// prints), the tour walks Matrix too; twice on the same room, since it invites the member
/// back.
#[test]
fn the_tour_walks_matrix_against_synapse() {
    let synapse = harness::shared();
    let owner = synapse.user("tourowner", false).unwrap();
    let member = synapse.user("tourmember", false).unwrap();
    let room = synapse.room(&owner, &[&member], json!({})).unwrap();
    for run in 1..=2 {
        let out = Command::new(env!("CARGO_BIN_EXE_rosterkit"))
            .arg("tour")
            .env_clear()
            .env("MATRIX_HOMESERVER", &synapse.base_url)
            .env("MATRIX_ACCESS_TOKEN", &owner.token)
            .env("ROSTERKIT_TOUR_MATRIX_ROOM", &room)
            .env("ROSTERKIT_TOUR_MATRIX_MEMBER", &member.user_id)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "run {run}: {}", report(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let matrix: Vec<&str> = stdout
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("matrix"))
            .collect();
        assert_eq!(matrix.len(), 5, "run {run}: {}", report(&out));
        assert!(matrix.iter().all(|l| l.starts_with('✓')), "{matrix:#?}");
        assert!(!stdout.contains("matrix: skipped"), "{}", report(&out));
    }
}

/// A bulk file's Matrix rows: the provider from the registry, each handle read with Matrix's
/// rules (no `native:` prefix), one result line per row.
#[test]
fn bulk_rows_reach_matrix_by_name() {
    let synapse = harness::shared();
    let owner = synapse.user("bulkowner", false).unwrap();
    let a = synapse.user("bulka", false).unwrap();
    let b = synapse.user("bulkb", false).unwrap();
    let room = synapse.room(&owner, &[&a, &b], json!({})).unwrap();
    let dir = std::env::temp_dir().join(format!("rosterkit-matrix-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rows.csv");
    std::fs::write(
        &file,
        format!(
            "op,provider,chat,handle\nremove,matrix,{room},{}\nremove,matrix,{room},{}\n",
            a.user_id, b.user_id
        ),
    )
    .unwrap();
    let out = rosterkit(
        synapse,
        &owner.token,
        &["bulk", "--file", file.to_str().unwrap(), "-q"],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", report(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", report(&out));
    for line in &lines {
        assert_eq!(line["provider"], "matrix", "{line}");
        assert_eq!(line["outcome"], "applied", "{line}");
    }
    for user in [&a, &b] {
        let state = synapse.member_state(&owner, &room, &user.user_id).unwrap();
        assert_eq!(state["membership"], "leave", "{state}");
    }
}
