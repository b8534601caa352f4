//! Matrix adapter for rosterkit: kick, invite, leave and list room members through the Matrix
//! client-server API, natively or through the provider-agnostic
//! [`Membership`] trait. Built only on `rosterkit-core`'s public
//! API, the way a downstream adapter is.
//!
//! - [`MatrixClient`] sends `Authorization: Bearer <access token>` and percent-encodes room ids
//!   into paths (`!abc:example.org` → `%21abc%3Aexample.org`). Rooms are ids of every room
//!   version (`!opaque:server`, and `!opaque` in version 12) or aliases `#name:server`,
//!   resolved through the room directory first. Members are user ids `@localpart:server`,
//!   given as native handles ([`ids::parse_user`] reads them without a `native:` prefix).
//! - **Ensure mode** ([`ChangeOptions::ensure`](rosterkit_core::ChangeOptions::ensure)): Matrix
//!   answers a kick of a non-member with the same 403 M_FORBIDDEN as a kick without power, so
//!   the client reads the joined members after a 403: an absent user is `not_a_member`, or
//!   `already_done` in ensure mode. Leaving a room already left is `already_done` in ensure
//!   mode; inviting a joined member is `already_done` in ensure mode and `conflict` otherwise.
//! - A kick, invite or leave carries [`ChangeOptions::reason`](rosterkit_core::ChangeOptions)
//!   as Matrix's `reason`.
//! - 429 M_LIMIT_EXCEEDED waits the longer of `retry_after_ms` and `Retry-After`.
//! - Each call is also a sans-IO [`Operation`](rosterkit_core::Operation) in [`ops`]; the
//!   membership read after a 403 is the operation's own `on_failure` probe, so running an op
//!   with [`MatrixClient::executor`] gives what the client method gives.
//! - [`MatrixProvider`] is Matrix for provider-agnostic code: `rosterkit::connect("matrix")`,
//!   bulk runs and `rosterkit --provider matrix`.
//!
//! ```no_run
//! use rosterkit_matrix::{ChangeOptions, ChatId, Handle, MatrixClient, Membership, NativeId, Reason};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // MATRIX_HOMESERVER=https://matrix.example.org MATRIX_ACCESS_TOKEN=syt_...
//! let matrix = MatrixClient::from_env()?;
//! let room = ChatId::new("!abc:example.org")?;
//! let bob = Handle::Native(NativeId::new("@bob:example.org")?);
//! let options = ChangeOptions::ensure().with_reason(Reason::new("left the team")?);
//! let outcome = matrix.remove_participant(&room, &bob, options).await?;
//! println!("{}", outcome.as_str()); // "applied", or "already_done" if bob was not there
//! # Ok(())
//! # }
//! ```
//!
//! # Configuration from the environment
//!
//! | Variable | Meaning |
//! |---|---|
//! | `MATRIX_HOMESERVER` | the homeserver's base URL, e.g. `https://matrix.example.org` |
//! | `MATRIX_ACCESS_TOKEN` | the acting user's access token |
//!
//! # Error codes
//!
//! Matrix's `errcode`s per route, generated from `specs/matrix.toml` (observed on Synapse
//! 1.163.2; where Synapse and the spec differ, Synapse decides). A row applies only when the
//! reply's status matches it:
//!
#![doc = include_str!("generated/errors.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod config;
mod errors;
mod generated;
pub mod ids;
mod membership;
pub mod ops;
mod provider;

pub use client::{MatrixClient, MatrixClientBuilder};
pub use config::MatrixConfig;
pub use provider::MatrixProvider;

/// `rosterkit-core` itself, for the operation and executor machinery behind [`ops`].
pub use rosterkit_core;
/// The application types of `rosterkit-core` this crate's API takes and returns
/// ([`rosterkit_core::prelude`]), so a program that depends only on this crate names them from
/// here.
pub use rosterkit_core::prelude::*;

/// The provider's name, as in errors and [`Membership::provider`].
pub const PROVIDER: &str = generated::PROVIDER;

/// The adapter guide (`docs/writing-an-adapter.md`), which walks through this crate: its code
/// blocks are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/writing-an-adapter.md")]
pub struct AdapterGuide;

/// The README's code blocks, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
