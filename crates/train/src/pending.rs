//! What a resumable batch (`run --all`, `tune`) still has to run, without running anything
//! (`--dry-run`): each run's status against its record file, and the compute left,
//! estimated from the seconds that file's own records measured. Long experiments are
//! planned from this (which lane takes what, what is left for the next session).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::config::RunRequest;
use crate::record::{read_records, Done, RunRecord};
use crate::requests::WaitingRun;
use crate::runner::Runner;

/// Where one run of a batch stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    /// Its record exists: a resumed batch skips it.
    Done,
    /// Only a record of something else under its name exists (why): it runs again.
    Stale(String),
    /// No record: it runs.
    ToRun,
    /// It cannot run yet: its method reads this file, which does not exist yet.
    Waiting(PathBuf),
    /// It runs if the seed rule asks for it once the config's first seeds are recorded
    /// ([`crate::seeds`]).
    Conditional,
}

impl Status {
    /// The `status` column: `done`, `stale`, `to_run` or `waiting`.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Stale(_) => "stale",
            Status::ToRun => "to_run",
            Status::Waiting(_) => "waiting",
            Status::Conditional => "conditional",
        }
    }

    /// Whether a batch still has to run it (now or once its file exists); a conditional
    /// run is not counted as left.
    pub fn is_left(&self) -> bool {
        !matches!(self, Status::Done | Status::Conditional)
    }
}

/// One run of a batch and where it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedRun {
    /// The record file it is (or will be) in.
    pub record: PathBuf,
    pub scenario: String,
    pub method: String,
    pub seed: u64,
    pub scale: String,
    pub status: Status,
    /// The median seconds ([`batch_seconds`]) of the trained records of its method at
    /// this scale in `record`, else of all its trained records there
    /// ([`Measured::estimate`]); `None` when the file has none. A WiSE-FT run that will
    /// restore the stage B a flat run of the batch still has to train and store
    /// ([`crate::runner::stage_b_source`]) costs what the file's runs spent outside their
    /// stages after A ([`Measured::outside_stage_b`]).
    pub est_seconds: Option<f64>,
    /// It restores the stage B a flat run of the batch trains (as above).
    pub restores_stage_b: bool,
}

/// One CSV row of [`write_csv`].
#[derive(Serialize)]
struct Row<'a> {
    record: String,
    scenario: &'a str,
    method: &'a str,
    seed: u64,
    scale: &'a str,
    status: &'static str,
    est_seconds: Option<f64>,
    note: String,
}

/// The batch `reqs` (records at `record_path(req)`), the runs `waiting` for a file
/// (records at `record_path(template)`, `template` being any request of the same config)
/// and the `conditional` runs the seed rule may add ([`Status::Conditional`] unless
/// recorded), each with its status.
pub fn plan(
    runner: &Runner,
    reqs: &[RunRequest],
    record_path: &dyn Fn(&RunRequest) -> PathBuf,
    waiting: &[WaitingRun],
    template: Option<&RunRequest>,
    conditional: &[RunRequest],
) -> Result<Vec<PlannedRun>> {
    // Each record file's measure, read once (a config's runs share one file).
    let mut measured: BTreeMap<(PathBuf, String), Measured> = BTreeMap::new();
    let mut measure = |path: &Path, scale: &str| -> Result<Measured> {
        let key = (path.to_path_buf(), scale.to_string());
        if !measured.contains_key(&key) {
            measured.insert(key.clone(), measured_seconds(path, scale)?);
        }
        Ok(measured[&key].clone())
    };
    let mut rows = Vec::new();
    let maybe = reqs.iter().map(|r| (r, false));
    for (req, conditional) in maybe.chain(conditional.iter().map(|r| (r, true))) {
        let path = record_path(req);
        let status = match runner.status(req, &path)? {
            Done::Same => Status::Done,
            _ if conditional => Status::Conditional,
            Done::Stale(why) => Status::Stale(why),
            Done::None => Status::ToRun,
        };
        // WiSE-FT restores the stage B a flat run of the batch stores when that run
        // still has to run (one already recorded may have run before it stored any).
        let restores_stage_b = status.is_left()
            && match crate::runner::stage_b_source(req, reqs) {
                Some(flat) => runner.status(flat, &record_path(flat))? != Done::Same,
                None => false,
            };
        let m = measure(&path, &req.scale_name)?;
        let est_seconds = match restores_stage_b {
            true => m.outside_stage_b,
            false => m.estimate(&req.method),
        };
        rows.push(PlannedRun {
            est_seconds,
            restores_stage_b,
            record: path,
            scenario: req.scenario.label(),
            method: req.method.clone(),
            seed: req.seed,
            scale: req.scale_name.clone(),
            status,
        });
    }
    if let Some(t) = template {
        let path = record_path(t);
        for w in waiting {
            let est = measure(&path, &t.scale_name)?.estimate(&w.method);
            rows.push(PlannedRun {
                record: path.clone(),
                scenario: t.scenario.label(),
                method: w.method.clone(),
                seed: w.seed,
                scale: t.scale_name.clone(),
                status: Status::Waiting(w.file.clone()),
                est_seconds: est,
                restores_stage_b: false,
            });
        }
    }
    Ok(rows)
}

/// The seconds one record file measured at one scale: the median `seconds` of its runs
/// that trained their last stage (restored runs, `stage2_cached`, took seconds only), over
/// all of them and per method.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    /// Over every trained run at the scale; `None` without one.
    pub all: Option<f64>,
    /// Per method label (`ewc`, `ewc@1e3`, ...), for the methods that have one.
    pub by_method: BTreeMap<String, f64>,
    /// Per baseline of a grid point label (`ewc` for `ewc@1e3` and `ewc@1e5`, `flat` for
    /// `flat@2e-5`; [`lrdist_record::grid_point`]) and per plain label, over all of them.
    pub by_baseline: BTreeMap<String, f64>,
    /// Over every trained run, its seconds outside the stages after A (restoring or
    /// training A, loading, the last scoring): what a run that restores its stage B costs.
    pub outside_stage_b: Option<f64>,
}

/// The baseline a method label belongs to: `ewc` for `ewc@1e3`, the label itself otherwise.
fn baseline_of(method: &str) -> &str {
    lrdist_record::grid_point(method).map_or(method, |(b, _)| b)
}

impl Measured {
    /// A run of `method`: its method's median where the file has one (EWC and L2-SP take
    /// 2-3 times a flat run), else its baseline's (another grid point of it, or the plain
    /// method: `flat@2e-5` costs what `flat` does), else the file's.
    pub fn estimate(&self, method: &str) -> Option<f64> {
        self.by_method
            .get(method)
            .or_else(|| self.by_baseline.get(baseline_of(method)))
            .copied()
            .or(self.all)
    }
}

/// The seconds a run costs a resumed batch: its own, less the training of task A where a
/// stage-2-only run trained it (the first run of its seed; the batch's other runs of that
/// seed restore it from the stage-1 cache). Without this, the survey's flat runs, which
/// trained task A, would make every estimate of a stage-2-only batch too high (the
/// four-task sequence: 2725 and 2851 s with RTE trained, 1778 s restored).
fn batch_seconds(r: &RunRecord) -> f64 {
    let stage1 = match (r.scale_spec.stage2_only, r.stage1_cached, r.stages.first()) {
        (true, false, Some(s)) => s.seconds,
        _ => 0.0,
    };
    (r.seconds - stage1).max(0.0)
}

/// What the records at `scale` in `path` measured ([`Measured`]), each run at its
/// [`batch_seconds`].
pub fn measured_seconds(path: &Path, scale: &str) -> Result<Measured> {
    let mut all = Vec::new();
    let mut by_method: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut by_baseline: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut outside = Vec::new();
    for r in read_records(path)? {
        if r.scale == scale && !r.stage2_cached && r.seconds > 0.0 {
            let seconds = batch_seconds(&r);
            all.push(seconds);
            let stage_b: f64 = r.stages.iter().skip(1).map(|s| s.seconds).sum();
            outside.push((seconds - stage_b).max(0.0));
            by_baseline
                .entry(baseline_of(&r.method).to_string())
                .or_default()
                .push(seconds);
            by_method.entry(r.method).or_default().push(seconds);
        }
    }
    let medians = |m: BTreeMap<String, Vec<f64>>| {
        m.into_iter()
            .filter_map(|(k, secs)| Some((k, median(secs)?)))
            .collect()
    };
    Ok(Measured {
        all: median(all),
        by_method: medians(by_method),
        by_baseline: medians(by_baseline),
        outside_stage_b: median(outside),
    })
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(match n % 2 {
        1 => xs[n / 2],
        _ => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    })
}

/// `rows` as CSV with a header: record, scenario, method, seed, scale, status
/// (`done`/`stale`/`to_run`/`waiting`), est_seconds (empty when unknown), note (why a
/// record is stale, or the file a waiting run needs).
pub fn write_csv(rows: &[PlannedRun], out: impl Write) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    for r in rows {
        let note = match &r.status {
            Status::Stale(why) => why.clone(),
            Status::Waiting(file) => format!("needs {}", file.display()),
            Status::Conditional => "if the seed rule asks (docs/METHOD.md, \"Seeds\")".into(),
            Status::ToRun if r.restores_stage_b => {
                "restores the stage B a flat run of the batch stores".into()
            }
            Status::Done | Status::ToRun => String::new(),
        };
        w.serialize(Row {
            record: r.record.display().to_string(),
            scenario: &r.scenario,
            method: &r.method,
            seed: r.seed,
            scale: &r.scale,
            status: r.status.name(),
            est_seconds: r.est_seconds.map(|s| s.round()),
            note,
        })
        .context("writing the plan as CSV")?;
    }
    w.flush().context("writing the plan as CSV")?;
    Ok(())
}

/// One line on what is left: runs to do of all, stale and waiting among them, and the
/// one-thread compute they take at the measured seconds per run.
pub fn summary(rows: &[PlannedRun]) -> String {
    let left: Vec<&PlannedRun> = rows.iter().filter(|r| r.status.is_left()).collect();
    let stale = left
        .iter()
        .filter(|r| matches!(r.status, Status::Stale(_)))
        .count();
    let waiting = left
        .iter()
        .filter(|r| matches!(r.status, Status::Waiting(_)))
        .count();
    let seconds: f64 = left.iter().filter_map(|r| r.est_seconds).sum();
    let unmeasured = left.iter().filter(|r| r.est_seconds.is_none()).count();
    let maybe: Vec<&PlannedRun> = rows
        .iter()
        .filter(|r| r.status == Status::Conditional)
        .collect();
    let mut line = format!("{} of {} runs left", left.len(), rows.len() - maybe.len());
    let mut parts = Vec::new();
    if stale > 0 {
        parts.push(format!("{stale} stale"));
    }
    if waiting > 0 {
        parts.push(format!("{waiting} waiting for a file"));
    }
    if !parts.is_empty() {
        line += &format!(" ({})", parts.join(", "));
    }
    if unmeasured == left.len() && !left.is_empty() {
        line += "; their record files have no measured run to estimate from";
    } else if !left.is_empty() {
        line += &format!(
            "; about {:.1} h at the seconds per run their record files measured",
            seconds / 3600.0
        );
        if unmeasured > 0 {
            line += &format!(" ({unmeasured} in files with no measured run, not counted)");
        }
    }
    if !maybe.is_empty() {
        let hours = maybe.iter().filter_map(|r| r.est_seconds).sum::<f64>() / 3600.0;
        line += &format!(
            "; up to {} more if the seed rule asks (about {hours:.1} h)",
            maybe.len()
        );
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: Status, est: Option<f64>) -> PlannedRun {
        PlannedRun {
            record: PathBuf::from("results/runs/x.jsonl"),
            scenario: "sst2->mrpc".into(),
            method: "flat".into(),
            seed: 0,
            scale: "forget".into(),
            status,
            est_seconds: est,
            restores_stage_b: false,
        }
    }

    #[test]
    fn summary_counts_what_is_left_and_its_measured_hours() {
        let rows = [
            run(Status::Done, Some(3600.0)),
            run(Status::ToRun, Some(1800.0)),
            run(Status::Stale("its rates differ (r1)".into()), Some(1800.0)),
            run(Status::Waiting("results/tuning/forget.yaml".into()), None),
        ];
        assert_eq!(
            summary(&rows),
            "3 of 4 runs left (1 stale, 1 waiting for a file); about 1.0 h at the seconds \
             per run their record files measured (1 in files with no measured run, not counted)"
        );
        assert_eq!(summary(&rows[..1]), "0 of 1 runs left");
        let mut more = rows.to_vec();
        more.push(run(Status::Conditional, Some(900.0)));
        more.push(run(Status::Conditional, Some(900.0)));
        assert!(
            summary(&more).starts_with("3 of 4 runs left")
                && summary(&more).ends_with("; up to 2 more if the seed rule asks (about 0.5 h)"),
            "{}",
            summary(&more)
        );
        assert_eq!(
            summary(&rows[3..]),
            "1 of 1 runs left (1 waiting for a file); their record files have no measured \
             run to estimate from"
        );
    }

    #[test]
    fn csv_has_one_row_per_run_and_says_why() {
        let rows = [
            run(Status::Stale("its rates differ (r1)".into()), Some(12.4)),
            run(Status::Waiting("results/tuning/forget.yaml".into()), None),
        ];
        let mut out = Vec::new();
        write_csv(&rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "record,scenario,method,seed,scale,status,est_seconds,note",
                "results/runs/x.jsonl,sst2->mrpc,flat,0,forget,stale,12.0,its rates differ (r1)",
                "results/runs/x.jsonl,sst2->mrpc,flat,0,forget,waiting,,needs results/tuning/forget.yaml",
            ]
        );
    }

    #[test]
    fn measured_seconds_is_the_median_of_trained_runs_at_the_scale_per_method_and_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        assert_eq!(
            measured_seconds(&path, "forget").unwrap(),
            Measured::default()
        );
        // A real record (sst2->mrpc flat, forget scale), its scale and seconds replaced.
        let base: crate::RunRecord =
            serde_json::from_str(include_str!("../tests/fixtures/record.json")).unwrap();
        for (scale, method, secs, restored) in [
            ("forget", "flat", 100.0, false),
            ("forget", "flat", 300.0, false),
            ("forget", "ewc", 900.0, false),
            ("forget", "ewc", 700.0, false),
            ("forget", "wise-ft", 5.0, true),
            ("quick", "flat", 9.0, false),
        ] {
            let mut r = base.clone();
            r.scale = scale.into();
            r.method = method.into();
            r.seconds = secs;
            r.stage2_cached = restored;
            crate::append_record(&path, &r).unwrap();
        }
        let forget = measured_seconds(&path, "forget").unwrap();
        assert_eq!(forget.all, Some(500.0));
        assert_eq!(forget.estimate("flat"), Some(200.0));
        assert_eq!(forget.estimate("ewc"), Some(800.0));
        // Outside stage B (the fixture's is 405.54 s): 0, 0, 494.46, 294.46 → 147.23.
        let outside = forget.outside_stage_b.unwrap();
        assert!(
            (outside - (700.0 - 405.535_758_761) / 2.0).abs() < 1e-9,
            "{outside}"
        );
        // No trained wise-ft run (the one there was restored): the file's median.
        assert_eq!(forget.estimate("wise-ft"), Some(500.0));
        // A grid point or frontier rate without runs of its own: its baseline's median.
        assert_eq!(forget.estimate("ewc@1e6"), Some(800.0));
        assert_eq!(forget.estimate("flat@2e-5"), Some(200.0));
        assert_eq!(forget.estimate("llrd@0.8"), Some(500.0));
        assert_eq!(
            measured_seconds(&path, "quick").unwrap().estimate("l2sp"),
            Some(9.0)
        );
    }

    #[test]
    fn a_run_that_trained_task_a_is_counted_without_it_under_stage2_only() {
        let base: crate::RunRecord =
            serde_json::from_str(include_str!("../tests/fixtures/record.json")).unwrap();
        let stage1 = base.stages[0].seconds;
        let mut trained = base.clone();
        trained.stage1_cached = false;
        trained.seconds = 1000.0;
        assert_eq!(batch_seconds(&trained), 1000.0 - stage1);
        // Restored, task A cost nothing; both stages trained every run, nothing is taken.
        let mut restored = trained.clone();
        restored.stage1_cached = true;
        assert_eq!(batch_seconds(&restored), 1000.0);
        let mut both = trained.clone();
        both.scale_spec.stage2_only = false;
        assert_eq!(batch_seconds(&both), 1000.0);
    }
}
