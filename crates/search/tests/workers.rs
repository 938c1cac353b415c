//! Workers on SQLite stores: sharing a file, surviving `kill -9`, recording failures.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::bail;
use lrdist_search::{
    combine_inputs, create_study, open_store, run_worker, AshaConfig, Decision, Objective,
    RungReport, SamplerKind, SearchEvent, StudyConfig, TrialOutcome, TrialState, WorkerOptions,
};

fn fast_opts(id: &str) -> WorkerOptions {
    WorkerOptions {
        worker_id: id.to_string(),
        stale_after: Duration::from_secs(1),
        heartbeat_every: Duration::from_millis(100),
        poll_every: Duration::from_millis(100),
        ..WorkerOptions::default()
    }
}

#[test]
fn two_worker_processes_share_an_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.sqlite").display().to_string();
    let store = open_store(&path).unwrap();
    let mut config = StudyConfig::paper("shared", 3, 4);
    config.n_trials = 10;
    config.sampler = SamplerKind::Tpe;
    create_study(store.as_ref(), &config).unwrap();
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let mut a = common::spawn_worker(&path, "shared", "worker-a", 40, 4, &logs[0]);
    let mut b = common::spawn_worker(&path, "shared", "worker-b", 40, 4, &logs[1]);
    common::wait_ok(&mut a, Duration::from_secs(120), &logs[0]);
    common::wait_ok(&mut b, Duration::from_secs(120), &logs[1]);
    let workers = common::check_finished_study(store.as_ref(), "shared", 10);
    assert_eq!(workers.len(), 2, "both workers ran trials: {workers:?}");
}

/// A worker is SIGKILLed mid-trial; a resumed worker re-queues the dead trial after its
/// heartbeat goes stale and finishes the study; no finished trial changes.
#[test]
fn killed_worker_loses_no_finished_trial_and_resume_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("study.sqlite").display().to_string();
    let store = open_store(&path).unwrap();
    let mut config = StudyConfig::paper("killed", 3, 6);
    // Decisions only at 3 stage-2 epochs: a trial seen after epoch 1 runs on for 2 more
    // epochs (300 ms) at least, time enough to kill its worker mid-trial.
    config.asha = AshaConfig {
        grace: 3,
        reduction: 2,
        max_resource: 6,
    };
    config.n_trials = 7;
    config.sampler = SamplerKind::Random;
    create_study(store.as_ref(), &config).unwrap();

    let log = dir.path().join("a.log");
    let mut a = common::spawn_worker(&path, "killed", "doomed", 150, 6, &log);
    let start = Instant::now();
    let victim = loop {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "worker never got mid-trial"
        );
        assert!(a.try_wait().unwrap().is_none(), "worker ended early");
        let trials = store.trials("killed").unwrap();
        let finished = trials.iter().filter(|t| t.state.is_finished()).count();
        let mid = trials
            .iter()
            .find(|t| t.state == TrialState::Running && t.resource == Some(1));
        if let (true, Some(t)) = (finished >= 2, mid) {
            break t.number;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    let before = store.trials("killed").unwrap();
    let dead = before.iter().find(|t| t.number == victim).unwrap().clone();
    assert_eq!(
        dead.state,
        TrialState::Running,
        "victim was mid-trial when killed"
    );
    let finished_before: Vec<_> = before
        .into_iter()
        .filter(|t| t.state.is_finished())
        .collect();
    assert!(finished_before.len() >= 2);

    let objective = common::Synthetic {
        epoch_ms: 20,
        epochs: 6,
        diverge_above: None,
    };
    let mut events = Vec::new();
    let summary = run_worker(
        store.as_ref(),
        "killed",
        &objective,
        &fast_opts("resumed"),
        &mut |e| events.push(e.clone()),
    )
    .unwrap();

    common::check_finished_study(store.as_ref(), "killed", 7);
    assert_eq!(summary.requeued, vec![victim]);
    assert!(events.contains(&SearchEvent::Requeued {
        numbers: vec![victim]
    }));
    let after = store.trials("killed").unwrap();
    for old in &finished_before {
        assert_eq!(
            &after[old.number as usize], old,
            "finished trial {} changed",
            old.number
        );
    }
    let redone = &after[victim as usize];
    assert_eq!(redone.worker.as_deref(), Some("resumed"));
    assert_eq!(
        redone.rates, dead.rates,
        "a re-queued trial keeps its rates"
    );
    assert!(summary.trials.contains(&victim));
}

#[test]
fn a_dead_workers_trial_is_requeued_and_its_late_writes_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("s.sqlite").display().to_string()).unwrap();
    common::check_requeue_of_a_dead_workers_trial(store.as_ref(), "ghost");
}

/// Fails on odd trials (error), panics on trial 2, reports a NaN score on trial 4.
struct Flaky;

impl Objective for Flaky {
    fn run(
        &self,
        number: u64,
        _rates: &[f64],
        report: &mut dyn FnMut(&RungReport) -> Decision,
    ) -> anyhow::Result<TrialOutcome> {
        match number {
            n if n % 2 == 1 => bail!("NaN loss at step {n} of stage 2"),
            2 => panic!("index out of bounds in trial 2"),
            4 => {
                report(&RungReport {
                    resource: 1,
                    p_s: f64::NAN,
                    p_o: 0.5,
                    a1: 0.9,
                });
                Ok(TrialOutcome {
                    a1: 0.9,
                    p_s: 0.5,
                    p_o: 0.5,
                    extra: serde_json::Value::Null,
                })
            }
            _ => {
                let r = RungReport {
                    resource: 1,
                    p_s: 0.8,
                    p_o: 0.7,
                    a1: 0.9,
                };
                report(&r);
                Ok(TrialOutcome {
                    a1: 0.9,
                    p_s: 0.8,
                    p_o: 0.7,
                    extra: serde_json::json!({"ok": true}),
                })
            }
        }
    }
}

#[test]
fn failures_are_recorded_with_their_reason_and_the_search_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir.path().join("s.sqlite").display().to_string()).unwrap();
    let mut config = StudyConfig::paper("flaky", 2, 1);
    config.n_trials = 8;
    config.sampler = SamplerKind::Gp;
    create_study(store.as_ref(), &config).unwrap();
    let summary = run_worker(
        store.as_ref(),
        "flaky",
        &Flaky,
        &fast_opts("w"),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.trials, (0..8).collect::<Vec<_>>());
    let trials = store.trials("flaky").unwrap();
    let reason = |n: usize| trials[n].reason.clone().unwrap_or_default();
    for n in [1, 3, 5, 7] {
        assert_eq!(trials[n].state, TrialState::Failed);
        assert_eq!(reason(n), format!("NaN loss at step {n} of stage 2"));
        assert_eq!(trials[n].objective, None);
    }
    assert_eq!(trials[2].state, TrialState::Failed);
    assert_eq!(reason(2), "panicked: index out of bounds in trial 2");
    assert_eq!(trials[4].state, TrialState::Failed);
    assert!(
        reason(4).starts_with("non-finite score after 1 stage-2 epochs"),
        "{}",
        reason(4)
    );
    for n in [0, 6] {
        assert_eq!(trials[n].state, TrialState::Complete);
        assert!((trials[n].objective.unwrap() - 1.5).abs() < 1e-12);
        assert_eq!(trials[n].extra, Some(serde_json::json!({"ok": true})));
    }
}

#[test]
fn resuming_checks_the_study_and_combining_a_study_uses_its_complete_trials() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite").display().to_string();
    let store = open_store(&path).unwrap();
    let mut config = StudyConfig::paper("small", 3, 2);
    config.n_trials = 6;
    config.sampler = SamplerKind::Random;
    create_study(store.as_ref(), &config).unwrap();
    let objective = common::Synthetic {
        epoch_ms: 0,
        epochs: 2,
        diverge_above: Some(3e-4),
    };
    let mut opts = fast_opts("w");
    opts.max_trials = Some(4);
    let first = run_worker(store.as_ref(), "small", &objective, &opts, &mut |_| {}).unwrap();
    assert_eq!(first.trials, vec![0, 1, 2, 3]);

    // Same search with more trials: accepted, and the worker continues where it stopped.
    config.n_trials = 8;
    create_study(store.as_ref(), &config).unwrap();
    let mut other = config.clone();
    other.space.high = 1e-2;
    let err = create_study(store.as_ref(), &other)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exists with a different search"), "{err}");
    opts.max_trials = None;
    let second = run_worker(store.as_ref(), "small", &objective, &opts, &mut |_| {}).unwrap();
    assert_eq!(second.trials, vec![4, 5, 6, 7]);

    let trials = store.trials("small").unwrap();
    let complete: Vec<(f64, &[f64])> = trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .map(|t| (t.objective.unwrap(), t.rates.as_deref().unwrap()))
        .collect();
    assert!(complete.len() >= 2, "{trials:#?}");
    let combined = combine_inputs(&[format!("{path}#small")]).unwrap();
    assert_eq!(combined.rates, lrdist_combine::rank_weighted(&complete));
    // The only study of the file is found without its name.
    assert_eq!(
        combine_inputs(std::slice::from_ref(&path)).unwrap().rates,
        combined.rates
    );
    let states: BTreeSet<&str> = trials.iter().map(|t| t.state.as_str()).collect();
    eprintln!("states seen: {states:?}");
}

#[test]
#[ignore = "helper: runs as a worker process when spawned by another test"]
fn worker_process() {
    common::worker_process_main();
}
