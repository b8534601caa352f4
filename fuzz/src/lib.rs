//! Shared pieces of rosterkit's fuzz targets: an offline transport (the targets only build and
//! parse), fuzz input split into an HTTP reply, and the decoder contract the targets assert
//! (the same as the adapters' decoder proptests).

#![forbid(unsafe_code)]

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use rosterkit_core::{
    Bytes, Error, HttpClient, TransportError, TransportErrorKind, async_trait, http,
};

/// A transport that never connects.
#[derive(Debug)]
pub struct Offline;

#[async_trait]
impl HttpClient for Offline {
    async fn send(
        &self,
        _request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        Err(TransportError::new(TransportErrorKind::Connect, "offline"))
    }
}

/// [`Offline`] as the adapters' builders take it.
pub fn offline() -> Arc<dyn HttpClient> {
    Arc::new(Offline)
}

/// A fixed "now" for signatures and `Retry-After` dates.
pub fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A reply made from fuzz input: bytes 0–1 (little endian) give the status, `100 + n % 500`;
/// byte 2 holds flags for the target; the rest is the body.
#[derive(Debug, Clone, Copy)]
pub struct Reply<'a> {
    /// 100..600.
    pub status: u16,
    /// Target-specific switches (ensure mode, later attempt, ...).
    pub flags: u8,
    /// The body bytes.
    pub body: &'a [u8],
}

impl<'a> Reply<'a> {
    /// Splits fuzz input; `None` when shorter than 3 bytes.
    pub fn from_input(data: &'a [u8]) -> Option<Self> {
        let [lo, hi, flags, body @ ..] = data else {
            return None;
        };
        Some(Self {
            status: 100 + u16::from_le_bytes([*lo, *hi]) % 500,
            flags: *flags,
            body,
        })
    }

    /// Flag bit `n`.
    pub fn flag(&self, n: u8) -> bool {
        self.flags & (1 << n) != 0
    }

    /// The reply, with a few headers the decoders read.
    pub fn response(&self) -> http::Response<Bytes> {
        let mut builder = http::Response::builder().status(self.status);
        if self.flag(7) {
            builder = builder
                .header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")
                .header("retry-after-ms", "250")
                .header("x-ms-retry-after-ms", "99999999999999999999")
                .header("x-should-retry", "true")
                .header("x-trace-id", "t-1")
                .header("ms-cv", "cv-1");
        }
        builder
            .body(Bytes::copy_from_slice(self.body))
            .unwrap_or_default()
    }
}

/// The decoder contract, as the adapters' property tests check it
/// ([`rosterkit_core::testing::check_result_with`]): a 2xx is a value or a `Decode` error (or,
/// where `typed_2xx` says the provider reports failures as 200, another typed error); any other
/// status an error carrying that status, the provider's name and a message.
///
/// # Panics
/// When the contract is broken: that is the finding.
pub fn check<T>(provider: &str, reply: &Reply<'_>, result: Result<T, Error>, typed_2xx: bool) {
    rosterkit_core::testing::check_result_with(provider, reply.status, typed_2xx, result.map(drop));
}

/// Percent-decodes `s`; `None` on a broken escape or UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
