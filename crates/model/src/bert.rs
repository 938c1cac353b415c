//! The BERT encoder (Devlin et al. 2019), laid out and named like Hugging Face
//! `transformers`' `BertModel`, so its `model.safetensors` loads as is.

use tch::{nn, Device, Kind, Tensor};

use crate::config::BertConfig;
use crate::dropout::dropout;
use crate::head::HeadKind;
use crate::layers::{Embedding, LayerNorm, Linear};
use crate::vars::{InitMode, Initializer, Scope};

/// Word + position + token-type embeddings, then LayerNorm and dropout.
#[derive(Debug)]
struct Embeddings {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    norm: LayerNorm,
    dropout: f64,
}

impl Embeddings {
    fn new(s: &Scope, init: &mut Initializer, cfg: &BertConfig) -> Self {
        let h = cfg.hidden_size;
        Embeddings {
            word: Embedding::new(
                &s.sub("word_embeddings"),
                init,
                cfg.vocab_size,
                h,
                Some(cfg.pad_token_id),
            ),
            position: Embedding::new(
                &s.sub("position_embeddings"),
                init,
                cfg.max_position_embeddings,
                h,
                None,
            ),
            token_type: Embedding::new(
                &s.sub("token_type_embeddings"),
                init,
                cfg.type_vocab_size,
                h,
                None,
            ),
            norm: LayerNorm::new(&s.sub("LayerNorm"), init, h, cfg.layer_norm_eps),
            dropout: cfg.hidden_dropout_prob,
        }
    }

    fn forward_t(&self, input_ids: &Tensor, token_type_ids: &Tensor, train: bool) -> Tensor {
        let len = input_ids.size()[1];
        assert!(
            len <= self.position.rows(),
            "sequence length {len} exceeds max_position_embeddings {}",
            self.position.rows()
        );
        let positions = Tensor::arange(len, (Kind::Int64, input_ids.device()));
        let x = self.word.forward(input_ids) + self.token_type.forward(token_type_ids);
        let x = x + self.position.forward(&positions);
        dropout(&self.norm.forward(&x), self.dropout, train)
    }
}

/// Multi-head self-attention (`attention.self`) and its output projection
/// (`attention.output`), with the residual connection and LayerNorm.
#[derive(Debug)]
struct Attention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm: LayerNorm,
    num_heads: i64,
    probs_dropout: f64,
    hidden_dropout: f64,
}

impl Attention {
    fn new(s: &Scope, init: &mut Initializer, cfg: &BertConfig) -> Self {
        let h = cfg.hidden_size;
        let (this, out) = (s.sub("self"), s.sub("output"));
        Attention {
            query: Linear::new(&this.sub("query"), init, h, h),
            key: Linear::new(&this.sub("key"), init, h, h),
            value: Linear::new(&this.sub("value"), init, h, h),
            output: Linear::new(&out.sub("dense"), init, h, h),
            norm: LayerNorm::new(&out.sub("LayerNorm"), init, h, cfg.layer_norm_eps),
            num_heads: cfg.num_attention_heads as i64,
            probs_dropout: cfg.attention_probs_dropout_prob,
            hidden_dropout: cfg.hidden_dropout_prob,
        }
    }

    /// `[B, T, H] → [B, H, T, H / heads]`.
    fn split_heads(&self, x: &Tensor) -> Tensor {
        let (b, t, h) = x.size3().expect("attention input is not [B, T, H]");
        x.view([b, t, self.num_heads, h / self.num_heads])
            .transpose(1, 2)
    }

    /// Attention of the `queries` rows (all of `x`, or a prefix of it) over every row of
    /// `x`; `mask` is additive, broadcastable to `[B, heads, queries, T]`.
    fn forward_t(&self, x: &Tensor, queries: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let q = self.split_heads(&self.query.forward(queries));
        let k = self.split_heads(&self.key.forward(x));
        let v = self.split_heads(&self.value.forward(x));
        let context = if train && self.probs_dropout > 0.0 && q.device() == Device::Cpu {
            attention_with_dropout(&q, &k, &v, mask, self.probs_dropout)
        } else {
            let p = if train { self.probs_dropout } else { 0.0 };
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(mask), p, false, None, false)
        };
        let (b, t, h) = queries.size3().expect("queries are not [B, T, H]");
        let context = context.transpose(1, 2).reshape([b, t, h]);
        let out = dropout(&self.output.forward(&context), self.hidden_dropout, train);
        self.norm.forward(&(out + queries))
    }
}

/// `softmax(q kᵀ / √d + mask)` with dropout on the probabilities, times `v`: the math path
/// `scaled_dot_product_attention` takes on the CPU when it drops out, written out so the
/// probabilities go through [`dropout`] instead of libtorch's serial Bernoulli draw.
fn attention_with_dropout(q: &Tensor, k: &Tensor, v: &Tensor, mask: &Tensor, p: f64) -> Tensor {
    let head_dim = q.size()[3] as f64;
    let scores = q.matmul(&k.transpose(-2, -1)) * (1.0 / head_dim.sqrt()) + mask;
    dropout(&scores.softmax(-1, Kind::Float), p, true).matmul(v)
}

/// One transformer block: attention, then the GELU feed-forward (`intermediate`,
/// `output`) with its residual connection and LayerNorm.
#[derive(Debug)]
struct Layer {
    attention: Attention,
    intermediate: Linear,
    output: Linear,
    norm: LayerNorm,
    dropout: f64,
}

impl Layer {
    fn new(s: &Scope, init: &mut Initializer, cfg: &BertConfig) -> Self {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        Layer {
            attention: Attention::new(&s.sub("attention"), init, cfg),
            intermediate: Linear::new(&s.sub("intermediate").sub("dense"), init, h, i),
            output: Linear::new(&s.sub("output").sub("dense"), init, i, h),
            norm: LayerNorm::new(
                &s.sub("output").sub("LayerNorm"),
                init,
                h,
                cfg.layer_norm_eps,
            ),
            dropout: cfg.hidden_dropout_prob,
        }
    }

    /// Outputs for the `queries` rows of `x` (all of `x` in a normal forward pass).
    fn forward_t(&self, x: &Tensor, queries: &Tensor, mask: &Tensor, train: bool) -> Tensor {
        let attended = self.attention.forward_t(x, queries, mask, train);
        let inner = self.intermediate.forward(&attended).gelu("none");
        let out = dropout(&self.output.forward(&inner), self.dropout, train);
        self.norm.forward(&(out + attended))
    }
}

/// `tanh(W h_[CLS] + b)`: BERT's pooler. The default task heads read the [CLS] vector
/// itself and leave it out of the graph (it is kept so pretrained checkpoints load whole);
/// `--head pooler` heads read its output ([`HeadKind::Pooler`]).
#[derive(Debug)]
struct Pooler {
    dense: Linear,
}

impl Pooler {
    /// `pooler.dense` under the model's root scope.
    fn new(root: &Scope, init: &mut Initializer, cfg: &BertConfig) -> Pooler {
        let h = cfg.hidden_size;
        Pooler {
            dense: Linear::new(&root.sub("pooler").sub("dense"), init, h, h),
        }
    }
}

/// The BERT encoder: embeddings, `num_hidden_layers` transformer blocks and an optional
/// pooler. Variables are named like Hugging Face (`embeddings.word_embeddings.weight`,
/// `encoder.layer.{i}.attention.self.query.weight`, …, `pooler.dense.weight`) under the
/// caller's path, each in optimiser group `optimizer_group(depth_of(name), !is_no_decay(name))`.
#[derive(Debug)]
pub struct Bert {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    pooler: Option<Pooler>,
    config: BertConfig,
}

impl Bert {
    /// A BERT with a pooler, initialised like Hugging Face from torch's global generator
    /// (so `tch::manual_seed` fixes it). Panics on a configuration that
    /// [`BertConfig::validate`] rejects.
    pub fn new(p: &nn::Path, cfg: &BertConfig) -> Bert {
        Bert::with_options(p, cfg, true, InitMode::TorchSeed)
    }

    /// A BERT with or without a pooler, initialised as `init` says.
    pub fn with_options(p: &nn::Path, cfg: &BertConfig, pooler: bool, init: InitMode) -> Bert {
        if let Err(e) = cfg.validate() {
            panic!("cannot build BERT: {e:#}");
        }
        let mut init = Initializer::new(init, cfg.initializer_range, p.device());
        let root = Scope::new(p, cfg.num_hidden_layers);
        let embeddings = Embeddings::new(&root.sub("embeddings"), &mut init, cfg);
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| Layer::new(&root.sub("encoder").sub("layer").sub(i), &mut init, cfg))
            .collect();
        let pooler = pooler.then(|| Pooler::new(&root, &mut init, cfg));
        Bert {
            embeddings,
            layers,
            pooler,
            config: cfg.clone(),
        }
    }

    /// Last hidden states `[B, T, H]` of `input_ids` `[B, T]`. `attention_mask` `[B, T]`
    /// is 1 (or true) on real tokens, 0 on padding. Dropout only when `train`.
    pub fn forward_t(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Tensor {
        let mask = additive_mask(attention_mask);
        let x = self.embeddings.forward_t(input_ids, token_type_ids, train);
        self.layers
            .iter()
            .fold(x, |x, layer| layer.forward_t(&x, &x, &mask, train))
    }

    /// The last layer's [CLS] vector `[B, H]` (position 0), the input of the task heads
    /// (docs/METHOD.md, "Forgetting protocol"). Same value as `forward_t(..).select(1, 0)`, but
    /// the last layer computes only the [CLS] row.
    pub fn cls_t(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Tensor {
        let mask = additive_mask(attention_mask);
        let mut x = self.embeddings.forward_t(input_ids, token_type_ids, train);
        let Some((last, inner)) = self.layers.split_last() else {
            return x.select(1, 0);
        };
        for layer in inner {
            x = layer.forward_t(&x, &x, &mask, train);
        }
        let cls = x.narrow(1, 0, 1);
        last.forward_t(&x, &cls, &mask, train).squeeze_dim(1)
    }

    /// The pooler's output `tanh(W cls + b)` `[B, H]` for a [CLS] vector `[B, H]`, or
    /// `None` for a BERT built without pooler.
    pub fn pool(&self, cls: &Tensor) -> Option<Tensor> {
        self.pooler.as_ref().map(|p| p.dense.forward(cls).tanh())
    }

    /// What a task head of kind `kind` reads, `[B, H]`: the last layer's [CLS] vector
    /// ([`Bert::cls_t`]) for [`HeadKind::Cls`], the pooler's output on it for
    /// [`HeadKind::Pooler`] (as `BertForSequenceClassification`). Panics for
    /// [`HeadKind::Pooler`] on a BERT without pooler ([`Bert::add_pooler`] gives it one).
    pub fn head_input_t(
        &self,
        kind: HeadKind,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Tensor {
        let cls = self.cls_t(input_ids, token_type_ids, attention_mask, train);
        match kind {
            HeadKind::Cls => cls,
            HeadKind::Pooler => self
                .pool(&cls)
                .expect("a pooler head on a BERT without pooler (call Bert::add_pooler)"),
        }
    }

    /// Gives a BERT built without pooler one (`pooler.dense.*`, initialised as `init`
    /// says) under `p`, the path it was built on. Returns false, changing nothing, when it
    /// already has one.
    pub fn add_pooler(&mut self, p: &nn::Path, init: InitMode) -> bool {
        if self.pooler.is_some() {
            return false;
        }
        let mut init = Initializer::new(init, self.config.initializer_range, p.device());
        let root = Scope::new(p, self.config.num_hidden_layers);
        self.pooler = Some(Pooler::new(&root, &mut init, &self.config));
        true
    }

    pub fn has_pooler(&self) -> bool {
        self.pooler.is_some()
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }
}

/// `[B, T]` 1/0 mask → additive `[B, 1, 1, T]` mask: 0 on real tokens, the float minimum
/// on padding (as Hugging Face does), broadcast over heads and query rows.
fn additive_mask(attention_mask: &Tensor) -> Tensor {
    let (b, t) = attention_mask
        .size2()
        .expect("attention_mask is not [B, T]");
    let padding = attention_mask.to_kind(Kind::Float).neg() + 1.0;
    (padding * f64::from(f32::MIN)).view([b, 1, 1, t])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_out_attention_matches_sdpa_without_dropout() {
        let _rng = crate::torch_rng_lock();
        tch::manual_seed(0);
        let opts = (Kind::Float, Device::Cpu);
        let (q, k, v) = (
            Tensor::randn([3, 4, 5, 8], opts),
            Tensor::randn([3, 4, 7, 8], opts),
            Tensor::randn([3, 4, 7, 8], opts),
        );
        let keep = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0, 0])
            .view([1, 7])
            .repeat([3, 1]);
        let mask = additive_mask(&keep);
        let ours = attention_with_dropout(&q, &k, &v, &mask, 0.0);
        let sdpa =
            Tensor::scaled_dot_product_attention(&q, &k, &v, Some(&mask), 0.0, false, None, false);
        assert!(ours.allclose(&sdpa, 1e-5, 1e-5, false));
        // Padding keys get no weight: changing their values changes nothing.
        let v2 = v.copy();
        let _ = v2.narrow(2, 5, 2).fill_(100.0);
        let ours2 = attention_with_dropout(&q, &k, &v2, &mask, 0.0);
        assert!(ours2.allclose(&ours, 1e-5, 1e-5, false));
    }

    #[test]
    fn attention_dropout_keeps_rows_unbiased() {
        let _rng = crate::torch_rng_lock();
        // Dropped probabilities are zeroed and the rest scaled by 1/(1-p): the expected
        // output equals the output without dropout. With v = 1 every row sums its weights.
        tch::manual_seed(1);
        let opts = (Kind::Float, Device::Cpu);
        let q = Tensor::randn([64, 4, 16, 8], opts);
        let k = Tensor::randn([64, 4, 16, 8], opts);
        let v = Tensor::ones([64, 4, 16, 1], opts);
        let mask = Tensor::zeros([64, 1, 1, 16], opts);
        let out = attention_with_dropout(&q, &k, &v, &mask, 0.5);
        let mean = out.mean(Kind::Float).double_value(&[]);
        assert!((mean - 1.0).abs() < 0.02, "mean row weight {mean}");
        assert!(
            out.std(true).double_value(&[]) > 0.05,
            "no dropout happened"
        );
    }
}
