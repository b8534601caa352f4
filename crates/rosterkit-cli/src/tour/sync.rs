//! Roster sync on ACS: plan a desired roster (reads only), apply it (adds before removes),
//! then plan again and find nothing left to do; a desired roster that would empty the group is
//! refused before anything is sent.

use rosterkit::{
    ChatId, Error, Handle,
    acs::{AcsClient, Pacing},
    sync::{self, ApplyOptions, OwnLine, Plan, Rules, SyncError, SyncOptions},
};
use rosterkit_sandbox::{Provider, Sandbox};

use super::Tour;

const P: &str = "sync";

pub(crate) async fn run(sandbox: &Sandbox, tour: &mut Tour) {
    if let Err(e) = steps(sandbox, tour).await {
        tour.step(P, "setup", "a working client", e, false);
    }
}

/// The mutation requests (`:add` / `:remove`) ACS received, in arrival order.
fn changes(sandbox: &Sandbox) -> Vec<&'static str> {
    let mut entries = sandbox.journal().entries_for(Provider::Acs);
    entries.sort_by_key(|e| e.seq);
    entries
        .iter()
        .filter_map(|e| {
            if e.path.contains("/participants/:add") {
                Some("add")
            } else if e.path.contains("/participants/:remove") {
                Some("remove")
            } else {
                None
            }
        })
        .collect()
}

fn diff(plan: &Plan) -> String {
    plan.to_string().trim_end().replace('\n', ", ")
}

async fn steps(sandbox: &Sandbox, tour: &mut Tour) -> Result<(), Error> {
    let info = sandbox.info().acs;
    let client = AcsClient::builder()
        .base_url(info.endpoint)
        .user_token(info.user_token)
        .pacing(Pacing::off())
        .build()?;
    let member = |i: u32| format!("8:acs:tour_sync_{i}");
    let thread = sandbox.acs().create_thread(&[
        rosterkit_sandbox::acs::DEFAULT_USER_ID,
        &member(1),
        &member(2),
        &member(3),
    ]);
    let chat = ChatId::new(thread)?;
    let own: Handle = rosterkit_sandbox::acs::DEFAULT_USER_ID.parse()?;
    let options = SyncOptions::new(Rules::default().with_own_line(OwnLine::Handle(own)));
    let desired: Vec<Handle> = [2, 3, 4]
        .into_iter()
        .map(|i| member(i).parse())
        .collect::<Result<_, _>>()?;
    let as_error = |e: SyncError| Error::from(e);

    let before = changes(sandbox).len();
    let plan = sync::plan(&client, &chat, &desired, &options)
        .await
        .map_err(as_error)?;
    let sent = changes(sandbox).len() - before;
    // Kept: members 2 and 3, and our own line, which a plan never touches.
    let want_plan = format!("+ {}, - {}, = 3 kept", member(4), member(1));
    tour.step(
        P,
        "plan a desired roster (reads only)",
        format!("{want_plan}; 0 changes sent"),
        format!("{}; {sent} changes sent", diff(&plan)),
        diff(&plan) == want_plan && sent == 0,
    );

    let report = sync::apply(&client, &plan, &ApplyOptions::default())
        .await
        .map_err(as_error)?;
    let order: Vec<&str> = changes(sandbox)[before..].to_vec();
    let now = sandbox
        .acs()
        .participants(chat.as_str())
        .unwrap_or_default();
    let reached = [2, 3, 4].iter().all(|&i| now.contains(&member(i))) && !now.contains(&member(1));
    tour.step(
        P,
        "apply it: adds before removes",
        "complete; sent [add, remove]; roster as desired",
        format!(
            "{}; sent [{}]; roster {}",
            if report.is_complete() {
                "complete"
            } else {
                "incomplete"
            },
            order.join(", "),
            if reached { "as desired" } else { "differs" }
        ),
        report.is_complete() && order == ["add", "remove"] && reached,
    );

    let again = sync::plan(&client, &chat, &desired, &options)
        .await
        .map_err(as_error)?;
    tour.step(
        P,
        "plan again: converged",
        "nothing to change",
        if again.is_empty() {
            "nothing to change".to_owned()
        } else {
            diff(&again)
        },
        again.is_empty(),
    );

    let before = changes(sandbox).len();
    let emptied = sync::plan(&client, &chat, &[], &options).await;
    let sent = changes(sandbox).len() - before;
    tour.step(
        P,
        "an empty desired roster is refused",
        "refused; 0 changes sent",
        match &emptied {
            Ok(p) => format!("planned {}", diff(p)),
            Err(e) => format!("refused ({e}); {sent} changes sent"),
        },
        matches!(emptied, Err(SyncError::Refused(_))) && sent == 0,
    );
    Ok(())
}
