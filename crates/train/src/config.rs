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
use lrdist_data::{FileDigests, FileTask, TaskSpec};
use lrdist_model::HeadKind;
use lrdist_optimizer::{DistributionSpec, GroupingSpec};
use serde::{Deserialize, Serialize};

pub use lrdist_record::{Intervention, PenaltySpec, ScaleSpec, PAPER_FLAT_RATE};

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
    /// Per scale, the seeds added to a method the seed rule asks more of (docs/METHOD.md,
    /// "Seeds"; [`lrdist_record::needs_more_seeds`]), and to flat for the pairing:
    /// `more_seeds: {forget: [3, 4]}`. Decided by `run --all` once `seeds` are recorded.
    pub more_seeds: BTreeMap<String, Vec<u64>>,
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
    #[serde(default)]
    more_seeds: BTreeMap<String, Vec<u64>>,
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
        check_more_seeds(&raw.seeds, &raw.more_seeds, &raw.scales)
            .with_context(|| format!("config {}", path.display()))?;
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
            more_seeds: raw.more_seeds,
        })
    }

    /// The seeds the seed rule may add at scale `scale` (none when the file names none).
    pub fn more_seeds_at(&self, scale: &str) -> &[u64] {
        self.more_seeds.get(scale).map(Vec::as_slice).unwrap_or(&[])
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
        let distribution = m.distribution.with_base(spec.flat_rate())?;
        let mut req = RunRequest::new(
            self.scenario.clone(),
            scale,
            spec,
            &m.name,
            distribution,
            seed,
        );
        req.penalty = m.penalty.clone();
        req.intervention = m.intervention.clone();
        req.config_file = Some(config_file.display().to_string());
        Ok(req)
    }
}

/// `more_seeds` names scales of the file, after `seeds` to decide by, and seeds that
/// neither repeat nor are among `seeds`.
fn check_more_seeds(
    seeds: &[u64],
    more: &BTreeMap<String, Vec<u64>>,
    scales: &BTreeMap<String, ScaleSpec>,
) -> Result<()> {
    for (scale, extra) in more {
        if !scales.contains_key(scale) {
            bail!(
                "`more_seeds` names scale `{scale}`, which the file does not define (it has: {})",
                scales.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if seeds.len() < 2 {
            bail!(
                "`more_seeds` needs at least two `seeds` first: the seed rule compares their \
                 spread with the difference to flat (docs/METHOD.md, \"Seeds\")"
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in extra {
            if seeds.contains(s) || !seen.insert(s) {
                bail!("`more_seeds` of scale `{scale}` repeats seed {s}");
            }
        }
    }
    Ok(())
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

/// A method: a label, a learning-rate distribution (preset or file) and a penalty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    pub name: String,
    /// A preset, `flat-matched:SPEC` or a file; a preset's rate may be `base`, the scale's
    /// base rate ([`DistributionSpec::with_base`]).
    pub distribution: DistributionSpec,
    #[serde(default)]
    pub penalty: Option<PenaltySpec>,
    /// A change to stage B beyond its rates and penalty (WiSE-FT, freezing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervention: Option<Intervention>,
}

/// One run of the protocol, as [`crate::runner::Runner::run`] takes it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRequest {
    pub scenario: ScenarioSpec,
    pub scale_name: String,
    pub scale: ScaleSpec,
    /// Label of the method in tables (`flat`, `combined`, `ewc`, ...).
    pub method: String,
    /// The rates: a preset (`flat:2e-5`, `paper-combined`, ...) or a distribution file, or
    /// a search trial's explicit rates.
    pub distribution: RunDistribution,
    /// How depths map to the distribution's groups (`per-layer`, `paper10`, `even:K`).
    pub grouping: GroupingSpec,
    pub penalty: Option<PenaltySpec>,
    /// WiSE-FT or freezing (a baseline's change to stage B beyond rates and penalty).
    #[serde(default)]
    pub intervention: Option<Intervention>,
    pub seed: u64,
    pub config_file: Option<String>,
    /// Apply the distribution to stage 2 only; stage 1 is trained with
    /// `stage1_distribution` (per layer) once and cached (search issue, "Stage-1 cache").
    pub stage2_only: bool,
    pub stage1_distribution: DistributionSpec,
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
    /// Store stage B in the stage-2 cache (or restore it from there) for a WiSE-FT run of
    /// the same batch, which trains the same stage B ([`crate::runner::share_stage_b`]).
    /// Changes no number of this run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub store_stage_b: bool,
}

/// The rates a run trains with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RunDistribution {
    /// A distribution spec, resolved against the model under the request's grouping.
    Spec(DistributionSpec),
    /// One rate per group of the request's grouping (a search trial), named by `label`
    /// in records (`search trial 3`).
    Rates { label: String, rates: Vec<f64> },
}

impl std::fmt::Display for RunDistribution {
    /// What a record names the rates by (its `distribution_spec`): the spec as given, or
    /// the label.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunDistribution::Spec(spec) => spec.fmt(f),
            RunDistribution::Rates { label, .. } => f.write_str(label),
        }
    }
}

impl From<DistributionSpec> for RunDistribution {
    fn from(spec: DistributionSpec) -> Self {
        RunDistribution::Spec(spec)
    }
}

impl RunRequest {
    /// A request with the paper's defaults: per-layer groups, no penalty, stage 1 (when
    /// `stage2_only`) flat at the scale's rate.
    pub fn new(
        scenario: ScenarioSpec,
        scale_name: &str,
        scale: ScaleSpec,
        method: &str,
        distribution: impl Into<RunDistribution>,
        seed: u64,
    ) -> Self {
        Self {
            scenario,
            scale_name: scale_name.into(),
            method: method.into(),
            distribution: distribution.into(),
            grouping: GroupingSpec::default(),
            penalty: None,
            intervention: None,
            seed,
            config_file: None,
            stage2_only: scale.stage2_only,
            stage1_distribution: DistributionSpec::flat(scale.flat_rate()),
            attribute: false,
            head: HeadKind::Cls,
            save: None,
            store_stage_b: false,
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
    fn more_seeds_name_a_scale_of_the_file_and_new_seeds() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("pair.yaml");
        let with = |more: &str, seeds: &str| {
            std::fs::write(
                &config,
                format!(
                    "name: pair\nscenario: {{kind: pair, first: sst2, second: mrpc}}\n\
                     scales:\n  forget: {{max_train: 10, epochs: 1, batch_size: 8, \
                     max_len: 32}}\nseeds: {seeds}\nmore_seeds: {more}\n"
                ),
            )
            .unwrap();
            ExperimentConfig::from_file(&config).map_err(|e| format!("{e:#}"))
        };
        let ok = with("{forget: [3, 4]}", "[0, 1, 2]").unwrap();
        assert_eq!(ok.more_seeds_at("forget"), [3, 4]);
        assert!(ok.more_seeds_at("quick").is_empty());
        let err = with("{quick: [3]}", "[0, 1, 2]").unwrap_err();
        assert!(
            err.contains("`quick`, which the file does not define"),
            "{err}"
        );
        let err = with("{forget: [2, 3]}", "[0, 1, 2]").unwrap_err();
        assert!(
            err.contains("repeats seed 2") && err.contains("pair.yaml"),
            "{err}"
        );
        let err = with("{forget: [3, 3]}", "[0, 1, 2]").unwrap_err();
        assert!(err.contains("repeats seed 3"), "{err}");
        let err = with("{forget: [3]}", "[0]").unwrap_err();
        assert!(err.contains("at least two `seeds`"), "{err}");
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
            distribution: "flat:base".parse().unwrap(),
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
