//! [`ZapiClientBuilder`]: credentials from code or the environment, checked before any
//! request, and the embedded [`ClientOptions`].

use std::sync::Arc;

use rosterkit_core::{ClientOptions, Confirm, Endpoint, Error, Pacer, Pacing, Secret};

use crate::{DEFAULT_BASE_URL, DEFAULT_PACING, PROVIDER, ZapiClient, config::ZapiConfig};

const ENV_INSTANCE_ID: &str = "ZAPI_INSTANCE_ID";
const ENV_INSTANCE_TOKEN: &str = "ZAPI_INSTANCE_TOKEN";
const ENV_CLIENT_TOKEN: &str = "ZAPI_CLIENT_TOKEN";
const ENV_BASE_URL: &str = "ZAPI_BASE_URL";

/// The longest instance id or instance token accepted, in bytes.
const MAX_CREDENTIAL_LEN: usize = 256;

/// Builds a [`ZapiClient`]. Its `Debug` output never shows the instance token or the
/// `Client-Token`.
#[derive(Debug, Clone, Default)]
pub struct ZapiClientBuilder {
    base_url: Option<String>,
    instance_id: Option<String>,
    instance_token: Option<Secret>,
    client_token: Option<Secret>,
    /// HTTP client, retry policy, clock, insecure-http switch, pacing.
    options: ClientOptions,
    auto_invite: bool,
}

impl ZapiClientBuilder {
    /// A builder pre-filled through `lookup` (the environment's seam, so tests need not touch
    /// the process environment). Empty values count as unset.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            base_url: get(ENV_BASE_URL),
            instance_id: get(ENV_INSTANCE_ID),
            instance_token: get(ENV_INSTANCE_TOKEN).map(Secret::new),
            client_token: get(ENV_CLIENT_TOKEN).map(Secret::new),
            ..Self::default()
        }
    }

    /// Sets the API base URL (default [`DEFAULT_BASE_URL`]; the sandbox's is
    /// `http://127.0.0.1:PORT/zapi`).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Sets the instance id (a path segment).
    #[must_use]
    pub fn instance_id(mut self, id: impl Into<String>) -> Self {
        self.instance_id = Some(id.into());
        self
    }

    /// Sets the instance token (a path segment, kept secret).
    #[must_use]
    pub fn instance_token(mut self, token: impl Into<String>) -> Self {
        self.instance_token = Some(Secret::new(token));
        self
    }

    /// Sets the account security token, sent as the `Client-Token` header on every request.
    #[must_use]
    pub fn client_token(mut self, token: impl Into<String>) -> Self {
        self.client_token = Some(Secret::new(token));
        self
    }

    rosterkit_core::client_options_setters!();

    /// Verify [`Membership`](rosterkit_core::Membership) adds and removes (default off): after
    /// each batch, read the light group metadata and report each phone `Applied` (with the
    /// roster) when it reached the requested state, or a failure when it did not, instead of
    /// `Unconfirmed`. Costs one read per batch.
    #[must_use]
    pub fn verify(mut self, verify: bool) -> Self {
        let confirm = if verify {
            Confirm::ReadBack
        } else {
            Confirm::Trust
        };
        self.options = self.options.confirm(confirm);
        self
    }

    /// The `autoInvite` flag of [`Membership`](rosterkit_core::Membership) adds (default
    /// `false`; always sent explicitly). With `true`, numbers WhatsApp refuses get an invite
    /// link instead, and such adds are never retried after an ambiguous failure.
    #[must_use]
    pub fn auto_invite(mut self, auto_invite: bool) -> Self {
        self.auto_invite = auto_invite;
        self
    }

    /// The pacing of the client's participant mutations, which always run one at a time
    /// (default one per [`DEFAULT_PACING`], 2 s, counted from the end of the previous one;
    /// `Duration::ZERO` or [`Pacing::off`] only serialises them).
    #[must_use]
    pub fn pacing(mut self, pacing: impl Into<Pacing>) -> Self {
        self.options = self.options.pacing(pacing);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](rosterkit_core::ErrorKind::InvalidInput) naming the setting (and its environment variable) that is
    /// missing or invalid: the instance id, the instance token (non-empty, no control
    /// characters, at most 256 bytes), the `Client-Token` (header-safe), the base URL; or a
    /// missing HTTP client without the `reqwest` feature. Messages never show a secret.
    pub fn build(self) -> Result<ZapiClient, Error> {
        let invalid = |message: String| Error::invalid_input(message).with_provider(PROVIDER);
        let base_url = self.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL);
        let endpoint = Endpoint::parse_with(base_url, self.options.allows_insecure_http())
            .map_err(|e| invalid(format!("{e} (.base_url(..) or {ENV_BASE_URL})")))?;
        let instance_id = self.instance_id.ok_or_else(|| {
            invalid(format!(
                "missing Z-API instance id: call .instance_id(..) or set {ENV_INSTANCE_ID}"
            ))
        })?;
        check_path_credential("Z-API instance id", &instance_id)
            .map_err(|why| invalid(format!("{why} (.instance_id(..) or {ENV_INSTANCE_ID})")))?;
        let token = self.instance_token.ok_or_else(|| {
            invalid(format!(
                "missing Z-API instance token: call .instance_token(..) or set {ENV_INSTANCE_TOKEN}"
            ))
        })?;
        check_path_credential("Z-API instance token", token.expose()).map_err(|why| {
            invalid(format!(
                "{why} (.instance_token(..) or {ENV_INSTANCE_TOKEN})"
            ))
        })?;
        let client_token = self.client_token.ok_or_else(|| {
            invalid(format!(
                "missing Z-API Client-Token (the account security token): call .client_token(..) or set {ENV_CLIENT_TOKEN}"
            ))
        })?;
        let client_token = Secret::for_header("Z-API Client-Token", client_token.expose())
            .map_err(|e| invalid(format!("{e} (.client_token(..) or {ENV_CLIENT_TOKEN})")))?;

        // A server echoing the request would show these (the id and token are in the URL
        // path); the executor scrubs them, in any transport failure too.
        let options = self.options.secrets([
            Secret::new(instance_id.clone()),
            token.clone(),
            client_token.clone(),
        ]);
        let pacer = Arc::new(Pacer::serial(&options.pacing_or(DEFAULT_PACING.into())));
        let confirm = options.confirms();
        let executor = options.build(PROVIDER)?;
        Ok(ZapiClient::from_parts(
            Arc::new(ZapiConfig::new(endpoint, instance_id, &token, client_token)),
            executor,
            pacer,
            confirm,
            self.auto_invite,
        ))
    }
}

/// Instance id and token travel as path segments (percent-encoded): non-empty, no control
/// characters, bounded. The message never shows the value.
fn check_path_credential(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("invalid {what}: must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "invalid {what}: must not contain control characters (CR, LF, NUL, TAB, ...)"
        ));
    }
    if value.len() > MAX_CREDENTIAL_LEN {
        return Err(format!(
            "invalid {what}: must be at most {MAX_CREDENTIAL_LEN} bytes, got {}",
            value.len()
        ));
    }
    // URL parsers drop a `.` or `..` segment even when percent-encoded, so every request would
    // go to another route.
    if value == "." || value == ".." {
        return Err(format!("invalid {what}: must not be \".\" or \"..\""));
    }
    Ok(())
}

/// Test helpers: a builder that needs no real HTTP client, so unit tests run with or without
/// the `reqwest` feature.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use rosterkit_core::{Bytes, HttpClient, TransportError, async_trait, http};

    /// An HTTP client that never connects.
    #[derive(Debug)]
    pub(crate) struct Offline;

    #[async_trait]
    impl HttpClient for Offline {
        async fn send(
            &self,
            _request: http::Request<Bytes>,
        ) -> Result<http::Response<Bytes>, TransportError> {
            Err(TransportError::new(
                rosterkit_core::TransportErrorKind::Connect,
                "offline",
            ))
        }
    }

    /// `ZapiClient::builder()` with the offline client.
    pub(crate) fn builder() -> ZapiClientBuilder {
        ZapiClient::builder().http_client(Arc::new(Offline))
    }
}

impl rosterkit_core::ClientBuilder for ZapiClientBuilder {
    type Client = ZapiClient;

    fn base_url(self, url: impl Into<String>) -> Self {
        ZapiClientBuilder::base_url(self, url)
    }

    fn client_options(self, options: ClientOptions) -> Self {
        ZapiClientBuilder::client_options(self, options)
    }

    fn build(self) -> Result<ZapiClient, Error> {
        ZapiClientBuilder::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::ErrorKind;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<ZapiClient, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ZapiClientBuilder::from_lookup(|k| vars.get(k).cloned())
            .http_client(Arc::new(testing::Offline))
            .build()
    }

    const ALL: [(&str, &str); 3] = [
        (ENV_INSTANCE_ID, "3C01A2B3C4"),
        (ENV_INSTANCE_TOKEN, "TOKEN123"),
        (ENV_CLIENT_TOKEN, "acct-secret"),
    ];

    #[test]
    fn env_defaults_and_every_variable() {
        let c = from(&ALL).unwrap();
        assert_eq!(c.base_url().as_str(), DEFAULT_BASE_URL);
        assert_eq!(c.instance_id(), "3C01A2B3C4");
        assert_eq!(c.pacing(), Pacing::from(DEFAULT_PACING));
        assert!(!c.verifies() && !c.auto_invite());
        assert_eq!(
            c.config().url("/remove-participant"),
            "https://api.z-api.io/instances/3C01A2B3C4/token/TOKEN123/remove-participant"
        );
        let mut vars = ALL.to_vec();
        vars.push((ENV_BASE_URL, "http://127.0.0.1:9/zapi/"));
        let c = from(&vars).unwrap();
        assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9/zapi");
    }

    #[test]
    fn env_errors_name_the_variable_and_never_the_secret() {
        for missing in [ENV_INSTANCE_ID, ENV_INSTANCE_TOKEN, ENV_CLIENT_TOKEN] {
            let vars: Vec<_> = ALL.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = from(&vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            assert!(err.to_string().contains(missing), "{err}");
            let mut empty = vars.clone();
            empty.push((missing, "  "));
            assert!(from(&empty).unwrap_err().to_string().contains(missing));
        }
        let bad: [(&str, &str); 4] = [
            (ENV_INSTANCE_ID, "3C01\nA2"),
            (ENV_INSTANCE_TOKEN, "TOK\rEN123"),
            (ENV_CLIENT_TOKEN, "acct secret"),
            (ENV_BASE_URL, "http://example.com"),
        ];
        for (name, value) in bad {
            let mut vars = ALL.to_vec();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, value));
            let err = from(&vars).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}");
            assert!(err.to_string().contains(name), "{name}: {err}");
            assert!(!err.to_string().contains("EN123"), "{err}");
            assert!(!err.to_string().contains("acct"), "{err}");
        }
        let long = "t".repeat(300);
        let mut vars = ALL.to_vec();
        vars[1] = (ENV_INSTANCE_TOKEN, &long);
        assert!(from(&vars).unwrap_err().to_string().contains("256"));
    }

    #[test]
    fn dot_segments_are_refused_as_path_credentials() {
        for (id, token) in [(".", "t"), ("..", "t"), ("i", "."), ("i", "..")] {
            let err = testing::builder()
                .instance_id(id)
                .instance_token(token)
                .client_token("ct")
                .build()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{id} {token}");
            assert!(err.to_string().contains("must not be"), "{err}");
        }
        assert!(
            testing::builder()
                .instance_id("...")
                .instance_token("a.b")
                .client_token("ct")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn path_credentials_are_percent_encoded() {
        let c = testing::builder()
            .instance_id("a/b c")
            .instance_token("t?k#n%")
            .client_token("ct")
            .build()
            .unwrap();
        assert_eq!(
            c.config().url("/leave-group"),
            "https://api.z-api.io/instances/a%2Fb%20c/token/t%3Fk%23n%25/leave-group"
        );
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let builder = testing::builder()
            .instance_id("3C01A2B3C4")
            .instance_token("TOKEN123")
            .client_token("acct-secret");
        let client = builder.clone().build().unwrap();
        let env = ZapiClientBuilder::from_lookup(|k| {
            ALL.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        });
        for dbg in [
            format!("{builder:?}"),
            format!("{client:?}"),
            format!("{env:?}"),
            format!("{:?}", client.config()),
            format!("{:?}", client.executor()),
        ] {
            assert!(!dbg.contains("TOKEN123"), "{dbg}");
            assert!(!dbg.contains("acct-secret"), "{dbg}");
            assert!(dbg.contains("redacted"), "{dbg}");
        }
    }

    #[test]
    fn insecure_http_is_opt_in() {
        let b = || {
            testing::builder()
                .instance_id("i")
                .instance_token("t")
                .client_token("c")
                .base_url("http://zapi.internal")
        };
        assert!(b().build().is_err());
        assert!(b().allow_insecure_http(true).build().is_ok());
    }

    #[cfg(not(feature = "reqwest"))]
    #[test]
    fn without_reqwest_an_http_client_is_required() {
        let err = ZapiClient::builder()
            .instance_id("i")
            .instance_token("t")
            .client_token("c")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("http_client"), "{err}");
    }
}
