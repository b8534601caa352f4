//! Linq Partner API v3 (iMessage) adapter for rosterkit: remove and add group participants,
//! leave groups and read rosters, with Linq's full replies or through the provider-agnostic
//! [`Membership`] trait.
//!
//! - **Queued changes.** Linq answers a remove, add or leave with `202 accepted` and applies it
//!   later: the result is [`LinqChange::Queued`] with Linq's `trace_id`
//!   ([`Outcome::Queued`] through `Membership`). Confirm it
//!   with [`LinqClient::wait_for`], which polls `GET /v3/chats/{chatId}` with backoff until the
//!   roster shows the change, or with a `participant.*` webhook ([`webhook`]).
//! - **Exact requests.** `DELETE /v3/chats/{chatId}/participants` carries the JSON body
//!   `{"handle":..}` with `Content-Type: application/json` (the docs' curl omits it; the spec and
//!   the official SDK send it); `Authorization: Bearer <api key>`; chat ids are validated as
//!   UUIDs (any case, sent lowercased) and handles as E.164 phone numbers or emails before any
//!   request.
//! - **Retries by code, not by status.** Most of Linq's 409s are permanent (2013 after leaving
//!   a chat, 1006 on a DM, 2016/2017) and are answered once; 2009 ("chat still being created"),
//!   2015 (once), 3xxx, 4001/4002/4004 and 429/1007 are retried with backoff, honouring
//!   `Retry-After`, `retry-after-ms` and `error.retry_after`; a server's `x-should-retry`
//!   header overrides the table. Mutations have no idempotency key, so after an ambiguous
//!   failure (a timeout, a 5xx) they are retried only in **ensure mode**
//!   ([`ChangeOptions::ensure`]), where "already left"
//!   (409/2013 on leave) and "not an active member" become [`LinqChange::AlreadyDone`].
//! - Each call is also a sans-IO [`Operation`](rosterkit_core::Operation) in [`ops`].
//!
//! ```
//! use rosterkit_linq::{
//!     ChangeOptions, ChatId, Expect, Handle, LinqChange, LinqClient, Outcome, WaitOptions,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = rosterkit_sandbox::Sandbox::start().await?;
//! # let info = sandbox.info().linq;
//! # let chat_id = sandbox.linq().create_group(&["+12052499136", "+14155550100", "+14155550101"]);
//! # let (base_url, api_key) = (info.base_url, info.api_key);
//! // In production: LinqClient::from_env() reads LINQ_API_V3_API_KEY (and LINQ_API_V3_BASE_URL).
//! let linq = LinqClient::builder().base_url(base_url).api_key(api_key).build()?;
//!
//! let chat = ChatId::new(chat_id)?;
//! let who: Handle = "+12052499136".parse()?;
//! let LinqChange::Queued(accepted) = linq.remove(&chat, &who, ChangeOptions::default()).await? else {
//!     unreachable!("not in ensure mode");
//! };
//! assert!(accepted.trace_id.is_some());
//!
//! // Queued is not proof: wait until the roster shows it.
//! let confirmed = linq.wait_for(&chat, &who, Expect::Removed, WaitOptions::default()).await?;
//! let Outcome::Applied { roster: Some(roster), .. } = confirmed else { unreachable!() };
//! assert!(!roster.contains(&who));
//! # sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Configuration from the environment
//!
//! [`LinqClient::from_env`] reads the official SDK's variables:
//!
//! | Variable | Meaning |
//! |---|---|
//! | `LINQ_API_V3_API_KEY` | the bearer token (required) |
//! | `LINQ_API_V3_BASE_URL` | default `https://api.linqapp.com/api/partner` |
//!
//! # Error codes
//!
#![doc = include_str!("generated/errors.md")]
//!
//! # Feature flags
//!
//! - `reqwest` *(default)*: the builder uses a [`ReqwestClient`]
//!   unless given another [`HttpClient`]. Without it,
//!   [`LinqClientBuilder::http_client`] is required.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod chat;
mod client;
mod config;
mod errors;
mod generated;
mod membership;
pub mod ops;
#[cfg(test)]
mod proptests;
mod reply;
mod wait;
pub mod webhook;
mod wire;

pub use chat::{Chat, ChatHandle, HandleStatus, Service};
pub use client::{DEFAULT_BASE_URL, LinqClient, LinqClientBuilder};
pub use config::LinqConfig;
#[allow(deprecated)]
pub use reply::Change;
pub use reply::{Accepted, LinqChange, QueueStatus};
pub use wait::{Expect, WaitOptions};

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
