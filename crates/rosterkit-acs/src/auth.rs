//! Chat credentials: a fixed user access token, or tokens minted with the resource access key,
//! cached and refreshed before they expire.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use rosterkit_core::{Endpoint, Error, Executor, Secret};
use tokio::sync::Mutex;

use crate::model::AccessKey;
use crate::ops::IssueAccessToken;

/// A minted token is replaced this long before its `expiresOn` (or at half its lifetime, if
/// that is sooner).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How chat calls authenticate.
pub(crate) enum Credential {
    /// A user access token given by the caller (`ACS_USER_TOKEN`).
    UserToken(Secret),
    /// Tokens minted for a user with the access key (`ACS_CONNECTION_STRING` + `ACS_USER_ID`).
    Minted(TokenMinter),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserToken(token) => f.debug_tuple("UserToken").field(token).finish(),
            Self::Minted(minter) => fmt::Debug::fmt(minter, f),
        }
    }
}

impl Credential {
    /// The token to send now, minting or refreshing it when needed.
    pub(crate) async fn token(&self, executor: &Executor) -> Result<Secret, Error> {
        match self {
            Self::UserToken(token) => Ok(token.clone()),
            Self::Minted(minter) => minter.token(executor).await,
        }
    }

    /// After a 401 with `rejected`: a fresh token when this credential can mint one, else `None`.
    pub(crate) async fn refresh(
        &self,
        executor: &Executor,
        rejected: &Secret,
    ) -> Option<Result<Secret, Error>> {
        match self {
            Self::UserToken(_) => None,
            Self::Minted(minter) => Some(minter.refresh(executor, rejected).await),
        }
    }
}

/// Mints chat tokens for one user and keeps the current one. Minting is single-flight: callers
/// wait on one async mutex, so a burst of calls with an expired token mints once.
pub(crate) struct TokenMinter {
    endpoint: Endpoint,
    key: AccessKey,
    user_id: String,
    lifetime_minutes: u32,
    cache: Mutex<Option<Cached>>,
}

struct Cached {
    token: Secret,
    refresh_at: SystemTime,
}

impl fmt::Debug for TokenMinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minted")
            .field("endpoint", &self.endpoint)
            .field("key", &self.key)
            .field("user_id", &self.user_id)
            .field("lifetime_minutes", &self.lifetime_minutes)
            .finish_non_exhaustive()
    }
}

impl TokenMinter {
    pub(crate) fn new(
        endpoint: Endpoint,
        key: AccessKey,
        user_id: String,
        lifetime_minutes: u32,
    ) -> Self {
        Self {
            endpoint,
            key,
            user_id,
            lifetime_minutes,
            cache: Mutex::new(None),
        }
    }

    async fn token(&self, executor: &Executor) -> Result<Secret, Error> {
        let mut cache = self.cache.lock().await;
        let now = executor.clock().now();
        if let Some(current) = cache.as_ref()
            && now < current.refresh_at
        {
            return Ok(current.token.clone());
        }
        let fresh = self.mint(executor).await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    /// Mints a new token unless another caller already replaced `rejected`.
    async fn refresh(&self, executor: &Executor, rejected: &Secret) -> Result<Secret, Error> {
        let mut cache = self.cache.lock().await;
        let now = executor.clock().now();
        if let Some(current) = cache.as_ref()
            && current.token != *rejected
            && now < current.refresh_at
        {
            return Ok(current.token.clone());
        }
        tracing::debug!("ACS user token refused (401): minting a new one");
        let fresh = self.mint(executor).await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(token)
    }

    async fn mint(&self, executor: &Executor) -> Result<Cached, Error> {
        let op = IssueAccessToken::new(
            self.endpoint.clone(),
            self.key.clone(),
            self.user_id.clone(),
        )
        .expires_in_minutes(self.lifetime_minutes);
        let minted_at = executor.clock().now();
        let minted = executor.execute(&op).await?;
        let lifetime = minted
            .expires_on
            .duration_since(minted_at)
            .unwrap_or_default();
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let refresh_at = minted
            .expires_on
            .checked_sub(margin)
            .unwrap_or(minted.expires_on);
        Ok(Cached {
            token: minted.token,
            refresh_at,
        })
    }
}

/// base64url as JWTs use it, with or without padding.
const JWT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Our own raw id from an ACS user token: the JWT payload's `skypeid` claim (`acs:...`),
/// prefixed `8:` when it has no `8:` yet. The signature is **not** checked: the token is ours and
/// the claim only tells us whom to remove on `leave`; the service checks the token.
pub(crate) fn raw_id_from_token(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    let bytes = JWT_BASE64.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let skype_id = claims.get("skypeid")?.as_str()?.trim();
    if skype_id.is_empty() {
        return None;
    }
    Some(if skype_id.starts_with("8:") {
        skype_id.to_owned()
    } else {
        format!("8:{skype_id}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            enc.encode(payload)
        )
    }

    #[test]
    fn skypeid_claim() {
        assert_eq!(
            raw_id_from_token(&jwt(r#"{"skypeid":"acs:1111_2222","scp":1792}"#)).as_deref(),
            Some("8:acs:1111_2222")
        );
        assert_eq!(
            raw_id_from_token(&jwt(r#"{"skypeid":"8:acs:1111_2222"}"#)).as_deref(),
            Some("8:acs:1111_2222")
        );
        for bad in [
            jwt(r#"{"sub":"x"}"#),
            jwt(r#"{"skypeid":""}"#),
            jwt(r#"{"skypeid":5}"#),
            jwt("not json"),
            "opaque-token".to_owned(),
            "a.!!!.c".to_owned(),
        ] {
            assert_eq!(raw_id_from_token(&bad), None, "{bad}");
        }
    }
}
