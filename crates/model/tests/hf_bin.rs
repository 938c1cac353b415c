//! Hugging Face folders whose weights are a `torch.save`d `pytorch_model.bin` (issue 16:
//! `predict` reads any `BertForSequenceClassification` folder). The fixture
//! (`tests/fixtures/hf_bin*`, written by `scripts/make_hf_bin_fixture.py`, `make
//! fixture-hf-bin`) is a tiny such folder, another model of its shape as a
//! `model.safetensors`, and transformers' logits of both on a few rows; no Python here.

use std::path::{Path, PathBuf};

use lrdist_model::{Classifier, Encoder, HeadKind, Labels};
use serde_json::Value;
use tch::{Device, Tensor};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn expected() -> Value {
    let path = fixtures().join("hf_bin_expected.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture's rows padded together: ids, segment ids, mask.
fn batch(expected: &Value) -> (Tensor, Tensor, Tensor) {
    let rows = expected["rows"].as_array().unwrap();
    let ints = |row: &Value, key: &str| -> Vec<i64> {
        row[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect()
    };
    let width = rows
        .iter()
        .map(|r| ints(r, "input_ids").len())
        .max()
        .unwrap();
    let (mut ids, mut types, mut mask) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows {
        let (i, t) = (ints(row, "input_ids"), ints(row, "token_type_ids"));
        let pad = width - i.len();
        mask.extend(std::iter::repeat_n(1, i.len()).chain(std::iter::repeat_n(0, pad)));
        ids.extend(i.into_iter().chain(std::iter::repeat_n(0, pad)));
        types.extend(t.into_iter().chain(std::iter::repeat_n(0, pad)));
    }
    let shape = [rows.len() as i64, width as i64];
    let t = |v: &[i64]| Tensor::from_slice(v).view(shape);
    (t(&ids), t(&types), t(&mask))
}

/// The largest difference between `classifier`'s logits on the fixture's rows and
/// transformers' logits `key` of the fixture.
fn max_diff(classifier: &Classifier, expected: &Value, key: &str) -> f64 {
    let (ids, types, mask) = batch(expected);
    let ours = Vec::<Vec<f32>>::try_from(classifier.logits(&ids, &types, &mask)).unwrap();
    let theirs = expected[key].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    let mut diff: f64 = 0.0;
    for (a, b) in ours.iter().zip(theirs) {
        let b = b.as_array().unwrap();
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            diff = diff.max((f64::from(*x) - y.as_f64().unwrap()).abs());
        }
    }
    diff
}

/// The fixture folder copied to a scratch folder, so files can be added beside it.
fn copy_folder(to: &Path) -> PathBuf {
    let dir = to.join("hf_bin");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixtures().join("hf_bin")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

#[test]
fn a_pytorch_model_bin_folder_gives_transformers_logits() {
    let expected = expected();
    let dir = fixtures().join("hf_bin");
    assert!(!dir.join(lrdist_model::WEIGHTS_FILE).exists());
    assert_eq!(
        lrdist_model::weights_file(&dir).unwrap(),
        dir.join(lrdist_model::TORCH_WEIGHTS_FILE)
    );
    let classifier = Classifier::load(&dir, Device::Cpu).unwrap();
    assert_eq!(classifier.kind, HeadKind::Pooler);
    assert_eq!(
        classifier.labels,
        Labels::classes(&["negative", "neutral", "positive"])
    );
    let diff = max_diff(&classifier, &expected, "logits_bin");
    assert!(diff < 1e-4, "logits differ from transformers' by {diff}");
    // The parameter names read without loading a model: the encoder's and the head's.
    let names = lrdist_model::checkpoint_parameter_names(&dir.join("pytorch_model.bin")).unwrap();
    assert!(
        names.contains(&"classifier.weight".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"encoder.layer.1.output.dense.bias".to_string()));
    assert_eq!(names.len(), classifier.encoder.named_parameters().len() + 2);
}

#[test]
fn model_safetensors_is_read_before_pytorch_model_bin() {
    let expected = expected();
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_folder(tmp.path());
    std::fs::copy(
        fixtures().join("hf_bin_other.safetensors"),
        dir.join(lrdist_model::WEIGHTS_FILE),
    )
    .unwrap();
    let classifier = Classifier::load(&dir, Device::Cpu).unwrap();
    let diff = max_diff(&classifier, &expected, "logits_other");
    assert!(diff < 1e-4, "not the safetensors model's logits ({diff})");
    assert!(max_diff(&classifier, &expected, "logits_bin") > 0.1);
    // The encoder alone (as training loads it) reads the same file.
    let (encoder, head) =
        Encoder::pretrained_with_head(&dir, Device::Cpu, &["classifier."]).unwrap();
    assert_eq!(head.len(), 2);
    let vars = encoder.vs.variables();
    let other: std::collections::HashMap<String, Tensor> =
        Tensor::read_safetensors(dir.join(lrdist_model::WEIGHTS_FILE))
            .unwrap()
            .into_iter()
            .collect();
    let name = "encoder.layer.0.attention.self.query.weight";
    assert!(vars[name].equal(&other[&format!("bert.{name}")]));
}

#[test]
fn unreadable_or_missing_weights_are_one_line_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_folder(tmp.path());
    let bin = dir.join(lrdist_model::TORCH_WEIGHTS_FILE);
    std::fs::write(&bin, b"not a torch file").unwrap();
    let err = format!("{:#}", Classifier::load(&dir, Device::Cpu).unwrap_err());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("reading weights {}", bin.display()))
            && err.contains("torch.save'd dict of tensors"),
        "{err}"
    );
    std::fs::remove_file(&bin).unwrap();
    let err = format!("{:#}", Classifier::load(&dir, Device::Cpu).unwrap_err());
    assert!(
        err.contains("has no weights: neither model.safetensors nor pytorch_model.bin"),
        "{err}"
    );
    std::fs::write(dir.join("pytorch_model.bin.index.json"), "{}").unwrap();
    let err = format!("{:#}", Encoder::pretrained(&dir, Device::Cpu).unwrap_err());
    assert!(
        err.contains("sharded checkpoint (pytorch_model.bin.index.json)"),
        "{err}"
    );
}
