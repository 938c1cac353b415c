//! Behaviour of the encoder on a tiny random BERT (CPU, fast).

use std::path::Path;

use lrdist_model::{
    depth_of, is_no_decay, optimizer_group, variable_groups, Bert, BertConfig, Encoder, InitMode,
    WeightsMismatch,
};
use tch::{nn, Device, Kind, Tensor};

/// Two rows of token ids (the second padded), their token types and mask.
fn batch() -> (Tensor, Tensor, Tensor) {
    let ids = Tensor::from_slice2(&[[2i64, 11, 12, 13, 3, 21, 22, 3], [2, 31, 32, 3, 0, 0, 0, 0]]);
    let types = Tensor::from_slice2(&[[0i64, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0, 0]]);
    let mask = ids.ne(0).to_kind(Kind::Int64);
    (ids, types, mask)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

fn encoder(seed: i64) -> Encoder {
    Encoder::random(&BertConfig::tiny(), Device::Cpu, seed)
}

#[test]
fn output_shapes() {
    let enc = encoder(0);
    let (ids, types, mask) = batch();
    assert_eq!(
        enc.bert.forward_t(&ids, &types, &mask, false).size(),
        [2, 8, 32]
    );
    let cls = enc.bert.cls_t(&ids, &types, &mask, false);
    assert_eq!(cls.size(), [2, 32]);
    let (_head_vs, head) = enc.new_head(3, 0);
    assert_eq!(head.forward_t(&cls, false).size(), [2, 3]);
    assert_eq!(enc.bert.num_layers(), 2);
    assert_eq!(enc.bert.config(), &BertConfig::tiny());
}

#[test]
fn same_seed_same_model_other_seed_other_model() {
    let (a, b, c) = (encoder(7), encoder(7), encoder(8));
    let (pa, pb, pc) = (
        a.named_parameters(),
        b.named_parameters(),
        c.named_parameters(),
    );
    assert_eq!(pa.len(), pb.len());
    for ((name, x), (_, y)) in pa.iter().zip(&pb) {
        assert!(x.equal(y), "{name} differs between two models of seed 7");
    }
    let word = |p: &[(String, Tensor)]| {
        p.iter()
            .find(|(n, _)| n == "embeddings.word_embeddings.weight")
            .unwrap()
            .1
            .copy()
    };
    assert!(
        !word(&pa).equal(&word(&pc)),
        "seeds 7 and 8 gave the same embeddings"
    );

    let (_, h1) = a.new_head(2, 5);
    let (_, h2) = a.new_head(2, 5);
    let cls = Tensor::ones([1, 32], (Kind::Float, Device::Cpu));
    assert!(h1.forward_t(&cls, false).equal(&h2.forward_t(&cls, false)));
}

#[test]
fn init_follows_hugging_face() {
    let enc = encoder(3);
    let params: std::collections::HashMap<_, _> = enc.named_parameters().into_iter().collect();
    let word = &params["embeddings.word_embeddings.weight"];
    let std = word.std(true).double_value(&[]);
    assert!((std - 0.02).abs() < 0.002, "word embedding std {std}");
    assert_eq!(
        word.get(0).abs().sum(Kind::Float).double_value(&[]),
        0.0,
        "padding row"
    );
    let q = &params["encoder.layer.1.attention.self.query.weight"];
    assert!((q.std(true).double_value(&[]) - 0.02).abs() < 0.004);
    for (name, t) in &params {
        let (lo, hi) = (t.min().double_value(&[]), t.max().double_value(&[]));
        if name.ends_with("LayerNorm.weight") {
            assert_eq!((lo, hi), (1.0, 1.0), "{name}");
        } else if name.ends_with(".bias") {
            assert_eq!((lo, hi), (0.0, 0.0), "{name}");
        }
    }
}

#[test]
fn cls_t_is_position_zero_of_forward_t() {
    let enc = encoder(1);
    let (ids, types, mask) = batch();
    let full = enc.bert.forward_t(&ids, &types, &mask, false).select(1, 0);
    let cls = enc.bert.cls_t(&ids, &types, &mask, false);
    assert!(max_abs_diff(&full, &cls) < 1e-6);
}

#[test]
fn appended_padding_does_not_change_real_tokens() {
    let enc = encoder(2);
    let (ids, types, mask) = batch();
    let pad = |t: &Tensor| Tensor::cat(&[t, &t.zeros_like().narrow(1, 0, 5)], 1);
    let (ids2, types2, mask2) = (pad(&ids), pad(&types), pad(&mask));
    let short = enc.bert.forward_t(&ids, &types, &mask, false);
    let long = enc.bert.forward_t(&ids2, &types2, &mask2, false);
    let real = mask.to_kind(Kind::Float).unsqueeze(-1);
    let diff = max_abs_diff(&(&short * &real), &(long.narrow(1, 0, 8) * &real));
    assert!(diff < 1e-5, "padding changed real tokens by {diff}");
    let cls = enc.bert.cls_t(&ids2, &types2, &mask2, false);
    assert!(max_abs_diff(&cls, &short.select(1, 0)) < 1e-5);

    // Changing what sits in padded positions changes nothing either.
    let other_ids = ids.where_self(&mask.ne(0), &Tensor::from(57i64));
    let other = enc.bert.forward_t(&other_ids, &types, &mask, false);
    assert!(max_abs_diff(&(&short * &real), &(other * &real)) < 1e-5);
}

#[test]
fn dropout_only_in_train_mode() {
    let enc = encoder(4);
    let (ids, types, mask) = batch();
    let run = |bert: &Bert, train| bert.forward_t(&ids, &types, &mask, train);
    assert!(run(&enc.bert, false).equal(&run(&enc.bert, false)));
    let (t1, t2) = (run(&enc.bert, true), run(&enc.bert, true));
    assert!(
        max_abs_diff(&t1, &t2) > 1e-3,
        "two train passes agree: no dropout"
    );
    assert!(max_abs_diff(&t1, &run(&enc.bert, false)) > 1e-3);

    // With every dropout probability at zero, train mode equals eval mode.
    let mut cfg = BertConfig::tiny();
    cfg.hidden_dropout_prob = 0.0;
    cfg.attention_probs_dropout_prob = 0.0;
    let plain = Encoder::random(&cfg, Device::Cpu, 4);
    assert!(max_abs_diff(&run(&plain.bert, true), &run(&plain.bert, false)) < 1e-6);

    let (_, head) = enc.new_head(2, 0);
    let cls = Tensor::ones([64, 32], (Kind::Float, Device::Cpu));
    assert!(head
        .forward_t(&cls, false)
        .equal(&head.forward_t(&cls, false)));
    assert!(!head
        .forward_t(&cls, true)
        .equal(&head.forward_t(&cls, false)));
}

/// Every trainable variable sits in the group that `depth_of` and `is_no_decay` give its
/// name (with `prefix` stripped), and the names are exactly Hugging Face's.
fn assert_groups(vs: &nn::VarStore, prefix: &str, num_layers: usize) {
    let groups = variable_groups(vs);
    assert_eq!(
        groups.len(),
        vs.variables().len(),
        "every variable is trainable"
    );
    for (name, group) in &groups {
        let model_name = name.strip_prefix(prefix).expect("prefixed name");
        let depth = depth_of(model_name, num_layers).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(
            *group,
            optimizer_group(depth, !is_no_decay(model_name)),
            "{name}"
        );
    }
}

#[test]
fn variables_have_hugging_face_names_and_depth_groups() {
    let enc = encoder(0);
    assert_groups(&enc.vs, "", 2);
    let names: Vec<String> = enc.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 5 + 2 * 16 + 2);
    for name in [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.bias",
        "encoder.layer.0.attention.self.query.weight",
        "encoder.layer.0.attention.self.key.bias",
        "encoder.layer.1.attention.self.value.weight",
        "encoder.layer.1.attention.output.dense.weight",
        "encoder.layer.1.attention.output.LayerNorm.weight",
        "encoder.layer.1.intermediate.dense.bias",
        "encoder.layer.1.output.dense.weight",
        "encoder.layer.1.output.LayerNorm.bias",
        "pooler.dense.weight",
    ] {
        assert!(names.iter().any(|n| n == name), "no variable {name}");
    }
    let groups = variable_groups(&enc.vs);
    let group_of = |name: &str| groups.iter().find(|(n, _)| n == name).unwrap().1;
    assert_eq!(group_of("embeddings.word_embeddings.weight"), 0);
    assert_eq!(group_of("embeddings.LayerNorm.weight"), 1);
    assert_eq!(group_of("encoder.layer.1.output.dense.weight"), 4);
    assert_eq!(group_of("encoder.layer.1.output.dense.bias"), 5);
    assert_eq!(group_of("pooler.dense.weight"), 6);

    let (head_vs, _) = enc.new_head(2, 0);
    assert_eq!(
        variable_groups(&head_vs),
        [("head.bias".to_string(), 7), ("head.weight".to_string(), 6)]
    );

    // Under a caller's prefix, depths come from the Hugging Face part of the name.
    let vs = nn::VarStore::new(Device::Cpu);
    let _bert = Bert::new(&vs.root().sub("bert"), &BertConfig::tiny());
    assert_groups(&vs, "bert.", 2);
}

#[test]
fn gradients_reach_every_encoder_weight_but_the_pooler() {
    let enc = encoder(5);
    let (head_vs, head) = enc.new_head(2, 1);
    let (ids, types, mask) = batch();
    let logits = head.forward_t(&enc.bert.cls_t(&ids, &types, &mask, true), true);
    logits
        .cross_entropy_for_logits(&Tensor::from_slice(&[0i64, 1]))
        .backward();
    for (name, t) in enc
        .named_parameters()
        .iter()
        .chain(&head_vs.variables().into_iter().collect::<Vec<_>>())
    {
        let has_grad = t.grad().defined();
        assert_eq!(has_grad, !name.starts_with("pooler."), "{name}");
    }
}

fn write_weights(dir: &Path, tensors: &[(String, Tensor)]) {
    Tensor::write_safetensors(tensors, dir.join("model.safetensors")).unwrap();
}

#[test]
fn save_and_load_round_trip() {
    let enc = encoder(9);
    let dir = tempfile::tempdir().unwrap();
    enc.save(dir.path()).unwrap();
    let loaded = Encoder::pretrained(dir.path(), Device::Cpu).unwrap();
    assert_eq!(loaded.config, enc.config);
    assert!(loaded.bert.has_pooler());
    assert!(loaded.ignored_tensors.is_empty());
    let (ids, types, mask) = batch();
    let a = enc.bert.forward_t(&ids, &types, &mask, false);
    assert!(a.equal(&loaded.bert.forward_t(&ids, &types, &mask, false)));
    assert_groups(&loaded.vs, "", 2);
}

#[test]
fn loads_bert_prefix_legacy_names_and_skips_pretraining_heads() {
    let enc = encoder(10);
    let dir = tempfile::tempdir().unwrap();
    enc.save(dir.path()).unwrap();
    // Old BERT checkpoints call LayerNorm's parameters gamma and beta.
    let legacy = |n: String| n.replace("LayerNorm.weight", "LayerNorm.gamma");
    let legacy = |n: String| legacy(n).replace("LayerNorm.bias", "LayerNorm.beta");
    let mut tensors: Vec<(String, Tensor)> = enc
        .named_parameters()
        .into_iter()
        .map(|(n, t)| (format!("bert.{}", legacy(n)), t))
        .collect();
    assert!(tensors
        .iter()
        .any(|(n, _)| n == "bert.embeddings.LayerNorm.gamma"));
    let position_ids = Tensor::arange(64, (Kind::Int64, Device::Cpu)).unsqueeze(0);
    tensors.push(("bert.embeddings.position_ids".into(), position_ids));
    tensors.push((
        "cls.predictions.bias".into(),
        Tensor::zeros([100], (Kind::Float, Device::Cpu)),
    ));
    write_weights(dir.path(), &tensors);

    let loaded = Encoder::pretrained(dir.path(), Device::Cpu).unwrap();
    assert_eq!(
        loaded.ignored_tensors,
        ["bert.embeddings.position_ids", "cls.predictions.bias"]
    );
    let names: Vec<String> = loaded
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(names.iter().all(|n| !n.starts_with("bert.")));
    // The header alone gives the same names, without loading a tensor.
    let weights = dir.path().join(lrdist_model::WEIGHTS_FILE);
    assert_eq!(
        lrdist_model::checkpoint_parameter_names(&weights).unwrap(),
        names
    );
    let (ids, types, mask) = batch();
    let a = enc.bert.forward_t(&ids, &types, &mask, false);
    assert!(a.equal(&loaded.bert.forward_t(&ids, &types, &mask, false)));
}

#[test]
fn a_file_without_pooler_gives_an_encoder_without_pooler() {
    let enc = encoder(11);
    let dir = tempfile::tempdir().unwrap();
    enc.save(dir.path()).unwrap();
    let tensors: Vec<_> = enc
        .named_parameters()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("pooler."))
        .collect();
    write_weights(dir.path(), &tensors);
    let loaded = Encoder::pretrained(dir.path(), Device::Cpu).unwrap();
    assert!(!loaded.bert.has_pooler());
    assert_eq!(loaded.named_parameters().len(), tensors.len());
    assert!(loaded
        .bert
        .pool(&Tensor::zeros([1, 32], (Kind::Float, Device::Cpu)))
        .is_none());
}

#[test]
fn mismatched_weights_are_listed_by_name() {
    let enc = encoder(12);
    let dir = tempfile::tempdir().unwrap();
    enc.save(dir.path()).unwrap();
    let mut tensors: Vec<_> = enc
        .named_parameters()
        .into_iter()
        .filter(|(n, _)| n != "encoder.layer.1.output.dense.bias")
        .map(|(n, t)| {
            if n == "pooler.dense.bias" {
                (n, t.narrow(0, 0, 8).copy())
            } else {
                (n, t)
            }
        })
        .collect();
    let embeddings_norm = tensors
        .iter()
        .find(|(n, _)| n == "embeddings.LayerNorm.bias");
    let duplicate = embeddings_norm.unwrap().1.shallow_clone();
    tensors.push(("bert.embeddings.LayerNorm.bias".into(), duplicate));
    tensors.push((
        "encoder.layer.7.output.dense.bias".into(),
        Tensor::zeros([32], (Kind::Float, Device::Cpu)),
    ));
    write_weights(dir.path(), &tensors);

    let err = Encoder::pretrained(dir.path(), Device::Cpu).unwrap_err();
    let message = format!("{err:#}");
    let mismatch = err
        .downcast::<WeightsMismatch>()
        .expect("a WeightsMismatch");
    assert_eq!(mismatch.missing, ["encoder.layer.1.output.dense.bias"]);
    assert_eq!(mismatch.unexpected, ["encoder.layer.7.output.dense.bias"]);
    assert_eq!(mismatch.duplicates, ["embeddings.LayerNorm.bias"]);
    assert_eq!(
        mismatch.wrong_shape,
        [("pooler.dense.bias".to_string(), vec![32], vec![8])]
    );
    for part in [
        "model.safetensors",
        "missing",
        "encoder.layer.1.output.dense.bias",
        "unexpected",
        "encoder.layer.7.output.dense.bias",
        "given twice",
        "pooler.dense.bias",
    ] {
        assert!(message.contains(part), "{part} not in: {message}");
    }
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let err = format!(
        "{:#}",
        Encoder::pretrained(dir.path(), Device::Cpu).unwrap_err()
    );
    assert!(err.contains("config.json"), "{err}");
    encoder(0).save(dir.path()).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let err = format!(
        "{:#}",
        Encoder::pretrained(dir.path(), Device::Cpu).unwrap_err()
    );
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn seeded_init_is_reproducible_and_placeholders_are_zero() {
    let build = |mode| {
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = Bert::with_options(&vs.root(), &BertConfig::tiny(), false, mode);
        let vars = vs.variables();
        vars["encoder.layer.0.attention.self.query.weight"].copy()
    };
    assert!(build(InitMode::Seed(3)).equal(&build(InitMode::Seed(3))));
    assert!(!build(InitMode::Seed(3)).equal(&build(InitMode::Seed(4))));
    let placeholder = build(InitMode::Placeholder);
    assert_eq!(placeholder.abs().sum(Kind::Float).double_value(&[]), 0.0);
}
