//! `lrdist bench speed`: what makes training fast, each measured in one run (issue 6,
//! "What makes it fast, each measured").

use std::time::Instant;

use anyhow::Result;
use lrdist_data::{BatchOrder, DataSpec, TaskSpec};
use lrdist_model::Encoder;
use lrdist_optimizer::{AdamWConfig, LayerwiseAdamW};
use lrdist_train::inputs::{BatchTensors, DataCache, RowSet};
use lrdist_train::{Decision, Learner, RunContext, StageSettings};
use serde::Serialize;
use tch::{Device, Kind, Tensor};

use crate::{dropout_shapes, matmul_flops_per_s, one_rate_and_per_depth};

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
    /// The task whose rows are trained and evaluated: a GLUE task (`lrdist bench speed`:
    /// SST-2) or a task of your own.
    pub task: TaskSpec,
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
    ctx: &RunContext,
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
    let mut data = DataCache::new(&ctx.glue_dir, &ctx.model_dir, opts.max_len)?;
    let start = Instant::now();
    let prepared = data.task(&opts.task, &spec)?;
    let first = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let _ = data.task(&opts.task, &spec)?;
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

    let encoder = Encoder::pretrained(&ctx.model_dir, ctx.device)?;
    let cfg = encoder.config.clone();
    let mut learner = Learner::new(encoder, data.tokenizer().pad_id());
    let head = learner.add_head(prepared.task.clone(), 0);
    let (rates, per_layer) = one_rate_and_per_depth(cfg.num_hidden_layers + 2);
    let threads = tch::get_num_threads();

    // Training: one epoch per line over the same rows.
    let train = |learner: &mut Learner, bucketing: bool| -> Result<(f64, f64)> {
        let settings = StageSettings {
            epochs: 1,
            batch_size: opts.batch_size,
            eval_batch_size: 32,
            bucketing,
            optimizer: Default::default(),
            seed: 0,
            progress: false,
            train_from_depth: 0,
        };
        let stats = learner.train_stage(
            head,
            &prepared.train,
            &rates,
            &settings,
            None,
            &mut |_, _| Ok(Decision::Continue),
        )?;
        Ok((stats.samples_per_s, stats.flops / stats.seconds.max(1e-9)))
    };
    let _ = train(&mut learner, true)?; // warm-up: allocator, oneDNN kernels

    // The ceiling is read right before and right after the measured epoch (the VM's speed
    // drifts between minutes); the higher reading counts.
    let before = matmul_flops_per_s(ctx.device, 2048, 20);
    let (bucketed, bucketed_flops) = train(&mut learner, true)?;
    let peak = before.max(matmul_flops_per_s(ctx.device, 2048, 20));
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
        BatchOrder::Bucketed { seed: 1 },
        data.tokenizer().pad_id(),
    );
    let stores = [&learner.encoder().vs, &learner.head(head).vs];
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
            let x = Tensor::randn(shape.as_slice(), (Kind::Float, ctx.device));
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
    let pad_id = data.tokenizer().pad_id();
    let _ = learner.predict(head, dev, 32); // warm-up
    for _ in 0..3 {
        for (k, &(batch, autograd)) in settings.iter().enumerate() {
            let start = Instant::now();
            if autograd {
                predict_with_autograd(&learner, head, dev, batch, pad_id);
            } else {
                let _ = learner.predict(head, dev, batch);
            }
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

/// [`Learner::predict`]'s evaluation pass (rows sorted by length, dropout off, predictions
/// copied to the CPU) with autograd recording the forward pass, to measure what `no_grad`
/// saves. `predict` runs inside `tch::no_grad`, which wins over an enclosing
/// `tch::with_grad`, so the pass is written out here from the learner's public parts; the
/// predictions are dropped.
fn predict_with_autograd(learner: &Learner, head: usize, set: &RowSet, batch: usize, pad_id: i64) {
    let device = learner.device();
    let task_head = learner.head(head);
    tch::with_grad(|| {
        for b in lrdist_data::make_batches(&set.rows, batch, BatchOrder::ByLength, pad_id) {
            let t = BatchTensors::new(&b, device);
            let bert = &learner.encoder().bert;
            let cls = bert.cls_t(&t.input_ids, &t.token_type_ids, &t.attention_mask, false);
            let logits = task_head.head.forward_t(&cls, false);
            let out = if task_head.task.is_regression() {
                logits.squeeze_dim(-1)
            } else {
                logits.argmax(-1, false)
            };
            let _ = Vec::<f32>::try_from(out.to_kind(Kind::Float).to_device(Device::Cpu));
        }
    })
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
