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
    /// The methods `make reproduce` runs on this scenario.
    #[serde(default)]
    pub methods: Vec<MethodSpec>,
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

    pub fn method(&self, name: &str) -> Option<&MethodSpec> {
        self.methods.iter().find(|m| m.name == name)
    }
}

/// What is trained in sequence (PAPER.md "Forgetting protocol" and "Scenarios").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ScenarioSpec {
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
            Self::EmbeddingShift { task } | Self::LengthShift { task } => vec![*task],
        }
    }

    /// Number of training stages.
    pub fn num_stages(&self) -> usize {
        match self {
            Self::Sequence { tasks } => tasks.len(),
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
}

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
        })
    }

    /// The data selection for `task` under this scale.
    pub fn data_spec(&self, task: Task) -> DataSpec {
        DataSpec {
            max_train: self.max_train,
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
    fn single_task_sequences_are_rejected() {
        let s = ScenarioSpec::Sequence {
            tasks: vec![Task::Rte],
        };
        assert!(s.validate().is_err());
    }
}
