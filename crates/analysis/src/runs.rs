//! Run records: `results/runs/*.jsonl`, one JSON object per line, written by
//! `lrdist-train` and read here through the same type, [`lrdist_record::RunRecord`] (the
//! one definition of the format, in `lrdist-record`, which links no libtorch).
//!
//! Records with the same (scenario, method, scale) and different seeds are repetitions.
//! A scale is its name and its settings: records of one scenario and scale name whose
//! `scale_spec` differs ran different scales (the runner treats such a record as stale,
//! not as the same run), so they are told apart by [`Run::scale_label`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lrdist_record::{parse_record_line, ClMetrics, RunRecord};
use polars::prelude::{Column, DataFrame};

use crate::inputs::shown_path;

/// The record schema version this reader understands.
pub use lrdist_record::SCHEMA;

pub use lrdist_record::FLAT;

/// One record and where it was read.
#[derive(Debug, Clone)]
pub struct Run {
    /// The file, shown relative to the results directory's parent (`results/runs/a.jsonl`).
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    pub record: RunRecord,
    /// Set when other records of the same scenario and scale name ran another
    /// `scale_spec`: a short hash of this record's spec (see [`Run::scale_label`]).
    pub scale_variant: Option<String>,
}

impl Run {
    /// The scale as tables show and group it: the scale name (`forget`), or
    /// `forget~1a2b3c4d` when records of this scenario and scale name ran more than one
    /// `scale_spec` (the suffix is the first 8 hex digits of the 64-bit FNV-1a hash of the
    /// spec's JSON), so records of different scales are never paired or averaged together.
    /// The separator is `~`, not `#`: CSV readers given `#` as comment character (pandas
    /// `comment="#"`) cut a line at any `#`.
    pub fn scale_label(&self) -> String {
        match &self.scale_variant {
            Some(variant) => format!("{}~{variant}", self.record.scale),
            None => self.record.scale.clone(),
        }
    }
}

/// All records under `results/runs`, in file then line order.
#[derive(Debug, Clone, Default)]
pub struct RunSet {
    pub runs: Vec<Run>,
    /// Every file read, with the number of records taken from it.
    pub files: Vec<(String, usize)>,
    /// Lines skipped because of another schema version, as messages.
    pub skipped: Vec<String>,
}

impl RunSet {
    /// Keeps the runs `keep` accepts; the per-file counts follow, and files left without a
    /// run are dropped from them.
    pub fn retain(&mut self, mut keep: impl FnMut(&Run) -> bool) {
        self.runs.retain(|run| keep(run));
        let runs = &self.runs;
        self.files = std::mem::take(&mut self.files)
            .into_iter()
            .map(|(file, _)| {
                let n = runs.iter().filter(|r| r.source == file).count();
                (file, n)
            })
            .filter(|(_, n)| *n > 0)
            .collect();
    }

    /// One line naming the records a table came from, for its footer.
    pub fn provenance(&self) -> String {
        let files: Vec<String> = self
            .files
            .iter()
            .map(|(file, n)| format!("{file} ({n})"))
            .collect();
        let commits: BTreeSet<&str> = self
            .runs
            .iter()
            .map(|r| r.record.git_commit.as_str())
            .collect();
        let mut line = format!("{} run records from {}", self.runs.len(), files.join(", "));
        if !commits.is_empty() {
            let commits: Vec<&str> = commits.into_iter().collect();
            line.push_str(&format!("; git commits {}", commits.join(", ")));
        }
        if !self.skipped.is_empty() {
            line.push_str(&format!(
                "; skipped (another schema): {}",
                self.skipped.len()
            ));
        }
        line
    }
}

/// The `*.jsonl` files under `<results>/runs`, sorted by name (empty if the folder is absent).
pub fn run_files(results: &Path) -> Result<Vec<PathBuf>> {
    record_files(results, "runs")
}

/// The `*.jsonl` files under `<results>/<folder>`, sorted by name.
fn record_files(results: &Path, folder: &str) -> Result<Vec<PathBuf>> {
    let dir = results.join(folder);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "jsonl") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every run record under `<results>/runs`. Records of another schema are skipped
/// with a warning on stderr; a malformed line is an error naming file and line; two
/// records for the same (scenario, method, scale, seed) are an error naming both.
pub fn read_runs(results: &Path) -> Result<RunSet> {
    read_records_in(results, "runs")
}

/// Reads every record under `<results>/calibration` (`lrdist calibrate`), as [`read_runs`].
pub fn read_calibration(results: &Path) -> Result<RunSet> {
    read_records_in(results, "calibration")
}

fn read_records_in(results: &Path, folder: &str) -> Result<RunSet> {
    let mut set = RunSet::default();
    for path in record_files(results, folder)? {
        let source = shown_path(results, &path);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let before = set.runs.len();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = format!("{}:{}", path.display(), index + 1);
            match parse_record_line(line)
                .with_context(|| format!("malformed run record at {at}"))?
            {
                Some(record) => set.runs.push(Run {
                    source: source.clone(),
                    line: index + 1,
                    record,
                    scale_variant: None,
                }),
                None => {
                    let message = format!("{at}: schema is not {SCHEMA}, record skipped");
                    eprintln!("warning: {message}");
                    set.skipped.push(message);
                }
            }
        }
        set.files.push((source, set.runs.len() - before));
    }
    mark_scale_variants(&mut set.runs);
    check_unique(&set.runs)?;
    Ok(set)
}

/// The records of `folder` under `results` (e.g. `tuning/forget`), as [`read_runs`].
pub fn read_records_under(results: &Path, folder: &str) -> Result<RunSet> {
    read_records_in(results, folder)
}

/// Sets [`Run::scale_variant`] on every record of a (scenario, scale name) whose records
/// ran more than one `scale_spec`. A spec is compared and hashed as JSON with its keys
/// sorted (a record's spec writes out as it was read, so this is the spec as written).
fn mark_scale_variants(runs: &mut [Run]) {
    let spec = |run: &Run| {
        serde_json::to_value(&run.record.scale_spec)
            .expect("a scale spec is JSON")
            .to_string()
    };
    let mut specs: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for run in runs.iter() {
        specs
            .entry((run.record.scenario.clone(), run.record.scale.clone()))
            .or_default()
            .insert(spec(run));
    }
    for run in runs.iter_mut() {
        let key = (run.record.scenario.clone(), run.record.scale.clone());
        if specs.get(&key).is_some_and(|s| s.len() > 1) {
            let hash = fnv1a(spec(run).as_bytes());
            run.scale_variant = Some(format!("{:08x}", hash >> 32));
        }
    }
}

/// 64-bit FNV-1a.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn check_unique(runs: &[Run]) -> Result<()> {
    let mut seen: BTreeMap<(&str, &str, String, u64), &Run> = BTreeMap::new();
    for run in runs {
        let r = &run.record;
        let key = (
            r.scenario.as_str(),
            r.method.as_str(),
            run.scale_label(),
            r.seed,
        );
        if let Some(first) = seen.insert(key, run) {
            bail!(
                "two run records for scenario {:?}, method {:?}, scale {:?}, seed {}: \
                 {}:{} (id {}) and {}:{} (id {}); remove one",
                r.scenario,
                r.method,
                run.scale_label(),
                r.seed,
                first.source,
                first.line,
                first.record.id,
                run.source,
                run.line,
                r.id
            );
        }
    }
    Ok(())
}

/// All run records under `<results>/runs` as one row per record, flat columns:
/// `source, line, id, kind, scenario, method, distribution_spec, seed, scale, model,
/// git_commit, seconds, a1, p_s, p_o, forgetting, objective, cl_avg_accuracy,
/// cl_backward_transfer, cl_max_drop_forgetting`.
pub fn load_runs(results: &Path) -> Result<DataFrame> {
    to_frame(&read_runs(results)?)
}

/// The records of `set` as a [`DataFrame`] (see [`load_runs`] for the columns).
pub fn to_frame(set: &RunSet) -> Result<DataFrame> {
    let runs = &set.runs;
    let text = |name: &str, get: &dyn Fn(&Run) -> Option<String>| {
        Column::new(name.into(), runs.iter().map(get).collect::<Vec<_>>())
    };
    let number = |name: &str, get: &dyn Fn(&RunRecord) -> Option<f64>| {
        Column::new(
            name.into(),
            runs.iter().map(|r| get(&r.record)).collect::<Vec<_>>(),
        )
    };
    let cl = |get: fn(&ClMetrics) -> f64| move |r: &RunRecord| r.cl.as_ref().map(get);
    let columns = vec![
        text("source", &|r| Some(r.source.clone())),
        Column::new(
            "line".into(),
            runs.iter().map(|r| r.line as i64).collect::<Vec<_>>(),
        ),
        text("id", &|r| Some(r.record.id.clone())),
        text("kind", &|r| Some(r.record.kind.clone())),
        text("scenario", &|r| Some(r.record.scenario.clone())),
        text("method", &|r| Some(r.record.method.clone())),
        text("distribution_spec", &|r| {
            Some(r.record.distribution_spec.clone())
        }),
        Column::new(
            "seed".into(),
            // i64, as the column always was (seeds are small).
            runs.iter()
                .map(|r| r.record.seed as i64)
                .collect::<Vec<_>>(),
        ),
        text("scale", &|r| Some(r.scale_label())),
        text("model", &|r| Some(r.record.model.clone())),
        text("git_commit", &|r| Some(r.record.git_commit.clone())),
        number("seconds", &|r| Some(r.seconds)),
        number("a1", &|r| r.a1),
        number("p_s", &|r| r.p_s),
        number("p_o", &|r| r.p_o),
        number("forgetting", &|r| r.forgetting),
        number("objective", &|r| r.objective),
        number("cl_avg_accuracy", &cl(|c| c.avg_accuracy)),
        number("cl_backward_transfer", &cl(|c| c.backward_transfer)),
        number("cl_max_drop_forgetting", &cl(|c| c.max_drop_forgetting)),
    ];
    DataFrame::new(runs.len(), columns).context("building the run-record table")
}
