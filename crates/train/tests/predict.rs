//! `lrdist predict` on folders `--save` wrote agrees with lrdist's own evaluation of the
//! same rows (issue 16, item 3): the dev rows of a fine-tune, written to a file, get the
//! labels (and so the accuracy) or values (and so the Pearson correlation) that the
//! fine-tune's dev evaluation scored. Needs the real model and GLUE.

mod common;

use std::path::{Path, PathBuf};

use common::{env, small_scale};
use lrdist_data::{load_task, metrics, Example, GlueTask, Task, TaskSpec};
use lrdist_model::HeadKind;
use lrdist_train::predict::{predict_file, PredictOptions};
use lrdist_train::{FinetuneOptions, FinetuneReport, Runner, ScaleSpec};
use tch::Device;

/// A fine-tune of `task` with a `head` head on 64 train rows, saved to `dir/<task>`:
/// its report, the saved folder and the 64 dev rows it was scored on.
fn finetune_saved(
    dir: &Path,
    task: GlueTask,
    head: HeadKind,
) -> (FinetuneReport, PathBuf, Vec<Example>) {
    let task = TaskSpec::Glue(task);
    let env = env(dir);
    let glue = env.glue_dir.clone();
    let scale = scale();
    let saved = dir.join(task.name());
    let opts = FinetuneOptions {
        head,
        save: Some(saved.clone()),
    };
    let report = Runner::new(env)
        .finetune_with(&task, &scale, "flat:1e-4", 0, &opts)
        .unwrap();
    assert_eq!(report.head, head);
    let dev = load_task(&glue, &task, &scale.data_spec(&task))
        .unwrap()
        .dev;
    (report, saved, dev)
}

fn scale() -> ScaleSpec {
    small_scale(64, 64, 1)
}

/// Predicts `input` with the folder `model_dir` as the fine-tune evaluated (its batch
/// size and max length) and returns the output lines as JSON values.
fn predict(
    model_dir: PathBuf,
    input: PathBuf,
    columns: [Option<&str>; 2],
) -> Vec<serde_json::Value> {
    let output = input.with_extension("out.jsonl");
    let opts = PredictOptions {
        model_dir,
        input,
        text_column: columns[0].map(Into::into),
        text_pair_column: columns[1].map(Into::into),
        output: Some(output.clone()),
        batch_size: scale().eval_batch_size,
        max_len: scale().max_len,
        device: Device::Cpu,
        progress: false,
    };
    let summary = predict_file(&opts).unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(summary.rows, lines.len());
    lines
}

#[test]
fn predicted_labels_score_what_the_dev_evaluation_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, saved, dev) = finetune_saved(tmp.path(), GlueTask::Sst2, HeadKind::Cls);
    // A CSV with the text in `sentence` (the column tried when there is no `text`).
    let input = tmp.path().join("dev.csv");
    let mut w = csv::Writer::from_path(&input).unwrap();
    w.write_record(["sentence", "label"]).unwrap();
    for ex in &dev {
        w.write_record([ex.text_a.as_str(), &ex.label.to_string()])
            .unwrap();
    }
    w.flush().unwrap();
    let lines = predict(saved, input, [None, None]);
    assert_eq!(lines.len(), dev.len());
    let names = GlueTask::Sst2.label_names();
    let preds: Vec<f32> = lines
        .iter()
        .map(|l| {
            let label = l["label"].as_str().unwrap();
            let p = l["probabilities"].as_object().unwrap();
            assert_eq!(p.len(), 2);
            let sum: f64 = p.values().map(|v| v.as_f64().unwrap()).sum();
            assert!((sum - 1.0).abs() < 1e-9, "{l}");
            let best = p
                .iter()
                .max_by(|a, b| a.1.as_f64().partial_cmp(&b.1.as_f64()).unwrap());
            assert_eq!(
                best.unwrap().0,
                label,
                "the label is the most probable class"
            );
            names.iter().position(|n| *n == label).unwrap() as f32
        })
        .collect();
    let labels: Vec<f32> = dev.iter().map(|e| e.label).collect();
    let accuracy = metrics::compute(&Task::glue(GlueTask::Sst2), &preds, &labels)["accuracy"];
    assert_eq!(
        accuracy, report.metrics["accuracy"],
        "predict and the dev evaluation disagree"
    );
}

#[test]
fn predicted_values_of_a_pair_regression_correlate_as_the_dev_evaluation_said() {
    let tmp = tempfile::tempdir().unwrap();
    let (report, saved, dev) = finetune_saved(tmp.path(), GlueTask::Stsb, HeadKind::Pooler);
    // JSONL with named text and pair columns.
    let input = tmp.path().join("dev.jsonl");
    let lines: Vec<String> = dev
        .iter()
        .map(|e| serde_json::json!({"a": e.text_a, "b": e.text_b, "score": e.label}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let preds: Vec<f32> = predict(saved, input, [Some("a"), Some("b")])
        .iter()
        .map(|l| {
            assert_eq!(l.as_object().unwrap().len(), 1, "{l}");
            l["value"].as_f64().unwrap() as f32
        })
        .collect();
    let labels: Vec<f32> = dev.iter().map(|e| e.label).collect();
    let pearson = metrics::compute(&Task::glue(GlueTask::Stsb), &preds, &labels)["pearson"];
    assert_eq!(
        pearson, report.metrics["pearson"],
        "predict and the dev evaluation disagree"
    );
}
