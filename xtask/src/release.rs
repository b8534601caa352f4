//! `cargo xtask release <version> [--dry-run]`: bump the one workspace version and every
//! internal requirement, date the changelog, package each crate in dependency order.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs,
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use crate::tidy::{Manifest, manifests};

/// What a release changes, computed without touching the disk.
pub(crate) struct Plan {
    pub(crate) old_version: String,
    pub(crate) new_version: String,
    pub(crate) root_manifest: String,
    pub(crate) changelog: String,
    pub(crate) publish_order: Vec<String>,
}

/// `MAJOR.MINOR.PATCH` with an optional `-pre` part.
fn valid_version(v: &str) -> bool {
    let (core, pre) = v.split_once('-').map_or((v, None), |(c, p)| (c, Some(p)));
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && pre.is_none_or(|p| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        })
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock (civil-from-days).
pub(crate) fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    civil_date(i64::try_from(days).unwrap_or(0))
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The tables whose internal crates must be on the registry before a crate is: a crate's
/// dependencies, and its dev-dependencies too (path-only ones are dropped from the published
/// manifest, but ordering by them keeps the order right if one ever carries a version).
const ORDERING_TABLES: [&str; 2] = ["dependencies", "dev-dependencies"];

/// Publishable crates ordered so every crate comes after its internal dependencies and
/// dev-dependencies.
fn publish_order(manifests: &[Manifest]) -> Result<Vec<String>, String> {
    let publishable: BTreeMap<&str, &Manifest> = manifests
        .iter()
        .filter(|m| m.publish())
        .map(|m| (m.name.as_str(), m))
        .collect();
    let mut order = Vec::new();
    let mut done = BTreeSet::new();
    while done.len() < publishable.len() {
        let before = done.len();
        for (name, m) in &publishable {
            if done.contains(name) {
                continue;
            }
            let ready = ORDERING_TABLES.iter().all(|table| {
                m.internal_deps(table).keys().all(|d| {
                    d == name || done.contains(d.as_str()) || !publishable.contains_key(d.as_str())
                })
            });
            if ready {
                order.push((*name).to_owned());
                done.insert(*name);
            }
        }
        if done.len() == before {
            return Err("a dependency cycle among publishable crates".to_owned());
        }
    }
    Ok(order)
}

/// The license texts every published crate ships (symlinks to the root's copies).
pub(crate) const LICENSE_FILES: [&str; 2] = ["LICENSE-APACHE", "LICENSE-MIT"];

/// `cargo package` with verification for every publishable crate in one invocation, so each
/// resolves its internal dependencies against the others being packaged (a local overlay
/// registry): what `cargo publish` will do, checked before anything is published.
pub(crate) fn package_workspace(root: &Path) -> Result<(), String> {
    let order = publish_order(&manifests(root)?)?;
    forget_stale_overlay_sources(&order, &workspace_version(root)?);
    let mut cmd = crate::cargo();
    cmd.args(["package", "--allow-dirty"]).current_dir(root);
    for name in &order {
        cmd.args(["-p", name]);
    }
    let status = cmd.status().map_err(|e| format!("cargo package: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo package (verified) failed ({status})"))
    }
}

/// The `[workspace.package]` version.
fn workspace_version(root: &Path) -> Result<String, String> {
    let manifest =
        fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?;
    let parsed: toml::Table = manifest.parse().map_err(|e| format!("Cargo.toml: {e}"))?;
    parsed
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| "Cargo.toml has no [workspace.package] version".to_owned())
}

/// Removes our own crates' sources that an earlier verified `cargo package` unpacked from its
/// local overlay registry into `$CARGO_HOME/registry/src/-<hash>/`. Cargo reuses an unpacked
/// `name-version` directory without comparing it with the new `.crate`, so a second run from
/// the same checkout path would verify each crate against the *previous* run's sources of its
/// dependencies (seen: `rosterkit-acs` built against a stale `rosterkit-core`). Only overlay
/// registries (directory names starting with `-`) are touched; crates.io's are never.
fn forget_stale_overlay_sources(names: &[String], version: &str) {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry").join("src")) else {
        return;
    };
    let Ok(registries) = fs::read_dir(&src) else {
        return;
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for name in names {
            let stale = registry.path().join(format!("{name}-{version}"));
            if stale.is_dir() {
                // Best effort: a directory that cannot be removed leaves cargo's old behaviour.
                let _ = fs::remove_dir_all(&stale);
            }
        }
    }
}

/// Computes the release without writing anything.
pub(crate) fn plan(root: &Path, new_version: &str, date: &str) -> Result<Plan, String> {
    if !valid_version(new_version) {
        return Err(format!(
            "{new_version:?} is not a version (MAJOR.MINOR.PATCH)"
        ));
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest = fs::read_to_string(&manifest_path).map_err(|e| format!("Cargo.toml: {e}"))?;
    let old_version = workspace_version(root)?;
    // Line edits keep the manifest's comments and layout.
    let mut section = String::new();
    let mut root_manifest = String::new();
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
        }
        let replaced = if section == "[workspace.package]" && trimmed.starts_with("version =") {
            format!("version = \"{new_version}\"")
        } else if section == "[workspace.dependencies]"
            && trimmed.starts_with("rosterkit")
            && line.contains(&format!("version = \"{old_version}\""))
        {
            line.replace(
                &format!("version = \"{old_version}\""),
                &format!("version = \"{new_version}\""),
            )
        } else {
            line.to_owned()
        };
        root_manifest.push_str(&replaced);
        root_manifest.push('\n');
    }
    let changelog_path = root.join("CHANGELOG.md");
    let changelog =
        fs::read_to_string(&changelog_path).map_err(|e| format!("CHANGELOG.md: {e}"))?;
    let heading = "## [Unreleased]";
    if !changelog.contains(heading) {
        return Err("CHANGELOG.md has no `## [Unreleased]` section".to_owned());
    }
    let changelog = changelog.replacen(
        heading,
        &format!("{heading}\n\n## [{new_version}] - {date}"),
        1,
    );
    let publish_order = publish_order(&manifests(root)?)?;
    Ok(Plan {
        old_version,
        new_version: new_version.to_owned(),
        root_manifest,
        changelog,
        publish_order,
    })
}

/// Runs the release; with `dry_run` nothing on disk changes (packages are built with
/// `cargo package --no-verify` into `target/package`, which is ignored by git).
pub(crate) fn run(root: &Path, new_version: &str, dry_run: bool) -> Result<String, String> {
    let plan = plan(root, new_version, &today())?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "release {} -> {}{}",
        plan.old_version,
        plan.new_version,
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    if !dry_run {
        fs::write(root.join("Cargo.toml"), &plan.root_manifest)
            .map_err(|e| format!("Cargo.toml: {e}"))?;
        fs::write(root.join("CHANGELOG.md"), &plan.changelog)
            .map_err(|e| format!("CHANGELOG.md: {e}"))?;
        let _ = writeln!(report, "bumped Cargo.toml and dated CHANGELOG.md");
    }
    // Every published crate ships both license texts.
    for name in &plan.publish_order {
        let output = crate::cargo()
            .args(["package", "--list", "--allow-dirty", "--quiet", "-p", name])
            .current_dir(root)
            .output()
            .map_err(|e| format!("cargo package --list: {e}"))?;
        let list = String::from_utf8_lossy(&output.stdout);
        for license in LICENSE_FILES {
            if !output.status.success() || !list.lines().any(|l| l == license) {
                return Err(format!("{name}: the package does not contain {license}"));
            }
        }
    }
    let _ = writeln!(
        report,
        "every package contains {}",
        LICENSE_FILES.join(" and ")
    );
    if !dry_run {
        // One verified `cargo package --workspace`: cargo resolves each crate's internal
        // dependencies against the others being packaged (a local overlay registry), and
        // internal dev-dependencies are path-only, so nothing unpublished is required.
        package_workspace(root)?;
        let _ = writeln!(report, "packaged and verified into target/package");
    }
    let _ = writeln!(report, "\npublish in this order:");
    for name in &plan.publish_order {
        let _ = writeln!(report, "  cargo publish -p {name}");
    }
    report.push_str(&crate::semver::run(root)?);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dry run reads and packages (into target/, which git ignores) but writes no tracked file.
    #[test]
    fn dry_run_changes_nothing_on_disk() {
        let root = crate::workspace_root();
        let read = |f: &str| fs::read(root.join(f)).unwrap();
        let before = (read("Cargo.toml"), read("CHANGELOG.md"), read("Cargo.lock"));
        let report = run(&root, "9.9.9", true).unwrap();
        assert!(report.contains("dry run"), "{report}");
        assert!(
            report.contains("cargo publish -p rosterkit-core"),
            "{report}"
        );
        let after = (read("Cargo.toml"), read("CHANGELOG.md"), read("Cargo.lock"));
        assert!(before == after, "a dry run changed a tracked file");
    }

    #[test]
    fn bad_versions_are_refused_before_anything_happens() {
        let err = plan(&crate::workspace_root(), "0.2", "2026-11-22")
            .err()
            .unwrap();
        assert!(err.contains("not a version"), "{err}");
    }

    #[test]
    fn versions() {
        for ok in ["0.2.0", "1.10.3", "1.0.0-rc.1"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["0.2", "v0.2.0", "0.2.0-", "a.b.c", "0.2.0.1", ""] {
            assert!(!valid_version(bad), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(19_675), "2023-11-14");
        assert_eq!(civil_date(20_779), "2026-11-22");
        assert_eq!(civil_date(11_016), "2000-02-29");
    }

    #[test]
    fn plan_bumps_every_internal_requirement_and_dates_the_changelog() {
        let root = crate::workspace_root();
        let plan = plan(&root, "9.8.7", "2026-11-22").unwrap();
        assert!(plan.root_manifest.contains("version = \"9.8.7\""));
        let bumped = plan
            .root_manifest
            .lines()
            .filter(|l| l.starts_with("rosterkit"))
            .collect::<Vec<_>>();
        assert!(!bumped.is_empty());
        for line in bumped {
            assert!(line.contains("version = \"9.8.7\""), "{line}");
        }
        assert!(
            plan.changelog
                .contains("## [Unreleased]\n\n## [9.8.7] - 2026-11-22")
        );
        let order = &plan.publish_order;
        let pos = |n: &str| order.iter().position(|x| x == n);
        assert!(
            pos("rosterkit-core").is_some() && pos("rosterkit-sign").is_some(),
            "{order:?}"
        );
        assert!(!order.iter().any(|n| n == "xtask"));
        // Issue #18: the adapters dev-depend on the sandbox, which must be published first.
        for adapter in [
            "rosterkit-chert",
            "rosterkit-linq",
            "rosterkit-zapi",
            "rosterkit-acs",
        ] {
            assert!(pos("rosterkit-sandbox") < pos(adapter), "{order:?}");
        }
        // Every crate comes after each internal dependency and dev-dependency it has.
        for m in manifests(&root).unwrap().iter().filter(|m| m.publish()) {
            let deps = ORDERING_TABLES
                .iter()
                .flat_map(|t| m.internal_deps(t).into_keys());
            for dep in deps.filter(|d| pos(d).is_some()) {
                assert!(
                    pos(&dep) < pos(&m.name),
                    "{dep} must precede {}: {order:?}",
                    m.name
                );
            }
        }
    }
}
