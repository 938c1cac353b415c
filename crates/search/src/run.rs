//! Running a search on lrdist-train: the real objective, where a trial is one run of the
//! forgetting protocol with the trial's rates, one per group ([`ProtocolObjective`]), and
//! the one-worker search of `lrdist search` ([`run_search`]).
//!
//! Unlike the authors (docs/METHOD.md "How this implementation differs from the authors'
//! code": their rungs saw task A's accuracy in stage 1 only), stage 1 always runs in full
//! and every stage-2 epoch reports `p_o + p_s`, so successive halving prunes on what the
//! search optimises, forgetting included (docs/METHOD.md "Search").

use std::sync::Mutex;

use anyhow::{Context, Result};
use lrdist_train::{Decision, EpochEvent, RunDistribution, RunRequest, Runner};

use crate::objective::{Objective, RungReport, TrialOutcome};
use crate::report::live_line;
use crate::store::open_store;
use crate::study::{create_study, load_study, StudyConfig};
use crate::worker::{run_worker, WorkerOptions, WorkerSummary};

/// Runs trials of a two-stage scenario (a task pair, an embedding or a length shift).
pub struct ProtocolObjective {
    runner: Mutex<Runner>,
    base: RunRequest,
}

impl ProtocolObjective {
    /// `base` fixes everything but the rates (scenario, scale, grouping, seed, penalty,
    /// `stage2_only`); it must describe exactly two stages.
    pub fn new(runner: Runner, base: RunRequest) -> Result<Self> {
        let stages = base.scenario.num_stages();
        anyhow::ensure!(
            stages == 2,
            "a search needs a two-stage scenario, {} has {stages}",
            base.scenario.label()
        );
        runner.validate(&base)?;
        Ok(Self {
            runner: Mutex::new(runner),
            base,
        })
    }
}

impl Objective for ProtocolObjective {
    fn run(
        &self,
        number: u64,
        rates: &[f64],
        report: &mut dyn FnMut(&RungReport) -> Decision,
    ) -> Result<TrialOutcome> {
        let mut req = self.base.clone();
        req.method = format!("trial-{number}");
        req.distribution = RunDistribution::Rates {
            label: format!("search trial {number}"),
            rates: rates.to_vec(),
        };
        let mut runner = self
            .runner
            .lock()
            .map_err(|_| anyhow::anyhow!("a previous trial panicked"))?;
        let record = runner.run(&req, &mut |e: &EpochEvent| {
            if e.stage == 0 {
                return Decision::Continue; // stage 1 always runs in full
            }
            report(&RungReport {
                resource: e.epoch,
                p_s: e.scores[1],
                p_o: e.scores[0],
                a1: e.a1.unwrap_or(f64::NAN),
            })
        })?;
        let value = |v: Option<f64>, what: &str| {
            v.with_context(|| format!("trial {number}: no {what} score"))
        };
        Ok(TrialOutcome {
            a1: value(record.a1, "a1")?,
            p_s: value(record.p_s, "p_s")?,
            p_o: value(record.p_o, "p_o")?,
            extra: serde_json::to_value(&record)?,
        })
    }
}

/// Everything `lrdist search` needs to run one worker on a study.
pub struct SearchPlan {
    /// SQLite path or `postgres://` URL.
    pub store: String,
    pub study: StudyConfig,
    /// The run every trial starts from (rates replaced by the trial's).
    pub base: RunRequest,
    /// Continue an existing study; without it an existing study is an error.
    pub resume: bool,
    pub worker: WorkerOptions,
}

/// Opens the store, creates (or, with `resume`, re-opens) the study, and runs one worker
/// until the study has its trials. `on_line` gets one live line per trial event.
pub fn run_search(
    runner: Runner,
    plan: SearchPlan,
    on_line: &mut dyn FnMut(&str),
) -> Result<WorkerSummary> {
    // Validate the run (its files included) before the store is opened, so a bad request
    // leaves no study, and no new store file, behind.
    let objective = ProtocolObjective::new(runner, plan.base)?;
    let store = open_store(&plan.store)?;
    let exists = load_study(store.as_ref(), &plan.study.name).is_ok();
    if exists && !plan.resume {
        anyhow::bail!(
            "study {} already exists in {}: pass --resume to continue it (or choose another --name)",
            plan.study.name,
            store.describe()
        );
    }
    create_study(store.as_ref(), &plan.study)?;
    run_worker(
        store.as_ref(),
        &plan.study.name,
        &objective,
        &plan.worker,
        &mut |event| {
            if let Some(line) = live_line(event) {
                on_line(&line);
            }
        },
    )
}
