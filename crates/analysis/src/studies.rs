//! Study exports: `results/search/<study>.csv`, written by `lrdist-search`, one row per
//! trial with columns `study, trial, state, resource, a1, p_s, p_o, objective, seconds,
//! worker, started_at, finished_at, reason, lr_g0, lr_g1, ...`. `objective` is p_o + p_s
//! at the highest rung the trial reached (docs/METHOD.md "Search"). A row is read as the
//! writer writes it, [`lrdist_record::StudyTrial`] (the one definition, in
//! `lrdist-record`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
pub use lrdist_record::StudyTrial;

use crate::inputs::shown_path;

/// One exported study.
#[derive(Debug, Clone)]
pub struct Study {
    /// The file stem, e.g. `sst2_mrpc`.
    pub name: String,
    /// The file, as footers show it (`results/search/sst2_mrpc.csv`).
    pub source: String,
    /// Trials sorted by trial number.
    pub trials: Vec<StudyTrial>,
}

impl Study {
    /// The complete trial with the highest objective (the lowest trial number on ties).
    pub fn best(&self) -> Option<&StudyTrial> {
        let mut best: Option<&StudyTrial> = None;
        for trial in self.trials.iter().filter(|t| t.is_complete()) {
            let Some(objective) = trial.objective else {
                continue;
            };
            if best.and_then(|b| b.objective).is_none_or(|b| objective > b) {
                best = Some(trial);
            }
        }
        best
    }

    /// The flat baseline of the study: its lowest-numbered complete trial with all group
    /// rates equal (the search starts from a flat distribution, docs/METHOD.md "Search").
    pub fn flat(&self) -> Option<&StudyTrial> {
        self.trials
            .iter()
            .find(|t| t.is_complete() && t.is_flat() && t.objective.is_some())
    }

    /// The study name reduced to lower-case letters and digits (`sst2_mrpc` → `sst2mrpc`),
    /// the form of the authors' run names.
    pub fn pair_key(&self) -> String {
        pair_key(&self.name)
    }
}

/// `name` reduced to lower-case letters and digits (`SST2->MRPC` → `sst2mrpc`).
pub fn pair_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Where a scale's studies live under `results/search`: the quick and cpu searches in the
/// folder itself (`results/search/<study>.csv`), the forget scale's in a folder of its own
/// (`results/search/forget/<setting>.sqlite` with the export `<setting>.csv` beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchDir {
    /// `results/search`.
    Top,
    /// `results/search/forget`.
    Forget,
}

impl SearchDir {
    /// The folder under `results`.
    pub fn path(self, results: &Path) -> PathBuf {
        match self {
            SearchDir::Top => results.join("search"),
            SearchDir::Forget => results.join("search").join("forget"),
        }
    }

    /// The folder of scale `scale` (a scale name, e.g. `forget`, `quick`, or a scale label
    /// such as `forget~1a2b3c4d`).
    pub fn of_scale(scale: &str) -> Self {
        if scale.split('~').next() == Some("forget") {
            SearchDir::Forget
        } else {
            SearchDir::Top
        }
    }
}

/// The files ending in `.<ext>` directly under `dir`, sorted by name (empty if absent).
fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The `*.csv` files under `<results>/search`, sorted by name (empty if absent).
pub fn study_files(results: &Path) -> Result<Vec<PathBuf>> {
    files_with(&SearchDir::Top.path(results), "csv")
}

/// Reads every study export under `<results>/search`, sorted by file name.
pub fn read_studies(results: &Path) -> Result<Vec<Study>> {
    read_studies_in(results, SearchDir::Top)
}

/// Reads every study export (`*.csv`) of `dir`, sorted by file name.
pub fn read_studies_in(results: &Path, dir: SearchDir) -> Result<Vec<Study>> {
    files_with(&dir.path(results), "csv")?
        .iter()
        .map(|path| {
            let mut study = read_study(path)?;
            study.source = shown_path(results, path);
            Ok(study)
        })
        .collect()
}

/// The studies of `dir` by name: the stems of its exports (`*.csv`) and of its SQLite
/// stores (`*.sqlite`), so a study counts as searched before it is exported.
pub fn study_names_in(
    results: &Path,
    dir: SearchDir,
) -> Result<std::collections::BTreeSet<String>> {
    let dir = dir.path(results);
    let mut names = std::collections::BTreeSet::new();
    for ext in ["csv", "sqlite"] {
        for path in files_with(&dir, ext)? {
            if let Some(stem) = path.file_stem() {
                names.insert(stem.to_string_lossy().into_owned());
            }
        }
    }
    Ok(names)
}

/// Reads one study export; errors name the file and line.
pub fn read_study(path: &Path) -> Result<Study> {
    let mut trials = lrdist_record::read_trials_csv(path)?;
    trials.sort_by_key(|t| t.trial);
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Study {
        name,
        source: path.display().to_string(),
        trials,
    })
}
