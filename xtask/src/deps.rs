//! Assertions over the dependency graph (`cargo tree`).

use std::{fmt::Write as _, path::Path};

/// Crates that must never be in a graph, with the reason.
struct Rule {
    package: &'static str,
    args: &'static [&'static str],
    forbidden: &'static [&'static str],
    why: &'static str,
}

// "No OpenSSL anywhere" and the license allow-list are cargo-deny's (deny.toml).
const RULES: &[Rule] = &[
    Rule {
        package: "rosterkit-core",
        args: &["--all-features"],
        forbidden: &[
            "rosterkit-chert",
            "rosterkit-linq",
            "rosterkit-zapi",
            "rosterkit-acs",
            "rosterkit-matrix",
            "rosterkit-sandbox",
            "rosterkit-sign",
        ],
        why: "rosterkit-core knows no provider",
    },
    Rule {
        package: "rosterkit-sign",
        args: &["--all-features"],
        forbidden: &[
            "rosterkit-core",
            "rosterkit-chert",
            "rosterkit-linq",
            "rosterkit-zapi",
            "rosterkit-acs",
            "reqwest",
            "hyper",
            "http",
            "tokio",
            "axum",
            "futures-util",
        ],
        why: "rosterkit-sign is pure: no provider code, no HTTP, no async",
    },
    Rule {
        package: "rosterkit-chert",
        args: &[],
        forbidden: &[
            "ring",
            "fastrand",
            "tracing-attributes",
            "openssl",
            "native-tls",
        ],
        why: "a one-provider app stays within 20 crates of bare reqwest + serde_json + tokio \
              (issue #18): one crypto provider (aws-lc-rs, reqwest 0.13's default, never ring \
              beside it); jitter from std; spans without tracing's proc-macro",
    },
    Rule {
        package: "rosterkit-matrix",
        args: &[],
        forbidden: &[
            "rosterkit-sign",
            "hmac",
            "sha2",
            "fastrand",
            "tracing-attributes",
            "openssl",
            "native-tls",
        ],
        why: "a downstream-style adapter needs nothing beyond rosterkit-core, serde_json and \
              tracing: bearer auth, no signing crate",
    },
    Rule {
        package: "rosterkit-sandbox",
        args: &["--all-features"],
        forbidden: &[
            "rosterkit-core",
            "rosterkit-chert",
            "rosterkit-linq",
            "rosterkit-zapi",
            "rosterkit-acs",
            "rosterkit-matrix",
        ],
        why: "the emulators implement each contract independently of the adapters",
    },
    Rule {
        package: "rosterkit-sandbox",
        // Its tests too: a test that signs with the library proves nothing about the library.
        args: &["--all-features", "-e", "dev"],
        forbidden: &["rosterkit-sign"],
        why: "the emulators sign and verify with their own code on hmac/sha2, so a signing bug \
              in the library is caught, not mirrored",
    },
];

/// Crates whose normal-dependency tree must hold one version of every crate (issue #18): an
/// app that depends on one of them compiles each dependency once.
const ONE_VERSION_EACH: &[&str] = &[
    "rosterkit-core",
    "rosterkit-sign",
    "rosterkit-chert",
    "rosterkit-linq",
    "rosterkit-zapi",
    "rosterkit-acs",
    "rosterkit",
];

/// `cargo tree -d -e normal -p <crate>` for each of [`ONE_VERSION_EACH`]: the duplicated
/// crates it prints, per crate that has any.
fn duplicates(root: &Path) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for package in ONE_VERSION_EACH {
        let output = crate::cargo()
            .args([
                "tree", "--quiet", "-d", "-e", "normal", "--depth", "0", "-p",
            ])
            .arg(package)
            .current_dir(root)
            .output()
            .map_err(|e| format!("cargo tree -d: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cargo tree -d -p {package}: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let twice: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if !twice.is_empty() {
            found.push(format!(
                "{package}: more than one version of a crate in its normal tree \
                 (`cargo tree -d -e normal -p {package}`): {}",
                twice.join(", ")
            ));
        }
    }
    Ok(found)
}

/// The package names in `package`'s normal-dependency graph.
pub(crate) fn graph(root: &Path, package: &str, extra: &[&str]) -> Result<Vec<String>, String> {
    let output = crate::cargo()
        .args([
            "tree", "--quiet", "-e", "normal", "--prefix", "none", "--format", "{p}", "-p",
        ])
        .arg(package)
        .args(extra)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo tree -p {package}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut names: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Checks every rule whose package exists; returns a report.
pub(crate) fn check(root: &Path) -> Result<String, String> {
    let mut report = String::new();
    let mut broken = Vec::new();
    let members = crate::tidy::manifests(root)?;
    for rule in RULES {
        if !members.iter().any(|m| m.name == rule.package) {
            continue;
        }
        let names = graph(root, rule.package, rule.args)?;
        let found: Vec<&str> = rule
            .forbidden
            .iter()
            .copied()
            .filter(|f| names.iter().any(|n| n == f))
            .collect();
        if found.is_empty() {
            let _ = writeln!(
                report,
                "ok: {} ({} crates): {}",
                rule.package,
                names.len(),
                rule.why
            );
        } else {
            broken.push(format!(
                "{}: {} — found {}",
                rule.package,
                rule.why,
                found.join(", ")
            ));
        }
    }
    let twice = duplicates(root)?;
    if twice.is_empty() {
        let _ = writeln!(
            report,
            "ok: one version of every crate in the normal trees of {}",
            ONE_VERSION_EACH.join(", ")
        );
    }
    broken.extend(twice);
    if broken.is_empty() {
        Ok(report)
    } else {
        Err(broken.join("\n"))
    }
}
