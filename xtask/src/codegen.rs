//! `cargo xtask codegen`: `specs/<provider>.toml` → `crates/rosterkit-<provider>/src/generated/`.
//!
//! Each spec lists a provider's operations and its error codes per route. The generated module
//! gives the adapter a `Route` enum and an `error_entry(route, code)` lookup compiled to a
//! `match`, so mapping a reply costs no allocation and no table scan.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use rosterkit_core::ErrorKind;
use serde::Deserialize;

/// Write the files, or only check that they are up to date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Write,
    Check,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    provider: String,
    doc: Option<String>,
    #[serde(rename = "operation", default)]
    operations: Vec<Operation>,
    #[serde(rename = "error", default)]
    errors: Vec<ErrorRow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Operation {
    name: String,
    method: String,
    path: String,
    success: u16,
    idempotent: bool,
    summary: String,
    /// Which `Membership` capability this operation provides: `remove`, `add`, `leave` or
    /// `list` (feeds the README's capability table).
    #[serde(default)]
    capability: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

/// The rows of the README capability table, in order.
const CAPABILITIES: [(&str, &str); 4] = [
    ("remove", "remove participant"),
    ("leave", "leave group"),
    ("add", "add participant"),
    ("list", "list participants"),
];

/// Markers around the generated table in README.md.
const README_START: &str = "<!-- codegen:capabilities:start -->";
const README_END: &str = "<!-- codegen:capabilities:end -->";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorRow {
    code: String,
    status: u16,
    kind: String,
    retryable: bool,
    #[serde(default)]
    ambiguous: bool,
    routes: Option<Vec<String>>,
    meaning: String,
    #[serde(default)]
    source: Option<String>,
}

/// Generates (or checks) every provider's module and error table, and the README's capability
/// table. Returns a report of what was done.
pub(crate) fn generate(root: &Path, mode: Mode) -> Result<String, String> {
    let mut outputs: Vec<(PathBuf, String)> = Vec::new();
    let mut specs = Vec::new();
    for spec_path in spec_files(root)? {
        let text = fs::read_to_string(&spec_path)
            .map_err(|e| format!("reading {}: {e}", spec_path.display()))?;
        let spec: Spec =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", spec_path.display()))?;
        let spec_name = spec_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let crate_dir = root
            .join("crates")
            .join(format!("rosterkit-{}", spec.provider));
        if !crate_dir.is_dir() {
            return Err(format!(
                "specs/{spec_name} names provider {:?} but {} does not exist",
                spec.provider,
                crate_dir.display()
            ));
        }
        let generated = crate_dir.join("src/generated");
        outputs.push((
            generated.join("mod.rs"),
            format_rust(&render(&spec, &spec_name)?)?,
        ));
        outputs.push((
            generated.join("errors.md"),
            render_error_table(&spec, &spec_name),
        ));
        specs.push(spec);
    }
    let readme_path = root.join("README.md");
    if let Ok(readme) = fs::read_to_string(&readme_path)
        && readme.contains(README_START)
    {
        outputs.push((
            readme_path.clone(),
            splice_readme(&readme, &render_capabilities(&specs)?)?,
        ));
    }

    let (doc, table) = crate::conformance::outputs(root)?;
    outputs.push(doc);
    match outputs.iter_mut().find(|(path, _)| *path == readme_path) {
        Some((_, text)) => *text = crate::conformance::splice(text, &table)?,
        None => {
            let text =
                fs::read_to_string(&readme_path).map_err(|e| format!("reading README.md: {e}"))?;
            outputs.push((readme_path, crate::conformance::splice(&text, &table)?));
        }
    }

    let mut report = String::new();
    let mut stale = Vec::new();
    for (target, content) in outputs {
        let current = fs::read_to_string(&target).unwrap_or_default();
        let rel = target
            .strip_prefix(root)
            .unwrap_or(&target)
            .display()
            .to_string();
        if current == content {
            let _ = writeln!(report, "fresh: {rel}");
            continue;
        }
        match mode {
            Mode::Check => stale.push(rel),
            Mode::Write => {
                if let Some(dir) = target.parent() {
                    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                fs::write(&target, content).map_err(|e| format!("{rel}: {e}"))?;
                let _ = writeln!(report, "wrote: {rel}");
            }
        }
    }
    if stale.is_empty() {
        Ok(report)
    } else {
        Err(format!(
            "generated code is stale or was edited by hand: {}\nhint: run `cargo xtask codegen` and commit the result",
            stale.join(", ")
        ))
    }
}

/// The markdown error table included in the provider crate's docs.
fn render_error_table(spec: &Spec, spec_name: &str) -> String {
    let mut out = format!(
        "<!-- Generated by `cargo xtask codegen` from `specs/{spec_name}`. Do not edit. -->\n\n\
         | code | HTTP | kind | retried | routes | meaning |\n|---|---|---|---|---|---|\n"
    );
    for row in &spec.errors {
        let routes = row
            .routes
            .as_ref()
            .map_or_else(|| "all".to_owned(), |r| r.join(", "));
        let retried = match (row.retryable, row.ambiguous) {
            (true, true) => "yes (ensure mode only)",
            (true, false) => "yes",
            (false, _) => "no",
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {retried} | {routes} | {} |",
            row.code,
            row.status,
            row.kind,
            row.meaning.replace('|', "\\|")
        );
    }
    out
}

/// The README's operations × providers table.
fn render_capabilities(specs: &[Spec]) -> Result<String, String> {
    let mut out = String::from("| operation |");
    for spec in specs {
        let _ = write!(out, " {} |", spec.provider);
    }
    out.push_str("\n|---|");
    for _ in specs {
        out.push_str("---|");
    }
    out.push('\n');
    for spec in specs {
        for op in &spec.operations {
            if let Some(cap) = &op.capability
                && !CAPABILITIES.iter().any(|(name, _)| name == cap)
            {
                return Err(format!(
                    "specs/{}.toml: operation {:?} has unknown capability {cap:?} (remove, add, leave, list)",
                    spec.provider, op.name
                ));
            }
        }
    }
    for (cap, label) in CAPABILITIES {
        let _ = write!(out, "| {label} |");
        for spec in specs {
            let cells: Vec<String> = spec
                .operations
                .iter()
                .filter(|op| op.capability.as_deref() == Some(cap))
                .map(|op| format!("`{} {}`", op.method, op.path))
                .collect();
            let cell = if cells.is_empty() {
                "—".to_owned()
            } else {
                cells.join("<br>")
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    Ok(out)
}

/// Replaces what stands between the README markers.
fn splice_readme(readme: &str, table: &str) -> Result<String, String> {
    let start = readme
        .find(README_START)
        .ok_or("README.md: no start marker")?;
    let end = readme
        .find(README_END)
        .ok_or("README.md: start marker without end marker")?;
    if end < start {
        return Err("README.md: capability markers out of order".to_owned());
    }
    let before = readme.get(..start + README_START.len()).unwrap_or_default();
    let after = readme.get(end..).unwrap_or_default();
    Ok(format!(
        "{before}\n<!-- Generated by `cargo xtask codegen` from specs/*.toml. Do not edit. -->\n{table}{after}"
    ))
}

fn spec_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = root.join("specs");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "toml"))
        .filter(|p| !p.ends_with(crate::conformance::SPEC))
        .collect();
    files.sort();
    Ok(files)
}

/// `remove_participant` → `RemoveParticipant`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn render(spec: &Spec, spec_name: &str) -> Result<String, String> {
    let provider = &spec.provider;
    if spec.operations.is_empty() {
        return Err(format!("specs/{spec_name}: no [[operation]]"));
    }
    let mut names = BTreeSet::new();
    for op in &spec.operations {
        if !names.insert(op.name.as_str()) {
            return Err(format!("specs/{spec_name}: operation {:?} twice", op.name));
        }
        if !op.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!(
                "specs/{spec_name}: operation name {:?} is not snake_case",
                op.name
            ));
        }
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "//! Generated by `cargo xtask codegen` from `specs/{spec_name}`. Do not edit by hand:\n\
         //! change the spec and run `cargo xtask codegen`.\n"
    );
    if let Some(doc) = &spec.doc {
        let _ = writeln!(out, "//!\n//! Provider error reference: <{doc}>");
    }
    out.push_str("#![allow(dead_code)]\n\nuse rosterkit_core::{CodeEntry, ErrorKind};\n\n");
    let _ = writeln!(
        out,
        "/// The provider's name.\npub(crate) const PROVIDER: &str = {provider:?};\n"
    );

    const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];
    if let Some(op) = spec
        .operations
        .iter()
        .find(|op| !METHODS.contains(&op.method.as_str()))
    {
        return Err(format!(
            "specs/{spec_name}: operation {:?} has method {:?} (one of: {})",
            op.name,
            op.method,
            METHODS.join(", ")
        ));
    }
    out.push_str("/// The provider's documented operations.\n");
    out.push_str("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]\npub(crate) enum Route {\n");
    for op in &spec.operations {
        let _ = writeln!(out, "/// `{} {}`: {}", op.method, op.path, op.summary);
        if let Some(source) = &op.source {
            let _ = writeln!(out, "///\n/// Source: {source}");
        }
        let _ = writeln!(out, "{},", camel(&op.name));
    }
    out.push_str("}\n\nimpl Route {\n/// Every route, in spec order.\npub(crate) const ALL: &'static [Route] = &[");
    for op in &spec.operations {
        let _ = write!(out, "Self::{},", camel(&op.name));
    }
    out.push_str("];\n\n");
    type Accessor = (
        &'static str,
        &'static str,
        &'static str,
        fn(&Operation) -> String,
    );
    let accessors: [Accessor; 5] = [
        (
            "name",
            "&'static str",
            "The operation's snake_case name.",
            |o| format!("{:?}", o.name),
        ),
        (
            "method",
            "rosterkit_core::http::Method",
            "The HTTP method.",
            |o| format!("rosterkit_core::http::Method::{}", o.method),
        ),
        (
            "path",
            "&'static str",
            "The path template, relative to the base URL.",
            |o| format!("{:?}", o.path),
        ),
        ("success", "u16", "The documented success status.", |o| {
            o.success.to_string()
        }),
        (
            "idempotent",
            "bool",
            "Whether the provider documents the operation as idempotent.",
            |o| o.idempotent.to_string(),
        ),
    ];
    for (name, ty, doc, value) in accessors {
        let _ = writeln!(
            out,
            "/// {doc}\npub(crate) const fn {name}(self) -> {ty} {{ match self {{"
        );
        for op in &spec.operations {
            let _ = writeln!(out, "Self::{} => {},", camel(&op.name), value(op));
        }
        out.push_str("} }\n\n");
    }
    out.push_str("}\n\n");
    out.push_str(
        "/// Core's view of a route: what operations take their provider, name, method, path and\n\
         /// idempotency from.\n\
         impl rosterkit_core::Route for Route {\n\
         fn provider(self) -> &'static str { PROVIDER }\n\
         fn name(self) -> &'static str { Route::name(self) }\n\
         fn method(self) -> rosterkit_core::http::Method { Route::method(self) }\n\
         fn path(self) -> &'static str { Route::path(self) }\n\
         fn idempotent(self) -> bool { Route::idempotent(self) }\n\
         }\n\n",
    );

    out.push_str("/// Every documented error code, in spec order.\npub(crate) static ERRORS: &[CodeEntry] = &[\n");
    let mut specific: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut general: BTreeMap<&str, usize> = BTreeMap::new();
    let mut arms_specific = String::new();
    let mut arms_general = String::new();
    for (index, row) in spec.errors.iter().enumerate() {
        let kind = ErrorKind::from_name(&row.kind).ok_or_else(|| {
            format!(
                "specs/{spec_name}: error {:?} has unknown kind {:?} (one of: {})",
                row.code,
                row.kind,
                ErrorKind::ALL.map(ErrorKind::as_str).join(", ")
            )
        })?;
        let _ = writeln!(
            out,
            "CodeEntry::new({:?}, {}, ErrorKind::{kind:?}, {:?}){}{},",
            row.code,
            row.status,
            row.meaning,
            if row.retryable { ".retryable()" } else { "" },
            if row.ambiguous { ".ambiguous()" } else { "" },
        );
        let _ = &row.source;
        match &row.routes {
            None => {
                if general.insert(&row.code, index).is_some() {
                    return Err(format!(
                        "specs/{spec_name}: general error {:?} twice",
                        row.code
                    ));
                }
                let _ = writeln!(arms_general, "(_, {:?}) => {index},", row.code);
            }
            Some(routes) => {
                if routes.is_empty() {
                    return Err(format!(
                        "specs/{spec_name}: error {:?} has an empty routes list",
                        row.code
                    ));
                }
                let mut pattern = Vec::new();
                for route in routes {
                    if !names.contains(route.as_str()) {
                        return Err(format!(
                            "specs/{spec_name}: error {:?} names unknown route {route:?}",
                            row.code
                        ));
                    }
                    if specific.insert((route, &row.code), index).is_some() {
                        return Err(format!(
                            "specs/{spec_name}: error {:?} twice for route {route:?}",
                            row.code
                        ));
                    }
                    pattern.push(format!("Route::{}", camel(route)));
                }
                let _ = writeln!(
                    arms_specific,
                    "({}, {:?}) => {index},",
                    pattern.join(" | "),
                    row.code
                );
            }
        }
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// The row for `code` on `route`: a route-specific row first, then one that applies to\n\
         /// every route.\n\
         pub(crate) fn error_entry(route: Route, code: &str) -> Option<&'static CodeEntry> {\n",
    );
    if spec.errors.is_empty() {
        out.push_str("let _ = (route, code);\nNone\n}\n");
    } else {
        let _ = write!(
            out,
            "let index = match (route, code) {{\n{arms_specific}{arms_general}_ => return None,\n}};\nERRORS.get(index)\n}}\n"
        );
    }
    Ok(out)
}

/// Formats generated code with rustfmt so it passes `cargo fmt --check` as written.
fn format_rust(source: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running rustfmt (rustup component add rustfmt): {e}"))?;
    child
        .stdin
        .take()
        .ok_or("rustfmt: no stdin")?
        .write_all(source.as_bytes())
        .map_err(|e| format!("rustfmt stdin: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt rejected the generated code:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` fails when a generated file is stale or edited by hand.
    #[test]
    fn codegen_is_fresh() {
        if let Err(message) = generate(&crate::workspace_root(), Mode::Check) {
            panic!("{message}");
        }
    }

    #[test]
    fn renders_routes_and_lookup() {
        let spec: Spec = toml::from_str(
            r#"
            provider = "demo"
            [[operation]]
            name = "remove_participant"
            method = "DELETE"
            path = "/chats/{id}/participants/{address}"
            success = 200
            idempotent = false
            summary = "Remove."
            [[operation]]
            name = "leave"
            method = "POST"
            path = "/chats/{id}/leave"
            success = 200
            idempotent = false
            summary = "Leave."
            [[error]]
            code = "4099"
            status = 422
            kind = "provider_misconfigured"
            retryable = false
            routes = ["remove_participant"]
            meaning = "no chat key"
            [[error]]
            code = "4099"
            status = 501
            kind = "provider_misconfigured"
            retryable = false
            routes = ["leave"]
            meaning = "no chat key"
            [[error]]
            code = "2004"
            status = 401
            kind = "unauthorized"
            retryable = false
            meaning = "bad signature"
            "#,
        )
        .unwrap();
        let code = render(&spec, "demo.toml").unwrap();
        assert!(code.contains("RemoveParticipant"), "{code}");
        assert!(
            code.contains(r#"(Route::RemoveParticipant, "4099") => 0,"#),
            "{code}"
        );
        assert!(code.contains(r#"(Route::Leave, "4099") => 1,"#), "{code}");
        assert!(code.contains(r#"(_, "2004") => 2,"#), "{code}");
        assert!(code.contains("ErrorKind::ProviderMisconfigured"), "{code}");
        assert!(format_rust(&code).is_ok());
    }

    #[test]
    fn capability_table_and_readme_splice() {
        let spec: Spec = toml::from_str(
            r#"
            provider = "demo"
            [[operation]]
            name = "leave"
            method = "POST"
            path = "/chats/{id}/leave"
            success = 200
            idempotent = false
            summary = "Leave."
            capability = "leave"
            [[error]]
            code = "7"
            status = 400
            kind = "not_a_group"
            retryable = false
            meaning = "a | pipe"
            "#,
        )
        .unwrap();
        let table = render_capabilities(std::slice::from_ref(&spec)).unwrap();
        assert!(
            table.contains("| leave group | `POST /chats/{id}/leave` |"),
            "{table}"
        );
        assert!(table.contains("| remove participant | — |"), "{table}");
        let readme = format!("intro\n{README_START}\nold\n{README_END}\nrest\n");
        let spliced = splice_readme(&readme, &table).unwrap();
        assert!(spliced.starts_with("intro\n"));
        assert!(spliced.ends_with(&format!("{README_END}\nrest\n")));
        assert!(!spliced.contains("old"));
        assert_eq!(
            splice_readme(&spliced, &table).unwrap(),
            spliced,
            "idempotent"
        );
        let errors = render_error_table(&spec, "demo.toml");
        assert!(
            errors.contains("| `7` | 400 | `not_a_group` | no | all | a \\| pipe |"),
            "{errors}"
        );
    }

    #[test]
    fn rejects_unknown_kinds_routes_and_duplicates() {
        let base = r#"
            provider = "demo"
            [[operation]]
            name = "leave"
            method = "POST"
            path = "/leave"
            success = 200
            idempotent = false
            summary = "Leave."
        "#;
        let bad = [
            (
                r#"[[error]]
            code = "1"
            status = 400
            kind = "oops"
            retryable = false
            meaning = "x""#,
                "unknown kind",
            ),
            (
                r#"[[error]]
            code = "1"
            status = 400
            kind = "conflict"
            retryable = false
            routes = ["nope"]
            meaning = "x""#,
                "unknown route",
            ),
            (
                r#"[[error]]
            code = "1"
            status = 400
            kind = "conflict"
            retryable = false
            meaning = "x"
            [[error]]
            code = "1"
            status = 409
            kind = "conflict"
            retryable = false
            meaning = "y""#,
                "twice",
            ),
        ];
        for (rows, expected) in bad {
            let spec: Spec = toml::from_str(&format!("{base}\n{rows}")).unwrap();
            let err = render(&spec, "demo.toml").unwrap_err();
            assert!(err.contains(expected), "{err}");
        }
        assert!(toml::from_str::<Spec>(&format!("{base}\nsurprise = 1")).is_err());
    }
}
