//! The HTTP control plane under `/_sandbox`: info, faults, journal and clock. Provider-specific
//! control routes (seeding) are mounted by each provider under `/_sandbox/<provider>`.

use std::net::IpAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::app::Emulators;
use crate::fault::Fault;
use crate::framework::{ClientOrigin, Framework};
use crate::provider::Provider;

/// An error from the control plane: `{"error": "<message>"}` with a 4xx status.
#[derive(Debug)]
pub(crate) struct ControlError {
    status: StatusCode,
    message: String,
}

impl ControlError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ControlError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl ControlError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ControlError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

/// Parses a JSON request body, answering 400 with the parser's message on failure.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    serde_json::from_slice(body)
        .map_err(|e| ControlError::bad_request(format!("invalid JSON: {e}")))
}

/// Whether `host` (a `Host` header or an origin's host, port allowed) names loopback:
/// `localhost`, `*.localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<http::uri::Authority>() else {
        return false;
    };
    let name = authority.host();
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Guards the control plane (`/_sandbox/...`) against web pages in the user's browser:
/// `Host` must name loopback (DNS rebinding → 403), an `Origin` header, when present, must be
/// a loopback origin (cross-site → 403), and a request with a body must be
/// `application/json` (a form or `text/plain` post → 415). Emulator routes are not affected.
pub(crate) async fn guard(request: Request, next: Next) -> Response {
    match check_control_request(&request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check_control_request(request: &Request) -> Result<(), ControlError> {
    let path = request.uri().path();
    if path != "/_sandbox" && !path.starts_with("/_sandbox/") {
        return Ok(());
    }
    let headers = request.headers();
    let text = |name: http::header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if !text(http::header::HOST).is_some_and(is_loopback_host) {
        return Err(ControlError::new(
            StatusCode::FORBIDDEN,
            "the control plane answers only requests whose Host is a loopback name or address",
        ));
    }
    if let Some(origin) = headers.get(http::header::ORIGIN) {
        let loopback = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(scheme, host)| {
                matches!(scheme, "http" | "https") && is_loopback_host(host)
            });
        if !loopback {
            return Err(ControlError::new(
                StatusCode::FORBIDDEN,
                "the control plane refuses requests from non-loopback origins",
            ));
        }
    }
    let has_body = headers.contains_key(http::header::TRANSFER_ENCODING)
        || text(http::header::CONTENT_LENGTH).is_some_and(|l| l.trim() != "0");
    if has_body {
        let json = text(http::header::CONTENT_TYPE).is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return Err(ControlError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "control-plane bodies must be sent as Content-Type: application/json",
            ));
        }
    }
    Ok(())
}

/// For raw-socket tests: the `Host` (and, for a control-plane body, `Content-Type`) header
/// lines a well-behaved local client of `addr` sends for `target`.
#[cfg(test)]
pub(crate) fn test_host_lines(addr: std::net::SocketAddr, target: &str, body_len: usize) -> String {
    match (target.starts_with("/_sandbox"), body_len) {
        (false, _) => "host: sandbox\r\n".to_owned(),
        (true, 0) => format!("host: {addr}\r\n"),
        (true, _) => format!("host: {addr}\r\ncontent-type: application/json\r\n"),
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ControlCtx {
    pub(crate) framework: Framework,
    pub(crate) emulators: Emulators,
    pub(crate) base_url: String,
}

pub(crate) fn router(ctx: ControlCtx) -> Router {
    Router::new()
        .route("/_sandbox/health", get(health))
        .route("/_sandbox/info", get(info))
        .route(
            "/_sandbox/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/_sandbox/journal", get(journal).delete(clear_journal))
        .route("/_sandbox/clock", get(clock).put(set_clock))
        .with_state(ctx)
}

async fn health() -> Response {
    axum::Json(json!({ "ok": true })).into_response()
}

/// The URLs use the scheme and host the client used (a loopback name: see [`guard`]).
async fn info(State(ctx): State<ControlCtx>, ClientOrigin(origin): ClientOrigin) -> Response {
    let base_url = origin.unwrap_or_else(|| ctx.base_url.clone());
    axum::Json(ctx.emulators.info(&base_url)).into_response()
}

async fn list_faults(State(ctx): State<ControlCtx>) -> Response {
    axum::Json(json!({ "faults": ctx.framework.faults.pending() })).into_response()
}

/// Accepts one fault object or an array of them.
async fn add_faults(State(ctx): State<ControlCtx>, body: Bytes) -> Result<Response, ControlError> {
    let value: Value = parse_json(&body)?;
    let faults: Vec<Fault> = if value.is_array() {
        serde_json::from_value(value)
    } else {
        serde_json::from_value(value).map(|f| vec![f])
    }
    .map_err(|e| ControlError::bad_request(format!("invalid fault: {e}")))?;
    for fault in faults {
        ctx.framework.faults.inject(fault);
    }
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "pending": ctx.framework.faults.len() })),
    )
        .into_response())
}

async fn clear_faults(State(ctx): State<ControlCtx>) -> StatusCode {
    ctx.framework.faults.clear();
    StatusCode::NO_CONTENT
}

/// `?provider=chert` keeps one provider's entries; `?since=N` keeps entries with `seq > N`.
async fn journal(
    State(ctx): State<ControlCtx>,
    RawQuery(query): RawQuery,
) -> Result<Response, ControlError> {
    let mut provider: Option<Provider> = None;
    let mut since: u64 = 0;
    for pair in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "provider" => {
                provider = Some(
                    value
                        .parse()
                        .map_err(|e| ControlError::bad_request(format!("{e}")))?,
                );
            }
            "since" => {
                since = value
                    .parse()
                    .map_err(|_| ControlError::bad_request("since must be an integer"))?;
            }
            other => {
                return Err(ControlError::bad_request(format!(
                    "unknown query parameter {other:?} (expected provider, since)"
                )));
            }
        }
    }
    let entries: Vec<_> = ctx
        .framework
        .journal
        .entries()
        .into_iter()
        .filter(|e| e.seq > since && provider.is_none_or(|p| e.provider == p))
        .collect();
    Ok(axum::Json(json!({ "entries": entries })).into_response())
}

async fn clear_journal(State(ctx): State<ControlCtx>) -> StatusCode {
    ctx.framework.journal.clear();
    StatusCode::NO_CONTENT
}

fn clock_json(framework: &Framework) -> Response {
    let clock = &framework.clock;
    axum::Json(json!({
        "offset_secs": clock.offset_secs(),
        "pinned_unix": clock.pinned(),
        "now_unix": clock.now_unix(),
    }))
    .into_response()
}

async fn clock(State(ctx): State<ControlCtx>) -> Response {
    clock_json(&ctx.framework)
}

/// Body: `{"offset_secs": i64}` and/or `{"pinned_unix": u64 | null}` (null unpins).
async fn set_clock(State(ctx): State<ControlCtx>, body: Bytes) -> Result<Response, ControlError> {
    let value: Value = parse_json(&body)?;
    let Some(object) = value.as_object() else {
        return Err(ControlError::bad_request("expected a JSON object"));
    };
    let offset = match object.get("offset_secs") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| ControlError::bad_request("offset_secs must be an integer"))?,
        ),
    };
    let pinned = match object.get("pinned_unix") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(v.as_u64().ok_or_else(|| {
            ControlError::bad_request("pinned_unix must be a non-negative integer or null")
        })?)),
    };
    if let Some(offset) = offset {
        ctx.framework.clock.set_offset_secs(offset);
    }
    if let Some(pinned) = pinned {
        ctx.framework.clock.pin(pinned);
    }
    Ok(clock_json(&ctx.framework))
}
