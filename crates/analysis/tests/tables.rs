mod common;

use std::fs;

use common::*;
use lrdist_analysis::runs::load_runs;
use lrdist_analysis::{is_missing_input, write_all_tables, write_table, Inputs};

fn num(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column} = {:?}", row[column]))
}

fn assert_close(row: &std::collections::BTreeMap<String, String>, column: &str, expected: f64) {
    let value = num(row, column);
    assert!(
        (value - expected).abs() < 2e-6,
        "{column}: {value} != {expected}"
    );
}

#[test]
fn main_table_means_sds_and_paired_tests() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    write_fixture_runs(&results);
    let inputs = Inputs {
        results,
        authors_logs: None,
    };
    let out = dir.path().join("paper");
    let written = write_table("main", &inputs, &out).unwrap();
    assert_eq!(written, vec![out.join("main.md"), out.join("main.csv")]);

    let rows = read_table_csv(&out.join("main.csv"));
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["scenario"].as_str(), r["method"].as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("length-shift:sst2", "llrd"),
            ("sst2->mrpc", "flat"),
            ("sst2->mrpc", "ewc"),
            ("sst2->mrpc", "llrd")
        ]
    );
    let flat = &rows[1];
    // flat: a1 .90/.92/.91 → .91 ± .01; objective 1.65/1.68/1.65 → 1.66 ± .0173205.
    assert_eq!(flat["seeds"], "3");
    assert_close(flat, "a1_mean", 0.91);
    assert_close(flat, "a1_sd", 0.01);
    assert_close(flat, "objective_mean", 1.66);
    assert_close(flat, "objective_sd", 0.017_320_5);
    assert_eq!(flat["d_p_o_p"], "", "flat is the reference, no test");

    let llrd = &rows[3];
    // llrd p_s .84/.85/.84 → .843333 ± .0057735; a1 .91/.94/.92 → .923333 ± .0152753.
    assert_close(llrd, "p_s_mean", 0.843_333);
    assert_close(llrd, "p_s_sd", 0.005_773_5);
    assert_close(llrd, "a1_sd", 0.015_275_3);
    // Paired by seed. Δp_o = .03/.02/.04: mean .03, sd .01, t = 5.196152 with 2 df;
    // P(T > t) = 1/2 - t / (2 sqrt(2 + t²)), so p = 0.0350987 (= scipy.stats.ttest_rel).
    assert_close(llrd, "d_p_o_mean", 0.03);
    assert_close(llrd, "d_p_o_sd", 0.01);
    assert_eq!(llrd["d_p_o_n"], "3");
    assert_close(llrd, "d_p_o_t", 5.196_152);
    assert_close(llrd, "d_p_o_p", 0.035_098_7);
    // Δp_s = -.01/-.01/0: mean -.0066667, t = -2, p = 2 (1/2 - 2 / (2 sqrt 6)) = 0.1835034.
    assert_close(llrd, "d_p_s_mean", -0.006_666_7);
    assert_close(llrd, "d_p_s_p", 0.183_503_4);
    // Δ(p_o + p_s) = .02/.01/.04: t = 2.6457513 (t² = 7), p = 2 (1/2 - t/6) = 0.1180829.
    assert_close(llrd, "d_objective_p", 0.118_082_9);
    // Δforgetting (a1 - p_o) = -.02/0/-.03: mean -.0166667, sd .0152753, t = -1.8898224
    // (t² = 25/7), p = 2 (1/2 - |t| / (2 sqrt(2 + t²))) = 0.1993587.
    assert_close(llrd, "d_forgetting_mean", -0.016_666_7);
    assert_close(llrd, "d_forgetting_p", 0.199_358_7);

    let ewc = &rows[2];
    assert_eq!(ewc["d_p_o_n"], "1");
    assert_close(ewc, "d_p_o_mean", 0.06);
    assert_eq!(ewc["d_p_o_p"], "", "one seed: no test");
    let lone = &rows[0];
    assert_eq!(lone["d_p_o_mean"], "", "no flat run in that scenario");

    let md = fs::read_to_string(out.join("main.md")).unwrap();
    assert!(
        md.contains("| sst2->mrpc | llrd | quick | 3 | 0.9233 ± 0.0153 | 0.8433 ± 0.0058 |"),
        "{md}"
    );
    assert!(md.contains("+0.0300 (p=0.0351, n=3)"), "{md}");
    assert!(md.contains("+0.0600 (n=1, no test)"), "{md}");
    assert!(md.contains("no flat pair"), "{md}");
    // The footer names the record files and counts, and the skipped record.
    assert!(
        md.contains("8 run records from results/runs/a.jsonl (7), results/runs/b.jsonl (1); git commits abc123; skipped (another schema): 1"),
        "{md}"
    );
    let csv = fs::read_to_string(out.join("main.csv")).unwrap();
    assert!(
        csv.contains("# Source: 8 run records from results/runs/a.jsonl (7)"),
        "{csv}"
    );
}

#[test]
fn cl_table_compares_matrix_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    write_fixture_runs(&results);
    let out = dir.path().join("paper");
    write_table(
        "cl",
        &Inputs {
            results,
            authors_logs: None,
        },
        &out,
    )
    .unwrap();
    let rows = read_table_csv(&out.join("cl.csv"));
    let llrd = rows
        .iter()
        .find(|r| r["scenario"] == "sst2->mrpc" && r["method"] == "llrd")
        .unwrap();
    // Backward transfer = p_o - a1: flat -.10/-.10/-.10, llrd -.08/-.10/-.07; Δ .02/0/.03,
    // mean .0166667.
    assert_close(llrd, "d_cl_backward_transfer_mean", 0.016_666_7);
    // Average accuracy (p_o + p_s)/2: Δ = Δobjective / 2, same t, p = 0.1180829.
    assert_close(llrd, "d_cl_avg_accuracy_p", 0.118_082_9);
}

#[test]
fn tables_are_byte_identical_across_runs_and_locations() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = full_fixture(first.path());
    let b = full_fixture(second.path());
    let out_a = first.path().join("paper");
    let out_b = second.path().join("paper");
    let written = write_all_tables(&a, &out_a).unwrap();
    write_all_tables(&b, &out_b).unwrap();
    write_all_tables(&a, &first.path().join("again")).unwrap();
    // main, cl, unseen (the forget scale's held-out settings), search, authors, regime,
    // attribution, forget, forget-summary, frontier, sequence, tuning, search-forget
    // (calibration has no input).
    assert_eq!(written.len(), 26, "{written:?}");
    for path in written {
        let name = path.file_name().unwrap();
        let bytes = fs::read(&path).unwrap();
        assert!(!bytes.is_empty());
        assert_eq!(
            bytes,
            fs::read(out_b.join(name)).unwrap(),
            "{name:?} differs"
        );
        assert_eq!(
            bytes,
            fs::read(first.path().join("again").join(name)).unwrap()
        );
    }
}

#[test]
fn search_table_counts_states_and_finds_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    write_study(&results);
    let out = dir.path().join("paper");
    write_table(
        "search",
        &Inputs {
            results,
            authors_logs: None,
        },
        &out,
    )
    .unwrap();
    let rows = read_table_csv(&out.join("search.csv"));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    let counts: Vec<&str> = [
        "trials", "complete", "pruned", "failed", "running", "queued",
    ]
    .iter()
    .map(|c| row[*c].as_str())
    .collect();
    assert_eq!(counts, ["5", "2", "1", "1", "1", "0"]);
    assert_eq!(row["best_trial"], "2");
    assert_close(row, "objective", 1.70);
    assert_close(row, "p_o", 0.86);
    // 1800 + 600 + 1800 + 30 s (the running trial has none) = 4230 s = 1.175 h.
    assert_close(row, "hours", 1.175);
}

#[test]
fn authors_table_compares_flat_and_best() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = full_fixture(dir.path());
    let out = dir.path().join("paper");
    write_table("authors", &inputs, &out).unwrap();
    let rows = read_table_csv(&out.join("authors.csv"));
    let who: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["pair"].as_str(), r["who"].as_str()))
        .collect();
    assert_eq!(who, [("sst2mrpc", "authors"), ("sst2mrpc", "ours")]);
    // Authors' log: flat .9/.85/.8, best .91/.84/.86 (the incomplete tail is dropped).
    assert_close(&rows[0], "d_p_o", 0.06);
    assert_close(&rows[0], "d_p_s", -0.01);
    assert_eq!(rows[0]["trials"], "2 of 2");
    // Ours: flat trial 0 (.80/.85), best trial 2 (.86/.84).
    assert_close(&rows[1], "d_p_o", 0.06);
    assert_close(&rows[1], "d_p_s", -0.01);
}

#[test]
fn missing_inputs_are_reported_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = Inputs {
        results: dir.path().join("results"),
        authors_logs: None,
    };
    let out = dir.path().join("paper");
    for name in lrdist_analysis::table_names() {
        let err = write_table(name, &inputs, &out).unwrap_err();
        assert!(is_missing_input(&err), "{name}: {err:#}");
    }
    let err = write_table("main", &inputs, &out).unwrap_err();
    assert!(format!("{err}").contains("no run records in"), "{err}");
    assert!(write_all_tables(&inputs, &out).unwrap().is_empty());
    assert!(!out.exists(), "nothing is written without inputs");
    assert!(write_table("nope", &inputs, &out).is_err());
}

#[test]
fn malformed_and_duplicate_records_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    let good = record("a->b", "flat", 0, 0.9, 0.8, 0.7).to_string();
    write_runs(
        &results,
        "a.jsonl",
        &[good.clone(), "{not json".to_string()],
    );
    let err = load_runs(&results).unwrap_err();
    assert!(format!("{err:#}").contains("a.jsonl:2"), "{err:#}");

    write_runs(&results, "a.jsonl", &[good.clone(), good]);
    let err = load_runs(&results).unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("results/runs/a.jsonl:1") && message.contains("results/runs/a.jsonl:2"),
        "{message}"
    );
}

#[test]
fn load_runs_gives_one_flat_row_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    write_fixture_runs(&results);
    let frame = load_runs(&results).unwrap();
    assert_eq!(frame.height(), 8, "the record of schema 2 is skipped");
    for column in [
        "scenario",
        "method",
        "seed",
        "a1",
        "p_s",
        "p_o",
        "forgetting",
        "objective",
        "cl_backward_transfer",
    ] {
        assert!(frame.column(column).is_ok(), "{column}");
    }
}

#[test]
fn unseen_table_counts_settings_and_leaves_out_searched_ones() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    // A study of sst2_mrpc: the sst2->mrpc records are left out.
    write_study(&results);
    // Flat per seed: (p_s, p_o); every method changes them by the given offsets.
    let flat = [(0.80, 0.80), (0.82, 0.81), (0.81, 0.82)];
    let mut lines = Vec::new();
    let mut add = |scenario: &str, method: &str, offsets: &[(f64, f64)]| {
        for (seed, ((p_s, p_o), (ds, dp))) in flat.iter().zip(offsets).enumerate() {
            let r = record(scenario, method, seed as i64, 0.9, p_s + ds, p_o + dp);
            lines.push(r.to_string());
        }
    };
    for scenario in ["sst2->mrpc", "a->b", "c->d", "e->f", "g->h", "i->j"] {
        add(scenario, "flat", &[(0.0, 0.0); 3]);
    }
    // Searched: would be a fourth, significantly better setting.
    add(
        "sst2->mrpc",
        "combined",
        &[(0.0, 0.05), (0.0, 0.06), (0.0, 0.07)],
    );
    // Δp_o .03/.02/.04: significantly better (p = .0351, see the main-table test).
    add("a->b", "combined", &[(0.0, 0.03), (0.0, 0.02), (0.0, 0.04)]);
    // Δp_o .05/-.01/.02: mean .02, sd .03, t = 1.1547, p = .368: better, not significantly.
    add(
        "c->d",
        "combined",
        &[(0.0, 0.05), (0.0, -0.01), (0.0, 0.02)],
    );
    // Δp_s -.01/-.02/-.03, p_o unchanged: worse on the objective, a tie on p_o.
    add(
        "e->f",
        "combined",
        &[(-0.01, 0.0), (-0.02, 0.0), (-0.03, 0.0)],
    );
    // One seed only: no paired test, so the setting does not count.
    add("g->h", "combined", &[(0.1, 0.1)]);
    // Identical to flat in every seed: a tie.
    add("i->j", "ewc", &[(0.0, 0.0); 3]);
    // Seeds that trade p_s for p_o point for point (real scores from a length-shift run):
    // Δ(p_o + p_s) is -2.2e-16 / 3 in floating point, a tie; Δp_o .0/.005/.005 is better.
    for (seed, (flat, l2sp)) in [
        ((0.725, 0.79), (0.72, 0.79)),
        ((0.715, 0.8), (0.71, 0.805)),
        ((0.705, 0.81), (0.705, 0.815)),
    ]
    .into_iter()
    .enumerate()
    {
        for (method, (p_s, p_o)) in [("flat", flat), ("l2sp", l2sp)] {
            lines.push(record("k->l", method, seed as i64, 0.9, p_s, p_o).to_string());
        }
    }
    write_runs(&results, "runs.jsonl", &lines);

    let out = dir.path().join("paper");
    write_table(
        "unseen",
        &Inputs {
            results,
            authors_logs: None,
        },
        &out,
    )
    .unwrap();
    let rows = read_table_csv(&out.join("unseen.csv"));
    let methods: Vec<&str> = rows.iter().map(|r| r["method"].as_str()).collect();
    assert_eq!(methods, ["combined", "ewc", "l2sp"]);

    let combined = &rows[0];
    assert_eq!(combined["settings"], "3");
    assert_eq!(combined["scenarios"], "a->b;c->d;e->f");
    assert_eq!(
        (
            combined["seeds_min"].as_str(),
            combined["seeds_max"].as_str()
        ),
        ("3", "3")
    );
    // Objective: Δ .03, .02, -.02 → mean .01; 2 better (1 significantly), 1 worse;
    // sign test 2 P(X <= 1 | n = 3) = 2 x 4/8, capped at 1.
    assert_close(combined, "d_objective_mean", 0.01);
    let counts = |row: &std::collections::BTreeMap<String, String>, m: &str| {
        ["better", "worse", "sig_better", "sig_worse"].map(|s| row[&format!("d_{m}_{s}")].clone())
    };
    assert_eq!(counts(combined, "objective"), ["2", "1", "1", "0"]);
    assert_close(combined, "d_objective_sign_p", 1.0);
    // p_o: Δ .03, .02, 0 → mean .0166667; the tie is left out: 2 P(X <= 0 | n = 2) = .5.
    assert_close(combined, "d_p_o_mean", 0.016_666_7);
    assert_eq!(counts(combined, "p_o"), ["2", "0", "1", "0"]);
    assert_close(combined, "d_p_o_sign_p", 0.5);

    let ewc = &rows[1];
    assert_eq!(ewc["settings"], "1");
    assert_eq!(counts(ewc, "objective"), ["0", "0", "0", "0"]);
    assert_eq!(ewc["d_objective_sign_p"], "", "all ties: no test");

    let l2sp = &rows[2];
    assert_eq!(counts(l2sp, "objective"), ["0", "0", "0", "0"]);
    assert_eq!(counts(l2sp, "p_o"), ["1", "0", "0", "0"]);

    let md = fs::read_to_string(out.join("unseen.md")).unwrap();
    assert!(md.contains("left out here: sst2->mrpc"), "{md}");
    assert!(
        md.contains("| combined | quick | 3 | 3 | +0.0100 | 2 / 1 (1 / 0) | 1.0000 |"),
        "{md}"
    );
}
