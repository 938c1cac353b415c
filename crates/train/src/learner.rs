//! The training loop and evaluation: one shared encoder, one head per task (or per
//! scenario), trained stage by stage (docs/METHOD.md "Forgetting protocol").

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use lrdist_data::{make_batches, metrics, BatchOrder, Task};
use lrdist_model::{Encoder, Head, HeadKind};
use lrdist_optimizer::{AdamWConfig, LayerwiseAdamW};
use serde::{Deserialize, Serialize};
use tch::{nn, Kind, Reduction, Tensor};

pub use lrdist_record::{EpochStats, StageStats};

use crate::inputs::{BatchTensors, RowSet};
use crate::penalty::{PenalisedModel, Penalty};

/// Hyperparameters of one training stage.
#[derive(Clone, Debug)]
pub struct StageSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub eval_batch_size: usize,
    pub bucketing: bool,
    pub optimizer: AdamWConfig,
    /// Seed of this stage's batch order.
    pub seed: u64,
    pub progress: bool,
    /// Encoder depths below this one are frozen in this stage (0: everything trains).
    pub train_from_depth: usize,
}

/// Metrics of one evaluation: every official metric and the task's primary score.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scores {
    pub metrics: BTreeMap<String, f64>,
    pub primary: f64,
}

/// What the caller wants after an epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    Stop,
}

/// A task head in its own VarStore, so a stage's optimiser can leave it out.
pub struct TaskHead {
    pub task: Task,
    pub vs: nn::VarStore,
    pub head: Head,
}

/// File names of a stage checkpoint ([`Learner::save_stage`]).
const STAGE_ENCODER_FILE: &str = "encoder.safetensors";
const STAGE_HEAD_FILE: &str = "head.safetensors";

/// The file of the `i`-th head saved in a stage checkpoint, head `head` of the learner:
/// the first keeps the name checkpoints of one head have always had.
fn stage_head_file(i: usize, head: usize) -> String {
    match i {
        0 => STAGE_HEAD_FILE.to_string(),
        _ => format!("head-{head}.safetensors"),
    }
}

/// The encoder and its heads. Other modules read them through [`Learner::encoder`] and
/// [`Learner::head`]; weights change by training or a stage checkpoint
/// ([`Learner::save_stage`], [`Learner::load_stage`]).
pub struct Learner {
    encoder: Encoder,
    heads: Vec<TaskHead>,
    pad_id: i64,
    /// What every head reads (`--head`; [`Learner::set_head_kind`]).
    head_kind: HeadKind,
}

impl Learner {
    pub fn new(encoder: Encoder, pad_id: i64) -> Self {
        Self {
            encoder,
            heads: Vec::new(),
            pad_id,
            head_kind: HeadKind::Cls,
        }
    }

    /// Makes every head read `kind`'s input (the default is [`HeadKind::Cls`], the raw
    /// [CLS] vector). A pooler head needs the encoder's pooler: an encoder loaded from a
    /// checkpoint without one gets a fresh one, initialised from `seed`.
    pub fn set_head_kind(&mut self, kind: HeadKind, seed: u64) {
        if kind == HeadKind::Pooler {
            self.encoder.ensure_pooler(seed);
        }
        self.head_kind = kind;
    }

    pub fn head_kind(&self) -> HeadKind {
        self.head_kind
    }

    /// Adds a freshly initialised head for `task` (as wide as its label set); returns its
    /// index.
    pub fn add_head(&mut self, task: Task, seed: i64) -> usize {
        let (vs, head) = self.encoder.new_head(task.num_labels(), seed);
        self.heads.push(TaskHead { task, vs, head });
        self.heads.len() - 1
    }

    pub fn num_layers(&self) -> usize {
        self.encoder.config.num_hidden_layers
    }

    /// The shared encoder, read-only (its weights change through training, a stage
    /// checkpoint, or in place through its tensors: `attribution::interpolate`).
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// Head `head` (an index [`Learner::add_head`] returned).
    pub fn head(&self, head: usize) -> &TaskHead {
        &self.heads[head]
    }

    /// Every head, in the order they were added.
    pub fn heads(&self) -> &[TaskHead] {
        &self.heads
    }

    /// The device the encoder's weights live on.
    pub fn device(&self) -> tch::Device {
        self.encoder.vs.device()
    }

    /// Writes the encoder and the heads `heads` into `dir`: `encoder.safetensors`, the
    /// first head as `head.safetensors` and any other head `h` as `head-<h>.safetensors`
    /// (a sequence's later stages train one head each): a stage checkpoint
    /// ([`Learner::load_stage`] reads it back).
    pub fn save_stage(&self, heads: &[usize], dir: &std::path::Path) -> Result<()> {
        self.encoder
            .vs
            .save(dir.join(STAGE_ENCODER_FILE))
            .with_context(|| format!("{}: encoder", dir.display()))?;
        for (i, &head) in heads.iter().enumerate() {
            self.heads[head]
                .vs
                .save(dir.join(stage_head_file(i, head)))
                .with_context(|| format!("{}: head {head}", dir.display()))?;
        }
        Ok(())
    }

    /// Loads a stage checkpoint [`Learner::save_stage`] wrote with the same `heads` into
    /// the encoder and those heads.
    pub fn load_stage(&mut self, heads: &[usize], dir: &std::path::Path) -> Result<()> {
        self.encoder
            .vs
            .load(dir.join(STAGE_ENCODER_FILE))
            .with_context(|| format!("{}: encoder", dir.display()))?;
        for (i, &head) in heads.iter().enumerate() {
            self.heads[head]
                .vs
                .load(dir.join(stage_head_file(i, head)))
                .with_context(|| format!("{}: head {head}", dir.display()))?;
        }
        Ok(())
    }

    fn logits(&self, head: usize, t: &BatchTensors, train: bool) -> Tensor {
        let input = self.encoder.bert.head_input_t(
            self.head_kind,
            &t.input_ids,
            &t.token_type_ids,
            &t.attention_mask,
            train,
        );
        self.heads[head].head.forward_t(&input, train)
    }

    /// The task loss of a batch: cross-entropy, or mean squared error for regression.
    fn loss(&self, head: usize, t: &BatchTensors, labels: &[f32], train: bool) -> Tensor {
        let logits = self.logits(head, t, train);
        let device = logits.device();
        if self.heads[head].task.is_regression() {
            let y = Tensor::from_slice(labels).to_device(device);
            logits.squeeze_dim(-1).mse_loss(&y, Reduction::Mean)
        } else {
            let y: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
            logits.cross_entropy_for_logits(&Tensor::from_slice(&y).to_device(device))
        }
    }

    /// The training loss of one batch (dropout on), ready for an optimiser step.
    pub fn batch_loss(&self, head: usize, batch: &lrdist_data::Batch) -> Tensor {
        let t = BatchTensors::new(batch, self.encoder.vs.device());
        self.loss(head, &t, &batch.labels, true)
    }

    /// Predictions for every row of `set` with head `head`, in row order: the predicted
    /// class as f32, or the regression score.
    pub fn predict(&self, head: usize, set: &RowSet, batch_size: usize) -> Vec<f32> {
        let device = self.encoder.vs.device();
        let regression = self.heads[head].task.is_regression();
        let mut preds = vec![0f32; set.len()];
        tch::no_grad(|| {
            for batch in make_batches(&set.rows, batch_size, BatchOrder::ByLength, self.pad_id) {
                let t = BatchTensors::new(&batch, device);
                let logits = self.logits(head, &t, false);
                let out = if regression {
                    logits.squeeze_dim(-1)
                } else {
                    logits.argmax(-1, false)
                };
                let out: Vec<f32> =
                    Vec::<f32>::try_from(out.to_kind(Kind::Float).to_device(tch::Device::Cpu))
                        .expect("predictions are a 1-D float tensor");
                for (row, p) in batch.rows.iter().zip(out) {
                    preds[*row] = p;
                }
            }
        });
        preds
    }

    /// Official metrics of head `head` on `set`.
    pub fn evaluate(&self, head: usize, set: &RowSet, batch_size: usize) -> Scores {
        let preds = self.predict(head, set, batch_size);
        let metrics = metrics::compute(&set.task, &preds, &set.labels());
        let primary = metrics
            .get(set.task.primary_metric())
            .copied()
            .unwrap_or(f64::NAN);
        Scores { metrics, primary }
    }

    /// Trains head `head` and the encoder on `set` with one learning rate per depth.
    ///
    /// Only the encoder and this head are in the optimiser: other heads are neither
    /// updated nor decayed. After each epoch `on_epoch` is called: it may evaluate (and
    /// fill the epoch's `scores`), log, or stop the stage early. A non-finite loss is an error naming where it happened.
    pub fn train_stage(
        &mut self,
        head: usize,
        set: &RowSet,
        per_depth_rates: &[f64],
        settings: &StageSettings,
        penalty: Option<&Penalty>,
        on_epoch: &mut dyn FnMut(&Learner, &mut EpochStats) -> Result<Decision>,
    ) -> Result<StageStats> {
        if set.is_empty() {
            bail!("{}: no training rows", set.name);
        }
        let frozen = self.freeze_below(settings.train_from_depth);
        let stats = self.train_stage_inner(head, set, per_depth_rates, settings, penalty, on_epoch);
        for t in &frozen {
            let _ = t.set_requires_grad(true);
        }
        stats
    }

    /// Stops gradients for every encoder parameter below depth `depth`; returns them.
    fn freeze_below(&self, depth: usize) -> Vec<Tensor> {
        if depth == 0 {
            return Vec::new();
        }
        let layers = self.num_layers();
        self.encoder
            .named_parameters()
            .into_iter()
            .filter(|(name, _)| lrdist_model::depth_of(name, layers).is_some_and(|d| d < depth))
            .map(|(_, t)| {
                let _ = t.set_requires_grad(false);
                t
            })
            .collect()
    }

    fn train_stage_inner(
        &mut self,
        head: usize,
        set: &RowSet,
        per_depth_rates: &[f64],
        settings: &StageSettings,
        penalty: Option<&Penalty>,
        on_epoch: &mut dyn FnMut(&Learner, &mut EpochStats) -> Result<Decision>,
    ) -> Result<StageStats> {
        let steps_per_epoch = set.len().div_ceil(settings.batch_size);
        let total_steps = steps_per_epoch * settings.epochs;
        let mut opt = LayerwiseAdamW::new(
            &[&self.encoder.vs, &self.heads[head].vs],
            per_depth_rates,
            &settings.optimizer,
            total_steps,
        )?;
        let bar = progress_bar(settings.progress, total_steps as u64, &set.name);
        let mut stats = StageStats {
            name: set.name.clone(),
            task: set.task.name().to_string(),
            train_rows: set.len(),
            epochs: Vec::new(),
            seconds: 0.0,
            samples_per_s: 0.0,
            tokens_per_s: 0.0,
            padding_efficiency: 0.0,
            flops: 0.0,
            stopped_early: false,
        };
        let (mut real_tokens, mut pad_tokens) = (0usize, 0usize);
        for epoch in 1..=settings.epochs {
            let order = if settings.bucketing {
                BatchOrder::Bucketed {
                    seed: settings.seed.wrapping_add(epoch as u64),
                }
            } else {
                BatchOrder::Shuffled {
                    seed: settings.seed.wrapping_add(epoch as u64),
                }
            };
            let batches = make_batches(&set.rows, settings.batch_size, order, self.pad_id);
            let (real, pad) = lrdist_data::padding_stats(&batches);
            real_tokens += real;
            pad_tokens += pad;
            let cfg = &self.encoder.config;
            stats.flops += batches
                .iter()
                .map(|b| crate::flops::training_step_flops(cfg, b.batch_size, b.seq_len))
                .sum::<f64>();
            let start = Instant::now();
            let mut loss_sum = 0.0;
            for (step, batch) in batches.iter().enumerate() {
                let task_loss = self.batch_loss(head, batch);
                let loss = match penalty {
                    Some(p) => task_loss + p.value(),
                    None => task_loss,
                };
                let value = f64::try_from(&loss)?;
                if !value.is_finite() {
                    bar.abandon();
                    bail!(
                        "{}: loss became {value} at epoch {epoch}, step {} (diverged)",
                        set.name,
                        step + 1
                    );
                }
                opt.step(&loss)
                    .with_context(|| format!("{}: epoch {epoch}, step {}", set.name, step + 1))?;
                loss_sum += value;
                bar.inc(1);
                if step % 10 == 0 {
                    bar.set_message(format!(
                        "epoch {epoch} loss {:.4}",
                        loss_sum / (step + 1) as f64
                    ));
                }
            }
            let seconds = start.elapsed().as_secs_f64();
            stats.seconds += seconds;
            let mut epoch_stats = EpochStats {
                epoch,
                loss: loss_sum / batches.len() as f64,
                seconds,
                scores: BTreeMap::new(),
            };
            let decision = on_epoch(self, &mut epoch_stats)?;
            stats.epochs.push(epoch_stats);
            if decision == Decision::Stop && epoch < settings.epochs {
                stats.stopped_early = true;
                break;
            }
        }
        bar.finish_and_clear();
        let trained_rows = set.len() * stats.epochs.len();
        stats.samples_per_s = trained_rows as f64 / stats.seconds.max(1e-9);
        stats.tokens_per_s = real_tokens as f64 / stats.seconds.max(1e-9);
        stats.padding_efficiency = real_tokens as f64 / (real_tokens + pad_tokens).max(1) as f64;
        Ok(stats)
    }
}

/// What a penalty reads of the learner: its encoder's parameters and, for the diagonal
/// Fisher (EWC), the gradients of the task loss for single rows.
impl PenalisedModel for Learner {
    fn encoder_parameters(&self) -> Vec<Tensor> {
        self.encoder.vs.trainable_variables()
    }

    fn per_row_gradients(
        &self,
        head: usize,
        set: &RowSet,
        rows: &[usize],
        mut visit: impl FnMut(&[Tensor]),
    ) {
        let device = self.encoder.vs.device();
        let params = self.encoder_parameters();
        for &i in rows {
            for p in &params {
                let mut g = p.grad();
                if g.defined() {
                    let _ = g.zero_();
                }
            }
            let batch = make_batches(&set.rows[i..=i], 1, BatchOrder::Sequential, self.pad_id)
                .pop()
                .expect("one row makes one batch");
            let t = BatchTensors::new(&batch, device);
            self.loss(head, &t, &batch.labels, false).backward();
            visit(&params);
        }
        for p in &params {
            let mut g = p.grad();
            if g.defined() {
                let _ = g.zero_();
            }
        }
    }
}

pub(crate) fn progress_bar(show: bool, len: u64, name: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>16} [{bar:30}] {pos}/{len} steps {msg} ({elapsed}<{eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    bar
}
