//! Which client runs each provider's operations.

use std::{collections::HashMap, fmt, sync::Arc};

use rosterkit_core::{Error, Membership};

use crate::{ConnectOptions, ProviderName, Registry};

type Connector = Box<dyn FnMut(ProviderName) -> Result<Arc<dyn Membership>, Error> + Send>;

enum Slot {
    Ready(Arc<dyn Membership>),
    /// Building failed; every operation for the provider fails with this.
    Failed(Error),
}

/// The client for each provider a bulk run uses: given up front ([`Clients::with`]) or built
/// on first use ([`Clients::from_env`], [`Clients::with_connector`]), at most once per
/// provider.
///
/// When a provider's client cannot be built, each of its operations fails with that error
/// and the run goes on with the other providers.
///
/// ```
/// use std::sync::Arc;
/// use rosterkit::{ConnectOptions, Registry, bulk::Clients};
///
/// // Every registered provider from its environment variables, built when first needed.
/// let clients = Clients::from_env(ConnectOptions::default());
/// // The same, with the providers of one registry.
/// let clients = Clients::from_registry(Registry::builtin(), ConnectOptions::default());
/// # let _ = clients;
/// ```
pub struct Clients {
    slots: HashMap<ProviderName, Slot>,
    connector: Option<Connector>,
}

impl Clients {
    /// No clients: operations for a provider not added with [`Clients::with`] fail with
    /// `InvalidInput`.
    pub fn new() -> Self {
        Self {
            slots: HashMap::new(),
            connector: None,
        }
    }

    /// Clients built on first use by the process-wide registry ([`Registry::global`], as
    /// [`crate::connect_with`]`(provider, options)`): credentials and base URLs from each
    /// provider's environment variables.
    pub fn from_env(options: ConnectOptions) -> Self {
        Self::from_registry(Registry::global(), options)
    }

    /// Clients built on first use by `registry`'s providers, from their environment
    /// variables with `options` on top.
    pub fn from_registry(registry: Registry, options: ConnectOptions) -> Self {
        Self::with_connector(move |provider| {
            registry
                .connect(provider.as_str(), options.clone())
                .map(Arc::from)
        })
    }

    /// Clients built on first use by `connect`, called at most once per provider.
    pub fn with_connector(
        connect: impl FnMut(ProviderName) -> Result<Arc<dyn Membership>, Error> + Send + 'static,
    ) -> Self {
        Self {
            slots: HashMap::new(),
            connector: Some(Box::new(connect)),
        }
    }

    /// Returns the set with `client` serving `provider` (replacing any other).
    #[must_use]
    pub fn with(mut self, provider: impl Into<ProviderName>, client: Arc<dyn Membership>) -> Self {
        self.insert(provider, client);
        self
    }

    /// Makes `client` serve `provider` (replacing any other).
    pub fn insert(&mut self, provider: impl Into<ProviderName>, client: Arc<dyn Membership>) {
        self.slots.insert(provider.into(), Slot::Ready(client));
    }

    /// The client for `provider`, building it on first use.
    pub(crate) fn get(&mut self, provider: ProviderName) -> Result<Arc<dyn Membership>, Error> {
        if !self.slots.contains_key(&provider) {
            let built = match &mut self.connector {
                Some(connect) => connect(provider),
                None => Err(Error::invalid_input(format!(
                    "no {provider} client was configured for this run"
                ))),
            };
            let slot = match built {
                Ok(client) => Slot::Ready(client),
                Err(e) => {
                    let message = format!("cannot set up the {provider} client: {e}");
                    Slot::Failed(e.with_message(message).with_provider(provider.as_str()))
                }
            };
            self.slots.insert(provider, slot);
        }
        match self.slots.get(&provider) {
            Some(Slot::Ready(client)) => Ok(Arc::clone(client)),
            Some(Slot::Failed(error)) => Err(error.clone()),
            None => Err(Error::invalid_input(format!("no {provider} client"))),
        }
    }
}

impl Default for Clients {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Clients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (provider, slot) in &self.slots {
            match slot {
                Slot::Ready(client) => map.entry(provider, client),
                Slot::Failed(error) => map.entry(provider, &error.kind()),
            };
        }
        map.finish()?;
        if self.connector.is_some() {
            f.write_str(" (+ built on first use)")?;
        }
        Ok(())
    }
}
