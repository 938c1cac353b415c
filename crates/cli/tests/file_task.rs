//! Tasks of your own (`--train FILE --dev FILE`, or `{name, train, dev, ...}` in an
//! experiment file) through the binary: bad files exit 2 with one line naming the file,
//! the line and the column, and write nothing (no record, no model folder, no study, no
//! stage-1 cache entry); a good file task fine-tunes, saves with its own label set, runs
//! as task A of a pair through the stage-1 cache (re-trained when a file changes), and its
//! saved model predicts. The data are a few GLUE rows written as CSV and JSONL; no GLUE
//! folder is given to the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{assert_success, glue, glue_rows, model, read_jsonl};

/// `lrdist ARGS` in `dir` on one thread, with the default model unless ARGS name one,
/// without a GLUE folder.
fn lrdist(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lrdist"));
    cmd.current_dir(dir)
        .args(args)
        .args(["--threads", "1", "-q"])
        .env_remove("GLUE_DIR")
        .env("LRDIST_CACHE", dir.join("cache"));
    if !args.contains(&"--model") {
        cmd.arg("--model").arg(model());
    }
    cmd.output().unwrap()
}

/// The flags of a task of your own: `train` and `dev` files, text column `review`, label
/// column `sentiment`.
fn task_args<'a>(train: &'a str, dev: &'a str) -> [&'a str; 8] {
    [
        "--train",
        train,
        "--dev",
        dev,
        "--text-column",
        "review",
        "--label-column",
        "sentiment",
    ]
}

/// `lrdist ARGS` (as [`lrdist`]) that must succeed.
fn lrdist_ok(dir: &Path, args: &[&str]) -> Output {
    let out = lrdist(dir, args);
    assert_success(&out);
    out
}

/// SST-2 rows as a CSV of `review,sentiment` with string labels (`negative`, `positive`).
fn write_reviews(path: &Path, skip: usize, n: usize) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["id", "review", "sentiment"]).unwrap();
    for (i, row) in glue_rows("SST-2/train.tsv", 0..skip + n)
        .iter()
        .enumerate()
        .skip(skip)
    {
        let label = if row[1] == "1" {
            "positive"
        } else {
            "negative"
        };
        w.write_record([i.to_string().as_str(), row[0].trim(), label])
            .unwrap();
    }
    w.flush().unwrap();
}

/// STS-B rows as JSONL `{"a", "b", "score"}` (a regression pair task).
fn write_similarity(path: &Path, n: usize) {
    let lines: Vec<String> = glue_rows("STS-B/train.tsv", 0..n)
        .iter()
        .map(|r| {
            let score: f64 = r[9].parse().unwrap();
            serde_json::json!({"a": r[7], "b": r[8], "score": score}).to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn assert_bad_input(out: &Output, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(want), "{want:?} not in {stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bad_task_files_exit_2_naming_file_line_and_column_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
    write(
        "train.csv",
        "review,sentiment\ngood film,positive\ndull film,negative\n",
    );
    write("dev.csv", "review,sentiment\nfine,positive\n");
    write(
        "empty.csv",
        "review,sentiment\ngood film,positive\n\"  \",negative\n",
    );
    write("unseen.jsonl", "{\"review\": \"ok\", \"sentiment\": \"positive\"}\n{\"review\": \"meh\", \"sentiment\": \"neutral\"}\n");
    write(
        "scores.tsv",
        "review\tsentiment\ngood film\t4.5\ndull film\tlow\n",
    );
    write("pair.yaml", "name: mine\nscenario:\n  kind: pair\n  first: {name: mine, train: train.csv, dev: unseen.jsonl, text: review, label: sentiment}\n  second: {name: again, train: train.csv, dev: dev.csv, text: review, label: sentiment}\nscales:\n  tiny: {max_train: 8, max_dev: 8, epochs: 1, batch_size: 4}\n");
    let before = files_under(d);

    // `finetune` of (train, dev, extra flags) and what its one line says.
    let finetunes: [(&str, &str, &[&str], &str); 4] = [
        // A missing column.
        (
            "train.csv",
            "dev.csv",
            &["--text-pair-column", "second"],
            "train.csv:1: no column `second` (the header has: review, sentiment)",
        ),
        // An empty text.
        (
            "empty.csv",
            "dev.csv",
            &[],
            "empty.csv:3: column `review` is empty",
        ),
        // A dev label the train file does not have.
        (
            "train.csv",
            "unseen.jsonl",
            &[],
            "unseen.jsonl:2: column `sentiment`: label \"neutral\" is not in the label set of the train file (negative, positive)",
        ),
        // A regression label that is not a number.
        (
            "scores.tsv",
            "dev.csv",
            &["--regression"],
            "scores.tsv:3: column `sentiment`: \"low\" is not a number",
        ),
    ];
    for (train, dev, extra, want) in finetunes {
        let mut args = vec!["finetune"];
        args.extend(task_args(train, dev));
        args.extend(["--epochs", "1", "--save", "saved"]);
        args.extend_from_slice(extra);
        assert_bad_input(&lrdist(d, &args), want);
    }
    // `run`, with a record, a model folder and the stage-1 cache asked for.
    let mut run = vec!["run", "--scenario", "length-shift:empty"];
    run.extend(task_args("empty.csv", "dev.csv"));
    run.extend(["--stage2-only", "--record", "run.jsonl", "--save", "saved"]);
    assert_bad_input(&lrdist(d, &run), "empty.csv:3: column `review` is empty");
    // The experiment file's pair through `run`, and `search`: no record, no study, no
    // store file.
    let pair = ["--config", "pair.yaml", "--scale", "tiny"];
    for (command, extra) in [
        ("run", &["--record", "run.jsonl"][..]),
        ("search", &["--trials", "2", "--study", "s.sqlite"][..]),
    ] {
        let mut args = vec![command];
        args.extend(pair);
        args.extend_from_slice(extra);
        assert_bad_input(&lrdist(d, &args), "unseen.jsonl:2: column `sentiment`");
    }
    assert_eq!(files_under(d), before, "an input error writes nothing");
}

#[test]
fn a_file_task_finetunes_saves_its_labels_runs_through_the_stage1_cache_and_predicts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_reviews(&d.join("train.csv"), 0, 48);
    write_reviews(&d.join("dev.csv"), 48, 24);

    let mut args = vec!["finetune"];
    args.extend(task_args("train.csv", "dev.csv"));
    args.extend([
        "--task-name",
        "reviews",
        "--epochs",
        "1",
        "--head",
        "pooler",
        "--save",
        "saved",
    ]);
    let out = lrdist_ok(d, &args);
    let report: Value = serde_json::from_str(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["task"], "reviews");
    assert_eq!(
        (report["train_rows"].as_u64(), report["dev_rows"].as_u64()),
        (Some(48), Some(24))
    );
    let metrics = report["metrics"].as_object().unwrap();
    assert_eq!(metrics.keys().collect::<Vec<_>>(), ["accuracy", "macro_f1"]);
    let f = &report["file_task"];
    assert_eq!(
        f["labels"]["classes"],
        serde_json::json!(["negative", "positive"])
    );
    assert_eq!(f["task"]["text"], "review");
    assert_eq!(f["train_sha256"].as_str().unwrap().len(), 64);
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("saved/config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["id2label"],
        serde_json::json!({"0": "negative", "1": "positive"})
    );

    std::fs::write(
        d.join("new.csv"),
        "review\n\"a wonderful, moving film\"\nan awful mess\n",
    )
    .unwrap();
    lrdist_ok(
        d,
        &[
            "predict",
            "--model",
            "saved",
            "--input",
            "new.csv",
            "--text-column",
            "review",
            "-o",
            "p.jsonl",
        ],
    );
    let lines = read_jsonl(&d.join("p.jsonl"));
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert!(
            ["negative", "positive"].contains(&l["label"].as_str().unwrap()),
            "{l}"
        );
        let p = l["probabilities"].as_object().unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["negative", "positive"]);
    }

    // A pair of two file tasks (classification, then regression on pairs) in an experiment
    // file, stage 2 only: the second run restores stage 1, an edited train file trains it
    // again.
    write_similarity(&d.join("sim.jsonl"), 72);
    std::fs::write(
        d.join("pair.yaml"),
        "name: mine\nscenario:\n  kind: pair\n  first: {name: reviews, train: train.csv, dev: dev.csv, text: review, label: sentiment}\n  second: {name: similar, train: sim.jsonl, dev: sim.jsonl, text: a, text_pair: b, label: score, kind: regression}\nscales:\n  tiny: {max_train: 32, max_dev: 16, epochs: 1, batch_size: 8, stage2_only: true}\n",
    )
    .unwrap();
    let run = |record: &str| {
        lrdist_ok(
            d,
            &[
                "run",
                "--config",
                "pair.yaml",
                "--scale",
                "tiny",
                "--record",
                record,
                "--save",
                "pair",
            ],
        );
        let text = std::fs::read_to_string(d.join(record)).unwrap();
        serde_json::from_str::<Value>(text.lines().last().unwrap()).unwrap()
    };
    let first = run("a.jsonl");
    assert_eq!(first["scenario"], "reviews->similar");
    assert_eq!(first["stage1_cached"], false);
    let tasks = first["file_tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        tasks[0]["labels"]["classes"],
        serde_json::json!(["negative", "positive"])
    );
    assert_eq!(tasks[1]["labels"], "regression");
    assert!(
        first["metrics"][1][1].get("spearman").is_some(),
        "{}",
        first["metrics"]
    );
    let head: Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("pair/similar/lrdist_head.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(head["problem_type"], "regression", "{head}");
    let again = run("a.jsonl");
    assert_eq!(
        again["stage1_cached"], true,
        "the same files: stage 1 is restored"
    );
    assert_eq!(again["matrix"][0], first["matrix"][0]);
    write_reviews(&d.join("train.csv"), 100, 48);
    let edited = run("a.jsonl");
    assert_eq!(
        edited["stage1_cached"], false,
        "an edited train file trains stage 1 again"
    );
    assert_ne!(
        edited["file_tasks"][0]["train_sha256"],
        first["file_tasks"][0]["train_sha256"]
    );
}

/// The tasks of your own of `calibrate`, `demo`, `data sample` and `bench speed`: the
/// flags of `finetune`, and a bad file is one line and exit 2 before anything is written.
#[test]
fn every_command_that_takes_a_task_refuses_a_bad_file_of_your_own_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
    write("dev.csv", "review,sentiment\nfine,positive\n");
    write(
        "empty.csv",
        "review,sentiment\ngood film,positive\n\"  \",negative\n",
    );
    write(
        "tabs.csv",
        "review,sentiment\ngood film,positive\n\"a\ttab\",negative\n",
    );
    write("cal.yaml", "name: cal\nscales:\n  tiny: {max_train: 8, max_dev: 8, epochs: 1, batch_size: 4}\ntasks: [sst2]\nrates: [1.0e-4]\nseeds: [0]\n");
    let before = files_under(d);
    let with = |args: &[&str], file: &str| {
        let mut all = args.to_vec();
        all.extend(task_args(file, "dev.csv"));
        all.extend(["--task-name", "mine"]);
        lrdist(d, &all)
    };
    let calibrate = ["calibrate", "--config", "cal.yaml", "--scale", "tiny"];
    let glue = glue();
    let demo = [
        "demo",
        "--first",
        "mine",
        "--glue-dir",
        glue.to_str().unwrap(),
    ];
    let sample = ["data", "sample", "--max-train", "1", "--out", "s.tsv"];
    for command in [&calibrate[..], &demo, &sample, &["bench", "speed"]] {
        assert_bad_input(
            &with(command, "empty.csv"),
            "empty.csv:3: column `review` is empty",
        );
    }
    // A task given but never named, a task name that is no task.
    assert_bad_input(
        &with(&["demo", "--second", "mrpc"], "dev.csv"),
        "gives the task `mine`, which the demo does not name: name it in --first or --second",
    );
    let mut named = calibrate.to_vec();
    named.extend(["--tasks", "yours"]);
    assert_bad_input(
        &with(&named, "dev.csv"),
        "calibration cal has no task yours (it has: sst2, mine)",
    );
    // A text an unquoted TSV cannot hold, and the same rows as CSV are fine.
    assert_bad_input(
        &with(&["data", "sample", "--out", "s.tsv"], "tabs.csv"),
        "tabs.csv:3: column `review` holds a tab or a line break",
    );
    assert_eq!(files_under(d), before, "an input error writes nothing");
    assert_success(&with(&["data", "sample", "--out", "s.csv"], "tabs.csv"));
    let mut back = csv::Reader::from_path(d.join("s.csv")).unwrap();
    let header: Vec<String> = back.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, ["review", "sentiment"]);
    let rows: Vec<Vec<String>> = back
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows, [["good film", "positive"], ["a\ttab", "negative"]]);
}

/// `data sample` of a task of your own writes the rows a selection picks with the task's
/// own columns and labels, so the file reads back as its train file.
#[test]
fn data_sample_writes_a_task_of_your_own_with_its_columns_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_reviews(&d.join("train.csv"), 0, 40);
    write_reviews(&d.join("dev.csv"), 40, 8);
    let sample = |out: &str, seed: &str| {
        let mut args = vec!["data", "sample"];
        args.extend(task_args("train.csv", "dev.csv"));
        args.extend(["--max-train", "10", "--seed", seed, "--out", out]);
        lrdist_ok(d, &args);
    };
    sample("s.tsv", "0");
    let train = std::fs::read_to_string(d.join("train.csv")).unwrap();
    let mut source = csv::Reader::from_reader(train.as_bytes());
    let rows: Vec<(String, String)> = source
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[1].to_string(), r[2].to_string())
        })
        .collect();
    let text = std::fs::read_to_string(d.join("s.tsv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("review\tsentiment"));
    let picked: Vec<(String, String)> = lines
        .map(|l| {
            let (a, b) = l.split_once('\t').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(picked.len(), 10);
    assert!(picked.iter().all(|p| rows.contains(p)), "{picked:?}");
    let positive = |rows: &[(String, String)]| rows.iter().filter(|r| r.1 == "positive").count();
    // Label-stratified: the train file's share of positive rows, within rounding.
    let share = positive(&rows) as f64 * 10.0 / rows.len() as f64;
    assert!((positive(&picked) as f64 - share).abs() < 1.0, "{share}");
    // The same rows as JSONL, with the label as the train file writes it.
    sample("s.jsonl", "0");
    let jsonl = read_jsonl(&d.join("s.jsonl"));
    let again: Vec<(String, String)> = jsonl
        .iter()
        .map(|v| {
            (
                v["review"].as_str().unwrap().to_string(),
                v["sentiment"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(again, picked);
    sample("other.tsv", "1");
    assert_ne!(std::fs::read_to_string(d.join("other.tsv")).unwrap(), text);
}

/// `calibrate` fine-tunes a task of your own over the config's rates, its dev rows held
/// out of its train file when the scale's `dev_from_train` names it; `demo` runs a pair of
/// your own from an experiment file.
#[test]
fn calibrate_and_demo_run_tasks_of_your_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_reviews(&d.join("train.csv"), 0, 48);
    write_reviews(&d.join("dev.csv"), 48, 16);
    std::fs::write(
        d.join("cal.yaml"),
        "name: cal\nscales:\n  tiny: {max_train: 24, max_dev: 16, epochs: 1, batch_size: 8, dev_from_train: {reviews: 12, qqp: 400}}\ntasks: [sst2]\nrates: [1.0e-4]\nseeds: [0]\n",
    )
    .unwrap();
    let mut args = vec!["calibrate", "--config", "cal.yaml", "--scale", "tiny"];
    args.extend(task_args("train.csv", "dev.csv"));
    args.extend(["--task-name", "reviews"]);
    lrdist_ok(d, &args);
    let record = d.join("results/calibration/tiny-reviews.jsonl");
    let text = std::fs::read_to_string(&record).unwrap();
    assert_eq!(text.lines().count(), 1, "the added task alone");
    let r: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (r["scenario"].as_str(), r["method"].as_str()),
        (Some("reviews"), Some("flat:1e-4"))
    );
    assert_eq!(
        r["scale_spec"]["dev_from_train"],
        serde_json::json!({"qqp": 400, "reviews": 12})
    );
    let source = r["dev_sources"]["reviews"].as_str().unwrap();
    assert!(source.contains("train.csv held-out 12 rows"), "{source}");
    assert_eq!(r["stages"][0]["train_rows"], 24);

    write_similarity(&d.join("sim.jsonl"), 48);
    std::fs::write(
        d.join("pair.yaml"),
        "name: mine\nscenario:\n  kind: pair\n  first: {name: reviews, train: train.csv, dev: dev.csv, text: review, label: sentiment}\n  second: {name: similar, train: sim.jsonl, dev: sim.jsonl, text: a, text_pair: b, label: score, kind: regression}\nscales:\n  tiny: {max_train: 16, max_dev: 8, epochs: 1, batch_size: 8}\n",
    )
    .unwrap();
    let out = lrdist_ok(d, &["demo", "--config", "pair.yaml", "--scale", "tiny"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("reviews->similar"), "{stdout}");
    let records = std::fs::read_to_string(d.join("results/tmp/demo.jsonl")).unwrap();
    let methods: Vec<String> = records
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["method"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(methods, ["flat", "paper-combined"]);
}
