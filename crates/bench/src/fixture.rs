//! The fixed inputs benches step on: a MiniLM-L6-shaped encoder on one random batch,
//! the two optimiser settings a distribution's cost compares, and the tensors one step
//! drops out.

use anyhow::Result;
use lrdist_model::{BertConfig, Encoder};
use lrdist_optimizer::{AdamWConfig, LayerwiseAdamW};
use tch::{Device, Kind, Tensor};

/// Shapes of the tensors one training step of `Bert::cls_t` plus a head drops out on a
/// `[batch, seq]` batch: the embeddings; in every layer the attention probabilities, the
/// attention output and the feed-forward output (the last layer for the [CLS] query only);
/// the head's input.
pub fn dropout_shapes(cfg: &BertConfig, batch: i64, seq: i64) -> Vec<Vec<i64>> {
    let (h, heads) = (cfg.hidden_size as i64, cfg.num_attention_heads as i64);
    let mut shapes = vec![vec![batch, seq, h]];
    for layer in 0..cfg.num_hidden_layers {
        let queries = if layer + 1 == cfg.num_hidden_layers {
            1
        } else {
            seq
        };
        shapes.push(vec![batch, heads, queries, seq]);
        shapes.push(vec![batch, queries, h]);
        shapes.push(vec![batch, queries, h]);
    }
    shapes.push(vec![batch, h]);
    shapes
}

/// A randomly initialised BERT with MiniLM-L6's shapes (6 layers, hidden 384, 12 heads,
/// vocabulary 30522): the cost of a step depends on shapes, not on weight values, so
/// benches need no model files.
pub fn minilm_config() -> BertConfig {
    let mut cfg = BertConfig::tiny();
    cfg.vocab_size = 30522;
    cfg.hidden_size = 384;
    cfg.num_hidden_layers = 6;
    cfg.num_attention_heads = 12;
    cfg.intermediate_size = 1536;
    cfg.max_position_embeddings = 512;
    cfg
}

/// One fixed `[batch, seq]` batch of random token ids on a [`minilm_config`] encoder with a
/// 2-label head: what the criterion benches (`benches/step.rs`) and the instruction count
/// of a distribution's cost (`examples/distribution_cost.rs`) step on.
pub struct StepFixture {
    pub encoder: Encoder,
    pub head_vs: tch::nn::VarStore,
    pub head: lrdist_model::Head,
    ids: Tensor,
    types: Tensor,
    mask: Tensor,
    labels: Tensor,
}

impl StepFixture {
    pub fn new(batch: i64, seq: i64) -> Self {
        tch::manual_seed(0);
        let encoder = Encoder::random(&minilm_config(), Device::Cpu, 0);
        let (head_vs, head) = encoder.new_head(2, 1);
        let ids = Tensor::randint_low(1000, 30000, [batch, seq], (Kind::Int64, Device::Cpu));
        StepFixture {
            encoder,
            head_vs,
            head,
            ids,
            types: Tensor::zeros([batch, seq], (Kind::Int64, Device::Cpu)),
            mask: Tensor::ones([batch, seq], (Kind::Int64, Device::Cpu)),
            labels: Tensor::randint(2, [batch], (Kind::Int64, Device::Cpu)),
        }
    }

    pub fn logits(&self, train: bool) -> Tensor {
        let cls = self
            .encoder
            .bert
            .cls_t(&self.ids, &self.types, &self.mask, train);
        self.head.forward_t(&cls, train)
    }

    pub fn loss(&self) -> Tensor {
        self.logits(true).cross_entropy_for_logits(&self.labels)
    }

    /// The paper's optimiser (AdamW defaults) over encoder and head at `rates` per depth.
    pub fn optimizer(&self, rates: &[f64]) -> Result<LayerwiseAdamW> {
        LayerwiseAdamW::new(
            &[&self.encoder.vs, &self.head_vs],
            rates,
            &AdamWConfig::default(),
            1_000_000,
        )
    }
}

/// The two optimiser settings every "cost of a distribution" measurement compares, for
/// `depths` groups: one rate (2e-5) for all, and a distinct rate per depth (1e-6 x
/// (depth + 1)), so that every group's rate differs from its neighbours'.
pub fn one_rate_and_per_depth(depths: usize) -> (Vec<f64>, Vec<f64>) {
    let per_depth = (0..depths).map(|d| 1e-6 * (d + 1) as f64).collect();
    (vec![2e-5; depths], per_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropout_shapes_count_three_per_layer_and_cls_only_in_the_last() {
        let mut c = minilm_config();
        c.num_hidden_layers = 3;
        let (h, heads) = (c.hidden_size as i64, c.num_attention_heads as i64);
        let shapes = dropout_shapes(&c, 2, 5);
        assert_eq!(shapes.len(), 1 + 3 * 3 + 1);
        assert_eq!(shapes[0], vec![2, 5, h]);
        assert_eq!(shapes[1], vec![2, heads, 5, 5]);
        assert_eq!(shapes[7], vec![2, heads, 1, 5]);
        assert_eq!(shapes[9], vec![2, 1, h]);
        assert_eq!(shapes[10], vec![2, h]);
    }
}
