//! `specs/conformance.toml` → the conformance tables in README.md (between markers) and the
//! facade's `rosterkit::conformance` docs (`crates/rosterkit/src/conformance.md`).
//!
//! The same file is run cell by cell by `crates/rosterkit-cli/tests/conformance.rs`, so what
//! the docs promise is what the test checks.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
};

use rosterkit_core::ErrorKind;
use serde::Deserialize;

#[path = "../../specs/conformance_cell.rs"]
mod cell;
use cell::Cell;

/// Where the matrix lives, relative to the workspace root.
pub(crate) const SPEC: &str = "specs/conformance.toml";

const README_START: &str = "<!-- codegen:conformance:start -->";
const README_END: &str = "<!-- codegen:conformance:end -->";

/// The outcomes a cell may expect, in legend order.
const OUTCOMES: [&str; 5] = ["applied", "queued", "already_done", "unconfirmed", "failed"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matrix {
    columns: Vec<String>,
    legend: Vec<Legend>,
    provider_note: Vec<ProviderNote>,
    group: Vec<Group>,
    scenario: Vec<Scenario>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Legend {
    outcome: String,
    meaning: String,
    next: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderNote {
    provider: String,
    self_in_roster: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    id: String,
    title: String,
}

/// The keys the test reads (`run`, `target`, ...) are checked there; here only what is shown.
#[derive(Debug, Deserialize)]
struct Scenario {
    id: String,
    group: String,
    title: String,
    expect: Cell,
    #[serde(flatten)]
    rest: BTreeMap<String, toml::Value>,
}

/// Keys of a scenario the test reads and the docs do not show.
const RUN_KEYS: [&str; 5] = ["run", "target", "ensure", "setup", "fault"];

fn load(root: &Path) -> Result<Matrix, String> {
    let path = root.join(SPEC);
    let text = fs::read_to_string(&path).map_err(|e| format!("reading {SPEC}: {e}"))?;
    let matrix: Matrix = toml::from_str(&text).map_err(|e| format!("{SPEC}: {e}"))?;
    check(&matrix)?;
    Ok(matrix)
}

/// Every cell names a known outcome and error kind, a failure names its kind, every column has
/// a note, and every scenario a known group.
fn check(m: &Matrix) -> Result<(), String> {
    for l in &m.legend {
        if !OUTCOMES.contains(&l.outcome.as_str()) {
            return Err(format!(
                "{SPEC}: legend for unknown outcome {:?}",
                l.outcome
            ));
        }
    }
    if m.legend.len() != OUTCOMES.len() {
        return Err(format!(
            "{SPEC}: the legend must explain each of {OUTCOMES:?}"
        ));
    }
    for column in &m.columns {
        if !m.provider_note.iter().any(|n| &n.provider == column) {
            return Err(format!("{SPEC}: no provider_note for column {column:?}"));
        }
    }
    for s in &m.scenario {
        if !m.group.iter().any(|g| g.id == s.group) {
            return Err(format!(
                "{SPEC}: scenario {} names unknown group {:?}",
                s.id, s.group
            ));
        }
        for key in s.rest.keys() {
            if !RUN_KEYS.contains(&key.as_str()) && !m.columns.contains(key) {
                return Err(format!(
                    "{SPEC}: scenario {}: {key:?} is neither a scenario key nor a column",
                    s.id
                ));
            }
        }
        for column in &m.columns {
            let c = cell(s, column)?;
            let outcome = c.outcome.as_deref().unwrap_or_default();
            if !OUTCOMES.contains(&outcome) {
                return Err(format!(
                    "{SPEC}: {} × {column}: unknown outcome {outcome:?}",
                    s.id
                ));
            }
            match (&c.kind, outcome) {
                (Some(kind), "failed") if ErrorKind::from_name(kind).is_none() => {
                    return Err(format!(
                        "{SPEC}: {} × {column}: unknown kind {kind:?}",
                        s.id
                    ));
                }
                (None, "failed") => {
                    return Err(format!(
                        "{SPEC}: {} × {column}: a failure needs a kind",
                        s.id
                    ));
                }
                (Some(kind), o) if o != "failed" => {
                    return Err(format!(
                        "{SPEC}: {} × {column}: kind {kind:?} on a success (clear it with kind = \"\")",
                        s.id
                    ));
                }
                _ => {}
            }
            if c.exit.is_none() || c.requests.is_none() {
                return Err(format!(
                    "{SPEC}: {} × {column}: exit and requests are required",
                    s.id
                ));
            }
        }
    }
    Ok(())
}

fn cell(s: &Scenario, column: &str) -> Result<Cell, String> {
    Cell::of_column(&s.expect, &s.rest, column).map_err(|e| format!("{SPEC}: {} × {e}", s.id))
}

fn escape(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn render_cell(c: &Cell) -> String {
    let mut out = format!("`{}`", c.outcome.as_deref().unwrap_or_default());
    if let Some(kind) = &c.kind {
        let _ = write!(out, " `{kind}`");
    }
    if c.ambiguous == Some(true) {
        out.push_str(" (ambiguous)");
    }
    if let Some(own) = &c.own_line {
        let _ = write!(out, ", own line {own}");
    }
    let requests = c.requests.unwrap_or_default();
    let _ = write!(
        out,
        "<br>exit {}, {requests} request{}",
        c.exit.unwrap_or_default(),
        if requests == 1 { "" } else { "s" }
    );
    if let Some(flags) = c.flags.as_ref().filter(|f| !f.is_empty()) {
        let _ = write!(out, ", `{}`", flags.join(" "));
    }
    if c.why.is_some() {
        out.push_str(" ¹");
    }
    out
}

/// The markdown of the whole matrix: legend, own-line notes, one table per group.
fn render(m: &Matrix, heading: &str) -> Result<String, String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Each cell: the outcome (and error kind), the CLI's exit code and the requests that reach \
         the provider, as `crates/rosterkit-cli/tests/conformance.rs` checks them against the \
         sandbox through the `Membership` API and the `rosterkit` binary. ¹ marks a cell where \
         the provider cannot say more; the note under the table gives the documented answer.\n"
    );
    let _ = writeln!(out, "{heading} What each outcome means\n");
    out.push_str("| outcome | meaning | what to do next |\n|---|---|---|\n");
    for l in &m.legend {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            l.outcome,
            escape(&l.meaning),
            escape(&l.next)
        );
    }
    let _ = writeln!(out, "\n{heading} Our own line in `list`\n");
    out.push_str("| provider | can it be reported? |\n|---|---|\n");
    for column in &m.columns {
        if let Some(n) = m.provider_note.iter().find(|n| &n.provider == column) {
            let _ = writeln!(out, "| {column} | {} |", escape(&n.self_in_roster));
        }
    }
    for g in &m.group {
        let _ = writeln!(out, "\n{heading} {}\n", g.title);
        out.push_str("| scenario |");
        for column in &m.columns {
            let _ = write!(out, " {column} |");
        }
        out.push_str("\n|---|");
        for _ in &m.columns {
            out.push_str("---|");
        }
        out.push('\n');
        let mut notes = String::new();
        for s in m.scenario.iter().filter(|s| s.group == g.id) {
            let _ = write!(out, "| {} |", escape(&s.title));
            // A scenario-wide `why` is said once; a column's own, under its name.
            if let Some(why) = &s.expect.why {
                let _ = writeln!(
                    notes,
                    "- ¹ {}, every provider: {}",
                    escape(&s.title),
                    escape(why)
                );
            }
            for column in &m.columns {
                let c = cell(s, column)?;
                let _ = write!(out, " {} |", render_cell(&c));
                if let Some(why) = c.why.as_ref().filter(|w| Some(*w) != s.expect.why.as_ref()) {
                    let _ = writeln!(notes, "- ¹ {}, {column}: {}", escape(&s.title), escape(why));
                }
            }
            out.push('\n');
        }
        if !notes.is_empty() {
            out.push('\n');
            out.push_str(&notes);
        }
    }
    Ok(out)
}

/// The facade's doc file with its new contents, and the README's part (see [`splice`]).
pub(crate) fn outputs(root: &Path) -> Result<((PathBuf, String), String), String> {
    let matrix = load(root)?;
    let doc = format!(
        "<!-- Generated by `cargo xtask codegen` from `{SPEC}`. Do not edit. -->\n\n\
         # Conformance: the same call means the same thing on every provider\n\n{}",
        render(&matrix, "##")?
    );
    let doc_path = root.join("crates/rosterkit/src/conformance.md");
    Ok(((doc_path, doc), render(&matrix, "###")?))
}

/// Replaces what stands between the README's conformance markers.
pub(crate) fn splice(readme: &str, table: &str) -> Result<String, String> {
    let start = readme
        .find(README_START)
        .ok_or("README.md: no conformance start marker")?;
    let end = readme
        .find(README_END)
        .ok_or("README.md: conformance start marker without end marker")?;
    if end < start {
        return Err("README.md: conformance markers out of order".to_owned());
    }
    let before = readme.get(..start + README_START.len()).unwrap_or_default();
    let after = readme.get(end..).unwrap_or_default();
    Ok(format!(
        "{before}\n<!-- Generated by `cargo xtask codegen` from {SPEC}. Do not edit. -->\n{table}{after}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_complete_and_renders_a_table_per_group() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let m = load(&root).unwrap();
        let text = render(&m, "##").unwrap();
        for g in &m.group {
            assert!(text.contains(&format!("## {}\n", g.title)), "{}", g.title);
        }
        for outcome in OUTCOMES {
            assert!(text.contains(&format!("| `{outcome}` |")), "{outcome}");
        }
    }

    #[test]
    fn a_failure_without_a_kind_is_refused() {
        let mut m: Matrix = toml::from_str(
            r#"
            columns = ["a"]
            legend = []
            provider_note = [{ provider = "a", self_in_roster = "no" }]
            group = [{ id = "g", title = "G" }]
            [[scenario]]
            id = "s"
            group = "g"
            title = "S"
            [scenario.expect]
            outcome = "failed"
            exit = 1
            requests = 1
            "#,
        )
        .unwrap();
        m.legend = OUTCOMES
            .iter()
            .map(|o| Legend {
                outcome: (*o).to_owned(),
                meaning: String::new(),
                next: String::new(),
            })
            .collect();
        assert!(check(&m).unwrap_err().contains("needs a kind"));
    }

    #[test]
    fn splice_replaces_between_markers() {
        let readme = format!("a\n{README_START}\nold\n{README_END}\nb\n");
        let out = splice(&readme, "new\n").unwrap();
        assert!(out.contains("new\n") && !out.contains("old"));
        assert!(out.ends_with(&format!("{README_END}\nb\n")));
    }
}
