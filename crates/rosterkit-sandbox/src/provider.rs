//! The providers the sandbox emulates and where each one is mounted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A messaging provider emulated by the sandbox.
///
/// Serialised in lowercase (`"chert"`, `"linq"`, `"zapi"`, `"acs"`), the same spelling as the
/// journal's `provider` field and the control plane's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// Chert (iMessage), mounted at `/chert/api/v1`.
    Chert,
    /// Linq v3 (iMessage), mounted at `/linq/api/partner`.
    Linq,
    /// Z-API (WhatsApp), mounted at `/zapi`.
    Zapi,
    /// Azure Communication Services Chat, mounted at `/acs`.
    Acs,
}

impl Provider {
    /// Every provider, in a stable order.
    pub const ALL: [Provider; 4] = [
        Provider::Chert,
        Provider::Linq,
        Provider::Zapi,
        Provider::Acs,
    ];

    /// The lowercase name used on the wire (`"chert"`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Chert => "chert",
            Provider::Linq => "linq",
            Provider::Zapi => "zapi",
            Provider::Acs => "acs",
        }
    }

    /// The path under which the provider's emulated API is served, without a trailing slash
    /// (`/chert/api/v1`); the provider's base URL is the sandbox's base URL followed by it.
    #[must_use]
    pub const fn mount_path(self) -> &'static str {
        match self {
            Provider::Chert => "/chert/api/v1",
            Provider::Linq => "/linq/api/partner",
            Provider::Zapi => "/zapi",
            Provider::Acs => "/acs",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when parsing an unknown provider name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown provider {:?} (expected chert, linq, zapi or acs)",
            self.0
        )
    }
}

impl std::error::Error for UnknownProvider {}

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}
