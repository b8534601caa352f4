//! Provider-agnostic construction from the environment, through the process-wide
//! [`Registry`](crate::Registry).

use rosterkit_core::{Error, Membership};

pub use rosterkit_core::ConnectOptions;

use crate::Registry;

/// A client for the provider called `provider` (`"matrix"`, or a [`crate::ProviderKind`]),
/// configured from its environment variables.
///
/// # Errors
/// `InvalidInput` for an unknown provider or naming a missing or invalid variable;
/// `Unsupported` when a built-in provider's cargo feature is off.
pub fn connect(provider: impl AsRef<str>) -> Result<Box<dyn Membership>, Error> {
    connect_with(provider, ConnectOptions::default())
}

/// A client for `provider` from its environment variables, with `options` applied on top:
/// [`Registry::global`]`().connect(provider, options)`.
///
/// # Errors
/// `InvalidInput` for an unknown provider or naming a missing or invalid setting;
/// `Unsupported` when a built-in provider's cargo feature is off.
pub fn connect_with(
    provider: impl AsRef<str>,
    options: ConnectOptions,
) -> Result<Box<dyn Membership>, Error> {
    Registry::global().connect(provider.as_ref(), options)
}
