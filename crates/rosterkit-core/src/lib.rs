//! Core types of rosterkit: validated identifiers, the [`Membership`] trait, one [`Error`], and
//! the sans-IO [`Operation`] + [`Executor`] machinery every provider adapter is built from.
//!
//! Downstream SDK authors depend on this crate alone to write an adapter: describe each
//! provider call as an [`Operation`] (build a request, parse a reply), run it with an
//! [`Executor`], and implement [`Membership`] on top.
//!
//! ```
//! use rosterkit_core::{ChatId, Handle, Rule};
//!
//! let chat = ChatId::new("ch_01HTEST")?;
//! let who: Handle = "+14155551234".parse()?;
//! assert_eq!(who.redacted().to_string(), "+*******1234");
//!
//! // Bad input is refused before any request, with the rule that failed.
//! let err = "+1 415 555".parse::<Handle>().unwrap_err();
//! assert_eq!(err.rule(), &Rule::NotDigits);
//! # let _ = chat;
//! # Ok::<(), rosterkit_core::ParseError>(())
//! ```
//!
//! # Feature flags
//!
//! - `reqwest` *(default)*: [`ReqwestClient`], an [`HttpClient`] over reqwest with rustls.
//!   Turn it off to plug in your own transport and keep the dependency tree small.
//! - `testing`: the `rosterkit_core::testing` module (not linked here: it exists only with the
//!   feature, and a default-feature `cargo doc` must not warn): property tests for reply
//!   decoders (proptest), a scripted recording `HttpClient` (`testing::ScriptedClient`) and an
//!   in-memory `Membership` (`testing::FakeMembership`), for adapters' and applications' tests;
//!   rosterkit's own adapters use it as a dev-dependency.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod builder_setters;
mod chat_id;
mod clock;
pub mod encode;
mod endpoint;
mod error;
mod executor;
mod handle;
mod input;
mod membership;
mod operation;
mod outcome;
mod pace;
pub mod prelude;
mod provider;
mod reason;
pub mod redact;
mod retry;
mod route;
mod secret;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod transport;

pub use batch::BatchResults;
pub use chat_id::ChatId;
pub use clock::{Clock, FixedClock, SystemClock, unix_seconds};
pub use endpoint::Endpoint;
pub use error::{CodeEntry, Error, ErrorKind};
pub use executor::{ClientBuilder, ClientOptions, Confirm, Executor, ExecutorBuilder, Polled};
pub use handle::{E164, Email, Handle, NativeId};
pub use input::{ParseError, Rule};
pub use membership::{Capabilities, ChangeOptions, HandleKinds, Membership, Pending};
pub use operation::{Attempt, Operation, Probe, ProbeWith, Recovery, Settled};
pub use outcome::{Outcome, Participant};
pub use pace::{Pacer, Pacing, Rate};
pub use provider::{ConnectOptions, EnvVar, Provider};
pub use reason::Reason;
pub use retry::{
    HintUnit, MAX_RETRY_HINT, RetryPolicy, retry_after_from_headers, retry_hint, retry_hint_f64,
    retry_hint_whole,
};
pub use route::{Authenticate, Route, RouteName, path_capacity, push_path, route_uri};
pub use secret::{MIN_SCRUBBED_LEN, REDACTED, Secret};
pub use transport::{
    DEFAULT_BODY_LIMIT, HttpClient, TransportError, TransportErrorKind, check_scheme,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use transport::{ReqwestClient, ReqwestClientBuilder};

/// Re-exported so adapters and downstream authors name the same versions.
pub use async_trait::async_trait;
pub use bytes::Bytes;
pub use http;

/// The crate README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
