//! What every provider answers to the same call, generated from `specs/conformance.toml` and
//! checked against the sandbox by the conformance test.
#![doc = include_str!("conformance.md")]
