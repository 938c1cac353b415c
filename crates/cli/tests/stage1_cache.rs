//! The stage-1 cache under concurrent use (issue 14, item 7): two `lrdist run
//! --stage2-only` processes with the same task A and seed, started together, must both
//! succeed and share one cache entry (one trains it, the other waits for it and loads it).
//! Before the entry lock, one of them failed with "safetensors error
//! .../stage1/<key>.partial/head.safetensors: No such file or directory".
//!
//! Needs the real model (`make model`) and GLUE (`GLUE_DIR`), as the other real-data tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

fn glue_and_model() -> (PathBuf, PathBuf) {
    let glue = common::glue();
    let model = common::model();
    assert!(
        model.join("model.safetensors").is_file(),
        "model not found at {}: run `make model` or set LRDIST_MODEL",
        model.display()
    );
    (glue, model)
}

fn run(results: &Path, cache: &Path, distribution: &str) -> Command {
    let (glue, model) = glue_and_model();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lrdist"));
    cmd.args([
        "run",
        "--first",
        "rte",
        "--second",
        "mrpc",
        "--stage2-only",
        "--seed",
        "3",
        "--max-train",
        "48",
        "--max-dev",
        "24",
        "--epochs",
        "1",
        "--threads",
        "1",
        "-q",
    ])
    .args(["--distribution", distribution, "--method", distribution])
    .arg("--results")
    .arg(results)
    .arg("--model")
    .arg(model)
    .arg("--glue-dir")
    .arg(glue)
    .env("LRDIST_CACHE", cache)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

fn records(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn two_processes_started_together_share_one_stage1_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (results, cache) = (dir.path().join("results"), dir.path().join("cache"));
    let a = run(&results, &cache, "flat:1e-4").spawn().unwrap();
    let b = run(&results, &cache, "paper-combined").spawn().unwrap();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let entries: Vec<String> = std::fs::read_dir(cache.join("stage1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert_eq!(entries.len(), 1, "one entry and no leftovers: {entries:?}");
    let recs = records(&results.join("runs").join("rte_mrpc.jsonl"));
    assert_eq!(recs.len(), 2);
    let cached: Vec<bool> = recs
        .iter()
        .map(|r| r["stage1_cached"].as_bool().unwrap())
        .collect();
    assert_eq!(
        cached.iter().filter(|c| **c).count(),
        1,
        "one trained the entry, the other loaded it: {cached:?}"
    );
    // Both runs start task B from the same task-A model: a1 is the same.
    assert_eq!(recs[0]["a1"], recs[1]["a1"]);
}
