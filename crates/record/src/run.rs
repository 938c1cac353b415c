//! Run records: one JSON object per run ([`RunRecord`]), appended as one line to a JSONL
//! file under `results/runs/` (and `results/calibration/`, `results/tuning/`). These files
//! are the raw data every table in `paper/` is computed from: `lrdist-train` writes them,
//! `lrdist-analysis` reads them, both through this type.
//!
//! The JSON a record writes is its layout: fields in declaration order, each written as it
//! always was (an optional field added later is left out when unset, so older records keep
//! their shape). Fields older records lack read with a default (`#[serde(default)]`) or
//! under their old name (`#[serde(alias)]`).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::head::HeadKind;
use crate::method::{Intervention, PenaltySpec};
use crate::scale::ScaleSpec;
use crate::stats::{Attribution, ClMetrics, StageStats};
use crate::task::FileTaskRecord;

/// Version of the record layout; bump it when a field changes meaning.
pub const SCHEMA: u32 = 1;

/// The distribution a run used, resolved for the model it ran on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DistributionRecord {
    pub grouping: String,
    /// One rate per group of `grouping`.
    pub rates: Vec<f64>,
    /// One rate per depth (embeddings, layers, heads).
    pub per_depth: Vec<f64>,
    /// Group count of the source distribution when it was depth-transferred.
    pub transferred_from: Option<usize>,
}

/// One run of the protocol.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub id: String,
    pub kind: String,
    pub scenario: String,
    pub method: String,
    pub distribution_spec: String,
    pub distribution: DistributionRecord,
    /// Stage-1 distribution when it differs (search with `--stage2-only`).
    pub stage1_distribution_spec: Option<String>,
    pub penalty: Option<PenaltySpec>,
    pub seed: u64,
    pub scale: String,
    pub scale_spec: ScaleSpec,
    pub config_file: Option<String>,
    pub model: String,
    pub model_dir: String,
    pub device: String,
    pub threads: i32,
    pub git_commit: String,
    pub command: String,
    pub started_at: String,
    pub seconds: f64,
    pub tasks: Vec<String>,
    /// Where each task's dev set came from.
    pub dev_sources: BTreeMap<String, String>,
    pub stages: Vec<StageStats>,
    pub matrix: Vec<Vec<Option<f64>>>,
    pub metrics: Vec<Vec<Option<BTreeMap<String, f64>>>>,
    pub a1: Option<f64>,
    pub p_s: Option<f64>,
    pub p_o: Option<f64>,
    pub forgetting: Option<f64>,
    pub objective: Option<f64>,
    pub cl: Option<ClMetrics>,
    pub stopped_early: bool,
    pub stage1_cached: bool,
    /// Stage B was restored from the cache of an identical stage B (a WiSE-FT run whose
    /// stage B another alpha of the same setting and seed trained; docs/METHOD.md,
    /// "Baselines"): `seconds` then counts the restore and rescoring only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stage2_cached: bool,
    /// Per stage: the primary dev score of always predicting the most frequent label
    /// (`None` for regression), the bar a learned task must clear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub majority: Vec<Option<f64>>,
    /// Where forgetting lives (`run --attribute`): A's dev score per depth put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Attribution>,
    /// The method's change to stage B beyond rates and penalty (WiSE-FT, freezing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervention: Option<Intervention>,
    /// What the task heads read (`--head`); absent for the default `cls` (the raw [CLS]
    /// vector), so records of it keep their shape.
    #[serde(default, skip_serializing_if = "HeadKind::is_cls")]
    pub head: HeadKind,
    /// The run's tasks of your own, in order of first use: each one's spec (files,
    /// columns, kind), the label set read from its train file (class `i` is the `i`-th
    /// name) and the SHA-256 of both files. Absent when every task is a GLUE task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_tasks: Vec<FileTaskRecord>,
}

/// Appends `record` as one line to `path` (created with its folder if needed) and syncs
/// it to disk, so a crash never loses a finished run or leaves half a line.
pub fn append_record(path: &Path, record: &RunRecord) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut line = serde_json::to_string(record)?;
    line.push('\n');
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(line.as_bytes())?;
    f.sync_data()?;
    Ok(())
}

/// Reads every record of a JSONL file (for resuming: which runs are done).
pub fn read_records(path: &Path) -> Result<Vec<RunRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a run record", path.display(), i + 1))
        })
        .collect()
}

/// One line of a record file, read by the schema it states: the record when its `schema`
/// is [`SCHEMA`], `None` when it is another version (a reader skips it), an error when the
/// line is not JSON, has no integer `schema` or does not fit the layout of [`RunRecord`].
pub fn parse_record_line(line: &str) -> Result<Option<RunRecord>> {
    let value: serde_json::Value = serde_json::from_str(line)?;
    match value.get("schema").and_then(|s| s.as_u64()) {
        Some(schema) if schema == u64::from(SCHEMA) => Ok(Some(serde_json::from_value(value)?)),
        Some(_) => Ok(None),
        None => bail!("no integer field \"schema\""),
    }
}
