//! Z-API (WhatsApp) adapter for rosterkit: remove and add participants of WhatsApp groups and
//! communities in batches, leave groups and read rosters through Z-API, with Z-API's own
//! replies or through the provider-agnostic [`Membership`] trait.
//!
//! - [`ZapiClient`] sends every call to `{base}/instances/{id}/token/{token}/…` (both
//!   percent-encoded; the token kept in a [`Secret`]) with the
//!   `Client-Token` header.
//! - **Chats** are groups (`120363019502650977-group`, or the older
//!   `5511999999999-1623281429`) or communities (digits only), told apart by shape or by an
//!   explicit `group:`/`community:` prefix ([`ZapiChat`]); requests carry `groupId` or
//!   `communityId` accordingly.
//! - **Handles** are E.164 numbers, sent as digits (`+5544999999999` → `5544999999999`), or
//!   WhatsApp LIDs given as `Handle::Native("…@lid")`; emails and other native ids are
//!   `InvalidInput` before any request (in a bulk call, only for that handle).
//! - **Batches.** The bulk [`Membership`] methods send one request
//!   per [`MAX_BATCH`] (50) phones and still return one result per handle, in order.
//! - **`{"value": true}` is not proof**: each phone is
//!   [`Outcome::Unconfirmed`] (WhatsApp may have sent an
//!   invite instead of adding). With [`ZapiClientBuilder::verify`] the light group metadata is
//!   read after each batch and each phone becomes `Applied` (with the roster) or a failure.
//!   `{"value": false}` fails the whole batch (`DeliveryFailed`, code `value_false`, never
//!   retried blindly); in ensure mode the roster is read and the phones already in the
//!   requested state are `AlreadyDone` (the others are sent once more). See
//!   [Outcomes](#outcomes).
//! - **Pacing.** Z-API documents no rate limit for group administration and WhatsApp bans
//!   numbers that add or remove people aggressively: a client's participant mutations run one
//!   at a time, at least 2 s apart by default ([`ZapiClientBuilder::pacing`]).
//! - **Rosters** come from `GET /light-group-metadata/{groupId}` — not `/group-metadata`, which
//!   also makes WhatsApp fetch an invite link a roster does not need (zapi.md §3.4). A
//!   community's members are its announcement sub-group's participants, found through
//!   `GET /communities-metadata/{communityId}`.
//! - **Errors.** Z-API has no error codes: `specs/zapi.toml` keys its table by error text
//!   (`"null not allowed"` → `Unauthorized`, `"[IP request] not allowed"` → `Forbidden`), by
//!   `value_false`, or by HTTP status (`"405"`, `"415"` → `InvalidInput`); 5xx and non-JSON
//!   replies are `ServerError`. No mutation is idempotent: after an ambiguous failure one is
//!   retried only in ensure mode, and an add with `autoInvite: true` never.
//! - Each call is also a sans-IO [`Operation`](rosterkit_core::Operation) in [`ops`].
//!
//! ```
//! use rosterkit_zapi::{ChangeOptions, ChatId, Handle, Membership, Outcome, ZapiClient};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let sandbox = rosterkit_sandbox::Sandbox::start().await?;
//! # let info = sandbox.info().zapi;
//! # let group = sandbox.zapi().create_group(&["5544999999999", "5544888888888"]);
//! // In production: ZapiClient::from_env() reads ZAPI_INSTANCE_ID, ZAPI_INSTANCE_TOKEN and
//! // ZAPI_CLIENT_TOKEN.
//! let zapi = ZapiClient::builder()
//!     .base_url(info.base_url)
//!     .instance_id(info.instance_id)
//!     .instance_token(info.instance_token)
//!     .client_token(info.client_token)
//!     .verify(true)
//!     .build()?;
//!
//! let chat = ChatId::new(group)?;
//! let who: Vec<Handle> = vec!["+5544999999999".parse()?, "alice@example.com".parse()?];
//! let results = zapi.remove_participants(&chat, &who, ChangeOptions::default()).await;
//! // One request for the phone; verified by a metadata read.
//! assert!(matches!(results[0], Ok(Outcome::Applied { .. })));
//! // The email never left the process.
//! assert!(results[1].is_err());
//!
//! let roster = zapi.participants(&chat).await?;
//! assert!(roster.iter().all(|p| p.handle.as_str() != "+5544999999999"));
//! # sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Outcomes
//!
//! Z-API answers a whole batch with one `{"value": bool}`, so each phone's result depends on
//! what else is known. "Reached" means absent after a remove, present after an add, in the
//! light group metadata read after the batch (with [`ZapiClientBuilder::verify`], or in ensure
//! mode after a failure):
//!
//! | Reply | No metadata read | After the read |
//! |---|---|---|
//! | `value: true` | `Unconfirmed` | reached: `Applied` with the roster; not reached: `DeliveryFailed` (an add with `autoInvite`: `Unconfirmed`, an invite may be pending) |
//! | `value: false` | `DeliveryFailed`, code `value_false` | reached: `AlreadyDone` in ensure mode, else `Unconfirmed` with the roster (Z-API does not say whether this call did it); not reached: sent once more in ensure mode, else the error |
//! | ambiguous (timeout, 5xx, dropped connection) | the error (in ensure mode the executor first retries it) | as `value: false`; an add with `autoInvite` is never sent again: `Unconfirmed` |
//! | anything else (auth, 4xx) | the error | — |
//!
//! A metadata read that fails leaves the results as without one. `leave` answers
//! `Unconfirmed` for `value: true` (Z-API does not say which number is connected, so a roster
//! cannot confirm it).
//!
//! # Configuration from the environment
//!
//! [`ZapiClient::from_env`] reads:
//!
//! | Variable | Meaning |
//! |---|---|
//! | `ZAPI_INSTANCE_ID` | the instance id (a path segment) |
//! | `ZAPI_INSTANCE_TOKEN` | the instance token (a path segment, secret) |
//! | `ZAPI_CLIENT_TOKEN` | the account security token, sent as `Client-Token` |
//! | `ZAPI_BASE_URL` | default `https://api.z-api.io` |
//!
//! # Error table
//!
#![doc = include_str!("generated/errors.md")]
//!
//! # Feature flags
//!
//! - `reqwest` *(default)*: the builder uses a [`ReqwestClient`]
//!   unless given another [`HttpClient`]. Without it,
//!   [`ZapiClientBuilder::http_client`] is required.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod builder;
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
mod wire;

pub use builder::ZapiClientBuilder;
pub use chat::{ChatKind, ZapiChat};
pub use client::{DEFAULT_PACING, ZapiClient};
pub use config::{DEFAULT_BASE_URL, MAX_BATCH, ZapiConfig};
pub use reply::{CommunityMetadata, GroupMetadata, GroupParticipant, SubGroup};

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
