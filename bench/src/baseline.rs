//! The hand-written baseline: what a user who skips the SDK writes for a Chert removal with
//! reqwest + hmac + serde_json — sign, send, parse the roster — on the same reqwest
//! configuration as the SDK's transport (rustls, pooled, HTTP/1.1 to the sandbox, no redirects,
//! the same connect/idle timeouts and `User-Agent`, so the bytes on the wire match).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Chert's reply to a removal.
#[derive(Debug, Deserialize)]
struct RemoveReply {
    #[allow(dead_code)]
    chat_id: String,
    #[allow(dead_code)]
    removed: String,
    participants: Vec<String>,
}

/// A hand-written Chert client: one pooled reqwest client, the tenant and the signing secret.
#[derive(Debug, Clone)]
pub struct Baseline {
    client: reqwest::Client,
    base_url: String,
    tenant: String,
    secret: Vec<u8>,
}

impl Baseline {
    /// A client for the Chert API at `base_url`, with a per-request `timeout` (as a careful
    /// user sets, and as the SDK has by default) or none.
    ///
    /// # Errors
    /// When reqwest cannot build its client.
    pub fn new(
        base_url: &str,
        tenant: &str,
        secret: &str,
        timeout: Option<Duration>,
    ) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder();
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let client = builder
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("rosterkit/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
            secret: secret.as_bytes().to_vec(),
        })
    }

    /// `DELETE /chats/{chat}/participants/{address}`, signed; returns the roster after the
    /// removal.
    ///
    /// # Errors
    /// Any transport failure, non-2xx reply or unparsable body, as text.
    pub async fn remove(&self, chat: &str, address: &str) -> Result<Vec<String>, String> {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut mac = HmacSha256::new_from_slice(&self.secret).map_err(|e| e.to_string())?;
        let ts = ts.to_string();
        mac.update(ts.as_bytes());
        mac.update(b".");
        let signature = format!("v1,{ts},{}", hex::encode(mac.finalize().into_bytes()));
        let url = format!(
            "{}/chats/{chat}/participants/{}",
            self.base_url,
            address.replace('+', "%2B")
        );
        let response = self
            .client
            .delete(url)
            .header("x-chert-tenant", &self.tenant)
            .header("x-chert-signature", signature)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
        }
        let reply: RemoveReply = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        Ok(reply.participants)
    }
}

/// Chert's `v1` signature written directly with `hmac` + `hex`, for the signing comparison:
/// `v1,<ts>,<hex HMAC-SHA256(secret, "<ts>.<body>")>`.
#[must_use]
pub fn sign_by_hand(secret: &[u8], ts: u64, body: &[u8]) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return String::new();
    };
    let ts = ts.to_string();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{ts},{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_signature_matches_rosterkit_sign() {
        let secret = b"0123456789abcdef0123456789abcdef";
        for body in [&b""[..], b"{\"address\":\"+14155551234\"}", &[7u8; 4096]] {
            assert_eq!(
                sign_by_hand(secret, 1_700_000_000, body),
                rosterkit_sign::chert::sign(secret, 1_700_000_000, body)
            );
        }
    }
}
