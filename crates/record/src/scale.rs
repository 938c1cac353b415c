//! Scales: the sizes and hyperparameters a run is trained at ([`ScaleSpec`], the
//! `scales:` of an experiment file and the `scale_spec` of every run record), and the data
//! selection a scale makes for one task ([`DataSpec`]).
//!
//! A record's `scale_spec` decides whether `run --all` reruns it and tells scales apart in
//! the tables, so it must write out exactly as it was read (an unset optional field is not
//! written).

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::task::{TaskName, TaskSpec};

/// Sizes and hyperparameters of one scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// Train rows per task (label-stratified, seeded sample); `None` = all.
    #[serde(default)]
    pub max_train: Option<usize>,
    /// Train rows of named tasks, overriding `max_train` for them (e.g. more rows for a
    /// task B than for a task A): a GLUE task by its name (`qnli: 4000`), a task of your
    /// own by its `name`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub train_rows: BTreeMap<TaskName, usize>,
    /// Train rows of every stage after the first (task B; each later task of a sequence),
    /// overriding `max_train` and `train_rows` there; stage 1 and the calibration keep
    /// theirs (docs/METHOD.md, "The forget scale"). A scenario that splits one task in two
    /// (the shifts) splits one sample of `max_train` rows and ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_b_train: Option<usize>,
    /// Dev rows per task (same sampling); `None` = all.
    #[serde(default)]
    pub max_dev: Option<usize>,
    /// Epochs per training stage (the paper used 3 to 5 at full scale; docs/METHOD.md
    /// "What the paper and the authors' logs report").
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
    /// `shared/glue/SOURCES.md`): task → rows, a GLUE task by its name, a task of your own
    /// by its `name` (its dev rows are then carved out of its train file, which it is no
    /// longer trained on; its dev file is still read and checked). Other tasks are scored
    /// on their dev file.
    #[serde(default)]
    pub dev_from_train: BTreeMap<TaskName, usize>,
    /// Length bucketing of training batches.
    #[serde(default = "yes")]
    pub bucketing: bool,
    /// Seed of the row selection (train/dev caps, dev-from-train). Fixed across training
    /// seeds, so repetitions differ in initialisation and order, not in data.
    #[serde(default)]
    pub data_seed: u64,
    /// The scale's flat rate, calibrated by `lrdist calibrate`
    /// (paper/tables/calibration.md): stage 1 trains at it, `flat` is it, and the
    /// baselines' grids are centred on it. `None`: the paper's 2e-5 ([`PAPER_FLAT_RATE`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_rate: Option<f64>,
    /// The scale's protocol is `--stage2-only` (docs/METHOD.md, "Protocol"): task A is
    /// trained once per seed at `base_rate` and cached, and a method changes stage B only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stage2_only: bool,
}

/// The paper's flat baseline and stage-1 distribution (docs/METHOD.md "Baselines": 2e-5),
/// used wherever a scale states no calibrated `base_rate`.
pub const PAPER_FLAT_RATE: f64 = 2e-5;

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
            stage_b_train: None,
            base_rate: None,
            stage2_only: false,
        })
    }

    /// The flat rate of this scale: its `base_rate`, or the paper's 2e-5
    /// ([`PAPER_FLAT_RATE`]). Stage 1 trains at it, and a config's `flat:base` is it.
    pub fn flat_rate(&self) -> f64 {
        self.base_rate.unwrap_or(PAPER_FLAT_RATE)
    }

    /// The data selection for `task` trained in stage `stage` (0 = the first) of a
    /// scenario with one task per stage: [`Self::data_spec`], with `stage_b_train` rows in
    /// every stage after the first.
    pub fn stage_data_spec(&self, task: &TaskSpec, stage: usize) -> DataSpec {
        let spec = self.data_spec(task);
        match self.stage_b_train {
            Some(rows) if stage > 0 => DataSpec {
                max_train: Some(rows),
                ..spec
            },
            _ => spec,
        }
    }

    /// The data selection for `task` under this scale (as task A, or alone).
    pub fn data_spec(&self, task: &TaskSpec) -> DataSpec {
        let name = TaskName::of(task);
        DataSpec {
            max_train: self.train_rows.get(&name).copied().or(self.max_train),
            max_dev: self.max_dev,
            dev_from_train: self.dev_from_train.get(&name).copied(),
            seed: self.data_seed,
        }
    }

    /// Checks that every task that `train_rows` and `dev_from_train` name is a GLUE task
    /// or one of `tasks` (so a misspelt name of a task of your own is not silently
    /// ignored). `scale` and `whose` (`config FILE`) name the scale in the error.
    pub fn check_task_names(&self, tasks: &[TaskSpec], scale: &str, whose: &str) -> Result<()> {
        let fields = [
            ("train_rows", &self.train_rows),
            ("dev_from_train", &self.dev_from_train),
        ];
        for (field, map) in fields {
            for name in map.keys() {
                if matches!(name, TaskName::Glue(_)) || tasks.iter().any(|t| name.names(t)) {
                    continue;
                }
                let own: Vec<&str> = tasks
                    .iter()
                    .filter_map(|t| t.file().map(|f| f.name.as_str()))
                    .collect();
                let own = if own.is_empty() {
                    "none".to_string()
                } else {
                    own.join(", ")
                };
                bail!(
                    "{whose}, scale `{scale}`: `{field}` names `{name}`, which is neither a GLUE \
                     task nor a task of {whose} (its tasks of your own: {own})"
                );
            }
        }
        Ok(())
    }
}

/// How much of a task to use (`--max-train`, `--max-dev`, `--dev-from-train`, `--seed`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DataSpec {
    /// Cap on training rows (label-stratified sample, file order kept).
    pub max_train: Option<usize>,
    /// Cap on dev rows (label-stratified sample, file order kept).
    pub max_dev: Option<usize>,
    /// Hold out this many train rows as the dev set instead of reading the dev file
    /// (QQP has only a 1000-row dev sample; the MNLI, QNLI and QQP train files are
    /// partial). The held-out rows never appear in the training rows.
    pub dev_from_train: Option<usize>,
    /// Seed of every sampling step above.
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::GlueTask;

    #[test]
    fn the_flat_rate_is_the_base_rate_or_the_papers() {
        let mut s = ScaleSpec::builtin("quick").unwrap();
        assert_eq!(s.flat_rate(), 2e-5);
        s.base_rate = Some(1e-4);
        assert_eq!(s.flat_rate(), 1e-4);
    }

    #[test]
    fn train_rows_override_max_train_per_task() {
        let mut s = ScaleSpec::builtin("quick").unwrap();
        s.train_rows.insert(GlueTask::Qnli.into(), 4000);
        assert_eq!(s.data_spec(&GlueTask::Qnli.into()).max_train, Some(4000));
        assert_eq!(s.data_spec(&GlueTask::Sst2.into()).max_train, Some(1000));
    }

    #[test]
    fn stage_b_rows_apply_after_the_first_stage_only() {
        let mut s = ScaleSpec::builtin("quick").unwrap();
        s.train_rows.insert(GlueTask::Qnli.into(), 3000);
        let qnli: TaskSpec = GlueTask::Qnli.into();
        assert_eq!(s.stage_data_spec(&qnli, 1).max_train, Some(3000));
        s.stage_b_train = Some(4000);
        assert_eq!(s.stage_data_spec(&qnli, 0), s.data_spec(&qnli));
        assert_eq!(s.stage_data_spec(&qnli, 0).max_train, Some(3000));
        assert_eq!(s.stage_data_spec(&qnli, 1).max_train, Some(4000));
        assert_eq!(s.stage_data_spec(&qnli, 3).max_train, Some(4000));
        assert_eq!(
            s.stage_data_spec(&qnli, 1).max_dev,
            s.data_spec(&qnli).max_dev
        );
        // an unset field is not written, so older scale specs keep their identity
        s.stage_b_train = None;
        assert!(!serde_yaml::to_string(&s).unwrap().contains("stage_b_train"));
    }
}
