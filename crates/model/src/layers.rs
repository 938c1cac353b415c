//! Linear, LayerNorm and embedding layers whose weight and bias may sit in different
//! optimiser groups (tch's `nn::linear` puts both in its path's one group).

use tch::Tensor;

use crate::vars::{Initializer, Scope};

/// `y = x Wᵀ + b`, with `W: [out, in]` as in PyTorch.
#[derive(Debug)]
pub(crate) struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    pub(crate) fn new(s: &Scope, init: &mut Initializer, in_dim: usize, out_dim: usize) -> Self {
        let (i, o) = (in_dim as i64, out_dim as i64);
        let weight = s.param("weight", init.normal(&[o, i], None));
        let bias = s.param("bias", init.zeros(&[o]));
        Linear { weight, bias }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }
}

/// Layer normalisation over the last dimension, named `weight`/`bias` like Hugging Face.
#[derive(Debug)]
pub(crate) struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn new(s: &Scope, init: &mut Initializer, dim: usize, eps: f64) -> Self {
        let weight = s.param("weight", init.ones(&[dim as i64]));
        let bias = s.param("bias", init.zeros(&[dim as i64]));
        LayerNorm { weight, bias, eps }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        let dim = *x.size().last().expect("LayerNorm input has no dimension");
        x.layer_norm([dim], Some(&self.weight), Some(&self.bias), self.eps, true)
    }
}

/// A lookup table; rows of `padding_idx` start at zero and get no gradient.
#[derive(Debug)]
pub(crate) struct Embedding {
    weight: Tensor,
    padding_idx: i64,
}

impl Embedding {
    pub(crate) fn new(
        s: &Scope,
        init: &mut Initializer,
        rows: usize,
        dim: usize,
        padding_idx: Option<usize>,
    ) -> Self {
        let padding_idx = padding_idx.map(|p| p as i64);
        let weight = s.param(
            "weight",
            init.normal(&[rows as i64, dim as i64], padding_idx),
        );
        Embedding {
            weight,
            padding_idx: padding_idx.unwrap_or(-1),
        }
    }

    pub(crate) fn forward(&self, ids: &Tensor) -> Tensor {
        Tensor::embedding(&self.weight, ids, self.padding_idx, false, false)
    }

    pub(crate) fn rows(&self) -> i64 {
        self.weight.size()[0]
    }
}
