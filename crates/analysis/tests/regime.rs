//! The forget regime's tables on fixture records with known numbers: calibration (best rate
//! per task, the base rate), regime (learned / forgets / criterion per setting) and
//! attribution (p_o recovered per depth).

mod common;

use std::fs;
use std::path::Path;

use lrdist_analysis::{write_table, Inputs};
use serde_json::json;

fn calibration_record(task: &str, rate: &str, seed: i64, a1: f64, majority: f64) -> String {
    let mut r = common::record(task, &format!("flat:{rate}"), seed, a1, 0.0, 0.0);
    r["kind"] = json!("single");
    r["scale"] = json!("forget");
    r["distribution_spec"] = json!(format!("flat:{rate}"));
    r["tasks"] = json!([task]);
    r["p_s"] = json!(null);
    r["p_o"] = json!(null);
    r["majority"] = json!([majority]);
    r.to_string()
}

fn survey_record(
    setting: &str,
    task: &str,
    seed: i64,
    a1: f64,
    p_o: f64,
    majority: f64,
) -> serde_json::Value {
    let mut r = common::record(setting, "flat", seed, a1, 0.8, p_o);
    r["scale"] = json!("forget");
    r["tasks"] = json!([task, "qnli"]);
    r["majority"] = json!([majority, 0.5]);
    r["seconds"] = json!(300.0 + seed as f64);
    r
}

fn inputs(results: &Path) -> Inputs {
    Inputs {
        results: results.to_path_buf(),
        authors_logs: None,
    }
}

#[test]
fn calibration_picks_the_best_rate_per_task_and_the_base_rate() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    fs::create_dir_all(results.join("calibration")).unwrap();
    let lines = [
        calibration_record("sst2", "5e-5", 0, 0.80, 0.51),
        calibration_record("sst2", "5e-5", 1, 0.82, 0.51),
        calibration_record("sst2", "1e-4", 0, 0.84, 0.51),
        calibration_record("sst2", "1e-4", 1, 0.84, 0.51),
        calibration_record("qnli", "5e-5", 0, 0.76, 0.50),
        calibration_record("qnli", "5e-5", 1, 0.77, 0.50),
        calibration_record("qnli", "1e-4", 0, 0.60, 0.50),
        calibration_record("qnli", "1e-4", 1, 0.70, 0.50),
    ];
    fs::write(
        results.join("calibration").join("forget-x.jsonl"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let out = dir.path().join("tables");
    write_table("calibration", &inputs(&results), &out).unwrap();
    let md = fs::read_to_string(out.join("calibration.md")).unwrap();
    let csv = fs::read_to_string(out.join("calibration.csv")).unwrap();
    // sst2: 1e-4 best (.84 > .81); qnli: 5e-5 best (.765 > .65).
    assert!(
        csv.contains("sst2,1e-4,2,0.840000,0.000000,0.510000,true"),
        "{csv}"
    );
    assert!(csv.contains("qnli,5e-5,2,0.765000"), "{csv}");
    assert!(
        csv.contains("qnli,1e-4,2,0.650000") && csv.contains("0.650000,0.070711,0.500000,false"),
        "{csv}"
    );
    // Averages over tasks: 5e-5 (.81 + .765) / 2 = .7875 > 1e-4 (.84 + .65) / 2 = .745.
    assert!(
        md.contains("Base rate of the forget scale: flat 5e-5"),
        "{md}"
    );
    assert!(md.contains("(0.7875)"), "{md}");
}

#[test]
fn regime_marks_each_setting_against_the_criterion() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let mut lines = Vec::new();
    // learned (a1 .80 >= .51 + .10) and forgets (.80 - .72 = .08): meets.
    for seed in 0..3 {
        lines.push(survey_record("sst2->qnli", "sst2", seed, 0.80, 0.72, 0.51).to_string());
    }
    // learned but forgets .02: misses.
    for seed in 0..3 {
        lines.push(survey_record("sst2->mrpc", "sst2", seed, 0.80, 0.78, 0.51).to_string());
    }
    // RTE not learned (.58 < .53 + .10) although it "forgets": misses.
    for seed in 0..3 {
        lines.push(survey_record("rte->qnli", "rte", seed, 0.58, 0.50, 0.53).to_string());
    }
    // A quick-scale flat run and a forget-scale non-flat run are not part of the survey.
    let mut quick = survey_record("qnli->sst2", "qnli", 0, 0.8, 0.6, 0.5);
    quick["scale"] = json!("quick");
    lines.push(quick.to_string());
    let mut other = survey_record("qnli->sst2", "qnli", 0, 0.8, 0.6, 0.5);
    other["method"] = json!("llrd");
    lines.push(other.to_string());
    common::write_runs(&results, "s.jsonl", &lines);
    let out = dir.path().join("tables");
    write_table("regime", &inputs(&results), &out).unwrap();
    let csv = fs::read_to_string(out.join("regime.csv")).unwrap();
    let row = |setting: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("{setting},")))
            .unwrap_or_else(|| panic!("no row {setting}: {csv}"))
            .to_string()
    };
    assert!(
        row("sst2->qnli").ends_with("true,true,true,301.000000"),
        "{csv}"
    );
    assert!(row("sst2->mrpc").contains(",true,false,false,"), "{csv}");
    assert!(row("rte->qnli").contains(",false,true,false,"), "{csv}");
    assert!(!csv.contains("qnli->sst2"), "{csv}");
    let md = fs::read_to_string(out.join("regime.md")).unwrap();
    assert!(md.contains("1 of 3 settings meet the criterion"), "{md}");
}

#[test]
fn regime_counts_the_criterion_per_stage_b_rows_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let spec = |b: Option<u64>| {
        let mut s = json!({"max_train": 2000, "epochs": 2, "batch_size": 8});
        if let Some(b) = b {
            s["stage_b_train"] = json!(b);
        }
        s
    };
    let mut lines = Vec::new();
    // sst2->qnli at B 2000 forgets .03 (misses), at B 4000 .07 (meets).
    for (b, p_o) in [(None, 0.77), (Some(4000), 0.73)] {
        for seed in 0..3 {
            let mut r = survey_record("sst2->qnli", "sst2", seed, 0.80, p_o, 0.51);
            r["scale_spec"] = spec(b);
            lines.push(r.to_string());
        }
    }
    // a shift (no stage-B rows of its own) that meets counts under both candidates.
    for seed in 0..3 {
        let mut r = survey_record("length-shift:sst2", "sst2", seed, 0.80, 0.70, 0.51);
        r["kind"] = json!("length-shift");
        r["scale_spec"] = spec(None);
        lines.push(r.to_string());
    }
    common::write_runs(&results, "s.jsonl", &lines);
    let out = dir.path().join("tables");
    write_table("regime", &inputs(&results), &out).unwrap();
    let md = fs::read_to_string(out.join("regime.md")).unwrap();
    assert!(md.contains("At B rows 2000: 1 of 2 settings meet"), "{md}");
    assert!(md.contains("At B rows 4000: 2 of 2 settings meet"), "{md}");
    assert!(md.contains("| length-shift:sst2 | 3 | split |"), "{md}");
    let csv = fs::read_to_string(out.join("regime.csv")).unwrap();
    let rows: Vec<&str> = csv
        .lines()
        .filter(|l| l.starts_with("sst2->qnli"))
        .collect();
    assert_eq!(rows.len(), 2, "one row per scale spec: {csv}");
    assert!(rows.iter().any(|l| l.contains(",3,4000,")), "{csv}");
    assert!(rows.iter().any(|l| l.contains(",3,2000,")), "{csv}");
}

#[test]
fn attribution_averages_the_recovered_p_o_per_depth() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let mut lines = Vec::new();
    for (seed, p_o, scores) in [(0, 0.70, [0.70, 0.72, 0.76]), (1, 0.74, [0.74, 0.78, 0.76])] {
        let mut r = survey_record("sst2->qnli", "sst2", seed, 0.80, p_o, 0.51);
        r["attribution"] = json!({"depths": ["embeddings", "layer 0", "heads"],
                                  "scores": scores, "p_o": p_o});
        lines.push(r.to_string());
    }
    common::write_runs(&results, "s.jsonl", &lines);
    let out = dir.path().join("tables");
    write_table("attribution", &inputs(&results), &out).unwrap();
    let csv = fs::read_to_string(out.join("attribution.csv")).unwrap();
    // layer 0: (.02 + .04) / 2 = .03; heads: (.06 + .02) / 2 = .04 (largest).
    assert!(
        csv.contains("sst2->qnli,2,0.080000,0.000000,0.030000,0.040000,heads"),
        "{csv}"
    );
}
