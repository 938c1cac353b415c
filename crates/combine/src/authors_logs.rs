//! The paper authors' raw search logs (`<run>.log_file.csv`, described in
//! `reference/authors-logs/SOURCES.md`). This is the one parser of that format in the
//! workspace: `lrdist combine` (lrdist-search) and the authors table and figure
//! (lrdist-analysis) both read the logs with it.
//!
//! A log is a flat comma-separated list of floats without newlines, 13 per trial:
//! a1, a2 (= p_s), a3 (= p_o), then the 10 group learning rates. Trials appear in the
//! order they finished. Several searches may be appended to one file: each search starts
//! with the all-1e-5 trial (docs/METHOD.md "Search": trial 0 uses all rates 1e-5).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::rule::rank_weighted;

/// Values per trial in a log: a1, a2, a3 and 10 rates.
pub const VALUES_PER_TRIAL: usize = 13;

/// The flat rate of the first trial of each of the authors' searches.
pub const FIRST_TRIAL_RATE: f64 = 1e-5;

/// One trial of the authors' search.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorsTrial {
    /// Score of the first task after training on it.
    pub a1: f64,
    /// Score of the second task after training on it (p_s).
    pub a2: f64,
    /// Score of the first task after training on the second (p_o).
    pub a3: f64,
    /// One learning rate per group (the paper's 10 groups, `paper10` in docs/METHOD.md
    /// "Learning-rate groups").
    pub rates: Vec<f64>,
}

impl AuthorsTrial {
    /// p_o + p_s, what the authors' search maximised.
    pub fn objective(&self) -> f64 {
        self.a2 + self.a3
    }

    /// Whether this is a search's first trial: every rate 1e-5.
    pub fn is_first_trial(&self) -> bool {
        self.rates.iter().all(|&r| r == FIRST_TRIAL_RATE)
    }
}

/// Reads one log. A trailing incomplete trial (fewer than 13 values) is dropped.
pub fn read_log(path: &Path) -> Result<Vec<AuthorsTrial>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let values = text
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .enumerate()
        .map(|(i, v)| {
            v.parse::<f64>().with_context(|| {
                format!("{}: value {} is not a number: {v:?}", path.display(), i + 1)
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    Ok(values
        .chunks_exact(VALUES_PER_TRIAL)
        .map(|t| AuthorsTrial {
            a1: t[0],
            a2: t[1],
            a3: t[2],
            rates: t[3..].to_vec(),
        })
        .collect())
}

/// One log: the authors' run for a task pair.
#[derive(Debug, Clone)]
pub struct AuthorsRun {
    /// The run name, first task then second (`sst2mrpc`).
    pub name: String,
    /// The log file.
    pub path: PathBuf,
    /// Every trial in file order.
    pub trials: Vec<AuthorsTrial>,
}

impl AuthorsRun {
    /// The trials of the last search in the log: from its last all-1e-5 trial to the end
    /// (the whole log when it has none). The numbers quoted in the reference notes on the
    /// paper (docs/METHOD.md, "Combination") are
    /// those of this search.
    pub fn last_search(&self) -> &[AuthorsTrial] {
        let start = self
            .trials
            .iter()
            .rposition(AuthorsTrial::is_first_trial)
            .unwrap_or(0);
        &self.trials[start..]
    }

    /// The flat 1e-5 trial that starts the last search, if there is one.
    pub fn flat(&self) -> Option<&AuthorsTrial> {
        self.last_search().first().filter(|t| t.is_first_trial())
    }

    /// The last search's trial with the highest p_o + p_s (the first one on ties).
    pub fn best(&self) -> Option<&AuthorsTrial> {
        let mut best: Option<&AuthorsTrial> = None;
        for trial in self.last_search() {
            if best.is_none_or(|b| trial.objective() > b.objective()) {
                best = Some(trial);
            }
        }
        best
    }

    /// The authors' rank-weighted combination of this run's distributions, over every
    /// trial in the log as they computed it (this reproduces the combined distribution
    /// hard-coded in their training script; see the tests).
    pub fn combination(&self) -> Vec<f64> {
        let scored: Vec<(f64, &[f64])> = self
            .trials
            .iter()
            .map(|t| (t.objective(), t.rates.as_slice()))
            .collect();
        rank_weighted(&scored)
    }
}

/// Reads every `*.log_file.csv` in `dir`, sorted by run name.
pub fn read_runs(dir: &Path) -> Result<Vec<AuthorsRun>> {
    let mut runs = Vec::new();
    for path in log_files(dir)? {
        let file = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = file.trim_end_matches(".log_file.csv").to_string();
        runs.push(AuthorsRun {
            name,
            trials: read_log(&path)?,
            path,
        });
    }
    Ok(runs)
}

fn log_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.to_string_lossy().ends_with(".log_file.csv") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
