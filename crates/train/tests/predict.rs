//! `lrdist predict` on folders `--save` wrote agrees with lrdist's own evaluation of the
//! same rows (issue 16, item 3): the dev rows of a fine-tune, written to a file, get the
//! labels (and so the accuracy) or values (and so the Pearson correlation) that the
//! fine-tune's dev evaluation scored. Needs the real model and GLUE.

use std::path::{Path, PathBuf};

use lrdist_data::{load_task, metrics, Task};
use lrdist_model::HeadKind;
use lrdist_train::predict::{predict_file, PredictOptions};
use lrdist_train::{Env, FinetuneOptions, Runner, ScaleSpec};
use tch::Device;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env(out: &Path) -> Env {
    let glue = std::env::var_os("GLUE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/glue"));
    let model = std::env::var_os("LRDIST_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/all-MiniLM-L6-v2"));
    assert!(
        glue.join("SST-2").is_dir(),
        "GLUE not found at {}: set GLUE_DIR",
        glue.display()
    );
    Env {
        model_dir: model,
        glue_dir: glue,
        device: Device::Cpu,
        results_dir: out.join("results"),
        cache_dir: out.join("cache"),
        progress: false,
    }
}

fn small_scale() -> ScaleSpec {
    let mut s = ScaleSpec::builtin("quick").unwrap();
    s.max_train = Some(64);
    s.max_dev = Some(64);
    s.epochs = 1;
    s
}

/// The output lines of `predict` as JSON values.
fn read_output(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn options(
    model_dir: PathBuf,
    input: PathBuf,
    output: PathBuf,
    scale: &ScaleSpec,
) -> PredictOptions {
    PredictOptions {
        model_dir,
        input,
        text_column: None,
        text_pair_column: None,
        output: Some(output),
        batch_size: scale.eval_batch_size,
        max_len: scale.max_len,
        device: Device::Cpu,
        progress: false,
    }
}

#[test]
fn predicted_labels_score_what_the_dev_evaluation_scored() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env(tmp.path());
    let glue = env.glue_dir.clone();
    let mut runner = Runner::new(env);
    let scale = small_scale();
    let dir = tmp.path().join("sst2");
    let opts = FinetuneOptions {
        head: HeadKind::Cls,
        save: Some(dir.clone()),
    };
    let report = runner
        .finetune_with(Task::Sst2, &scale, "flat:1e-4", 0, &opts)
        .unwrap();
    let dev = load_task(&glue, Task::Sst2, &scale.data_spec(Task::Sst2))
        .unwrap()
        .dev;
    // A CSV with the text in `sentence` (the column tried when there is no `text`).
    let input = tmp.path().join("dev.csv");
    let mut w = csv::Writer::from_path(&input).unwrap();
    w.write_record(["sentence", "label"]).unwrap();
    for ex in &dev {
        w.write_record([ex.text_a.as_str(), &ex.label.to_string()])
            .unwrap();
    }
    w.flush().unwrap();
    let output = tmp.path().join("out/sst2.jsonl");
    let summary = predict_file(&options(dir, input, output.clone(), &scale)).unwrap();
    assert_eq!(summary.rows, dev.len());
    let lines = read_output(&output);
    assert_eq!(lines.len(), dev.len());
    let names = Task::Sst2.label_names();
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
    let accuracy = metrics::compute(Task::Sst2, &preds, &labels)["accuracy"];
    assert_eq!(
        accuracy, report.metrics["accuracy"],
        "predict and the dev evaluation disagree"
    );
}

#[test]
fn predicted_values_of_a_pair_regression_correlate_as_the_dev_evaluation_said() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env(tmp.path());
    let glue = env.glue_dir.clone();
    let mut runner = Runner::new(env);
    let scale = small_scale();
    let dir = tmp.path().join("stsb");
    let opts = FinetuneOptions {
        head: HeadKind::Pooler,
        save: Some(dir.clone()),
    };
    let report = runner
        .finetune_with(Task::Stsb, &scale, "flat:1e-4", 0, &opts)
        .unwrap();
    assert_eq!(report.head, HeadKind::Pooler);
    let dev = load_task(&glue, Task::Stsb, &scale.data_spec(Task::Stsb))
        .unwrap()
        .dev;
    // JSONL with named text and pair columns.
    let input = tmp.path().join("dev.jsonl");
    let lines: Vec<String> = dev
        .iter()
        .map(|e| serde_json::json!({"a": e.text_a, "b": e.text_b, "score": e.label}).to_string())
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let output = tmp.path().join("stsb.jsonl");
    let mut opts = options(dir, input, output.clone(), &scale);
    opts.text_column = Some("a".into());
    opts.text_pair_column = Some("b".into());
    predict_file(&opts).unwrap();
    let preds: Vec<f32> = read_output(&output)
        .iter()
        .map(|l| {
            assert_eq!(l.as_object().unwrap().len(), 1, "{l}");
            l["value"].as_f64().unwrap() as f32
        })
        .collect();
    let labels: Vec<f32> = dev.iter().map(|e| e.label).collect();
    let pearson = metrics::compute(Task::Stsb, &preds, &labels)["pearson"];
    assert_eq!(
        pearson, report.metrics["pearson"],
        "predict and the dev evaluation disagree"
    );
}
