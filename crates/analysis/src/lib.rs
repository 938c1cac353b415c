//! Tables and figures for the paper, regenerated from the files in `results/` (and the
//! authors' raw search logs) alone: this crate never loads a model, so a reviewer can
//! rebuild every number without libtorch.
//!
//! Inputs, all optional (a generator whose inputs are absent fails with [`MissingInput`];
//! [`write_all_tables`] and [`write_all_figures`] skip it with a message):
//! - `results/runs/*.jsonl`: run records of `lrdist-train` ([`runs`]);
//! - `results/search/<study>.csv`: study exports of `lrdist-search` ([`studies`]), and the
//!   forget scale's in `results/search/forget/<setting>.csv` (beside their `.sqlite` stores);
//! - `results/combined/combined.yaml` (+ `combined.json`): the combined distribution
//!   ([`combined`]), and the forget scale's `results/combined/forget.yaml`;
//! - `results/tuning/forget/<setting>.jsonl` (+ `results/tuning/forget.yaml`): the
//!   baselines' tuning runs at the forget scale and `lrdist tune`'s choice;
//! - `results/embeddings/<task>.csv`: 2-D projections of [CLS] embeddings;
//! - the authors' raw logs (read with `lrdist_combine::authors_logs`).
//!
//! Outputs are deterministic: the same inputs give byte-identical Markdown and CSV.

pub mod combined;
mod figures;
pub mod inputs;
pub mod measures;
pub mod regime;
pub mod runs;
pub mod stats;
pub mod studies;
mod table;
mod tables;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

pub use inputs::{is_missing_input, Inputs, MissingInput};

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
