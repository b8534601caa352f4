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

/// What replaces a registered secret in an error's text ([`crate::Error::scrub`]).
pub const REDACTED: &str = "** redacted **";

/// Secrets shorter than this many bytes are not scrubbed: as substrings they would match
/// ordinary text (`"abc"` inside a word) and mangle messages, and a value that short is no
/// real protection anyway. Every documented credential is far longer.
pub const MIN_SCRUBBED_LEN: usize = 6;

/// `haystack` with every occurrence of each scrubbable secret (at least [`MIN_SCRUBBED_LEN`]
/// bytes) replaced by [`REDACTED`]; `None` when none occurs, so callers keep what they had.
pub(crate) fn scrub_bytes(haystack: &[u8], secrets: &[Secret]) -> Option<Vec<u8>> {
    let needles = || {
        secrets
            .iter()
            .map(|s| s.expose().as_bytes())
            .filter(|n| n.len() >= MIN_SCRUBBED_LEN)
    };
    let mut found = false;
    let mut out = haystack.to_vec();
    for needle in needles() {
        if !out.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        found = true;
        let mut next = Vec::with_capacity(out.len());
        let mut i = 0;
        while i < out.len() {
            if out.get(i..i + needle.len()) == Some(needle) {
                next.extend_from_slice(REDACTED.as_bytes());
                i += needle.len();
            } else {
                next.extend(out.get(i).copied());
                i += 1;
            }
        }
        out = next;
    }
    found.then_some(out)
}

/// [`scrub_bytes`] for text. Replacing whole UTF-8 strings keeps the text UTF-8.
pub(crate) fn scrub_text(text: &str, secrets: &[Secret]) -> Option<String> {
    scrub_bytes(text.as_bytes(), secrets).map(|bytes| {
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    })
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
    fn scrubbing_replaces_every_occurrence_of_long_secrets_only() {
        let secrets = [Secret::new("tok-123456"), Secret::new("abc")];
        assert_eq!(
            scrub_text("GET /x/tok-123456/y tok-123456 abc", &secrets).as_deref(),
            Some("GET /x/** redacted **/y ** redacted ** abc")
        );
        assert_eq!(scrub_text("nothing here, abc", &secrets), None);
        assert_eq!(
            scrub_bytes(b"\xfftok-123456", &secrets).as_deref(),
            Some(&b"\xff** redacted **"[..])
        );
    }

    #[test]
    fn equality() {
        assert_eq!(Secret::new("a"), Secret::new("a"));
        assert_ne!(Secret::new("a"), Secret::new("b"));
        assert_ne!(Secret::new("a"), Secret::new("ab"));
    }
}
