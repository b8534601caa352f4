//! Chert (iMessage) adapter for rosterkit: remove and add group participants and leave groups
//! through Chert's signed REST API, with Chert's full replies or through the provider-agnostic
//! [`Membership`] trait.
//!
//! - [`ChertClient`] signs every attempt afresh (`x-chert-signature: v1,<ts>,<hex>` over
//!   `"<ts>.<exact body bytes>"`, or `Authorization: Bearer` in [`AuthMode::Bearer`]),
//!   percent-encodes every path segment, and maps Chert's codes per route to
//!   [`ErrorKind`]s. Chert's `error.retryable` decides retries;
//!   `Retry-After` and `error.retry_after` set the wait.
//! - Native methods return Chert's replies in full: [`ChertClient::remove`] (the roster after the
//!   removal), [`ChertClient::add`] (the roster after the add), [`ChertClient::leave_group`].
//! - **Ensure mode** ([`ChangeOptions::ensure`]) makes
//!   the non-idempotent remove and leave safe to retry: "not in the group" (1001 on remove) and
//!   "already left" (1006 on leave) become [`ChertChange::AlreadyDone`], and only then is a remove or
//!   leave retried after an ambiguous failure (a dropped connection, a 502). A 1002 on such a
//!   retry cannot tell whether the first attempt took effect: [`ChertChange::Unconfirmed`].
//! - Chert has no roster endpoint: [`Membership::participants`]
//!   is `Unsupported`; the roster comes with every add and remove reply.
//! - Handles are E.164 phone numbers and email addresses; native ids are refused before any
//!   request.
//! - Each call is also a sans-IO [`Operation`](rosterkit_core::Operation) in [`ops`], to build and
//!   parse without a server or to run with [`ChertClient::executor`].
//!
//! ```
//! use rosterkit_chert::{ChangeOptions, ChatId, ChertChange, ChertClient, Handle};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = rosterkit_sandbox::Sandbox::start().await?;
//! # let info = sandbox.info().chert;
//! # let chat_id = sandbox.chert().create_group(&["+14155550100", "+14155550200", "+14155551234"]);
//! # let (base_url, tenant, secret) = (info.base_url, info.tenant, info.signing_secret);
//! // In production: ChertClient::from_env() reads CHERT_TENANT and CHERT_SIGNING_SECRET.
//! let chert = ChertClient::builder()
//!     .base_url(base_url)
//!     .tenant(tenant)
//!     .signing_secret(secret)
//!     .build()?;
//!
//! let chat = ChatId::new(chat_id)?;
//! let who: Handle = "+14155551234".parse()?;
//! let ChertChange::Applied(reply) = chert.remove(&chat, &who, ChangeOptions::ensure()).await? else {
//!     unreachable!("the member was present");
//! };
//! assert_eq!(reply.removed.as_ref(), Some(&who));
//! assert_eq!(reply.participants.map(|roster| roster.len()), Some(2));
//!
//! // Removing again in ensure mode: Chert answers 1001 "not in group", which is the goal.
//! let again = chert.remove(&chat, &who, ChangeOptions::ensure()).await?;
//! assert!(matches!(again, ChertChange::AlreadyDone { .. }));
//! # sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Configuration from the environment
//!
//! [`ChertClient::from_env`] reads:
//!
//! | Variable | Meaning |
//! |---|---|
//! | `CHERT_TENANT` | tenant slug, sent as `x-chert-tenant` (required for HMAC, optional for bearer) |
//! | `CHERT_SIGNING_SECRET` | the tenant's signing secret (HMAC key, or the bearer token) |
//! | `CHERT_AUTH` | `hmac` (default) or `bearer` |
//! | `CHERT_BASE_URL` | default `https://console.trychert.com/api/v1` |
//!
//! # Feature flags
//!
//! - `reqwest` *(default)*: the builder uses a [`ReqwestClient`]
//!   unless given another [`HttpClient`]. Without it,
//!   [`ChertClientBuilder::http_client`] is required.
//!
//! # Error codes
//!
//! Chert's codes per route, generated from `specs/chert.toml` ("retried" is the default when a
//! reply omits `error.retryable`; Chert's own `retryable` decides when present):
//!
#![doc = include_str!("generated/errors.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
mod errors;
mod generated;
mod membership;
pub mod ops;
#[cfg(test)]
mod proptests;
mod reply;
mod wire;

pub use client::{ChertClient, ChertClientBuilder, DEFAULT_BASE_URL};
pub use config::{AuthMode, ChertConfig};
#[allow(deprecated)]
pub use reply::Change;
pub use reply::{AddReply, ChertChange, LeaveReply, LeaveStatus, RemoveReply};

/// `rosterkit-core` itself, for the operation and executor machinery behind [`ops`].
pub use rosterkit_core;
/// The application types of `rosterkit-core` this crate's API takes and returns
/// ([`rosterkit_core::prelude`]), so a program that depends only on this crate names them from
/// here.
pub use rosterkit_core::prelude::*;

/// The provider's name, as in errors and [`Membership::provider`].
pub const PROVIDER: &str = generated::PROVIDER;

/// The README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
