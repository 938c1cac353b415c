//! Tables and figures for the paper, regenerated from the files in `results/` (and the
//! authors' raw search logs) alone: this crate never loads a model, so a reviewer can
//! rebuild every number without libtorch.
//!
//! Inputs, all optional (a generator whose inputs are absent fails with [`MissingInput`];
//! [`write_all_tables`] and [`write_all_figures`] skip it with a message):
//! - `results/runs/*.jsonl`: run records of `lrdist-train` ([`runs`]);
//! - `results/search/<study>.csv`: study exports of `lrdist-search` ([`studies`]);
//! - `results/combined/combined.yaml` (+ `combined.json`): the combined distribution
//!   ([`combined`]);
//! - `results/embeddings/<task>.csv`: 2-D projections of [CLS] embeddings;
//! - the authors' raw logs ([`authors_logs`]).
//!
//! Outputs are deterministic: the same inputs give byte-identical Markdown and CSV.

pub mod authors_logs;
pub mod combine;
pub mod combined;
mod figures;
pub mod regime;
pub mod runs;
pub mod stats;
pub mod studies;
mod table;
mod tables;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

pub use runs::load_runs;

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

/// Names accepted by [`write_table`].
pub fn table_names() -> &'static [&'static str] {
    tables::NAMES
}

/// Names accepted by [`write_figure`].
pub fn figure_names() -> &'static [&'static str] {
    figures::NAMES
}

/// Writes table `name` as `<out_dir>/<name>.md` and `<out_dir>/<name>.csv`.
pub fn write_table(name: &str, inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>> {
    if !table_names().contains(&name) {
        bail!(
            "unknown table {name:?}; known: {}",
            table_names().join(", ")
        );
    }
    tables::write(name, inputs, out_dir)
}

/// Writes figure `name` as PNG and SVG files in `out_dir`.
pub fn write_figure(name: &str, inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>> {
    if !figure_names().contains(&name) {
        bail!(
            "unknown figure {name:?}; known: {}",
            figure_names().join(", ")
        );
    }
    figures::write(name, inputs, out_dir)
}

/// Writes every table whose inputs are present; tables without inputs are skipped with a
/// message on stderr. Other errors stop the run.
pub fn write_all_tables(inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>> {
    write_all(table_names(), |name| write_table(name, inputs, out_dir))
}

/// Writes every figure whose inputs are present; figures without inputs are skipped with a
/// message on stderr. Other errors stop the run.
pub fn write_all_figures(inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>> {
    write_all(figure_names(), |name| write_figure(name, inputs, out_dir))
}

/// `path` as footers show it: relative to the parent of `root`, e.g.
/// `results/runs/a.jsonl`, so that output does not depend on where the checkout lives.
pub(crate) fn shown_path(root: &Path, path: &Path) -> String {
    let base = root.file_name().map(PathBuf::from).unwrap_or_default();
    let relative = path.strip_prefix(root).unwrap_or(path);
    base.join(relative).display().to_string()
}

fn write_all(
    names: &[&str],
    mut write: impl FnMut(&str) -> Result<Vec<PathBuf>>,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for name in names {
        match write(name) {
            Ok(paths) => written.extend(paths),
            Err(err) if is_missing_input(&err) => eprintln!("skipped {err}"),
            Err(err) => return Err(err),
        }
    }
    Ok(written)
}
