//! Which provider.

use std::{fmt, str::FromStr};

/// The providers rosterkit speaks to. Every variant exists whatever the features; connecting to
/// one whose feature is off is an error that names the feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProviderKind {
    /// Chert (iMessage), feature `chert`.
    Chert,
    /// Linq API v3 (iMessage), feature `linq`.
    Linq,
    /// Z-API (WhatsApp), feature `zapi`.
    Zapi,
    /// Azure Communication Services Chat, feature `acs`.
    Acs,
}

impl ProviderKind {
    /// Every provider.
    pub const ALL: [Self; 4] = [Self::Chert, Self::Linq, Self::Zapi, Self::Acs];

    /// The lowercase name (`"chert"`), also the cargo feature's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Chert => "chert",
            Self::Linq => "linq",
            Self::Zapi => "zapi",
            Self::Acs => "acs",
        }
    }

    /// Whether this build includes the provider's adapter.
    pub const fn is_enabled(self) -> bool {
        match self {
            Self::Chert => cfg!(feature = "chert"),
            Self::Linq => cfg!(feature = "linq"),
            Self::Zapi => cfg!(feature = "zapi"),
            Self::Acs => cfg!(feature = "acs"),
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A provider name that is not one of [`ProviderKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProvider(pub String);

impl std::error::Error for UnknownProvider {}

impl fmt::Display for UnknownProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown provider {:?}: expected one of chert, linq, zapi, acs",
            self.0
        )
    }
}

impl FromStr for ProviderKind {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl From<UnknownProvider> for rosterkit_core::Error {
    fn from(e: UnknownProvider) -> Self {
        Self::invalid_input(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in ProviderKind::ALL {
            assert_eq!(p.as_str().parse::<ProviderKind>().unwrap(), p);
            assert_eq!(
                p.to_string()
                    .to_uppercase()
                    .parse::<ProviderKind>()
                    .unwrap(),
                p
            );
        }
        let err = "telegram".parse::<ProviderKind>().unwrap_err();
        assert!(err.to_string().contains("chert, linq, zapi, acs"));
    }
}
