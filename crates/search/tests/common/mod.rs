//! Shared test helpers: a cheap synthetic objective and worker processes.
//!
//! A test spawns workers by re-running its own test binary on the ignored test
//! `worker_process` with `LRDIST_TEST_*` variables set (see [`spawn_worker`]); each test file
//! that spawns workers defines that test as `common::worker_process_main()`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use lrdist_search::store::Finish;
use lrdist_search::{
    create_study, live_line, open_store, run_worker, Decision, Objective, RungReport, RungRow,
    SamplerKind, Store, StudyConfig, TrialOutcome, TrialRow, TrialState, WorkerOptions,
};

/// A fake forgetting protocol: sleeps `epoch_ms` for stage 1 and for each stage-2 epoch.
/// Scores are smooth in the `log10` rates, best near 1e-5 everywhere: `p_s` grows and `p_o`
/// falls over stage-2 epochs. With `diverge_above`, a first-group rate above it fails like a
/// NaN loss.
pub struct Synthetic {
    pub epoch_ms: u64,
    pub epochs: usize,
    pub diverge_above: Option<f64>,
}

impl Objective for Synthetic {
    fn run(
        &self,
        number: u64,
        rates: &[f64],
        report: &mut dyn FnMut(&RungReport) -> Decision,
    ) -> Result<TrialOutcome> {
        sleep(Duration::from_millis(self.epoch_ms));
        if let Some(limit) = self.diverge_above.filter(|l| rates[0] > *l) {
            bail!(
                "NaN loss in stage 1 (rate {:.2e} above {limit:.0e})",
                rates[0]
            );
        }
        let d2: f64 = rates.iter().map(|r| (r.log10() + 5.0).powi(2)).sum();
        let quality = (-d2 / 8.0).exp();
        let a1 = 0.5 + 0.45 * quality;
        let (mut p_s, mut p_o) = (0.5, a1);
        for epoch in 1..=self.epochs {
            sleep(Duration::from_millis(self.epoch_ms));
            let t = epoch as f64 / self.epochs as f64;
            p_s = 0.5 + 0.4 * quality * t;
            p_o = a1 - 0.2 * (1.0 - quality) * t;
            if report(&RungReport {
                resource: epoch,
                p_s,
                p_o,
                a1,
            }) == Decision::Stop
            {
                break;
            }
        }
        Ok(TrialOutcome {
            a1,
            p_s,
            p_o,
            extra: serde_json::json!({ "trial": number, "quality": quality }),
        })
    }
}

/// Environment of a worker process.
const ENV_STORE: &str = "LRDIST_TEST_WORKER_STORE";
const ENV_STUDY: &str = "LRDIST_TEST_WORKER_STUDY";
const ENV_ID: &str = "LRDIST_TEST_WORKER_ID";
const ENV_EPOCH_MS: &str = "LRDIST_TEST_WORKER_EPOCH_MS";
const ENV_EPOCHS: &str = "LRDIST_TEST_WORKER_EPOCHS";

/// Body of the ignored `worker_process` test: runs one worker as told by the environment.
pub fn worker_process_main() {
    let store_spec = std::env::var(ENV_STORE).unwrap_or_else(|_| {
        panic!("{ENV_STORE} is unset: this helper runs as a worker process spawned by another test")
    });
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is unset"));
    let study = var(ENV_STUDY);
    let objective = Synthetic {
        epoch_ms: var(ENV_EPOCH_MS).parse().unwrap(),
        epochs: var(ENV_EPOCHS).parse().unwrap(),
        diverge_above: None,
    };
    let opts = WorkerOptions {
        worker_id: var(ENV_ID),
        heartbeat_every: Duration::from_millis(100),
        poll_every: Duration::from_millis(100),
        ..WorkerOptions::default()
    };
    let store = open_store(&store_spec).unwrap();
    let summary = run_worker(store.as_ref(), &study, &objective, &opts, &mut |e| {
        if let Some(line) = live_line(e) {
            eprintln!("[{}] {line}", opts.worker_id);
        }
    })
    .unwrap();
    eprintln!("[{}] done: {summary:?}", opts.worker_id);
}

/// A worker process on `study`; its output goes to `log` (the parent's test output stays
/// clean).
pub fn spawn_worker(
    store: &str,
    study: &str,
    id: &str,
    epoch_ms: u64,
    epochs: usize,
    log: &Path,
) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_STORE, store)
        .env(ENV_STUDY, study)
        .env(ENV_ID, id)
        .env(ENV_EPOCH_MS, epoch_ms.to_string())
        .env(ENV_EPOCHS, epochs.to_string())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawning a worker process")
}

/// Waits for `child` up to `timeout`; kills it and panics (showing its log) past that or on
/// failure.
pub fn wait_ok(child: &mut Child, timeout: Duration, log: &Path) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success(),
                "worker failed ({status}); its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            return;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "worker still running after {timeout:?}; its log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        sleep(Duration::from_millis(50));
    }
}

/// Checks a finished study of `n` trials: numbers `0..n` once each, all complete or pruned,
/// every rung row written by the trial's worker with one row per resource; returns the set
/// of workers that ran trials.
pub fn check_finished_study(store: &dyn Store, study: &str, n: u64) -> BTreeSet<String> {
    let trials: Vec<TrialRow> = store.trials(study).unwrap();
    let numbers: Vec<u64> = trials.iter().map(|t| t.number).collect();
    assert_eq!(numbers, (0..n).collect::<Vec<_>>(), "trial numbers");
    for t in &trials {
        assert!(
            matches!(t.state, TrialState::Complete | TrialState::Pruned),
            "trial {} is {:?} ({:?})",
            t.number,
            t.state,
            t.reason
        );
        assert!(
            t.p_s.is_some() && t.p_o.is_some() && t.seconds.is_some() && t.finished_at.is_some()
        );
    }
    let rungs = store.rungs(study).unwrap();
    for t in &trials {
        let mine: Vec<_> = rungs.iter().filter(|r| r.number == t.number).collect();
        let resources: Vec<usize> = mine.iter().map(|r| r.resource).collect();
        let expected: Vec<usize> = (1..=t.resource.unwrap()).collect();
        assert_eq!(resources, expected, "rung rows of trial {}", t.number);
        assert!(
            mine.iter().all(|r| Some(&r.worker) == t.worker.as_ref()),
            "rungs of trial {} by other workers",
            t.number
        );
    }
    trials.iter().filter_map(|t| t.worker.clone()).collect()
}

/// A "ghost" worker claims trial 0 of a new study, stores its rates and one rung, then
/// dies silently. A live worker re-queues it once its heartbeat is stale, reruns it with the
/// same rates, and the ghost's late writes are refused.
pub fn check_requeue_of_a_dead_workers_trial(store: &dyn Store, study: &str) {
    let mut config = StudyConfig::paper(study, 3, 2);
    config.n_trials = 3;
    config.sampler = SamplerKind::Random;
    create_study(store, &config).unwrap();
    let claim = store.claim(study, "ghost", 3).unwrap().unwrap();
    assert_eq!((claim.number, claim.rates.clone()), (0, None));
    let rates = vec![2e-5, 3e-6, 4e-7];
    assert!(store.set_rates(study, 0, "ghost", &rates, "first").unwrap());
    let rung = RungRow {
        study: study.to_string(),
        number: 0,
        resource: 1,
        p_s: 0.5,
        p_o: 0.5,
        value: 1.0,
        seconds: 0.1,
        at: 0.0,
        worker: "ghost".to_string(),
    };
    assert!(store.record_rung(&rung).unwrap());
    assert!(!store.heartbeat(study, 0, "someone-else").unwrap());

    let objective = Synthetic {
        epoch_ms: 1,
        epochs: 2,
        diverge_above: None,
    };
    let opts = WorkerOptions {
        worker_id: "alive".to_string(),
        stale_after: Duration::from_millis(300),
        heartbeat_every: Duration::from_millis(50),
        poll_every: Duration::from_millis(50),
        ..WorkerOptions::default()
    };
    let summary = run_worker(store, study, &objective, &opts, &mut |_| {}).unwrap();
    assert_eq!(summary.requeued, vec![0]);
    assert_eq!(
        summary.trials.iter().copied().collect::<BTreeSet<_>>(),
        [0, 1, 2].into()
    );
    check_finished_study(store, study, 3);
    let trials = store.trials(study).unwrap();
    assert_eq!(
        trials[0].rates.as_ref(),
        Some(&rates),
        "re-queued trial keeps its rates"
    );
    assert_eq!(trials[0].worker.as_deref(), Some("alive"));

    // The ghost comes back: none of its writes land.
    assert!(!store.heartbeat(study, 0, "ghost").unwrap());
    assert!(!store.record_rung(&rung).unwrap());
    let late = Finish {
        state: TrialState::Complete,
        a1: Some(0.1),
        p_s: Some(0.1),
        p_o: Some(0.1),
        objective: Some(0.2),
        reason: None,
        extra: None,
        seconds: 1.0,
    };
    assert!(!store.finish(study, 0, "ghost", &late).unwrap());
    assert_eq!(store.trials(study).unwrap(), trials);
}
