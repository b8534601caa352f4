//! HMAC-SHA256 request signing and webhook verification for the messaging providers that
//! rosterkit talks to.
//!
//! Everything here is a pure function over raw bytes: no HTTP, no async, no clock of its own.
//! Wherever time matters the caller passes `now`, so a server can verify with its own clock and
//! a test with a fixed one. Verifiers take a list of secrets, so two can be accepted during a
//! key rotation, treat a missing header as an error (never as "unsigned, let it through"),
//! compare signatures in constant time, and reject timestamps too far in the past *or* the
//! future.
//!
//! | module | signs | verifies |
//! |---|---|---|
//! | [`chert`] | API requests (`x-chert-signature: v1,<ts>,<hex>`), webhooks (`t=<ts>,v1=<hex>`) | both, either header form |
//! | [`linq`] | webhooks (bare hex + `X-Webhook-Timestamp`) | webhooks |
//! | [`acs`] | access-key requests (`x-ms-date`, `x-ms-content-sha256`, `Authorization`) | the same, server side |
//!
//! Keys differ per provider and are easy to get wrong: Chert uses the secret string's own bytes
//! (do not hex-decode it), Linq the whole `whsec_…` string, ACS the base64-*decoded* access key.
//!
//! Every rejection is a [`VerifyError`] naming the rule that failed.
//!
//! # Example
//!
//! A Chert webhook endpoint accepting deliveries signed with either the current or the previous
//! subscription secret:
//!
//! ```
//! use rosterkit_sign::{VerifyError, chert};
//!
//! let current: &[u8] = b"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
//! let previous: &[u8] = b"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
//! let body = br#"{"event":"message.received"}"#;
//! let now = 1_700_000_030; // your clock, in Unix seconds
//!
//! // What Chert would send at t = 1700000000 with the current secret.
//! let header = chert::sign_webhook(current, 1_700_000_000, body);
//! assert!(header.starts_with("t=1700000000,v1="));
//!
//! let secrets = [current, previous];
//! let ts = chert::verify_webhook(Some(&header), None, body, &secrets, now, chert::DEFAULT_TOLERANCE)?;
//! assert_eq!(ts, 1_700_000_000);
//!
//! // A changed body, a missing header or an old delivery are each rejected with their own error.
//! assert_eq!(
//!     chert::verify_webhook(Some(&header), None, b"{}", &secrets, now, chert::DEFAULT_TOLERANCE),
//!     Err(VerifyError::Mismatch),
//! );
//! assert_eq!(
//!     chert::verify_webhook(None, None, body, &secrets, now, chert::DEFAULT_TOLERANCE),
//!     Err(VerifyError::MissingHeader("X-Webhook-Signature")),
//! );
//! assert!(matches!(
//!     chert::verify_webhook(Some(&header), None, body, &secrets, now + 600, chert::DEFAULT_TOLERANCE),
//!     Err(VerifyError::Stale { .. }),
//! ));
//! # Ok::<(), VerifyError>(())
//! ```
//!
//! # Feature flags
//!
//! This crate has no cargo features.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod acs;
pub mod chert;
mod error;
pub mod linq;
mod mac;

pub use error::VerifyError;

/// The code blocks of `README.md`, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
