//! Fixture inputs with known numbers, written into a temporary directory.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use lrdist_analysis::Inputs;
use serde_json::json;

/// (method, seed, a1, p_s, p_o) of the fixture's sst2->mrpc runs. Forgetting is a1 - p_o
/// and the objective p_o + p_s, as the train crate writes them.
pub const RUNS: &[(&str, i64, f64, f64, f64)] = &[
    ("flat", 0, 0.90, 0.85, 0.80),
    ("flat", 1, 0.92, 0.86, 0.82),
    ("flat", 2, 0.91, 0.84, 0.81),
    ("llrd", 0, 0.91, 0.84, 0.83),
    ("llrd", 1, 0.94, 0.85, 0.84),
    ("llrd", 2, 0.92, 0.84, 0.85),
    ("ewc", 0, 0.90, 0.80, 0.86),
];

pub fn record(
    scenario: &str,
    method: &str,
    seed: i64,
    a1: f64,
    p_s: f64,
    p_o: f64,
) -> serde_json::Value {
    let rates = vec![2e-5; 8];
    json!({
        "schema": 1, "id": format!("{scenario}-{method}-{seed}"), "kind": "sequence",
        "scenario": scenario, "method": method,
        "distribution_spec": if method == "flat" { "flat:2e-5" } else { method },
        "distribution": {"grouping": "per-layer", "rates": rates, "per_depth": rates,
                         "transferred_from": null},
        "penalty": null, "seed": seed, "scale": "quick", "config_file": "experiments/x.yaml",
        "config": {}, "model": "all-MiniLM-L6-v2", "git_commit": "abc123",
        "command": "lrdist run", "started_at": "2026-11-26T13:00:00Z", "seconds": 10.0,
        "tasks": ["sst2", "mrpc"], "stages": [],
        "matrix": [[a1, null], [p_o, p_s]],
        "metrics": [[{"accuracy": a1}, null], [{"accuracy": p_o}, {"accuracy": p_s}]],
        "a1": a1, "p_s": p_s, "p_o": p_o, "forgetting": a1 - p_o, "objective": p_o + p_s,
        "cl": {"avg_accuracy": (p_o + p_s) / 2.0, "backward_transfer": p_o - a1,
               "forgetting": a1 - p_o}
    })
}

/// Writes `lines` as `results/runs/<name>`.
pub fn write_runs(results: &Path, name: &str, lines: &[String]) {
    let dir = results.join("runs");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
}

/// The fixture's run records: [`RUNS`] in `a.jsonl`, plus in `b.jsonl` a flat-less
/// scenario and one record of another schema.
pub fn write_fixture_runs(results: &Path) {
    let lines: Vec<String> = RUNS
        .iter()
        .map(|&(m, seed, a1, p_s, p_o)| record("sst2->mrpc", m, seed, a1, p_s, p_o).to_string())
        .collect();
    write_runs(results, "a.jsonl", &lines);
    let mut other = record("length-shift:sst2", "llrd", 0, 0.9, 0.9, 0.88);
    let lone = other.to_string();
    other["schema"] = json!(2);
    write_runs(results, "b.jsonl", &[lone, other.to_string()]);
}

/// A study export: trials 0 (flat, complete), 1 (pruned), 2 (best, complete), 3 (failed),
/// 4 (running).
pub const STUDY: &str = "\
study,trial,state,resource,a1,p_s,p_o,objective,seconds,worker,started_at,finished_at,reason,lr_g0,lr_g1,lr_g2
sst2_mrpc,0,complete,3,0.91,0.85,0.80,1.65,1800,w0,t0,t1,,1e-5,1e-5,1e-5
sst2_mrpc,1,pruned,1,0.88,0.70,0.75,1.45,600,w1,t0,t1,rung 1,3e-4,1e-6,2e-5
sst2_mrpc,2,complete,3,0.92,0.84,0.86,1.70,1800,w0,t1,t2,,2e-6,5e-6,3e-5
sst2_mrpc,3,failed,0,,,,,30,w1,t1,t2,out of memory,1e-3,1e-3,1e-3
sst2_mrpc,4,running,1,,,,,,w1,t2,,,1e-7,1e-6,1e-5
";

pub fn write_study(results: &Path) {
    let dir = results.join("search");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("sst2_mrpc.csv"), STUDY).unwrap();
}

pub fn write_combined(results: &Path) {
    let dir = results.join("combined");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("combined.yaml"),
        "name: combined\ngrouping: per-layer\nsource_layers: 6\nrates: [3e-6, 4e-6, 1e-6, 2e-6, 3e-6, 2e-6, 3e-6, 1e-5]\n",
    )
    .unwrap();
    let json = json!({"rates": [3e-6, 4e-6, 1e-6, 2e-6, 3e-6, 2e-6, 3e-6, 1e-5],
        "per_input": [["results/search/sst2_mrpc.csv", [2e-6, 5e-6, 1e-6, 3e-6, 2e-6, 1e-6, 4e-6, 2e-5]]],
        "method": "rank-weighted geometric mean"});
    fs::write(dir.join("combined.json"), json.to_string()).unwrap();
}

pub fn write_embeddings(results: &Path) {
    let dir = results.join("embeddings");
    fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("x,y,cluster,label,split\n");
    for i in 0..40 {
        let (cluster, label) = (i % 2, (i / 2) % 2);
        let x = cluster as f64 * 3.0 + (i as f64 * 0.37).sin();
        let y = label as f64 * 2.0 + (i as f64 * 0.73).cos();
        text.push_str(&format!(
            "{x},{y},{cluster},{label},{}\n",
            if i < 30 { "train" } else { "dev" }
        ));
    }
    fs::write(dir.join("sst2.csv"), text).unwrap();
}

/// A synthetic authors' log: a flat trial, a better one, and an incomplete tail.
pub fn write_authors_log(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let mut values: Vec<String> = vec!["0.9".into(), "0.85".into(), "0.8".into()];
    values.extend(std::iter::repeat_n("1e-05".to_string(), 10));
    values.extend(["0.91", "0.84", "0.86"].map(String::from));
    values.extend((0..10).map(|g| format!("{}e-06", g + 1)));
    values.extend(["0.5", "0.5"].map(String::from));
    fs::write(dir.join("sst2mrpc.log_file.csv"), values.join(",") + ",").unwrap();
}

/// A results directory (named `results`) with every input, and an authors' log folder.
pub fn full_fixture(root: &Path) -> Inputs {
    let results = root.join("results");
    write_fixture_runs(&results);
    write_study(&results);
    write_combined(&results);
    write_embeddings(&results);
    write_forget_runs(&results);
    let logs = root.join("authors-logs");
    write_authors_log(&logs);
    Inputs {
        results,
        authors_logs: Some(logs),
    }
}

/// Flat at the forget scale with an attribution, in `forget.jsonl` (the attribution figure
/// and the regime tables read these).
pub fn write_forget_runs(results: &Path) {
    let lines: Vec<String> = [(0, 0.70, [0.70, 0.72, 0.76]), (1, 0.74, [0.74, 0.78, 0.76])]
        .iter()
        .map(|&(seed, p_o, scores)| {
            let mut r = record("sst2->qnli", "flat", seed, 0.80, 0.78, p_o);
            r["scale"] = json!("forget");
            r["tasks"] = json!(["sst2", "qnli"]);
            r["majority"] = json!([0.51, 0.5]);
            r["attribution"] = json!({"depths": ["embeddings", "layer 0", "heads"],
                                      "scores": scores, "p_o": p_o});
            r.to_string()
        })
        .collect();
    write_runs(results, "forget.jsonl", &lines);
}

/// The CSV rows of a table (footer comment lines dropped), as header → value maps.
pub fn read_table_csv(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = fs::read_to_string(path).unwrap();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            header
                .iter()
                .map(String::from)
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect()
}

pub fn out_dir(root: &Path, name: &str) -> PathBuf {
    root.join(name)
}
