//! Calibrating a scale's flat rate (docs/METHOD.md, "Calibration").
//!
//! The paper's flat 2e-5 was tuned for BERT-base on full GLUE; MiniLM-L6 on a few thousand
//! rows barely moves at it. `lrdist calibrate` fine-tunes each task alone at the scale's
//! stage settings over a grid of flat rates and seeds, one run record per run, and
//! `paper/tables/calibration.md` picks the rate with the best mean dev score per task. The
//! runs use the stage-1 cache, so the run of task A at the chosen rate is the stage 1 that
//! every `--stage2-only` setting with that task A (same scale, same seed) restores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use lrdist_data::{FileTask, TaskName, TaskSpec};
use lrdist_optimizer::DistributionSpec;
use serde::{Deserialize, Serialize};

use crate::config::{RunRequest, ScaleSpec, ScenarioSpec};

/// `experiments/calibration.yaml`: the tasks, the rate grid and the seeds of a calibration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The scales, as in the experiment configs (the stage settings of task A there).
    pub scales: BTreeMap<String, ScaleSpec>,
    /// GLUE tasks by name, tasks of your own as `{name, train, dev, text, text_pair,
    /// label, kind}` (as in an experiment's scenario).
    pub tasks: Vec<TaskSpec>,
    /// Flat rates to try.
    pub rates: Vec<f64>,
    pub seeds: Vec<u64>,
}

/// The scale `lrdist calibrate` calibrates unless told (`--scale`): the forget regime's
/// (docs/METHOD.md, "The forget scale").
pub const DEFAULT_SCALE: &str = "forget";

impl CalibrationConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read calibration config {}", path.display()))?;
        let cfg: Self = serde_yaml::from_str(&text)
            .with_context(|| format!("invalid calibration config {}", path.display()))?;
        if cfg.tasks.is_empty() || cfg.rates.is_empty() || cfg.seeds.is_empty() {
            bail!(
                "{}: a calibration needs at least one task, rate and seed",
                path.display()
            );
        }
        if let Some(r) = cfg.rates.iter().find(|r| !r.is_finite() || **r <= 0.0) {
            bail!(
                "{}: rate {r} is not a positive learning rate",
                path.display()
            );
        }
        for (i, task) in cfg.tasks.iter().enumerate() {
            if cfg.tasks[..i].iter().any(|t| t.name() == task.name()) {
                bail!(
                    "{}: the task `{}` is listed twice (a task of your own needs a name of its own)",
                    path.display(),
                    task.name()
                );
            }
        }
        Ok(cfg)
    }

    /// Adds a task of your own (`lrdist calibrate --train FILE --dev FILE`) to the tasks;
    /// nothing when the config lists it already. A different task of the same name is an
    /// error.
    pub fn add_task(&mut self, task: FileTask) -> Result<()> {
        let task = TaskSpec::File(task);
        match self.tasks.iter().find(|t| t.name() == task.name()) {
            Some(t) if *t == task => Ok(()),
            Some(_) => bail!(
                "calibration {} already has a task named `{}`: give the --train task another \
                 --task-name",
                self.name,
                task.name()
            ),
            None => {
                self.tasks.push(task);
                Ok(())
            }
        }
    }

    /// One request per task x rate x seed at scale `scale`, task by task (so a partial
    /// calibration has whole tasks), for `only` of the config's tasks (all when empty).
    /// `config` is recorded as the runs' config file. The tasks the scale names
    /// (`train_rows`, `dev_from_train`) must be GLUE tasks or tasks of the calibration
    /// (checked here, once tasks given on the command line are added).
    pub fn requests(
        &self,
        scale: &str,
        only: &[TaskName],
        config: &Path,
    ) -> Result<Vec<RunRequest>> {
        let chosen = |t: &TaskSpec| only.is_empty() || only.iter().any(|n| n.names(t));
        if let Some(t) = only.iter().find(|n| !self.tasks.iter().any(|t| n.names(t))) {
            bail!(
                "calibration {} has no task {t} (it has: {})",
                self.name,
                self.tasks
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let spec = self.scales.get(scale).cloned().with_context(|| {
            format!(
                "calibration {} has no scale `{scale}` (it has: {})",
                self.name,
                self.scales.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        spec.check_task_names(
            &self.tasks,
            scale,
            &format!("calibration {} ({})", self.name, config.display()),
        )?;
        let mut out = Vec::new();
        for task in self.tasks.iter().filter(|t| chosen(t)) {
            for &rate in &self.rates {
                for &seed in &self.seeds {
                    let flat = DistributionSpec::flat(rate);
                    let mut req = RunRequest::new(
                        ScenarioSpec::Single { task: task.clone() },
                        scale,
                        spec.clone(),
                        flat.as_str(),
                        flat.clone(),
                        seed,
                    );
                    // Through the stage-1 cache, trained at the rate being tried.
                    req.stage2_only = true;
                    req.stage1_distribution = flat;
                    req.config_file = Some(config.display().to_string());
                    out.push(req);
                }
            }
        }
        Ok(out)
    }
}

/// `lrdist calibrate`'s requests: the config at `path` with the task of `--train`/`--dev`
/// (`file`) added, for the tasks of `only` (none: every task of the config, or the added
/// task alone), at scale `scale`.
pub fn requests_for(
    path: &Path,
    scale: &str,
    only: &[TaskName],
    file: Option<FileTask>,
) -> Result<Vec<RunRequest>> {
    let mut cfg = CalibrationConfig::from_file(path)?;
    let mut only = only.to_vec();
    if let Some(file) = file {
        if only.is_empty() {
            only.push(TaskName::of(&TaskSpec::File(file.clone())));
        }
        cfg.add_task(file)?;
    }
    cfg.requests(scale, &only, path)
}

/// Where a calibration run's records go: `RESULTS/calibration/<scale>-<task>.jsonl` (one
/// file per task, so parallel workers on different tasks never share a file).
pub fn record_path(results: &Path, req: &RunRequest) -> PathBuf {
    let task = req.scenario.label();
    results
        .join("calibration")
        .join(format!("{}-{task}.jsonl", req.scale_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RunDistribution;
    use lrdist_data::GlueTask;

    const CONFIG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../experiments/calibration.yaml"
    );

    #[test]
    fn the_committed_calibration_covers_the_required_grid() {
        let cfg = CalibrationConfig::from_file(Path::new(CONFIG)).unwrap();
        for r in [2e-5, 5e-5, 1e-4, 2e-4] {
            assert!(cfg.rates.contains(&r), "rate {r} missing");
        }
        assert!(cfg.seeds.len() >= 2);
        let reqs = cfg.requests("forget", &[], Path::new(CONFIG)).unwrap();
        assert_eq!(
            reqs.len(),
            cfg.tasks.len() * cfg.rates.len() * cfg.seeds.len()
        );
        let r = &reqs[0];
        assert!(r.stage2_only);
        assert_eq!(
            RunDistribution::Spec(r.stage1_distribution.clone()),
            r.distribution
        );
        assert_eq!(r.scenario.num_stages(), 1);
        assert!(cfg.requests("nope", &[], Path::new(CONFIG)).is_err());
        let one = cfg
            .requests("forget", &[GlueTask::Rte.into()], Path::new(CONFIG))
            .unwrap();
        assert_eq!(one.len(), cfg.rates.len() * cfg.seeds.len());
        assert!(cfg
            .requests("forget", &[GlueTask::Wnli.into()], Path::new(CONFIG))
            .is_err());
    }

    /// `lrdist calibrate --train/--dev` adds the task and runs it alone unless `--tasks`
    /// names others.
    #[test]
    fn calibrate_adds_a_task_of_your_own_and_runs_it_alone_unless_told() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cal.yaml");
        std::fs::write(
            &config,
            "name: cal\nscales:\n  tiny: {max_train: 8, max_dev: 8, epochs: 1, batch_size: 4}\n\
             tasks: [sst2, rte]\nrates: [1.0e-4, 2.0e-4]\nseeds: [0]\n",
        )
        .unwrap();
        let own = crate::requests::tests::own();
        let tasks = |only: &[&str], file: Option<FileTask>| {
            let only: Vec<TaskName> = only.iter().map(|t| t.parse().unwrap()).collect();
            let mut names: Vec<String> = requests_for(&config, "tiny", &only, file)
                .unwrap()
                .iter()
                .map(|r| r.scenario.label())
                .collect();
            names.dedup();
            names
        };
        assert_eq!(tasks(&[], None), ["sst2", "rte"]);
        assert_eq!(tasks(&["RTE"], None), ["rte"]);
        assert_eq!(tasks(&[], Some(own.clone())), ["reviews"]);
        assert_eq!(tasks(&["reviews", "sst2"], Some(own)), ["sst2", "reviews"]);
    }

    /// A task of your own is calibrated like a GLUE task: listed in the config (by its
    /// fields) or added by `--train`/`--dev`, selected by its name, one single-task run per
    /// rate and seed whose records go to `<scale>-<name>.jsonl`.
    #[test]
    fn a_task_of_your_own_is_calibrated_by_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cal.yaml");
        let write = |tasks: &str| {
            std::fs::write(
                &path,
                format!(
                    "name: cal\nscales:\n  tiny: {{max_train: 64, max_dev: 32, epochs: 1, \
                     batch_size: 8, dev_from_train: {{reviews: 16}}}}\ntasks: {tasks}\n\
                     rates: [1.0e-4, 2.0e-4]\nseeds: [0]\n"
                ),
            )
            .unwrap();
            CalibrationConfig::from_file(&path)
        };
        let reviews = "{name: reviews, train: t.csv, dev: d.csv, text: review}";
        let cfg = write(&format!("[sst2, {reviews}]")).unwrap();
        let own: TaskName = "reviews".parse().unwrap();
        let reqs = cfg
            .requests("tiny", std::slice::from_ref(&own), &path)
            .unwrap();
        assert_eq!(reqs.len(), 2);
        let task = reqs[0].scenario.tasks()[0].clone();
        assert_eq!(task.file().unwrap().text, "review");
        assert_eq!(reqs[0].scale.data_spec(&task).dev_from_train, Some(16));
        assert_eq!(
            record_path(Path::new("results"), &reqs[0]),
            Path::new("results/calibration/tiny-reviews.jsonl")
        );
        assert_eq!(cfg.requests("tiny", &[], &path).unwrap().len(), 4);

        // Added from the command line: once, and not twice under one name. The scale names
        // it before it is added, which only the requests check.
        let mut cfg = write("[sst2]").unwrap();
        let err = format!("{:#}", cfg.requests("tiny", &[], &path).unwrap_err());
        assert!(
            err.contains("`dev_from_train` names `reviews`, which is neither a GLUE task"),
            "{err}"
        );
        assert!(cfg
            .requests("tiny", std::slice::from_ref(&own), &path)
            .is_err());
        let file = task.file().unwrap().clone();
        cfg.add_task(file.clone()).unwrap();
        cfg.add_task(file.clone()).unwrap();
        assert_eq!(cfg.requests("tiny", &[own], &path).unwrap().len(), 2);
        let mut other = file;
        other.label = "stars".into();
        let err = cfg.add_task(other).unwrap_err().to_string();
        assert!(err.contains("already has a task named `reviews`"), "{err}");

        let err = format!(
            "{:#}",
            write(&format!("[{reviews}, {reviews}]")).unwrap_err()
        );
        assert!(err.contains("`reviews` is listed twice"), "{err}");
    }

    /// Every experiment's `forget` scale trains task A exactly as the calibration does,
    /// so the calibrated rate applies to it and the calibration's runs are its stage 1.
    #[test]
    fn every_forget_scale_trains_task_a_as_the_calibration() {
        let cal = CalibrationConfig::from_file(Path::new(CONFIG)).unwrap();
        let base = &cal.scales["forget"];
        let dir = Path::new(CONFIG).parent().unwrap();
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            // calibration.yaml and tuning.yaml are not experiment configs.
            let other =
                path == Path::new(CONFIG) || path.file_name().is_some_and(|n| n == "tuning.yaml");
            if other || path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let cfg = crate::ExperimentConfig::from_file(&path).unwrap();
            let Ok(s) = cfg.scale("forget") else { continue };
            seen += 1;
            let a = cfg.scenario.tasks()[0].clone();
            let name = path.display();
            assert_eq!(s.data_spec(&a), base.data_spec(&a), "{name}: task A rows");
            assert_eq!(
                (s.epochs, s.batch_size, s.max_len, s.eval_batch_size),
                (
                    base.epochs,
                    base.batch_size,
                    base.max_len,
                    base.eval_batch_size
                ),
                "{name}"
            );
            assert_eq!(
                (s.warmup_frac, s.weight_decay, s.clip_norm, s.bucketing),
                (
                    base.warmup_frac,
                    base.weight_decay,
                    base.clip_norm,
                    base.bucketing
                ),
                "{name}"
            );
            assert!(s.stage2_only, "{name}: the forget protocol is stage-2-only");
        }
        assert!(seen >= 20, "only {seen} configs have a forget scale");
    }
}
