//! A redacting wrapper for credentials.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq as _;

use crate::input::{ParseError, Rule};

/// A credential (signing secret, bearer token, `Client-Token`, access key).
///
/// `Debug` prints a redaction, there is no `Display` or `Serialize`, comparison is constant-time
/// and the memory is wiped on drop (by [`secrecy`]). Read it with [`Secret::expose`] only where
/// it goes on the wire.
///
/// ```
/// use rosterkit_core::Secret;
/// let s = Secret::new("0123456789abcdef");
/// assert_eq!(format!("{s:?}"), "Secret(** redacted **)");
/// assert_eq!(s.expose(), "0123456789abcdef");
/// ```
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// Wraps `value` after checking it can travel in a header: non-empty, no control characters
    /// or whitespace (CR/LF would split the header).
    ///
    /// # Errors
    /// [`ParseError`] naming `what` and the rule, never the value.
    pub fn for_header(what: &'static str, value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if value.is_empty() {
            return Err(ParseError::new(what, Rule::Empty));
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::new(what, Rule::ControlCharacter));
        }
        if value.chars().any(char::is_whitespace) || !value.is_ascii() {
            return Err(ParseError::new(what, Rule::Whitespace));
        }
        Ok(Self::new(value))
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(** redacted **)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        // Constant time for equal lengths; the length itself is not secret.
        self.expose()
            .as_bytes()
            .ct_eq(other.expose().as_bytes())
            .into()
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("super-secret-value");
        let dbg = format!("{s:?} {:?}", Some(&s));
        assert!(!dbg.contains("super"), "{dbg}");
        assert!(!dbg.contains("secret-value"), "{dbg}");
    }

    #[test]
    fn header_checks() {
        assert!(Secret::for_header("token", "abc").is_ok());
        assert_eq!(
            Secret::for_header("token", "a\r\nb").unwrap_err().rule(),
            &Rule::ControlCharacter
        );
        assert_eq!(
            Secret::for_header("token", "a b").unwrap_err().rule(),
            &Rule::Whitespace
        );
        assert_eq!(
            Secret::for_header("token", "").unwrap_err().rule(),
            &Rule::Empty
        );
        let msg = Secret::for_header("token", "leak\nme")
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("leak"), "{msg}");
    }

    #[test]
    fn equality() {
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_ne!(Secret::new("a"), Secret::new("ab"));
    }
}
