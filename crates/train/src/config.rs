//! Experiment configs: the YAML files under `experiments/`, one per scenario of the paper.
//!
//! A config names a scenario (docs/METHOD.md "Scenarios"), the methods to compare
//! (a learning-rate distribution and an optional penalty each) and one or more *scales*:
//! `quick` (a run in minutes on 2 cores; the scale of the committed results) and `cpu`
//! (2x the train rows, 3 epochs).
//!
//! Also here, as the settings these files are read into: [`RunRequest`], one run (a
//! method of a config at a scale and seed, or what `finetune`, `run` and a search trial
//! ask for), and [`TuningChoice`], the file a `tuned:` method takes its hyperparameters
//! from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lrdist_data::{DataSpec, FileDigests, FileTask, TaskName, TaskSpec};
use lrdist_model::HeadKind;
use serde::{Deserialize, Serialize};

/// One experiment file.
#[derive(Clone, Debug, Serialize)]
pub struct ExperimentConfig {
    pub name: String,
    pub description: Option<String>,
    pub scenario: ScenarioSpec,
    /// Model folder; `None` → the default model (`--model` / `LRDIST_MODEL`).
    pub model: Option<PathBuf>,
    pub scales: BTreeMap<String, ScaleSpec>,
    /// The methods `make reproduce` runs on this scenario (at every scale that has no
    /// list of its own in `scale_methods`).
    pub methods: Vec<MethodSpec>,
    /// Methods of one scale, replacing `methods` there: the `forget` scale compares its
    /// own baselines, centred on its calibrated rate (docs/METHOD.md, "Baselines").
    pub scale_methods: BTreeMap<String, Vec<MethodSpec>>,
    /// Methods of a scale whose hyperparameters come from a tuning file that does not
    /// exist yet (`{name: ewc, tuned: results/tuning/forget.yaml}` before `lrdist tune`
    /// wrote it): scale -> (method, file). They cannot run until it exists.
    #[serde(skip)]
    pub pending: BTreeMap<String, Vec<(String, PathBuf)>>,
    /// The seeds `make reproduce` runs.
    pub seeds: Vec<u64>,
}

/// The file as written: method entries may still point to a tuning file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    #[serde(default)]
    description: Option<String>,
    scenario: ScenarioSpec,
    #[serde(default)]
    model: Option<PathBuf>,
    scales: BTreeMap<String, ScaleSpec>,
    #[serde(default)]
    methods: Vec<MethodEntry>,
    #[serde(default)]
    scale_methods: BTreeMap<String, Vec<MethodEntry>>,
    #[serde(default)]
    seeds: Vec<u64>,
}

/// One entry of `methods:` or `scale_methods:`: a method spelled out, or a baseline whose
/// hyperparameters a tuning chose, `{name: ewc, tuned: results/tuning/forget.yaml}`
/// ([`crate::tune`]; docs/METHOD.md, "Baselines"). The file's method of that name is
/// used, renamed to nothing else.
enum MethodEntry {
    Spec(MethodSpec),
    Tuned { name: String, tuned: PathBuf },
}

impl<'de> Deserialize<'de> for MethodEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Tuned {
            name: String,
            tuned: PathBuf,
        }
        let value = serde_yaml::Value::deserialize(d)?;
        if value.get("tuned").is_some() {
            let t: Tuned = serde_yaml::from_value(value).map_err(D::Error::custom)?;
            Ok(MethodEntry::Tuned {
                name: t.name,
                tuned: t.tuned,
            })
        } else {
            serde_yaml::from_value(value)
                .map(MethodEntry::Spec)
                .map_err(D::Error::custom)
        }
    }
}

/// `results/tuning/<scale>.yaml`: each baseline's chosen grid point, written by
/// `lrdist tune` ([`crate::tune`]) and read by the experiment configs' `tuned:` methods
/// ([`ExperimentConfig::from_file`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningChoice {
    /// The tuning config it was chosen by.
    pub tuning: String,
    pub scale: String,
    pub objective: String,
    pub settings: Vec<String>,
    pub seeds: Vec<u64>,
    /// One method per baseline, named by it: the chosen grid point's spec.
    pub methods: Vec<MethodSpec>,
    /// Every grid point's mean objective.
    pub scores: Vec<CandidateScore>,
}

/// One grid point's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateScore {
    pub baseline: String,
    pub candidate: String,
    pub objective: f64,
    pub runs: usize,
    pub chosen: bool,
}

impl TuningChoice {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read tuning result {}", path.display()))?;
        serde_yaml::from_str(&text)
            .with_context(|| format!("invalid tuning result {}", path.display()))
    }

    /// The chosen method of baseline `name`.
    pub fn method(&self, name: &str) -> Option<&MethodSpec> {
        self.methods.iter().find(|m| m.name == name)
    }

    /// Writes the file with a header saying where it comes from.
    pub fn write(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let text = format!(
            "# Written by `lrdist tune --config {}` from the records in results/tuning/{}/:\n\
             # per baseline, the grid point of highest {} (docs/METHOD.md, \"Tuning the baselines\").\n{}",
            self.tuning,
            self.scale,
            self.objective,
            serde_yaml::to_string(self)?
        );
        let tmp = path.with_extension("yaml.partial");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

impl ExperimentConfig {
    /// Reads and checks an experiment file; a `tuned:` method is read from its tuning file
    /// (relative paths are relative to the working directory, like distribution files), or
    /// listed in [`Self::pending`] while that file does not exist.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let raw: RawConfig = serde_yaml::from_str(&text)
            .with_context(|| format!("invalid config {}", path.display()))?;
        raw.scenario.validate()?;
        let tasks = raw.scenario.tasks();
        for (name, scale) in &raw.scales {
            scale.check_task_names(&tasks, name, &format!("config {}", path.display()))?;
        }
        let mut pending = BTreeMap::new();
        let mut resolve = |scale: &str, entries: Vec<MethodEntry>| -> Result<Vec<MethodSpec>> {
            let mut out = Vec::new();
            for e in entries {
                match e {
                    MethodEntry::Spec(m) => out.push(m),
                    MethodEntry::Tuned { name, tuned } if tuned.exists() => {
                        let choice = TuningChoice::from_file(&tuned)?;
                        out.push(choice.method(&name).cloned().with_context(|| {
                            format!(
                                "{}: method `{name}` is tuned in {}, which has no method of that name",
                                path.display(),
                                tuned.display()
                            )
                        })?);
                    }
                    MethodEntry::Tuned { name, tuned } => pending
                        .entry(scale.to_string())
                        .or_insert_with(Vec::new)
                        .push((name, tuned)),
                }
            }
            Ok(out)
        };
        // `methods` serve every scale without a list of its own: its pending entries are
        // filed under "" and looked up as a fallback.
        let methods = resolve("", raw.methods)?;
        let mut scale_methods = BTreeMap::new();
        for (scale, entries) in raw.scale_methods {
            let list = resolve(&scale, entries)?;
            scale_methods.insert(scale, list);
        }
        Ok(Self {
            name: raw.name,
            description: raw.description,
            scenario: raw.scenario,
            model: raw.model,
            scales: raw.scales,
            methods,
            scale_methods,
            pending,
            seeds: raw.seeds,
        })
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

    /// The methods of scale `scale` waiting for their tuning file: (method, file).
    pub fn pending_at(&self, scale: &str) -> &[(String, PathBuf)] {
        let key = if self.scale_methods.contains_key(scale) {
            scale
        } else {
            ""
        };
        self.pending.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The request of method `m` at scale `scale` with seed `seed`, as `run --all` makes
    /// it: the scale's spec, `base` rates expanded, the method's penalty and intervention,
    /// this file recorded as the config.
    pub fn request(
        &self,
        config_file: &Path,
        scale: &str,
        m: &MethodSpec,
        seed: u64,
    ) -> Result<RunRequest> {
        let spec = self.scale(scale)?;
        let distribution = spec.expand(&m.distribution);
        let mut req = RunRequest::new(
            self.scenario.clone(),
            scale,
            spec,
            &m.name,
            &distribution,
            seed,
        );
        req.penalty = m.penalty.clone();
        req.intervention = m.intervention.clone();
        req.config_file = Some(config_file.display().to_string());
        Ok(req)
    }
}

/// What is trained in sequence (docs/METHOD.md "Forgetting protocol" and "Scenarios"). Each
/// task is a GLUE task's name (`sst2`) or a task of your own,
/// `{name, train, dev, text, text_pair, label, kind}` ([`lrdist_data::FileTask`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ScenarioSpec {
    /// One task, one stage: plain fine-tuning (`lrdist calibrate`; the score is a1).
    Single { task: TaskSpec },
    /// Task A then task B, each with its own head.
    Pair { first: TaskSpec, second: TaskSpec },
    /// N tasks in order, each with its own head (continual-learning metrics).
    Sequence { tasks: Vec<TaskSpec> },
    /// One task split in two by k-means (k = 2) on pretrained [CLS] embeddings; train on
    /// cluster 1 then cluster 0 with one head.
    EmbeddingShift { task: TaskSpec },
    /// One task: the short half (by token count) then the long half, one head.
    LengthShift { task: TaskSpec },
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
    pub fn tasks(&self) -> Vec<TaskSpec> {
        match self {
            Self::Pair { first, second } => vec![first.clone(), second.clone()],
            Self::Sequence { tasks } => tasks.clone(),
            Self::Single { task } | Self::EmbeddingShift { task } | Self::LengthShift { task } => {
                vec![task.clone()]
            }
        }
    }

    /// The distinct file tasks of the scenario, in order of first use.
    pub fn file_tasks(&self) -> Vec<FileTask> {
        let mut out: Vec<FileTask> = Vec::new();
        for task in self.tasks() {
            if let TaskSpec::File(f) = task {
                if !out.contains(&f) {
                    out.push(f);
                }
            }
        }
        out
    }

    /// The SHA-256 of every file task's files as they are now, by task name (empty for
    /// GLUE): what a record of the run must match to stand for it.
    pub fn file_digests(&self) -> Result<Vec<(String, FileDigests)>> {
        self.file_tasks()
            .into_iter()
            .map(|f| Ok((f.name.clone(), f.digests()?)))
            .collect()
    }

    /// Whether some task is a GLUE task (the run needs the GLUE folder).
    pub fn uses_glue(&self) -> bool {
        self.tasks().iter().any(|t| t.glue().is_some())
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
    /// A GLUE task is its name (`sst2`, `embedding-shift:sst2`); a file task is its name and
    /// a hash of its files' contents and columns ([`lrdist_data::FileTask::identity`]:
    /// `reviews@1f0c...`), so editing a file trains a new stage 1. Reads the files of a
    /// file task.
    pub fn stage1_identity(&self) -> Result<String> {
        self.stage1_identity_with(&|f| f.digests())
    }

    /// [`Self::stage1_identity`] with a file task's digests from `digests` (the runner
    /// passes those of the bytes it loaded, so the key names the data stage 1 trained on).
    pub fn stage1_identity_with(
        &self,
        digests: &dyn Fn(&FileTask) -> Result<FileDigests>,
    ) -> Result<String> {
        let id = |task: &TaskSpec| -> Result<String> {
            Ok(match task {
                TaskSpec::Glue(t) => t.to_string(),
                TaskSpec::File(f) => f.identity_from(&digests(f)?),
            })
        };
        Ok(match self {
            Self::Single { task } | Self::Pair { first: task, .. } => id(task)?,
            Self::Sequence { tasks } => id(&tasks[0])?,
            Self::EmbeddingShift { task } => format!("embedding-shift:{}", id(task)?),
            Self::LengthShift { task } => format!("length-shift:{}", id(task)?),
        })
    }

    /// Number of training stages.
    pub fn num_stages(&self) -> usize {
        match self {
            Self::Sequence { tasks } => tasks.len(),
            Self::Single { .. } => 1,
            _ => 2,
        }
    }

    /// Checks the scenario's shape: a sequence has two tasks or more, file tasks have
    /// usable names and columns, and two different file tasks never share a name (it names
    /// their records and saved folders).
    pub fn validate(&self) -> Result<()> {
        if let Self::Sequence { tasks } = self {
            if tasks.len() < 2 {
                bail!(
                    "a task sequence needs at least two tasks, got {}",
                    tasks.len()
                );
            }
        }
        let files = self.file_tasks();
        for (i, f) in files.iter().enumerate() {
            f.validate().map_err(anyhow::Error::msg)?;
            if files[..i].iter().any(|g| g.name == f.name) {
                bail!(
                    "two different file tasks are named `{}`: give each its own name",
                    f.name
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
    /// baselines' grids are centred on it. `None`: the paper's 2e-5 ([`PAPER_FLAT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_rate: Option<f64>,
    /// The scale's protocol is `--stage2-only` (docs/METHOD.md, "Protocol"): task A is
    /// trained once per seed at `base_rate` and cached, and a method changes stage B only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stage2_only: bool,
}

/// The paper's flat baseline and stage-1 distribution (docs/METHOD.md "Baselines": 2e-5),
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
            stage_b_train: None,
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
        let rate = rate
            .strip_prefix("flat:")
            .expect("flat_spec starts with flat:");
        spec.split(':')
            .map(|part| if part == "base" { rate } else { part })
            .collect::<Vec<_>>()
            .join(":")
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

/// A regulariser added to the loss after the first stage (docs/METHOD.md "Baselines").
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

/// One run of the protocol, as [`crate::runner::Runner::run`] takes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRequest {
    pub scenario: ScenarioSpec,
    pub scale_name: String,
    pub scale: ScaleSpec,
    /// Label of the method in tables (`flat`, `combined`, `ewc`, ...).
    pub method: String,
    /// A preset (`flat:2e-5`, `paper-combined`, ...) or a distribution file.
    pub distribution: String,
    /// How depths map to the distribution's groups (`per-layer`, `paper10`, `even:K`).
    pub grouping: String,
    pub penalty: Option<PenaltySpec>,
    /// WiSE-FT or freezing (a baseline's change to stage B beyond rates and penalty).
    #[serde(default)]
    pub intervention: Option<Intervention>,
    pub seed: u64,
    pub config_file: Option<String>,
    /// Apply the distribution to stage 2 only; stage 1 is trained with
    /// `stage1_distribution` once and cached (search issue, "Stage-1 cache").
    pub stage2_only: bool,
    pub stage1_distribution: String,
    /// Explicit per-group rates under `grouping` (a search trial); overrides
    /// `distribution`, which then only labels them.
    #[serde(default)]
    pub rates: Option<Vec<f64>>,
    /// After the last stage, measure where forgetting lives: task A's dev score with each
    /// depth's post-A weights put back ([`crate::attribution`]).
    #[serde(default)]
    pub attribute: bool,
    /// What the task heads read (`--head`); left out when it is the default `cls`.
    #[serde(default, skip_serializing_if = "HeadKind::is_cls")]
    pub head: HeadKind,
    /// `--save DIR`: after the last stage, write every head with the encoder as a Hugging
    /// Face folder `DIR/<task>/` ([`crate::save::save_heads`]). Not part of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<PathBuf>,
}

impl RunRequest {
    /// A request with the paper's defaults: per-layer groups, no penalty.
    pub fn new(
        scenario: ScenarioSpec,
        scale_name: &str,
        scale: ScaleSpec,
        method: &str,
        distribution: &str,
        seed: u64,
    ) -> Self {
        Self {
            scenario,
            scale_name: scale_name.into(),
            method: method.into(),
            distribution: distribution.into(),
            grouping: "per-layer".into(),
            penalty: None,
            intervention: None,
            seed,
            config_file: None,
            stage2_only: scale.stage2_only,
            stage1_distribution: scale.flat_spec(),
            rates: None,
            attribute: false,
            head: HeadKind::Cls,
            save: None,
            scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lrdist_data::GlueTask;

    #[test]
    fn scenario_yaml_round_trips() {
        let yaml = "kind: pair\nfirst: sst2\nsecond: mrpc\n";
        let s: ScenarioSpec = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(
            s,
            ScenarioSpec::Pair {
                first: GlueTask::Sst2.into(),
                second: GlueTask::Mrpc.into()
            }
        );
        assert_eq!(s.label(), "sst2->mrpc");
        assert_eq!(s.stage1_identity().unwrap(), "sst2");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"kind":"pair","first":"sst2","second":"mrpc"}"#
        );
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
        s.train_rows.insert(GlueTask::Qnli.into(), 4000);
        assert_eq!(s.data_spec(&GlueTask::Qnli.into()).max_train, Some(4000));
        assert_eq!(s.data_spec(&GlueTask::Sst2.into()).max_train, Some(1000));
    }

    /// `train_rows` and `dev_from_train` name a task of your own by its name; a name that
    /// is neither a GLUE task nor a task of the config is an error naming it.
    #[test]
    fn a_scale_names_a_file_task_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pair.yaml");
        let write = |scale: &str| {
            std::fs::write(
                &config,
                format!(
                    "name: pair\nscenario:\n  kind: pair\n  first: {{name: reviews, train: t.csv, \
                     dev: d.csv}}\n  second: mrpc\nscales:\n  tiny: {{max_train: 64, max_dev: 32, \
                     epochs: 1, batch_size: 8, {scale}}}\n"
                ),
            )
            .unwrap();
            ExperimentConfig::from_file(&config)
        };
        let c =
            write("train_rows: {reviews: 10, mrpc: 20}, dev_from_train: {reviews: 5, QQP: 400}")
                .unwrap();
        let s = c.scale("tiny").unwrap();
        let tasks = c.scenario.tasks();
        let reviews = s.data_spec(&tasks[0]);
        assert_eq!(
            (reviews.max_train, reviews.dev_from_train),
            (Some(10), Some(5))
        );
        let mrpc = s.data_spec(&tasks[1]);
        assert_eq!((mrpc.max_train, mrpc.dev_from_train), (Some(20), None));
        assert_eq!(s.stage_data_spec(&tasks[0], 0), reviews);
        let qqp = s.data_spec(&GlueTask::Qqp.into());
        assert_eq!((qqp.max_train, qqp.dev_from_train), (Some(64), Some(400)));
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.contains("\"train_rows\":{\"mrpc\":20,\"reviews\":10}")
                && json.contains("\"dev_from_train\":{\"qqp\":400,\"reviews\":5}"),
            "GLUE tasks first, then tasks of your own: {json}"
        );
        assert_eq!(serde_json::from_str::<ScaleSpec>(&json).unwrap(), s);

        let err = format!("{:#}", write("dev_from_train: {reviws: 5}").unwrap_err());
        assert!(
            err.contains(
                "scale `tiny`: `dev_from_train` names `reviws`, which is neither a GLUE task"
            ) && err.contains("(its tasks of your own: reviews)")
                && err.contains("pair.yaml"),
            "{err}"
        );
        let err = format!("{:#}", write("train_rows: {sst3: 5}").unwrap_err());
        assert!(err.contains("`train_rows` names `sst3`"), "{err}");
    }

    /// The scale specs of the committed run records read back and write out byte for byte
    /// as they were recorded (a record's `scale_spec` decides whether `run --all` reruns it,
    /// and the tables tell scales apart by its hash), task-keyed maps included.
    #[test]
    fn recorded_scale_specs_write_out_as_they_were_recorded() {
        let runs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results/runs");
        let (mut seen, mut keyed) = (0, 0);
        for entry in std::fs::read_dir(&runs).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "jsonl") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let Some(start) = line.find("\"scale_spec\":{") else {
                    continue;
                };
                let raw = &line[start + "\"scale_spec\":".len()..];
                let mut depth = 0;
                let end = raw
                    .char_indices()
                    .find_map(|(i, c)| {
                        depth += match c {
                            '{' => 1,
                            '}' => -1,
                            _ => 0,
                        };
                        (depth == 0).then_some(i + 1)
                    })
                    .unwrap();
                let raw = &raw[..end];
                let spec: ScaleSpec = serde_json::from_str(raw).unwrap();
                assert_eq!(
                    serde_json::to_string(&spec).unwrap(),
                    raw,
                    "{}",
                    path.display()
                );
                seen += 1;
                keyed += usize::from(!spec.dev_from_train.is_empty());
            }
        }
        assert!(
            seen > 0 && keyed > 0,
            "{seen} records, {keyed} with dev_from_train"
        );
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

    #[test]
    fn tuned_methods_read_their_file_or_wait_for_it() {
        let dir = std::env::temp_dir().join(format!("lrdist-tuned-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let choice = dir.join("forget.yaml");
        let config = dir.join("pair.yaml");
        std::fs::write(
            &config,
            format!(
                "name: pair\nscenario: {{kind: pair, first: sst2, second: mrpc}}\nscales: {{}}\n\
                 scale_methods:\n  forget:\n    - {{name: flat, distribution: flat:base}}\n    \
                 - {{name: ewc, tuned: {}}}\n",
                choice.display()
            ),
        )
        .unwrap();
        let c = ExperimentConfig::from_file(&config).unwrap();
        assert!(c.method("forget", "ewc").is_none());
        assert_eq!(
            c.pending_at("forget"),
            &[("ewc".to_string(), choice.clone())]
        );
        assert!(c.pending_at("quick").is_empty());

        let ewc = MethodSpec {
            name: "ewc".into(),
            distribution: "flat:base".into(),
            penalty: Some(PenaltySpec::Ewc {
                lambda: 1e5,
                fisher_rows: 256,
            }),
            intervention: None,
        };
        TuningChoice {
            tuning: "experiments/tuning.yaml".into(),
            scale: "forget".into(),
            objective: "test".into(),
            settings: vec!["pair".into()],
            seeds: vec![0],
            methods: vec![ewc.clone()],
            scores: vec![],
        }
        .write(&choice)
        .unwrap();
        let c = ExperimentConfig::from_file(&config).unwrap();
        assert_eq!(c.method("forget", "ewc"), Some(&ewc));
        assert!(c.pending_at("forget").is_empty());

        // A name the file does not hold is an error naming both.
        std::fs::write(
            &config,
            std::fs::read_to_string(&config)
                .unwrap()
                .replace("name: ewc", "name: l2sp"),
        )
        .unwrap();
        let err = format!("{:#}", ExperimentConfig::from_file(&config).unwrap_err());
        assert!(err.contains("l2sp") && err.contains("forget.yaml"), "{err}");
        // A tuned entry with anything else in it is refused, not silently half-read.
        std::fs::write(
            &config,
            std::fs::read_to_string(&config)
                .unwrap()
                .replace("name: l2sp,", "name: l2sp, distribution: flat:base,"),
        )
        .unwrap();
        assert!(ExperimentConfig::from_file(&config).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn single_task_sequences_are_rejected() {
        let s = ScenarioSpec::Sequence {
            tasks: vec![GlueTask::Rte.into()],
        };
        assert!(s.validate().is_err());
    }

    /// A file task as task A or B of a config: its name labels the scenario, its data
    /// selection is the scale's caps, and its stage-1 identity follows its files' contents.
    #[test]
    fn file_tasks_name_scenarios_and_their_contents_name_stage_1() {
        let dir = tempfile::tempdir().unwrap();
        let (train, dev) = (dir.path().join("train.csv"), dir.path().join("dev.jsonl"));
        std::fs::write(&train, "review,stars\ngood,5\nbad,1\n").unwrap();
        std::fs::write(&dev, "{\"review\": \"ok\", \"stars\": 5}\n").unwrap();
        let yaml = format!(
            "kind: pair\nfirst: {{name: reviews, train: {}, dev: {}, text: review, label: stars}}\n\
             second: mrpc\n",
            train.display(),
            dev.display()
        );
        let s: ScenarioSpec = serde_yaml::from_str(&yaml).unwrap();
        s.validate().unwrap();
        assert_eq!(s.label(), "reviews->mrpc");
        assert!(s.uses_glue());
        let first = s.tasks()[0].clone();
        assert_eq!(first.file().unwrap().label, "stars");
        let mut scale = ScaleSpec::builtin("quick").unwrap();
        scale.train_rows.insert(GlueTask::Mrpc.into(), 10);
        scale.dev_from_train.insert(GlueTask::Mrpc.into(), 10);
        let spec = scale.data_spec(&first);
        assert_eq!(
            (spec.max_train, spec.max_dev, spec.dev_from_train),
            (Some(1000), Some(400), None)
        );

        let identity = s.stage1_identity().unwrap();
        assert!(identity.starts_with("reviews@"), "{identity}");
        assert_eq!(s.stage1_identity().unwrap(), identity);
        let digests = s.file_digests().unwrap();
        std::fs::write(&dev, "{\"review\": \"ok\", \"stars\": 1}\n").unwrap();
        assert_ne!(s.stage1_identity().unwrap(), identity, "a dev file edited");
        assert_ne!(s.file_digests().unwrap(), digests);
        let shift = ScenarioSpec::LengthShift {
            task: first.clone(),
        };
        assert!(shift
            .stage1_identity()
            .unwrap()
            .starts_with("length-shift:reviews@"));
        // Two different file tasks of one name would share records and folders.
        let mut other = first.file().unwrap().clone();
        other.label = "score".into();
        let clash = ScenarioSpec::Pair {
            first,
            second: TaskSpec::File(other),
        };
        let err = clash.validate().unwrap_err().to_string();
        assert!(
            err.contains("two different file tasks are named `reviews`"),
            "{err}"
        );
    }
}
