//! The providers rosterkit ships, as [`Provider`]s for the [`crate::Registry`]: each one's
//! environment variables and connection, behind its cargo feature. Matrix's lives in its own
//! crate ([`rosterkit_matrix::MatrixProvider`]), the way a downstream provider's does.

use std::sync::Arc;

use rosterkit_core::Provider;
#[cfg(any(feature = "chert", feature = "linq", feature = "zapi", feature = "acs"))]
use rosterkit_core::{ClientBuilder, ConnectOptions, EnvVar, Error, Membership};

/// Every compiled-in provider.
pub(crate) fn providers() -> Vec<Arc<dyn Provider>> {
    let all: Vec<Arc<dyn Provider>> = vec![
        #[cfg(feature = "chert")]
        Arc::new(CHERT),
        #[cfg(feature = "linq")]
        Arc::new(LINQ),
        #[cfg(feature = "zapi")]
        Arc::new(ZAPI),
        #[cfg(feature = "acs")]
        Arc::new(ACS),
        #[cfg(feature = "matrix")]
        Arc::new(rosterkit_matrix::MatrixProvider),
    ];
    all
}

/// The variables a connection needs that `lookup` lacks (for [`Provider::missing_env`]).
#[cfg(any(feature = "chert", feature = "linq", feature = "zapi", feature = "acs"))]
type Missing = fn(&dyn Fn(&str) -> Option<String>, bool) -> Vec<&'static str>;

/// A built-in provider, described as data: one [`Provider`] impl serves all four.
#[cfg(any(feature = "chert", feature = "linq", feature = "zapi", feature = "acs"))]
struct Builtin {
    name: &'static str,
    summary: &'static str,
    env: &'static [EnvVar],
    connect: fn(ConnectOptions) -> Result<Box<dyn Membership>, Error>,
    /// Needs that one variable alone does not decide; `None`: the required variables.
    missing: Option<Missing>,
}

#[cfg(any(feature = "chert", feature = "linq", feature = "zapi", feature = "acs"))]
impl Provider for Builtin {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn env(&self) -> &'static [EnvVar] {
        self.env
    }

    fn missing_env(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        base_url_given: bool,
    ) -> Vec<&'static str> {
        match self.missing {
            Some(missing) => missing(lookup, base_url_given),
            None => EnvVar::unset_required(self.env, lookup, base_url_given),
        }
    }

    fn connect(&self, options: ConnectOptions) -> Result<Box<dyn Membership>, Error> {
        (self.connect)(options)
    }
}

/// `builder`'s client with `options`, boxed.
#[cfg(any(feature = "chert", feature = "linq", feature = "zapi", feature = "acs"))]
fn boxed<B>(builder: B, options: ConnectOptions) -> Result<Box<dyn Membership>, Error>
where
    B: ClientBuilder,
    B::Client: Membership + 'static,
{
    Ok(Box::new(options.build(builder)?))
}

/// The names among `needs` (name, present) that are not present.
#[cfg(any(feature = "chert", feature = "acs"))]
fn absent<const N: usize>(needs: [(&'static str, bool); N]) -> Vec<&'static str> {
    needs
        .into_iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| name)
        .collect()
}

/// Whether `lookup` has a non-blank `name`.
#[cfg(any(feature = "chert", feature = "acs"))]
fn has(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> bool {
    lookup(name).is_some_and(|v| !v.trim().is_empty())
}

/// Chert (iMessage): `rosterkit_chert::ChertClient`. The tenant is needed only with hmac auth.
#[cfg(feature = "chert")]
const CHERT: Builtin = Builtin {
    name: "chert",
    summary: "Chert (iMessage)",
    env: &[
        EnvVar::required(
            "CHERT_TENANT",
            "tenant slug (x-chert-tenant); required with hmac auth",
        ),
        EnvVar::required(
            "CHERT_SIGNING_SECRET",
            "the tenant's signing secret; required",
        ),
        EnvVar::optional("CHERT_AUTH", "hmac (default) or bearer"),
        EnvVar::optional(
            "CHERT_BASE_URL",
            "default https://console.trychert.com/api/v1",
        )
        .as_base_url(Some(rosterkit_chert::DEFAULT_BASE_URL)),
    ],
    connect: |options| boxed(rosterkit_chert::ChertClient::builder_from_env(), options),
    missing: Some(|lookup, _| {
        let bearer = lookup("CHERT_AUTH").is_some_and(|a| a.trim().eq_ignore_ascii_case("bearer"));
        absent([
            ("CHERT_TENANT", bearer || has(lookup, "CHERT_TENANT")),
            ("CHERT_SIGNING_SECRET", has(lookup, "CHERT_SIGNING_SECRET")),
        ])
    }),
};

/// Linq API v3 (iMessage): `rosterkit_linq::LinqClient`.
#[cfg(feature = "linq")]
const LINQ: Builtin = Builtin {
    name: "linq",
    summary: "Linq API v3 (iMessage)",
    env: &[
        EnvVar::required("LINQ_API_V3_API_KEY", "bearer token; required"),
        EnvVar::optional(
            "LINQ_API_V3_BASE_URL",
            "default https://api.linqapp.com/api/partner",
        )
        .as_base_url(Some(rosterkit_linq::DEFAULT_BASE_URL)),
    ],
    connect: |options| boxed(rosterkit_linq::LinqClient::builder_from_env(), options),
    missing: None,
};

/// Z-API (WhatsApp): `rosterkit_zapi::ZapiClient`. Handles are phones or WhatsApp's `…@lid`
/// ids, which [`rosterkit_core::Handle`]'s own parser reads.
#[cfg(feature = "zapi")]
const ZAPI: Builtin = Builtin {
    name: "zapi",
    summary: "Z-API (WhatsApp)",
    env: &[
        EnvVar::required("ZAPI_INSTANCE_ID", "instance id (in the path); required"),
        EnvVar::required(
            "ZAPI_INSTANCE_TOKEN",
            "instance token (in the path); required",
        ),
        EnvVar::required(
            "ZAPI_CLIENT_TOKEN",
            "account security token (Client-Token header); required",
        ),
        EnvVar::optional("ZAPI_BASE_URL", "default https://api.z-api.io")
            .as_base_url(Some(rosterkit_zapi::DEFAULT_BASE_URL)),
    ],
    connect: |options| boxed(rosterkit_zapi::ZapiClient::builder_from_env(), options),
    missing: None,
};

/// Azure Communication Services Chat: `rosterkit_acs::AcsClient`. Handles are ACS raw ids
/// (`8:acs:…`), which [`rosterkit_core::Handle`]'s own parser reads. A connection string
/// stands in for both the endpoint and the token.
#[cfg(feature = "acs")]
const ACS: Builtin = Builtin {
    name: "acs",
    summary: "Azure Communication Services Chat",
    env: &[
        EnvVar::required(
            "ACS_ENDPOINT",
            "https://<resource>.communication.azure.com; or ACS_CONNECTION_STRING",
        )
        .as_base_url(None),
        EnvVar::required(
            "ACS_USER_TOKEN",
            "a user access token; or ACS_CONNECTION_STRING to mint one",
        ),
        EnvVar::optional(
            "ACS_CONNECTION_STRING",
            "endpoint=...;accesskey=... (mints chat tokens for ACS_USER_ID)",
        ),
        EnvVar::optional("ACS_USER_ID", "our own identity (8:acs:...), for leave"),
        EnvVar::optional("ACS_API_VERSION", "default 2025-03-15"),
    ],
    connect: |options| boxed(rosterkit_acs::AcsClient::builder_from_env(), options),
    missing: Some(|lookup, base_url_given| {
        let cs = has(lookup, "ACS_CONNECTION_STRING");
        absent([
            (
                "ACS_ENDPOINT (or ACS_CONNECTION_STRING)",
                base_url_given || cs || has(lookup, "ACS_ENDPOINT"),
            ),
            (
                "ACS_USER_TOKEN (or ACS_CONNECTION_STRING)",
                cs || has(lookup, "ACS_USER_TOKEN"),
            ),
        ])
    }),
};

#[cfg(all(test, feature = "chert", feature = "acs", feature = "zapi"))]
mod tests {
    use super::*;

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let none = |_: &str| None;
        assert_eq!(
            ZAPI.missing_env(&none, false),
            [
                "ZAPI_INSTANCE_ID",
                "ZAPI_INSTANCE_TOKEN",
                "ZAPI_CLIENT_TOKEN"
            ]
        );
        assert_eq!(
            CHERT.missing_env(&none, false),
            ["CHERT_TENANT", "CHERT_SIGNING_SECRET"]
        );
        let bearer = |n: &str| (n == "CHERT_AUTH").then(|| "bearer".to_owned());
        assert_eq!(CHERT.missing_env(&bearer, false), ["CHERT_SIGNING_SECRET"]);
        let cs = |n: &str| (n == "ACS_CONNECTION_STRING").then(|| "endpoint=x".to_owned());
        assert!(ACS.missing_env(&cs, false).is_empty());
        assert_eq!(ACS.missing_env(&none, true).len(), 1);
        assert_eq!(
            ZAPI.base_url(&none).as_deref(),
            Some(rosterkit_zapi::DEFAULT_BASE_URL)
        );
        assert_eq!(ACS.base_url(&none), None);
    }
}
