//! A study: the configuration shared by every worker of one search, stored with it.

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::objective::{ObjectiveKind, SamplerKind};
use crate::space::{AshaConfig, SearchSpace};
use crate::store::Store;

/// Everything that defines a search (docs/METHOD.md "Search"); stored as `config_json` in the
/// `studies` table, so `--resume` and extra workers need only the study's name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StudyConfig {
    pub name: String,
    pub space: SearchSpace,
    pub asha: AshaConfig,
    pub sampler: SamplerKind,
    pub objective: ObjectiveKind,
    /// Trials to run in total (complete, pruned and failed; paper: 50).
    pub n_trials: u64,
    pub seed: u64,
    /// Rates of trial 0 (paper: all 1e-5).
    pub first_trial: Option<Vec<f64>>,
    /// Free-form description stored with the study: scenario, scale, command line.
    pub meta: serde_json::Value,
}

impl StudyConfig {
    /// The paper's number of trials of a study (complete, pruned and failed).
    pub const PAPER_TRIALS: u64 = 50;
    /// The rate of every group in the paper's first trial.
    pub const PAPER_FIRST_RATE: f64 = 1e-5;

    /// The paper's search over `groups` groups and `max_resource` stage-2 epochs: GP,
    /// `p_o + p_s`, 50 trials, first trial all 1e-5.
    pub fn paper(name: &str, groups: usize, max_resource: usize) -> Self {
        Self {
            name: name.to_string(),
            space: SearchSpace::paper(groups),
            asha: AshaConfig::paper(max_resource),
            sampler: SamplerKind::default(),
            objective: ObjectiveKind::default(),
            n_trials: Self::PAPER_TRIALS,
            seed: 0,
            first_trial: Some(vec![Self::PAPER_FIRST_RATE; groups]),
            meta: serde_json::Value::Null,
        }
    }

    /// Checks the space, the schedule, a non-empty name and the first trial's rates.
    pub fn validate(&self) -> Result<()> {
        ensure!(!self.name.is_empty(), "a study needs a name");
        ensure!(
            !self.name.contains('#'),
            "study name {:?} must not contain '#'",
            self.name
        );
        self.space.validate()?;
        self.asha.validate()?;
        if let Some(first) = &self.first_trial {
            self.space.check_rates(first).context("first trial")?;
        }
        Ok(())
    }

    /// Whether `other` describes the same search (everything but `n_trials` and `meta`).
    fn same_search(&self, other: &StudyConfig) -> bool {
        let strip = |c: &StudyConfig| StudyConfig {
            n_trials: 0,
            meta: serde_json::Value::Null,
            ..c.clone()
        };
        strip(self) == strip(other)
    }
}

/// Creates the study in `store`, or, if it exists, checks that it is the same search; its
/// `n_trials` and `meta` are then updated (so `--resume` can extend a study).
pub fn create_study(store: &dyn Store, config: &StudyConfig) -> Result<()> {
    config.validate()?;
    let json = serde_json::to_string(config)?;
    if store.create_study(&config.name, &json)? {
        return Ok(());
    }
    let stored = load_study(store, &config.name)?;
    if !stored.same_search(config) {
        bail!(
            "study {} in {} exists with a different search: stored {}, requested {}",
            config.name,
            store.describe(),
            serde_json::to_string(&stored)?,
            json
        );
    }
    if stored != *config {
        store.update_study_config(&config.name, &json)?;
    }
    Ok(())
}

/// Reads the config of study `name`.
pub fn load_study(store: &dyn Store, name: &str) -> Result<StudyConfig> {
    let Some(json) = store.study_config(name)? else {
        bail!(
            "no study {name:?} in {} (studies there: {:?})",
            store.describe(),
            store.studies()?
        );
    };
    serde_json::from_str(&json)
        .with_context(|| format!("config of study {name} in {}", store.describe()))
}
