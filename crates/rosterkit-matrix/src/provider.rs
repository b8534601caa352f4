//! [`MatrixProvider`]: Matrix as provider-agnostic code picks it by name.

use rosterkit_core::{ConnectOptions, EnvVar, Error, Handle, Membership, Provider};

use crate::{MatrixClient, PROVIDER, ids};

/// Matrix for the facade's provider registry (`rosterkit::connect("matrix")`, bulk runs,
/// `rosterkit --provider matrix`): connects from `MATRIX_HOMESERVER` and
/// `MATRIX_ACCESS_TOKEN`, and reads `@alice:example.org` as a user id.
///
/// ```
/// use rosterkit_core::{Handle, Provider};
/// use rosterkit_matrix::MatrixProvider;
///
/// assert_eq!(MatrixProvider.name(), "matrix");
/// assert!(matches!(MatrixProvider.parse_handle("@alice:example.org")?, Handle::Native(_)));
/// let none = |_: &str| None;
/// assert_eq!(
///     MatrixProvider.missing_env(&none, false),
///     ["MATRIX_HOMESERVER", "MATRIX_ACCESS_TOKEN"]
/// );
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct MatrixProvider;

/// The variables [`MatrixClient::builder_from_env`] reads.
const ENV: &[EnvVar] = &[
    EnvVar::required(
        crate::client::ENV_HOMESERVER,
        "the homeserver's base URL (https://matrix.example.org); required",
    )
    .as_base_url(None),
    EnvVar::required(
        crate::client::ENV_TOKEN,
        "the acting user's access token; required",
    ),
];

impl Provider for MatrixProvider {
    fn name(&self) -> &'static str {
        PROVIDER
    }

    fn summary(&self) -> &'static str {
        "Matrix (client-server API: Synapse, Element)"
    }

    fn env(&self) -> &'static [EnvVar] {
        ENV
    }

    fn connect(&self, options: ConnectOptions) -> Result<Box<dyn Membership>, Error> {
        Ok(Box::new(options.build(MatrixClient::builder_from_env())?))
    }

    fn parse_handle(&self, text: &str) -> Result<Handle, Error> {
        ids::parse_user(text)
    }
}
