//! One comparison key per member, so the same person written two ways is one member.

use crate::{E164, Handle};

/// The form two handles are compared in.
///
/// A phone is its E.164 digits, whether it came as `+14155551234` or as an ACS phone identity
/// `4:+14155551234`; an email is compared case-insensitively (iMessage addresses are); any
/// other native id is compared exactly. Handles are already validated, so a phone written
/// `+1 (415) 555-1234` became `+14155551234` when it was parsed with
/// [`E164::parse_lenient`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Key {
    Phone(String),
    Email(String),
    Native(String),
}

impl Key {
    pub(crate) fn of(handle: &Handle) -> Self {
        match handle {
            Handle::Phone(p) => Self::Phone(p.digits().to_owned()),
            Handle::Email(e) => Self::Email(e.as_str().to_lowercase()),
            Handle::Native(n) => {
                let raw = n.as_str();
                match raw.strip_prefix("4:").map(E164::parse) {
                    Some(Ok(phone)) => Self::Phone(phone.digits().to_owned()),
                    _ => Self::Native(raw.to_owned()),
                }
            }
            // `Handle` may grow: a new kind is compared by its wire form.
            other => Self::Native(other.as_str().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::of(&s.parse().unwrap())
    }

    #[test]
    fn one_person_written_two_ways_is_one_key() {
        assert_eq!(key("+14155551234"), key("4:+14155551234"));
        assert_eq!(
            Key::of(&Handle::Phone(
                E164::parse_lenient("+1 (415) 555-1234").unwrap()
            )),
            key("+14155551234")
        );
        assert_eq!(key("Alice@Example.com"), key("alice@example.com"));
        assert_ne!(key("+14155551234"), key("+14155551235"));
        assert_ne!(key("8:acs:a"), key("8:acs:A"));
        assert_ne!(key("4:not-a-phone"), key("+14155551234"));
    }
}
