//! Tidy checks over every crate's manifest and sources, run as tests (`cargo test -p xtask`).

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use toml::Value;

/// One crate's manifest, parsed.
pub(crate) struct Manifest {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) toml: Value,
}

impl Manifest {
    pub(crate) fn publish(&self) -> bool {
        self.toml
            .get("package")
            .and_then(|p| p.get("publish"))
            .and_then(Value::as_bool)
            != Some(false)
    }

    fn package(&self, key: &str) -> Option<&Value> {
        self.toml.get("package").and_then(|p| p.get(key))
    }

    /// Internal (`rosterkit*`) dependencies of one table: name → spec.
    pub(crate) fn internal_deps(&self, table: &str) -> BTreeMap<String, Value> {
        self.toml
            .get(table)
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .filter(|(name, _)| name.starts_with("rosterkit"))
                    .map(|(name, spec)| (name.clone(), spec.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Every workspace member's manifest (crates/* and xtask).
pub(crate) fn manifests(root: &Path) -> Result<Vec<Manifest>, String> {
    let root_toml: Value = toml::from_str(
        &fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?,
    )
    .map_err(|e| format!("Cargo.toml: {e}"))?;
    let mut dirs: Vec<PathBuf> = root_toml
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|member| root.join(member))
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let path = dir.join("Cargo.toml");
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let toml: Value =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let name = toml
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{}: no package.name", path.display()))?
                .to_owned();
            Ok(Manifest { name, dir, toml })
        })
        .collect()
}

/// Problems found by the checks, one line each.
pub(crate) fn problems(root: &Path) -> Result<Vec<String>, String> {
    let mut problems = Vec::new();
    let root_toml: Value = toml::from_str(
        &fs::read_to_string(root.join("Cargo.toml")).map_err(|e| format!("Cargo.toml: {e}"))?,
    )
    .map_err(|e| format!("Cargo.toml: {e}"))?;
    let workspace_deps = root_toml
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default();
    for (name, spec) in workspace_deps
        .iter()
        .filter(|(n, _)| n.starts_with("rosterkit"))
    {
        if spec.get("path").is_none() || spec.get("version").is_none() {
            problems.push(format!(
                "[workspace.dependencies] {name}: internal dependencies need both `path` and `version`"
            ));
        }
    }
    for m in manifests(root)? {
        let n = &m.name;
        if m.publish() {
            for key in ["description", "readme", "keywords", "categories"] {
                if m.package(key).is_none() {
                    problems.push(format!("{n}: published crates need package.{key}"));
                }
            }
            for key in [
                "license",
                "repository",
                "rust-version",
                "edition",
                "version",
            ] {
                let inherited = m
                    .package(key)
                    .and_then(|v| v.get("workspace"))
                    .and_then(Value::as_bool)
                    == Some(true);
                if !inherited {
                    problems.push(format!(
                        "{n}: package.{key} must be `{key}.workspace = true`"
                    ));
                }
            }
            if m.toml
                .get("package")
                .and_then(|p| p.get("metadata"))
                .and_then(|md| md.get("docs"))
                .and_then(|d| d.get("rs"))
                .and_then(|rs| rs.get("all-features"))
                .and_then(Value::as_bool)
                != Some(true)
            {
                problems.push(format!(
                    "{n}: [package.metadata.docs.rs] all-features = true"
                ));
            }
            for (dep, spec) in m.internal_deps("dependencies") {
                let via_workspace = spec.get("workspace").and_then(Value::as_bool) == Some(true);
                let explicit = spec.get("path").is_some() && spec.get("version").is_some();
                if !via_workspace && !explicit {
                    problems.push(format!(
                        "{n}: dependency {dep} needs `path` and `version` (or `workspace = true`)"
                    ));
                }
            }
        }
        // A version on an internal dev-dependency makes the registry require that crate before
        // this one (the sandbox before every adapter); path-only ones are dropped on publish.
        for (dep, spec) in m.internal_deps("dev-dependencies") {
            if m.publish() && (spec.get("path").is_none() || spec.get("version").is_some()) {
                problems.push(format!(
                    "{n}: dev-dependency {dep} must be path-only (`path = \"../{dep}\"`, no version, no `workspace = true`)"
                ));
            }
        }
        if m.publish() {
            for license in crate::release::LICENSE_FILES {
                if !m.dir.join(license).is_file() {
                    problems.push(format!(
                        "{n}: needs {license} (a symlink to the root's, which cargo package follows)"
                    ));
                }
            }
        }
        if m.toml
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(Value::as_bool)
            != Some(true)
        {
            problems.push(format!("{n}: needs `[lints] workspace = true`"));
        }
        if let Some(features) = m.toml.get("features").and_then(Value::as_table) {
            for feature in features.keys() {
                let kebab = feature
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
                if !kebab {
                    problems.push(format!("{n}: feature `{feature}` is not kebab-case"));
                }
            }
        }
        for entry in ["src/lib.rs", "src/main.rs"] {
            let path = m.dir.join(entry);
            if let Ok(text) = fs::read_to_string(&path)
                && !text.contains("#![forbid(unsafe_code)]")
            {
                problems.push(format!("{n}: {entry} must have #![forbid(unsafe_code)]"));
            }
        }
    }
    Ok(problems)
}

/// `cargo xtask tidy`: the manifest and source checks (the license allow-list is cargo-deny's:
/// `cargo xtask deny`, `deny.toml`).
pub(crate) fn run(root: &Path) -> Result<String, String> {
    let all = problems(root)?;
    if all.is_empty() {
        Ok("tidy: ok\n".to_owned())
    } else {
        Err(format!("tidy problems:\n{}", all.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_and_sources_are_tidy() {
        let problems = problems(&crate::workspace_root()).unwrap();
        assert!(
            problems.is_empty(),
            "tidy problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn sign_and_core_graphs_stay_clean() {
        let report = crate::deps::check(&crate::workspace_root()).unwrap();
        assert!(report.contains("rosterkit-sign"), "{report}");
    }
}
