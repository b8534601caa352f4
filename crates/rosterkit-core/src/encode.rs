//! Percent-encoding of path segments and query values.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters (`A–Z a–z 0–9 - . _ ~`) is encoded, so a value
/// can never add a path segment, a query or a fragment (`+` → `%2B`, `@` → `%40`, `/` → `%2F`).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `value` as one path segment (or query value).
///
/// A segment of only dots is encoded as `%2E`s. That alone does not make it safe: the WHATWG
/// URL parser (reqwest's) treats `%2E%2E` as `..` too. So the id types refuse dot-only values
/// ([`ChatId::new`](crate::ChatId::new)), and [`ReqwestClient`](crate::ReqwestClient) refuses
/// any request whose path its URL parser would rewrite.
///
/// ```
/// use rosterkit_core::encode::path_segment;
/// assert_eq!(path_segment("+14155551234"), "%2B14155551234");
/// assert_eq!(path_segment("19:abc@thread.v2"), "19%3Aabc%40thread.v2");
/// assert_eq!(path_segment("../x"), "..%2Fx");
/// assert_eq!(path_segment(".."), "%2E%2E");
/// ```
pub fn path_segment(value: &str) -> String {
    if value.bytes().all(|b| b == b'.') {
        return "%2E".repeat(value.len());
    }
    utf8_percent_encode(value, SEGMENT).to_string()
}

/// Appends `value` percent-encoded as one path segment to `out`, without an intermediate
/// allocation.
pub fn push_path_segment(out: &mut String, value: &str) {
    if value.bytes().all(|b| b == b'.') {
        for _ in 0..value.len() {
            out.push_str("%2E");
        }
        return;
    }
    // Most ids need no encoding at all: copy them in one go.
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
    {
        out.push_str(value);
        return;
    }
    for piece in utf8_percent_encode(value, SEGMENT) {
        out.push_str(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_everything_that_could_change_the_path() {
        assert_eq!(path_segment("alice@example.com"), "alice%40example.com");
        assert_eq!(path_segment("a/b?c#d e%"), "a%2Fb%3Fc%23d%20e%25");
        assert_eq!(path_segment("%2F"), "%252F");
        assert_eq!(path_segment("\r\n"), "%0D%0A");
        assert_eq!(path_segment("é"), "%C3%A9");
        assert_eq!(path_segment("."), "%2E");
        assert_eq!(path_segment("a.b"), "a.b");
        let mut out = String::from("/x/");
        push_path_segment(&mut out, "+1 2");
        assert_eq!(out, "/x/%2B1%202");
    }

    proptest! {
        #[test]
        fn output_is_one_safe_segment(s in "\\PC{0,40}|[\\x00-\\x7f]{0,40}") {
            let e = path_segment(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            prop_assert!(e != "." && e != "..");
            let mut pushed = String::new();
            push_path_segment(&mut pushed, &s);
            prop_assert_eq!(&pushed, &e);
            let decoded = percent_encoding::percent_decode_str(&e).decode_utf8().unwrap();
            prop_assert_eq!(decoded, s);
        }
    }
}
