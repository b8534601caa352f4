//! `cargo xtask semver`: cargo-semver-checks against the last release tag (`v*`).

use std::path::Path;

use crate::tools;

/// The newest `vX.Y.Z` tag by version order, if the repository has one.
fn last_release_tag(root: &Path) -> Result<Option<String>, String> {
    let output = std::process::Command::new("git")
        .args(["tag", "--list", "v[0-9]*", "--sort=-v:refname"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("git tag: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git tag: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(str::to_owned))
}

/// Compares every publishable crate's public API with the last release tag; with no tag yet
/// there is no baseline, and the report says so instead of comparing.
pub(crate) fn run(root: &Path) -> Result<String, String> {
    let Some(tag) = last_release_tag(root)? else {
        return Ok(NO_BASELINE.to_owned());
    };
    let binary = tools::ensure(root, &tools::SEMVER_CHECKS)?;
    let status = std::process::Command::new(binary)
        .args([
            "semver-checks",
            "check-release",
            "--workspace",
            "--baseline-rev",
        ])
        .arg(&tag)
        .current_dir(root)
        .status()
        .map_err(|e| format!("cargo-semver-checks: {e}"))?;
    if status.success() {
        Ok(format!(
            "semver: no breaking change since {tag} beyond what the version allows\n"
        ))
    } else {
        Err(format!(
            "semver: cargo-semver-checks against {tag} failed ({status}): bump the version \
             accordingly and list the change under \"Breaking\" in CHANGELOG.md"
        ))
    }
}

/// What `run` says before the first release.
const NO_BASELINE: &str = "semver: skipped: no release tag (v*) yet, so there is no published \
API to compare against; the first release (tag it `vX.Y.Z`) becomes the baseline\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(dir)
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// Before any tag the task skips with a message that says why; after tags it picks the
    /// newest by version order (v0.10.0 after v0.2.0), never by name order.
    #[test]
    fn the_baseline_is_the_newest_release_tag() {
        let dir = std::env::temp_dir().join(format!("xtask-semver-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "--quiet"]);
        git(&dir, &["commit", "--quiet", "--allow-empty", "-m", "first"]);
        assert_eq!(last_release_tag(&dir).unwrap(), None);
        let report = run(&dir).unwrap();
        assert!(report.contains("skipped: no release tag"), "{report}");
        for tag in ["v0.2.0", "v0.10.0", "v0.9.1", "nightly"] {
            git(&dir, &["tag", tag]);
        }
        assert_eq!(last_release_tag(&dir).unwrap().as_deref(), Some("v0.10.0"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
