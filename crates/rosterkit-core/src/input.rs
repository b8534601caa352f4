//! Why a piece of caller input was refused, before any request was built.

use std::fmt;

/// Input that failed validation. Says which value and which rule, never echoes the value itself
/// (it may be a phone number or a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {rule}")]
pub struct ParseError {
    what: &'static str,
    rule: Rule,
}

impl ParseError {
    /// A refusal of `what` (for example `"phone number"`) by `rule`.
    pub const fn new(what: &'static str, rule: Rule) -> Self {
        Self { what, rule }
    }

    /// The kind of value that was refused, e.g. `"phone number"`.
    pub const fn what(&self) -> &'static str {
        self.what
    }

    /// The rule the value broke.
    pub const fn rule(&self) -> &Rule {
        &self.rule
    }
}

/// The validation rules, each with a message that tells the caller how to fix the input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// The value is empty.
    Empty,
    /// The value is longer than allowed.
    TooLong {
        /// The limit.
        max: usize,
        /// What was given.
        actual: usize,
        /// The unit of both numbers (`"bytes"`, `"digits"`).
        unit: &'static str,
    },
    /// The value is shorter than allowed.
    TooShort {
        /// The minimum.
        min: usize,
        /// What was given.
        actual: usize,
        /// The unit of both numbers.
        unit: &'static str,
    },
    /// A control character (CR, LF, NUL, TAB, …) where none may appear.
    ControlCharacter,
    /// Whitespace where none may appear.
    Whitespace,
    /// A phone number without the leading `+` and country code.
    MissingPlus,
    /// A phone number whose country code starts with 0.
    LeadingZero,
    /// A phone number with something other than ASCII digits after the `+`.
    NotDigits,
    /// An email address without exactly one `@` between a local part and a domain.
    EmailShape,
    /// The value is not a handle of any known shape.
    UnknownHandle,
    /// A URL that is not absolute `https://` (or `http://` to a loopback host).
    Url(&'static str),
    /// A provider-specific rule, described in full.
    Provider(&'static str),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { max, actual, unit } => {
                write!(f, "must be at most {max} {unit}, got {actual}")
            }
            Self::TooShort { min, actual, unit } => {
                write!(f, "must be at least {min} {unit}, got {actual}")
            }
            Self::ControlCharacter => {
                f.write_str("must not contain control characters (CR, LF, NUL, TAB, ...)")
            }
            Self::Whitespace => f.write_str("must not contain whitespace"),
            Self::MissingPlus => f.write_str(
                "phone numbers must be in E.164 form: '+', country code and number, e.g. +14155551234",
            ),
            Self::LeadingZero => {
                f.write_str("the country code after '+' cannot start with 0 (E.164)")
            }
            Self::NotDigits => f.write_str("only digits may follow the '+' (E.164)"),
            Self::EmailShape => f.write_str(
                "an email address needs one '@' between a local part and a domain with a dot, e.g. alice@example.com",
            ),
            Self::UnknownHandle => f.write_str(
                "expected an E.164 phone number (+14155551234), an email address, or a native id (8:acs:..., 1234@lid, native:...)",
            ),
            Self::Url(why) => write!(f, "{why}"),
            Self::Provider(why) => f.write_str(why),
        }
    }
}

/// Refuses empty values, values over `max` bytes and control characters: the checks shared by
/// every identifier that ends up in a path segment or a header.
pub(crate) fn check_text(what: &'static str, value: &str, max: usize) -> Result<(), ParseError> {
    if value.is_empty() {
        return Err(ParseError::new(what, Rule::Empty));
    }
    if value.len() > max {
        return Err(ParseError::new(
            what,
            Rule::TooLong {
                max,
                actual: value.len(),
                unit: "bytes",
            },
        ));
    }
    if has_control(value) {
        return Err(ParseError::new(what, Rule::ControlCharacter));
    }
    Ok(())
}

/// Whether `value` holds a control character (`char::is_control`): a byte scan for ASCII text
/// (the usual case, and several times cheaper), the char scan otherwise.
pub(crate) fn has_control(value: &str) -> bool {
    if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_control_matches_char_is_control() {
        for c in ('\0'..='\u{2ff}').chain(['\u{2028}', '\u{feff}', '\u{10ffff}']) {
            for text in [format!("{c}"), format!("+1415{c}555"), format!("ab{c}é")] {
                assert_eq!(
                    has_control(&text),
                    text.chars().any(char::is_control),
                    "{text:?}"
                );
            }
        }
    }
}
