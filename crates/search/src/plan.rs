//! What `lrdist search` was asked for ([`SearchOptions`]) and the study and base run it
//! makes of it ([`SearchOptions::plan`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use lrdist_train::{ExperimentConfig, GroupingSpec, RunDistribution, RunRequest};

use crate::objective::{ObjectiveKind, SamplerKind};
use crate::run::SearchPlan;
use crate::space::SearchSpace;
use crate::study::StudyConfig;
use crate::worker::{WorkerOptions, STALE_AFTER_SECS};

/// The options of one search worker.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// Experiment config naming the scenario (two stages) and its scales.
    pub config: Option<PathBuf>,
    /// The config's scale.
    pub scale: String,
    /// Trial store: an SQLite file or a `postgres://` URL.
    pub study: Option<String>,
    /// Study name inside the store [default: the config's name].
    pub name: Option<String>,
    /// Trials in total.
    pub trials: u64,
    pub sampler: SamplerKind,
    pub objective: ObjectiveKind,
    /// How depths map to the searched groups.
    pub grouping: GroupingSpec,
    /// Bounds of each rate (log-uniform).
    pub low: f64,
    pub high: f64,
    pub seed: u64,
    /// Search the stage-2 rates only.
    pub stage2_only: bool,
    /// Every trial runs all its stage-2 epochs.
    pub no_asha: bool,
    /// Continue an existing study.
    pub resume: bool,
    /// Re-queue a running trial whose worker sent no heartbeat for this long.
    pub stale_after: Duration,
}

impl Default for SearchOptions {
    /// The paper's search ([`StudyConfig::paper`]) at the `quick` scale.
    fn default() -> Self {
        Self {
            config: None,
            scale: lrdist_train::requests::DEFAULT_SCALE.into(),
            study: None,
            name: None,
            trials: StudyConfig::PAPER_TRIALS,
            sampler: SamplerKind::default(),
            objective: ObjectiveKind::default(),
            grouping: GroupingSpec::default(),
            low: SearchSpace::PAPER_LOW,
            high: SearchSpace::PAPER_HIGH,
            seed: 0,
            stage2_only: false,
            no_asha: false,
            resume: false,
            stale_after: Duration::from_secs(STALE_AFTER_SECS),
        }
    }
}

impl SearchOptions {
    /// The `model:` field of the config, if any.
    pub fn config_model(&self) -> Result<Option<PathBuf>> {
        lrdist_train::requests::config_model(self.config.as_deref())
    }

    /// The study and the base run of its trials, for the model in `model_dir`.
    pub fn plan(&self, model_dir: &Path) -> Result<SearchPlan> {
        let config_path = self
            .config
            .as_deref()
            .context("give --config experiments/PAIR.yaml (the scenario to search)")?;
        let config = ExperimentConfig::from_file(config_path)?;
        let store = self
            .study
            .clone()
            .context("give --study FILE.sqlite (or a postgres:// URL)")?;
        let scale = config.scale(&self.scale)?;
        let (layers, groups) =
            lrdist_train::model_groups::layers_and_groups(model_dir, self.grouping)?;
        let mut study = StudyConfig::paper(
            self.name.as_deref().unwrap_or(&config.name),
            groups,
            scale.epochs,
        );
        study.space.low = self.low;
        study.space.high = self.high;
        if self.no_asha {
            // A single rung at the full resource: no promotion decision is ever taken.
            study.asha.grace = study.asha.max_resource;
        }
        study.sampler = self.sampler;
        study.objective = self.objective;
        study.n_trials = self.trials;
        study.seed = self.seed;
        study.meta = serde_json::json!({
            "scenario": config.scenario.label(),
            "config": config_path.display().to_string(),
            "scale": self.scale,
            "scale_spec": scale,
            "grouping": self.grouping,
            "num_layers": layers,
            "model": lrdist_train::runner::model_key(model_dir),
            "stage2_only": self.stage2_only || scale.stage2_only,
            "asha": !self.no_asha,
            "command": lrdist_train::record::command_line(),
        });
        // Each trial sets its own rates; these (the paper's first trial) make the base valid.
        let rates = RunDistribution::Rates {
            label: "search".into(),
            rates: vec![StudyConfig::PAPER_FIRST_RATE; groups],
        };
        let mut base = RunRequest::new(
            config.scenario.clone(),
            &self.scale,
            scale,
            "search",
            rates,
            self.seed,
        );
        base.grouping = self.grouping;
        base.stage2_only |= self.stage2_only;
        base.config_file = Some(config_path.display().to_string());
        let worker = WorkerOptions {
            stale_after: self.stale_after,
            ..Default::default()
        };
        Ok(SearchPlan {
            store,
            study,
            base,
            resume: self.resume,
            worker,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_names_its_model_by_the_canonical_path() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let model = root.join("models/all-MiniLM-L6-v2");
        assert!(
            model.join("config.json").is_file(),
            "model not found at {}: run `make model`",
            model.display()
        );
        let opts = SearchOptions {
            config: Some(root.join("experiments/sst2_mrpc.yaml")),
            study: Some("unused.sqlite".into()),
            ..Default::default()
        };
        // The same folder spelled through `..`: one model in the study's meta.
        let detour = root.join("crates/../models/all-MiniLM-L6-v2");
        let meta = |dir: &Path| opts.plan(dir).unwrap().study.meta["model"].clone();
        assert_eq!(meta(&detour), meta(&model));
        let canonical = std::fs::canonicalize(&model).unwrap();
        assert_eq!(meta(&model), canonical.display().to_string());
    }
}
