//! The environment variables the providers read, in one table: the top-level help's
//! ENVIRONMENT section, the "missing variables" message and `rosterkit sandbox --env` all come
//! from it.

use std::fmt::Write as _;

use rosterkit::{EnvVar, ProviderName, Registry};
use rosterkit_sandbox::SandboxInfo;

/// Every variable rosterkit reads: `ROSTERKIT_PROVIDER`, then each registered provider's
/// ([`rosterkit::Provider::env`]), so a provider added to the registry is documented here too.
pub(crate) fn vars() -> Vec<EnvVar> {
    let mut vars = vec![EnvVar::optional(
        "ROSTERKIT_PROVIDER",
        "default for --provider (any provider)",
    )];
    for provider in Registry::global().providers() {
        vars.extend_from_slice(provider.env());
    }
    vars
}

/// The ENVIRONMENT section of `rosterkit --help`.
pub(crate) fn help() -> String {
    let mut text = String::from("Environment (credentials are read only from here):\n");
    for v in vars() {
        let _ = writeln!(text, "  {:<22} {}", v.name, v.meaning);
    }
    text.push_str(
        "  RUST_LOG               log filter for stderr (e.g. rosterkit=debug); secrets are never logged\n\
         \n\
         For the local sandbox: run `rosterkit sandbox --env` and paste its export lines\n\
         (or source them), then e.g. `rosterkit list -p chert -c <chat id>`. For Matrix,\n\
         `cargo xtask synapse` starts a local Synapse and prints its MATRIX_* lines.\n\
         \n\
         Exit codes:\n  \
         0  every operation succeeded (a queued change counts)\n  \
         1  an operation failed at the provider, or a run was stopped\n  \
         2  bad input or usage: nothing was sent",
    );
    text
}

/// The variables `provider` needs and `lookup` does not have, each as the user should set it
/// (`A (or B)` when either does): the provider's own [`rosterkit::Provider::missing_env`].
/// `base_url` set counts as the endpoint.
pub(crate) fn missing(
    provider: impl Into<ProviderName>,
    base_url: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<&'static str> {
    Registry::global()
        .get(provider.into().as_str())
        .map(|p| p.missing_env(&lookup, base_url))
        .unwrap_or_default()
}

/// The message for [`missing`] variables.
pub(crate) fn missing_message(provider: impl Into<ProviderName>, missing: &[&str]) -> String {
    let provider = provider.into();
    let hint = if provider == "matrix" {
        "for a local Synapse, `cargo xtask synapse` prints them"
    } else {
        "for the local sandbox, `rosterkit sandbox --env` prints them"
    };
    format!(
        "{provider} needs {} in the environment; {hint} (see `rosterkit --help` for every \
         variable)",
        missing.join(", ")
    )
}

/// `value` quoted for a POSIX shell: single quotes, with `'` written as `'\''`.
pub(crate) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `export NAME='value'` lines for every provider of a running sandbox, and
/// `ROSTERKIT_SANDBOX_URL` (its root URL, for the control plane; rosterkit itself does not read
/// it).
pub(crate) fn sandbox_exports(info: &SandboxInfo) -> String {
    let pairs: [(&str, &str); 12] = [
        ("CHERT_BASE_URL", &info.chert.base_url),
        ("CHERT_TENANT", &info.chert.tenant),
        ("CHERT_SIGNING_SECRET", &info.chert.signing_secret),
        ("LINQ_API_V3_BASE_URL", &info.linq.base_url),
        ("LINQ_API_V3_API_KEY", &info.linq.api_key),
        ("ZAPI_BASE_URL", &info.zapi.base_url),
        ("ZAPI_INSTANCE_ID", &info.zapi.instance_id),
        ("ZAPI_INSTANCE_TOKEN", &info.zapi.instance_token),
        ("ZAPI_CLIENT_TOKEN", &info.zapi.client_token),
        ("ACS_ENDPOINT", &info.acs.endpoint),
        ("ACS_USER_TOKEN", &info.acs.user_token),
        ("ACS_USER_ID", &info.acs.user_id),
    ];
    let mut out = format!(
        "export ROSTERKIT_SANDBOX_URL={}\n",
        shell_quote(&info.base_url)
    );
    for (name, value) in pairs {
        let _ = writeln!(out, "export {name}={}", shell_quote(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit::ProviderKind;

    #[test]
    fn every_missing_variable_is_named_at_once() {
        let none = |_: &str| None;
        assert_eq!(
            missing(ProviderKind::Zapi, false, none),
            [
                "ZAPI_INSTANCE_ID",
                "ZAPI_INSTANCE_TOKEN",
                "ZAPI_CLIENT_TOKEN"
            ]
        );
        let bearer = |n: &str| (n == "CHERT_AUTH").then(|| "bearer".to_owned());
        assert_eq!(
            missing(ProviderKind::Chert, false, bearer),
            ["CHERT_SIGNING_SECRET"]
        );
        let matrix: ProviderName = "matrix".parse().unwrap();
        assert_eq!(
            missing(matrix, false, none),
            ["MATRIX_HOMESERVER", "MATRIX_ACCESS_TOKEN"]
        );
        assert_eq!(missing(matrix, true, none), ["MATRIX_ACCESS_TOKEN"]);
        assert!(missing_message(matrix, &["MATRIX_ACCESS_TOKEN"]).contains("cargo xtask synapse"));
        let blank = |_: &str| Some("  ".to_owned());
        assert_eq!(
            missing(ProviderKind::Linq, false, blank),
            ["LINQ_API_V3_API_KEY"]
        );
    }

    #[test]
    fn shell_quoting_survives_quotes_and_metacharacters() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("it's $HOME `x`"), r"'it'\''s $HOME `x`'");
    }

    #[test]
    fn the_help_names_every_variable_and_the_exit_codes() {
        let help = help();
        for v in vars() {
            assert!(help.contains(v.name), "{}", v.name);
        }
        assert!(help.contains("MATRIX_ACCESS_TOKEN"));
        assert!(help.contains("Exit codes") && help.contains("2  bad input"));
    }
}
