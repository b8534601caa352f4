//! Chat credentials: a fixed user access token, or tokens minted with the resource access key,
//! cached and refreshed before they expire.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use rosterkit_core::{
    Attempt, Bytes, Endpoint, Error, Executor, Operation, Probe, Recovery, Secret, Settled, http,
};
use tokio::sync::Mutex;

use crate::model::{AccessKey, AccessToken};
use crate::ops::IssueAccessToken;

/// A minted token is replaced this long before its `expiresOn` (or at half its lifetime, if
/// that is sooner).
pub(crate) const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// How chat calls authenticate.
pub(crate) enum Credential {
    /// A user access token given by the caller (`ACS_USER_TOKEN`).
    UserToken(Secret),
    /// Tokens minted for a user with the access key (`ACS_CONNECTION_STRING` + `ACS_USER_ID`).
    Minted(Arc<TokenMinter>),
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

    /// The renewal a run's context carries, so the executor can mint a new token after a 401
    /// (`None` for a fixed user token: there is nothing to renew).
    pub(crate) fn renewal(&self) -> Option<Arc<Renewal>> {
        match self {
            Self::UserToken(_) => None,
            Self::Minted(minter) => Some(Arc::new(Renewal {
                minter: Arc::clone(minter),
                fresh: std::sync::Mutex::new(None),
            })),
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

    async fn mint(&self, executor: &Executor) -> Result<Cached, Error> {
        let op = IssueAccessToken::new(
            self.endpoint.clone(),
            self.key.clone(),
            self.user_id.clone(),
        )
        .expires_in_minutes(self.lifetime_minutes);
        let minted_at = executor.clock().now();
        let minted = executor.execute(&op).await?;
        Ok(Cached::of(minted, minted_at))
    }

    /// The call that mints a token.
    fn issue(&self) -> IssueAccessToken {
        IssueAccessToken::new(
            self.endpoint.clone(),
            self.key.clone(),
            self.user_id.clone(),
        )
        .expires_in_minutes(self.lifetime_minutes)
    }

    /// Keeps `minted` as the current token, unless another caller holds the cache (it is then
    /// minting one itself).
    fn store(&self, minted: AccessToken, minted_at: SystemTime) {
        if let Ok(mut cache) = self.cache.try_lock() {
            *cache = Some(Cached::of(minted, minted_at));
        }
    }
}

impl Cached {
    /// Refreshed [`REFRESH_MARGIN`] before it expires, or at half its lifetime if sooner.
    fn of(minted: AccessToken, minted_at: SystemTime) -> Self {
        let lifetime = minted
            .expires_on
            .duration_since(minted_at)
            .unwrap_or_default();
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let refresh_at = minted
            .expires_on
            .checked_sub(margin)
            .unwrap_or(minted.expires_on);
        Self {
            token: minted.token,
            refresh_at,
        }
    }
}

/// One run's way to a new token after a 401 (a 401 did nothing, so the call is safe to send
/// again): the operation's [`Operation::on_failure`] answers [`Recovery::Probe`] with the mint,
/// the executor sends it and retries with the fresh token. Once per run: a second 401 stands.
pub(crate) struct Renewal {
    minter: Arc<TokenMinter>,
    fresh: std::sync::Mutex<Option<Secret>>,
}

impl fmt::Debug for Renewal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renewal").finish_non_exhaustive()
    }
}

impl Renewal {
    /// The token minted by this run's renewal, if any.
    pub(crate) fn fresh(&self) -> Option<Secret> {
        self.fresh
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// After `error`: the mint-then-retry probe for a first 401, else `None`.
    pub(crate) fn after<T: 'static>(self: &Arc<Self>, error: &Error) -> Option<Recovery<T>> {
        if error.kind() != rosterkit_core::ErrorKind::Unauthorized || self.fresh().is_some() {
            return None;
        }
        tracing::debug!("ACS user token refused (401): minting a new one");
        Some(Recovery::Probe(Box::new(Renew {
            renewal: Arc::clone(self),
            issue: self.minter.issue(),
        })))
    }
}

/// The mint of a [`Renewal`], as the executor's probe.
struct Renew {
    renewal: Arc<Renewal>,
    issue: IssueAccessToken,
}

impl<T> Probe<T> for Renew {
    fn build(&self, attempt: &Attempt) -> Result<http::Request<Bytes>, Error> {
        self.issue.build(attempt)
    }

    fn settle(
        self: Box<Self>,
        reply: Result<http::Response<Bytes>, Error>,
        attempt: &Attempt,
        failure: Error,
    ) -> Settled<T> {
        match reply.and_then(|response| self.issue.parse(response, attempt)) {
            Ok(minted) => {
                *self
                    .renewal
                    .fresh
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(minted.token.clone());
                self.renewal.minter.store(minted, attempt.now);
                Settled::Retry(failure)
            }
            Err(mint_error) => Settled::Finish(Err(mint_error)),
        }
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
