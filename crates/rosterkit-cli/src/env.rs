//! The environment variables the providers read, in one table: the top-level help's
//! ENVIRONMENT section, the "missing variables" message and `rosterkit sandbox --env` all come
//! from it.

use std::fmt::Write as _;

use rosterkit::ProviderKind;
use rosterkit_sandbox::SandboxInfo;

/// One variable.
pub(crate) struct Var {
    pub(crate) name: &'static str,
    pub(crate) meaning: &'static str,
}

const fn var(name: &'static str, meaning: &'static str) -> Var {
    Var { name, meaning }
}

/// Every variable rosterkit reads (the provider crates' `from_env` names).
pub(crate) const VARS: &[Var] = &[
    var(
        "ROSTERKIT_PROVIDER",
        "default for --provider (any provider)",
    ),
    var(
        "CHERT_TENANT",
        "tenant slug (x-chert-tenant); required with hmac auth",
    ),
    var(
        "CHERT_SIGNING_SECRET",
        "the tenant's signing secret; required",
    ),
    var("CHERT_AUTH", "hmac (default) or bearer"),
    var(
        "CHERT_BASE_URL",
        "default https://console.trychert.com/api/v1",
    ),
    var("LINQ_API_V3_API_KEY", "bearer token; required"),
    var(
        "LINQ_API_V3_BASE_URL",
        "default https://api.linqapp.com/api/partner",
    ),
    var("ZAPI_INSTANCE_ID", "instance id (in the path); required"),
    var(
        "ZAPI_INSTANCE_TOKEN",
        "instance token (in the path); required",
    ),
    var(
        "ZAPI_CLIENT_TOKEN",
        "account security token (Client-Token header); required",
    ),
    var("ZAPI_BASE_URL", "default https://api.z-api.io"),
    var(
        "ACS_ENDPOINT",
        "https://<resource>.communication.azure.com; or ACS_CONNECTION_STRING",
    ),
    var(
        "ACS_USER_TOKEN",
        "a user access token; or ACS_CONNECTION_STRING to mint one",
    ),
    var(
        "ACS_CONNECTION_STRING",
        "endpoint=...;accesskey=... (mints chat tokens for ACS_USER_ID)",
    ),
    var("ACS_USER_ID", "our own identity (8:acs:...), for leave"),
    var("ACS_API_VERSION", "default 2025-03-15"),
];

/// The ENVIRONMENT section of `rosterkit --help`.
pub(crate) fn help() -> String {
    let mut text = String::from("Environment (credentials are read only from here):\n");
    for v in VARS {
        let _ = writeln!(text, "  {:<22} {}", v.name, v.meaning);
    }
    text.push_str(
        "  RUST_LOG               log filter for stderr (e.g. rosterkit=debug); secrets are never logged\n\
         \n\
         For the local sandbox: run `rosterkit sandbox --env` and paste its export lines\n\
         (or source them), then e.g. `rosterkit list -p chert -c <chat id>`.\n\
         \n\
         Exit codes:\n  \
         0  every operation succeeded (a queued change counts)\n  \
         1  an operation failed at the provider, or a run was stopped\n  \
         2  bad input or usage: nothing was sent",
    );
    text
}

/// The variables `provider` needs and `lookup` does not have, each as the user should set it
/// (`A (or B)` when either does). `base_url` set counts as the endpoint.
pub(crate) fn missing(
    provider: ProviderKind,
    base_url: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<&'static str> {
    let has = |name: &str| lookup(name).is_some_and(|v| !v.trim().is_empty());
    let needs: &[(&'static str, bool)] = match provider {
        ProviderKind::Chert => {
            let bearer =
                lookup("CHERT_AUTH").is_some_and(|a| a.trim().eq_ignore_ascii_case("bearer"));
            &[
                ("CHERT_TENANT", bearer || has("CHERT_TENANT")),
                ("CHERT_SIGNING_SECRET", has("CHERT_SIGNING_SECRET")),
            ]
        }
        ProviderKind::Linq => &[("LINQ_API_V3_API_KEY", has("LINQ_API_V3_API_KEY"))],
        ProviderKind::Zapi => &[
            ("ZAPI_INSTANCE_ID", has("ZAPI_INSTANCE_ID")),
            ("ZAPI_INSTANCE_TOKEN", has("ZAPI_INSTANCE_TOKEN")),
            ("ZAPI_CLIENT_TOKEN", has("ZAPI_CLIENT_TOKEN")),
        ],
        ProviderKind::Acs => {
            let cs = has("ACS_CONNECTION_STRING");
            &[
                (
                    "ACS_ENDPOINT (or ACS_CONNECTION_STRING)",
                    base_url || cs || has("ACS_ENDPOINT"),
                ),
                (
                    "ACS_USER_TOKEN (or ACS_CONNECTION_STRING)",
                    cs || has("ACS_USER_TOKEN"),
                ),
            ]
        }
        _ => &[],
    };
    needs
        .iter()
        .filter(|(_, present)| !present)
        .map(|(name, _)| *name)
        .collect()
}

/// The message for [`missing`] variables.
pub(crate) fn missing_message(provider: ProviderKind, missing: &[&str]) -> String {
    format!(
        "{provider} needs {} in the environment; for the local sandbox, `rosterkit sandbox --env` \
         prints them (see `rosterkit --help` for every variable)",
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
        assert_eq!(
            missing(ProviderKind::Chert, false, none),
            ["CHERT_TENANT", "CHERT_SIGNING_SECRET"]
        );
        let bearer = |n: &str| (n == "CHERT_AUTH").then(|| "bearer".to_owned());
        assert_eq!(
            missing(ProviderKind::Chert, false, bearer),
            ["CHERT_SIGNING_SECRET"]
        );
        let cs = |n: &str| (n == "ACS_CONNECTION_STRING").then(|| "endpoint=x".to_owned());
        assert!(missing(ProviderKind::Acs, false, cs).is_empty());
        assert_eq!(missing(ProviderKind::Acs, true, none).len(), 1);
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
        for v in VARS {
            assert!(help.contains(v.name), "{}", v.name);
        }
        assert!(help.contains("Exit codes") && help.contains("2  bad input"));
    }
}
