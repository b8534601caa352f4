//! Fault injection: make the next matching requests fail, stall or lose their connection.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::provider::Provider;
use crate::sync::lock;

/// A rule that intercepts the next `times` requests to one provider matching a method, a path
/// fragment and a body fragment.
///
/// Over HTTP (`POST /_sandbox/faults`) a fault is a JSON object:
///
/// ```json
/// {"provider":"chert","method":"DELETE","path_contains":"/participants/","times":2,
///  "action":{"kind":"respond","status":503,"headers":[["retry-after","1"]],"body":"oops"}}
/// ```
///
/// `method`, `path_contains`, `body_contains` and `times` (default 1) are optional. The `action` kinds are
/// `respond` (`status`, `headers`, and `body` as text or `body_base64`), `respond_raw` (as
/// `respond`, with each header value in base64: any bytes a header may carry, non-UTF-8
/// included), `latency` (`ms`),
/// `drop_connection`, `drop_after_apply`, and the shortcuts `chert_error` (`status`, `code`,
/// `retryable`, optional `retry_after` and `message`), `linq_error` (`status`, `code`,
/// optional `retry_after` and `message`) and `acs_error` (`status`, `code` such as
/// `"TooManyRequests"`, optional `retry_after` and `message`), which are stored as a `respond`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The emulator whose requests this fault intercepts.
    pub provider: Provider,
    /// Only requests with this method; any method when `None`.
    #[serde(default, with = "opt_method", skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    /// Only requests whose raw path and query (still percent-encoded, mount path included)
    /// contain this string; any path when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_contains: Option<String>,
    /// Only requests whose body contains this string, byte for byte (for providers that name
    /// the chat in the body, such as Z-API); any body when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// How many requests the fault intercepts before it is used up. A fault with `times == 0`
    /// is never stored.
    #[serde(default = "one")]
    pub times: u32,
    /// What to do with an intercepted request.
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl Fault {
    /// A fault intercepting the next request to `provider`, whatever its method and path.
    #[must_use]
    pub fn new(provider: Provider, action: FaultAction) -> Self {
        Fault {
            provider,
            method: None,
            path_contains: None,
            body_contains: None,
            times: 1,
            action,
        }
    }

    /// Restricts the fault to one method.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Restricts the fault to requests whose raw path and query contain `fragment`.
    #[must_use]
    pub fn path_contains(mut self, fragment: impl Into<String>) -> Self {
        self.path_contains = Some(fragment.into());
        self
    }

    /// Restricts the fault to requests whose body contains `fragment`.
    #[must_use]
    pub fn body_contains(mut self, fragment: impl Into<String>) -> Self {
        self.body_contains = Some(fragment.into());
        self
    }

    /// Sets how many requests the fault intercepts.
    #[must_use]
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    fn matches(&self, provider: Provider, method: &Method, path: &str, body: &[u8]) -> bool {
        self.provider == provider
            && self.method.as_ref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|frag| path.contains(frag))
            && self.body_contains.as_deref().is_none_or(|frag| {
                frag.is_empty() || body.windows(frag.len()).any(|w| w == frag.as_bytes())
            })
    }
}

/// A reply's status, headers (name, value bytes) and body.
type RawReply = (StatusCode, Vec<(String, Vec<u8>)>, Bytes);

/// What an intercepted request gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ActionWire", try_from = "ActionWire")]
#[non_exhaustive]
pub enum FaultAction {
    /// Reply with exactly this status, these headers and this body, without running the
    /// emulator (no state change). Useful for malformed JSON, a wrong content type or a huge
    /// body. Headers with an invalid name or value are skipped.
    Respond {
        /// The status code.
        status: StatusCode,
        /// Header `(name, value)` pairs, in order.
        headers: Vec<(String, String)>,
        /// The body bytes.
        body: Bytes,
    },
    /// Like [`Respond`](Self::Respond), with header values as raw bytes: anything HTTP lets a
    /// header value hold, bytes 0x80–0xFF (non-UTF-8) included. How a hostile server's retry
    /// hints are sent (`retry-after-ms: 1e30`, `Retry-After: \xff\xfe`). Headers with an
    /// invalid name or value (a control byte) are skipped. Build one with
    /// [`with_raw_header`](Self::with_raw_header).
    RespondRaw {
        /// The status code.
        status: StatusCode,
        /// Header `(name, value bytes)` pairs, in order.
        headers: Vec<(String, Vec<u8>)>,
        /// The body bytes.
        body: Bytes,
    },
    /// Wait this long, then handle the request normally.
    Latency(Duration),
    /// Close the TCP connection before processing: no response, no state change.
    DropConnection,
    /// Process the request normally (its state change is applied), then close the TCP
    /// connection without sending the response.
    DropAfterApply,
}

impl FaultAction {
    /// A raw reply with `status`, `content-type: application/json` and `body` sent as is
    /// (it need not be valid JSON).
    #[must_use]
    pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Self {
        FaultAction::Respond {
            status,
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: body.into(),
        }
    }

    /// A raw reply with `status`, no headers and an empty body.
    #[must_use]
    pub fn status(status: StatusCode) -> Self {
        FaultAction::Respond {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// The reply with one more header, whose value is any bytes: a [`Respond`](Self::Respond)
    /// becomes a [`RespondRaw`](Self::RespondRaw) with the same status, headers and body. Other
    /// actions are returned as they are.
    ///
    /// ```
    /// use rosterkit_sandbox::{FaultAction, StatusCode};
    /// let hostile = FaultAction::status(StatusCode::TOO_MANY_REQUESTS)
    ///     .with_raw_header("retry-after-ms", b"1e30".to_vec())
    ///     .with_raw_header("retry-after", b"\xff\xfe1".to_vec());
    /// assert!(matches!(hostile, FaultAction::RespondRaw { ref headers, .. } if headers.len() == 2));
    /// ```
    #[must_use]
    pub fn with_raw_header(self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        match self.into_raw() {
            Ok((status, mut headers, body)) => {
                headers.push((name.to_owned(), value.into()));
                FaultAction::RespondRaw {
                    status,
                    headers,
                    body,
                }
            }
            Err(other) => other,
        }
    }

    /// A reply's status, headers (values as bytes) and body; other actions as they are.
    fn into_raw(self) -> Result<RawReply, Self> {
        match self {
            FaultAction::Respond {
                status,
                headers,
                body,
            } => {
                let headers = headers
                    .into_iter()
                    .map(|(n, v)| (n, v.into_bytes()))
                    .collect();
                Ok((status, headers, body))
            }
            FaultAction::RespondRaw {
                status,
                headers,
                body,
            } => Ok((status, headers, body)),
            other => Err(other),
        }
    }

    /// The kind of this action, as recorded in the journal.
    #[must_use]
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Respond { .. } | FaultAction::RespondRaw { .. } => FaultKind::Respond,
            FaultAction::Latency(_) => FaultKind::Latency,
            FaultAction::DropConnection => FaultKind::DropConnection,
            FaultAction::DropAfterApply => FaultKind::DropAfterApply,
        }
    }

    /// Builds the HTTP response of a `Respond` or `RespondRaw` action; `None` for other
    /// actions.
    pub(crate) fn to_response(&self) -> Option<axum::response::Response> {
        let (status, headers, body) = self.clone().into_raw().ok()?;
        let mut response = axum::response::Response::new(axum::body::Body::from(body));
        *response.status_mut() = status;
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(&value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        Some(response)
    }
}

/// The kind of fault that fired on a request, as recorded in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// [`FaultAction::Respond`].
    Respond,
    /// [`FaultAction::Latency`].
    Latency,
    /// [`FaultAction::DropConnection`].
    DropConnection,
    /// [`FaultAction::DropAfterApply`].
    DropAfterApply,
}

/// A reply on the wire: `respond`, and `respond_raw` (header values in base64).
#[derive(Serialize, Deserialize)]
struct ReplyWire {
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl ReplyWire {
    fn new(status: StatusCode, headers: Vec<(String, String)>, body: &Bytes) -> Self {
        let (body, body_base64) = match std::str::from_utf8(body) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(BASE64.encode(body))),
        };
        Self {
            status: status.as_u16(),
            headers,
            body,
            body_base64,
        }
    }

    /// The status and body: `body_base64` when given, else `body`, else empty.
    fn status_and_body(&self) -> Result<(StatusCode, Bytes), String> {
        let body = match (&self.body, &self.body_base64) {
            (_, Some(b64)) => Bytes::from(
                BASE64
                    .decode(b64)
                    .map_err(|e| format!("invalid body_base64: {e}"))?,
            ),
            (Some(text), None) => Bytes::from(text.clone().into_bytes()),
            (None, None) => Bytes::new(),
        };
        Ok((parse_status(self.status)?, body))
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ActionWire {
    Respond(ReplyWire),
    RespondRaw(ReplyWire),
    Latency {
        ms: u64,
    },
    DropConnection,
    DropAfterApply,
    ChertError {
        status: u16,
        code: u32,
        #[serde(default)]
        retryable: bool,
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        message: Option<String>,
    },
    LinqError {
        status: u16,
        code: u32,
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        message: Option<String>,
    },
    AcsError {
        status: u16,
        code: String,
        #[serde(default)]
        retry_after: Option<u64>,
        #[serde(default)]
        message: Option<String>,
    },
}

impl From<FaultAction> for ActionWire {
    fn from(action: FaultAction) -> Self {
        match action {
            FaultAction::Respond {
                status,
                headers,
                body,
            } => ActionWire::Respond(ReplyWire::new(status, headers, &body)),
            FaultAction::RespondRaw {
                status,
                headers,
                body,
            } => {
                let headers = headers
                    .into_iter()
                    .map(|(name, value)| (name, BASE64.encode(value)))
                    .collect();
                ActionWire::RespondRaw(ReplyWire::new(status, headers, &body))
            }
            FaultAction::Latency(d) => ActionWire::Latency {
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            FaultAction::DropConnection => ActionWire::DropConnection,
            FaultAction::DropAfterApply => ActionWire::DropAfterApply,
        }
    }
}

impl TryFrom<ActionWire> for FaultAction {
    type Error = String;

    fn try_from(wire: ActionWire) -> Result<Self, Self::Error> {
        match wire {
            ActionWire::Respond(reply) => {
                let (status, body) = reply.status_and_body()?;
                for (name, value) in &reply.headers {
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("invalid header name {name:?}"))?;
                    HeaderValue::from_str(value)
                        .map_err(|_| format!("invalid value for header {name:?}"))?;
                }
                Ok(FaultAction::Respond {
                    status,
                    headers: reply.headers,
                    body,
                })
            }
            ActionWire::RespondRaw(reply) => {
                let (status, body) = reply.status_and_body()?;
                let headers = reply
                    .headers
                    .into_iter()
                    .map(|(name, value)| {
                        HeaderName::from_bytes(name.as_bytes())
                            .map_err(|_| format!("invalid header name {name:?}"))?;
                        let value = BASE64
                            .decode(value)
                            .map_err(|e| format!("header {name:?}: invalid base64: {e}"))?;
                        HeaderValue::from_bytes(&value)
                            .map_err(|_| format!("invalid value for header {name:?}"))?;
                        Ok((name, value))
                    })
                    .collect::<Result<_, String>>()?;
                Ok(FaultAction::RespondRaw {
                    status,
                    headers,
                    body,
                })
            }
            ActionWire::Latency { ms } => Ok(FaultAction::Latency(Duration::from_millis(ms))),
            ActionWire::DropConnection => Ok(FaultAction::DropConnection),
            ActionWire::DropAfterApply => Ok(FaultAction::DropAfterApply),
            ActionWire::ChertError {
                status,
                code,
                retryable,
                retry_after,
                message,
            } => {
                let status = parse_status(status)?;
                Ok(match message {
                    Some(message) => FaultAction::chert_error_with_message(
                        status,
                        code,
                        &message,
                        retryable,
                        retry_after,
                    ),
                    None => FaultAction::chert_error(status, code, retryable, retry_after),
                })
            }
            ActionWire::LinqError {
                status,
                code,
                retry_after,
                message,
            } => {
                let status = parse_status(status)?;
                Ok(match message {
                    Some(message) => {
                        FaultAction::linq_error_with_message(status, code, &message, retry_after)
                    }
                    None => FaultAction::linq_error(status, code, retry_after),
                })
            }
            ActionWire::AcsError {
                status,
                code,
                retry_after,
                message,
            } => Ok(FaultAction::acs_error(
                parse_status(status)?,
                &code,
                message.as_deref(),
                retry_after,
            )),
        }
    }
}

fn parse_status(status: u16) -> Result<StatusCode, String> {
    StatusCode::from_u16(status).map_err(|_| format!("invalid HTTP status {status}"))
}

mod opt_method {
    use http::Method;
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // The signature serde's `with` requires.
    pub(super) fn serialize<S: Serializer>(
        method: &Option<Method>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match method {
            Some(m) => serializer.serialize_some(m.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Method>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        Method::from_bytes(text.to_ascii_uppercase().as_bytes())
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("invalid HTTP method {text:?}")))
    }
}

/// A cloneable handle on the sandbox's pending faults.
///
/// Faults are tried in injection order; the first one matching a request fires and its
/// `times` counts down, and it is removed when it reaches zero. At most one fault fires per
/// request.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    pending: Arc<Mutex<Vec<Fault>>>,
}

impl Faults {
    /// Adds a fault after the ones already pending. A fault with `times == 0` is ignored.
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            lock(&self.pending).push(fault);
        }
    }

    /// Removes every pending fault.
    pub fn clear(&self) {
        lock(&self.pending).clear();
    }

    /// The pending faults, with their remaining `times`.
    #[must_use]
    pub fn pending(&self) -> Vec<Fault> {
        lock(&self.pending).clone()
    }

    /// The number of pending faults.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Whether no fault is pending.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Consumes one use of the first fault matching the request, returning its action.
    pub(crate) fn take(
        &self,
        provider: Provider,
        method: &Method,
        path: &str,
        body: &[u8],
    ) -> Option<FaultAction> {
        let mut pending = lock(&self.pending);
        let index = pending
            .iter()
            .position(|f| f.matches(provider, method, path, body))?;
        let fault = &mut pending[index];
        fault.times = fault.times.saturating_sub(1);
        if fault.times == 0 {
            Some(pending.remove(index).action)
        } else {
            Some(fault.action.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_contains_matches_a_body_fragment() {
        let faults = Faults::default();
        faults.inject(
            Fault::new(Provider::Zapi, FaultAction::DropConnection)
                .body_contains("\"groupId\":\"1203-group\"")
                .times(2),
        );
        let path = "/zapi/instances/i/token/t/remove-participant";
        let other = br#"{"groupId":"9999-group","phones":["5511"]}"#;
        let ours = br#"{"groupId":"1203-group","phones":["5511"]}"#;
        assert!(
            faults
                .take(Provider::Zapi, &Method::POST, path, other)
                .is_none()
        );
        assert!(
            faults
                .take(Provider::Zapi, &Method::POST, path, b"")
                .is_none()
        );
        assert!(
            faults
                .take(Provider::Zapi, &Method::POST, path, ours)
                .is_some()
        );
        assert!(
            faults
                .take(Provider::Zapi, &Method::POST, path, ours)
                .is_some()
        );
        assert!(faults.is_empty());
    }

    #[test]
    fn raw_headers_carry_any_bytes_and_round_trip_as_json() {
        let action = FaultAction::status(StatusCode::SERVICE_UNAVAILABLE)
            .with_raw_header("retry-after-ms", b"1e30".to_vec())
            .with_raw_header("retry-after", b"\xff\xfe1".to_vec());
        let response = action
            .clone()
            .with_raw_header("x-bad", b"1\x01".to_vec())
            .to_response()
            .unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after-ms"].as_bytes(), b"1e30");
        assert_eq!(response.headers()["retry-after"].as_bytes(), b"\xff\xfe1");
        assert!(
            response.headers().get("x-bad").is_none(),
            "a control byte is skipped"
        );
        let fault = Fault::new(Provider::Acs, action.clone());
        let text = serde_json::to_string(&fault).unwrap();
        assert!(text.contains(r#""kind":"respond_raw""#), "{text}");
        let back: Fault = serde_json::from_str(&text).unwrap();
        assert_eq!(back.action, action);
        // Over HTTP a control byte is refused, as in `respond`.
        let bad = r#"{"provider":"acs","action":{"kind":"respond_raw","status":429,"headers":[["retry-after","MQE="]]}}"#;
        assert!(serde_json::from_str::<Fault>(bad).is_err());
        // A plain `respond` keeps its kind on the wire.
        let plain = serde_json::to_string(&Fault::new(
            Provider::Acs,
            FaultAction::status(StatusCode::TOO_MANY_REQUESTS),
        ))
        .unwrap();
        assert!(plain.contains(r#""kind":"respond""#), "{plain}");
    }

    #[test]
    fn body_contains_round_trips_as_json_and_is_optional() {
        let fault: Fault = serde_json::from_str(
            r#"{"provider":"zapi","body_contains":"abc","action":{"kind":"drop_connection"}}"#,
        )
        .unwrap();
        assert_eq!(fault.body_contains.as_deref(), Some("abc"));
        let text = serde_json::to_string(&fault).unwrap();
        assert!(text.contains(r#""body_contains":"abc""#), "{text}");
        let plain = serde_json::to_string(&Fault::new(Provider::Zapi, FaultAction::DropConnection))
            .unwrap();
        assert!(!plain.contains("body_contains"), "{plain}");
    }
}
