//! Every trainable tensor of a Hugging Face BERT lands in exactly one group.
//!
//! docs/METHOD.md, "Learning-rate groups": the authors' code put no encoder layer in any
//! optimiser when it used one group, so their flat and EWC baselines trained with a
//! frozen encoder. These tests enumerate the real parameter names of a BERT with L layers
//! (plus one task head) and check that each maps to a depth and a group.

use lrdist_optimizer::{group_table, Grouping};

const HIDDEN: usize = 8;
const VOCAB: usize = 50;
const POSITIONS: usize = 16;
const TYPES: usize = 2;
const CLASSES: usize = 3;

/// The trainable parameters of a Hugging Face `BertModel` with `num_layers` layers and
/// a linear task head `head.*`, as (name, number of elements).
fn bert_parameters(num_layers: usize) -> Vec<(String, usize)> {
    let (h, ff) = (HIDDEN, 4 * HIDDEN);
    let mut params = vec![
        ("embeddings.word_embeddings.weight".to_string(), VOCAB * h),
        (
            "embeddings.position_embeddings.weight".to_string(),
            POSITIONS * h,
        ),
        (
            "embeddings.token_type_embeddings.weight".to_string(),
            TYPES * h,
        ),
        ("embeddings.LayerNorm.weight".to_string(), h),
        ("embeddings.LayerNorm.bias".to_string(), h),
    ];
    for i in 0..num_layers {
        let layer = [
            ("attention.self.query.weight", h * h),
            ("attention.self.query.bias", h),
            ("attention.self.key.weight", h * h),
            ("attention.self.key.bias", h),
            ("attention.self.value.weight", h * h),
            ("attention.self.value.bias", h),
            ("attention.output.dense.weight", h * h),
            ("attention.output.dense.bias", h),
            ("attention.output.LayerNorm.weight", h),
            ("attention.output.LayerNorm.bias", h),
            ("intermediate.dense.weight", ff * h),
            ("intermediate.dense.bias", ff),
            ("output.dense.weight", h * ff),
            ("output.dense.bias", h),
            ("output.LayerNorm.weight", h),
            ("output.LayerNorm.bias", h),
        ];
        params.extend(layer.map(|(n, k)| (format!("encoder.layer.{i}.{n}"), k)));
    }
    params.push(("pooler.dense.weight".to_string(), h * h));
    params.push(("pooler.dense.bias".to_string(), h));
    params.push(("head.weight".to_string(), CLASSES * h));
    params.push(("head.bias".to_string(), CLASSES));
    params
}

/// Expected scalars per group, counted independently of `group_table`.
fn numel_of_depth(depth: usize, num_layers: usize) -> usize {
    let (h, ff) = (HIDDEN, 4 * HIDDEN);
    match depth {
        0 => (VOCAB + POSITIONS + TYPES) * h + 2 * h,
        d if d <= num_layers => 4 * (h * h + h) + 2 * h + (ff * h + ff) + (h * ff + h) + 2 * h,
        _ => h * h + h + CLASSES * h + CLASSES,
    }
}

fn check(num_layers: usize, grouping: &Grouping) {
    let params = bert_parameters(num_layers);
    let rows = group_table(&params, num_layers, grouping)
        .unwrap_or_else(|e| panic!("L = {num_layers}, {}: {e}", grouping.spec()));
    assert_eq!(rows.len(), grouping.len());
    let tensors: usize = rows.iter().map(|r| r.tensors).sum();
    assert_eq!(
        tensors,
        params.len(),
        "every tensor is counted exactly once"
    );
    let mut next_depth = 0;
    for row in &rows {
        assert_eq!(row.depth_lo, next_depth, "groups are contiguous");
        assert!(row.tensors > 0, "group {} is empty", row.group);
        let expected: usize = (row.depth_lo..=row.depth_hi)
            .map(|d| numel_of_depth(d, num_layers))
            .sum();
        assert_eq!(
            row.params, expected,
            "L = {num_layers}, group {}",
            row.group
        );
        next_depth = row.depth_hi + 1;
    }
    assert_eq!(
        next_depth,
        num_layers + 2,
        "the last group ends at the heads"
    );
}

#[test]
fn every_tensor_lands_in_one_group() {
    for num_layers in [2, 6, 12] {
        check(num_layers, &Grouping::per_layer(num_layers));
        for k in 1..=num_layers + 2 {
            check(num_layers, &Grouping::even(num_layers, k).unwrap());
        }
    }
    check(12, &Grouping::paper10());
}

#[test]
fn one_group_holds_the_whole_encoder() {
    // The case the authors' code got wrong: a single group must hold every layer.
    let rows = group_table(&bert_parameters(12), 12, &Grouping::even(12, 1).unwrap()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].tensors, 5 + 12 * 16 + 4);
}

#[test]
fn paper10_groups_hold_the_papers_layers() {
    let rows = group_table(&bert_parameters(12), 12, &Grouping::paper10()).unwrap();
    // Tensors per group: embeddings 5; one layer 16; two layers 32; pooler + head 4.
    let tensors: Vec<usize> = rows.iter().map(|r| r.tensors).collect();
    assert_eq!(tensors, [5, 32, 16, 32, 16, 32, 16, 32, 16, 4]);
}

#[test]
fn an_unknown_parameter_is_an_error() {
    let mut params = bert_parameters(2);
    params.push(("encoder.layer.2.output.dense.bias".to_string(), HIDDEN));
    let err = group_table(&params, 2, &Grouping::per_layer(2)).unwrap_err();
    assert!(
        err.to_string()
            .contains("encoder.layer.2.output.dense.bias"),
        "{err}"
    );
    let err = group_table(&bert_parameters(2), 2, &Grouping::per_layer(6)).unwrap_err();
    assert!(err.to_string().contains("built for 6 layers"), "{err}");
}
