//! Two worker processes share one study in PostgreSQL.
//!
//! Uses `$LRDIST_TEST_PG_URL` when set; otherwise starts a throwaway server with
//! `scripts/pg-test-server.sh` (port `$LRDIST_TEST_PG_PORT`, default 55432) and stops it at
//! the end. Fails, never skips, when no server can be had.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lrdist_search::{create_study, open_store, SamplerKind, StudyConfig};

/// A server started by this test, stopped on drop.
struct Server {
    script: PathBuf,
    port: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .args(["stop", &self.port])
            .status();
    }
}

fn pg_url() -> (String, Option<Server>) {
    if let Ok(url) = std::env::var("LRDIST_TEST_PG_URL") {
        return (url, None);
    }
    let script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/pg-test-server.sh"
    ));
    let port = std::env::var("LRDIST_TEST_PG_PORT").unwrap_or_else(|_| "55432".into());
    let out = Command::new("bash")
        .arg(&script)
        .args(["start", &port])
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} start {port} failed (set LRDIST_TEST_PG_URL to use another server):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    (url, Some(Server { script, port }))
}

#[test]
fn two_worker_processes_share_one_study() {
    let (url, _server) = pg_url();
    let store = open_store(&url).unwrap();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let study = format!("two-workers-{}-{nanos}", std::process::id());
    let n_trials = 12;
    let mut config = StudyConfig::paper(&study, 3, 4);
    config.n_trials = n_trials;
    config.sampler = SamplerKind::Gp;
    config.seed = 11;
    create_study(store.as_ref(), &config).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let logs = [dir.path().join("a.log"), dir.path().join("b.log")];
    let mut a = common::spawn_worker(&url, &study, "worker-a", 50, 4, &logs[0]);
    let mut b = common::spawn_worker(&url, &study, "worker-b", 50, 4, &logs[1]);
    common::wait_ok(&mut a, Duration::from_secs(180), &logs[0]);
    common::wait_ok(&mut b, Duration::from_secs(180), &logs[1]);

    let workers = common::check_finished_study(store.as_ref(), &study, n_trials);
    let expected: std::collections::BTreeSet<String> =
        ["worker-a".to_string(), "worker-b".to_string()].into();
    assert_eq!(workers, expected, "both workers ran trials");
    let trials = store.trials(&study).unwrap();
    let gp = trials
        .iter()
        .filter(|t| t.sampled_by.as_deref() == Some("gp"))
        .count();
    eprintln!(
        "{} trials: {} by worker-a, {} by GP",
        trials.len(),
        trials
            .iter()
            .filter(|t| t.worker.as_deref() == Some("worker-a"))
            .count(),
        gp
    );
    assert!(gp > 0, "the GP took over after the initial points");

    // Same server (it is stopped when this test ends): heartbeats and re-queueing.
    common::check_requeue_of_a_dead_workers_trial(store.as_ref(), &format!("{study}-requeue"));
}

#[test]
#[ignore = "helper: runs as a worker process when spawned by another test"]
fn worker_process() {
    common::worker_process_main();
}
