//! Command-line arguments.

use std::sync::{Arc, OnceLock};

use clap::{Args, Parser, Subcommand, ValueEnum, builder::PossibleValue};
use rosterkit::{ProviderKind, ProviderName, Registry};

/// Manage group-chat membership across messaging providers.
///
/// Remove, add, leave and list members of group chats on Chert, Linq, Z-API, Azure
/// Communication Services and Matrix, one at a time or in bulk, and run the providers'
/// emulators locally.
/// Start with `rosterkit sandbox --env`.
#[derive(Debug, Parser)]
#[command(name = "rosterkit", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start an embedded sandbox and walk through every provider's contract.
    Tour,
    /// Run the provider emulators on a loopback port until interrupted.
    #[command(after_long_help = crate::sandbox::CONTROL_PLANE_HELP)]
    Sandbox(crate::sandbox::SandboxArgs),
    /// Remove participants from a group chat.
    Remove(RemoveArgs),
    /// Add participants to a group chat.
    Add(AddArgs),
    /// Leave a group chat with our own identity.
    Leave(LeaveArgs),
    /// List the members of a chat.
    List(ListArgs),
    /// Run many changes from a JSON-lines or CSV file; one JSON result line per operation.
    Bulk(crate::bulk::BulkArgs),
    /// Make a chat's members match a file: print the plan, or --apply it.
    Sync(crate::sync::SyncArgs),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(crate::completions::CompletionsArgs),
}

/// A provider, as `--provider` takes it: any provider in rosterkit's registry
/// ([`rosterkit::Registry::global`]), so one registered there is selectable here, listed by
/// `--help` and offered by shell completion without a change to this file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provider(ProviderName);

/// Built-in providers by their former variant names, as `sync`'s tests name them.
#[cfg(test)]
#[allow(non_upper_case_globals)]
impl Provider {
    pub(crate) const Zapi: Self = Self(ProviderKind::Zapi.name());
    pub(crate) const Acs: Self = Self(ProviderKind::Acs.name());
}

impl Provider {
    /// The provider's rules (environment variables, handle syntax, connection).
    pub(crate) fn rules(self) -> Result<Arc<dyn rosterkit::Provider>, rosterkit::Error> {
        Registry::global().get(self.0.as_str())
    }
}

impl From<Provider> for ProviderName {
    fn from(p: Provider) -> Self {
        p.0
    }
}

impl ValueEnum for Provider {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: OnceLock<Vec<Provider>> = OnceLock::new();
        ALL.get_or_init(|| {
            Registry::global()
                .providers()
                .filter_map(|p| ProviderName::of(p.as_ref()).ok())
                .map(Provider)
                .collect()
        })
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let summary = self.rules().ok().map(|p| p.summary());
        Some(PossibleValue::new(self.0.as_str()).help(summary.unwrap_or_default()))
    }
}

/// Options every provider command shares.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// The provider.
    #[arg(long, short = 'p', value_enum, env = "ROSTERKIT_PROVIDER")]
    pub(crate) provider: Provider,
    /// Chat id: a Chert chat (ch_...), a Linq chat UUID, a Z-API group (...-group) or
    /// community id, an ACS thread (19:...@thread.v2), a Matrix room (!id:server or
    /// #alias:server).
    #[arg(long, short = 'c')]
    pub(crate) chat: String,
    /// Override the provider's base URL (else from its *_BASE_URL variable or its default).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,
    #[command(flatten)]
    pub(crate) attempts: Attempts,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Allow plain http:// to a non-loopback host.
    #[arg(long)]
    pub(crate) allow_insecure_http: bool,
}

/// `--max-attempts N`, the library's `RetryPolicy::with_max_attempts(N)` (and its former
/// spelling, `--max-retries N-1`, hidden), and `--timeout SECS`, its `with_total_timeout`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Attempts {
    /// Attempts per call, the first included (1 to 10).
    #[arg(long, default_value_t = 3, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10))]
    max_attempts: u32,
    /// Former spelling: retries after the first attempt (`--max-attempts N+1`).
    #[arg(long, hide = true, value_name = "N", conflicts_with = "max_attempts", value_parser = clap::value_parser!(u32).range(0..=9))]
    max_retries: Option<u32>,
    /// Give up on a call after SECS, retries and waits included (a silent server costs at
    /// most this).
    #[arg(long, default_value_t = 60, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

impl Attempts {
    /// The retry policy with these attempts.
    pub(crate) fn policy(self) -> rosterkit::RetryPolicy {
        let attempts = self
            .max_retries
            .map_or(self.max_attempts, |retries| retries.saturating_add(1));
        rosterkit::RetryPolicy::default()
            .with_max_attempts(attempts)
            .with_total_timeout(Some(std::time::Duration::from_secs(self.timeout)))
    }
}

/// `--wait` and its limit (Linq only).
#[derive(Debug, Args)]
pub(crate) struct Wait {
    /// Linq: wait until the queued change shows in the chat (polling it); on a terminal a
    /// progress line shows the wait.
    #[arg(long)]
    pub(crate) wait: bool,
    /// Linq: give up waiting after SECS and report the change as still queued (exit 0).
    #[arg(long, value_name = "SECS", requires = "wait", default_value_t = 60)]
    pub(crate) wait_timeout: u64,
}

/// Handles for remove and add.
#[derive(Debug, Args)]
pub(crate) struct Handles {
    /// Handles: +E.164 phones, emails, or native ids (8:acs:..., 1234@lid, a Matrix
    /// @user:server, native:...), read with the provider's rules.
    #[arg(required = true)]
    pub(crate) handles: Vec<String>,
    /// Z-API: read the group back afterwards to confirm each change (else `unconfirmed`).
    #[arg(long)]
    pub(crate) verify: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(flatten)]
    pub(crate) handles: Handles,
    /// Ensure the end state: a handle that is already not a member counts as done
    /// (`already_done`), so the command can be repeated safely.
    #[arg(long)]
    pub(crate) ensure: bool,
    #[command(flatten)]
    pub(crate) wait: Wait,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    #[command(flatten)]
    pub(crate) handles: Handles,
    /// Ensure the end state: a handle that is already a member counts as done
    /// (`already_done`), so the command can be repeated safely.
    #[arg(long)]
    pub(crate) ensure: bool,
    #[command(flatten)]
    pub(crate) wait: Wait,
}

#[derive(Debug, Args)]
pub(crate) struct LeaveArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Ensure the end state: a chat we already left counts as done (`already_done`).
    #[arg(long)]
    pub(crate) ensure: bool,
    #[command(flatten)]
    pub(crate) wait: Wait,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) common: Common,
}

/// Flags that only some providers honour, and where: checked before anything is sent, so a
/// flag is never accepted and then ignored.
const PROVIDER_FLAGS: &[(&str, &[ProviderKind])] = &[
    ("--wait", &[ProviderKind::Linq]),
    ("--verify", &[ProviderKind::Zapi]),
];

/// The providers where `flag` applies (`None`: every provider, as it is not provider-specific).
pub(crate) fn applies_to(flag: &str) -> Option<&'static [ProviderKind]> {
    PROVIDER_FLAGS
        .iter()
        .find(|(f, _)| *f == flag)
        .map(|(_, p)| *p)
}

/// A usage error for the first of `used` (flag, given) that `provider` does not honour.
pub(crate) fn check_flags(
    provider: impl Into<ProviderName>,
    used: &[(&str, bool)],
) -> Result<(), String> {
    let provider = provider.into();
    for (flag, given) in used {
        let Some(providers) = applies_to(flag) else {
            continue;
        };
        if *given && !providers.iter().any(|p| provider == *p) {
            let names: Vec<&str> = providers.iter().map(|p| p.as_str()).collect();
            return Err(format!(
                "{flag} does not apply to {provider}; it applies to {} only",
                names.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn provider_specific_flags_name_where_they_apply() {
        let e = check_flags(ProviderKind::Chert, &[("--wait", true)]).unwrap_err();
        assert_eq!(e, "--wait does not apply to chert; it applies to linq only");
        let e =
            check_flags(ProviderKind::Linq, &[("--wait", false), ("--verify", true)]).unwrap_err();
        assert!(e.contains("zapi only"), "{e}");
        assert!(check_flags(ProviderKind::Linq, &[("--wait", true)]).is_ok());
        assert!(check_flags(ProviderKind::Acs, &[("--ensure", true)]).is_ok());
    }

    #[test]
    fn provider_takes_every_registered_provider() {
        let names: Vec<&str> = Provider::value_variants()
            .iter()
            .map(|p| ProviderName::from(*p).as_str())
            .collect();
        let registered: Vec<&str> = Registry::global().names().collect();
        assert_eq!(names, registered);
        for kind in ProviderKind::ALL {
            assert!(names.contains(&kind.as_str()), "{kind}");
        }
        assert!(names.contains(&"matrix"));
        let help = Provider::from_str("matrix", false)
            .unwrap()
            .to_possible_value()
            .unwrap();
        assert!(help.get_help().unwrap().to_string().contains("Matrix"));
        assert!(Provider::from_str("telegram", false).is_err());
    }
}
