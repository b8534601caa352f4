//! One cell of `specs/conformance.toml`, and how a provider's table overrides a scenario's
//! `expect`. Shared by the code that renders the matrix (`xtask/src/conformance.rs`) and the
//! test that runs it (`crates/rosterkit-cli/tests/conformance.rs`), both through `#[path]`, so
//! the docs and the test can never read a cell differently.

use std::collections::BTreeMap;

use serde::Deserialize;

/// One expectation; a provider's table overrides the scenario's `expect` field by field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Cell {
    pub(crate) outcome: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) exit: Option<i32>,
    pub(crate) requests: Option<usize>,
    pub(crate) effects: Option<usize>,
    pub(crate) flags: Option<Vec<String>>,
    /// Whether an error is marked ambiguous (the change may have happened).
    pub(crate) ambiguous: Option<bool>,
    /// `list`: whether our own line is `marked` in the roster or left `unmarked`.
    pub(crate) own_line: Option<String>,
    pub(crate) why: Option<String>,
    pub(crate) source: Option<String>,
}

impl Cell {
    /// `over`'s fields where it has them, else this cell's; `kind = ""` in `over` clears the
    /// kind (a success for that provider).
    pub(crate) fn merged(&self, over: &Cell) -> Cell {
        Cell {
            outcome: over.outcome.clone().or_else(|| self.outcome.clone()),
            kind: over
                .kind
                .clone()
                .or_else(|| self.kind.clone())
                .filter(|k| !k.is_empty()),
            exit: over.exit.or(self.exit),
            requests: over.requests.or(self.requests),
            effects: over.effects.or(self.effects),
            flags: over.flags.clone().or_else(|| self.flags.clone()),
            ambiguous: over.ambiguous.or(self.ambiguous),
            own_line: over.own_line.clone().or_else(|| self.own_line.clone()),
            why: over.why.clone().or_else(|| self.why.clone()),
            source: over.source.clone().or_else(|| self.source.clone()),
        }
    }

    /// The cell of `column`: `expect` overridden by the scenario's `[scenario.<column>]` table
    /// (in `rest`), if it has one.
    ///
    /// # Errors
    /// The table does not parse as a cell.
    pub(crate) fn of_column(
        expect: &Cell,
        rest: &BTreeMap<String, toml::Value>,
        column: &str,
    ) -> Result<Cell, String> {
        let over: Cell = match rest.get(column) {
            Some(v) => v.clone().try_into().map_err(|e| format!("{column}: {e}"))?,
            None => Cell::default(),
        };
        Ok(expect.merged(&over))
    }
}
