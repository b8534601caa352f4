//! What an application uses, and nothing an adapter author needs besides: the identifiers,
//! the [`Membership`] trait and its options and outcomes, the one error, and the settings every
//! client builder takes.
//!
//! Each provider crate re-exports this module at its root, so a program that depends only on
//! `rosterkit-linq` writes `use rosterkit_linq::{ChangeOptions, ChatId, Handle, LinqClient}`;
//! the `rosterkit` facade re-exports it at its root too. The operation and executor machinery
//! stays at `rosterkit_core`'s root (and `rosterkit::adapter`).
//!
//! ```
//! use rosterkit_core::prelude::*;
//!
//! let chat = ChatId::new("ch_01HTEST")?;
//! let who: Handle = "+14155551234".parse()?;
//! let options = ChangeOptions::ensure();
//! # let _ = (chat, who, options);
//! # Ok::<(), ParseError>(())
//! ```

/// Fakes for applications' tests (an in-memory [`Membership`]), with the `testing` feature.
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use crate::testing;
pub use crate::{
    Capabilities, ChangeOptions, ChatId, ClientOptions, Confirm, E164, Email, Error, ErrorKind,
    Handle, HandleKinds, HttpClient, Membership, NativeId, Outcome, Pacing, ParseError,
    Participant, Pending, Rate, Reason, RetryPolicy, Secret,
};
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use crate::{ReqwestClient, ReqwestClientBuilder};
