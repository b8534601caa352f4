//! Optional pacing of changes, per provider and per chat.

use rosterkit_core::Rate;

/// Pacing for one provider's changes in a bulk run, across its chats and within each chat
/// (each [`Rate`] spread evenly: one change every [`Rate::interval`]). Off by default.
///
/// The ACS and Z-API adapters already pace themselves (ACS: 10 changes per 10 s per thread;
/// Z-API: one call at a time per instance, spaced), so a bulk run adds nothing for them
/// unless asked. Chert and Linq publish no limit for membership changes: pace them here when
/// a tenant needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BulkPacing {
    /// Spacing of changes across all of the provider's chats.
    pub per_provider: Option<Rate>,
    /// Spacing of changes within one chat.
    pub per_chat: Option<Rate>,
}

impl BulkPacing {
    /// No pacing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Returns the pacing with a provider-wide rate.
    #[must_use]
    pub fn with_per_provider(mut self, rate: Option<Rate>) -> Self {
        self.per_provider = rate;
        self
    }

    /// Returns the pacing with a per-chat rate.
    #[must_use]
    pub fn with_per_chat(mut self, rate: Option<Rate>) -> Self {
        self.per_chat = rate;
        self
    }
}
