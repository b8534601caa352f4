//! The open provider set: [`Registry`], by name, holding the built-in providers (per cargo
//! feature) and any a downstream crate registers. [`crate::connect`], [`crate::bulk`] and the
//! CLI's `--provider` all pick providers here.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{Arc, OnceLock, PoisonError, RwLock},
};

use rosterkit_core::{ConnectOptions, Error, Membership, Provider};

use crate::ProviderName;

/// Providers by name.
///
/// [`Registry::builtin`] holds the compiled-in providers; [`register`] adds one to the
/// process-wide registry that [`crate::connect`] and bulk runs use by default, and a
/// `Registry` value can be passed around instead of the global one.
///
/// ```
/// use std::sync::Arc;
/// use rosterkit::{ConnectOptions, EnvVar, Error, Membership, Provider, Registry};
///
/// struct Echo;
/// impl Provider for Echo {
///     fn name(&self) -> &'static str { "echo" }
///     fn summary(&self) -> &'static str { "Echo (a test double)" }
///     fn env(&self) -> &'static [EnvVar] { &[] }
///     fn connect(&self, _: ConnectOptions) -> Result<Box<dyn Membership>, Error> {
///         Err(Error::unsupported("echo has no server"))
///     }
/// }
///
/// let mut registry = Registry::builtin();
/// registry.register(Arc::new(Echo))?;
/// assert!(registry.names().any(|n| n == "echo"));
/// assert_eq!(registry.get("Echo")?.summary(), "Echo (a test double)");
/// let err = registry.get("telegram").unwrap_err();
/// assert!(err.message().contains("echo"), "{err}");
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
}

/// Every provider rosterkit ships, with the cargo feature each needs.
const BUILTIN: [&str; 5] = ["acs", "chert", "linq", "matrix", "zapi"];

impl Registry {
    /// No providers.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The built-in providers whose cargo features are on: `chert`, `linq`, `zapi`, `acs`,
    /// `matrix`.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        for provider in crate::builtin::providers() {
            registry.insert(provider);
        }
        registry
    }

    /// A snapshot of the process-wide registry: the built-ins and everything [`register`]ed.
    pub fn global() -> Self {
        global()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Adds `provider`, replacing one of the same name (so a downstream crate may also replace a
    /// built-in).
    ///
    /// # Errors
    /// `InvalidInput` when its name is not a valid, lowercase [`ProviderName`].
    pub fn register(&mut self, provider: Arc<dyn Provider>) -> Result<(), Error> {
        let name = ProviderName::of(provider.as_ref())?;
        self.providers.insert(name.as_str(), provider);
        Ok(())
    }

    /// Returns the registry with `provider` added ([`Registry::register`]).
    ///
    /// # Errors
    /// As [`Registry::register`].
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Result<Self, Error> {
        self.register(provider)?;
        Ok(self)
    }

    fn insert(&mut self, provider: Arc<dyn Provider>) {
        if let Ok(name) = ProviderName::of(provider.as_ref()) {
            self.providers.insert(name.as_str(), provider);
        }
    }

    /// The provider called `name` (case-insensitive, surrounding spaces ignored).
    ///
    /// # Errors
    /// `InvalidInput` for an unknown name, listing the registered ones; `Unsupported` for a
    /// built-in provider whose cargo feature is off, naming the feature.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Provider>, Error> {
        let key = name.trim().to_ascii_lowercase();
        if let Some(provider) = self.providers.get(key.as_str()) {
            return Ok(Arc::clone(provider));
        }
        if BUILTIN.contains(&key.as_str()) {
            return Err(Error::unsupported(format!(
                "provider {key} is not compiled in: enable the `{key}` feature of rosterkit"
            )));
        }
        Err(self.unknown(name))
    }

    fn unknown(&self, name: &str) -> Error {
        let names: Vec<&str> = self.names().collect();
        let shown: String = name.trim().chars().take(40).collect();
        Error::invalid_input(format!(
            "unknown provider {:?}: expected one of {}",
            rosterkit_core::redact::mask_digits(&shown),
            names.join(", ")
        ))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.providers.keys().copied()
    }

    /// The registered providers, sorted by name.
    pub fn providers(&self) -> impl Iterator<Item = &Arc<dyn Provider>> + '_ {
        self.providers.values()
    }

    /// A client for the provider called `name`, from its environment variables with `options`
    /// on top.
    ///
    /// # Errors
    /// As [`Registry::get`], then the provider's [`Provider::connect`].
    pub fn connect(
        &self,
        name: &str,
        options: ConnectOptions,
    ) -> Result<Box<dyn Membership>, Error> {
        self.get(name)?.connect(options)
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// The process-wide registry, starting with the built-ins.
fn global() -> &'static RwLock<Registry> {
    static GLOBAL: OnceLock<RwLock<Registry>> = OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(Registry::builtin()))
}

/// Adds `provider` to the process-wide registry, so [`crate::connect`], [`crate::bulk`]'s
/// clients from the environment and [`Registry::global`] reach it by name.
///
/// # Errors
/// As [`Registry::register`].
pub fn register(provider: impl Provider + 'static) -> Result<(), Error> {
    global()
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .register(Arc::new(provider))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosterkit_core::{EnvVar, ErrorKind};

    struct Named(&'static str);

    impl Provider for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn summary(&self) -> &'static str {
            "a test provider"
        }
        fn env(&self) -> &'static [EnvVar] {
            &[]
        }
        fn connect(&self, _: ConnectOptions) -> Result<Box<dyn Membership>, Error> {
            Err(Error::unsupported(format!("{} is a test provider", self.0)))
        }
    }

    #[test]
    fn the_builtins_follow_the_features() {
        let builtin = Registry::builtin();
        let names: Vec<&str> = builtin.names().collect();
        for (name, on) in [
            ("acs", cfg!(feature = "acs")),
            ("chert", cfg!(feature = "chert")),
            ("linq", cfg!(feature = "linq")),
            ("matrix", cfg!(feature = "matrix")),
            ("zapi", cfg!(feature = "zapi")),
        ] {
            assert_eq!(names.contains(&name), on, "{name}");
        }
    }

    #[test]
    fn registrations_are_checked_and_reached_by_name() {
        let mut registry = Registry::empty();
        assert!(registry.register(Arc::new(Named("Upper"))).is_err());
        assert!(registry.register(Arc::new(Named("a b"))).is_err());
        registry.register(Arc::new(Named("fax"))).unwrap();
        let err = registry
            .connect(" FAX ", ConnectOptions::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.message().contains("fax is a test provider"), "{err}");
        let err = registry.get("+14155551234").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.message().contains("expected one of fax"), "{err}");
        assert!(!err.message().contains("4155551234"), "{err}");
        let err = registry.get("chert").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.message().contains("`chert` feature"), "{err}");
    }

    #[test]
    fn the_global_registry_takes_registrations() {
        register(Named("pager")).unwrap();
        assert!(Registry::global().get("pager").is_ok());
        let err = crate::connect("pager").err().unwrap();
        assert!(err.message().contains("pager is a test provider"), "{err}");
    }
}
