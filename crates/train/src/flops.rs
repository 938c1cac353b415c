//! Model FLOPs of a training step, counted from the model's shapes on the batch shapes
//! actually run (rows x padded length after per-batch padding): what a run records as
//! `StageStats::flops`, and, divided by its seconds, the achieved rate that `lrdist bench
//! speed` and `make bench-peer` compare with the matmul ceiling (issue 6, "Against the
//! ceiling").
//!
//! A multiply-add counts as 2 FLOPs. Only the matrix products are counted (projections,
//! feed-forward, attention scores and weighted sums); embeddings, LayerNorm, softmax and
//! GELU are a few per cent and left out, so the achieved rate is a slight underestimate. Backward costs twice the forward
//! (gradients with respect to inputs and to weights), the usual 3x rule.

use lrdist_model::BertConfig;

/// Forward FLOPs of `Bert::cls_t` on one `[batch, seq]` batch: every layer in full except
/// the last, which computes keys and values for all tokens but queries, attention output
/// and feed-forward for the [CLS] row only.
pub fn forward_flops(cfg: &BertConfig, batch: usize, seq: usize) -> f64 {
    let (b, t) = (batch as f64, seq as f64);
    let h = cfg.hidden_size as f64;
    let i = cfg.intermediate_size as f64;
    let layers = cfg.num_hidden_layers as f64;
    // Per query row: Q and output projections (2 h^2), feed-forward (2 h i); per key row: K
    // and V projections (2 h^2); attention: scores and weighted sum (2 t h per query row).
    let per_query = 2.0 * (2.0 * h * h + 2.0 * h * i + 2.0 * t * h);
    let per_key = 2.0 * 2.0 * h * h;
    let full = b * t * (per_query + per_key);
    let last = b * (per_query + t * per_key);
    if layers == 0.0 {
        return 0.0;
    }
    (layers - 1.0) * full + last
}

/// FLOPs of one training step (forward and backward) on a `[batch, seq]` batch.
pub fn training_step_flops(cfg: &BertConfig, batch: usize, seq: usize) -> f64 {
    3.0 * forward_flops(cfg, batch, seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(layers: usize) -> BertConfig {
        let mut c = BertConfig::tiny();
        c.hidden_size = 384;
        c.intermediate_size = 1536;
        c.num_hidden_layers = layers;
        c
    }

    #[test]
    fn a_full_layer_costs_24_h_squared_per_token_plus_attention() {
        // Two layers minus one layer isolates a full layer: 2 * (4h^2 + 2hi) + 4th per token.
        let (b, t) = (4, 10);
        let h = 384.0;
        let per_token = 2.0 * (4.0 * h * h + 2.0 * h * 1536.0) + 4.0 * t as f64 * h;
        let full = forward_flops(&cfg(2), b, t) - forward_flops(&cfg(1), b, t);
        assert!(
            (full - b as f64 * t as f64 * per_token).abs() < 1.0,
            "{full}"
        );
    }

    #[test]
    fn the_last_layer_is_cheaper_than_a_full_one() {
        let one = forward_flops(&cfg(1), 8, 32);
        let full = forward_flops(&cfg(2), 8, 32) - one;
        assert!(one < full / 2.0, "last layer {one} vs full {full}");
        assert_eq!(
            training_step_flops(&cfg(2), 8, 32),
            3.0 * forward_flops(&cfg(2), 8, 32)
        );
    }
}
