//! What every emulator shares: the journal and fault layer wrapped around each provider's
//! routes, the per-request effect log, and the per-connection kill switch.
//!
//! A provider module (`src/<provider>/`) exposes `pub(crate) fn router(..) -> ProviderRouter`
//! and is mounted with one [`mount`] call in `app.rs`. Its handlers record state changes with
//! the [`Effects`] extractor; everything else (journal, faults, dropping connections) happens
//! here, outside the provider's own middleware.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::fault::{FaultAction, Faults};
use crate::journal::{Journal, JournalEntry};
use crate::provider::Provider;
use crate::sync::lock;

/// The framework state shared by every emulator and the control plane.
#[derive(Debug, Clone)]
pub(crate) struct Framework {
    pub(crate) journal: Journal,
    pub(crate) faults: Faults,
    pub(crate) clock: Clock,
    /// The largest request body an emulator accepts (bytes); larger ones get a bare 413.
    pub(crate) body_limit: usize,
    /// Bounds the request bodies being buffered at once, across all connections.
    pub(crate) body_budget: BodyBudget,
}

/// The bytes of request bodies all connections together may hold while they are read:
/// 64 MiB. A request reserves its `Content-Length` (or the body limit when it has none)
/// before its body is read, and waits while the budget is spent.
pub(crate) const IN_FLIGHT_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A shared budget of [`IN_FLIGHT_BODY_BYTES`] for bodies being buffered.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget(Arc<Semaphore>);

impl Default for BodyBudget {
    fn default() -> Self {
        BodyBudget(Arc::new(Semaphore::new(IN_FLIGHT_BODY_BYTES)))
    }
}

impl BodyBudget {
    /// Reserves `bytes` (at most the whole budget) until the returned permit is dropped.
    async fn reserve(&self, bytes: u64) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let capped = bytes.min(IN_FLIGHT_BODY_BYTES as u64);
        let permits = u32::try_from(capped).unwrap_or(u32::MAX);
        self.0.acquire_many(permits).await.ok()
    }
}

/// How the client reached the sandbox, put in every request's extensions by the accept loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    /// Whether the connection is TLS (`https`).
    pub(crate) tls: bool,
}

/// The origin the client used, `scheme://host[:port]` from the connection and the `Host`
/// header, for absolute URLs in replies; `None` without a usable `Host`.
#[derive(Debug, Clone)]
pub(crate) struct ClientOrigin(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientOrigin {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let tls = parts.extensions.get::<ConnInfo>().is_some_and(|c| c.tls);
        let scheme = if tls { "https" } else { "http" };
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.parse::<http::uri::Authority>().is_ok());
        Ok(ClientOrigin(host.map(|h| format!("{scheme}://{h}"))))
    }
}

/// A provider's routes, ready to be mounted.
#[derive(Debug)]
pub(crate) struct ProviderRouter {
    /// Which provider; decides the mount path and the journal's `provider` field.
    pub(crate) provider: Provider,
    /// The emulated API, with paths relative to [`Provider::mount_path`]. Give it a fallback
    /// in the provider's own error format: unmatched paths under the mount path land there.
    pub(crate) api: Router,
    /// Provider-specific control-plane routes, relative to `/_sandbox/<provider>`.
    pub(crate) control: Router,
}

/// Mounts a provider: its API under [`Provider::mount_path`], wrapped in the journal and fault
/// layer, and its control routes under `/_sandbox/<provider>`.
pub(crate) fn mount(app: Router, framework: &Framework, routes: ProviderRouter) -> Router {
    let ctx = MountCtx {
        provider: routes.provider,
        framework: framework.clone(),
    };
    let api = routes
        .api
        .layer(middleware::from_fn_with_state(ctx, emulator_layer));
    let control_path = format!("/_sandbox/{}", routes.provider.as_str());
    app.nest(routes.provider.mount_path(), api)
        .nest(&control_path, routes.control)
}

/// The connection's kill switch, put in every request's extensions by the accept loop.
/// Triggering it makes the connection task drop the connection without a response.
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub(crate) Arc<Notify>);

/// The request target (path and query) exactly as received, before any routing stripped a
/// prefix; put in every request's extensions by the accept loop.
#[derive(Debug, Clone)]
pub(crate) struct RawTarget(pub(crate) String);

impl RawTarget {
    /// The target as received, or the URI's path and query outside the accept loop.
    pub(crate) fn of(parts: &Parts) -> String {
        parts.extensions.get::<RawTarget>().map_or_else(
            || {
                parts
                    .uri
                    .path_and_query()
                    .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned())
            },
            |raw| raw.0.clone(),
        )
    }
}

/// The state changes applied while handling one request, collected for the journal.
///
/// As an extractor it never fails: outside the framework layer it is a detached collector.
#[derive(Debug, Clone, Default)]
pub(crate) struct Effects(Arc<Mutex<Vec<String>>>);

impl Effects {
    /// Records one applied state change, e.g. `"chert:remove ch_X +14155551234"`.
    pub(crate) fn record(&self, effect: String) {
        lock(&self.0).push(effect);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Effects {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Effects>()
            .cloned()
            .unwrap_or_default())
    }
}

#[derive(Debug, Clone)]
struct MountCtx {
    provider: Provider,
    framework: Framework,
}

/// Buffers the body, records the request in the journal and applies the first matching fault.
async fn emulator_layer(State(ctx): State<MountCtx>, request: Request, next: Next) -> Response {
    let fw = &ctx.framework;
    let seq = fw.journal.next_seq();
    let received_at = fw.journal.elapsed();
    let (mut parts, body) = request.into_parts();
    let path = RawTarget::of(&parts);
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut entry = JournalEntry {
        seq,
        provider: ctx.provider,
        method: parts.method.as_str().to_owned(),
        path,
        headers,
        body: bytes::Bytes::new(),
        status: None,
        fault: None,
        effects: Vec::new(),
        received_at,
        finished_at: received_at,
    };
    let limit = u64::try_from(fw.body_limit).unwrap_or(u64::MAX);
    let expected = axum::body::HttpBody::size_hint(&body)
        .upper()
        .map_or(limit, |upper| upper.min(limit));
    let reservation = fw.body_budget.reserve(expected).await;
    let buffered = axum::body::to_bytes(body, fw.body_limit).await;
    drop(reservation);
    let Ok(body) = buffered else {
        // Too large, or the client went away mid-body: nothing reached the emulator.
        entry.status = Some(StatusCode::PAYLOAD_TOO_LARGE.as_u16());
        entry.finished_at = fw.journal.elapsed();
        fw.journal.push(entry);
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    entry.body = body.clone();
    let action = fw
        .faults
        .take(ctx.provider, &parts.method, &entry.path, &entry.body);
    entry.fault = action.as_ref().map(FaultAction::kind);

    let effects = Effects::default();
    parts.extensions.insert(effects.clone());
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let request = Request::from_parts(parts, Body::from(body));
    // From here on the entry is journaled exactly once: by `finish`, or on drop if the client
    // goes away and hyper drops this future mid-request (status `None`).
    let recorder = Recorder {
        journal: fw.journal.clone(),
        effects,
        entry: Some(entry),
    };

    match action {
        Some(respond @ (FaultAction::Respond { .. } | FaultAction::RespondRaw { .. })) => {
            let response = respond
                .to_response()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
            recorder.finish(Some(response.status()));
            response
        }
        Some(FaultAction::DropConnection) => {
            recorder.finish(None);
            drop_connection(kill).await
        }
        Some(FaultAction::DropAfterApply) => {
            drop(next.run(request).await);
            recorder.finish(None);
            drop_connection(kill).await
        }
        Some(FaultAction::Latency(delay)) => {
            tokio::time::sleep(delay).await;
            let response = next.run(request).await;
            recorder.finish(Some(response.status()));
            response
        }
        None => {
            let response = next.run(request).await;
            recorder.finish(Some(response.status()));
            response
        }
    }
}

/// Journals one entry, with the effects collected while handling it, exactly once.
struct Recorder {
    journal: Journal,
    effects: Effects,
    entry: Option<JournalEntry>,
}

impl Recorder {
    fn finish(mut self, status: Option<StatusCode>) {
        self.record(status);
    }

    fn record(&mut self, status: Option<StatusCode>) {
        if let Some(mut entry) = self.entry.take() {
            entry.status = status.map(|s| s.as_u16());
            entry.effects = self.effects.take();
            entry.finished_at = self.journal.elapsed();
            self.journal.push(entry);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.record(None);
    }
}

/// Trips the connection's kill switch and never answers: the connection task drops the
/// connection (and this future with it). Without a connection (a router driven in-process),
/// answers a bare 502 instead of hanging.
async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(ConnKill(notify)) => {
            notify.notify_one();
            std::future::pending::<Response>().await
        }
        None => StatusCode::BAD_GATEWAY.into_response(),
    }
}
