//! The setters every client builder shares, written once.

/// Expands, inside a client builder's `impl` block, to the setters every rosterkit builder
/// offers over its embedded [`ClientOptions`](crate::ClientOptions): `client_options`,
/// `retry_policy`, `http_client`, `clock` and `allow_insecure_http`. The builder keeps its
/// options in a field named `options`.
///
/// Each builder has them as its own methods, so a user calls `.retry_policy(..)` with no trait
/// in scope; this macro is how five builders (and a downstream adapter's) share one
/// definition instead of five copies.
///
/// ```
/// use rosterkit_core::{ClientOptions, RetryPolicy};
///
/// #[derive(Default)]
/// pub struct DemoClientBuilder {
///     options: ClientOptions,
/// }
///
/// impl DemoClientBuilder {
///     rosterkit_core::client_options_setters!();
/// }
///
/// let builder = DemoClientBuilder::default()
///     .retry_policy(RetryPolicy::default().with_max_attempts(2))
///     .allow_insecure_http(false);
/// # let _ = builder;
/// ```
#[macro_export]
macro_rules! client_options_setters {
    () => {
        /// Replaces the embedded [`ClientOptions`]($crate::ClientOptions) (transport, retry
        /// policy, clock, insecure-http switch, pacing, read-back) in one call; the setters
        /// below change one of them.
        #[must_use]
        pub fn client_options(mut self, options: $crate::ClientOptions) -> Self {
            self.options = options;
            self
        }

        /// Sets the retry policy (default [`RetryPolicy::default`]($crate::RetryPolicy)). Only
        /// failures the provider's table marks retryable are retried, and a mutation after an
        /// ambiguous failure only in ensure mode.
        #[must_use]
        pub fn retry_policy(mut self, policy: $crate::RetryPolicy) -> Self {
            self.options = self.options.retry_policy(policy);
            self
        }

        /// Sets the HTTP client (default: a [`ReqwestClient`]($crate::ReqwestClient) with the
        /// `reqwest` feature; required without it).
        #[must_use]
        pub fn http_client(mut self, client: ::std::sync::Arc<dyn $crate::HttpClient>) -> Self {
            self.options = self.options.http_client(client);
            self
        }

        /// Sets the clock that timestamps requests and signatures (default: the system
        /// clock).
        #[must_use]
        pub fn clock(mut self, clock: ::std::sync::Arc<dyn $crate::Clock>) -> Self {
            self.options = self.options.clock(clock);
            self
        }

        /// Allows a plain `http://` base URL to a host that is not loopback (default: refused).
        #[must_use]
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.options = self.options.allow_insecure_http(allow);
            self
        }
    };
}
