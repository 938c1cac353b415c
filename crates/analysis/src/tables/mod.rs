//! The tables: each reads its inputs, builds a [`Table`](crate::table::Table) and writes it.

mod authors;
pub(crate) mod forget;
mod methods;
pub(crate) mod regime;
mod search;
mod tuning;
mod unseen;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::inputs::Inputs;

pub(crate) use authors::{comparisons, Comparison};

pub(crate) const NAMES: &[&str] = &[
    "main",
    "cl",
    "unseen",
    "search",
    "authors",
    "calibration",
    "regime",
    "attribution",
    "forget",
    "forget-summary",
    "frontier",
    "sequence",
    "tuning",
    "search-forget",
];

pub(crate) fn write(name: &str, inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let table = match name {
        "main" => methods::main_table(&inputs.results),
        "cl" => methods::cl_table(&inputs.results),
        "unseen" => unseen::unseen_table(&inputs.results),
        "search" => search::search_table(&inputs.results),
        "authors" => authors::authors_table(inputs),
        "calibration" => regime::calibration_table(&inputs.results),
        "regime" => regime::regime_table(&inputs.results),
        "attribution" => regime::attribution_table(&inputs.results),
        "forget" => forget::forget_table(&inputs.results),
        "forget-summary" => forget::summary_table(&inputs.results),
        "frontier" => forget::frontier_table(&inputs.results),
        "sequence" => forget::sequence_table(&inputs.results),
        "tuning" => tuning::tuning_table(&inputs.results),
        "search-forget" => search::search_forget_table(&inputs.results),
        _ => unreachable!("names are checked by the caller"),
    }?;
    table
        .write(out_dir, name)
        .with_context(|| format!("writing table {name}"))
}
