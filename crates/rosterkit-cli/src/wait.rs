//! `--wait`: turn Linq's queued changes into confirmed ones by polling the chat.
//!
//! Only Linq queues changes; for the other providers an outcome is already final and `--wait`
//! leaves it as it is.

use rosterkit::{
    ChatId, Error, Handle, Outcome, ProviderKind,
    linq::{Expect, LinqClient, WaitOptions},
};

use crate::args::Common;

fn linq_client(common: &Common) -> Result<LinqClient, Error> {
    let mut builder = LinqClient::builder_from_env()
        .allow_insecure_http(common.allow_insecure_http)
        .retry_policy(
            rosterkit::RetryPolicy::default()
                .with_max_attempts(common.max_retries.saturating_add(1)),
        );
    if let Some(url) = &common.base_url {
        builder = builder.base_url(url.clone());
    }
    builder.build()
}

/// Keeps the queued reply's trace id on the confirmed outcome.
fn confirmed(result: Result<Outcome, Error>, trace_id: Option<&str>) -> Result<Outcome, Error> {
    result.map(|o| {
        if o.trace_id().is_none() {
            o.with_trace_id(trace_id.map(str::to_owned))
        } else {
            o
        }
    })
}

/// Waits for each queued add (`add`) or remove to show in the chat.
pub(crate) async fn confirm(
    provider: ProviderKind,
    common: &Common,
    chat: &ChatId,
    handles: &[Handle],
    results: Vec<Result<Outcome, Error>>,
    add: bool,
) -> Vec<Result<Outcome, Error>> {
    if provider != ProviderKind::Linq {
        return results;
    }
    let client = match linq_client(common) {
        Ok(c) => c,
        Err(e) => {
            let message = e.to_string();
            return results
                .into_iter()
                .map(|_| Err(Error::invalid_input(message.clone())))
                .collect();
        }
    };
    let expect = if add { Expect::Active } else { Expect::Removed };
    let mut out = Vec::with_capacity(results.len());
    for (handle, result) in handles.iter().zip(results) {
        out.push(match result {
            Ok(Outcome::Queued { trace_id }) => {
                let waited = client
                    .wait_for(chat, handle, expect, WaitOptions::default())
                    .await;
                confirmed(waited, trace_id.as_deref())
            }
            other => other,
        });
    }
    out
}

/// Waits for a queued leave to show: our own line `left`, or the chat no longer served.
pub(crate) async fn confirm_leave(
    provider: ProviderKind,
    common: &Common,
    chat: &ChatId,
    result: Result<Outcome, Error>,
) -> Result<Outcome, Error> {
    let Ok(Outcome::Queued { trace_id }) = &result else {
        return result;
    };
    if provider != ProviderKind::Linq {
        return result;
    }
    let waited = linq_client(common)?
        .wait_for_leave(chat, WaitOptions::default())
        .await;
    confirmed(waited, trace_id.as_deref())
}
