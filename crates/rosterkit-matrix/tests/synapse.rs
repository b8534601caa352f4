//! rosterkit-matrix against a real Synapse homeserver (installed by the harness on first use):
//! every `Membership` operation, ensure mode, and the error cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

use std::time::Duration;

use harness::{Synapse, User, shared};
use rosterkit_core::{
    ChangeOptions, ChatId, ErrorKind, Handle, Membership, NativeId, Outcome, Reason, RetryPolicy,
};
use rosterkit_matrix::MatrixClient;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn client(synapse: &Synapse, user: &User) -> MatrixClient {
    client_with(synapse, user, RetryPolicy::no_retries())
}

fn client_with(synapse: &Synapse, user: &User, policy: RetryPolicy) -> MatrixClient {
    MatrixClient::builder()
        .homeserver(&synapse.base_url)
        .access_token(&user.token)
        .retry_policy(policy)
        .build()
        .unwrap()
}

fn handle(user: &User) -> Handle {
    Handle::Native(NativeId::new(user.user_id.as_str()).unwrap())
}

/// An owner (room creator, power 100) and two plain members, all joined.
struct Room {
    id: ChatId,
    owner: User,
    bob: User,
    carol: User,
}

fn room(synapse: &Synapse, extra: serde_json::Value) -> Result<Room, String> {
    let owner = synapse.user("owner", false)?;
    let bob = synapse.user("bob", false)?;
    let carol = synapse.user("carol", false)?;
    let id = synapse.room(&owner, &[&bob, &carol], extra)?;
    let id = ChatId::new(id).map_err(|e| e.to_string())?;
    Ok(Room {
        id,
        owner,
        bob,
        carol,
    })
}

fn members(list: &[rosterkit_core::Participant]) -> Vec<String> {
    let mut ids: Vec<String> = list.iter().map(|p| p.handle.as_str().to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_removes_a_member_and_records_the_reason() -> TestResult {
    let synapse = shared();
    let r = room(synapse, json!({}))?;
    let matrix: Box<dyn Membership> = Box::new(client(synapse, &r.owner));
    let reason = Reason::new("left the team")?;
    let outcome = matrix
        .remove_participant(
            &r.id,
            &handle(&r.bob),
            ChangeOptions::default().with_reason(reason),
        )
        .await?;
    assert_eq!(outcome, Outcome::applied(None));
    let left = members(&matrix.participants(&r.id).await?);
    assert!(!left.contains(&r.bob.user_id), "{left:?}");
    assert!(left.contains(&r.carol.user_id), "{left:?}");
    let state = synapse.member_state(&r.owner, r.id.as_str(), &r.bob.user_id)?;
    assert_eq!(state["membership"], "leave", "{state}");
    assert_eq!(state["reason"], "left the team", "{state}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kicking_a_non_member_is_not_a_member_or_already_done_in_ensure_mode() -> TestResult {
    let synapse = shared();
    let r = room(synapse, json!({}))?;
    let stranger = synapse.user("stranger", false)?;
    let matrix = client(synapse, &r.owner);
    let err = matrix
        .remove_participant(&r.id, &handle(&stranger), ChangeOptions::default())
        .await
        .err()
        .ok_or("kicking a non-member succeeded")?;
    assert_eq!(err.kind(), ErrorKind::NotAMember, "{err}");
    assert_eq!(err.http_status(), Some(403));
    assert_eq!(err.code(), Some("M_FORBIDDEN"));
    assert_eq!(err.provider(), Some("matrix"));
    // Kicked twice: the second is "already done" in ensure mode.
    let bob = handle(&r.bob);
    assert_eq!(
        matrix
            .remove_participant(&r.id, &bob, ChangeOptions::ensure())
            .await?,
        Outcome::applied(None)
    );
    assert!(matches!(
        matrix
            .remove_participant(&r.id, &bob, ChangeOptions::ensure())
            .await?,
        Outcome::AlreadyDone { .. }
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_member_may_not_kick_another() -> TestResult {
    let synapse = shared();
    let r = room(synapse, json!({}))?;
    let as_bob = client(synapse, &r.bob);
    for options in [ChangeOptions::default(), ChangeOptions::ensure()] {
        let err = as_bob
            .remove_participant(&r.id, &handle(&r.carol), options)
            .await
            .err()
            .ok_or("a plain member kicked another")?;
        assert_eq!(err.kind(), ErrorKind::Forbidden, "{err}");
        assert_eq!(err.code(), Some("M_FORBIDDEN"));
        assert_eq!(err.http_status(), Some(403));
    }
    let still = members(&as_bob.participants(&r.id).await?);
    assert!(still.contains(&r.carol.user_id), "{still:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_rooms_per_route() -> TestResult {
    let synapse = shared();
    let owner = synapse.user("owner", false)?;
    let bob = synapse.user("bob", false)?;
    let matrix = client(synapse, &owner);
    for id in ["!doesnotexist:localhost", "!doesnotexist"] {
        let unknown = ChatId::new(id)?;
        let kick = matrix
            .remove_participant(&unknown, &handle(&bob), ChangeOptions::default())
            .await
            .err()
            .ok_or("kick in an unknown room succeeded")?;
        assert_eq!(kick.kind(), ErrorKind::ChatNotFound, "{kick}");
        assert_eq!(
            (kick.http_status(), kick.code()),
            (Some(404), Some("M_UNKNOWN"))
        );
        let leave = matrix
            .leave(&unknown, ChangeOptions::ensure())
            .await
            .err()
            .ok_or("leaving an unknown room succeeded")?;
        assert_eq!(leave.kind(), ErrorKind::ChatNotFound, "{leave}");
        let read = matrix
            .participants(&unknown)
            .await
            .err()
            .ok_or("members of an unknown room")?;
        assert_eq!(read.kind(), ErrorKind::ChatUnavailable, "{read}");
        assert_eq!(
            (read.http_status(), read.code()),
            (Some(403), Some("M_FORBIDDEN"))
        );
        let invite = matrix
            .add_participant(&unknown, &handle(&bob), ChangeOptions::default())
            .await
            .err()
            .ok_or("invite to an unknown room succeeded")?;
        assert_eq!(invite.kind(), ErrorKind::Forbidden, "{invite}");
    }
    let alias = ChatId::new("#nowhere:localhost")?;
    let err = matrix
        .participants(&alias)
        .await
        .err()
        .ok_or("an unknown alias resolved")?;
    assert_eq!(err.kind(), ErrorKind::ChatNotFound, "{err}");
    assert_eq!(err.code(), Some("M_NOT_FOUND"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_then_join_and_inviting_a_member() -> TestResult {
    let synapse = shared();
    let r = room(synapse, json!({}))?;
    let dave = synapse.user("dave", false)?;
    let matrix = client(synapse, &r.owner);
    let dave_handle = handle(&dave);
    let reason = Reason::new("welcome")?;
    let invited = matrix
        .add_participant(
            &r.id,
            &dave_handle,
            ChangeOptions::default().with_reason(reason),
        )
        .await?;
    assert_eq!(invited, Outcome::applied(None));
    let state = synapse.member_state(&r.owner, r.id.as_str(), &dave.user_id)?;
    assert_eq!(state["membership"], "invite", "{state}");
    assert_eq!(state["reason"], "welcome", "{state}");
    // Invited is not joined: not listed yet. Re-inviting is a no-op success.
    assert!(!members(&matrix.participants(&r.id).await?).contains(&dave.user_id));
    assert_eq!(
        matrix
            .add_participant(&r.id, &dave_handle, ChangeOptions::default())
            .await?,
        Outcome::applied(None)
    );
    synapse.expect(
        &dave,
        "POST",
        &format!("/_matrix/client/v3/join/{}", harness::encode(r.id.as_str())),
        Some(json!({})),
    )?;
    let listed = matrix.participants(&r.id).await?;
    let dave_row = listed
        .iter()
        .find(|p| p.handle.as_str() == dave.user_id)
        .ok_or("dave is not listed after joining")?;
    assert_eq!(
        dave_row.display_name.as_deref(),
        dave.user_id
            .strip_prefix('@')
            .and_then(|u| u.split(':').next())
    );
    // Inviting a joined member: conflict, or already done in ensure mode.
    let err = matrix
        .add_participant(&r.id, &dave_handle, ChangeOptions::default())
        .await
        .err()
        .ok_or("inviting a member succeeded")?;
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    assert!(matches!(
        matrix
            .add_participant(&r.id, &dave_handle, ChangeOptions::ensure())
            .await?,
        Outcome::AlreadyDone { .. }
    ));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_and_leave_again() -> TestResult {
    let synapse = shared();
    let r = room(synapse, json!({}))?;
    let as_bob = client(synapse, &r.bob);
    assert_eq!(
        as_bob.leave(&r.id, ChangeOptions::default()).await?,
        Outcome::applied(None)
    );
    // Synapse answers an identical repeat with a no-op 200, and one with another content
    // (here a reason) with 403 "not in room".
    assert_eq!(
        as_bob.leave(&r.id, ChangeOptions::default()).await?,
        Outcome::applied(None)
    );
    let again = ChangeOptions::default().with_reason(Reason::new("really")?);
    let err = as_bob
        .leave(&r.id, again)
        .await
        .err()
        .ok_or("leaving with another reason succeeded")?;
    assert_eq!(err.kind(), ErrorKind::NotAMember, "{err}");
    assert!(matches!(
        as_bob.leave(&r.id, again.with_ensure(true)).await?,
        Outcome::AlreadyDone { .. }
    ));
    let owner_view = members(&client(synapse, &r.owner).participants(&r.id).await?);
    assert!(!owner_view.contains(&r.bob.user_id), "{owner_view:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_version_11_ids_and_aliases() -> TestResult {
    let synapse = shared();
    let r = room(
        synapse,
        json!({"room_version": "11", "room_alias_name": format!("team-{}", std::process::id())}),
    )?;
    assert!(
        r.id.as_str().ends_with(":localhost"),
        "a v11 id has a server part: {}",
        r.id
    );
    let matrix = client(synapse, &r.owner);
    let alias = ChatId::new(format!("#team-{}:localhost", std::process::id()))?;
    assert_eq!(matrix.room_id(&alias).await?, r.id);
    assert_eq!(
        matrix
            .remove_participant(&alias, &handle(&r.carol), ChangeOptions::default())
            .await?,
        Outcome::applied(None)
    );
    let left = members(&matrix.participants(&r.id).await?);
    assert_eq!(left, {
        let mut v = vec![r.owner.user_id.clone(), r.bob.user_id.clone()];
        v.sort();
        v
    });
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_unauthorized() -> TestResult {
    let synapse = shared();
    let r = room(synapse, json!({}))?;
    let nobody = User {
        user_id: r.owner.user_id.clone(),
        token: "syt_not_a_token".to_owned(),
    };
    let err = client(synapse, &nobody)
        .participants(&r.id)
        .await
        .err()
        .ok_or("a bad token was accepted")?;
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    assert_eq!(
        (err.http_status(), err.code()),
        (Some(401), Some("M_UNKNOWN_TOKEN"))
    );
    Ok(())
}

/// The server's `rc_message` allows a burst of 3 membership changes, then one per 2 s; the
/// owner of this room is not exempted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_typed_and_waited_out() -> TestResult {
    let synapse = shared();
    let admin = synapse.user("roomadmin", false)?;
    let limited = synapse.user("limited", true)?;
    let carol = synapse.user("carol", false)?;
    // Room version 12 gives the creator unlimited power: only the limited user is listed.
    let power = json!({"power_level_content_override": {"users": {
        limited.user_id.clone(): 100,
    }}});
    let id = ChatId::new(synapse.room(&admin, &[&limited], power)?)?;
    let matrix = client(synapse, &limited);
    let carol_handle = handle(&carol);
    let mut limited_error = None;
    for _ in 0..12 {
        let result = matrix
            .add_participant(&id, &carol_handle, ChangeOptions::ensure())
            .await
            .and(
                matrix
                    .remove_participant(&id, &carol_handle, ChangeOptions::ensure())
                    .await,
            );
        if let Err(e) = result {
            limited_error = Some(e);
            break;
        }
    }
    let err = limited_error.ok_or("never rate limited")?;
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(
        (err.http_status(), err.code()),
        (Some(429), Some("M_LIMIT_EXCEEDED"))
    );
    assert!(err.is_retryable());
    let wait = err.retry_after().ok_or("no retry_after")?;
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(10),
        "{wait:?}"
    );
    // The executor waits the server's delay and succeeds.
    let patient = client_with(
        synapse,
        &limited,
        RetryPolicy::default().with_max_attempts(5),
    );
    patient
        .add_participant(&id, &carol_handle, ChangeOptions::ensure())
        .await?;
    Ok(())
}

/// Without python3 the harness fails with a message saying what to install: never a skip.
#[test]
fn a_missing_python_is_a_clear_failure() {
    let dir = harness::workspace_target().join(format!("synapse/no-python-{}", std::process::id()));
    let err = harness::install_with(&dir, "rosterkit-no-such-python3").unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        err.contains("rosterkit-no-such-python3 was not found on PATH"),
        "{err}"
    );
    assert!(err.contains("matrix-synapse==1.163.2"), "{err}");
    assert!(err.contains("python3-venv"), "{err}");
}
