//! A short free-text reason for a membership change, for providers that record one.

use std::fmt;

use crate::input::{ParseError, check_text};

/// Why a change is made ("spam", "left the company"), shown to the room by providers that keep
/// one (Matrix's `reason` on kick, leave and invite) and ignored by the others.
///
/// Stored inline (at most [`Reason::MAX_LEN`] bytes) so [`ChangeOptions`](crate::ChangeOptions)
/// stays `Copy` and costs no allocation. Control characters are refused: a reason ends up in
/// other people's clients and logs.
///
/// ```
/// use rosterkit_core::{ChangeOptions, Reason};
///
/// let options = ChangeOptions::ensure().with_reason(Reason::new("left the company")?);
/// assert_eq!(options.reason.map(|r| r.to_string()).as_deref(), Some("left the company"));
/// assert!(Reason::new("two\nlines").is_err());
/// # Ok::<(), rosterkit_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason {
    len: u8,
    bytes: [u8; Reason::MAX_LEN],
}

impl Reason {
    /// The longest accepted reason, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Validates `text`: non-empty, at most [`Reason::MAX_LEN`] bytes, no control characters.
    ///
    /// # Errors
    /// [`ParseError`] naming the rule broken.
    pub fn new(text: &str) -> Result<Self, ParseError> {
        check_text("reason", text, Self::MAX_LEN)?;
        let mut bytes = [0; Self::MAX_LEN];
        // `check_text` capped the length, so the slot always exists.
        let Some(slot) = bytes.get_mut(..text.len()) else {
            return Err(ParseError::new(
                "reason",
                crate::Rule::TooLong {
                    max: Self::MAX_LEN,
                    actual: text.len(),
                    unit: "bytes",
                },
            ));
        };
        slot.copy_from_slice(text.as_bytes());
        let len = u8::try_from(text.len()).unwrap_or(u8::MAX);
        Ok(Self { len, bytes })
    }

    /// The reason as given.
    pub fn as_str(&self) -> &str {
        // Always a whole `&str` copied in by `new`, so this never falls back.
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Reason").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Reason {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rule;

    #[test]
    fn keeps_text_and_refuses_bad_input() {
        let r = Reason::new("spam — répété").unwrap();
        assert_eq!(r.as_str(), "spam — répété");
        assert_eq!(format!("{r:?}"), "Reason(\"spam — répété\")");
        let max = "x".repeat(Reason::MAX_LEN);
        assert_eq!(Reason::new(&max).unwrap().as_str(), max);
        assert!(matches!(
            Reason::new(&format!("{max}x")).unwrap_err().rule(),
            Rule::TooLong { max: 255, .. }
        ));
        assert_eq!(Reason::new("").unwrap_err().rule(), &Rule::Empty);
        assert_eq!(
            Reason::new("a\r\nb").unwrap_err().rule(),
            &Rule::ControlCharacter
        );
    }
}
