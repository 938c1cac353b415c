//! A search worker: claims trials of a study from the store, samples their rates, runs them
//! under asynchronous successive halving and records everything. Run as many workers on as
//! many machines as the store reaches.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lrdist_train::Decision;

use crate::objective::{Objective, RungReport, TrialOutcome};
use crate::panics::panic_text;
use crate::report::{summarize, SearchEvent};
use crate::sampler::{observations, suggest, SamplerSetup, Suggestion};
use crate::space::asha_decision;
use crate::store::{Claim, Finish, RungRow, Store, TrialRow, TrialState};
use crate::study::{load_study, StudyConfig};

/// A running trial whose worker sent no heartbeat for this many seconds is re-queued
/// (its worker died): [`WorkerOptions::stale_after`]'s default, and `lrdist search
/// --stale-after`'s.
pub const STALE_AFTER_SECS: u64 = 120;

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Name recorded with each trial and rung (default `host:pid`).
    pub worker_id: String,
    /// A running trial whose heartbeat is older than this is re-queued (its worker died).
    pub stale_after: Duration,
    /// How often the running trial's heartbeat is refreshed.
    pub heartbeat_every: Duration,
    /// How often a worker with nothing to claim looks again.
    pub poll_every: Duration,
    /// When nothing is left to claim but other workers' trials still run, wait for them
    /// (re-queueing and taking over any whose worker dies) instead of returning.
    pub wait_for_running: bool,
    /// Run at most this many trials, then return.
    pub max_trials: Option<usize>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            worker_id: default_worker_id(),
            stale_after: Duration::from_secs(STALE_AFTER_SECS),
            heartbeat_every: Duration::from_secs(10),
            poll_every: Duration::from_secs(5),
            wait_for_running: true,
            max_trials: None,
        }
    }
}

/// `host:pid`, with the host from `/proc/sys/kernel/hostname` (or `$HOSTNAME`).
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{}", std::process::id())
}

/// What one worker did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct WorkerSummary {
    pub worker: String,
    /// Trials this worker ran to an end (complete, pruned or failed).
    pub trials: Vec<u64>,
    /// Trials this worker lost to a re-queue.
    pub lost: Vec<u64>,
    /// Stale trials of dead workers this worker re-queued.
    pub requeued: Vec<u64>,
}

/// Runs trials of `study` until its `n_trials` trials are all claimed and (with
/// `wait_for_running`) finished, or `opts.max_trials` trials ran.
///
/// Each round: re-queue stale trials, claim a queued or new trial atomically, sample its
/// rates from all trials recorded so far (a re-queued trial keeps its rates), run it while a
/// thread refreshes its heartbeat, record each stage-2 report and the ASHA decision, then the
/// outcome. A failing trial (error, panic, non-finite score) is recorded as failed with its
/// reason and the search goes on; a failing store ends the worker with the error.
pub fn run_worker(
    store: &dyn Store,
    study: &str,
    objective: &dyn Objective,
    opts: &WorkerOptions,
    on_event: &mut dyn FnMut(&SearchEvent),
) -> Result<WorkerSummary> {
    let config = load_study(store, study)?;
    let mut summary = WorkerSummary {
        worker: opts.worker_id.clone(),
        ..Default::default()
    };
    let mut last_waiting = Vec::new();
    while opts.max_trials.is_none_or(|m| summary.trials.len() < m) {
        let numbers = store.requeue_stale(study, opts.stale_after.as_secs_f64())?;
        if !numbers.is_empty() {
            summary.requeued.extend(&numbers);
            on_event(&SearchEvent::Requeued { numbers });
        }
        if let Some(claim) = store.claim(study, &opts.worker_id, config.n_trials)? {
            let number = claim.number;
            let trial = TrialRun {
                store,
                config: &config,
                worker: &opts.worker_id,
                claim,
            };
            match trial.run(objective, opts.heartbeat_every, on_event)? {
                Some(_) => summary.trials.push(number),
                None => {
                    summary.lost.push(number);
                    on_event(&SearchEvent::Lost { number });
                }
            }
            continue;
        }
        if !opts.wait_for_running {
            break;
        }
        let running: Vec<u64> = store
            .trials(study)?
            .iter()
            .filter(|t| !t.state.is_finished())
            .map(|t| t.number)
            .collect();
        if running.is_empty() {
            break;
        }
        if running != last_waiting {
            on_event(&SearchEvent::Waiting {
                running: running.clone(),
            });
            last_waiting = running;
        }
        std::thread::sleep(opts.poll_every);
    }
    Ok(summary)
}

/// One claimed trial on its way through sampling, running and recording.
struct TrialRun<'a> {
    store: &'a dyn Store,
    config: &'a StudyConfig,
    worker: &'a str,
    claim: Claim,
}

/// What the report callback saw during a run.
#[derive(Default)]
struct RunLog {
    pruned_at: Option<usize>,
    bad_score: Option<String>,
    store_error: Option<anyhow::Error>,
}

impl TrialRun<'_> {
    /// Samples (if new), runs and records the trial, with a heartbeat thread throughout.
    /// `Ok(None)` when the trial was lost to a re-queue.
    fn run(
        &self,
        objective: &dyn Objective,
        heartbeat_every: Duration,
        on_event: &mut dyn FnMut(&SearchEvent),
    ) -> Result<Option<TrialRow>> {
        let lost = AtomicBool::new(false);
        let (stop, stopped) = channel::<()>();
        std::thread::scope(|s| {
            s.spawn(|| self.heartbeat(heartbeat_every, stopped, &lost));
            let result = self.sample_and_run(objective, &lost, on_event);
            drop(stop);
            result
        })
    }

    fn heartbeat(&self, every: Duration, stopped: Receiver<()>, lost: &AtomicBool) {
        let study = &self.config.name;
        while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            // A failed heartbeat is retried at the next tick; if the trial was re-queued
            // meanwhile, the next store write of this worker notices.
            if let Ok(false) = self.store.heartbeat(study, self.claim.number, self.worker) {
                lost.store(true, Ordering::SeqCst);
                return;
            }
        }
    }

    fn sample_and_run(
        &self,
        objective: &dyn Objective,
        lost: &AtomicBool,
        on_event: &mut dyn FnMut(&SearchEvent),
    ) -> Result<Option<TrialRow>> {
        let (study, number) = (&self.config.name, self.claim.number);
        let (rates, sampled_by) = match &self.claim.rates {
            Some(rates) => (rates.clone(), "requeued".to_string()),
            None => {
                let s = self.sample()?;
                if !self
                    .store
                    .set_rates(study, number, self.worker, &s.rates, &s.sampled_by)?
                {
                    return Ok(None);
                }
                (s.rates, s.sampled_by)
            }
        };
        on_event(&SearchEvent::Started {
            number,
            rates: rates.clone(),
            sampled_by,
        });
        let start = Instant::now();
        let mut log = RunLog::default();
        let outcome = {
            let mut last = start;
            let mut report = |r: &RungReport| {
                let (decision, recorded) = self.on_report(r, &mut last, lost, &mut log);
                if let Some(value) = recorded {
                    on_event(&SearchEvent::Rung {
                        number,
                        report: r.clone(),
                        value,
                        rung: self.config.asha.decides_at(r.resource),
                        decision,
                    });
                }
                decision
            };
            catch_unwind(AssertUnwindSafe(|| {
                objective.run(number, &rates, &mut report)
            }))
        };
        if let Some(e) = log.store_error {
            return Err(e.context(format!("recording trial {number} of study {study}")));
        }
        if lost.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let finish = self.finish_of(outcome, log.pruned_at, log.bad_score, start.elapsed());
        if !self.store.finish(study, number, self.worker, &finish)? {
            return Ok(None);
        }
        let trials = self.store.trials(study)?;
        let trial = trials
            .iter()
            .find(|t| t.number == number)
            .cloned()
            .with_context(|| format!("trial {number} vanished from study {study}"))?;
        on_event(&SearchEvent::Finished {
            trial: Box::new(trial.clone()),
            summary: summarize(&trials),
            n_trials: self.config.n_trials,
        });
        Ok(Some(trial))
    }

    fn sample(&self) -> Result<Suggestion> {
        let c = self.config;
        let trials = self.store.trials(&c.name)?;
        let (observed, pending) = observations(&trials);
        let setup = SamplerSetup {
            space: &c.space,
            sampler: c.sampler,
            objective: c.objective,
            seed: c.seed,
            first_trial: c.first_trial.as_deref(),
        };
        suggest(&setup, self.claim.number, &observed, &pending)
            .with_context(|| format!("sampling trial {} of study {}", self.claim.number, c.name))
    }

    /// Records one report and decides; returns the decision and, if recorded, the value.
    fn on_report(
        &self,
        r: &RungReport,
        last: &mut Instant,
        lost: &AtomicBool,
        log: &mut RunLog,
    ) -> (Decision, Option<f64>) {
        if lost.load(Ordering::SeqCst) || log.store_error.is_some() {
            return (Decision::Stop, None);
        }
        // `a1` plays no part in successive halving; only the final one must be finite.
        if !(r.p_s.is_finite() && r.p_o.is_finite()) {
            log.bad_score = Some(format!(
                "non-finite score after {} stage-2 epochs: p_s {}, p_o {}",
                r.resource, r.p_s, r.p_o
            ));
            return (Decision::Stop, None);
        }
        let value = self.config.objective.value(r.p_s, r.p_o);
        let now = Instant::now();
        let rung = RungRow {
            study: self.config.name.clone(),
            number: self.claim.number,
            resource: r.resource,
            p_s: r.p_s,
            p_o: r.p_o,
            value,
            seconds: (now - *last).as_secs_f64(),
            at: 0.0,
            worker: self.worker.to_string(),
        };
        *last = now;
        match self.store.record_rung(&rung) {
            Ok(true) => {}
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                return (Decision::Stop, None);
            }
            Err(e) => {
                log.store_error = Some(e);
                return (Decision::Stop, None);
            }
        }
        let asha = &self.config.asha;
        let decision = if asha.decides_at(r.resource) {
            match self.store.rung_values(&self.config.name, r.resource) {
                Ok(values) => asha_decision(value, &values, asha.reduction),
                Err(e) => {
                    log.store_error = Some(e);
                    Decision::Stop
                }
            }
        } else {
            Decision::Continue
        };
        if decision == Decision::Stop && log.store_error.is_none() {
            log.pruned_at = Some(r.resource);
        }
        (decision, Some(value))
    }

    /// The record of a trial's end.
    fn finish_of(
        &self,
        outcome: std::thread::Result<Result<TrialOutcome>>,
        pruned_at: Option<usize>,
        bad_score: Option<String>,
        elapsed: Duration,
    ) -> Finish {
        let failed = |reason: String| Finish {
            state: TrialState::Failed,
            a1: None,
            p_s: None,
            p_o: None,
            objective: None,
            reason: Some(reason),
            extra: None,
            seconds: elapsed.as_secs_f64(),
        };
        let o = match outcome {
            Err(panic) => return failed(format!("panicked: {}", panic_text(&panic))),
            Ok(Err(e)) => return failed(format!("{e:#}")),
            Ok(Ok(o)) => o,
        };
        if let Some(reason) = bad_score {
            return failed(reason);
        }
        if !(o.a1.is_finite() && o.p_s.is_finite() && o.p_o.is_finite()) {
            return failed(format!(
                "non-finite final score: a1 {}, p_s {}, p_o {}",
                o.a1, o.p_s, o.p_o
            ));
        }
        let (state, reason) = match pruned_at {
            Some(r) => (
                TrialState::Pruned,
                Some(format!("pruned after {r} stage-2 epochs")),
            ),
            None => (TrialState::Complete, None),
        };
        Finish {
            state,
            a1: Some(o.a1),
            p_s: Some(o.p_s),
            p_o: Some(o.p_o),
            objective: Some(self.config.objective.value(o.p_s, o.p_o)),
            reason,
            extra: Some(o.extra),
            seconds: elapsed.as_secs_f64(),
        }
    }
}
