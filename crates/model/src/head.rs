//! Task heads: one linear classifier (or regressor) per task on the [CLS] vector.

use tch::{nn, Tensor};

use crate::config::BertConfig;
use crate::dropout::dropout;
use crate::layers::Linear;
use crate::vars::{InitMode, Initializer, Scope};

/// Dropout, then `Linear(hidden, num_labels)` on the last layer's [CLS] vector
/// (docs/METHOD.md, "Forgetting protocol", step 1: each task has its own linear head on the
/// shared encoder). `num_labels == 1` is a regression head. Its `weight` and `bias` are
/// created directly under the caller's path, in the optimiser groups of the head depth
/// (`depth_of("head.*")` = number of layers + 1).
#[derive(Debug)]
pub struct Head {
    linear: Linear,
    dropout: f64,
    num_labels: usize,
}

impl Head {
    /// A head initialised like Hugging Face (normal weights, zero bias) from torch's
    /// global generator.
    pub fn new(p: &nn::Path, cfg: &BertConfig, num_labels: usize) -> Head {
        Head::with_init(p, cfg, num_labels, InitMode::TorchSeed)
    }

    pub fn with_init(p: &nn::Path, cfg: &BertConfig, num_labels: usize, init: InitMode) -> Head {
        assert!(num_labels > 0, "a task head needs at least one output");
        let mut init = Initializer::new(init, cfg.initializer_range, p.device());
        let scope = Scope::named(p, "head", cfg.num_hidden_layers);
        Head {
            linear: Linear::new(&scope, &mut init, cfg.hidden_size, num_labels),
            dropout: cfg.head_dropout(),
            num_labels,
        }
    }

    /// Logits (or the regression output) `[B, num_labels]` for [CLS] vectors `[B, H]`.
    pub fn forward_t(&self, cls: &Tensor, train: bool) -> Tensor {
        self.linear.forward(&dropout(cls, self.dropout, train))
    }

    pub fn num_labels(&self) -> usize {
        self.num_labels
    }
}

/// What a task head reads (`--head`); defined in `lrdist-record`, as run records write it.
pub use lrdist_record::HeadKind;
