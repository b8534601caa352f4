//! Issue 17: every README's Rust example is written for a program that depends only on the
//! crate the README belongs to. Each crate compiles its README as doc tests
//! (`include_str!("../README.md")`), but rustdoc puts the dev-dependencies in scope too, so a
//! `use rosterkit_core::…` in `rosterkit-linq`'s README would compile there and fail for a
//! user (E0432). This test closes that gap: the examples name no other rosterkit crate, except
//! the sandbox on hidden setup lines (`# let sandbox = rosterkit_sandbox::…`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Each README with the crate (as a Rust path) its examples are for, and the file that
/// includes it as doc tests.
fn readmes() -> Vec<(PathBuf, String, PathBuf)> {
    let root = root();
    let mut out = vec![(
        root.join("README.md"),
        "rosterkit".to_owned(),
        root.join("crates/rosterkit/src/lib.rs"),
    )];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let readme = dir.join("README.md");
        if readme.exists() {
            let name = dir.file_name().unwrap().to_string_lossy().replace('-', "_");
            out.push((readme, name, dir.join("src/lib.rs")));
        }
    }
    out
}

/// The lines of the README's Rust code blocks, each with whether rustdoc hides it.
fn rust_lines(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut in_rust = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_rust = match in_rust {
                Some(_) => None,
                None => Some(info.starts_with("rust")),
            };
            continue;
        }
        if in_rust == Some(true) {
            let hidden = trimmed == "#" || trimmed.starts_with("# ");
            out.push((hidden, trimmed.to_owned()));
        }
    }
    out
}

/// The rosterkit crates a line names: identifiers `rosterkit` or `rosterkit_*`.
fn crates_named(line: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("rosterkit") {
        let before = rest[..at].chars().next_back();
        let word: String = rest[at..].chars().take_while(|c| ident(*c)).collect();
        if !before.is_some_and(ident) && (word == "rosterkit" || word.starts_with("rosterkit_")) {
            found.push(word.clone());
        }
        rest = &rest[at + word.len().max(1)..];
    }
    found
}

#[test]
fn readme_examples_name_only_their_own_crate_and_are_compiled() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (readme, own, lib) in readmes() {
        let text = std::fs::read_to_string(&readme).unwrap();
        let lines = rust_lines(&text);
        if lines.is_empty() {
            continue;
        }
        checked += 1;
        let shown = readme.strip_prefix(root()).unwrap().display().to_string();
        for (hidden, line) in &lines {
            for named in crates_named(line) {
                let allowed = named == own || (*hidden && named == "rosterkit_sandbox");
                if !allowed {
                    problems.push(format!("{shown}: `{named}` in `{line}`"));
                }
            }
        }
        let includes = std::fs::read_to_string(&lib)
            .is_ok_and(|src| src.contains("include_str!(\"../README.md\")"))
            || own == "rosterkit"
                && std::fs::read_to_string(&lib)
                    .is_ok_and(|src| src.contains("include_str!(\"../../../README.md\")"));
        if !includes {
            problems.push(format!(
                "{shown}: not compiled as doc tests by {}",
                lib.display()
            ));
        }
    }
    assert!(
        checked >= 9,
        "only {checked} READMEs with Rust examples found"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_sees_what_it_must() {
    assert_eq!(
        crates_named("use rosterkit_core::{ChatId}; rosterkit::connect(x); my_rosterkit_x"),
        ["rosterkit_core", "rosterkit"]
    );
    let lines = rust_lines("```rust\nuse a;\n# let s = 1;\n#[attr]\n```\n```sh\nrosterkit\n```");
    assert_eq!(
        lines,
        [
            (false, "use a;".to_owned()),
            (true, "# let s = 1;".to_owned()),
            (false, "#[attr]".to_owned())
        ]
    );
}
