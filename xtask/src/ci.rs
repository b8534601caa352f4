//! `cargo xtask ci`: exactly what `.ci/run` runs, so a green local run means a green CI.
//!
//! After the cargo steps: the dependency-graph rules (one version of every crate in each
//! provider's tree), cargo-deny (installed into `target/tools` when missing), a verified
//! `cargo package` of every publishable crate, and the semver check against the last release
//! tag (skipped, saying so, before the first release).

use crate::workspace_root;

/// One CI step: a name and a cargo command line.
struct Step {
    name: &'static str,
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const STEPS: &[Step] = &[
    Step {
        name: "fmt",
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        name: "clippy",
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "test (the README's test command; includes tidy and codegen freshness tests)",
        args: &["test", "--workspace", "--all-features"],
        env: &[],
    },
    Step {
        // `cargo xtask bench --quick` needs release builds (~4.5 min on a clean clone), over
        // the 3 minutes issue #9 allows CI; its code is built here and its unit tests ran above.
        name: "bench (build only)",
        args: &["build", "--package", "rosterkit-bench", "--bins"],
        env: &[],
    },
    Step {
        // `fmt --all` stops at the workspace; the fuzz targets are a workspace of their own.
        name: "fmt (fuzz targets)",
        args: &[
            "fmt",
            "--all",
            "--check",
            "--manifest-path",
            "fuzz/Cargo.toml",
        ],
        env: &[],
    },
    Step {
        // The fuzz targets are their own workspace (cargo-fuzz): CI checks that they build and
        // are lint-clean on the stable toolchain (libfuzzer-sys comes from the registry);
        // `cargo xtask fuzz` runs them, with a nightly compiler.
        name: "fuzz targets (check)",
        args: &[
            "clippy",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--bins",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        name: "codegen freshness",
        args: &[
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "codegen",
            "--check",
        ],
        env: &[],
    },
    Step {
        name: "docs (all features, as docs.rs builds them)",
        args: &["doc", "--workspace", "--no-deps", "--all-features"],
        // `--cfg docsrs` needs nightly (docs.rs has it); stable CI documents without it.
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    Step {
        name: "docs (default features, as a user's `cargo doc` builds them)",
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
];

/// Runs every step in order, then the dependency-graph assertions; stops at the first failure.
pub(crate) fn run() -> Result<String, String> {
    let root = workspace_root();
    for step in STEPS {
        crate::announce(&format!("==> {}", step.name));
        let status = crate::cargo()
            .args(step.args)
            .envs(step.env.iter().copied())
            .current_dir(&root)
            .status()
            .map_err(|e| format!("{}: cannot run cargo: {e}", step.name))?;
        if !status.success() {
            return Err(format!("step `{}` failed ({status})", step.name));
        }
    }
    crate::announce("==> dependency graph");
    let mut report = crate::deps::check(&root)?;
    crate::announce("==> cargo deny (licenses, bans, duplicates, sources)");
    report.push_str(&crate::deny::run(&root, true)?);
    crate::announce("==> cargo package (verified) for every publishable crate");
    crate::release::package_workspace(&root)?;
    report.push_str("ok: every publishable crate packages and builds from its .crate\n");
    crate::announce("==> semver");
    report.push_str(&crate::semver::run(&root)?);
    Ok(format!("{report}ci: all steps passed\n"))
}
