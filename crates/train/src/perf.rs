//! What a training step costs and how fast the machine could do it (issue 6, "Against the
//! ceiling"), and the one-run measurement of what makes training fast (`lrdist bench
//! speed`).
//!
//! FLOPs are counted from the model's shapes on the batch shapes actually run (rows x
//! padded length after per-batch padding), a multiply-add counted as 2 FLOPs. Only the
//! matrix products are counted (projections, feed-forward, attention scores and
//! weighted sums); embeddings, LayerNorm, softmax and GELU are a few per cent and left
//! out, so the achieved rate is a slight underestimate. Backward costs twice the forward
//! (gradients with respect to inputs and to weights), the usual 3x rule.

use std::time::Instant;

use anyhow::Result;
use lrdist_data::{DataSpec, Task};
use lrdist_model::{BertConfig, Encoder};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use lrdist_optimizer::{AdamWConfig, LayerwiseAdamW};

use crate::learner::{Decision, Learner, StageHp};
use crate::prep::DataCache;
use crate::runner::Env;

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

/// The machine's fp32 matrix-product rate through libtorch: FLOP/s of `[n, n] x [n, n]`
/// products on `device`, the best of `reps` timed runs after three warm-up runs (thread
/// pools and clock frequency settle; the first runs of a process are measurably slower).
pub fn matmul_flops_per_s(device: Device, n: i64, reps: usize) -> f64 {
    let opts = (Kind::Float, device);
    let a = Tensor::randn([n, n], opts);
    let b = Tensor::randn([n, n], opts);
    for _ in 0..3 {
        let _ = a.matmul(&b).sum(Kind::Float).double_value(&[]);
    }
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        let c = a.matmul(&b);
        let _ = c.sum(Kind::Float).double_value(&[]); // waits for the device
        best = best.min(start.elapsed().as_secs_f64());
    }
    2.0 * (n as f64).powi(3) / best
}

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

/// One measured line of `lrdist bench speed`.
#[derive(Clone, Debug, Serialize)]
pub struct SpeedRow {
    /// What is varied: `bucketing`, `threads`, `tokenisation cache`, ...
    pub factor: String,
    /// The setting measured on this line.
    pub setting: String,
    pub value: f64,
    pub unit: String,
    /// `value` relative to the factor's first line (its baseline), as a speed-up.
    pub speedup: f64,
}

/// Options of [`speed_report`].
#[derive(Clone, Debug)]
pub struct SpeedOptions {
    pub task: Task,
    /// Train rows per measured epoch.
    pub train_rows: usize,
    pub batch_size: usize,
    pub max_len: usize,
}

/// Measures, in one run on the real model and real rows of `opts.task`, each thing that
/// makes lrdist fast (issue 6, "What makes it fast, each measured"): tokenisation cached
/// per task and max length, length bucketing against per-batch (dynamic) padding, the cost
/// of a distribution, lrdist's dropout against libtorch's, intra-op threads, evaluation
/// without autograd, evaluation batch size; plus the matmul ceiling and the training
/// step's share of it. Every line is timed in this process, one after the other.
pub fn speed_report(
    env: &Env,
    opts: &SpeedOptions,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<SpeedRow>> {
    let mut rows = Vec::new();
    let mut push =
        |factor: &str, setting: String, value: f64, unit: &str, rows: &mut Vec<SpeedRow>| {
            let base = rows
                .iter()
                .find(|r: &&SpeedRow| r.factor == factor)
                .map_or(value, |r| r.value);
            // Times: lower is better; rates: higher is better.
            let speedup = if unit == "s" || unit == "ms/step" {
                base / value
            } else {
                value / base
            };
            log(&format!(
                "{factor:>20} | {setting:<34} | {value:>10.3} {unit}"
            ));
            rows.push(SpeedRow {
                factor: factor.to_string(),
                setting,
                value,
                unit: unit.to_string(),
                speedup,
            });
        };

    // Tokenisation: first request tokenises, the second is a cache hit.
    let spec = DataSpec {
        max_train: Some(opts.train_rows),
        max_dev: None,
        dev_from_train: None,
        seed: 0,
    };
    let mut data = DataCache::new(&env.glue_dir, &env.model_dir, opts.max_len)?;
    let start = Instant::now();
    let prepared = data.task(opts.task, &spec)?;
    let first = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let _ = data.task(opts.task, &spec)?;
    let again = start.elapsed().as_secs_f64().max(1e-9);
    let n = prepared.train.len() + prepared.dev.len();
    push(
        "tokenisation",
        format!("tokenise {n} rows (no cache)"),
        first,
        "s",
        &mut rows,
    );
    push(
        "tokenisation",
        "cache hit (same task, max length)".into(),
        again,
        "s",
        &mut rows,
    );

    let encoder = Encoder::pretrained(&env.model_dir, env.device)?;
    let cfg = encoder.config.clone();
    let mut learner = Learner::new(encoder, data.tokenizer().pad_id());
    let head = learner.add_head(opts.task, 0);
    let (rates, per_layer) = one_rate_and_per_depth(cfg.num_hidden_layers + 2);
    let threads = tch::get_num_threads();

    // Training: one epoch per line over the same rows.
    let train = |learner: &mut Learner, bucketing: bool| -> Result<(f64, f64)> {
        let hp = StageHp {
            epochs: 1,
            batch_size: opts.batch_size,
            eval_batch_size: 32,
            bucketing,
            optimizer: Default::default(),
            seed: 0,
            progress: false,
            train_from_depth: 0,
        };
        let stats =
            learner.train_stage(head, &prepared.train, &rates, &hp, None, &mut |_, _| {
                Ok(Decision::Continue)
            })?;
        Ok((stats.samples_per_s, stats.flops / stats.seconds.max(1e-9)))
    };
    let _ = train(&mut learner, true)?; // warm-up: allocator, oneDNN kernels

    // The ceiling is read right before and right after the measured epoch (the VM's speed
    // drifts between minutes); the higher reading counts.
    let before = matmul_flops_per_s(env.device, 2048, 20);
    let (bucketed, bucketed_flops) = train(&mut learner, true)?;
    let peak = before.max(matmul_flops_per_s(env.device, 2048, 20));
    let (shuffled, _) = train(&mut learner, false)?;
    let b = opts.batch_size;
    push(
        "padding",
        format!("per-batch padding, random batches (b{b})"),
        shuffled,
        "samples/s",
        &mut rows,
    );
    push(
        "padding",
        format!("length bucketing (b{b}, lrdist default)"),
        bucketed,
        "samples/s",
        &mut rows,
    );

    // The cost of a distribution: the same batches stepped alternately by an optimiser
    // with one rate for all depths and one with a rate per depth, so that drift of the
    // machine's speed hits both alike.
    let batches = lrdist_data::make_batches(
        &prepared.train.rows,
        opts.batch_size,
        lrdist_data::BatchOrder::Bucketed { seed: 1 },
        data.tokenizer().pad_id(),
    );
    let stores = [&learner.encoder.vs, &learner.heads[head].vs];
    let total = batches.len().max(1);
    let mut one_opt = LayerwiseAdamW::new(&stores, &rates, &AdamWConfig::default(), total)?;
    let mut layer_opt = LayerwiseAdamW::new(&stores, &per_layer, &AdamWConfig::default(), total)?;
    let (mut one_s, mut layer_s) = (0.0, 0.0);
    for (i, batch) in batches.iter().enumerate() {
        let mut pair = [(&mut one_opt, &mut one_s), (&mut layer_opt, &mut layer_s)];
        if i % 2 == 1 {
            pair.reverse(); // who goes first alternates: no order bias
        }
        for (opt, seconds) in pair {
            let start = Instant::now();
            opt.step(&learner.batch_loss(head, batch))?;
            *seconds += start.elapsed().as_secs_f64();
        }
    }
    let steps = batches.len() as f64;
    push(
        "distribution",
        format!("one rate for all depths (b{b}, interleaved)"),
        1e3 * one_s / steps,
        "ms/step",
        &mut rows,
    );
    push(
        "distribution",
        format!("one rate per depth (b{b}, interleaved)"),
        1e3 * layer_s / steps,
        "ms/step",
        &mut rows,
    );

    // Dropout: the tensors one training step drops out, for each bucketed batch, through
    // libtorch's dropout and through lrdist's (interleaved, as above).
    let (mut torch_s, mut ours_s) = (0.0, 0.0);
    for (i, batch) in batches.iter().enumerate() {
        let (rows, len) = (batch.batch_size as i64, batch.seq_len as i64);
        for (j, shape) in dropout_shapes(&cfg, rows, len).iter().enumerate() {
            let x = Tensor::randn(shape.as_slice(), (Kind::Float, env.device));
            let p = cfg.hidden_dropout_prob;
            let mut pair: [(&mut f64, &dyn Fn() -> Tensor); 2] = [
                (&mut torch_s, &|| x.dropout(p, true)),
                (&mut ours_s, &|| lrdist_model::dropout::dropout(&x, p, true)),
            ];
            if (i + j) % 2 == 1 {
                pair.reverse();
            }
            for (seconds, f) in pair {
                let start = Instant::now();
                let _ = f().sum(Kind::Float).double_value(&[]);
                *seconds += start.elapsed().as_secs_f64();
            }
        }
    }
    push(
        "dropout",
        format!("libtorch Tensor::dropout (one step's tensors, b{b})"),
        1e3 * torch_s / steps,
        "ms/step",
        &mut rows,
    );
    push(
        "dropout",
        format!("lrdist_model::dropout (one step's tensors, b{b})"),
        1e3 * ours_s / steps,
        "ms/step",
        &mut rows,
    );

    tch::set_num_threads(1);
    let single = train(&mut learner, true);
    tch::set_num_threads(threads);
    push(
        "threads",
        "1 intra-op thread".into(),
        single?.0,
        "samples/s",
        &mut rows,
    );
    push(
        "threads",
        format!("{threads} intra-op threads (= cores)"),
        bucketed,
        "samples/s",
        &mut rows,
    );

    // Evaluation on the dev rows: every setting once per round, 3 rounds, best round
    // counts (the machine's speed drifts; round-robin exposes every setting to it alike).
    let dev = &prepared.dev;
    let settings: Vec<(usize, bool)> = [(32, true)]
        .into_iter()
        .chain([16, 32, 64, 128, 512].map(|b| (b, false)))
        .collect();
    let mut best = vec![0f64; settings.len()];
    let _ = learner.predict_with(head, dev, 32, false); // warm-up
    for _ in 0..3 {
        for (k, &(batch, autograd)) in settings.iter().enumerate() {
            let start = Instant::now();
            let _ = learner.predict_with(head, dev, batch, autograd);
            best[k] = best[k].max(dev.len() as f64 / start.elapsed().as_secs_f64());
        }
    }
    push(
        "eval autograd",
        "autograd on (batch 32)".into(),
        best[0],
        "rows/s",
        &mut rows,
    );
    push(
        "eval autograd",
        "no_grad (batch 32)".into(),
        best[2],
        "rows/s",
        &mut rows,
    );
    for (k, &(batch, _)) in settings.iter().enumerate().skip(1) {
        push(
            "eval batch",
            format!("batch {batch}, sorted by length"),
            best[k],
            "rows/s",
            &mut rows,
        );
    }

    push(
        "ceiling",
        "fp32 matmul 2048^3 (best of 20, around the epoch)".into(),
        peak / 1e9,
        "GFLOP/s",
        &mut rows,
    );
    push(
        "ceiling",
        "training step, bucketed (model FLOPs)".into(),
        bucketed_flops / 1e9,
        "GFLOP/s",
        &mut rows,
    );
    Ok(rows)
}

/// Writes the rows of [`speed_report`] as CSV (header: factor, setting, value, unit, speedup).
pub fn write_speed_csv(rows: &[SpeedRow], path: &std::path::Path) -> Result<()> {
    use anyhow::Context;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
    for row in rows {
        w.serialize(row)?;
    }
    w.flush()?;
    Ok(())
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

    #[test]
    fn dropout_shapes_count_three_per_layer_and_cls_only_in_the_last() {
        let c = cfg(3);
        let (h, heads) = (c.hidden_size as i64, c.num_attention_heads as i64);
        let shapes = dropout_shapes(&c, 2, 5);
        assert_eq!(shapes.len(), 1 + 3 * 3 + 1);
        assert_eq!(shapes[0], vec![2, 5, h]);
        assert_eq!(shapes[1], vec![2, heads, 5, 5]);
        assert_eq!(shapes[7], vec![2, heads, 1, 5]);
        assert_eq!(shapes[9], vec![2, 1, h]);
        assert_eq!(shapes[10], vec![2, h]);
    }

    #[test]
    fn matmul_rate_is_positive_and_finite() {
        let r = matmul_flops_per_s(Device::Cpu, 64, 2);
        assert!(r.is_finite() && r > 0.0);
    }
}
