//! What a trial store holds and does: the rows of a study and the [`Store`] trait that both
//! backends implement (schema in the `store` module's doc).

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Where a trial is in its life; defined in `lrdist-record` with the trial row of a
/// study's export.
pub use lrdist_record::TrialState;

/// One row of `trials`, plus the highest stage-2 resource it reported (from `rungs`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRow {
    pub study: String,
    pub number: u64,
    pub state: TrialState,
    /// One rate per group; `None` while a freshly claimed trial is being sampled.
    pub rates: Option<Vec<f64>>,
    /// Which sampler chose the rates (`first`, `random`, `gp`, `tpe`, ...).
    pub sampled_by: Option<String>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<f64>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    /// Wall-clock seconds of the trial's last (successful) run.
    pub seconds: Option<f64>,
    pub a1: Option<f64>,
    pub p_s: Option<f64>,
    pub p_o: Option<f64>,
    /// `p_o + p_s` (see `ObjectiveKind::value`).
    pub objective: Option<f64>,
    /// Why a trial failed (or was pruned).
    pub reason: Option<String>,
    pub extra: Option<serde_json::Value>,
    /// Highest stage-2 epoch count reported to successive halving.
    pub resource: Option<usize>,
}

impl TrialRow {
    /// A queued row with nothing filled in.
    pub fn empty(study: &str, number: u64) -> Self {
        Self {
            study: study.to_string(),
            number,
            state: TrialState::Queued,
            rates: None,
            sampled_by: None,
            worker: None,
            heartbeat_at: None,
            started_at: None,
            finished_at: None,
            seconds: None,
            a1: None,
            p_s: None,
            p_o: None,
            objective: None,
            reason: None,
            extra: None,
            resource: None,
        }
    }
}

/// One row of `rungs`: a report after a stage-2 epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RungRow {
    pub study: String,
    pub number: u64,
    /// Stage-2 epochs done.
    pub resource: usize,
    pub p_s: f64,
    pub p_o: f64,
    /// The objective value compared by successive halving (`p_o + p_s`).
    pub value: f64,
    /// Wall-clock seconds since the previous report (the first includes stage 1).
    pub seconds: f64,
    /// When it was recorded (database clock, Unix seconds).
    pub at: f64,
    pub worker: String,
}

/// A trial handed to a worker by [`Store::claim`].
#[derive(Clone, Debug, PartialEq)]
pub struct Claim {
    pub number: u64,
    /// The rates of a re-queued trial; `None` for a new trial (the worker samples them).
    pub rates: Option<Vec<f64>>,
}

/// The end of a trial, written by [`Store::finish`].
#[derive(Clone, Debug, PartialEq)]
pub struct Finish {
    /// Complete, pruned or failed.
    pub state: TrialState,
    pub a1: Option<f64>,
    pub p_s: Option<f64>,
    pub p_o: Option<f64>,
    pub objective: Option<f64>,
    pub reason: Option<String>,
    pub extra: Option<serde_json::Value>,
    pub seconds: f64,
}

/// A trial store shared by workers. Every method is one transaction.
pub trait Store: Send + Sync {
    /// The store's location (file path or URL without password), for messages.
    fn describe(&self) -> String;
    /// Inserts study `name` unless it exists; returns whether it was created.
    fn create_study(&self, name: &str, config_json: &str) -> Result<bool>;
    /// The stored config of study `name`, if any.
    fn study_config(&self, name: &str) -> Result<Option<String>>;
    /// Replaces the stored config of study `name`.
    fn update_study_config(&self, name: &str, config_json: &str) -> Result<()>;
    /// Names of all studies, sorted.
    fn studies(&self) -> Result<Vec<String>>;
    /// Re-queues the running trials whose last heartbeat is older than `stale_after_secs`
    /// (their worker died) and deletes their rung rows; returns their numbers.
    fn requeue_stale(&self, study: &str, stale_after_secs: f64) -> Result<Vec<u64>>;
    /// Atomically hands `worker` the lowest queued trial, or else a new trial numbered one
    /// past the highest (unique across workers) while the study has fewer than `n_trials`
    /// trials; `None` when neither exists. The trial is `running` with a fresh heartbeat.
    fn claim(&self, study: &str, worker: &str, n_trials: u64) -> Result<Option<Claim>>;
    /// Stores the sampled rates of a trial `worker` runs; false if it no longer runs it.
    fn set_rates(
        &self,
        study: &str,
        number: u64,
        worker: &str,
        rates: &[f64],
        sampled_by: &str,
    ) -> Result<bool>;
    /// Refreshes the heartbeat of a trial `worker` runs; false if it no longer runs it.
    fn heartbeat(&self, study: &str, number: u64, worker: &str) -> Result<bool>;
    /// Appends a rung report of a trial `rung.worker` runs (`rung.at` is ignored: the
    /// database clock is used); false (and nothing written) if it no longer runs it.
    fn record_rung(&self, rung: &RungRow) -> Result<bool>;
    /// All values recorded at `resource` in `study`.
    fn rung_values(&self, study: &str, resource: usize) -> Result<Vec<f64>>;
    /// Records the end of a trial `worker` runs; false (and nothing written) if it no longer
    /// runs it (it was re-queued meanwhile).
    fn finish(&self, study: &str, number: u64, worker: &str, finish: &Finish) -> Result<bool>;
    /// All trials of `study`, by number.
    fn trials(&self, study: &str) -> Result<Vec<TrialRow>>;
    /// All rung rows of `study`, by trial then resource.
    fn rungs(&self, study: &str) -> Result<Vec<RungRow>>;
}
