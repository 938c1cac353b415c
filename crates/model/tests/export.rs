//! Saving a classifier as a Hugging Face folder and reading it back, on a tiny random
//! BERT (no model files). Agreement with `transformers` itself is checked on the real
//! model by `crates/train/tests/save_fixture.rs`.

use std::path::{Path, PathBuf};

use lrdist_model::{save_classifier, BertConfig, Classifier, Encoder, HeadKind, Labels};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

/// A tiny encoder loaded from a folder (so it has a `dir` with tokenizer files to copy),
/// its weights moved off their initial values, with or without pooler.
fn tiny_encoder(dir: &Path, pooler: bool) -> Encoder {
    let mut cfg = BertConfig::tiny();
    cfg.hidden_dropout_prob = 0.3;
    let random = Encoder::random(&cfg, Device::Cpu, 7);
    tch::no_grad(|| {
        for (i, (_, mut t)) in random.named_parameters().into_iter().enumerate() {
            let _ = t.g_add_scalar_(0.01 * (i % 5) as f64);
        }
    });
    random.save(dir).unwrap();
    if !pooler {
        let weights = dir.join(lrdist_model::WEIGHTS_FILE);
        let kept: Vec<_> = Tensor::read_safetensors(&weights)
            .unwrap()
            .into_iter()
            .filter(|(n, _)| !n.starts_with("pooler."))
            .collect();
        Tensor::write_safetensors(&kept, &weights).unwrap();
    }
    std::fs::write(dir.join("tokenizer.json"), "{\"tiny\": true}").unwrap();
    std::fs::write(dir.join("vocab.txt"), "[PAD]\n").unwrap();
    Encoder::pretrained(dir, Device::Cpu).unwrap()
}

fn batch() -> (Tensor, Tensor, Tensor) {
    let ids = Tensor::from_slice(&[1i64, 5, 6, 7, 2, 1, 8, 2, 0, 0]).view([2, 5]);
    let types = Tensor::from_slice(&[0i64, 0, 0, 1, 1, 0, 0, 0, 0, 0]).view([2, 5]);
    let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 1, 1, 1, 0, 0]).view([2, 5]);
    (ids, types, mask)
}

fn config(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

fn tensor_names(path: &Path) -> Vec<String> {
    let mut names: Vec<_> = Tensor::read_safetensors(path)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    names.sort();
    names
}

#[test]
fn both_layouts_read_back_with_the_logits_they_were_saved_with() {
    let tmp = tempfile::tempdir().unwrap();
    let encoder = tiny_encoder(&tmp.path().join("src"), true);
    let (head_vs, head) = encoder.new_head(3, 11);
    let labels = Labels::classes(&["entailment", "neutral", "contradiction"]);
    let (ids, types, mask) = batch();
    for kind in [HeadKind::Cls, HeadKind::Pooler] {
        let out = tmp.path().join(kind.name());
        save_classifier(&out, &encoder, &head_vs, kind, &labels).unwrap();
        let want = tch::no_grad(|| {
            let x = encoder.bert.head_input_t(kind, &ids, &types, &mask, false);
            head.forward_t(&x, false)
        });
        let loaded = Classifier::load(&out, Device::Cpu).unwrap();
        assert_eq!((loaded.kind, &loaded.labels), (kind, &labels));
        assert!(loaded.logits(&ids, &types, &mask).equal(&want), "{kind}");
        assert!(out.join("tokenizer.json").is_file() && out.join("vocab.txt").is_file());
        assert!(
            !out.join("special_tokens_map.json").exists(),
            "absent files are not made up"
        );
        let cfg = config(&out);
        assert_eq!(cfg["model_type"], "bert");
        let weights = tensor_names(&out.join("model.safetensors"));
        match kind {
            HeadKind::Pooler => {
                assert_eq!(cfg["architectures"][0], "BertForSequenceClassification");
                assert_eq!(cfg["num_labels"], 3);
                assert_eq!(cfg["id2label"]["2"], "contradiction");
                assert_eq!(cfg["label2id"]["neutral"], 1);
                assert_eq!(cfg["problem_type"], "single_label_classification");
                assert!(weights
                    .iter()
                    .all(|n| n.starts_with("bert.") || n.starts_with("classifier.")));
                assert!(weights.contains(&"bert.pooler.dense.weight".to_string()));
                assert!(weights.contains(&"classifier.bias".to_string()));
                assert!(!out.join("lrdist_head.json").exists());
            }
            HeadKind::Cls => {
                assert_eq!(cfg["architectures"][0], "BertModel");
                assert!(cfg.get("id2label").is_none());
                assert!(weights
                    .iter()
                    .all(|n| !n.starts_with("bert.") && !n.starts_with("classifier")));
                assert_eq!(
                    tensor_names(&out.join("lrdist_head.safetensors")),
                    ["bias", "weight"]
                );
                let head: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(out.join("lrdist_head.json")).unwrap(),
                )
                .unwrap();
                assert_eq!(head["input"], "last_hidden_state[:, 0]");
                assert_eq!(head["id2label"]["0"], "entailment");
                assert_eq!(head["classifier_dropout"], 0.3);
            }
        }
    }
    // Saving the other layout into the same folder leaves no file of the first behind.
    let out = tmp.path().join("cls");
    save_classifier(&out, &encoder, &head_vs, HeadKind::Pooler, &labels).unwrap();
    assert_eq!(
        Classifier::load(&out, Device::Cpu).unwrap().kind,
        HeadKind::Pooler
    );
}

/// A tiny encoder (in `tmp/src`) and a fresh head as wide as `labels`, saved as a
/// `pooler` folder `tmp/<name>`.
fn saved_pooler_head(tmp: &Path, name: &str, labels: &Labels) -> (Encoder, VarStore, PathBuf) {
    let encoder = tiny_encoder(&tmp.join("src"), true);
    let (head_vs, _) = encoder.new_head(labels.num_labels(), 3);
    let out = tmp.join(name);
    save_classifier(&out, &encoder, &head_vs, HeadKind::Pooler, labels).unwrap();
    (encoder, head_vs, out)
}

#[test]
fn a_regression_head_has_one_output_and_problem_type_regression() {
    let tmp = tempfile::tempdir().unwrap();
    let (encoder, head_vs, out) = saved_pooler_head(tmp.path(), "stsb", &Labels::Regression);
    let cfg = config(&out);
    assert_eq!(
        (cfg["num_labels"].as_u64(), cfg["problem_type"].as_str()),
        (Some(1), Some("regression"))
    );
    assert_eq!(
        Classifier::load(&out, Device::Cpu).unwrap().labels,
        Labels::Regression
    );
    // A head whose width does not match its labels is refused.
    let two = Labels::classes(&["a", "b"]);
    let err = save_classifier(&out, &encoder, &head_vs, HeadKind::Cls, &two).unwrap_err();
    assert!(format!("{err:#}").contains("2 labels"), "{err:#}");
}

#[test]
fn hugging_face_defaults_apply_to_configs_without_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, out) = saved_pooler_head(tmp.path(), "hf", &Labels::classes(&["a", "b"]));
    let mut cfg = config(&out);
    for key in ["id2label", "label2id", "problem_type", "num_labels"] {
        cfg.as_object_mut().unwrap().remove(key);
    }
    std::fs::write(out.join("config.json"), cfg.to_string()).unwrap();
    let loaded = Classifier::load(&out, Device::Cpu).unwrap();
    assert_eq!(loaded.labels, Labels::classes(&["LABEL_0", "LABEL_1"]));
}

#[test]
fn a_folder_without_head_is_an_error_that_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    tiny_encoder(&src, true);
    let err = format!("{:#}", Classifier::load(&src, Device::Cpu).unwrap_err());
    assert!(
        err.contains("no task head") && err.contains("lrdist_head.json"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        Classifier::load(&tmp.path().join("none"), Device::Cpu).unwrap_err()
    );
    assert!(err.contains("not a model folder"), "{err}");
}

#[test]
fn a_pooler_head_on_a_checkpoint_without_pooler_gets_a_seeded_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut encoder = tiny_encoder(&tmp.path().join("src"), false);
    let (head_vs, _) = encoder.new_head(2, 3);
    let labels = Labels::classes(&["0", "1"]);
    let err = save_classifier(
        &tmp.path().join("x"),
        &encoder,
        &head_vs,
        HeadKind::Pooler,
        &labels,
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("pooler"), "{err:#}");
    assert!(encoder.ensure_pooler(5));
    assert!(!encoder.ensure_pooler(6), "a second call changes nothing");
    let groups = lrdist_model::variable_groups(&encoder.vs);
    let top = lrdist_model::optimizer_group(encoder.config.num_hidden_layers + 1, true);
    assert!(
        groups.contains(&("pooler.dense.weight".to_string(), top)),
        "{groups:?}"
    );
    let w = &encoder.vs.variables()["pooler.dense.weight"];
    assert!(
        w.std(true).double_value(&[]) > 0.01,
        "initialised, not zero"
    );
    assert_eq!(w.kind(), Kind::Float);
    let out = tmp.path().join("pooler");
    save_classifier(&out, &encoder, &head_vs, HeadKind::Pooler, &labels).unwrap();
    Classifier::load(&out, Device::Cpu).unwrap();
}
