//! Masking of personal data in logs, `Debug` output and error messages.

use std::fmt;

/// Runs of at least this many digits are treated as phone numbers and masked.
const MIN_MASKED_RUN: usize = 7;
/// How many trailing digits stay readable.
const KEEP: usize = 4;

/// Writes `s` with every run of 7 or more ASCII digits masked to its last 4 digits
/// (`+14155551234` → `+*******1234`). Shorter runs (codes, statuses) stay as they are.
pub fn mask_digits(s: &str) -> String {
    Masked(s).to_string()
}

/// [`fmt::Display`] adapter that masks like [`mask_digits`] without allocating.
#[derive(Clone, Copy)]
pub(crate) struct Masked<'a>(pub(crate) &'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.as_bytes();
        let mut i = 0;
        let mut plain_from = 0;
        while i < bytes.len() {
            if bytes.get(i).is_some_and(u8::is_ascii_digit) {
                let start = i;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let run = i - start;
                if run >= MIN_MASKED_RUN {
                    f.write_str(self.0.get(plain_from..start).unwrap_or_default())?;
                    for _ in 0..run - KEEP {
                        f.write_str("*")?;
                    }
                    f.write_str(self.0.get(i - KEEP..i).unwrap_or_default())?;
                    plain_from = i;
                }
            } else {
                i += 1;
            }
        }
        f.write_str(self.0.get(plain_from..).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn masks_long_digit_runs_only() {
        assert_eq!(mask_digits("+14155551234"), "+*******1234");
        assert_eq!(
            mask_digits("remove +14155551234 from ch_1 failed with 1002"),
            "remove +*******1234 from ch_1 failed with 1002"
        );
        assert_eq!(mask_digits("5544999999999"), "*********9999");
        assert_eq!(mask_digits("HTTP 429, code 1007"), "HTTP 429, code 1007");
        assert_eq!(mask_digits("ünïcode 12345678 ✓"), "ünïcode ****5678 ✓");
    }

    proptest! {
        #[test]
        fn never_leaks_a_long_run(prefix in "[a-z +]{0,5}", digits in "[0-9]{7,20}", suffix in "[a-z ]{0,5}") {
            let masked = mask_digits(&format!("{prefix}{digits}{suffix}"));
            prop_assert!(!masked.contains(&digits));
            let tail = &digits[digits.len() - 4..];
            prop_assert!(masked.contains(tail));
        }

        #[test]
        fn keeps_length_and_never_panics(s in "\\PC{0,80}") {
            prop_assert_eq!(mask_digits(&s).len(), s.len());
        }
    }
}
