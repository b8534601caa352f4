//! Retry-hint parsing (issue #16): arbitrary header names and value bytes, in the three
//! spellings and under any name, and arbitrary body `retry_after` values, through
//! `retry_after_from_headers`, `retry_hint*` and the Chert and Linq error decoders.
//!
//! Input: byte 0 picks which lines go under which header name, byte 1 the status (429 or
//! 503 or any), bytes 2..10 a float for `retry_hint_f64` and the clock; the rest is split on
//! `\n` into up to four header values (the fourth line's first `:` splits an arbitrary name
//! from its value) and a body, which is also spliced into an error envelope as `retry_after`.
//! Must hold: no panic, and every delay read is at most `MAX_RETRY_HINT`.
#![no_main]

use std::{
    sync::LazyLock,
    time::{Duration, SystemTime},
};

use libfuzzer_sys::fuzz_target;
use rosterkit_core::{
    Attempt, Bytes, ChatId, Error, HintUnit, MAX_RETRY_HINT, Operation, http,
    retry_after_from_headers, retry_hint, retry_hint_f64, retry_hint_whole,
};
use rosterkit_fuzz::{now, offline};

const NAMES: [&str; 3] = ["x-ms-retry-after-ms", "retry-after-ms", "retry-after"];

struct Ops {
    chert: rosterkit_chert::ops::Leave,
    linq: rosterkit_linq::ops::Leave,
}

static OPS: LazyLock<Ops> = LazyLock::new(|| {
    let chert_chat = ChatId::new("ch_01HTEST").expect("chat");
    let linq_chat = ChatId::new("550e8400-e29b-41d4-a716-446655440000").expect("chat");
    let chert = rosterkit_chert::ChertClient::builder()
        .tenant("acme")
        .signing_secret("0123456789abcdef0123456789abcdef")
        .http_client(offline())
        .build()
        .expect("client");
    let linq = rosterkit_linq::LinqClient::builder()
        .api_key("test-token")
        .http_client(offline())
        .build()
        .expect("client");
    Ops {
        chert: rosterkit_chert::ops::Leave::new(chert.config(), &chert_chat).expect("op"),
        linq: rosterkit_linq::ops::Leave::new(linq.config(), &linq_chat).expect("op"),
    }
});

fn within_ceiling(what: &str, delay: Option<Duration>) {
    if let Some(delay) = delay {
        assert!(delay <= MAX_RETRY_HINT, "{what}: {delay:?}");
    }
}

fn error_wait(what: &str, result: Result<(), Error>) {
    if let Err(e) = result {
        within_ceiling(what, e.retry_after());
    }
}

fuzz_target!(|data: &[u8]| {
    let (Some(&[pick, status]), Some(float), Some(rest)) = (
        data.get(..2),
        data.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()),
        data.get(10..),
    ) else {
        return;
    };
    let number = f64::from_le_bytes(float);
    let whole = u64::from_le_bytes(float);
    for unit in [HintUnit::Seconds, HintUnit::Millis] {
        within_ceiling("retry_hint_f64", retry_hint_f64(number, unit));
        within_ceiling("retry_hint_whole", Some(retry_hint_whole(whole, unit)));
    }
    // Any clock, far past to far future, for the HTTP-date form.
    let clock = SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(whole >> 20))
        .unwrap_or_else(now);

    let mut parts = rest.splitn(5, |b| *b == b'\n');
    let values: Vec<&[u8]> = parts.by_ref().take(4).collect();
    let body = parts.next().unwrap_or_default();
    let mut headers = http::HeaderMap::new();
    for (i, value) in values.iter().enumerate() {
        let text = String::from_utf8_lossy(value);
        for unit in [HintUnit::Seconds, HintUnit::Millis] {
            within_ceiling("retry_hint", retry_hint(&text, unit));
        }
        let (name, value) = if i < 3 {
            // Byte 0 shuffles the spellings so each line can land under each name.
            (NAMES[(usize::from(pick) + i) % 3].as_bytes(), *value)
        } else {
            let at = value.iter().position(|b| *b == b':').unwrap_or(0);
            (&value[..at], value.get(at + 1..).unwrap_or_default())
        };
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            // Bit 7: repeat each header (duplicates: the first one counts).
            if pick & 0x80 != 0 {
                headers.append(name.clone(), value.clone());
            }
            headers.append(name, value);
        }
    }
    within_ceiling("headers", retry_after_from_headers(&headers, clock));

    // The body as given, and spliced into each envelope as `retry_after`.
    let status = match status % 3 {
        0 => 429,
        1 => 503,
        n => 400 + u16::from(status) % 200 + u16::from(n),
    };
    let spliced = {
        let mut b =
            br#"{"success":false,"error":{"status":429,"code":1007,"message":"m","retry_after":"#
                .to_vec();
        b.extend_from_slice(body);
        b.extend_from_slice(b"}}");
        b
    };
    let attempt = Attempt::new(1, clock, false);
    for candidate in [body.to_vec(), spliced] {
        let reply = || {
            let mut response = http::Response::new(Bytes::from(candidate.clone()));
            *response.status_mut() =
                http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::TOO_MANY_REQUESTS);
            *response.headers_mut() = headers.clone();
            response
        };
        error_wait("chert", OPS.chert.parse(reply(), &attempt).map(drop));
        error_wait("linq", OPS.linq.parse(reply(), &attempt).map(drop));
    }
});
