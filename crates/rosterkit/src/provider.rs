//! Which provider: [`ProviderName`], the open set's key, and [`ProviderKind`], the four built
//! in from the start.

use std::{fmt, str::FromStr};

use rosterkit_core::{Error, Provider};

/// The four providers rosterkit started with. Kept for code written against them; the set of
/// providers is open ([`crate::Registry`], keyed by [`ProviderName`]), and every API that takes
/// a provider takes a `ProviderKind` too. Every variant exists whatever the features;
/// connecting to one whose feature is off is an error that names the feature.
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

    /// The provider's [`ProviderName`].
    pub const fn name(self) -> ProviderName {
        ProviderName(self.as_str())
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

impl AsRef<str> for ProviderKind {
    fn as_ref(&self) -> &str {
        self.as_str()
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

/// A provider's name (`"matrix"`): what bulk rows, [`crate::bulk::Clients`] and pacing are
/// keyed by. Parsing one looks it up in the process-wide [`crate::Registry`], so a parsed name
/// is a registered provider's; [`ProviderName::of`] names any [`Provider`] value and a
/// [`ProviderKind`] converts.
///
/// ```
/// use rosterkit::{ProviderKind, ProviderName};
/// let matrix: ProviderName = " Matrix ".parse()?;
/// assert_eq!(matrix, "matrix");
/// assert_eq!(ProviderName::from(ProviderKind::Linq), ProviderKind::Linq);
/// assert!("telegram".parse::<ProviderName>().is_err());
/// # Ok::<(), rosterkit::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderName(&'static str);

/// The longest provider name, in bytes.
const MAX_NAME: usize = 32;

impl ProviderName {
    /// The registered provider called `name` (case-insensitive, surrounding spaces ignored) in
    /// the process-wide registry.
    ///
    /// # Errors
    /// As [`crate::Registry::get`].
    pub fn new(name: &str) -> Result<Self, Error> {
        Self::of(crate::Registry::global().get(name)?.as_ref())
    }

    /// `provider`'s name.
    ///
    /// # Errors
    /// `InvalidInput` when it is empty, longer than 32 bytes or has other characters than
    /// lowercase ASCII letters, digits, `-` and `_`.
    pub fn of(provider: &dyn Provider) -> Result<Self, Error> {
        let name = provider.name();
        if name.is_empty()
            || name.len() > MAX_NAME
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(Error::invalid_input(format!(
                "{:?} is not a provider name (lowercase ASCII letters, digits, - and _, at most {MAX_NAME} bytes)",
                name.chars().take(40).collect::<String>()
            )));
        }
        Ok(Self(name))
    }

    /// The name.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl From<ProviderKind> for ProviderName {
    fn from(kind: ProviderKind) -> Self {
        kind.name()
    }
}

impl FromStr for ProviderName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for ProviderName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ProviderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<ProviderKind> for ProviderName {
    fn eq(&self, other: &ProviderKind) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<ProviderKind> for &ProviderName {
    fn eq(&self, other: &ProviderKind) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for ProviderName {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ProviderName {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_registered_ones() {
        assert_eq!(ProviderName::new(" CHERT ").unwrap(), ProviderKind::Chert);
        for bad in ["", "a b", "ma/trix", "é", &"x".repeat(33)] {
            assert!(ProviderName::new(bad).is_err(), "{bad:?}");
        }
        let err = ProviderName::new("+14155551234").unwrap_err();
        assert!(!err.to_string().contains("4155551234"), "{err}");
        assert_eq!(
            format!("{:?}", ProviderName::from(ProviderKind::Acs)),
            "\"acs\""
        );
    }

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
