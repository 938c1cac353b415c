//! `run --all --dry-run`, `tune --dry-run` and `calibrate --dry-run` run nothing and say,
//! per run, whether its record exists (done), is stale, is still to run, or waits for a
//! file (the tuning choice, the combination); the CSV on stdout is one row per run, stderr
//! says what is left.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{model, workspace};

/// A GLUE folder under `scratch` with empty task folders (a dry run reads no data, it
/// only checks them).
fn empty_glue(scratch: &Path) -> PathBuf {
    let glue = scratch.join("glue");
    for t in ["SST-2", "MRPC", "QQP", "RTE"] {
        std::fs::create_dir_all(glue.join(t)).unwrap();
    }
    glue
}

/// `lrdist ARGS` run in `cwd`, with an empty GLUE folder under `scratch` and the model.
fn lrdist(cwd: &Path, scratch: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lrdist"))
        .current_dir(cwd)
        .args(args)
        .arg("--glue-dir")
        .arg(empty_glue(scratch))
        .arg("--model")
        .arg(model())
        .output()
        .unwrap()
}

/// The CSV's rows as (method, seed, status, note) with the header checked.
fn rows(out: &Output) -> Vec<(String, u64, String, String)> {
    let mut reader = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "record",
            "scenario",
            "method",
            "seed",
            "scale",
            "status",
            "est_seconds",
            "note"
        ]
    );
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[2].to_string(),
                r[3].parse().unwrap(),
                r[5].to_string(),
                r[7].to_string(),
            )
        })
        .collect()
}

/// `lrdist run --config experiments/qqp_sst2.yaml --scale forget --all --dry-run ARGS` in
/// `root`, which must succeed.
fn dry_run_qqp_sst2(root: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "run",
        "--config",
        "experiments/qqp_sst2.yaml",
        "--scale",
        "forget",
        "--all",
        "--dry-run",
    ];
    all.extend(args);
    let out = lrdist(root, root, &all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn run_dry_run_says_what_is_done_left_and_waiting_and_writes_nothing() {
    // A copy of a forget config in a folder with neither the tuning choice nor the
    // combination, and the flat records of that config's committed record file (seeds
    // 0-2; the other methods' records land as the evaluation runs and are left out).
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("experiments")).unwrap();
    std::fs::create_dir_all(root.join("results/runs")).unwrap();
    std::fs::copy(
        workspace().join("experiments/qqp_sst2.yaml"),
        root.join("experiments/qqp_sst2.yaml"),
    )
    .unwrap();
    let records = root.join("results/runs/qqp_sst2.jsonl");
    let committed =
        std::fs::read_to_string(workspace().join("results/runs/qqp_sst2.jsonl")).unwrap();
    let flat: Vec<&str> = committed
        .lines()
        .filter(|l| {
            let r: serde_json::Value = serde_json::from_str(l).unwrap();
            r["method"] == "flat" && r["scale"] == "forget" && r["seed"].as_u64() < Some(3)
        })
        .collect();
    std::fs::write(&records, flat.join("\n") + "\n").unwrap();
    let before = std::fs::read(&records).unwrap();

    let out = dry_run_qqp_sst2(root, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        std::fs::read(&records).unwrap(),
        before,
        "a dry run wrote a record"
    );
    assert!(!root.join(".cache").exists(), "a dry run trained something");

    let rows = rows(&out);
    let status = |method: &str| -> Vec<String> {
        let mut s: Vec<_> = rows
            .iter()
            .filter(|r| r.0 == method)
            .map(|r| (r.1, r.2.clone()))
            .collect();
        s.sort();
        s.into_iter().map(|(_, st)| st).collect()
    };
    // flat at the forget scale's spec has a record for every seed; seeds 3 and 4 wait for
    // the seed rule (docs/METHOD.md, "Seeds"), which waits for the other methods' seeds.
    assert_eq!(
        status("flat"),
        ["done", "done", "done", "conditional", "conditional"]
    );
    // the frontier and the paper's vector need no file: still to run; the frontier keeps
    // three seeds, the paper's vector may get two more.
    for m in ["flat@1e-5", "flat@2e-4"] {
        assert_eq!(status(m), ["to_run", "to_run", "to_run"], "{m}");
    }
    assert_eq!(
        status("paper-combined"),
        ["to_run", "to_run", "to_run", "conditional", "conditional"]
    );
    assert!(rows
        .iter()
        .filter(|r| r.2 == "conditional")
        .all(|r| r.1 >= 3 && r.3.starts_with("if the seed rule asks")));
    // the tuned baselines wait for the choice, combined and flat-matched for the combination.
    for m in ["ewc", "wise-ft", "freeze"] {
        assert_eq!(status(m), ["waiting", "waiting", "waiting"], "{m}");
        assert!(rows
            .iter()
            .any(|r| r.0 == m && r.3 == "needs results/tuning/forget.yaml"));
    }
    for m in ["combined", "flat-matched"] {
        assert_eq!(status(m), ["waiting", "waiting", "waiting"], "{m}");
        assert!(rows
            .iter()
            .any(|r| r.0 == m && r.3 == "needs results/combined/forget.yaml"));
    }
    let left = rows
        .iter()
        .filter(|r| r.2 != "done" && r.2 != "conditional")
        .count();
    let waiting = rows.iter().filter(|r| r.2 == "waiting").count();
    let conditional = rows.iter().filter(|r| r.2 == "conditional").count();
    let summary = format!(
        "{left} of {} runs left ({waiting} waiting for a file); about ",
        rows.len() - conditional
    );
    assert!(stderr.contains(&summary), "{summary:?} not in {stderr}");
    let more = format!("; up to {conditional} more if the seed rule asks (about ");
    assert!(stderr.contains(&more), "{more:?} not in {stderr}");
}

#[test]
fn wise_ft_says_it_restores_the_stage_b_of_the_flat_run_before_it() {
    // The config and the tuning choice, no records: flat and WiSE-FT are both to run, and
    // each WiSE-FT run restores the stage B its seed's flat run stores.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for file in ["experiments/qqp_sst2.yaml", "results/tuning/forget.yaml"] {
        std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
        std::fs::copy(workspace().join(file), root.join(file)).unwrap();
    }
    let rows = rows(&dry_run_qqp_sst2(root, &["--methods", "flat,wise-ft"]));
    let of = |m: &str| rows.iter().filter(|r| r.0 == m && r.2 == "to_run").count();
    assert_eq!((of("flat"), of("wise-ft")), (3, 3), "{rows:?}");
    for r in rows.iter().filter(|r| r.2 == "to_run") {
        let restores = r.3 == "restores the stage B a flat run of the batch stores";
        assert_eq!(restores, r.0 == "wise-ft", "{r:?}");
    }
}

#[test]
fn tune_dry_run_lists_every_grid_point_of_every_searched_setting() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let results_arg = results.to_str().unwrap();
    let out = lrdist(
        &workspace(),
        dir.path(),
        &[
            "tune",
            "--dry-run",
            "--settings",
            "sst2_mrpc",
            "--baselines",
            "ewc,freeze",
            "--results",
            results_arg,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows = rows(&out);
    let mut methods: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    methods.sort();
    assert_eq!(
        methods,
        [
            "ewc@1e3", "ewc@1e4", "ewc@1e5", "ewc@1e6", "ewc@1e7", "freeze@0", "freeze@1",
            "freeze@2", "freeze@4"
        ]
    );
    assert!(rows.iter().all(|r| r.1 == 0 && r.2 == "to_run"));
    assert!(
        stderr.contains("9 of 9 runs left; their record files have no measured run"),
        "{stderr}"
    );
    assert!(!results.exists(), "a dry run wrote {}", results.display());
}

#[test]
fn calibrate_dry_run_finds_the_committed_calibration_done() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let calibrate = |results: &Path| {
        lrdist(
            &workspace(),
            dir.path(),
            &[
                "calibrate",
                "--dry-run",
                "--scale",
                "forget",
                "--tasks",
                "rte",
                "--results",
                results.to_str().unwrap(),
            ],
        )
    };
    // Without records every run is to do; with the committed ones, none.
    let out = calibrate(&results);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let todo = rows(&out);
    assert!(!todo.is_empty());
    assert!(todo.iter().all(|r| r.2 == "to_run"), "{todo:?}");
    std::fs::create_dir_all(results.join("calibration")).unwrap();
    std::fs::copy(
        workspace().join("results/calibration/forget-rte.jsonl"),
        results.join("calibration/forget-rte.jsonl"),
    )
    .unwrap();
    let out = calibrate(&results);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let done = rows(&out);
    assert_eq!(done.len(), todo.len());
    assert!(done.iter().all(|r| r.2 == "done"), "{done:?}");
    assert!(
        stderr.contains(&format!("0 of {} runs left", done.len())),
        "{stderr}"
    );
}
