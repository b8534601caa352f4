//! The one error type of this crate.

/// Why a signature (or an access key) was rejected.
///
/// Each variant names the rule that failed, so a server can log it and a client can tell a clock
/// problem ([`Stale`](Self::Stale)) from a wrong secret ([`Mismatch`](Self::Mismatch)). No
/// variant carries a secret, a signature or any other text taken from the request, so every
/// variant is safe to log.
///
/// The split between [`Malformed`](Self::Malformed) and [`Mismatch`](Self::Mismatch) is:
/// *Malformed* means the header could not be parsed (wrong shape, unsupported version, a
/// timestamp that is not an integer, a signature that is not 64 hex digits or 32 base64-encoded
/// bytes); *Mismatch* means a well-formed signature that none of the configured secrets produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header was absent (or present but blank). The value is the header's name as
    /// the provider documents it, e.g. `X-Webhook-Signature`.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),

    /// A header was present but could not be parsed. The value names the header and the rule,
    /// e.g. ``"signature header: unsupported version (expected `v1`)"`` or
    /// `"x-ms-date: not an HTTP date"`; `Display` prints it after `malformed `.
    #[error("malformed {0}")]
    Malformed(&'static str),

    /// The signature is authentic, but its timestamp is more than the tolerance away from `now`,
    /// in the past or in the future. All values are Unix seconds.
    #[error(
        "timestamp {timestamp} is {} s away from now ({now}), outside the allowed {tolerance_secs} s",
        timestamp.abs_diff(*now)
    )]
    Stale {
        /// The signed timestamp (Unix seconds).
        timestamp: u64,
        /// The verifier's clock (Unix seconds).
        now: u64,
        /// The allowed distance between the two, in whole seconds.
        tolerance_secs: u64,
    },

    /// The signature is well formed but was not produced by any of the configured secrets over
    /// the request as received (wrong secret, tampered body, wrong timestamp, wrong path…).
    #[error("signature does not match any configured secret")]
    Mismatch,

    /// ACS only: `x-ms-content-sha256` is not the base64 SHA-256 of the body that was received.
    #[error("x-ms-content-sha256 does not match the SHA-256 of the body")]
    ContentHashMismatch,

    /// The verifier was given an empty list of secrets, so nothing could match. This is a
    /// configuration error on the verifying side, reported apart from [`Mismatch`](Self::Mismatch)
    /// so that it is not mistaken for a bad request.
    #[error("no secret configured to verify against")]
    NoSecrets,

    /// A configured secret (or key) is empty: a signature keyed with nothing is one anyone can
    /// make, so the verifier refuses to run with it, in a rotation list too. A configuration
    /// error on the verifying side, like [`NoSecrets`](Self::NoSecrets).
    #[error("an empty secret is configured: anyone could sign with it")]
    EmptySecret,

    /// ACS only: an access key that is not valid base64 or decodes to no bytes (see
    /// [`acs::decode_access_key`](crate::acs::decode_access_key)).
    #[error("invalid access key: {0}")]
    InvalidKey(&'static str),
}
