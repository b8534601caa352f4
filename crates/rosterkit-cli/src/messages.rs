//! Library errors in the CLI's words: flags and environment variables instead of builder
//! methods, and connection failures that say where they tried to connect.
//!
//! The library's messages are written for code (`call .api_key(..) or set LINQ_API_V3_API_KEY`);
//! a person at a shell can only set variables and pass flags, so the hints are rewritten here,
//! at the boundary, and the library keeps its own wording.

use rosterkit::{Error, ErrorKind, ProviderName, Registry};

/// `e` as a one-line CLI message (the error's `Display`, rewritten).
pub(crate) fn for_cli(e: &Error) -> String {
    rewrite(&e.to_string())
}

/// The message of a failed operation for a record: rewritten; every missing variable when the
/// client could not be configured; for a connection failure,
/// the host and port tried (from `--base-url`, the provider's variable or its default; never
/// the path, which can hold a credential).
pub(crate) fn for_cli_at(
    e: &Error,
    provider: impl Into<ProviderName>,
    base_url: Option<&str>,
) -> String {
    let provider = provider.into();
    let mut message = rewrite(&e.message());
    if e.kind() == ErrorKind::InvalidInput
        && e.attempts() == 0
        && crate::env::vars().iter().any(|v| message.contains(v.name))
    {
        let missing = crate::env::missing(provider, base_url.is_some(), |name| {
            std::env::var(name).ok()
        });
        if !missing.is_empty() {
            return crate::env::missing_message(provider, &missing);
        }
    }
    if e.kind() == ErrorKind::Transport
        && let Some(at) = host_port(&base_url_of(provider, base_url))
    {
        message.push_str(&format!(" (connecting to {at})"));
    }
    message
}

/// Rewrites builder-method hints into flags and variables.
pub(crate) fn rewrite(text: &str) -> String {
    let mut out = text
        .replace(
            "(Outcome::roster)",
            "(use add or remove with --json to see it)",
        )
        .replace("or call AcsClientBuilder::base_url", "or pass --base-url")
        .replace(" (AcsClientBuilder::token_lifetime_minutes)", "");
    // `call .name(..) or set VAR` → `set VAR`; `(.name(..) or VAR)` → `(VAR)`, with
    // `--base-url` kept for the base URL.
    while let Some(start) = find_method(&out) {
        let (method_start, method_end, name) = start;
        let before = &out[..method_start];
        let after = &out[method_end..];
        let flag = (name == "base_url").then_some("--base-url or ");
        let (before, after) = match (before.strip_suffix("call "), after.strip_prefix(" or ")) {
            (Some(b), Some(a)) => (b.to_owned(), a.to_owned()),
            (None, Some(a)) => (before.to_owned(), a.to_owned()),
            _ => (before.to_owned(), after.to_owned()),
        };
        out = format!("{before}{}{after}", flag.unwrap_or_default());
    }
    if out.contains("plain http:// is allowed only to loopback") {
        out = out.replacen(
            "use https://",
            "use https:// or pass --allow-insecure-http",
            1,
        );
    }
    out
}

/// The first `.name(..)` in `text`: its start, end and name.
fn find_method(text: &str) -> Option<(usize, usize, String)> {
    let mut from = 0;
    while let Some(dot) = text[from..].find('.').map(|i| i + from) {
        let rest = &text[dot + 1..];
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_lowercase() || *b == b'_')
            .count();
        if name_len > 0 && rest[name_len..].starts_with("(..)") {
            return Some((dot, dot + 1 + name_len + 4, rest[..name_len].to_owned()));
        }
        from = dot + 1;
    }
    None
}

/// The base URL a provider's client uses: the flag's, else its variable's or its default
/// ([`rosterkit::Provider::base_url`]).
fn base_url_of(provider: ProviderName, flag: Option<&str>) -> String {
    if let Some(url) = flag {
        return url.to_owned();
    }
    Registry::global()
        .get(provider.as_str())
        .ok()
        .and_then(|p| p.base_url(&|name| std::env::var(name).ok()))
        .unwrap_or_default()
}

/// `host:port` of a URL, without credentials or path.
fn host_port(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    if authority.is_empty() {
        return None;
    }
    let has_port = match authority.rfind(':') {
        Some(i) => !authority[i..].contains(']'),
        None => false,
    };
    if has_port {
        Some(authority.to_owned())
    } else {
        let port = if scheme.eq_ignore_ascii_case("http") {
            80
        } else {
            443
        };
        Some(format!("{authority}:{port}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_hints_become_variables_and_flags() {
        assert_eq!(
            rewrite("missing Linq API key: call .api_key(..) or set LINQ_API_V3_API_KEY"),
            "missing Linq API key: set LINQ_API_V3_API_KEY"
        );
        assert_eq!(
            rewrite("bad tenant (.tenant(..) or CHERT_TENANT)"),
            "bad tenant (CHERT_TENANT)"
        );
        let http = rewrite(
            "plain http:// is allowed only to loopback hosts (127.0.0.1, ::1, localhost); use \
             https:// (.base_url(..) or LINQ_API_V3_BASE_URL)",
        );
        assert!(
            http.contains("(--base-url or LINQ_API_V3_BASE_URL)")
                && http.contains("use https:// or pass --allow-insecure-http"),
            "{http}"
        );
        assert!(!rewrite("no roster (Outcome::roster)").contains("::"));
        assert_eq!(rewrite("version 1.2 (plain)"), "version 1.2 (plain)");
    }

    #[test]
    fn connection_targets_name_host_and_port_only() {
        assert_eq!(
            host_port("https://api.z-api.io/instances/ID/token/SECRET").as_deref(),
            Some("api.z-api.io:443")
        );
        assert_eq!(
            host_port("http://user:pw@127.0.0.1:8080/chert").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(host_port("http://[::1]/x").as_deref(), Some("[::1]:80"));
        assert_eq!(host_port("nonsense"), None);
    }
}
