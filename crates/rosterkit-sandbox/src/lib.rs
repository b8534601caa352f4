//! Local, stateful emulators of rosterkit's messaging providers, on one loopback port.
//!
//! One HTTP/1 server hosts every emulator under its own path (Chert at `/chert/api/v1`; Linq,
//! Z-API and ACS are to follow at `/linq/api/partner`, `/zapi` and `/acs`) and a control plane
//! under `/_sandbox`. Each emulator implements its provider's contract independently of the
//! rosterkit adapters — exact on output, checking auth as the provider does — so a misreading
//! in an adapter shows up as a failing test instead of being mirrored.
//!
//! - **State** lives in memory; seed it from Rust ([`Sandbox::chert`]) or over HTTP
//!   (`POST /_sandbox/chert/chats`), and optionally keep it in a file across restarts
//!   ([`SandboxConfig::state_file`]).
//! - **Journal**: every request to an emulator is recorded with its raw path, headers, body,
//!   status, the fault that fired and the state changes applied ([`Sandbox::journal`]).
//! - **Faults**: fail, delay or drop the connection of the next matching requests
//!   ([`Sandbox::faults`]), including dropping it *after* the state change was applied.
//! - **Clock**: the emulators' "now" can be shifted or pinned for clock-skew tests.
//!
//! # Example
//!
//! ```
//! use rosterkit_sandbox::{Fault, FaultAction, Method, Provider, Sandbox, StatusCode};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sandbox = Sandbox::start().await?;
//! let chat = sandbox
//!     .chert()
//!     .create_group(&["+14155550100", "+14155550200", "+14155551234"]);
//! // A Chert client would be pointed at `info.chert.base_url` with these credentials.
//! let info = sandbox.info();
//! assert_eq!(info.chert.tenant, "sandbox");
//!
//! // The next DELETE to Chert answers 429 / code 1007 with `Retry-After: 30`.
//! sandbox.faults().inject(
//!     Fault::new(
//!         Provider::Chert,
//!         FaultAction::chert_error(StatusCode::TOO_MANY_REQUESTS, 1007, true, Some(30)),
//!     )
//!     .method(Method::DELETE),
//! );
//!
//! // The code under test would send this; here it is by hand.
//! let mut stream = tokio::net::TcpStream::connect(sandbox.addr()).await?;
//! let request = format!(
//!     "DELETE /chert/api/v1/chats/{chat}/participants/%2B14155551234 HTTP/1.1\r\n\
//!      host: sandbox\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
//!     info.chert.signing_secret,
//! );
//! stream.write_all(request.as_bytes()).await?;
//! let mut reply = String::new();
//! stream.read_to_string(&mut reply).await?;
//! assert!(reply.starts_with("HTTP/1.1 429"));
//!
//! // What went over the wire, and what changed (nothing: the fault answered).
//! let entry = sandbox.journal().last().expect("one request");
//! assert_eq!(entry.path, format!("/chert/api/v1/chats/{chat}/participants/%2B14155551234"));
//! assert!(entry.effects.is_empty());
//! assert_eq!(sandbox.chert().members(&chat).map(|m| m.len()), Some(3));
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # HTTP control plane
//!
//! | Route | Effect |
//! |---|---|
//! | `GET /_sandbox/health` | `{"ok":true}` |
//! | `GET /_sandbox/info` | [`SandboxInfo`] |
//! | `GET /_sandbox/faults` | `{"faults":[..]}`, the pending [`Fault`]s |
//! | `POST /_sandbox/faults` | one [`Fault`] or an array → 201 `{"pending":n}` |
//! | `DELETE /_sandbox/faults` | remove all → 204 |
//! | `GET /_sandbox/journal[?provider=chert&since=N]` | `{"entries":[..]}`, see [`JournalEntry`] |
//! | `DELETE /_sandbox/journal` | forget all entries → 204 |
//! | `GET /_sandbox/clock` | `{"offset_secs","pinned_unix","now_unix"}` |
//! | `PUT /_sandbox/clock` | `{"offset_secs":i64}` and/or `{"pinned_unix":u64\|null}` |
//! | `POST /_sandbox/chert/chats` | a [`chert::ChertChatSeed`] → 201 `{"id":..}` |
//! | `GET /_sandbox/chert/chats/{id}` | a [`chert::ChertChat`], or 404 |
//! | `PUT /_sandbox/chert/tenants/{slug}` | `{"signing_secret":..}` → 204 |
//! | `POST /_sandbox/linq/chats` | a [`linq::LinqChatSeed`] → 201 `{"id":..}` |
//! | `GET /_sandbox/linq/chats/{id}` | a [`linq::LinqChat`] (as `GET /v3/chats/{id}` returns it), or 404 |
//! | `GET`/`PUT /_sandbox/linq/settings` | `{"api_key","apply_delay_ms","async_reject","pending"}` (PUT: any of the first three) |
//! | `POST /_sandbox/linq/pending/apply` | apply every queued change now → `{"applied":n}` |
//! | `POST /_sandbox/linq/webhooks` | a [`linq::LinqWebhookSeed`] → 201 `{"id":..}`; `DELETE` removes all → 204 |
//! | `GET /_sandbox/linq/deliveries` | `{"deliveries":[..]}`, every [`linq::LinqDelivery`] attempt |
//! | `PUT /_sandbox/linq/handle-services` | `{"handle","service"}` → 204 (adds from another service get 409/2017) |
//! | `POST /_sandbox/acs/threads` | an [`acs::AcsThreadSeed`] → 201 `{"id":..}` |
//! | `GET /_sandbox/acs/threads/{id}` | an [`acs::AcsThread`], or 404 |
//! | `GET`/`PUT /_sandbox/acs/settings` | [`acs::AcsSettings`] (PUT: any subset of its fields) |
//! | `POST /_sandbox/acs/tokens` | `{"user_id","expires_in_minutes"?}` → 201 `{"token","expiresOn"}` |
//! | `POST /_sandbox/zapi/groups` | a [`zapi::ZapiGroupSeed`] → 201 `{"id":..}` |
//! | `GET /_sandbox/zapi/groups/{id}` | a [`zapi::ZapiGroup`], or 404 |
//! | `POST /_sandbox/zapi/communities` | a [`zapi::ZapiCommunitySeed`] → 201 `{"id","announcement_group"}` |
//! | `GET /_sandbox/zapi/communities/{id}` | a [`zapi::ZapiCommunity`], or 404 |
//! | `PUT /_sandbox/zapi/connection` | `{"connected":bool}` → 204 |
//! | `PUT /_sandbox/zapi/contacts/{phone}` | `{"contact":bool}` → 204 (`false`: "not a contact") |
//! | `PUT /_sandbox/zapi/credentials` | any of `{"instance_id","instance_token","client_token"}` → 204 |
//!
//! Control-plane errors are `{"error":"<message>"}` with a 4xx status. Requests must name a
//! loopback `Host` (`localhost`, `127.0.0.1`, `[::1]`; else 403, against DNS rebinding), an
//! `Origin`, when sent, must be a loopback origin (403), and bodies must be sent as
//! `Content-Type: application/json` (415), so a web page cannot drive the control plane.
//!
//! # Feature flags
//!
//! - `tls`: serve HTTPS with a certificate generated at start ([`SandboxConfig::tls`],
//!   [`Sandbox::ca_pem`]); adds rustls and rcgen. Every emulator is always hosted.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod acs;
mod app;
pub mod chert;
mod clock;
mod control;
mod fault;
mod framework;
mod journal;
pub mod linq;
mod provider;
mod sandbox;
mod server;
mod signing;
mod state;
mod sync;
#[cfg(feature = "tls")]
mod tls;
pub mod zapi;

pub use fault::{Fault, FaultAction, FaultKind, Faults};
pub use http::{Method, StatusCode};
pub use journal::{DEFAULT_JOURNAL_CAPACITY, DEFAULT_JOURNAL_MAX_BYTES, Journal, JournalEntry};
pub use provider::{Provider, UnknownProvider};
pub use sandbox::{DEFAULT_BODY_LIMIT, Sandbox, SandboxConfig, SandboxInfo};

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
