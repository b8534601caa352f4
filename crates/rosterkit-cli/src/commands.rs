//! `remove`, `add`, `leave` and `list`.

use std::process::ExitCode;

use rosterkit::{
    ChangeOptions, ChatId, ClientOptions, Confirm, ConnectOptions, Error, ErrorKind, Handle,
    Membership, ProviderKind, RetryPolicy,
};

use crate::{
    args::{ChangeArgs, ChatArgs, Common},
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
fn usage(message: impl std::fmt::Display) -> Exit {
    crate::eprint_line(&format!("error: {message}"));
    Exit::Usage
}

struct Prepared {
    provider: ProviderKind,
    client: Box<dyn Membership>,
    chat: ChatId,
}

fn prepare(common: &Common, verify: bool) -> Result<Prepared, Exit> {
    let provider: ProviderKind = common.provider.parse().map_err(usage)?;
    let chat = ChatId::new(common.chat.as_str()).map_err(usage)?;
    let retries = RetryPolicy::default().with_max_attempts(common.max_retries.saturating_add(1));
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
    let client = rosterkit::connect_with(provider, options).map_err(usage)?;
    Ok(Prepared {
        provider,
        client,
        chat,
    })
}

/// Parses handles and checks the provider accepts their kind, before any request.
fn parse_handles(raw: &[String], client: &dyn Membership) -> Result<Vec<Handle>, Exit> {
    let accepted = client.capabilities().handles;
    raw.iter()
        .map(|text| {
            let handle: Handle = text.parse().map_err(usage)?;
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
        crate::eprint_line(&format!("error: writing output: {e}"));
        return Exit::Failed;
    }
    exit_for(records, errors)
}

/// `remove` (`add == false`) or `add`.
pub(crate) async fn change(args: ChangeArgs, add: bool) -> Exit {
    let Prepared {
        provider,
        client,
        chat,
    } = match prepare(&args.common, args.verify) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let handles = match parse_handles(&args.handles, client.as_ref()) {
        Ok(h) => h,
        Err(exit) => return exit,
    };
    let options = ChangeOptions::default().with_ensure(args.ensure);
    let mut results = if add {
        client.add_participants(&chat, &handles, options).await
    } else {
        client.remove_participants(&chat, &handles, options).await
    };
    if args.wait {
        results = crate::wait::confirm(provider, &args.common, &chat, &handles, results, add).await;
    }
    let operation = if add { "add" } else { "remove" };
    let records: Vec<Record> = handles
        .iter()
        .zip(&results)
        .map(|(h, r)| Record::new(provider.as_str(), operation, chat.as_str(), Some(h), r))
        .collect();
    let errors: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    finish(&records, &errors, args.common.json)
}

/// `leave`.
pub(crate) async fn leave(args: ChatArgs) -> Exit {
    let Prepared {
        provider,
        client,
        chat,
    } = match prepare(&args.common, false) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let options = ChangeOptions::default().with_ensure(args.ensure);
    let mut result = client.leave(&chat, options).await;
    if args.wait {
        result = crate::wait::confirm_leave(provider, &args.common, &chat, result).await;
    }
    let records = [Record::new(
        provider.as_str(),
        "leave",
        chat.as_str(),
        None,
        &result,
    )];
    let errors: Vec<&Error> = result.as_ref().err().into_iter().collect();
    finish(&records, &errors, args.common.json)
}

/// `list`.
pub(crate) async fn list(args: ChatArgs) -> Exit {
    let Prepared {
        provider,
        client,
        chat,
    } = match prepare(&args.common, false) {
        Ok(p) => p,
        Err(exit) => return exit,
    };
    let result = client.participants(&chat).await;
    let records = [Record::listed(provider.as_str(), chat.as_str(), &result)];
    let errors: Vec<&Error> = result.as_ref().err().into_iter().collect();
    finish(&records, &errors, args.common.json)
}
