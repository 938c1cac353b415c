//! Task heads: one linear classifier (or regressor) per task on the [CLS] vector.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
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

/// What a task head reads (`--head`).
///
/// - [`HeadKind::Cls`] (the default, the paper's): the last layer's raw [CLS] vector, as
///   every committed result was trained.
/// - [`HeadKind::Pooler`]: BERT's pooler `tanh(W h_[CLS] + b)` first, then the head, as
///   Hugging Face's `BertForSequenceClassification` computes it (pooler, dropout,
///   classifier), so a model trained this way exports as exactly that class. The pooler
///   is the encoder's own (`pooler.dense.*`, from the checkpoint when it has one), shared
///   by every head of a run, and trains at the head depth L + 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    #[default]
    Cls,
    Pooler,
}

impl HeadKind {
    /// The default head, left out of run records (`skip_serializing_if`) so that records of
    /// it keep their shape.
    pub fn is_cls(&self) -> bool {
        *self == HeadKind::Cls
    }

    pub fn name(self) -> &'static str {
        match self {
            HeadKind::Cls => "cls",
            HeadKind::Pooler => "pooler",
        }
    }
}

impl fmt::Display for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HeadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cls" => Ok(HeadKind::Cls),
            "pooler" => Ok(HeadKind::Pooler),
            other => Err(format!(
                "unknown head `{other}` (cls: the raw [CLS] vector, the default; pooler: \
                 BERT's pooler first, as BertForSequenceClassification)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_kinds_parse_print_and_serialise_alike() {
        for kind in [HeadKind::Cls, HeadKind::Pooler] {
            assert_eq!(kind.name().parse::<HeadKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
        assert_eq!(HeadKind::default(), HeadKind::Cls);
        assert!(HeadKind::Cls.is_cls() && !HeadKind::Pooler.is_cls());
        let err = "pool".parse::<HeadKind>().unwrap_err();
        assert!(err.contains("pool") && err.contains("cls"), "{err}");
    }
}
