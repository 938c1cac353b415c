//! Run records: one JSON object per run, appended as one line to a JSONL file under
//! `results/runs/`. These files are the raw data every table in `paper/` is computed from.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{PenaltySpec, RunRequest, ScaleSpec};
use crate::learner::StageStats;
use crate::protocol::ClMetrics;

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
    /// Per stage: the primary dev score of always predicting the most frequent label
    /// (`None` for regression), the bar a learned task must clear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub majority: Vec<Option<f64>>,
    /// Where forgetting lives (`run --attribute`): A's dev score per depth put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<crate::attribution::Attribution>,
    /// The method's change to stage B beyond rates and penalty (WiSE-FT, freezing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervention: Option<crate::config::Intervention>,
    /// What the task heads read (`--head`); absent for the default `cls` (the raw [CLS]
    /// vector), so records of it keep their shape.
    #[serde(default, skip_serializing_if = "lrdist_model::HeadKind::is_cls")]
    pub head: lrdist_model::HeadKind,
    /// The run's tasks of your own, in order of first use: each one's spec (files,
    /// columns, kind), the label set read from its train file (class `i` is the `i`-th
    /// name) and the SHA-256 of both files. Absent when every task is a GLUE task.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_tasks: Vec<lrdist_data::FileTaskRecord>,
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

/// What a finished record says about a request it might stand for.
#[derive(Clone, Debug, PartialEq)]
pub enum Done {
    /// A record of exactly this run: same scenario, method, seed, scale spec, resolved
    /// rates (both stages), penalty and intervention.
    Same,
    /// A record of the same scenario, method, scale name and seed that ran something else
    /// (the reason says what differs): it does not count.
    Stale(String),
    /// No record of this scenario, method, scale name and seed.
    None,
}

/// Whether `r` is a record of `req` run with per-depth rates `per_depth`.
pub fn compare(r: &RunRecord, req: &RunRequest, per_depth: &[f64]) -> Done {
    if r.scenario != req.scenario.label()
        || r.method != req.method
        || r.scale != req.scale_name
        || r.seed != req.seed
    {
        return Done::None;
    }
    let stage1 = req.stage2_only.then(|| req.stage1_distribution.clone());
    let why = if r.scale_spec != req.scale {
        "its scale spec differs"
    } else if r.distribution.per_depth != per_depth {
        "its rates differ"
    } else if r.stage1_distribution_spec != stage1 {
        "its stage-1 distribution differs"
    } else if r.penalty != req.penalty {
        "its penalty differs"
    } else if r.intervention != req.intervention {
        "its intervention differs"
    } else if r.head != req.head {
        "its head differs"
    } else if r.attribution.is_none() && req.attribute {
        "it has no attribution"
    } else if !same_files(r, req) {
        "its task files differ"
    } else {
        return Done::Same;
    };
    Done::Stale(format!("{} ({})", why, r.id))
}

/// Whether the record `r` read the file tasks of `req` as they are now: the same specs and
/// the same file contents (SHA-256). Always true for GLUE tasks (no files to compare); a
/// file that cannot be read now differs.
fn same_files(r: &RunRecord, req: &RunRequest) -> bool {
    let tasks = req.scenario.file_tasks();
    if tasks.is_empty() {
        return true;
    }
    let Ok(digests) = req.scenario.file_digests() else {
        return false;
    };
    tasks.len() == r.file_tasks.len()
        && tasks.iter().zip(&digests).all(|(task, (_, d))| {
            r.file_tasks.iter().any(|f| {
                f.task == *task && f.train_sha256 == d.train_sha256 && f.dev_sha256 == d.dev_sha256
            })
        })
}

/// Whether `path` already holds a record of `req` (so a batch of runs can resume), or
/// only stale ones, or none.
pub fn find_record(path: &Path, req: &RunRequest, per_depth: &[f64]) -> Result<Done> {
    let mut found = Done::None;
    for r in read_records(path)? {
        match compare(&r, req, per_depth) {
            Done::Same => return Ok(Done::Same),
            stale @ Done::Stale(_) => found = stale,
            Done::None => {}
        }
    }
    Ok(found)
}

/// The record in `path` of exactly `req` (see [`compare`]), if there is one.
pub fn find_same(path: &Path, req: &RunRequest, per_depth: &[f64]) -> Result<Option<RunRecord>> {
    Ok(read_records(path)?
        .into_iter()
        .find(|r| compare(r, req, per_depth) == Done::Same))
}

/// Where a run's record goes by default: `RESULTS/runs/<config stem>.jsonl`, or the
/// scenario's name (`sst2_mrpc.jsonl`) when the run has no config.
pub fn default_record_path(results: &Path, req: &RunRequest) -> std::path::PathBuf {
    let stem = req
        .config_file
        .as_deref()
        .and_then(|c| Path::new(c).file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| req.scenario.label().replace("->", "_").replace(':', "_"));
    results.join("runs").join(format!("{stem}.jsonl"))
}

/// The commit this binary was built from, with `-dirty` when the code it was built from
/// (`crates/`, `build/`, `Cargo.toml`, `Cargo.lock`, `experiments/`) differed from that
/// commit, or `unknown` outside a git checkout. Set at build time by `build.rs`
/// (`build/git_commit.rs`), so a long run records the code it runs even when the checkout
/// moves on under it.
pub fn git_commit() -> String {
    env!("LRDIST_BUILD_COMMIT").to_string()
}

#[cfg(test)]
#[path = "../../../build/git_commit.rs"]
mod build_commit;

/// The command line of this process, quoted for a POSIX shell (`shlex`), so it can be
/// pasted back as is: `$`, `*`, `;`, `&`, quotes and spaces are all quoted.
pub fn command_line() -> String {
    quote_args(std::env::args())
}

/// `args` joined into one POSIX-shell command line.
pub fn quote_args(args: impl IntoIterator<Item = String>) -> String {
    let args: Vec<String> = args.into_iter().collect();
    shlex::try_join(args.iter().map(String::as_str))
        // try_join refuses only NUL bytes, which no argument of a real process holds.
        .unwrap_or_else(|_| args.join(" "))
}

/// The current time as an RFC 3339 UTC timestamp (seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod quoting_tests {
    use super::quote_args;

    #[test]
    fn shell_metacharacters_are_quoted() {
        let args = [
            "lrdist",
            "run",
            "--record",
            "a b.jsonl",
            "$HOME",
            "x*",
            "a;b",
            "c&d",
            "it's",
        ];
        let line = quote_args(args.iter().map(|s| s.to_string()));
        assert_eq!(shlex::split(&line).unwrap(), args);
        for bare in ["$HOME", "x*", "a;b", "c&d"] {
            assert!(
                !line.contains(&format!(" {bare}")),
                "{bare} unquoted in {line}"
            );
        }
        assert_eq!(
            quote_args(["lrdist", "run"].map(String::from)),
            "lrdist run"
        );
    }
}
