//! Experiment configs: the YAML files under `experiments/`, one per scenario of the paper.
//!
//! A config names a scenario (PAPER.md "Scenarios in the code"), the methods to compare
//! (a learning-rate distribution and an optional penalty each) and one or more *scales*:
//! `quick` (a run in minutes on 2 cores; the scale of the committed results) and `cpu`
//! (2x the train rows, 3 epochs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lrdist_data::{DataSpec, Task};
use serde::{Deserialize, Serialize};

/// One experiment file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub scenario: ScenarioSpec,
    /// Model folder; `None` → the default model (`--model` / `LRDIST_MODEL`).
    #[serde(default)]
    pub model: Option<PathBuf>,
    pub scales: BTreeMap<String, ScaleSpec>,
    /// The methods `make reproduce` runs on this scenario (at every scale that has no
    /// list of its own in `scale_methods`).
    #[serde(default)]
    pub methods: Vec<MethodSpec>,
    /// Methods of one scale, replacing `methods` there: the `forget` scale compares its
    /// own baselines, centred on its calibrated rate (docs/METHOD.md, "Baselines").
    #[serde(default)]
    pub scale_methods: BTreeMap<String, Vec<MethodSpec>>,
    /// The seeds `make reproduce` runs.
    #[serde(default)]
    pub seeds: Vec<u64>,
}

impl ExperimentConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let cfg: Self = serde_yaml::from_str(&text)
            .with_context(|| format!("invalid config {}", path.display()))?;
        cfg.scenario.validate()?;
        Ok(cfg)
    }

    /// The scale called `name`, from this file or else the built-in one.
    pub fn scale(&self, name: &str) -> Result<ScaleSpec> {
        match self.scales.get(name) {
            Some(s) => Ok(s.clone()),
            None => bail!(
                "config {} has no scale `{name}` (it has: {})",
                self.name,
                self.scales.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }

    /// The methods compared at scale `scale`: its own list, else the shared one.
    pub fn methods_at(&self, scale: &str) -> &[MethodSpec] {
        self.scale_methods.get(scale).unwrap_or(&self.methods)
    }

    /// Method `name` at scale `scale`.
    pub fn method(&self, scale: &str, name: &str) -> Option<&MethodSpec> {
        self.methods_at(scale).iter().find(|m| m.name == name)
    }
}

/// What is trained in sequence (PAPER.md "Forgetting protocol" and "Scenarios").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ScenarioSpec {
    /// One task, one stage: plain fine-tuning (`lrdist calibrate`; the score is a1).
    Single { task: Task },
    /// Task A then task B, each with its own head.
    Pair { first: Task, second: Task },
    /// N tasks in order, each with its own head (continual-learning metrics).
    Sequence { tasks: Vec<Task> },
    /// One task split in two by k-means (k = 2) on pretrained [CLS] embeddings; train on
    /// cluster 1 then cluster 0 with one head.
    EmbeddingShift { task: Task },
    /// One task: the short half (by token count) then the long half, one head.
    LengthShift { task: Task },
}

impl ScenarioSpec {
    /// Short name used in records and tables: `sst2->mrpc`, `embedding-shift:sst2`, ...
    pub fn label(&self) -> String {
        match self {
            Self::Single { task } => task.to_string(),
            Self::Pair { first, second } => format!("{first}->{second}"),
            Self::Sequence { tasks } => tasks
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join("->"),
            Self::EmbeddingShift { task } => format!("embedding-shift:{task}"),
            Self::LengthShift { task } => format!("length-shift:{task}"),
        }
    }

    /// The tasks whose data the scenario reads, in order of training.
    pub fn tasks(&self) -> Vec<Task> {
        match self {
            Self::Pair { first, second } => vec![*first, *second],
            Self::Sequence { tasks } => tasks.clone(),
            Self::Single { task } | Self::EmbeddingShift { task } | Self::LengthShift { task } => {
                vec![*task]
            }
        }
    }

    /// The `kind` a record of this scenario carries (`pair`, `single`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Single { .. } => "single",
            Self::Pair { .. } => "pair",
            Self::Sequence { .. } => "sequence",
            Self::EmbeddingShift { .. } => "embedding-shift",
            Self::LengthShift { .. } => "length-shift",
        }
    }

    /// What stage 1 trains on, as far as the stage-1 cache is concerned: pairs, sequences
    /// and single tasks all train their first task on its whole selection, so they share
    /// one cache entry per task; a shift trains on a part of its task (its own entry).
    pub fn stage1_identity(&self) -> String {
        match self {
            Self::Single { task } => task.to_string(),
            Self::Pair { first, .. } => first.to_string(),
            Self::Sequence { tasks } => tasks[0].to_string(),
            Self::EmbeddingShift { .. } | Self::LengthShift { .. } => self.label(),
        }
    }

    /// Number of training stages.
    pub fn num_stages(&self) -> usize {
        match self {
            Self::Sequence { tasks } => tasks.len(),
            Self::Single { .. } => 1,
            _ => 2,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if let Self::Sequence { tasks } = self {
            if tasks.len() < 2 {
                bail!(
                    "a task sequence needs at least two tasks, got {}",
                    tasks.len()
                );
            }
        }
        Ok(())
    }
}

/// Sizes and hyperparameters of one scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// Train rows per task (label-stratified, seeded sample); `None` = all.
    #[serde(default)]
    pub max_train: Option<usize>,
    /// Train rows of named tasks, overriding `max_train` for them (e.g. more rows for a
    /// task B than for a task A).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub train_rows: BTreeMap<Task, usize>,
    /// Dev rows per task (same sampling); `None` = all.
    #[serde(default)]
    pub max_dev: Option<usize>,
    /// Epochs per training stage (PAPER.md: 3 to 5 at paper scale).
    pub epochs: usize,
    pub batch_size: usize,
    /// Evaluation batch (rows sorted by length). Small batches keep activations in cache:
    /// on 2 cores 32 is faster per row than 128 or 512 (`lrdist bench speed`, "eval batch").
    #[serde(default = "default_eval_batch")]
    pub eval_batch_size: usize,
    /// Max sequence length in tokens (paper: 256; rows are padded per batch, never to this).
    #[serde(default = "default_max_len")]
    pub max_len: usize,
    #[serde(default = "default_warmup")]
    pub warmup_frac: f64,
    /// AdamW weight decay (paper: 0).
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default)]
    pub clip_norm: Option<f64>,
    /// Tasks whose dev set is a held-out part of their train rows (QQP, see
    /// `shared/glue/SOURCES.md`): task → rows.
    #[serde(default)]
    pub dev_from_train: BTreeMap<Task, usize>,
    /// Length bucketing of training batches.
    #[serde(default = "yes")]
    pub bucketing: bool,
    /// Seed of the row selection (train/dev caps, dev-from-train). Fixed across training
    /// seeds, so repetitions differ in initialisation and order, not in data.
    #[serde(default)]
    pub data_seed: u64,
    /// The scale's flat rate, calibrated by `lrdist calibrate`
    /// (paper/tables/calibration.md): stage 1 trains at it, `flat` is it, and the
    /// baselines' grids are centred on it. `None`: the paper's 2e-5 ([`PAPER_FLAT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_rate: Option<f64>,
    /// The scale's protocol is `--stage2-only` (docs/METHOD.md, "Protocol"): task A is
    /// trained once per seed at `base_rate` and cached, and a method changes stage B only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stage2_only: bool,
}

/// The paper's flat baseline and stage-1 distribution (PAPER.md "Baselines": 2e-5),
/// used wherever a scale states no calibrated `base_rate`.
pub const PAPER_FLAT: &str = "flat:2e-5";

fn default_eval_batch() -> usize {
    32
}
fn default_max_len() -> usize {
    128
}
fn default_warmup() -> f64 {
    0.1
}
fn yes() -> bool {
    true
}

impl ScaleSpec {
    /// Built-in scales, used when no config file is given (batch 8 in both):
    /// `quick`: 1000 train / 400 dev rows, 2 epochs; `cpu`: 2000 / 1000 rows, 3 epochs.
    /// MiniLM-L6 at the paper's flat 2e-5 needs a few hundred steps to learn at all:
    /// with 500 rows x 1 epoch at batch 16 it stayed at chance on SST-2.
    pub fn builtin(name: &str) -> Result<Self> {
        let (max_train, max_dev, epochs) = match name {
            "quick" => (1000, 400, 2),
            "cpu" => (2000, 1000, 3),
            other => bail!("unknown scale `{other}` (built-in scales: quick, cpu)"),
        };
        Ok(Self {
            max_train: Some(max_train),
            max_dev: Some(max_dev),
            epochs,
            batch_size: 8,
            eval_batch_size: default_eval_batch(),
            max_len: default_max_len(),
            warmup_frac: default_warmup(),
            weight_decay: 0.0,
            clip_norm: None,
            dev_from_train: BTreeMap::new(),
            bucketing: true,
            data_seed: 0,
            train_rows: BTreeMap::new(),
            base_rate: None,
            stage2_only: false,
        })
    }

    /// The flat distribution of this scale: `flat:<base_rate>`, or the paper's 2e-5.
    pub fn flat_spec(&self) -> String {
        match self.base_rate {
            Some(r) => format!("flat:{r:e}"),
            None => PAPER_FLAT.to_string(),
        }
    }

    /// `spec` with every `base` field replaced by this scale's base rate, so a config says
    /// `flat:base` or `llrd:base:0.9` and states the rate once (`base_rate`):
    /// `flat:base` at a base rate of 1e-4 is `flat:1e-4`. Other specs are returned as is.
    pub fn expand(&self, spec: &str) -> String {
        let rate = self.flat_spec();
        let rate = rate.strip_prefix("flat:").expect("flat_spec starts with flat:");
        spec.split(':')
            .map(|part| if part == "base" { rate } else { part })
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The data selection for `task` under this scale.
    pub fn data_spec(&self, task: Task) -> DataSpec {
        DataSpec {
            max_train: self.train_rows.get(&task).copied().or(self.max_train),
            max_dev: self.max_dev,
            dev_from_train: self.dev_from_train.get(&task).copied(),
            seed: self.data_seed,
        }
    }
}

/// A method: a label, a learning-rate distribution (preset or file) and a penalty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    pub name: String,
    pub distribution: String,
    #[serde(default)]
    pub penalty: Option<PenaltySpec>,
    /// A change to stage B beyond its rates and penalty (WiSE-FT, freezing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervention: Option<Intervention>,
}

/// What a baseline does to stage B besides rates and a penalty (docs/METHOD.md,
/// "Baselines"). Applies to every stage after the first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Intervention {
    /// WiSE-FT (Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022),
    /// applied between tasks: after stage B every encoder weight is set to
    /// `(1 - alpha) * post-A + alpha * post-B`; the heads keep their trained values.
    /// `alpha = 1` is plain fine-tuning, `alpha = 0` undoes stage B in the encoder.
    WiseFt { alpha: f64 },
    /// Partial freezing (as in Lee et al., "What would Elsa do? Freezing layers during
    /// transformer fine-tuning", 2019): in stage B only the top `top` encoder layers and
    /// the heads train; the embeddings and the layers below keep their post-A weights.
    Freeze { top: usize },
}

/// A regulariser added to the loss after the first stage (PAPER.md "Baselines").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PenaltySpec {
    /// Elastic weight consolidation: `lambda / 2 * sum F_i (theta_i - theta*_i)^2`, with a
    /// diagonal empirical Fisher `F` from the previous task's loss.
    Ewc {
        lambda: f64,
        #[serde(default = "default_fisher_rows")]
        fisher_rows: usize,
    },
    /// L2-SP: `alpha / 2 * ||theta - theta_pretrained||^2` over the encoder.
    L2sp { alpha: f64 },
}

fn default_fisher_rows() -> usize {
    256
}

impl PenaltySpec {
    /// Parses `ewc:LAMBDA[:ROWS]` or `l2sp:ALPHA`.
    pub fn parse(spec: &str) -> Result<Self> {
        let parts: Vec<&str> = spec.split(':').collect();
        let num = |s: &str| -> Result<f64> {
            let v: f64 = s
                .parse()
                .with_context(|| format!("bad number `{s}` in penalty `{spec}`"))?;
            if !v.is_finite() || v < 0.0 {
                bail!("penalty strength must be finite and >= 0, got `{s}`");
            }
            Ok(v)
        };
        match parts.as_slice() {
            ["ewc", l] => Ok(Self::Ewc {
                lambda: num(l)?,
                fisher_rows: default_fisher_rows(),
            }),
            ["ewc", l, rows] => Ok(Self::Ewc {
                lambda: num(l)?,
                fisher_rows: rows
                    .parse()
                    .with_context(|| format!("bad row count in `{spec}`"))?,
            }),
            ["l2sp", a] => Ok(Self::L2sp { alpha: num(a)? }),
            _ => bail!("unknown penalty `{spec}` (expected ewc:LAMBDA[:ROWS] or l2sp:ALPHA)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_yaml_round_trips() {
        let yaml = "kind: pair\nfirst: sst2\nsecond: mrpc\n";
        let s: ScenarioSpec = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(
            s,
            ScenarioSpec::Pair {
                first: Task::Sst2,
                second: Task::Mrpc
            }
        );
        assert_eq!(s.label(), "sst2->mrpc");
        let e: ScenarioSpec = serde_yaml::from_str("kind: embedding-shift\ntask: mrpc\n").unwrap();
        assert_eq!(e.label(), "embedding-shift:mrpc");
        assert!(
            serde_yaml::from_str::<ScenarioSpec>("kind: pair\nfirst: sst3\nsecond: mrpc\n")
                .is_err()
        );
    }

    #[test]
    fn penalties_parse_and_reject() {
        assert_eq!(
            PenaltySpec::parse("l2sp:0.01").unwrap(),
            PenaltySpec::L2sp { alpha: 0.01 }
        );
        assert_eq!(
            PenaltySpec::parse("ewc:1000:64").unwrap(),
            PenaltySpec::Ewc {
                lambda: 1000.0,
                fisher_rows: 64
            }
        );
        assert!(PenaltySpec::parse("ewc:-1").is_err());
        assert!(PenaltySpec::parse("dropout:0.1").is_err());
    }

    #[test]
    fn base_in_a_spec_is_the_scales_rate() {
        let mut s = ScaleSpec::builtin("quick").unwrap();
        assert_eq!(s.expand("flat:base"), "flat:2e-5");
        s.base_rate = Some(1e-4);
        assert_eq!(s.expand("flat:base"), "flat:1e-4");
        assert_eq!(s.expand("llrd:base:0.9"), "llrd:1e-4:0.9");
        assert_eq!(s.expand("results/base.yaml"), "results/base.yaml");
        assert_eq!(s.flat_spec(), "flat:1e-4");
    }

    #[test]
    fn train_rows_override_max_train_per_task() {
        let mut s = ScaleSpec::builtin("quick").unwrap();
        s.train_rows.insert(Task::Qnli, 4000);
        assert_eq!(s.data_spec(Task::Qnli).max_train, Some(4000));
        assert_eq!(s.data_spec(Task::Sst2).max_train, Some(1000));
    }

    #[test]
    fn single_task_sequences_are_rejected() {
        let s = ScenarioSpec::Sequence {
            tasks: vec![Task::Rte],
        };
        assert!(s.validate().is_err());
    }
}
