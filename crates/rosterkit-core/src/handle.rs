//! Who a participant is: a phone number, an email address or a provider-native id.

use std::{fmt, str::FromStr};

use crate::{
    input::{ParseError, Rule, check_text, has_control},
    redact,
};

/// An E.164 phone number: `+`, a first digit 1–9, 8 to 15 digits in all.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct E164(String);

impl E164 {
    /// Fewest digits accepted (country code included).
    pub const MIN_DIGITS: usize = 8;
    /// Most digits accepted (the E.164 maximum).
    pub const MAX_DIGITS: usize = 15;

    /// Parses a number exactly in E.164 form, e.g. `+14155551234`.
    ///
    /// # Errors
    /// [`ParseError`] naming the rule: missing `+`, non-digits, leading 0, too short or too long.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::check(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The rules of [`E164::parse`], without building the value.
    fn check(s: &str) -> Result<(), ParseError> {
        const WHAT: &str = "phone number";
        if s.is_empty() {
            return Err(ParseError::new(WHAT, Rule::Empty));
        }
        // One pass over the usual input: `+` and ASCII digits cannot hold a control character,
        // so the control check (which comes first in the rules) only runs on a failure.
        let control = || has_control(s).then(|| ParseError::new(WHAT, Rule::ControlCharacter));
        let Some(digits) = s.strip_prefix('+') else {
            return Err(control().unwrap_or(ParseError::new(WHAT, Rule::MissingPlus)));
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(control().unwrap_or(ParseError::new(WHAT, Rule::NotDigits)));
        }
        if digits.starts_with('0') {
            return Err(ParseError::new(WHAT, Rule::LeadingZero));
        }
        let n = digits.len();
        if n < Self::MIN_DIGITS {
            return Err(ParseError::new(
                WHAT,
                Rule::TooShort {
                    min: Self::MIN_DIGITS,
                    actual: n,
                    unit: "digits",
                },
            ));
        }
        if n > Self::MAX_DIGITS {
            return Err(ParseError::new(
                WHAT,
                Rule::TooLong {
                    max: Self::MAX_DIGITS,
                    actual: n,
                    unit: "digits",
                },
            ));
        }
        Ok(())
    }

    /// Parses a number written for people: spaces, dashes, dots and parentheses are dropped,
    /// then the strict rules apply (`+1 (415) 555-1234` → `+14155551234`).
    ///
    /// # Errors
    /// As [`E164::parse`] after the separators are removed.
    pub fn parse_lenient(s: &str) -> Result<Self, ParseError> {
        let compact: String = s
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        Self::parse(&compact)
    }

    /// The number with its `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without the `+` (the form WhatsApp gateways use).
    pub fn digits(&self) -> &str {
        self.0.get(1..).unwrap_or_default()
    }

    /// A display form that keeps only the last 4 digits, for logs and errors.
    pub fn redacted(&self) -> impl fmt::Display + '_ {
        redact::Masked(&self.0)
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", redact::Masked(&self.0))
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for E164 {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for E164 {
    type Error = ParseError;

    /// As [`E164::parse`], keeping `s`'s buffer instead of copying it.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::check(&s)?;
        Ok(Self(s))
    }
}

/// An email address, checked for shape only: one `@`, a non-empty local part, a domain with a
/// dot and no empty labels, at most 254 bytes, no whitespace or control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// The longest address accepted, in bytes (RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Validates `s` as an email address.
    ///
    /// # Errors
    /// [`ParseError`] naming the rule that failed.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::check(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The rules of [`Email::parse`], without building the value.
    fn check(s: &str) -> Result<(), ParseError> {
        const WHAT: &str = "email address";
        check_text(WHAT, s, Self::MAX_LEN)?;
        if s.chars().any(char::is_whitespace) {
            return Err(ParseError::new(WHAT, Rule::Whitespace));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ParseError::new(WHAT, Rule::EmailShape));
        };
        let shape_ok = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if !shape_ok {
            return Err(ParseError::new(WHAT, Rule::EmailShape));
        }
        Ok(())
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", redact::Masked(&self.0))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Email {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A provider-specific raw participant id, such as an ACS `8:acs:…` identifier or a WhatsApp
/// `…@lid`: non-empty, at most 1024 bytes, no whitespace or control characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NativeId(String);

impl NativeId {
    /// The longest id accepted, in bytes.
    pub const MAX_LEN: usize = 1024;

    /// Validates a raw id.
    ///
    /// # Errors
    /// [`ParseError`] when empty, too long, or containing whitespace or control characters.
    pub fn new(id: impl Into<String>) -> Result<Self, ParseError> {
        const WHAT: &str = "native id";
        let id = id.into();
        check_text(WHAT, &id, Self::MAX_LEN)?;
        if id.chars().any(char::is_whitespace) {
            return Err(ParseError::new(WHAT, Rule::Whitespace));
        }
        Ok(Self(id))
    }

    /// The raw id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the raw id says by itself that it is native (`<digits>:…` or `<digits>@lid`),
    /// so it needs no `native:` prefix to parse back.
    fn is_self_describing(&self) -> bool {
        !self.0.starts_with(NATIVE_PREFIX) && looks_native(&self.0)
    }
}

impl fmt::Debug for NativeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NativeId({})", redact::Masked(&self.0))
    }
}

impl fmt::Display for NativeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const NATIVE_PREFIX: &str = "native:";

/// `<digits>:<rest>` (ACS raw ids such as `8:acs:…`, `4:+1…`, `28:orgid:…`) or `<digits>@lid`.
fn looks_native(s: &str) -> bool {
    let digit_run = s.bytes().take_while(u8::is_ascii_digit).count();
    if digit_run == 0 {
        return false;
    }
    let rest = s.get(digit_run..).unwrap_or_default();
    (rest.starts_with(':') && rest.len() > 1) || rest == "@lid"
}

/// Who a participant is.
///
/// Parses from text: `+14155551234` is a phone, `alice@example.com` an email, `8:acs:…`,
/// `4:+1…`, `1234@lid` or `native:<anything>` a native id. Anything else is refused with a
/// message that says which shapes are accepted.
///
/// ```
/// use rosterkit_core::Handle;
/// assert!(matches!("+14155551234".parse(), Ok(Handle::Phone(_))));
/// assert!(matches!("alice@example.com".parse(), Ok(Handle::Email(_))));
/// assert!(matches!("8:acs:1111_2222".parse(), Ok(Handle::Native(_))));
/// assert!("4155551234".parse::<Handle>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Handle {
    /// An E.164 phone number.
    Phone(E164),
    /// An email address (iMessage providers).
    Email(Email),
    /// A provider-specific raw id.
    Native(NativeId),
}

impl Handle {
    /// The handle in its wire form (phone with `+`, email, or raw native id).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Phone(p) => p.as_str(),
            Self::Email(e) => e.as_str(),
            Self::Native(n) => n.as_str(),
        }
    }

    /// A display form safe for logs: phone digits masked to the last 4.
    pub fn redacted(&self) -> impl fmt::Display + '_ {
        redact::Masked(self.as_str())
    }

    /// A short name of the variant (`"phone"`, `"email"`, `"native"`), for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Phone(_) => "phone",
            Self::Email(_) => "email",
            Self::Native(_) => "native",
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phone(p) => fmt::Debug::fmt(p, f),
            Self::Email(e) => fmt::Debug::fmt(e, f),
            Self::Native(n) => fmt::Debug::fmt(n, f),
        }
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phone(p) => f.write_str(p.as_str()),
            Self::Email(e) => f.write_str(e.as_str()),
            Self::Native(n) if n.is_self_describing() => f.write_str(n.as_str()),
            Self::Native(n) => write!(f, "{NATIVE_PREFIX}{}", n.as_str()),
        }
    }
}

impl FromStr for Handle {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_text(s)
    }
}

impl TryFrom<String> for Handle {
    type Error = ParseError;

    /// Parses like [`str::parse`], keeping `s`'s buffer instead of copying it (for replies
    /// that carry many handles, such as rosters).
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse_text(s)
    }
}

impl Handle {
    /// The one parser behind [`FromStr`] and `TryFrom<String>`: the checks run on the text,
    /// then `s` becomes the stored `String` (a copy of a `&str`, a `String` moved).
    fn parse_text<S: AsRef<str> + Into<String>>(s: S) -> Result<Self, ParseError> {
        let text = s.as_ref();
        if let Some(raw) = text.strip_prefix(NATIVE_PREFIX) {
            return NativeId::new(raw).map(Self::Native);
        }
        if looks_native(text) {
            return NativeId::new(s).map(Self::Native);
        }
        if text.contains('@') {
            Email::check(text)?;
            return Ok(Self::Email(Email(s.into())));
        }
        if text.starts_with('+') {
            E164::check(text)?;
            return Ok(Self::Phone(E164(s.into())));
        }
        let s = text;
        check_text("handle", s, NativeId::MAX_LEN)?;
        if s.bytes()
            .all(|b| b.is_ascii_digit() || b" -().".contains(&b))
        {
            return Err(ParseError::new("phone number", Rule::MissingPlus));
        }
        Err(ParseError::new("handle", Rule::UnknownHandle))
    }
}

impl From<E164> for Handle {
    fn from(p: E164) -> Self {
        Self::Phone(p)
    }
}

impl From<Email> for Handle {
    fn from(e: Email) -> Self {
        Self::Email(e)
    }
}

impl From<NativeId> for Handle {
    fn from(n: NativeId) -> Self {
        Self::Native(n)
    }
}

macro_rules! serde_via_str {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_via_str!(E164, Email, Handle);

impl FromStr for NativeId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn e164_strict_rules() {
        assert_eq!(E164::parse("+14155551234").unwrap().digits(), "14155551234");
        let cases: [(&str, Rule); 6] = [
            ("", Rule::Empty),
            ("4155551234", Rule::MissingPlus),
            ("+1415555x234", Rule::NotDigits),
            ("+04155551234", Rule::LeadingZero),
            (
                "+1234567",
                Rule::TooShort {
                    min: 8,
                    actual: 7,
                    unit: "digits",
                },
            ),
            (
                "+1234567890123456",
                Rule::TooLong {
                    max: 15,
                    actual: 16,
                    unit: "digits",
                },
            ),
        ];
        for (input, rule) in cases {
            assert_eq!(E164::parse(input).unwrap_err().rule(), &rule, "{input:?}");
        }
        assert_eq!(
            E164::parse("+1 415 555 1234").unwrap_err().rule(),
            &Rule::NotDigits
        );
        assert_eq!(
            E164::parse("+1415\r\n5551234").unwrap_err().rule(),
            &Rule::ControlCharacter
        );
        // Full-width digits are not ASCII digits.
        assert_eq!(
            E164::parse("+１４１５５５５１２３４").unwrap_err().rule(),
            &Rule::NotDigits
        );
    }

    #[test]
    fn e164_lenient_strips_separators_only() {
        assert_eq!(
            E164::parse_lenient("+1 (415) 555-12.34").unwrap().as_str(),
            "+14155551234"
        );
        assert!(E164::parse_lenient("1 415 555 1234").is_err());
        assert!(E164::parse_lenient("+1 415 555 1234 ext 5").is_err());
    }

    #[test]
    fn email_rules() {
        assert!(Email::parse("alice@example.com").is_ok());
        for bad in [
            "a@",
            "@example.com",
            "alice",
            "a@b",
            "a@b..c",
            "a b@c.d",
            "a@b@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(matches!(
            Email::parse(&long).unwrap_err().rule(),
            Rule::TooLong { .. }
        ));
    }

    #[test]
    fn handle_shapes() {
        assert!(matches!(
            "+14155551234".parse::<Handle>(),
            Ok(Handle::Phone(_))
        ));
        assert!(matches!(
            "bob@example.com".parse::<Handle>(),
            Ok(Handle::Email(_))
        ));
        for native in [
            "8:acs:1111_2222",
            "4:+14155551234",
            "28:orgid:abc",
            "1234@lid",
        ] {
            let h: Handle = native.parse().unwrap();
            assert!(matches!(h, Handle::Native(_)), "{native}");
            assert_eq!(h.as_str(), native);
            assert_eq!(h.to_string(), native);
        }
        let h: Handle = "native:whatever".parse().unwrap();
        assert_eq!(h.as_str(), "whatever");
        assert_eq!(h.to_string(), "native:whatever");

        let missing_plus = "4155551234".parse::<Handle>().unwrap_err();
        assert_eq!(missing_plus.rule(), &Rule::MissingPlus);
        assert!(missing_plus.to_string().contains("E.164"));
        assert_eq!(
            "a@".parse::<Handle>().unwrap_err().rule(),
            &Rule::EmailShape
        );
        assert_eq!(
            "alice".parse::<Handle>().unwrap_err().rule(),
            &Rule::UnknownHandle
        );
        assert_eq!(
            "+1415\n5551234".parse::<Handle>().unwrap_err().rule(),
            &Rule::ControlCharacter
        );
        assert_eq!("".parse::<Handle>().unwrap_err().rule(), &Rule::Empty);
    }

    #[test]
    fn debug_and_redacted_mask_phone_digits() {
        let h: Handle = "+14155551234".parse().unwrap();
        assert_eq!(format!("{h:?}"), "E164(+*******1234)");
        assert_eq!(h.redacted().to_string(), "+*******1234");
        let raw: Handle = "4:+14155551234".parse().unwrap();
        assert!(!format!("{raw:?}").contains("4155551234"));
    }

    #[test]
    fn serde_round_trip() {
        let h: Handle = "+14155551234".parse().unwrap();
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, "\"+14155551234\"");
        assert_eq!(serde_json::from_str::<Handle>(&json).unwrap(), h);
        assert!(serde_json::from_str::<Handle>("\"4155551234\"").is_err());
    }

    fn any_handle() -> impl Strategy<Value = Handle> {
        prop_oneof![
            "\\+[1-9][0-9]{7,14}".prop_map(|s| Handle::Phone(E164::parse(&s).unwrap())),
            "[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\\.[a-z]{2,6}"
                .prop_map(|s| Handle::Email(Email::parse(&s).unwrap())),
            "[!-~]{1,40}".prop_map(|s| Handle::Native(NativeId::new(s).unwrap())),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,64}|[\\x00-\\x7f]{0,64}") {
            let _ = s.parse::<Handle>();
            let _ = E164::parse_lenient(&s);
        }

        #[test]
        fn display_parses_back(h in any_handle()) {
            prop_assert_eq!(h.to_string().parse::<Handle>().unwrap(), h);
        }

        #[test]
        fn valid_e164_round_trips(s in "\\+[1-9][0-9]{7,14}") {
            let p = E164::parse(&s).unwrap();
            prop_assert_eq!(p.to_string(), s);
            prop_assert_eq!(p.redacted().to_string().len(), p.as_str().len());
        }

        #[test]
        fn owned_and_borrowed_parsing_agree(
            s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}|\\+[0-9\\x00-\\x1f\\x7f\\u{80}-\\u{9f} a]{0,17}|[a-z+.]{1,8}@[a-z.]{0,8}"
        ) {
            prop_assert_eq!(Handle::try_from(s.clone()), s.parse::<Handle>());
        }

        #[test]
        fn digits_without_plus_are_missing_plus(s in "[1-9][0-9]{7,14}") {
            let err = s.parse::<Handle>().unwrap_err();
            prop_assert_eq!(err.rule(), &Rule::MissingPlus);
        }
    }
}
