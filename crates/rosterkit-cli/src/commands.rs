//! `remove`, `add`, `leave` and `list`.

use std::process::ExitCode;

use std::sync::Arc;

use rosterkit::{
    ChangeOptions, ChatId, ClientOptions, Confirm, ConnectOptions, Error, ErrorKind, Handle,
    Membership, Outcome, Provider, ProviderName,
};

use crate::{
    args::{self, Common, Handles, LeaveArgs, ListArgs, Wait},
    env, messages,
    output::{self, Record},
};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Every operation succeeded.
    Ok,
    /// At least one operation failed at the provider.
    Failed,
    /// Bad input or usage: nothing was sent.
    Usage,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        match e {
            Exit::Ok => Self::SUCCESS,
            Exit::Failed => Self::from(1),
            Exit::Usage => Self::from(2),
        }
    }
}

/// Input refused before any request: printed to stderr, exit 2.
pub(crate) fn usage(message: impl std::fmt::Display) -> Exit {
    crate::eprint_line(&format!("error: {message}"));
    Exit::Usage
}

pub(crate) struct Prepared {
    provider: ProviderName,
    /// The provider's rules: how its handles parse.
    rules: Arc<dyn Provider>,
    pub(crate) client: Box<dyn Membership>,
    pub(crate) chat: ChatId,
}

/// Checks the flags against the provider and the environment, then connects; every problem
/// here is a usage error and nothing has been sent.
pub(crate) fn prepare(
    common: &Common,
    used: &[(&str, bool)],
    verify: bool,
) -> Result<Prepared, Exit> {
    let provider = ProviderName::from(common.provider);
    let rules = common.provider.rules().map_err(usage)?;
    args::check_flags(provider, used).map_err(usage)?;
    let missing = env::missing(provider, common.base_url.is_some(), |name| {
        std::env::var(name).ok()
    });
    if !missing.is_empty() {
        return Err(usage(env::missing_message(provider, &missing)));
    }
    let chat = ChatId::new(common.chat.as_str()).map_err(usage)?;
    let retries = common.attempts.policy();
    let confirm = if verify {
        Confirm::ReadBack
    } else {
        Confirm::Trust
    };
    let mut options = ConnectOptions::default().with_client_options(
        ClientOptions::default()
            .retry_policy(retries)
            .allow_insecure_http(common.allow_insecure_http)
            .confirm(confirm),
    );
    if let Some(url) = &common.base_url {
        options = options.with_base_url(url.clone());
    }
    let client = rules
        .connect(options)
        .map_err(|e| usage(messages::for_cli(&e)))?;
    Ok(Prepared {
        provider,
        rules,
        client,
        chat,
    })
}

/// Parses handles with the provider's rules and checks it accepts their kind, before any
/// request.
fn parse_handles(
    raw: &[String],
    rules: &dyn Provider,
    client: &dyn Membership,
) -> Result<Vec<Handle>, Exit> {
    let accepted = client.capabilities().handles;
    raw.iter()
        .map(|text| {
            let handle = rules.parse_handle(text).map_err(usage)?;
            if !accepted.accepts(&handle) {
                return Err(usage(format!(
                    "{} does not accept {} handles ({})",
                    client.provider(),
                    handle.kind_name(),
                    handle.redacted()
                )));
            }
            Ok(handle)
        })
        .collect()
}

/// Exit code for a set of records: a local refusal (nothing sent) is usage, else any failure.
fn exit_for(records: &[Record], errors: &[&Error]) -> Exit {
    if errors
        .iter()
        .any(|e| e.kind() == ErrorKind::InvalidInput && e.attempts() == 0)
    {
        Exit::Usage
    } else if records.iter().any(Record::failed) {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

fn finish(records: &[Record], errors: &[&Error], json: bool) -> Exit {
    if let Err(e) = output::print(records, json) {
        // A closed pipe (`| head`) is not worth a message, as with other Unix tools.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            crate::eprint_line(&format!("error: writing output: {e}"));
        }
        return Exit::Failed;
    }
    exit_for(records, errors)
}

/// The records of a change, with the CLI's wording for errors and the notes of waits.
fn records_of(
    provider: ProviderName,
    operation: &'static str,
    chat: &ChatId,
    handles: &[Option<&Handle>],
    results: &[(Result<Outcome, Error>, Option<String>)],
    common: &Common,
) -> Vec<Record> {
    handles
        .iter()
        .zip(results)
        .map(|(h, (result, note))| {
            let mut record = Record::new(provider.as_str(), operation, chat.as_str(), *h, result);
            if let Some(note) = note {
                record.note = Some(note.clone());
            }
            if let (Err(e), Some(error)) = (result, record.error.as_mut()) {
                error.message = messages::for_cli_at(e, provider, common.base_url.as_deref());
            }
            record
        })
        .collect()
}

/// `remove` (`add == false`) or `add`.
pub(crate) async fn change(
    common: &Common,
    handles: &Handles,
    ensure: bool,
    wait: &Wait,
    add: bool,
) -> Exit {
    let used = [("--wait", wait.wait), ("--verify", handles.verify)];
    let Prepared {
        provider,
        rules,
        client,
        chat,
    } = match prepare(common, &used, handles.verify) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let parsed = match parse_handles(&handles.handles, rules.as_ref(), client.as_ref()) {
        Ok(h) => h,
        Err(exit) => return exit,
    };
    let options = ChangeOptions::default().with_ensure(ensure);
    let results = if add {
        client.add_participants(&chat, &parsed, options).await
    } else {
        client.remove_participants(&chat, &parsed, options).await
    };
    let results = if wait.wait {
        crate::wait::confirm(client.as_ref(), wait, &chat, &parsed, results, add).await
    } else {
        results.into_iter().map(|r| (r, None)).collect()
    };
    let operation = if add { "add" } else { "remove" };
    let refs: Vec<Option<&Handle>> = parsed.iter().map(Some).collect();
    let records = records_of(provider, operation, &chat, &refs, &results, common);
    let errors: Vec<&Error> = results
        .iter()
        .filter_map(|(r, _)| r.as_ref().err())
        .collect();
    finish(&records, &errors, common.json)
}

/// `leave`.
pub(crate) async fn leave(args: &LeaveArgs) -> Exit {
    let common = &args.common;
    let Prepared {
        provider,
        client,
        chat,
        ..
    } = match prepare(common, &[("--wait", args.wait.wait)], false) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let options = ChangeOptions::default().with_ensure(args.ensure);
    let result = client.leave(&chat, options).await;
    let result = if args.wait.wait {
        crate::wait::confirm_leave(client.as_ref(), &args.wait, &chat, result).await
    } else {
        (result, None)
    };
    let records = records_of(
        provider,
        "leave",
        &chat,
        &[None],
        std::slice::from_ref(&result),
        common,
    );
    let errors: Vec<&Error> = result.0.as_ref().err().into_iter().collect();
    finish(&records, &errors, common.json)
}

/// `list`.
pub(crate) async fn list(args: &ListArgs) -> Exit {
    let common = &args.common;
    let Prepared {
        provider,
        client,
        chat,
        ..
    } = match prepare(common, &[], false) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    if !client.capabilities().list {
        // Known before any request: a usage error (exit 2), like a flag the provider lacks.
        return usage(format!(
            "{provider} has no route that lists a chat's members; its roster comes only with              add and remove replies (use add or remove with --json to see it); nothing was sent"
        ));
    }
    let result = client.participants(&chat).await;
    let mut record = Record::listed(provider.as_str(), chat.as_str(), &result);
    if let (Err(e), Some(error)) = (&result, record.error.as_mut()) {
        error.message = messages::for_cli_at(e, provider, common.base_url.as_deref());
    }
    let errors: Vec<&Error> = result.as_ref().err().into_iter().collect();
    finish(&[record], &errors, common.json)
}
