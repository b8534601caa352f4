//! rosterkit: manage group-chat membership across messaging providers — remove participants,
//! leave groups, add and list members — with one typed, validated, retry-safe API.
//!
//! This facade re-exports the core types at its root, each provider crate as a module, and
//! [`connect`] for provider-agnostic code that holds a `Box<dyn Membership>`. A lean
//! application depends on one provider crate directly, or turns default features off and picks
//! one.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use rosterkit::{ChangeOptions, ChatId, Handle, Membership, Outcome, chert::ChertClient};
//! # let sandbox = rosterkit_sandbox::Sandbox::start().await?;
//! # let info = sandbox.info().chert;
//! # let chat_id = sandbox.chert().create_group(&["+14155550100", "+14155550200", "+14155551234"]);
//! # let (base_url, tenant, secret) = (info.base_url, info.tenant, info.signing_secret);
//! let chert: Box<dyn Membership> = Box::new(
//!     ChertClient::builder()
//!         .base_url(base_url)
//!         .tenant(tenant)
//!         .signing_secret(secret)
//!         .build()?,
//! );
//! let chat = ChatId::new(chat_id)?;
//! let who: Handle = "+14155551234".parse()?;
//! let outcome = chert.remove_participant(&chat, &who, ChangeOptions::ensure()).await?;
//! assert!(matches!(outcome, Outcome::Applied { roster: Some(_), .. }));
//! # Ok(())
//! # }
//! ```
//!
//! Provider-agnostic code picks the provider at run time, with credentials from the
//! environment (the variable names are in each provider crate's docs):
//!
//! ```no_run
//! # async fn run() -> Result<(), rosterkit::Error> {
//! use rosterkit::{ChangeOptions, ChatId, Handle, ProviderKind};
//! let provider: ProviderKind = "linq".parse()?;
//! let client = rosterkit::connect(provider)?;
//! let chat = ChatId::new("550e8400-e29b-41d4-a716-446655440000")?;
//! let who: Handle = "+12052499136".parse()?;
//! let outcome = client.remove_participant(&chat, &who, ChangeOptions::default()).await?;
//! println!("{}", outcome.as_str()); // "queued"
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! All on by default, all additive:
//!
//! - `chert`, `linq`, `zapi`, `acs`: the provider adapters, re-exported as modules of the same
//!   names. [`connect`] refuses a provider whose feature is off with an error naming the feature.
//! - `reqwest`: the reqwest (rustls) HTTP client used when [`ConnectOptions`] gives none.
//! - `bulk`: [`bulk`], streaming bulk changes with bounded concurrency, native batching,
//!   optional pacing and one result per input row (adds tokio's `rt` and `sync`).
//! - `sync`: [`sync`], plan the difference between a chat and a desired roster, then apply it
//!   (adds serde).
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "bulk")]
#[cfg_attr(docsrs, doc(cfg(feature = "bulk")))]
pub mod bulk;
pub mod conformance;
mod connect;
mod provider;
#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod sync;

pub use connect::{ConnectOptions, connect, connect_with};
pub use provider::{ProviderKind, UnknownProvider};
pub use rosterkit_core::*;

#[cfg(feature = "acs")]
#[cfg_attr(docsrs, doc(cfg(feature = "acs")))]
pub use rosterkit_acs as acs;
#[cfg(feature = "chert")]
#[cfg_attr(docsrs, doc(cfg(feature = "chert")))]
pub use rosterkit_chert as chert;
#[cfg(feature = "linq")]
#[cfg_attr(docsrs, doc(cfg(feature = "linq")))]
pub use rosterkit_linq as linq;
#[cfg(feature = "zapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "zapi")))]
pub use rosterkit_zapi as zapi;

/// The workspace README's code blocks, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadme;
