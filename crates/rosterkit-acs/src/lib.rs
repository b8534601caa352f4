//! Azure Communication Services (ACS) Chat adapter for rosterkit: remove, add and list the
//! participants of chat threads and leave them, through the Chat REST API (`2025-03-15`), with
//! ACS's full replies or through the provider-agnostic
//! [`Membership`] trait.
//!
//! - [`AcsClient`] calls the Chat API as a user: `Authorization: Bearer <user access token>`.
//!   The token is given (`ACS_USER_TOKEN`), or minted for `ACS_USER_ID` with the resource
//!   access key of `ACS_CONNECTION_STRING` (an HMAC-SHA256 signed Identity call), cached,
//!   refreshed a few minutes before it expires, and refreshed once more after a 401.
//! - Participants are typed [`CommunicationIdentifier`]s (`rawId` plus the kind's object).
//!   rosterkit handles map by raw-id prefix (`8:acs:...`, `8:orgid:...`, `28:orgid:...`, ...)
//!   and E.164 phones map to `4:+1...`; emails are refused before any request. Replies without a
//!   `kind` (as recorded from the 2021 API) or with an unknown one are resolved tolerantly.
//! - Native methods: [`AcsClient::remove`] (204 → `Applied`), [`AcsClient::add`] (batches of
//!   200, per-participant [`InvalidParticipant`]s), [`AcsClient::list`] (follows `nextLink`
//!   only to the endpoint's own scheme, host and port), [`AcsClient::leave_group`] (removes our
//!   own identity).
//! - **Ensure mode** ([`ChangeOptions::ensure`]): a 403 on
//!   our own leave is settled by a listing (403 or absent → `AlreadyDone`); after an ambiguous failure (5xx, timeout, dropped connection) the
//!   thread is listed before the remove is repeated, and an absent participant is `AlreadyDone`.
//!   Without ensure an ambiguous remove is not repeated (ACS does not document remove as
//!   idempotent). A 429 did nothing and is retried after `Retry-After` / `retry-after-ms` /
//!   `x-ms-retry-after-ms`.
//! - **Pacing**: adds and removes are paced per thread to the documented 10 per 10 s and 30 per
//!   minute ([`documented_pacing`]), so a bulk run does not spend its time on 429s.
//! - Each call is also a sans-IO [`Operation`](rosterkit_core::Operation) in [`ops`], to build and
//!   parse without a server or to run with [`AcsClient::executor`] and
//!   [`AcsClient::chat_context`].
//!
//! ```
//! use rosterkit_acs::{AcsClient, ChangeOptions, ChatId, CommunicationIdentifier, Outcome};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = rosterkit_sandbox::Sandbox::start().await?;
//! # let info = sandbox.info().acs;
//! # let thread = sandbox.acs().create_thread(&["8:acs:1111_2222", "8:acs:1111_3333"]);
//! # let (endpoint, user_token) = (info.endpoint, info.user_token);
//! // In production: AcsClient::from_env() reads ACS_ENDPOINT and ACS_USER_TOKEN, or
//! // ACS_CONNECTION_STRING and ACS_USER_ID.
//! let acs = AcsClient::builder()
//!     .base_url(endpoint)
//!     .user_token(user_token)
//!     .build()?;
//!
//! let thread = ChatId::new(thread)?;
//! let who = CommunicationIdentifier::from_raw_id("8:acs:1111_2222");
//! let outcome = acs.remove(&thread, &who, ChangeOptions::ensure()).await?;
//! assert!(matches!(outcome, Outcome::Applied { roster: None, .. }));
//!
//! let members = acs.list(&thread).await?;
//! assert!(members.iter().all(|p| !p.identifier.same_as(&who)));
//! # sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Configuration from the environment
//!
//! [`AcsClient::from_env`] reads:
//!
//! | Variable | Meaning |
//! |---|---|
//! | `ACS_ENDPOINT` | the resource endpoint, `https://<resource>.communication.azure.com` |
//! | `ACS_USER_TOKEN` | a user access token (chat scope) for the chat calls |
//! | `ACS_CONNECTION_STRING` | or `endpoint=...;accesskey=...` (key names in any case, trailing `;` allowed) to mint tokens |
//! | `ACS_USER_ID` | the user (`8:acs:...`) tokens are minted for; also our identity for `leave` |
//! | `ACS_API_VERSION` | the Chat API version, default `2025-03-15` |
//!
//! Without `ACS_USER_ID`, `leave` takes our identity from the user token's `skypeid` claim (the
//! JWT payload is read, not verified: the service verifies the token).
//!
//! # Feature flags
//!
//! - `reqwest` *(default)*: the builder uses a [`ReqwestClient`]
//!   unless given another [`HttpClient`]. Without it,
//!   [`AcsClientBuilder::http_client`] is required.
//!
//! # Error codes
//!
//! ACS codes are names. A reply without one (an empty or non-JSON body, as gateways send) is
//! looked up under its status's PascalCase reason phrase (404 → `NotFound`); an unknown code
//! falls back to that row, then to the status. Generated from `specs/acs.toml`:
//!
#![doc = include_str!("generated/errors.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod client;
mod errors;
mod generated;
mod identifier;
mod membership;
mod model;
pub mod ops;
#[cfg(test)]
mod proptests;
mod rfc3339;
mod wire;

pub use client::{AcsClient, AcsClientBuilder, DEFAULT_MAX_PAGES, documented_pacing};
pub use identifier::{Cloud, CommunicationIdentifier};
pub use model::{
    AccessKey, AccessToken, AddChatParticipantsResult, ChatParticipant, InvalidParticipant,
    ParticipantsPage,
};
pub use ops::{ChatContext, DEFAULT_API_VERSION, Removal};
pub use rosterkit_core::Pacing;

/// `rosterkit-core` itself, for the operation and executor machinery behind [`ops`].
pub use rosterkit_core;
/// The application types of `rosterkit-core` this crate's API takes and returns
/// ([`rosterkit_core::prelude`]), so a program that depends only on this crate names them from
/// here.
pub use rosterkit_core::prelude::*;

/// The provider's name in errors and traces: `"acs"`.
pub const PROVIDER: &str = generated::PROVIDER;

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
