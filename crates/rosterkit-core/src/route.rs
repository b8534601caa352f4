//! The one request template: a provider's documented [`Route`] (generated from
//! `specs/<provider>.toml` by `cargo xtask codegen`), its path template filled with
//! per-segment percent-encoded parameters, and the provider's [`Authenticate`]. Every adapter
//! builds its requests through these, so method, path and credentials are decided in one way.

use bytes::Bytes;

use crate::{Attempt, Error, encode::push_path_segment};

/// One documented route of a provider's API: what an operation's `provider()`, `name()`,
/// method, path and default idempotency come from. Each adapter's generated `Route` enum
/// implements it.
///
/// ```
/// use rosterkit_core::{Route, http::Method};
///
/// #[derive(Debug, Clone, Copy)]
/// struct Leave;
///
/// impl Route for Leave {
///     fn provider(self) -> &'static str { "demo" }
///     fn name(self) -> &'static str { "leave" }
///     fn method(self) -> Method { Method::POST }
///     fn path(self) -> &'static str { "/chats/{chatId}/leave" }
///     fn idempotent(self) -> bool { false }
/// }
///
/// let uri = rosterkit_core::route_uri("https://api.example.com/v1", "", Leave, &["a/b c"])?;
/// assert_eq!(uri, "https://api.example.com/v1/chats/a%2Fb%20c/leave");
/// # Ok::<(), rosterkit_core::Error>(())
/// ```
pub trait Route: Copy + std::fmt::Debug + Send + Sync + 'static {
    /// The provider's name (`"chert"`).
    fn provider(self) -> &'static str;

    /// The operation's snake_case name (`"remove_participant"`).
    fn name(self) -> &'static str;

    /// The HTTP method.
    fn method(self) -> http::Method;

    /// The path template, relative to the base URL, with `{name}` placeholders.
    fn path(self) -> &'static str;

    /// Whether the provider documents the operation as idempotent.
    fn idempotent(self) -> bool;
}

/// Which route an operation sends, as a value: the provider and the operation's name that
/// label its errors and traces. [`Operation::route`](crate::Operation::route) returns it and
/// [`provider`](crate::Operation::provider)/[`name`](crate::Operation::name) read it, so an
/// operation says its route once. Every [`Route`] converts into one; an operation with no spec
/// route names itself with [`RouteName::new`].
///
/// ```
/// use rosterkit_core::RouteName;
/// let leave = RouteName::new("demo", "leave");
/// assert_eq!((leave.provider(), leave.name()), ("demo", "leave"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteName {
    provider: &'static str,
    name: &'static str,
}

impl RouteName {
    /// The route `name` (`"remove_participant"`) of `provider` (`"chert"`).
    pub const fn new(provider: &'static str, name: &'static str) -> Self {
        Self { provider, name }
    }

    /// The provider's name.
    pub const fn provider(self) -> &'static str {
        self.provider
    }

    /// The operation's snake_case name.
    pub const fn name(self) -> &'static str {
        self.name
    }
}

impl<R: Route> From<R> for RouteName {
    fn from(route: R) -> Self {
        Self::new(route.provider(), route.name())
    }
}

/// How a provider authenticates a request: one implementation per provider (a signature over
/// the body, a bearer token, a header), applied afresh to every attempt so a signature
/// carries the attempt's time.
pub trait Authenticate: Send + Sync {
    /// Adds the credentials to `request` for `attempt`.
    ///
    /// # Errors
    /// `InvalidInput` when a credential cannot be sent (it is checked when the client is
    /// built, so this is not expected).
    fn authenticate(
        &self,
        request: &mut http::Request<Bytes>,
        attempt: &Attempt,
    ) -> Result<(), Error>;
}

/// Room for `template` filled with `params`, each of which may grow threefold when encoded.
pub fn path_capacity(template: &str, params: &[&str]) -> usize {
    template.len() + params.iter().map(|p| p.len() * 3).sum::<usize>()
}

/// Appends `template` to `out` with each `{...}` replaced by the next of `params`,
/// percent-encoded as one path segment (`+` → `%2B`, `@` → `%40`, `/` → `%2F`); a missing
/// parameter is empty.
///
/// ```
/// let mut path = String::new();
/// rosterkit_core::push_path(&mut path, "/chats/{id}/participants/{who}", &["c 1", "+1@x"]);
/// assert_eq!(path, "/chats/c%201/participants/%2B1%40x");
/// ```
pub fn push_path(out: &mut String, template: &str, params: &[&str]) {
    let mut params = params.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(rest.get(..open).unwrap_or_default());
        let after = rest.get(open..).unwrap_or_default();
        let close = after.find('}').map_or(after.len(), |c| c + 1);
        push_path_segment(out, params.next().copied().unwrap_or_default());
        rest = after.get(close..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// `base` (a base URL, no trailing `/`), then `prefix` (already encoded), then `route`'s path
/// template filled with `params` ([`push_path`]), as a URI built from the one buffer.
///
/// # Errors
/// `InvalidInput` (naming the provider) when the result is not a valid URI.
pub fn route_uri<R: Route>(
    base: &str,
    prefix: &str,
    route: R,
    params: &[&str],
) -> Result<http::Uri, Error> {
    let template = route.path();
    let mut url =
        String::with_capacity(base.len() + prefix.len() + path_capacity(template, params));
    url.push_str(base);
    url.push_str(prefix);
    push_path(&mut url, template, params);
    // From the `String` itself: its buffer becomes the URI's, no copy.
    http::Uri::try_from(url).map_err(|_| {
        Error::invalid_input(format!("the {} request URL is not valid", route.provider()))
            .with_provider(route.provider())
            .with_operation(route.name())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_params_in_order_and_missing_ones_are_empty() {
        let mut out = String::new();
        push_path(&mut out, "/a/{x}/b/{y}", &["1/2"]);
        assert_eq!(out, "/a/1%2F2/b/");
        let mut out = String::new();
        push_path(&mut out, "/plain", &["ignored"]);
        assert_eq!(out, "/plain");
        let mut out = String::new();
        push_path(&mut out, "/open/{never-closed", &["v"]);
        assert_eq!(out, "/open/v");
    }
}
