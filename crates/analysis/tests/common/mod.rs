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
        "penalty": null, "seed": seed, "scale": "quick",
        "scale_spec": {"max_train": 1000, "max_dev": 400, "epochs": 2, "batch_size": 8},
        "config_file": "experiments/x.yaml", "model": "all-MiniLM-L6-v2",
        "model_dir": "models/all-MiniLM-L6-v2", "device": "cpu", "threads": 2,
        "git_commit": "abc123", "command": "lrdist run", "started_at": "2026-11-26T13:00:00Z",
        "seconds": 10.0, "tasks": ["sst2", "mrpc"], "dev_sources": {}, "stages": [],
        "matrix": [[a1, null], [p_o, p_s]],
        "metrics": [[{"accuracy": a1}, null], [{"accuracy": p_o}, {"accuracy": p_s}]],
        "a1": a1, "p_s": p_s, "p_o": p_o, "forgetting": a1 - p_o, "objective": p_o + p_s,
        "cl": {"avg_accuracy": (p_o + p_s) / 2.0, "backward_transfer": p_o - a1,
               "forgetting": a1 - p_o},
        "stopped_early": false, "stage1_cached": false
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
sst2_mrpc,0,complete,3,0.91,0.85,0.80,1.65,1800,w0,1700000000.000,1700001800.000,,1e-5,1e-5,1e-5
sst2_mrpc,1,pruned,1,0.88,0.70,0.75,1.45,600,w1,1700000000.000,1700001800.000,rung 1,3e-4,1e-6,2e-5
sst2_mrpc,2,complete,3,0.92,0.84,0.86,1.70,1800,w0,1700001800.000,1700003600.000,,2e-6,5e-6,3e-5
sst2_mrpc,3,failed,0,,,,,30,w1,1700001800.000,1700003600.000,out of memory,1e-3,1e-3,1e-3
sst2_mrpc,4,running,1,,,,,,w1,1700003600.000,,,1e-7,1e-6,1e-5
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
    write_forget_evaluation(&results);
    write_forget_studies(&results);
    write_tuning(&results);
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
            let mut r = forget_record("sst2->qnli", "flat", seed, 0.80, 0.78, p_o);
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

// --- The forget-scale evaluation (synthetic records in the run-record format) ---
//
// Test inputs only: every number below is made up so that the tables' results can be
// computed by hand (the tests in tests/forget.rs do). They are written into temporary
// directories, never into results/ or paper/.

/// A forget-scale record of a two-stage scenario: `record` at scale `forget`, with the
/// stage-2-only scale spec and the distribution a method of that name would have.
pub fn forget_record(
    scenario: &str,
    method: &str,
    seed: i64,
    a1: f64,
    p_s: f64,
    p_o: f64,
) -> serde_json::Value {
    let mut r = record(scenario, method, seed, a1, p_s, p_o);
    r["scale"] = json!("forget");
    r["kind"] = json!(if scenario.starts_with("embedding-shift") {
        "embedding-shift"
    } else {
        "pair"
    });
    r["scale_spec"] = json!({"max_train": 2000, "max_dev": 400, "epochs": 2, "batch_size": 8,
        "base_rate": 1e-4, "stage2_only": true});
    let rate = match method {
        "flat" => Some(1e-4),
        m => m.strip_prefix("flat@").and_then(|r| r.parse::<f64>().ok()),
    };
    if let Some(rate) = rate {
        let rates = vec![rate; 8];
        r["distribution_spec"] = json!(format!("flat:{rate:e}"));
        r["distribution"] = json!({"grouping": "per-layer", "rates": rates, "per_depth": rates,
                                   "transferred_from": null});
    }
    r["stage1_distribution_spec"] = json!("flat:1e-4");
    r["stage1_cached"] = json!(true);
    r
}

/// A forget-scale record of the four-task sequence with accuracy matrix `matrix` (rows of
/// the lower triangle); a1, p_s, p_o and forgetting as the train crate derives them, `cl`
/// left empty.
pub fn sequence_record(method: &str, seed: i64, matrix: &[&[f64]]) -> serde_json::Value {
    let n = matrix.len();
    let full: Vec<Vec<Option<f64>>> = matrix
        .iter()
        .map(|row| (0..n).map(|j| row.get(j).copied()).collect())
        .collect();
    let (a1, p_s, p_o) = (matrix[0][0], matrix[n - 1][n - 1], matrix[n - 1][0]);
    let mut r = forget_record("rte->mrpc->cola->sst2", method, seed, a1, p_s, p_o);
    r["kind"] = json!("sequence");
    r["tasks"] = json!(["rte", "mrpc", "cola", "sst2"]);
    r["matrix"] = json!(full);
    r["cl"] = json!(null);
    r
}

/// Per seed (p_s, p_o) of one method.
type Scores<'a> = &'a [(f64, f64)];

/// The forget-scale evaluation fixture, `results/runs/forget_eval.jsonl`, next to the flat
/// runs of `write_forget_runs` (sst2->qnli, seeds 0 and 1: a1 .80, p_s .78, p_o .70 / .74):
///
/// - held out: sst2->qnli (seeds 0-1), qnli->sst2 (0-2), embedding-shift:sst2 (0-1) and the
///   sequence rte->mrpc->cola->sst2 (0-1), each with flat, flat@<rate> points and methods;
/// - searched: sst2->mrpc (a study export in results/search/forget) and mrpc->sst2 (only a
///   store, `mrpc_sst2.sqlite`), where combined does very well / badly: left out of the
///   summary either way.
pub fn write_forget_evaluation(results: &Path) {
    let mut lines: Vec<String> = Vec::new();
    // The records of `methods` (each with its per-seed scores) in `scenario`.
    let mut add = |scenario: &str, a1: &[f64], methods: &[(&str, Scores)]| {
        for &(method, scores) in methods {
            for (seed, (&(p_s, p_o), &a1)) in scores.iter().zip(a1).enumerate() {
                lines.push(forget_record(scenario, method, seed as i64, a1, p_s, p_o).to_string());
            }
        }
    };
    // sst2->qnli: flat is in forget.jsonl. Curve (p_s, p_o): (.70, .78), (.74, .76),
    // (.76, .74), (.78, .72) flat, (.80, .66).
    add(
        "sst2->qnli",
        &[0.80, 0.80],
        &[
            ("flat@1e-5", &[(0.70, 0.77), (0.70, 0.79)]),
            ("flat@2e-5", &[(0.74, 0.76), (0.74, 0.76)]),
            ("flat@5e-5", &[(0.76, 0.74), (0.76, 0.74)]),
            ("flat@2e-4", &[(0.80, 0.66), (0.80, 0.66)]),
            ("combined", &[(0.76, 0.75), (0.78, 0.77)]),
            ("llrd", &[(0.72, 0.76), (0.72, 0.78)]),
            ("ewc", &[(0.82, 0.71), (0.82, 0.73)]),
        ],
    );
    // qnli->sst2. Curve: (.70, .78), (.74, .76), (.77, .73), (.80, .70) flat, (.82, .62).
    add(
        "qnli->sst2",
        &[0.82, 0.84, 0.80],
        &[
            ("flat", &[(0.80, 0.70), (0.81, 0.72), (0.79, 0.68)]),
            ("flat@1e-5", &[(0.70, 0.78), (0.70, 0.80), (0.70, 0.76)]),
            ("flat@2e-5", &[(0.74, 0.76), (0.74, 0.78), (0.74, 0.74)]),
            ("flat@5e-5", &[(0.77, 0.73), (0.77, 0.75), (0.77, 0.71)]),
            ("flat@2e-4", &[(0.82, 0.62), (0.82, 0.64), (0.82, 0.60)]),
            ("combined", &[(0.79, 0.75), (0.80, 0.76), (0.78, 0.74)]),
            ("llrd", &[(0.72, 0.77), (0.72, 0.80), (0.72, 0.74)]),
            ("ewc", &[(0.80, 0.69), (0.81, 0.72), (0.79, 0.66)]),
        ],
    );
    // embedding-shift:sst2. Curve: (.70, .83), (.78, .79), (.81, .76) flat, (.83, .70).
    add(
        "embedding-shift:sst2",
        &[0.85, 0.87],
        &[
            ("flat", &[(0.80, 0.75), (0.82, 0.77)]),
            ("flat@1e-5", &[(0.70, 0.82), (0.70, 0.84)]),
            ("flat@5e-5", &[(0.78, 0.78), (0.78, 0.80)]),
            ("flat@2e-4", &[(0.83, 0.69), (0.83, 0.71)]),
            ("combined", &[(0.79, 0.74), (0.81, 0.75)]),
            ("llrd", &[(0.75, 0.80)]),
        ],
    );
    // Searched settings.
    add(
        "sst2->mrpc",
        &[0.90, 0.92],
        &[
            ("flat", &[(0.80, 0.80), (0.82, 0.82)]),
            ("combined", &[(0.80, 0.88), (0.82, 0.91)]),
        ],
    );
    add(
        "mrpc->sst2",
        &[0.80, 0.80],
        &[
            ("flat", &[(0.80, 0.70), (0.80, 0.72)]),
            ("combined", &[(0.80, 0.60), (0.80, 0.61)]),
        ],
    );
    // The sequence: flat and combined by hand (tests/forget.rs computes their metrics),
    // the frontier points with filler cells.
    // Each matrix as its lower triangle read row by row (1, 2, 3 and 4 entries).
    let seq: [(&str, i64, [f64; 10]); 4] = [
        (
            "flat",
            0,
            [0.70, 0.66, 0.80, 0.72, 0.76, 0.40, 0.60, 0.74, 0.30, 0.90],
        ),
        (
            "flat",
            1,
            [0.72, 0.70, 0.82, 0.66, 0.78, 0.42, 0.64, 0.76, 0.34, 0.92],
        ),
        (
            "combined",
            0,
            [0.70, 0.69, 0.79, 0.68, 0.78, 0.39, 0.67, 0.77, 0.36, 0.89],
        ),
        (
            "combined",
            1,
            [0.72, 0.71, 0.81, 0.70, 0.80, 0.41, 0.69, 0.79, 0.38, 0.91],
        ),
    ];
    for (method, seed, t) in seq {
        let mut r = sequence_record(method, seed, &[&t[..1], &t[1..3], &t[3..6], &t[6..]]);
        if (method, seed) == ("flat", 0) {
            // As the train crate writes it: avg acc, BWT, max-drop forgetting.
            r["cl"] = json!({"avg_accuracy": 0.635, "backward_transfer": -0.26 / 3.0,
                             "forgetting": 0.28 / 3.0});
        }
        lines.push(r.to_string());
    }
    for (method, p_s, p_o) in [
        ("flat@1e-5", 0.80, [0.67, 0.69]),
        ("flat@2e-4", 0.95, [0.54, 0.56]),
    ] {
        for (seed, a1) in [(0, 0.70), (1, 0.72)] {
            let p_o = p_o[seed as usize];
            let matrix: [&[f64]; 4] = [&[a1], &[0.6, 0.7], &[0.6, 0.7, 0.3], &[p_o, 0.7, 0.3, p_s]];
            lines.push(sequence_record(method, seed, &matrix).to_string());
        }
    }
    write_runs(results, "forget_eval.jsonl", &lines);
}

/// The forget scale's studies: an export of sst2_mrpc (trials of STUDY, with 8 groups) and
/// a bare store file for mrpc_sst2 (a placeholder, not a database: only its name is read).
pub fn write_forget_studies(results: &Path) {
    let dir = results.join("search").join("forget");
    fs::create_dir_all(&dir).unwrap();
    let study = "\
study,trial,state,resource,a1,p_s,p_o,objective,seconds,worker,started_at,finished_at,reason,lr_g0,lr_g1,lr_g2,lr_g3,lr_g4,lr_g5,lr_g6,lr_g7
sst2_mrpc,0,complete,2,0.90,0.80,0.80,1.60,900,w0,1700000000.000,1700001800.000,,1e-4,1e-4,1e-4,1e-4,1e-4,1e-4,1e-4,1e-4
sst2_mrpc,1,pruned,1,0.90,0.70,0.75,1.45,300,w1,1700000000.000,1700001800.000,rung 1,3e-4,1e-6,2e-5,1e-5,1e-5,1e-5,1e-5,1e-5
sst2_mrpc,2,complete,2,0.90,0.79,0.86,1.65,900,w0,1700001800.000,1700003600.000,,2e-6,5e-6,3e-5,1e-5,2e-5,4e-5,6e-5,1e-4
sst2_mrpc,3,complete,2,0.90,0.83,0.78,1.61,900,w1,1700001800.000,1700003600.000,,1e-5,1e-5,1e-5,2e-5,2e-5,5e-5,1e-4,2e-4
";
    fs::write(dir.join("sst2_mrpc.csv"), study).unwrap();
    fs::write(
        dir.join("mrpc_sst2.sqlite"),
        "test fixture: stands for a store\n",
    )
    .unwrap();
}

/// Tuning records, `results/tuning/forget/{sst2_mrpc,mrpc_sst2}.jsonl`, seeds 0 and 1:
///
/// - ewc@1e4: p_o + p_s 1.60, 1.62 | 1.50, 1.52 → mean 1.56;
/// - ewc@1e6: 1.62, 1.64 | 1.50, 1.54 → 1.575, chosen;
/// - llrd@0.8: 1.62, 1.62 | 1.52, 1.52 → 1.57, chosen;
/// - llrd@0.9: 1.66, 1.66 | (no runs) → incomplete, not chosen although higher;
///
/// and `lrdist tune`'s choice file agreeing with it.
pub fn write_tuning(results: &Path) {
    let dir = results.join("tuning").join("forget");
    fs::create_dir_all(&dir).unwrap();
    // Per grid point: (p_s, p_o) of seeds 0 and 1 on sst2->mrpc, then on mrpc->sst2.
    type Seeds = [(f64, f64); 2];
    let grid: [(&str, Seeds, Option<Seeds>); 4] = [
        (
            "ewc@1e4",
            [(0.80, 0.80), (0.82, 0.80)],
            Some([(0.80, 0.70), (0.80, 0.72)]),
        ),
        (
            "ewc@1e6",
            [(0.78, 0.84), (0.80, 0.84)],
            Some([(0.76, 0.74), (0.78, 0.76)]),
        ),
        (
            "llrd@0.8",
            [(0.80, 0.82), (0.80, 0.82)],
            Some([(0.80, 0.72), (0.80, 0.72)]),
        ),
        ("llrd@0.9", [(0.82, 0.84), (0.82, 0.84)], None),
    ];
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (method, first, second) in grid {
        for seed in 0..2 {
            let (p_s, p_o) = first[seed];
            a.push(forget_record("sst2->mrpc", method, seed as i64, 0.9, p_s, p_o).to_string());
            if let Some(second) = second {
                let (p_s, p_o) = second[seed];
                b.push(forget_record("mrpc->sst2", method, seed as i64, 0.8, p_s, p_o).to_string());
            }
        }
    }
    fs::write(dir.join("sst2_mrpc.jsonl"), a.join("\n") + "\n").unwrap();
    fs::write(dir.join("mrpc_sst2.jsonl"), b.join("\n") + "\n").unwrap();
    let choice = "\
# Written by `lrdist tune` (test fixture)
tuning: experiments/tuning.yaml
scale: forget
objective: mean of p_o + p_s over settings x seeds
settings: [sst2_mrpc, mrpc_sst2]
seeds: [0, 1]
methods: []
scores:
  - {baseline: ewc, candidate: ewc@1e4, objective: 1.56, runs: 4, chosen: false}
  - {baseline: ewc, candidate: ewc@1e6, objective: 1.575, runs: 4, chosen: true}
  - {baseline: llrd, candidate: llrd@0.8, objective: 1.57, runs: 4, chosen: true}
";
    fs::write(results.join("tuning").join("forget.yaml"), choice).unwrap();
}
