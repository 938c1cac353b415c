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
use lrdist_data::GlueTask;
use serde::{Deserialize, Serialize};

use crate::config::{ScaleSpec, ScenarioSpec};
use crate::runner::RunRequest;

/// `experiments/calibration.yaml`: the tasks, the rate grid and the seeds of a calibration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The scales, as in the experiment configs (the stage settings of task A there).
    pub scales: BTreeMap<String, ScaleSpec>,
    pub tasks: Vec<GlueTask>,
    /// Flat rates to try.
    pub rates: Vec<f64>,
    pub seeds: Vec<u64>,
}

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
        Ok(cfg)
    }

    /// One request per task x rate x seed at scale `scale`, task by task (so a partial
    /// calibration has whole tasks), for `only` of the config's tasks (all when empty).
    /// `config` is recorded as the runs' config file.
    pub fn requests(
        &self,
        scale: &str,
        only: &[GlueTask],
        config: &Path,
    ) -> Result<Vec<RunRequest>> {
        if let Some(t) = only.iter().find(|t| !self.tasks.contains(t)) {
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
        let mut out = Vec::new();
        for &task in self
            .tasks
            .iter()
            .filter(|t| only.is_empty() || only.contains(t))
        {
            for &rate in &self.rates {
                for &seed in &self.seeds {
                    let flat = format!("flat:{rate:e}");
                    let mut req = RunRequest::new(
                        ScenarioSpec::Single { task: task.into() },
                        scale,
                        spec.clone(),
                        &flat,
                        &flat,
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
        assert_eq!(r.stage1_distribution, r.distribution);
        assert_eq!(r.scenario.num_stages(), 1);
        assert!(cfg.requests("nope", &[], Path::new(CONFIG)).is_err());
        let one = cfg
            .requests("forget", &[GlueTask::Rte], Path::new(CONFIG))
            .unwrap();
        assert_eq!(one.len(), cfg.rates.len() * cfg.seeds.len());
        assert!(cfg
            .requests("forget", &[GlueTask::Wnli], Path::new(CONFIG))
            .is_err());
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
