//! Parity with Hugging Face `transformers`' `BertModel` on 32 real GLUE inputs (16 SST-2
//! sentences, 16 MRPC pairs). The expected values come from
//! `scripts/make_parity_fixture.py` (its command and versions are in the fixture's
//! metadata); this test needs the real model but no Python.

use std::path::PathBuf;

use lrdist_model::Encoder;
use tch::{Device, Kind, Tensor};

const TOLERANCE: f64 = 1e-4;

fn model_dir() -> PathBuf {
    let dir = std::env::var_os("LRDIST_MODEL").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/all-MiniLM-L6-v2"
            ))
        },
        PathBuf::from,
    );
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 not found at {}: set LRDIST_MODEL to its directory",
        dir.display()
    );
    dir
}

fn fixture() -> std::collections::HashMap<String, Tensor> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/minilm_parity.safetensors"
    );
    Tensor::read_safetensors(path)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
        .into_iter()
        .collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

#[test]
fn minilm_matches_hugging_face_on_glue_inputs() {
    let encoder = Encoder::pretrained(&model_dir(), Device::Cpu).unwrap();
    assert_eq!(encoder.ignored_tensors, ["embeddings.position_ids"]);
    let want = fixture();
    let (ids, types, mask) = (
        &want["input_ids"],
        &want["token_type_ids"],
        &want["attention_mask"],
    );

    let (hidden, cls_fast) = tch::no_grad(|| {
        let hidden = encoder.bert.forward_t(ids, types, mask, false);
        (hidden, encoder.bert.cls_t(ids, types, mask, false))
    });
    let real = mask.to_kind(Kind::Float).unsqueeze(-1);
    let lengths = mask.sum_dim_intlist(1, false, Kind::Int64);
    let rows = Tensor::arange(ids.size()[0], (Kind::Int64, Device::Cpu));
    let cls = hidden.select(1, 0);
    let got = [
        ("cls", cls.shallow_clone()),
        ("cls (cls_t)", cls_fast),
        (
            "last",
            hidden.index(&[Some(rows), Some(lengths.shallow_clone() - 1)]),
        ),
        (
            "mean",
            (&hidden * &real).sum_dim_intlist(1, false, Kind::Float)
                / lengths.unsqueeze(-1).to_kind(Kind::Float),
        ),
        ("max_abs", (hidden.abs() * &real).amax([1, 2], false)),
        (
            "pooled",
            tch::no_grad(|| encoder.bert.pool(&cls).expect("MiniLM has a pooler")),
        ),
        ("proj", hidden.matmul(&want["directions"]) * &real),
    ];

    let mut worst = 0.0f64;
    for (name, value) in &got {
        let key = name.split(' ').next().unwrap();
        let diff = max_abs_diff(value, &want[key]);
        println!("{name:12} max |rust - transformers| = {diff:.3e}");
        assert!(
            diff <= TOLERANCE,
            "{name}: max abs diff {diff:e} > {TOLERANCE:e}"
        );
        worst = worst.max(diff);
    }
    let tokens = mask.sum(Kind::Int64).int64_value(&[]);
    println!("parity over {tokens} real tokens: max abs diff {worst:.3e}");
}
