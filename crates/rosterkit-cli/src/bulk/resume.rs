//! `--resume`: which input rows an earlier run finished, matched by content.
//!
//! The reading and matching are the library's ([`rosterkit::bulk::resume`], where the rules
//! are documented); this adds the file and the CLI's wording.

use std::{fs::File, io::BufReader, path::Path};

pub(crate) use rosterkit::bulk::resume::{Priors, ResumeError, Skip};

/// Reads the `--resume` file at `path`.
///
/// # Errors
/// A message for the user (exit 2): the file cannot be read, or a result has no fingerprint.
pub(crate) fn load(path: &Path, ensure: bool) -> Result<Priors, String> {
    let file = File::open(path).map_err(|e| {
        format!(
            "cannot read the --resume file {}: {e} (omit --resume on a first run)",
            path.display()
        )
    })?;
    Priors::read(BufReader::new(file), ensure).map_err(|e| message(path, &e))
}

/// A refusal of the `--resume` file at `path`, for the user.
pub(crate) fn message(path: &Path, e: &ResumeError) -> String {
    format!("the --resume file {}: {e}", path.display())
}
