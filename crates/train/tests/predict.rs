//! `lrdist predict` on folders `--save` wrote agrees with lrdist's own evaluation of the
//! same rows (issue 16, item 3): the dev rows of a fine-tune, written to a file, get the
//! labels (and so the accuracy) or values (and so the Pearson correlation) that the
//! fine-tune's dev evaluation scored (these need the real model and GLUE); and a
//! Hugging Face folder saved by `torch.save` (`pytorch_model.bin`) predicts as transformers
//! does (a fixture of the model crate).

mod common;

use std::path::{Path, PathBuf};

use common::{context, small_scale};
use lrdist_data::{load_task, metrics, Example, GlueTask, Task, TaskSpec};
use lrdist_model::HeadKind;
use lrdist_train::predict::{predict_file, PredictInput, PredictOptions};
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
    let ctx = context(dir);
    let glue = ctx.glue_dir.clone();
    let scale = scale();
    let saved = dir.join(task.name());
    let opts = FinetuneOptions {
        head,
        save: Some(saved.clone()),
    };
    let report = Runner::new(ctx)
        .finetune_with(
            &task,
            &scale,
            &lrdist_optimizer::DistributionSpec::flat(1e-4),
            0,
            &opts,
        )
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
        rows: PredictInput {
            input,
            text_column: columns[0].map(Into::into),
            text_pair_column: columns[1].map(Into::into),
            output: Some(output.clone()),
            batch_size: scale().eval_batch_size,
            max_len: scale().max_len,
        },
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
    let _rng = common::torch_rng_lock();
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
    let _rng = common::torch_rng_lock();
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

/// The `pytorch_model.bin` fixture of the model crate (`scripts/make_hf_bin_fixture.py`):
/// a tiny `BertForSequenceClassification` folder saved by `torch.save`, and transformers'
/// logits on its rows.
fn hf_bin_fixture() -> (PathBuf, serde_json::Value) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/tests/fixtures");
    let expected = std::fs::read_to_string(fixtures.join("hf_bin_expected.json")).unwrap();
    (fixtures, serde_json::from_str(&expected).unwrap())
}

/// `predict` on a Hugging Face folder whose weights are a `pytorch_model.bin` gives
/// transformers' predictions (probabilities within 1e-4), and reads the folder's
/// `model.safetensors` instead when it has both.
#[test]
fn predict_reads_a_pytorch_model_bin_folder_as_transformers_does() {
    let _rng = common::torch_rng_lock();
    let (fixtures, expected) = hf_bin_fixture();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hf_bin");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixtures.join("hf_bin")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    let rows = expected["rows"].as_array().unwrap();
    let names: Vec<&str> = expected["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    // Single texts and pairs go to two files (a pair column is read from every row).
    let (singles, pairs): (Vec<usize>, Vec<usize>) =
        (0..rows.len()).partition(|&i| rows[i]["text_pair"].is_null());
    assert!(!singles.is_empty() && !pairs.is_empty());
    let write = |name: &str, which: &[usize]| {
        let path = tmp.path().join(name);
        let lines: Vec<String> = which
            .iter()
            .map(|&i| {
                serde_json::json!({"t": rows[i]["text"], "p": rows[i]["text_pair"]}).to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    };
    let inputs = [
        (write("singles.jsonl", &singles), &singles, None),
        (write("pairs.jsonl", &pairs), &pairs, Some("p")),
    ];
    // lrdist tokenises the rows as the fixture did.
    let tokenizer = lrdist_data::TextTokenizer::from_model_dir(&dir, 128).unwrap();
    let examples: Vec<Example> = rows
        .iter()
        .map(|r| Example {
            text_a: r["text"].as_str().unwrap().into(),
            text_b: r["text_pair"].as_str().map(Into::into),
            label: 0.0,
            line: 1,
        })
        .collect();
    for (encoded, row) in tokenizer.encode(&examples).unwrap().iter().zip(rows) {
        assert_eq!(serde_json::json!(encoded.ids), row["input_ids"]);
        assert_eq!(serde_json::json!(encoded.type_ids), row["token_type_ids"]);
    }
    let check = |logits_key: &str| {
        for (input, which, pair) in &inputs {
            let lines = predict(dir.clone(), input.clone(), [Some("t"), *pair]);
            assert_eq!(lines.len(), which.len());
            for (line, &i) in lines.iter().zip(which.iter()) {
                let logits: Vec<f64> = expected[logits_key][i]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                let top = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = logits.iter().map(|l| (l - top).exp()).sum();
                let best = logits.iter().position(|&l| l == top).unwrap();
                assert_eq!(line["label"], names[best], "row {i}: {line}");
                let p = line["probabilities"].as_object().unwrap();
                assert_eq!(p.keys().map(String::as_str).collect::<Vec<_>>(), names);
                for (k, name) in names.iter().enumerate() {
                    let want = (logits[k] - top).exp() / sum;
                    let got = p[*name].as_f64().unwrap();
                    assert!(
                        (got - want).abs() < 1e-4,
                        "row {i} {name}: {got} vs transformers' {want} ({logits_key})"
                    );
                }
            }
        }
    };
    check("logits_bin");
    std::fs::copy(
        fixtures.join("hf_bin_other.safetensors"),
        dir.join(lrdist_model::WEIGHTS_FILE),
    )
    .unwrap();
    check("logits_other");
}
