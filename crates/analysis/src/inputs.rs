//! Where the inputs of the tables and figures live, the error for an absent one, and how
//! footers name an input file.

use std::path::{Path, PathBuf};

/// Where the inputs live.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The results directory (`results/`).
    pub results: PathBuf,
    /// The authors' raw logs (`<run>.log_file.csv` files), if available.
    pub authors_logs: Option<PathBuf>,
}

/// A table or figure whose inputs are absent. Nothing is written in that case.
#[derive(Debug, thiserror::Error)]
#[error("{what}: no input ({missing})")]
pub struct MissingInput {
    /// The table or figure.
    pub what: String,
    /// What was looked for, and where.
    pub missing: String,
}

impl MissingInput {
    pub(crate) fn error(what: &str, missing: impl Into<String>) -> anyhow::Error {
        MissingInput {
            what: what.to_string(),
            missing: missing.into(),
        }
        .into()
    }
}

/// Whether `err` means "inputs absent" (skip) rather than a real failure.
pub fn is_missing_input(err: &anyhow::Error) -> bool {
    err.downcast_ref::<MissingInput>().is_some()
}

/// `path` as footers show it: relative to the parent of `root`, e.g.
/// `results/runs/a.jsonl`, so that output does not depend on where the checkout lives.
pub(crate) fn shown_path(root: &Path, path: &Path) -> String {
    let base = root.file_name().map(PathBuf::from).unwrap_or_default();
    let relative = path.strip_prefix(root).unwrap_or(path);
    base.join(relative).display().to_string()
}
