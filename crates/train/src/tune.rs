//! Tuning the baselines' hyperparameters (docs/METHOD.md, "Baselines" and "Tuning the
//! baselines").
//!
//! A searched distribution is chosen on the searched settings; a baseline's one
//! hyperparameter (LLRD's decay, EWC's lambda, L2-SP's alpha, WiSE-FT's alpha, the number of
//! layers `freeze` trains) is chosen the same way, on the same settings only and never on a
//! held-out one, with the search's objective p_o + p_s. `experiments/tuning.yaml` lists the
//! settings, the seeds and each baseline's grid, one method per grid point named
//! `<baseline>@<value>`; `lrdist tune` runs what has no record yet (one record file per
//! setting under `results/tuning/<scale>/`) and, once every run is there, writes the choice
//! (the highest mean objective over settings x seeds per baseline) to
//! `results/tuning/<scale>.yaml`. The experiment configs name a tuned baseline as
//! `{name: ewc, tuned: results/tuning/forget.yaml}`, so its hyperparameters live in that
//! one file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{ExperimentConfig, MethodSpec, RunRequest};
use crate::record::RunRecord;
use crate::runner::Runner;

// The choice file is read by the experiment configs' `tuned:` methods, so its type lives
// with them (`config.rs`); it is re-exported here, beside the tuning that writes it.
pub use crate::config::{CandidateScore, TuningChoice};

/// The objective a candidate is judged by, as the search's `sum` objective.
pub const OBJECTIVE: &str = "p_o + p_s";

/// `experiments/tuning.yaml`: where and how the baselines are tuned.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningConfig {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The scale of the settings' configs the runs use.
    pub scale: String,
    /// Experiment configs tuned on: the searched settings, never a held-out one.
    pub settings: Vec<PathBuf>,
    pub seeds: Vec<u64>,
    /// Baseline name -> its grid, each point a method named `<baseline>@<value>`.
    pub baselines: BTreeMap<String, Vec<MethodSpec>>,
}

/// One tuning run to do: the request and where its record goes.
#[derive(Clone, Debug)]
pub struct TuningRun {
    /// The setting's config name (`sst2_mrpc`).
    pub setting: String,
    pub baseline: String,
    pub request: RunRequest,
}

impl TuningConfig {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read tuning config {}", path.display()))?;
        let cfg: Self = serde_yaml::from_str(&text)
            .with_context(|| format!("invalid tuning config {}", path.display()))?;
        cfg.check()
            .with_context(|| format!("invalid tuning config {}", path.display()))?;
        Ok(cfg)
    }

    fn check(&self) -> Result<()> {
        ensure!(
            !self.settings.is_empty() && !self.seeds.is_empty() && !self.baselines.is_empty(),
            "a tuning needs at least one setting, seed and baseline"
        );
        for (baseline, grid) in &self.baselines {
            ensure!(!grid.is_empty(), "baseline `{baseline}` has an empty grid");
            for m in grid {
                let ok = lrdist_record::grid_point(&m.name).is_some_and(|(b, _)| b == baseline);
                ensure!(
                    ok,
                    "grid point `{}` of baseline `{baseline}` must be named `{baseline}@VALUE`",
                    m.name
                );
            }
            let mut names: Vec<&str> = grid.iter().map(|m| m.name.as_str()).collect();
            names.sort_unstable();
            if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
                bail!("grid point `{}` appears twice", w[0]);
            }
        }
        Ok(())
    }

    /// Every run of the tuning, setting by setting (so a worker given one setting writes
    /// one file), for `only_settings` (config names; all when empty) and `only_baselines`.
    pub fn runs(
        &self,
        only_settings: &[String],
        only_baselines: &[String],
    ) -> Result<Vec<TuningRun>> {
        for b in only_baselines {
            ensure!(
                self.baselines.contains_key(b),
                "tuning {} has no baseline `{b}` (it has: {})",
                self.name,
                self.baselines
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let names = self.setting_names();
        for s in only_settings {
            ensure!(
                names.contains(s),
                "tuning {} has no setting `{s}` (it has: {})",
                self.name,
                names.join(", ")
            );
        }
        let mut out = Vec::new();
        for (path, setting) in self.settings.iter().zip(names) {
            if !only_settings.is_empty() && !only_settings.contains(&setting) {
                continue;
            }
            let config = ExperimentConfig::from_file(path)?;
            for (baseline, grid) in &self.baselines {
                if !only_baselines.is_empty() && !only_baselines.contains(baseline) {
                    continue;
                }
                for m in grid {
                    for &seed in &self.seeds {
                        out.push(TuningRun {
                            setting: setting.clone(),
                            baseline: baseline.clone(),
                            request: config.request(path, &self.scale, m, seed)?,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The settings' config names (file stems).
    pub fn setting_names(&self) -> Vec<String> {
        self.settings
            .iter()
            .map(|p| {
                p.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| p.display().to_string())
            })
            .collect()
    }

    /// Where the records of `setting`'s tuning runs go: `RESULTS/tuning/<scale>/<setting>.jsonl`.
    pub fn record_path(&self, results: &Path, setting: &str) -> PathBuf {
        results
            .join("tuning")
            .join(&self.scale)
            .join(format!("{setting}.jsonl"))
    }

    /// Where the choice goes: `RESULTS/tuning/<scale>.yaml`.
    pub fn choice_path(&self, results: &Path) -> PathBuf {
        results.join("tuning").join(format!("{}.yaml", self.scale))
    }

    /// The choice from the runs' records (`record_of` finds a run's record, `None` when it
    /// has none): per baseline, the grid point of highest mean objective over every
    /// setting x seed. Refuses while any run lacks its record, naming them.
    pub fn choose(
        &self,
        config_file: &Path,
        runs: &[TuningRun],
        record_of: &mut dyn FnMut(&TuningRun) -> Result<Option<RunRecord>>,
    ) -> Result<TuningChoice> {
        let mut missing = Vec::new();
        // (baseline, grid point) -> objectives
        let mut values: BTreeMap<(&str, &str), Vec<f64>> = BTreeMap::new();
        for run in runs {
            match record_of(run)? {
                Some(r) => {
                    let objective = tuning_objective(&r).with_context(|| {
                        format!(
                            "record {} of {} has no p_o or p_s",
                            r.id, run.request.method
                        )
                    })?;
                    values
                        .entry((run.baseline.as_str(), run.request.method.as_str()))
                        .or_default()
                        .push(objective);
                }
                None => missing.push(format!(
                    "{} {} seed {}",
                    run.setting, run.request.method, run.request.seed
                )),
            }
        }
        if !missing.is_empty() {
            bail!(
                "the tuning is not complete: {} of {} runs have no record yet ({}{}); run `lrdist tune` (or `make tune`) first",
                missing.len(),
                runs.len(),
                missing.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
                if missing.len() > 5 { ", ..." } else { "" }
            );
        }
        let mut methods = Vec::new();
        let mut scores = Vec::new();
        for (baseline, grid) in &self.baselines {
            let mut best: Option<(&MethodSpec, f64)> = None;
            for m in grid {
                let runs = values
                    .get(&(baseline.as_str(), m.name.as_str()))
                    .with_context(|| format!("no runs of {}", m.name))?;
                let mean = runs.iter().sum::<f64>() / runs.len() as f64;
                scores.push(CandidateScore {
                    baseline: baseline.clone(),
                    candidate: m.name.clone(),
                    objective: mean,
                    runs: runs.len(),
                    chosen: false,
                });
                // The first of equal means wins: grids list the mildest point first.
                if best.is_none_or(|(_, b)| mean > b) {
                    best = Some((m, mean));
                }
            }
            let (m, _) = best.expect("grids are not empty");
            for s in scores.iter_mut().filter(|s| &s.baseline == baseline) {
                s.chosen = s.candidate == m.name;
            }
            methods.push(MethodSpec {
                name: baseline.clone(),
                ..m.clone()
            });
        }
        Ok(TuningChoice {
            tuning: config_file.display().to_string(),
            scale: self.scale.clone(),
            objective: format!("mean of {OBJECTIVE} over settings x seeds"),
            settings: self.setting_names(),
            seeds: self.seeds.clone(),
            methods,
            scores,
        })
    }
}

/// What `lrdist tune` did.
#[derive(Debug)]
pub struct TuneOutcome {
    /// Runs trained now (the others had records).
    pub ran: usize,
    /// The choice and where it was written, once every run of the tuning has a record.
    pub written: Option<(PathBuf, TuningChoice)>,
    /// Why no choice was written (runs still missing).
    pub not_yet: Option<String>,
}

/// `lrdist tune`: trains every run of `only_settings` x `only_baselines` (all when empty)
/// that has no record yet, appending each record as it finishes (`on_record`), then —
/// when every run of the whole tuning has its record — writes the choice to
/// [`TuningConfig::choice_path`]. With `run: false` it only (re)writes the choice.
pub fn tune(
    runner: &mut Runner,
    config_file: &Path,
    only_settings: &[String],
    only_baselines: &[String],
    run: bool,
    on_record: &mut dyn FnMut(&RunRecord, &Path) -> Result<()>,
) -> Result<TuneOutcome> {
    let cfg = TuningConfig::from_file(config_file)?;
    let results = runner.context().results_dir.clone();
    let mut ran = 0;
    if run {
        let (reqs, path) = batch(runner, &cfg, only_settings, only_baselines)?;
        ran = runner.run_batch(&reqs, &path, true, on_record)?;
    }
    let all = cfg.runs(&[], &[])?;
    let mut record_of = |r: &TuningRun| -> Result<Option<RunRecord>> {
        let per_depth = runner.per_depth(&r.request)?;
        crate::record::find_same(
            &cfg.record_path(&results, &r.setting),
            &r.request,
            &per_depth,
        )
    };
    match cfg.choose(config_file, &all, &mut record_of) {
        Ok(choice) => {
            let path = cfg.choice_path(&results);
            choice.write(&path)?;
            Ok(TuneOutcome {
                ran,
                written: Some((path, choice)),
                not_yet: None,
            })
        }
        Err(e) if !run => Err(e),
        Err(e) => Ok(TuneOutcome {
            ran,
            written: None,
            not_yet: Some(format!("{e:#}")),
        }),
    }
}

/// The tuning runs of `only_settings` x `only_baselines` (all when empty), checked, and
/// where each one's record goes.
#[allow(clippy::type_complexity)]
fn batch(
    runner: &Runner,
    cfg: &TuningConfig,
    only_settings: &[String],
    only_baselines: &[String],
) -> Result<(Vec<RunRequest>, Box<dyn Fn(&RunRequest) -> PathBuf>)> {
    let mine = cfg.runs(only_settings, only_baselines)?;
    for r in &mine {
        runner.validate(&r.request)?;
    }
    let reqs: Vec<RunRequest> = mine.iter().map(|r| r.request.clone()).collect();
    let paths: BTreeMap<String, PathBuf> = mine
        .iter()
        .map(|r| {
            (
                r.request.config_file.clone().unwrap_or_default(),
                cfg.record_path(&runner.context().results_dir, &r.setting),
            )
        })
        .collect();
    let path = move |req: &RunRequest| paths[&req.config_file.clone().unwrap_or_default()].clone();
    Ok((reqs, Box::new(path)))
}

/// What [`tune`] would run, without running it: every tuning run of `only_settings` x
/// `only_baselines` with its status (`lrdist tune --dry-run`).
pub fn plan(
    runner: &Runner,
    config_file: &Path,
    only_settings: &[String],
    only_baselines: &[String],
) -> Result<Vec<crate::pending::PlannedRun>> {
    let cfg = TuningConfig::from_file(config_file)?;
    let (reqs, path) = batch(runner, &cfg, only_settings, only_baselines)?;
    crate::pending::plan(runner, &reqs, &*path, &[], None, &[])
}

/// The objective of one tuning run: p_o + p_s, as the search's `sum` objective.
pub fn tuning_objective(r: &RunRecord) -> Option<f64> {
    Some(r.p_o? + r.p_s?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments/tuning.yaml");

    fn record(p_s: f64, p_o: f64) -> RunRecord {
        // A real record (sst2->mrpc flat, forget scale), its scores replaced.
        let mut r: RunRecord =
            serde_json::from_str(include_str!("../tests/fixtures/record.json")).unwrap();
        r.p_s = Some(p_s);
        r.p_o = Some(p_o);
        r
    }

    #[test]
    fn the_committed_tuning_uses_searched_settings_and_full_grids() {
        let mut cfg = TuningConfig::from_file(Path::new(CONFIG)).unwrap();
        assert_eq!(cfg.scale, "forget");
        // Settings are relative to the repository root, where lrdist and make run.
        let root = Path::new(CONFIG).parent().unwrap().parent().unwrap();
        cfg.settings = cfg.settings.iter().map(|s| root.join(s)).collect();
        for b in ["llrd", "ewc", "l2sp", "wise-ft", "freeze"] {
            assert!(
                cfg.baselines[b].len() >= 3,
                "{b} has fewer than 3 grid points"
            );
        }
        let runs = cfg.runs(&[], &[]).unwrap();
        let points: usize = cfg.baselines.values().map(Vec::len).sum();
        assert_eq!(runs.len(), points * cfg.settings.len() * cfg.seeds.len());
        assert!(runs
            .iter()
            .all(|r| r.request.stage2_only && r.request.scale_name == "forget"));
        assert!(cfg.runs(&["nope".into()], &[]).is_err());
        assert!(cfg.runs(&[], &["dropout".into()]).is_err());
    }

    /// The Makefile's `tune` jobs and the searches are the settings tuned on.
    #[test]
    fn the_makefile_tunes_on_the_searched_settings() {
        let cfg = TuningConfig::from_file(Path::new(CONFIG)).unwrap();
        let makefile =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Makefile"))
                .unwrap();
        let line = makefile
            .lines()
            .find_map(|l| l.strip_prefix("FORGET_SEARCH_CONFIGS := "))
            .expect("FORGET_SEARCH_CONFIGS in the Makefile");
        let searched: Vec<String> = line.split_whitespace().map(String::from).collect();
        assert_eq!(cfg.setting_names(), searched);
    }

    #[test]
    fn grid_points_are_named_after_their_baseline() {
        let yaml = "name: t\nscale: forget\nsettings: [a.yaml]\nseeds: [0]\nbaselines:\n  ewc:\n    - {name: l2sp@1, distribution: flat:base}\n";
        let cfg: TuningConfig = serde_yaml::from_str(yaml).unwrap();
        assert!(cfg.check().unwrap_err().to_string().contains("ewc@VALUE"));
    }

    #[test]
    fn the_choice_is_the_best_mean_and_refuses_missing_runs() {
        let yaml = "name: t\nscale: forget\nsettings: [experiments/sst2_mrpc.yaml, experiments/mrpc_sst2.yaml]\nseeds: [0]\nbaselines:\n  ewc:\n    - {name: ewc@1, distribution: flat:base, penalty: {kind: ewc, lambda: 1.0}}\n    - {name: ewc@2, distribution: flat:base, penalty: {kind: ewc, lambda: 2.0}}\n";
        let cfg: TuningConfig = serde_yaml::from_str(yaml).unwrap();
        let req = |name: &str, setting: &str| TuningRun {
            setting: setting.into(),
            baseline: "ewc".into(),
            request: RunRequest::new(
                crate::ScenarioSpec::Single {
                    task: lrdist_data::GlueTask::Sst2.into(),
                },
                "forget",
                crate::ScaleSpec::builtin("quick").unwrap(),
                name,
                "flat:1e-4"
                    .parse::<lrdist_optimizer::DistributionSpec>()
                    .unwrap(),
                0,
            ),
        };
        let runs = vec![
            req("ewc@1", "a"),
            req("ewc@1", "b"),
            req("ewc@2", "a"),
            req("ewc@2", "b"),
        ];
        // ewc@1: (1.5 + 1.3) / 2 = 1.4; ewc@2: (1.2 + 1.5) / 2 = 1.35.
        let table = |r: &TuningRun| -> Option<RunRecord> {
            Some(match (r.request.method.as_str(), r.setting.as_str()) {
                ("ewc@1", "a") => record(0.8, 0.7),
                ("ewc@1", "b") => record(0.6, 0.7),
                ("ewc@2", "a") => record(0.5, 0.7),
                _ => record(0.7, 0.8),
            })
        };
        let choice = cfg
            .choose(Path::new("t.yaml"), &runs, &mut |r| Ok(table(r)))
            .unwrap();
        assert_eq!(choice.methods.len(), 1);
        assert_eq!(choice.methods[0].name, "ewc");
        assert_eq!(
            choice.methods[0].penalty,
            Some(crate::PenaltySpec::Ewc {
                lambda: 1.0,
                fisher_rows: 256
            })
        );
        let chosen: Vec<_> = choice.scores.iter().filter(|s| s.chosen).collect();
        assert_eq!(chosen.len(), 1);
        assert_eq!(chosen[0].candidate, "ewc@1");
        assert!((chosen[0].objective - 1.4).abs() < 1e-12);

        let err = cfg
            .choose(Path::new("t.yaml"), &runs, &mut |r| {
                Ok((r.setting != "b" || r.request.method != "ewc@2").then(|| table(r).unwrap()))
            })
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1 of 4 runs") && err.contains("b ewc@2 seed 0"),
            "{err}"
        );

        // Round trip through the file a config's `tuned:` entry reads.
        let dir = std::env::temp_dir().join(format!("lrdist-tune-{}", std::process::id()));
        let path = dir.join("forget.yaml");
        choice.write(&path).unwrap();
        let back = TuningChoice::from_file(&path).unwrap();
        assert_eq!(back.method("ewc"), Some(&choice.methods[0]));
        std::fs::remove_dir_all(&dir).ok();
    }
}
