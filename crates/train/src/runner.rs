//! Running one protocol run end to end: load the pretrained encoder, build the scenario's
//! stages, resolve the learning-rate distribution for this model, train, and produce the
//! run record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use lrdist_data::TaskSpec;
use lrdist_model::{Encoder, HeadKind};
use lrdist_optimizer::{
    AdamWConfig, Distribution, DistributionSpec, Grouping, GroupingSpec, ResolvedDistribution,
};
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::attribution::{interpolate, where_forgetting_lives, Snapshot};
use crate::config::{Intervention, RunDistribution, RunRequest, ScaleSpec, ScenarioSpec};
use crate::inputs::DataCache;
use crate::learner::{Decision, Learner, StageSettings, StageStats};
use crate::penalty::Penalty;
use crate::protocol::{run_plan, EpochEvent, Outcome, RunSettings};
use crate::record::{self, DistributionRecord, RunRecord, SCHEMA};
use crate::scenario::build_plan;

/// Where things are and how to run.
#[derive(Clone, Debug)]
pub struct RunContext {
    pub model_dir: PathBuf,
    pub glue_dir: PathBuf,
    pub device: Device,
    /// Root of `results/` (the embedding shift writes its projection there).
    pub results_dir: PathBuf,
    /// Folder of the stage-1 cache (`--stage2-only`).
    pub cache_dir: PathBuf,
    pub progress: bool,
}

/// Runs protocol runs, keeping tokenised data between them (a search runs many).
pub struct Runner {
    ctx: RunContext,
    data: Option<DataCache>,
}

impl Runner {
    pub fn new(ctx: RunContext) -> Self {
        Self { ctx, data: None }
    }

    pub fn context(&self) -> &RunContext {
        &self.ctx
    }

    fn data(&mut self, max_len: usize) -> Result<&mut DataCache> {
        let stale = self
            .data
            .as_ref()
            .is_none_or(|d| d.tokenizer().max_len() != max_len);
        if stale {
            self.data = Some(DataCache::new(
                &self.ctx.glue_dir,
                &self.ctx.model_dir,
                max_len,
            )?);
        }
        Ok(self.data.as_mut().expect("just set"))
    }

    /// Resolves a distribution spec for an encoder of `num_layers` layers.
    pub fn resolve(
        spec: &DistributionSpec,
        grouping: GroupingSpec,
        num_layers: usize,
    ) -> Result<ResolvedDistribution> {
        let grouping = Grouping::new(grouping, num_layers)?;
        Ok(spec.resolve(num_layers, &grouping)?)
    }

    /// The request's distribution: its explicit rates, or its spec, for this encoder.
    fn request_distribution(req: &RunRequest, num_layers: usize) -> Result<ResolvedDistribution> {
        match &req.distribution {
            RunDistribution::Rates { label, rates } => {
                let grouping = Grouping::new(req.grouping, num_layers)?;
                let dist =
                    Distribution::new(label.clone(), grouping.spec(), num_layers, rates.clone())?;
                Ok(dist.apply(label, &grouping)?)
            }
            RunDistribution::Spec(spec) => Self::resolve(spec, req.grouping, num_layers),
        }
    }

    /// The request's stage-1 distribution (per layer) for this encoder.
    fn stage1_distribution(req: &RunRequest, num_layers: usize) -> Result<ResolvedDistribution> {
        Self::resolve(&req.stage1_distribution, GroupingSpec::PerLayer, num_layers)
    }

    /// Runs `req`; `on_epoch` sees every epoch's scores and may stop the run.
    pub fn run(
        &mut self,
        req: &RunRequest,
        on_epoch: &mut dyn FnMut(&EpochEvent) -> Decision,
    ) -> Result<RunRecord> {
        let started_at = record::now_rfc3339();
        let start = Instant::now();
        tch::manual_seed(req.seed as i64);
        let encoder = Encoder::pretrained(&self.ctx.model_dir, self.ctx.device)?;
        let num_layers = encoder.config.num_hidden_layers;
        let dist = Self::request_distribution(req, num_layers)?;
        let stage1 = if req.stage2_only {
            Some(Self::stage1_distribution(req, num_layers)?)
        } else {
            None
        };
        let ctx = self.ctx.clone();
        let data = self.data(req.scale.max_len)?;
        let pad_id = data.tokenizer().pad_id();
        let mut learner = Learner::new(encoder, pad_id);
        learner.set_head_kind(req.head, req.seed);
        let embeddings_out = match &req.scenario {
            ScenarioSpec::EmbeddingShift { task } => Some(embeddings_path(
                &ctx.results_dir,
                &task.to_string(),
                &req.scale_name,
            )),
            _ => None,
        };
        let plan = build_plan(
            &req.scenario,
            &req.scale,
            req.seed,
            data,
            &mut learner,
            embeddings_out.as_deref(),
        )?;
        let mut dev_sources = BTreeMap::new();
        let mut file_tasks: Vec<lrdist_data::FileTaskRecord> = Vec::new();
        for (i, task) in req.scenario.tasks().into_iter().enumerate() {
            let p = data.task(&task, &req.scale.stage_data_spec(&task, i))?;
            dev_sources.insert(task.to_string(), p.dev_source.clone());
            if let Some(f) = p.file.as_ref().filter(|f| !file_tasks.contains(f)) {
                file_tasks.push(f.clone());
            }
        }
        let mut rates = vec![dist.per_depth.clone(); plan.len()];
        if let Some(s1) = &stage1 {
            rates[0] = s1.per_depth.clone();
        }
        let settings = stage_settings(&req.scale, req.seed, ctx.progress);
        // L2-SP anchors where the first stage it regularises starts (`Penalty::before_stage`).
        let mut penalty = req.penalty.clone().map(Penalty::new);

        let majority: Vec<Option<f64>> = plan.iter().map(|s| s.dev.majority_score()).collect();
        let intervention = req.intervention.clone();
        let freeze_from = match &intervention {
            Some(Intervention::Freeze { top }) => Some(freeze_from_depth(*top, num_layers)?),
            _ => None,
        };
        // Post-A weights are needed by WiSE-FT and by the attribution.
        let keep_post_a =
            req.attribute || matches!(intervention, Some(Intervention::WiseFt { .. }));
        let mut train_from_depth = vec![0; plan.len()];
        if let Some(from) = freeze_from {
            for d in train_from_depth.iter_mut().skip(1) {
                *d = from;
            }
        }

        // Stage-1 cache: restore stage 0 when an identical stage 1 was trained before. The
        // entry's lock is held from the lookup until a missing entry is written, so two
        // processes that need the same entry train it once (the second waits, then loads).
        let cache = match req.stage2_only {
            true => Some(StageCache::stage1(&ctx, req, &settings, &file_tasks)?),
            false => None,
        };
        let (lock, cached) =
            StageCache::lock_and_load::<StageStats>(&cache, &mut learner, &[plan[0].head], &ctx)?;
        let stage1_cached = cached.is_some();
        let mut first_stage = cached;
        let mut done: Option<Outcome> = None;
        if first_stage.is_none() && (cache.is_some() || keep_post_a) {
            // Stage 1 alone (to save it, or to keep its weights), then the rest. A cached
            // stage 1 is the same for every method, so it trains without their penalty;
            // otherwise stage 1 is exactly what the one-call path would train.
            let first_penalty = match &cache {
                Some(_) => None,
                None => penalty.as_mut(),
            };
            let mut first = run_plan(
                &mut learner,
                &plan[..1],
                settings_with(&rates, &settings, first_penalty, &train_from_depth),
                None,
                on_epoch,
            )?;
            if let Some(c) = &cache {
                c.save(&learner, &[plan[0].head], &first.stages[0])?;
            }
            if first.stopped_early || plan.len() == 1 {
                done = Some(first);
            } else {
                first_stage = Some(first.stages.remove(0));
            }
        }
        drop(lock);
        let post_a = keep_post_a.then(|| Snapshot::take(&learner, plan[0].head));
        // WiSE-FT changes nothing before stage B ends, so every alpha of a setting and seed
        // shares one trained stage B: the first run trains and stores it, the others
        // restore it (under the entry's lock, as stage 1) and only interpolate and rescore.
        // A run marked `store_stage_b` (flat at WiSE-FT's rate, [`share_stage_b`]) takes
        // part in the same way. In a sequence "stage B" is every stage after A, and the
        // entry holds every head they train.
        let shares_stage_b = match &intervention {
            Some(Intervention::WiseFt { .. }) => true,
            None => req.store_stage_b,
            Some(_) => false,
        };
        let stage2_cache = match &cache {
            Some(c) if shares_stage_b && plan.len() >= 2 && done.is_none() => {
                Some(c.stage2(&ctx, req, &rates[1], &train_from_depth, &file_tasks))
            }
            _ => None,
        };
        // The heads stage B trains: the last stage's first (the one a pair's entry has
        // always held), then those of a sequence's middle stages, each once.
        let mut stage_b_heads = vec![plan[plan.len() - 1].head];
        for stage in &plan[1..] {
            if !stage_b_heads.contains(&stage.head) {
                stage_b_heads.push(stage.head);
            }
        }
        let (stage2_lock, restored) = StageCache::lock_and_load::<Outcome>(
            &stage2_cache,
            &mut learner,
            &stage_b_heads,
            &ctx,
        )?;
        let stage2_cached = restored.is_some();
        let mut outcome = match (done, restored) {
            (Some(o), _) | (None, Some(o)) => o,
            (None, None) => {
                let o = run_plan(
                    &mut learner,
                    &plan,
                    settings_with(&rates, &settings, penalty.as_mut(), &train_from_depth),
                    first_stage,
                    on_epoch,
                )?;
                if let Some(c) = stage2_cache.as_ref().filter(|_| !o.stopped_early) {
                    c.save(&learner, &stage_b_heads, &o)?;
                }
                o
            }
        };
        drop(stage2_lock);
        let eval_batch = req.scale.eval_batch_size;
        if let (Some(Intervention::WiseFt { alpha }), Some(a)) = (&intervention, &post_a) {
            if !outcome.stopped_early && plan.len() >= 2 {
                interpolate(&learner, a, *alpha)?;
                outcome.rescore_last_row(&learner, &plan, eval_batch);
            }
        }
        if let Some(dir) = &req.save {
            crate::save::save_heads(&learner, dir)?;
        }
        let attribution = match (&post_a, req.attribute) {
            (Some(a), true) if plan.len() >= 2 && !outcome.stopped_early => Some(
                where_forgetting_lives(&learner, a, &plan[0].dev, eval_batch),
            ),
            _ => None,
        };
        let mut record = self.record(
            req,
            &dist,
            stage1.is_some(),
            &learner,
            outcome,
            dev_sources,
            started_at,
            start,
            stage1_cached,
        );
        record.stage2_cached = stage2_cached;
        record.majority = majority;
        record.attribution = attribution;
        record.intervention = intervention;
        record.file_tasks = file_tasks;
        Ok(record)
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        req: &RunRequest,
        dist: &ResolvedDistribution,
        stage2_only: bool,
        learner: &Learner,
        outcome: Outcome,
        dev_sources: BTreeMap<String, String>,
        started_at: String,
        start: Instant,
        stage1_cached: bool,
    ) -> RunRecord {
        let (a1, p_s, p_o) = (outcome.a1(), outcome.p_s(), outcome.p_o());
        let forgetting = a1.zip(p_o).map(|(a, o)| lrdist_record::forgetting(a, o));
        let objective = p_o.zip(p_s).map(|(o, s)| o + s);
        let cl = outcome.cl_metrics();
        let model = self
            .ctx
            .model_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        RunRecord {
            schema: SCHEMA,
            id: format!(
                "{}-{}-{}-s{}-{}",
                req.scenario.label(),
                req.method,
                req.scale_name,
                req.seed,
                started_at
            ),
            kind: req.scenario.kind().into(),
            scenario: req.scenario.label(),
            method: req.method.clone(),
            distribution_spec: req.distribution.to_string(),
            distribution: DistributionRecord {
                grouping: req.grouping.to_string(),
                rates: dist.rates.clone(),
                per_depth: dist.per_depth.clone(),
                transferred_from: dist.transferred_from,
            },
            stage1_distribution_spec: stage2_only.then(|| req.stage1_distribution.to_string()),
            penalty: req.penalty.clone(),
            seed: req.seed,
            scale: req.scale_name.clone(),
            scale_spec: req.scale.clone(),
            config_file: req.config_file.clone(),
            model,
            model_dir: self.ctx.model_dir.display().to_string(),
            device: format!("{:?}", learner.device()),
            threads: tch::get_num_threads(),
            git_commit: record::git_commit(),
            command: record::command_line(),
            started_at,
            seconds: start.elapsed().as_secs_f64(),
            tasks: req.scenario.tasks().iter().map(|t| t.to_string()).collect(),
            dev_sources,
            stages: outcome.stages,
            matrix: outcome.matrix,
            metrics: outcome.metrics,
            a1,
            p_s,
            p_o,
            forgetting,
            objective,
            cl,
            stopped_early: outcome.stopped_early,
            stage1_cached,
            stage2_cached: false,
            majority: Vec::new(),
            attribution: None,
            intervention: None,
            file_tasks: Vec::new(),
            head: req.head,
        }
    }
}

/// Run settings over `rates`, `settings` and `train_from_depth` with `penalty`.
fn settings_with<'a>(
    rates: &[Vec<f64>],
    settings: &StageSettings,
    penalty: Option<&'a mut Penalty>,
    train_from_depth: &[usize],
) -> RunSettings<'a> {
    RunSettings {
        rates: rates.to_vec(),
        stage: settings.clone(),
        penalty,
        train_from_depth: train_from_depth.to_vec(),
    }
}

/// The first depth that trains when only the top `top` encoder layers and the heads do
/// (`freeze` baseline): depth `L + 1 - top`. Zero layers leaves the heads alone training.
/// Where an embedding-shift run writes its 2-D projection for the figure:
/// `RESULTS/embeddings/<task>.csv` at the quick scale (the committed figure's input), and
/// `RESULTS/embeddings/<task>-<scale>.csv` at any other, so a run at one scale never
/// overwrites another scale's projection.
pub fn embeddings_path(results: &Path, task: &str, scale: &str) -> PathBuf {
    let name = if scale == "quick" {
        format!("{task}.csv")
    } else {
        format!("{task}-{scale}.csv")
    };
    results.join("embeddings").join(name)
}

#[cfg(test)]
mod embeddings_path_tests {
    #[test]
    fn scales_other_than_quick_get_their_own_projection_file() {
        let r = std::path::Path::new("results");
        assert_eq!(
            super::embeddings_path(r, "sst2", "quick"),
            r.join("embeddings/sst2.csv")
        );
        assert_eq!(
            super::embeddings_path(r, "sst2", "forget"),
            r.join("embeddings/sst2-forget.csv")
        );
    }
}

pub fn freeze_from_depth(top: usize, num_layers: usize) -> Result<usize> {
    if top > num_layers {
        anyhow::bail!(
            "freeze: top {top} layers asked for, but the model has {num_layers} (use 0..={num_layers})"
        );
    }
    Ok(num_layers + 1 - top)
}

/// The stage hyperparameters a scale implies.
pub fn stage_settings(scale: &ScaleSpec, seed: u64, progress: bool) -> StageSettings {
    StageSettings {
        epochs: scale.epochs,
        batch_size: scale.batch_size,
        eval_batch_size: scale.eval_batch_size,
        bucketing: scale.bucketing,
        optimizer: AdamWConfig {
            weight_decay: scale.weight_decay,
            clip_norm: scale.clip_norm,
            warmup_frac: scale.warmup_frac,
            ..AdamWConfig::default()
        },
        seed,
        progress,
        train_from_depth: 0,
    }
}

/// Marks the runs of a batch whose stage B (in a sequence, every stage after A) a WiSE-FT
/// run of the batch trains too (`store_stage_b`): a run under `--stage2-only` with no
/// penalty or intervention, at WiSE-FT's scenario, scale, seed, rates, grouping and head.
/// WiSE-FT is flat's stage B, then an interpolation (docs/METHOD.md, "Baselines"); so
/// the marked run (flat) stores its stage B in the stage-2 cache and the WiSE-FT run
/// restores it instead of training it again. Each stage draws from its own seed ([`run_plan`]), so the restored stage B
/// is the one WiSE-FT would train: no number changes, WiSE-FT's record says
/// `stage2_cached`. Returns how many runs it marked.
pub fn share_stage_b(reqs: &mut [RunRequest]) -> usize {
    let wise_ft: Vec<RunRequest> = reqs.iter().filter(|r| is_wise_ft(r)).cloned().collect();
    let mut marked = 0;
    for r in reqs.iter_mut() {
        r.store_stage_b = r.stage2_only
            && r.intervention.is_none()
            && r.penalty.is_none()
            && wise_ft.iter().any(|w| same_stage_b(w, r));
        marked += usize::from(r.store_stage_b);
    }
    marked
}

/// The run of `batch` marked by [`share_stage_b`] whose stage B the WiSE-FT run `req`
/// restores, if there is one.
pub fn stage_b_source<'a>(req: &RunRequest, batch: &'a [RunRequest]) -> Option<&'a RunRequest> {
    if !is_wise_ft(req) {
        return None;
    }
    batch
        .iter()
        .find(|r| r.store_stage_b && same_stage_b(req, r))
}

fn is_wise_ft(r: &RunRequest) -> bool {
    matches!(r.intervention, Some(Intervention::WiseFt { .. }))
}

/// Whether `r` trains the stage B of the WiSE-FT run `w`: both under `--stage2-only`, at
/// the same scenario, scale, seed, rates, grouping, head and stage-1 rates, neither with a
/// penalty.
fn same_stage_b(w: &RunRequest, r: &RunRequest) -> bool {
    w.stage2_only
        && r.stage2_only
        && w.scenario == r.scenario
        && w.scale == r.scale
        && w.seed == r.seed
        && w.distribution == r.distribution
        && w.grouping == r.grouping
        && w.head == r.head
        && w.penalty.is_none()
        && r.penalty.is_none()
        && w.stage1_distribution == r.stage1_distribution
}

/// A trained stage on disk (docs/METHOD.md, "Protocol"): the encoder, the heads it
/// trained and a JSON payload, in a folder named by a hash of everything that determines
/// it.
///
/// - [`StageCache::stage1`]: stage 1, keyed by model, what stage 1 trains on, its data,
///   the stage hyperparameters, seed and the stage-1 distribution. Task B plays no part,
///   so every setting with the same task A (and `lrdist calibrate`'s run of A at that
///   rate) shares one entry per seed. Payload: the stage's [`StageStats`].
/// - [`StageCache::stage2`]: stage B (a sequence's stages after A) on top of a stage-1
///   entry, keyed further by the scenario, the whole scale, stage B's rates, penalty and
///   frozen depths; it holds every head stage B trains. Used by WiSE-FT (its alphas share
///   stage B) and the run that trains the same stage B for it ([`share_stage_b`]).
///   Payload: the run's [`Outcome`].
struct StageCache {
    dir: PathBuf,
}

/// Holds a cache entry's lock file locked until dropped.
struct EntryLock {
    _file: std::fs::File,
}

impl StageCache {
    /// The entry of `req`'s stage 1. A file task is named by the digests of the files as
    /// loaded (`files`: the run's file tasks), so the key names the data stage 1 trains on.
    fn stage1(
        ctx: &RunContext,
        req: &RunRequest,
        settings: &StageSettings,
        files: &[lrdist_data::FileTaskRecord],
    ) -> Result<Self> {
        let first = req.scenario.tasks()[0].clone();
        let s = &req.scale;
        let identity = req.scenario.stage1_identity_with(&|task| {
            files
                .iter()
                .find(|f| f.task == *task)
                .map(|f| lrdist_data::FileDigests {
                    train_sha256: f.train_sha256.clone(),
                    dev_sha256: f.dev_sha256.clone(),
                })
                .with_context(|| format!("file task {} was not loaded", task.name))
        })?;
        let key = format!(
            "{}|{}|{:?}|{}|{}|{}|{}|{}|{:?}|{}|{}",
            model_key(&ctx.model_dir),
            identity,
            s.data_spec(&first),
            s.epochs,
            s.batch_size,
            s.eval_batch_size,
            s.max_len,
            s.bucketing,
            settings.optimizer,
            req.seed,
            req.stage1_distribution
        );
        // A non-default head trains another stage 1; the default's keys stay as they were.
        let key = if req.head.is_cls() {
            key
        } else {
            format!("{key}|head={}", req.head)
        };
        let name = format!(
            "{}-s{}-{:016x}",
            identity.replace([':', '>'], "_"),
            req.seed,
            fnv1a(key.as_bytes())
        );
        Ok(Self {
            dir: ctx.cache_dir.join("stage1").join(name),
        })
    }

    /// The entry of stage B (a pair's, or a sequence's stages after A) trained from this
    /// stage-1 entry with `rates_b` (per depth) and `train_from_depth`, `req`'s penalty, scale and scenario (`files`: the
    /// run's file tasks, with their digests).
    fn stage2(
        &self,
        ctx: &RunContext,
        req: &RunRequest,
        rates_b: &[f64],
        train_from_depth: &[usize],
        files: &[lrdist_data::FileTaskRecord],
    ) -> Self {
        let stage1 = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = format!(
            "{stage1}|{:?}|{}|{:?}|{:?}|{:?}|{:?}|{}",
            req.scenario,
            serde_json::to_string(&req.scale).unwrap_or_default(),
            rates_b,
            req.penalty,
            train_from_depth,
            files,
            req.head
        );
        let name = format!(
            "{}-s{}-{:016x}",
            req.scenario.label().replace([':', '>'], "_"),
            req.seed,
            fnv1a(key.as_bytes())
        );
        Self {
            dir: ctx.cache_dir.join("stage2").join(name),
        }
    }

    /// Locks the entry (blocking while another process holds it, which it does while it
    /// trains the entry).
    fn lock(&self, progress: bool) -> Result<EntryLock> {
        let parent = self.dir.parent().expect("entry sits in a folder");
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let path = self.dir.with_extension("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                if progress {
                    eprintln!(
                        "stage cache: another process is training {}; waiting for it",
                        self.dir.display()
                    );
                }
                file.lock()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        Ok(EntryLock { _file: file })
    }

    /// With a cache: locks its entry (the lock is held until a missing entry is written)
    /// and restores the entry into `learner` when it exists ([`Self::load`]).
    fn lock_and_load<T: serde::de::DeserializeOwned>(
        cache: &Option<StageCache>,
        learner: &mut Learner,
        heads: &[usize],
        ctx: &RunContext,
    ) -> Result<(Option<EntryLock>, Option<T>)> {
        let Some(c) = cache else {
            return Ok((None, None));
        };
        let lock = c.lock(ctx.progress)?;
        Ok((Some(lock), c.load(learner, heads)?))
    }

    /// Restores the entry's encoder and heads `heads` into `learner` and returns its
    /// payload, or `None` when the entry does not exist.
    fn load<T: serde::de::DeserializeOwned>(
        &self,
        learner: &mut Learner,
        heads: &[usize],
    ) -> Result<Option<T>> {
        let stats_path = self.dir.join("stage.json");
        if !stats_path.exists() {
            return Ok(None);
        }
        learner
            .load_stage(heads, &self.dir)
            .context("stage cache")?;
        let text = std::fs::read_to_string(&stats_path)
            .with_context(|| format!("cannot read {}", stats_path.display()))?;
        let payload = serde_json::from_str(&text)
            .with_context(|| format!("invalid {}", stats_path.display()))?;
        Ok(Some(payload))
    }

    fn save<T: Serialize>(&self, learner: &Learner, heads: &[usize], payload: &T) -> Result<()> {
        // A folder of this process's own, renamed into place last, so a crash never
        // leaves a half-written entry that looks complete.
        let tmp = self
            .dir
            .with_extension(format!("partial-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        learner.save_stage(heads, &tmp)?;
        std::fs::write(
            tmp.join("stage.json"),
            serde_json::to_string_pretty(payload)?,
        )?;
        let _ = std::fs::remove_dir_all(&self.dir);
        std::fs::rename(&tmp, &self.dir)
            .with_context(|| format!("cannot move {} into place", tmp.display()))?;
        Ok(())
    }
}

/// The model folder as a stage-1 cache key and a study's `meta.model` name it: its
/// canonical path, so that `models/all-MiniLM-L6-v2` given on the command line and the
/// absolute path the Makefile exports (`LRDIST_MODEL`) are one model. Unchanged where the
/// folder cannot be resolved.
pub fn model_key(model_dir: &Path) -> String {
    std::fs::canonicalize(model_dir)
        .unwrap_or_else(|_| model_dir.to_path_buf())
        .display()
        .to_string()
}

/// 64-bit FNV-1a, a stable hash for cache keys (std's hasher is not stable across builds).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Resolves the default folders from the environment.
pub fn default_cache_dir(results_dir: &Path) -> PathBuf {
    std::env::var_os("LRDIST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            results_dir
                .parent()
                .unwrap_or(Path::new("."))
                .join(".cache")
                .join("lrdist")
        })
}

/// The result of `lrdist finetune`: one task, one stage.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinetuneReport {
    pub task: String,
    pub metrics: BTreeMap<String, f64>,
    pub train_rows: usize,
    pub dev_rows: usize,
    pub dev_source: String,
    pub epochs: usize,
    pub batch_size: usize,
    pub max_len: usize,
    pub distribution_spec: String,
    pub seed: u64,
    pub model: String,
    pub device: String,
    pub threads: i32,
    /// Training rows per second of training-loop wall time (evaluation excluded).
    pub train_samples_per_s: f64,
    pub train_tokens_per_s: f64,
    pub padding_efficiency: f64,
    /// Model FLOPs of the training steps per second of training (`perf`).
    pub train_flops_per_s: f64,
    pub train_seconds: f64,
    /// Wall time of the whole command part (load, tokenise, train, evaluate).
    pub seconds: f64,
    pub loss_per_epoch: Vec<f64>,
    /// What the head read (`--head`); left out when it is the default `cls`.
    #[serde(default, skip_serializing_if = "HeadKind::is_cls")]
    pub head: HeadKind,
    /// The folder `--save` wrote the trained model to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved: Option<String>,
    /// A task of your own: its spec, the label set read from its train file and the
    /// SHA-256 of its files; absent for a GLUE task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_task: Option<lrdist_data::FileTaskRecord>,
}

/// `lrdist finetune`'s choices beyond the scale, distribution and seed.
#[derive(Clone, Debug, Default)]
pub struct FinetuneOptions {
    /// What the head reads.
    pub head: HeadKind,
    /// Write the trained encoder and head here as a Hugging Face folder
    /// ([`crate::save::save_head`]).
    pub save: Option<PathBuf>,
}

impl Runner {
    /// Fine-tunes the pretrained encoder and a fresh head on one task (GLUE or a file task).
    pub fn finetune(
        &mut self,
        task: &TaskSpec,
        scale: &ScaleSpec,
        distribution: &DistributionSpec,
        seed: u64,
    ) -> Result<FinetuneReport> {
        self.finetune_with(task, scale, distribution, seed, &FinetuneOptions::default())
    }

    /// [`Runner::finetune`] with a head kind and, optionally, saving the trained model.
    pub fn finetune_with(
        &mut self,
        task: &TaskSpec,
        scale: &ScaleSpec,
        distribution: &DistributionSpec,
        seed: u64,
        opts: &FinetuneOptions,
    ) -> Result<FinetuneReport> {
        let start = Instant::now();
        tch::manual_seed(seed as i64);
        let encoder = Encoder::pretrained(&self.ctx.model_dir, self.ctx.device)?;
        let num_layers = encoder.config.num_hidden_layers;
        // Finetuning has one stage and no search: rates per layer.
        let dist = Self::resolve(distribution, GroupingSpec::PerLayer, num_layers)?;
        let progress = self.ctx.progress;
        let data = self.data(scale.max_len)?;
        let prepared = data.task(task, &scale.data_spec(task))?;
        let mut learner = Learner::new(encoder, data.tokenizer().pad_id());
        learner.set_head_kind(opts.head, seed);
        let head = learner.add_head(prepared.task.clone(), seed as i64);
        let plan = [crate::protocol::StagePlan {
            train: prepared.train.clone(),
            dev: prepared.dev.clone(),
            head,
        }];
        let settings = RunSettings {
            rates: vec![dist.per_depth.clone()],
            stage: stage_settings(scale, seed, progress),
            penalty: None,
            train_from_depth: vec![0],
        };
        let outcome = run_plan(&mut learner, &plan, settings, None, &mut |_| {
            Decision::Continue
        })?;
        if let Some(dir) = &opts.save {
            crate::save::save_head(&learner, head, dir)?;
        }
        let stage = &outcome.stages[0];
        Ok(FinetuneReport {
            task: task.to_string(),
            metrics: outcome.metrics[0][0].clone().unwrap_or_default(),
            train_rows: prepared.train.len(),
            dev_rows: prepared.dev.len(),
            dev_source: prepared.dev_source.clone(),
            epochs: stage.epochs.len(),
            batch_size: scale.batch_size,
            max_len: scale.max_len,
            distribution_spec: distribution.to_string(),
            seed,
            model: self.ctx.model_dir.display().to_string(),
            device: format!("{:?}", self.ctx.device),
            threads: tch::get_num_threads(),
            train_samples_per_s: stage.samples_per_s,
            train_tokens_per_s: stage.tokens_per_s,
            padding_efficiency: stage.padding_efficiency,
            train_flops_per_s: stage.flops / stage.seconds.max(1e-9),
            train_seconds: stage.seconds,
            seconds: start.elapsed().as_secs_f64(),
            loss_per_epoch: stage.epochs.iter().map(|e| e.loss).collect(),
            head: opts.head,
            saved: opts.save.as_ref().map(|d| d.display().to_string()),
            file_task: prepared.file.clone(),
        })
    }
}

impl Runner {
    /// The per-depth rates `req`'s distribution gives this runner's model.
    pub fn per_depth(&self, req: &RunRequest) -> Result<Vec<f64>> {
        let cfg_path = self.ctx.model_dir.join(lrdist_model::CONFIG_FILE);
        let layers = lrdist_model::BertConfig::from_file(&cfg_path)?.num_hidden_layers;
        Ok(Self::request_distribution(req, layers)?.per_depth)
    }

    /// Whether `path` already holds a record of exactly `req` ([`record::compare`]), only
    /// stale ones, or none: what a resumable batch decides by.
    pub fn status(&self, req: &RunRequest, path: &Path) -> Result<record::Done> {
        record::find_record(path, req, &self.per_depth(req)?)
    }

    /// Runs `reqs` in order, appending each record to `record_path(req)` and handing it
    /// to `on_record`. With `resume`, a request whose record already exists (the same
    /// run: scale spec, rates, penalty, intervention; [`record::compare`]) is skipped,
    /// and a record that only shares its scenario, method, scale name and seed is said
    /// to be stale and run again. Messages go to stderr. Returns the number of runs made.
    pub fn run_batch(
        &mut self,
        reqs: &[RunRequest],
        record_path: &dyn Fn(&RunRequest) -> PathBuf,
        resume: bool,
        on_record: &mut dyn FnMut(&RunRecord, &Path) -> Result<()>,
    ) -> Result<usize> {
        let mut ran = 0;
        for (i, req) in reqs.iter().enumerate() {
            let path = record_path(req);
            let what = format!(
                "[{}/{}] {} {} seed {} ({} scale)",
                i + 1,
                reqs.len(),
                req.scenario.label(),
                req.method,
                req.seed,
                req.scale_name
            );
            if resume {
                match self.status(req, &path)? {
                    record::Done::Same => {
                        eprintln!("{what}: skipped, already in {}", path.display());
                        continue;
                    }
                    record::Done::Stale(why) => eprintln!(
                        "{what}: {} holds a record of it, but {why}: running again",
                        path.display()
                    ),
                    record::Done::None => {}
                }
            }
            if reqs.len() > 1 {
                eprintln!("{what}");
            }
            let record = self.run(req, &mut |_| Decision::Continue)?;
            record::append_record(&path, &record)?;
            ran += 1;
            on_record(&record, &path)?;
        }
        Ok(ran)
    }

    /// Checks a request before any work: the model config, the distribution against it,
    /// and the data folders. Every error here is the user's input (the CLI exits 2).
    pub fn validate(&self, req: &RunRequest) -> Result<()> {
        let cfg_path = self.ctx.model_dir.join(lrdist_model::CONFIG_FILE);
        let cfg = lrdist_model::BertConfig::from_file(&cfg_path)?;
        let layers = cfg.num_hidden_layers;
        Self::request_distribution(req, layers)?;
        if req.stage2_only {
            Self::stage1_distribution(req, layers)?;
        }
        req.scenario.validate()?;
        for task in req.scenario.tasks() {
            match &task {
                TaskSpec::Glue(t) => {
                    lrdist_data::task_dir(&self.ctx.glue_dir, *t)?;
                }
                // A file task is read and checked whole (its columns, texts and labels),
                // so a bad row is found before anything is trained or written.
                TaskSpec::File(_) => {
                    lrdist_data::load_task(&self.ctx.glue_dir, &task, &req.scale.data_spec(&task))?;
                }
            }
        }
        if req.scale.epochs == 0 || req.scale.batch_size == 0 {
            anyhow::bail!("epochs and batch size must be at least 1");
        }
        Ok(())
    }
}

impl Runner {
    /// The main job (`make demo`): `pair` with the paper's flat 2e-5 and with its combined
    /// distribution (depth-transferred to this model), each record appended to `path`.
    pub fn demo(
        &mut self,
        pair: ScenarioSpec,
        scale_name: &str,
        scale: &ScaleSpec,
        seed: u64,
        path: &Path,
    ) -> Result<Vec<RunRecord>> {
        let mut records = Vec::new();
        let methods = [
            (
                "flat",
                DistributionSpec::flat(crate::config::PAPER_FLAT_RATE),
            ),
            ("paper-combined", DistributionSpec::paper_combined()),
        ];
        for (method, dist) in methods {
            let req = RunRequest::new(
                pair.clone(),
                scale_name,
                scale.clone(),
                method,
                dist.clone(),
                seed,
            );
            self.validate(&req)?;
            eprintln!(
                "==> {} with {dist} ({scale_name} scale, seed {seed})",
                req.scenario.label()
            );
            let record = self.run(&req, &mut |_| Decision::Continue)?;
            record::append_record(path, &record)?;
            records.push(record);
        }
        Ok(records)
    }
}

/// Where `make demo` appends its records: `RESULTS/tmp/demo.jsonl`, git-ignored and read
/// by no table, so the main command never adds a duplicate of a committed record (which
/// `make check` refuses) nor dirties `results/`.
pub fn demo_record_path(results: &Path) -> PathBuf {
    results.join("tmp").join("demo.jsonl")
}

/// A fixed-width table of a1, p_s, p_o, forgetting and p_o + p_s, one row per record.
pub fn comparison_table(records: &[RunRecord]) -> String {
    let f = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |x| format!("{x:.4}"));
    let mut out = format!(
        "{:<22} {:<18} {:>4} {:>8} {:>8} {:>8} {:>10} {:>8}\n",
        "scenario", "method", "seed", "a1", "p_s", "p_o", "forgetting", "p_o+p_s"
    );
    for r in records {
        out.push_str(&format!(
            "{:<22} {:<18} {:>4} {:>8} {:>8} {:>8} {:>10} {:>8}\n",
            r.scenario,
            r.method,
            r.seed,
            f(r.a1),
            f(r.p_s),
            f(r.p_o),
            f(r.forgetting),
            f(r.objective)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_writes_where_no_table_reads_and_git_ignores() {
        let results = Path::new("results");
        let path = demo_record_path(results);
        assert!(
            !path.starts_with(results.join("runs")),
            "{}",
            path.display()
        );
        assert!(!path.starts_with(results.join("calibration")));
        let ignore =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.gitignore"))
                .unwrap();
        assert!(
            ignore
                .lines()
                .any(|l| path.starts_with(l.trim_start_matches('/'))),
            "{} is not git-ignored",
            path.display()
        );
    }

    #[test]
    fn a_model_folder_has_one_key_however_it_is_spelled() {
        let tmp = tempfile::tempdir().unwrap();
        let model = tmp.path().join("model");
        std::fs::create_dir_all(&model).unwrap();
        std::fs::create_dir_all(tmp.path().join("other")).unwrap();
        let detour = tmp.path().join("other").join("..").join(".").join("model");
        assert_eq!(model_key(&detour), model_key(&model));
        // An absolute path without links is its own key (the keys of existing entries stay).
        let canonical = std::fs::canonicalize(&model).unwrap();
        assert_eq!(model_key(&canonical), canonical.display().to_string());
        assert_ne!(model_key(&model), model_key(&tmp.path().join("other")));
    }

    #[test]
    fn flat_at_wise_fts_rate_and_seed_is_marked_to_store_its_stage_b() {
        use crate::config::PenaltySpec;
        use lrdist_data::GlueTask;
        let scenario = ScenarioSpec::Pair {
            first: GlueTask::Sst2.into(),
            second: GlueTask::Mrpc.into(),
        };
        let mut scale = ScaleSpec::builtin("quick").unwrap();
        scale.stage2_only = true;
        let req = |method: &str, rate: f64, seed: u64| {
            let mut r = RunRequest::new(
                scenario.clone(),
                "forget",
                scale.clone(),
                method,
                DistributionSpec::flat(rate),
                seed,
            );
            if method == "wise-ft" {
                r.intervention = Some(Intervention::WiseFt { alpha: 0.5 });
            }
            r
        };
        let mut ewc = req("ewc", 1e-4, 0);
        ewc.penalty = Some(PenaltySpec::Ewc {
            lambda: 1e3,
            fisher_rows: 256,
        });
        let mut batch = vec![
            req("flat", 1e-4, 0),
            req("flat", 1e-4, 1),
            req("flat@2e-5", 2e-5, 0),
            ewc,
            req("wise-ft", 1e-4, 0),
        ];
        assert_eq!(share_stage_b(&mut batch), 1);
        let marked: Vec<bool> = batch.iter().map(|r| r.store_stage_b).collect();
        assert_eq!(
            marked,
            [true, false, false, false, false],
            "flat seed 0 only: seed 1 has no WiSE-FT run, 2e-5 other rates, EWC a penalty"
        );
        // Without --stage2-only there is no stage-1 entry to key stage B by.
        for r in batch.iter_mut() {
            r.stage2_only = false;
        }
        assert_eq!(share_stage_b(&mut batch), 0);
        assert!(batch.iter().all(|r| !r.store_stage_b));
    }

    #[test]
    fn freezing_keeps_the_top_layers_and_heads_training() {
        assert_eq!(freeze_from_depth(2, 6).unwrap(), 5);
        assert_eq!(freeze_from_depth(0, 6).unwrap(), 7);
        assert_eq!(freeze_from_depth(6, 6).unwrap(), 1);
        assert!(freeze_from_depth(7, 6).is_err());
    }
}
