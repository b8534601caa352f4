//! `Handle::from_str` and the other identifier parsers on arbitrary text: no panic, a parsed
//! handle round-trips through `Display`, its redacted form shows no run of 7+ digits, and every
//! accepted value percent-encodes into one safe path segment that decodes back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rosterkit_core::{ChatId, E164, Email, Handle, NativeId, encode, redact::mask_digits};
use rosterkit_fuzz::percent_decode;

fn no_long_digit_run(s: &str) {
    let mut run = 0;
    for b in s.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        assert!(run < 7, "unmasked digits in {s:?}");
    }
}

fn one_safe_segment(value: &str) {
    let encoded = encode::path_segment(value);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
        "{encoded}"
    );
    assert_ne!(encoded, ".");
    assert_ne!(encoded, "..");
    assert_eq!(percent_decode(&encoded).as_deref(), Some(value));
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(handle) = s.parse::<Handle>() {
        let shown = handle.to_string();
        assert_eq!(shown.parse::<Handle>().as_ref(), Ok(&handle), "{shown}");
        no_long_digit_run(&handle.redacted().to_string());
        no_long_digit_run(&format!("{handle:?}"));
        one_safe_segment(handle.as_str());
    } else if let Err(e) = s.parse::<Handle>() {
        let _ = e.to_string();
    }
    if let Ok(phone) = E164::parse_lenient(s) {
        assert_eq!(E164::parse(phone.as_str()).as_ref(), Ok(&phone));
        no_long_digit_run(&format!("{phone:?}"));
    }
    let _ = Email::parse(s);
    if let Ok(native) = NativeId::new(s) {
        one_safe_segment(native.as_str());
    }
    if let Ok(chat) = ChatId::new(s) {
        one_safe_segment(chat.as_str());
        assert_ne!(chat.as_str(), ".");
        assert_ne!(chat.as_str(), "..");
    }
    no_long_digit_run(&mask_digits(s));
});
