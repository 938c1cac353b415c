//! The combined distribution written by `lrdist-search`: `results/combined/combined.yaml`
//! (`{name, grouping, source_layers, rates}`) and, optionally, `combined.json` with the
//! per-study vectors it was combined from (`{rates, per_input: [[csv, rates], ...], method}`).

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

/// The combined distribution and what it came from.
#[derive(Debug, Clone, Deserialize)]
pub struct Combined {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub grouping: Option<String>,
    #[serde(default)]
    pub source_layers: Option<u32>,
    pub rates: Vec<f64>,
    /// Per-study vectors from `combined.json`, `(study export, rates)`.
    #[serde(skip)]
    pub per_input: Vec<(String, Vec<f64>)>,
    /// The combination method named in `combined.json`.
    #[serde(skip)]
    pub method: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Details {
    #[serde(default)]
    per_input: Vec<(String, Vec<f64>)>,
    #[serde(default)]
    method: Option<String>,
}

/// The stem of the quick scale's combination, `results/combined/combined.yaml`.
pub const COMBINED: &str = "combined";
/// The stem of the forget scale's combination, `results/combined/forget.yaml`, combined
/// from the studies in `results/search/forget`.
pub const FORGET_COMBINED: &str = "forget";

/// The path of the combined distribution under `results`.
pub fn yaml_path(results: &Path) -> std::path::PathBuf {
    yaml_path_of(results, COMBINED)
}

/// The path of combination `stem` under `results`: `results/combined/<stem>.yaml`.
pub fn yaml_path_of(results: &Path, stem: &str) -> std::path::PathBuf {
    results.join("combined").join(format!("{stem}.yaml"))
}

/// Reads `combined.yaml`, and `combined.json` beside it when present; `None` when the
/// YAML file is absent.
pub fn read_combined(results: &Path) -> Result<Option<Combined>> {
    read_combined_of(results, COMBINED)
}

/// Reads `results/combined/<stem>.yaml`, and `<stem>.json` beside it when present; `None`
/// when the YAML file is absent.
pub fn read_combined_of(results: &Path, stem: &str) -> Result<Option<Combined>> {
    let yaml = yaml_path_of(results, stem);
    if !yaml.is_file() {
        return Ok(None);
    }
    let text = fs::read_to_string(&yaml).with_context(|| format!("reading {}", yaml.display()))?;
    let mut combined: Combined =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", yaml.display()))?;
    let json = yaml.with_extension("json");
    if json.is_file() {
        let text =
            fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?;
        let details: Details =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", json.display()))?;
        combined.per_input = details.per_input;
        combined.method = details.method;
    }
    Ok(Some(combined))
}
