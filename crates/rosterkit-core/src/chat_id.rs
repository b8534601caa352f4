//! Chat identifiers.

use std::{fmt, str::FromStr};

use crate::input::{ParseError, Rule, check_text};

/// Why `.` and `..` are refused.
const DOT_SEGMENT: &str = "must not be \".\" or \"..\": URL parsers drop such a path segment (even percent-encoded), so the request would reach another resource";

/// An opaque chat id: non-empty, at most [`ChatId::MAX_LEN`] bytes, no control characters, and
/// not `.` or `..`.
///
/// Providers add their own shape checks (a UUID for Linq, a `19:…@thread.v2` for ACS); this
/// type only guarantees it is safe to percent-encode into a path segment. That is why `.` and
/// `..` are refused: URL parsers (the WHATWG rules reqwest follows) drop such a segment even
/// when it is sent as `%2E` or `%2E%2E`, so the request would reach another resource.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChatId(String);

impl ChatId {
    /// The longest accepted id, in bytes.
    pub const MAX_LEN: usize = 256;

    /// Validates `id`.
    ///
    /// # Errors
    /// [`ParseError`] when `id` is empty, too long, contains a control character, or is `.` or
    /// `..`.
    pub fn new(id: impl Into<String>) -> Result<Self, ParseError> {
        let id = id.into();
        check_text("chat id", &id, Self::MAX_LEN)?;
        if id == "." || id == ".." {
            return Err(ParseError::new("chat id", Rule::Provider(DOT_SEGMENT)));
        }
        Ok(Self(id))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ChatId").field(&self.0).finish()
    }
}

impl fmt::Display for ChatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ChatId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for ChatId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for ChatId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ChatId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::new(s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rule;
    use proptest::prelude::*;

    #[test]
    fn accepts_provider_shapes() {
        for id in [
            "ch_01HTEST",
            "550e8400-e29b-41d4-a716-446655440000",
            "120363019502650977-group",
            "19:abc@thread.v2",
        ] {
            assert_eq!(ChatId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn refuses_empty_long_and_control() {
        assert_eq!(ChatId::new("").unwrap_err().rule(), &Rule::Empty);
        assert!(matches!(
            ChatId::new("x".repeat(257)).unwrap_err().rule(),
            Rule::TooLong {
                max: 256,
                actual: 257,
                ..
            }
        ));
        for dots in [".", ".."] {
            let err = ChatId::new(dots).unwrap_err();
            assert!(matches!(err.rule(), Rule::Provider(_)), "{dots:?}");
            assert!(err.to_string().contains("must not be"), "{err}");
        }
        assert!(ChatId::new("...").is_ok());
        assert!(ChatId::new("a..b").is_ok());
        for bad in ["a\r\nb", "a\0", "tab\there", "\u{7f}"] {
            assert_eq!(
                ChatId::new(bad).unwrap_err().rule(),
                &Rule::ControlCharacter,
                "{bad:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,300}") {
            if let Ok(id) = s.parse::<ChatId>() {
                prop_assert_eq!(id.to_string().parse::<ChatId>().unwrap(), id);
            }
        }

        #[test]
        fn any_string_with_a_control_char_is_refused(a in "[a-z]{0,5}", c in "[\\x00-\\x1f]", b in "[a-z]{0,5}") {
            let err = ChatId::new(format!("{a}{c}{b}")).unwrap_err();
            prop_assert_eq!(err.rule(), &Rule::ControlCharacter);
        }
    }
}
