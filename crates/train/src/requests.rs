//! Which runs a command asks for: the scale with its overrides (`NAME+FLAG=VALUE`), the
//! requests of `lrdist run` (a scenario named by flags or an experiment config, one of its
//! methods, or every method and seed of it with `--all`) and the pair of `lrdist demo`.
//! The CLI parses its flags into the option structs here; what they mean is decided here.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lrdist_data::{FileTask, GlueTask, TaskSpec};
use lrdist_model::HeadKind;
use lrdist_optimizer::{DistributionSpec, GroupingSpec};

use crate::config::{ExperimentConfig, PenaltySpec, RunRequest, ScaleSpec, ScenarioSpec};

/// The scale of `run` and `search` when none is named.
pub const DEFAULT_SCALE: &str = "quick";

/// The pair of `demo` when neither --first, --second nor --config names one.
pub const DEMO_PAIR: [&str; 2] = ["sst2", "mrpc"];

/// A scale named by the user (built in or from a config) and the fields it overrides.
#[derive(Clone, Debug, Default)]
pub struct ScaleChoice {
    /// The scale's name [default: [`DEFAULT_SCALE`]; `finetune`: [`finetune_base`]].
    pub scale: Option<String>,
    pub max_train: Option<usize>,
    pub stage_b_train: Option<usize>,
    pub max_dev: Option<usize>,
    pub dev_from_train: Option<usize>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub max_len: Option<usize>,
    pub weight_decay: Option<f64>,
    pub clip_norm: Option<f64>,
    pub no_bucketing: bool,
}

impl ScaleChoice {
    /// The named scale (`--scale`, else [`DEFAULT_SCALE`]).
    pub fn name(&self) -> &str {
        self.scale.as_deref().unwrap_or(DEFAULT_SCALE)
    }

    /// The scale before overrides: from `config`, else built in.
    fn base(&self, config: Option<&ExperimentConfig>) -> Result<ScaleSpec> {
        match config {
            Some(c) => c.scale(self.name()),
            None => ScaleSpec::builtin(self.name()),
        }
    }

    /// The scale and the name it is recorded under: the named one with the overrides
    /// applied; `NAME+flag=value,...` when they change it.
    pub fn resolve_named(&self, config: Option<&ExperimentConfig>) -> Result<(String, ScaleSpec)> {
        let base = self.base(config)?;
        let resolved = self.apply(base.clone());
        let name = if resolved == base {
            self.name().to_string()
        } else {
            format!("{}+{}", self.name(), self.overrides().join(","))
        };
        Ok((name, resolved))
    }

    /// `finetune`'s scale: the named one if `--scale` is given, else [`finetune_base`];
    /// then the overrides.
    pub fn resolve_finetune(&self) -> Result<ScaleSpec> {
        let base = match &self.scale {
            Some(_) => self.base(None)?,
            None => finetune_base(),
        };
        Ok(self.apply(base))
    }

    /// The override flags given, as `flag=value`.
    fn overrides(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut add = |flag: &str, v: Option<String>| {
            if let Some(v) = v {
                out.push(format!("{flag}={v}"));
            }
        };
        add("max-train", self.max_train.map(|v| v.to_string()));
        add("stage-b-train", self.stage_b_train.map(|v| v.to_string()));
        add("max-dev", self.max_dev.map(|v| v.to_string()));
        add("dev-from-train", self.dev_from_train.map(|v| v.to_string()));
        add("epochs", self.epochs.map(|v| v.to_string()));
        add("batch-size", self.batch_size.map(|v| v.to_string()));
        add("max-len", self.max_len.map(|v| v.to_string()));
        add("weight-decay", self.weight_decay.map(|v| v.to_string()));
        add("clip-norm", self.clip_norm.map(|v| v.to_string()));
        add(
            "no-bucketing",
            self.no_bucketing.then(|| "true".to_string()),
        );
        out
    }

    /// `s` with the overrides applied.
    fn apply(&self, mut s: ScaleSpec) -> ScaleSpec {
        if self.max_train.is_some() {
            s.max_train = self.max_train;
        }
        if self.stage_b_train.is_some() {
            s.stage_b_train = self.stage_b_train;
        }
        if self.max_dev.is_some() {
            s.max_dev = self.max_dev;
        }
        if let Some(n) = self.dev_from_train {
            for t in GlueTask::all() {
                s.dev_from_train.insert(t.into(), n);
            }
        }
        s.epochs = self.epochs.unwrap_or(s.epochs);
        s.batch_size = self.batch_size.unwrap_or(s.batch_size);
        s.max_len = self.max_len.unwrap_or(s.max_len);
        s.weight_decay = self.weight_decay.unwrap_or(s.weight_decay);
        if self.clip_norm.is_some() {
            s.clip_norm = self.clip_norm;
        }
        if self.no_bucketing {
            s.bucketing = false;
        }
        s
    }
}

/// `finetune`'s base when no `--scale` is given: all rows, 3 epochs, batch 8.
/// Measured on SST-2, 2000 rows, 1 epoch, flat 1e-4: batch 8 → 0.813 dev accuracy,
/// batch 16 → 0.795, batch 32 → 0.798 (few steps for MiniLM's untrained [CLS] head).
pub fn finetune_base() -> ScaleSpec {
    let mut s = ScaleSpec::builtin("quick").expect("built-in scale");
    s.max_train = None;
    s.max_dev = None;
    s.epochs = 3;
    s.batch_size = 8;
    s
}

/// The `model:` field of the experiment config at `config`, if one is given and names one.
pub fn config_model(config: Option<&Path>) -> Result<Option<PathBuf>> {
    Ok(match config {
        Some(path) => ExperimentConfig::from_file(path)?.model,
        None => None,
    })
}

/// A run of `run --all` that cannot start yet: its method reads a file that does not
/// exist yet (its tuning choice, `make tune`; or its distribution, e.g. the combination
/// before the searches end).
#[derive(Clone, Debug, PartialEq)]
pub struct WaitingRun {
    /// The config's name.
    pub config: String,
    pub method: String,
    pub seed: u64,
    /// The missing file.
    pub file: PathBuf,
    /// Whether `file` is the method's tuning choice (else its distribution).
    pub tuned: bool,
}

impl std::fmt::Display for WaitingRun {
    /// The message `run --all` prints for a method it skips.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.tuned {
            true => write!(
                f,
                "{}: method {} skipped: its tuning file {} does not exist yet (`make tune`)",
                self.config,
                self.method,
                self.file.display()
            ),
            false => write!(
                f,
                "{}: method {} skipped: {} does not exist yet",
                self.config,
                self.method,
                self.file.display()
            ),
        }
    }
}

/// What `lrdist run` was asked for.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Experiment config: scenario, scales, methods.
    pub config: Option<PathBuf>,
    /// Task A and task B, each a GLUE task or the name of `file`.
    pub first: Option<String>,
    pub second: Option<String>,
    /// A sequence of tasks, named as `first`.
    pub tasks: Vec<String>,
    /// `embedding-shift:TASK` or `length-shift:TASK`.
    pub scenario: Option<String>,
    /// The task of `--train`/`--dev`, checked.
    pub file: Option<FileTask>,
    /// The distribution [default: the scale's flat rate, or the method's].
    pub distribution: Option<DistributionSpec>,
    /// With a config: one of its methods; otherwise the run's label.
    pub method: Option<String>,
    pub grouping: GroupingSpec,
    pub penalty: Option<PenaltySpec>,
    pub seed: u64,
    pub stage2_only: bool,
    pub attribute: bool,
    /// Every method x seed of the config.
    pub all: bool,
    /// With `all`: only these methods.
    pub methods: Vec<String>,
    pub head: HeadKind,
    pub save: Option<PathBuf>,
    pub scale: ScaleChoice,
}

impl RunOptions {
    /// The `model:` field of the config, if any.
    pub fn config_model(&self) -> Result<Option<PathBuf>> {
        config_model(self.config.as_deref())
    }

    /// The requests: one, or with `all` one per method x seed of the config. A method
    /// waiting for its tuning or distribution file is skipped, said on stderr.
    pub fn requests(&self) -> Result<Vec<RunRequest>> {
        let (reqs, waiting) = self.requests_and_waiting()?;
        let mut said = std::collections::BTreeSet::new();
        for w in &waiting {
            if said.insert(&w.method) {
                eprintln!("{w}");
            }
        }
        Ok(reqs)
    }

    /// [`RunOptions::requests`], and (with `all` and no `methods`) the method x seed runs
    /// of the config that wait for a file (its tuning choice, or its distribution) that
    /// does not exist yet.
    pub fn requests_and_waiting(&self) -> Result<(Vec<RunRequest>, Vec<WaitingRun>)> {
        if self.all && self.save.is_some() {
            bail!("--save writes the model of one run: give it without --all");
        }
        if !self.all {
            return Ok((vec![self.request()?], Vec::new()));
        }
        let config = ExperimentConfig::from_file(
            self.config
                .as_deref()
                .context("--all runs the methods of a config: give --config FILE")?,
        )?;
        let seeds = if config.seeds.is_empty() {
            vec![self.seed]
        } else {
            config.seeds.clone()
        };
        let scale = self.scale.name();
        if let Some(unknown) = self
            .methods
            .iter()
            .find(|m| config.method(scale, m).is_none())
        {
            bail!(no_such_method(&config, scale, unknown));
        }
        let mut waiting = Vec::new();
        let mut wait = |method: &str, file: &Path, tuned: bool| {
            for &seed in &seeds {
                waiting.push(WaitingRun {
                    config: config.name.clone(),
                    method: method.to_string(),
                    seed,
                    file: file.to_path_buf(),
                    tuned,
                });
            }
        };
        if self.methods.is_empty() {
            for (m, file) in config.pending_at(scale) {
                wait(m, file, true);
            }
        }
        // Without --methods, a method whose distribution file is not written yet (the
        // combination before the searches end) waits, said, rather than failing the batch.
        let mut chosen = Vec::new();
        for m in config
            .methods_at(scale)
            .iter()
            .filter(|m| self.methods.is_empty() || self.methods.contains(&m.name))
        {
            let files = m.distribution.files();
            match files.iter().find(|f| !f.exists()) {
                Some(missing) if self.methods.is_empty() => wait(&m.name, missing, false),
                _ => chosen.push(m),
            }
        }
        let mut out = Vec::new();
        for m in chosen {
            for &seed in &seeds {
                let mut req = self.request()?;
                req.method = m.name.clone();
                req.distribution = m.distribution.with_base(req.scale.flat_rate())?.into();
                req.penalty = m.penalty.clone();
                req.intervention = m.intervention.clone();
                req.seed = seed;
                out.push(req);
            }
        }
        Ok((out, waiting))
    }

    /// The one request the options name (without `all`).
    pub fn request(&self) -> Result<RunRequest> {
        let config = self
            .config
            .as_deref()
            .map(ExperimentConfig::from_file)
            .transpose()?;
        let file = self.file.as_ref();
        let task = |name: &str| resolve_task(name, file);
        let scenario = match (&config, &self.first, &self.second, &self.scenario) {
            (_, Some(a), Some(b), _) => ScenarioSpec::Pair { first: task(a)?, second: task(b)? },
            _ if !self.tasks.is_empty() => ScenarioSpec::Sequence {
                tasks: self.tasks.iter().map(|t| task(t)).collect::<Result<_>>()?,
            },
            (_, _, _, Some(s)) => parse_scenario(s, file)?,
            (Some(c), ..) => c.scenario.clone(),
            _ => bail!("say what to run: --first A --second B, --tasks a,b,c, --scenario KIND:TASK or --config FILE"),
        };
        require_named(
            file,
            &scenario.tasks(),
            "the run",
            "--first, --second, --tasks or --scenario",
        )?;
        scenario.validate()?;
        let (scale_name, scale) = self.scale.resolve_named(config.as_ref())?;
        let method_spec = match (&config, &self.method) {
            (Some(c), Some(m)) => Some(
                c.method(self.scale.name(), m)
                    .cloned()
                    .with_context(|| no_such_method(c, self.scale.name(), m))?,
            ),
            _ => None,
        };
        let (method, distribution, penalty, intervention) = match method_spec {
            Some(m) => {
                // A config method's name stands for its settings in every record and table:
                // runs with other settings under that name would be averaged with its runs.
                if let Some(flag) = [
                    self.distribution.as_ref().map(|_| "--distribution"),
                    self.penalty.as_ref().map(|_| "--penalty"),
                ]
                .into_iter()
                .flatten()
                .next()
                {
                    bail!(
                        "--method {} is a method of {} (its own distribution and penalty); {flag} would record other settings under its name. Drop --method (the run is then labelled by its distribution and penalty) or add a method to the config",
                        m.name,
                        self.config.as_deref().unwrap_or(Path::new("the config")).display()
                    );
                }
                (m.name, m.distribution, m.penalty, m.intervention)
            }
            None => {
                let d = self
                    .distribution
                    .clone()
                    .unwrap_or_else(|| DistributionSpec::flat(scale.flat_rate()));
                let label = self.method.clone().unwrap_or_else(|| match &self.penalty {
                    Some(p) => format!("{d}+{p}"),
                    None => d.to_string(),
                });
                (label, d, self.penalty.clone(), None)
            }
        };
        let distribution = distribution.with_base(scale.flat_rate())?;
        let mut req = RunRequest::new(
            scenario,
            &scale_name,
            scale,
            &method,
            distribution,
            self.seed,
        );
        req.grouping = self.grouping;
        req.penalty = penalty;
        req.intervention = intervention;
        req.stage2_only |= self.stage2_only;
        req.attribute = self.attribute;
        req.head = self.head;
        req.save = self.save.clone();
        req.config_file = self.config.as_ref().map(|p| p.display().to_string());
        Ok(req)
    }
}

/// What `lrdist demo` was asked for.
#[derive(Clone, Debug, Default)]
pub struct DemoOptions {
    /// A built-in scale, or with `config` one of its scales.
    pub scale: String,
    /// Task A and B, GLUE tasks or the name of `file` [default: [`DEMO_PAIR`]].
    pub first: Option<String>,
    pub second: Option<String>,
    pub file: Option<FileTask>,
    /// An experiment file whose pair and scales the demo runs.
    pub config: Option<PathBuf>,
    pub seed: u64,
}

impl DemoOptions {
    /// The `model:` field of the config, if any.
    pub fn config_model(&self) -> Result<Option<PathBuf>> {
        config_model(self.config.as_deref())
    }

    /// The pair the demo runs and its scale: the config's pair and scale `scale`, else
    /// `first` and `second` (tasks named as `run --first` names them) at the built-in scale.
    pub fn pair(&self) -> Result<(ScenarioSpec, ScaleSpec)> {
        if let Some(path) = &self.config {
            let config = ExperimentConfig::from_file(path)?;
            let ScenarioSpec::Pair { .. } = &config.scenario else {
                bail!(
                    "the demo runs a pair, and config {} has a {} scenario ({})",
                    path.display(),
                    config.scenario.kind(),
                    config.scenario.label()
                );
            };
            return Ok((config.scenario.clone(), config.scale(&self.scale)?));
        }
        let file = self.file.as_ref();
        let task = |name: &Option<String>, default: &str| {
            resolve_task(name.as_deref().unwrap_or(default), file)
        };
        let pair = ScenarioSpec::Pair {
            first: task(&self.first, DEMO_PAIR[0])?,
            second: task(&self.second, DEMO_PAIR[1])?,
        };
        require_named(file, &pair.tasks(), "the demo", "--first or --second")?;
        pair.validate()?;
        Ok((pair, ScaleSpec::builtin(&self.scale)?))
    }
}

/// `name` as a task: the task of `--train`/`--dev` (`file`) when it has that name, else the
/// GLUE task of that name.
pub fn resolve_task(name: &str, file: Option<&FileTask>) -> Result<TaskSpec> {
    if let Some(f) = file.filter(|f| f.name == name) {
        return Ok(TaskSpec::File(f.clone()));
    }
    name.parse::<GlueTask>()
        .map(TaskSpec::Glue)
        .map_err(|e| match file {
            Some(f) => anyhow::anyhow!("{e}, or `{}` (the --train task)", f.name),
            None => e.into(),
        })
}

/// `embedding-shift:TASK` or `length-shift:TASK` (TASK as [`resolve_task`] reads it).
pub fn parse_scenario(s: &str, file: Option<&FileTask>) -> Result<ScenarioSpec> {
    let (kind, task) = s
        .split_once(':')
        .context("scenario must look like embedding-shift:TASK or length-shift:TASK")?;
    let task = resolve_task(task, file)?;
    match kind {
        "embedding-shift" => Ok(ScenarioSpec::EmbeddingShift { task }),
        "length-shift" => Ok(ScenarioSpec::LengthShift { task }),
        other => bail!("unknown scenario kind `{other}` (embedding-shift, length-shift)"),
    }
}

/// Fails when the task of `--train`/`--dev` (`file`) is none of `tasks`, the tasks that
/// `what` (`the run`) trains on: a task given but never named is a mistake. `flags` says
/// where to name it.
pub fn require_named(
    file: Option<&FileTask>,
    tasks: &[TaskSpec],
    what: &str,
    flags: &str,
) -> Result<()> {
    if let Some(f) = file {
        if !tasks.iter().any(|t| t.file() == Some(f)) {
            bail!(
                "--train {} gives the task `{}`, which {what} does not name: name it in {flags}",
                f.train.display(),
                f.name
            );
        }
    }
    Ok(())
}

/// The error for a method name `config` does not define, listing the ones it does.
fn no_such_method(config: &ExperimentConfig, scale: &str, name: &str) -> String {
    if let Some((_, file)) = config.pending_at(scale).iter().find(|(m, _)| m == name) {
        return format!(
            "method `{name}` of config {} at scale {scale} takes its hyperparameters from {}, which does not exist yet: run the tuning first (`make tune`, or `lrdist tune`)",
            config.name,
            file.display()
        );
    }
    let names: Vec<&str> = config
        .methods_at(scale)
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    format!(
        "config {} has no method `{name}` at scale {scale} (it has: {})",
        config.name,
        names.join(", ")
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use lrdist_data::TaskKind;

    const CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/rte_sst2.yaml"
    );

    /// `run --config rte_sst2.yaml --all`, changed by `change`.
    fn all(change: impl FnOnce(&mut RunOptions)) -> RunOptions {
        let mut opts = RunOptions {
            config: Some(CONFIG.into()),
            all: true,
            ..Default::default()
        };
        change(&mut opts);
        opts
    }

    /// The task of `--train r/train.csv --dev r/dev.csv --task-name reviews`.
    pub(crate) fn own() -> FileTask {
        FileTask {
            name: "reviews".into(),
            train: "r/train.csv".into(),
            dev: "r/dev.csv".into(),
            text: lrdist_data::DEFAULT_TEXT_COLUMN.into(),
            text_pair: None,
            label: lrdist_data::DEFAULT_LABEL_COLUMN.into(),
            kind: TaskKind::Classification,
        }
    }

    #[test]
    fn all_runs_every_method_and_seed_of_the_config() {
        let reqs = all(|_| {}).requests().unwrap();
        let config = ExperimentConfig::from_file(CONFIG.as_ref()).unwrap();
        // Distribution files are relative to the working directory (the repository root
        // when make runs lrdist); from this crate's directory `combined`'s file is
        // missing, so `--all` skips it, said, instead of failing the batch.
        let waiting = config
            .methods
            .iter()
            .filter(|m| m.distribution.files().iter().any(|f| !f.exists()))
            .count();
        assert!(config.methods.iter().any(|m| m.name == "combined"));
        assert_eq!(waiting, 1);
        assert_eq!(
            reqs.len(),
            (config.methods.len() - waiting) * config.seeds.len()
        );
        assert!(reqs.iter().all(|r| r.method != "combined"));
        // Named with --methods, it is not skipped: the run itself reports the missing file.
        let named = all(|o| o.methods = vec!["combined".into()])
            .requests()
            .unwrap();
        assert_eq!(named.len(), config.seeds.len());
    }

    #[test]
    fn a_penalty_without_a_method_is_in_the_label() {
        let one = |change: &dyn Fn(&mut RunOptions)| {
            let mut o = all(|o| o.all = false);
            change(&mut o);
            o.request()
        };
        let l2sp = PenaltySpec::L2sp { alpha: 0.01 };
        let req = one(&|o| o.penalty = Some(l2sp.clone())).unwrap();
        assert_eq!(req.penalty, Some(l2sp.clone()));
        assert!(req.method.ends_with("+l2sp:0.01"), "{}", req.method);
        assert_eq!(req.method, format!("{}+l2sp:0.01", req.distribution));
        // A name given without a config method stays the label.
        let named = one(&|o| {
            o.penalty = Some(l2sp.clone());
            o.method = Some("mine".into());
            o.config = None;
            o.first = Some("rte".into());
            o.second = Some("sst2".into());
        })
        .unwrap();
        assert_eq!(
            (named.method.as_str(), named.penalty),
            ("mine", Some(l2sp.clone()))
        );
        // A config method's name is not given to other settings.
        let with_penalty = |o: &mut RunOptions| o.penalty = Some(PenaltySpec::L2sp { alpha: 0.01 });
        let with_distribution =
            |o: &mut RunOptions| o.distribution = Some("flat:1e-5".parse().unwrap());
        let changes: [&dyn Fn(&mut RunOptions); 2] = [&with_penalty, &with_distribution];
        for change in changes {
            let err = one(&|o| {
                change(o);
                o.method = Some("ewc".into());
            })
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("--method ewc") && err.contains("Drop --method"),
                "{err}"
            );
        }
        let ewc = one(&|o| o.method = Some("ewc".into())).unwrap();
        assert_eq!(ewc.method, "ewc");
    }

    #[test]
    fn methods_restricts_all_to_the_named_methods_in_config_order() {
        let reqs = all(|o| o.methods = vec!["l2sp".into(), "flat".into()])
            .requests()
            .unwrap();
        let got: Vec<(&str, u64)> = reqs.iter().map(|r| (r.method.as_str(), r.seed)).collect();
        assert_eq!(
            got,
            [
                ("flat", 0),
                ("flat", 1),
                ("flat", 2),
                ("l2sp", 0),
                ("l2sp", 1),
                ("l2sp", 2)
            ]
        );
        assert_eq!(reqs[3].penalty, Some(PenaltySpec::L2sp { alpha: 0.01 }));
    }

    #[test]
    fn methods_names_an_unknown_method_with_the_known_ones() {
        let err = all(|o| o.methods = vec!["flat".into(), "nope".into()])
            .requests()
            .unwrap_err()
            .to_string();
        assert!(err.contains("no method `nope`"), "{err}");
        assert!(err.contains("paper-combined"), "{err}");
    }

    #[test]
    fn the_configs_model_is_read_from_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.yaml");
        let text = std::fs::read_to_string(CONFIG).unwrap();
        std::fs::write(&cfg, format!("model: /models/bert-base\n{text}")).unwrap();
        assert_eq!(
            config_model(Some(&cfg)).unwrap(),
            Some(PathBuf::from("/models/bert-base"))
        );
        assert_eq!(config_model(Some(CONFIG.as_ref())).unwrap(), None);
        assert_eq!(config_model(None).unwrap(), None);
    }

    #[test]
    fn a_scale_override_is_recorded_under_its_own_scale_name() {
        let reqs = all(|o| o.scale.max_train = Some(2000)).requests().unwrap();
        assert_eq!(reqs[0].scale_name, "quick+max-train=2000");
        assert_eq!(reqs[0].scale.max_train, Some(2000));
        let same = all(|o| o.scale.max_train = Some(1000)).requests().unwrap();
        assert_eq!(
            same[0].scale_name, "quick",
            "an override equal to the scale changes nothing"
        );
        let b = all(|o| o.scale.stage_b_train = Some(4000))
            .requests()
            .unwrap();
        assert_eq!(b[0].scale_name, "quick+stage-b-train=4000");
        assert_eq!(b[0].scale.stage_b_train, Some(4000));
        assert_eq!(b[0].scale.max_train, Some(1000), "task A keeps its rows");
    }

    #[test]
    fn finetune_honours_scale() {
        let quick = ScaleChoice {
            scale: Some("quick".into()),
            ..Default::default()
        };
        assert_eq!(
            quick.resolve_finetune().unwrap(),
            ScaleSpec::builtin("quick").unwrap()
        );
        assert_eq!(
            ScaleChoice::default().resolve_finetune().unwrap(),
            finetune_base()
        );
    }

    #[test]
    fn head_and_save_reach_the_request_and_save_takes_one_run() {
        let pair = |change: &dyn Fn(&mut RunOptions)| {
            let mut opts = RunOptions {
                first: Some("sst2".into()),
                second: Some("mrpc".into()),
                ..Default::default()
            };
            change(&mut opts);
            opts.request().unwrap()
        };
        let req = pair(&|o| {
            o.head = HeadKind::Pooler;
            o.save = Some("out".into());
        });
        assert_eq!(
            (req.head, req.save),
            (HeadKind::Pooler, Some(PathBuf::from("out")))
        );
        let req = pair(&|_| {});
        assert_eq!((req.head, req.save), (HeadKind::Cls, None));
        assert_eq!(req.distribution.to_string(), "flat:2e-5");
        assert_eq!(req.method, "flat:2e-5");
        let err = all(|o| o.save = Some("out".into()))
            .requests()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--all"), "{err}");
    }

    #[test]
    fn demo_runs_sst2_mrpc_unless_told_and_takes_a_pair_of_your_own() {
        let demo = |change: &dyn Fn(&mut DemoOptions)| {
            let mut opts = DemoOptions {
                scale: DEFAULT_SCALE.into(),
                ..Default::default()
            };
            change(&mut opts);
            opts.pair()
        };
        let (scenario, scale) = demo(&|_| {}).unwrap();
        assert_eq!(
            scenario,
            ScenarioSpec::Pair {
                first: GlueTask::Sst2.into(),
                second: GlueTask::Mrpc.into()
            }
        );
        assert_eq!(scale, ScaleSpec::builtin("quick").unwrap());
        let (scenario, _) = demo(&|o| {
            o.file = Some(own());
            o.second = Some("reviews".into());
        })
        .unwrap();
        assert_eq!(scenario.label(), "sst2->reviews");
        assert_eq!(
            scenario.tasks()[1].file().unwrap().train,
            PathBuf::from("r/train.csv")
        );
        let err = demo(&|o| {
            o.file = Some(own());
            o.first = Some("rte".into());
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("which the demo does not name"),
            "{err}"
        );
        // An experiment file's pair and scale.
        let (scenario, scale) = demo(&|o| {
            o.config = Some(CONFIG.into());
            o.scale = "cpu".into();
        })
        .unwrap();
        let config = ExperimentConfig::from_file(CONFIG.as_ref()).unwrap();
        assert_eq!(
            (scenario, scale),
            (config.scenario.clone(), config.scale("cpu").unwrap())
        );
    }
}
