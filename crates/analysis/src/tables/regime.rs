//! The `forget` regime: the calibration of its flat rate, the survey of settings, and
//! where forgetting lives (docs/METHOD.md, "Calibration", "The forget scale", "Where
//! forgetting lives").

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;

use crate::inputs::MissingInput;
use crate::regime::{flat_forgets, learned_bar, task_a_learned};
use crate::runs::{read_calibration, read_runs, Run, RunSet, FLAT};
use crate::stats::sample_sd;
use crate::table::{csv_num, md_mean_sd, Table};

/// The scale the regime tables describe.
pub(crate) const FORGET: &str = "forget";

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Mean and sample sd of the finite values `get` gives.
fn summary(runs: &[&Run], get: impl Fn(&Run) -> Option<f64>) -> (Option<f64>, Option<f64>, usize) {
    let v: Vec<f64> = runs
        .iter()
        .filter_map(|r| get(r))
        .filter(|v| v.is_finite())
        .collect();
    (mean(&v), sample_sd(&v), v.len())
}

/// The flat rate a calibration record ran (`flat:1e-4` → 1e-4).
fn calibration_rate(run: &Run) -> Option<f64> {
    run.record
        .distribution_spec
        .strip_prefix("flat:")?
        .parse()
        .ok()
}

/// Per task and rate: the mean dev score over seeds.
struct Calibration<'a> {
    /// task → rate (as its bits, for ordering) → runs.
    cells: BTreeMap<String, BTreeMap<u64, Vec<&'a Run>>>,
    rates: Vec<f64>,
}

impl<'a> Calibration<'a> {
    fn new(set: &'a RunSet, scale: &str) -> Self {
        let mut cells: BTreeMap<String, BTreeMap<u64, Vec<&Run>>> = BTreeMap::new();
        for run in set.runs.iter().filter(|r| r.record.scale == scale) {
            if let Some(rate) = calibration_rate(run) {
                cells
                    .entry(run.record.scenario.clone())
                    .or_default()
                    .entry(rate.to_bits())
                    .or_default()
                    .push(run);
            }
        }
        let mut rates: Vec<f64> = cells
            .values()
            .flat_map(|m| m.keys().map(|b| f64::from_bits(*b)))
            .collect();
        rates.sort_by(f64::total_cmp);
        rates.dedup();
        Self { cells, rates }
    }

    fn score(&self, task: &str, rate: f64) -> (Option<f64>, Option<f64>, usize) {
        match self.cells.get(task).and_then(|m| m.get(&rate.to_bits())) {
            Some(runs) => summary(runs, |r| r.record.a1),
            None => (None, None, 0),
        }
    }

    /// The rate with the best mean dev score for `task`.
    fn best(&self, task: &str) -> Option<f64> {
        self.rates
            .iter()
            .filter_map(|&r| self.score(task, r).0.map(|s| (r, s)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(r, _)| r)
    }

    /// The scale's base rate: the grid rate with the highest average over tasks of the
    /// per-task mean dev score (a GLUE-style average), among rates every task has.
    fn base_rate(&self) -> Option<(f64, f64)> {
        self.rates
            .iter()
            .filter_map(|&r| {
                let means: Option<Vec<f64>> =
                    self.cells.keys().map(|t| self.score(t, r).0).collect();
                means.and_then(|m| mean(&m)).map(|avg| (r, avg))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// `paper/tables/calibration`: single-task fine-tuning at the forget scale over flat rates.
pub(crate) fn calibration_table(results: &Path) -> Result<Table> {
    let set = read_calibration(results)?;
    let cal = Calibration::new(&set, FORGET);
    if cal.cells.is_empty() {
        let missing = format!(
            "no calibration records at scale {FORGET} in {}",
            results.join("calibration").join("*.jsonl").display()
        );
        return Err(MissingInput::error("table calibration", missing));
    }
    let mut table = Table {
        title: "Calibration of the forget scale's flat rate: single-task dev score per rate \
                (mean ± sd over seeds)"
            .into(),
        ..Table::default()
    };
    table.md_header = vec!["task".into(), "majority".into()];
    table
        .md_header
        .extend(cal.rates.iter().map(|r| format!("flat {r:e}")));
    table.md_header.push("best rate".into());
    table.csv_header = ["task", "rate", "seeds", "mean", "sd", "majority", "best"]
        .map(String::from)
        .to_vec();
    for (task, by_rate) in &cal.cells {
        let best = cal.best(task);
        let any: Vec<&Run> = by_rate.values().flatten().copied().collect();
        let majority = summary(&any, |r| r.record.majority.first().copied().flatten()).0;
        let mut md = vec![task.clone(), crate::table::md_num(majority)];
        for &rate in &cal.rates {
            let (m, sd, n) = cal.score(task, rate);
            let mark = if Some(rate) == best { " **best**" } else { "" };
            md.push(if n == 0 {
                "—".into()
            } else {
                format!("{} (n={n}){mark}", md_mean_sd(m, sd))
            });
            if n > 0 {
                table.csv_rows.push(vec![
                    task.clone(),
                    format!("{rate:e}"),
                    n.to_string(),
                    csv_num(m),
                    csv_num(sd),
                    csv_num(majority),
                    (Some(rate) == best).to_string(),
                ]);
            }
        }
        md.push(best.map_or("—".into(), |b| format!("{b:e}")));
        table.md_rows.push(md);
    }
    let base = cal.base_rate();
    table.footer = vec![
        format!("Source: {}.", set.provenance()),
        "Each task fine-tuned alone (one stage) with the forget scale's task-A settings \
         (experiments/calibration.yaml); score: the task's primary dev metric (accuracy; \
         Matthews for CoLA; Pearson for STS-B). Majority: the score of always predicting the \
         most frequent dev label."
            .into(),
        match base {
            Some((r, avg)) => format!(
                "Base rate of the forget scale: flat {r:e}, the grid rate with the highest \
                 average over tasks of the mean dev score ({avg:.4}); it is the `base_rate` \
                 of every experiments/*.yaml forget scale."
            ),
            None => "Base rate: not yet decided (no rate has a record for every task).".into(),
        },
    ];
    Ok(table)
}

/// Per setting, flat's runs at the forget scale. A setting whose records ran more than one
/// scale spec is one setting per spec, named with its scale label
/// (`sst2->qnli [forget#1a2b3c4d]`, `Run::scale_label`).
fn survey(set: &RunSet) -> BTreeMap<String, Vec<&Run>> {
    let mut by: BTreeMap<String, Vec<&Run>> = BTreeMap::new();
    for run in &set.runs {
        if run.record.scale == FORGET && run.record.method == FLAT {
            by.entry(setting_name(run)).or_default().push(run);
        }
    }
    by
}

/// A forget-scale setting as tables name it: its scenario, with the scale label in
/// brackets when the setting has records of more than one scale spec.
pub(crate) fn setting_name(run: &Run) -> String {
    match run.scale_variant {
        Some(_) => format!("{} [{}]", run.record.scenario, run.scale_label()),
        None => run.record.scenario.clone(),
    }
}

/// Whether a scenario kind splits one task's sample in two (the shifts), so that it has
/// no stage-B rows of its own.
fn splits_one_task(run: &Run) -> bool {
    run.record.kind.ends_with("shift")
}

/// The train rows a setting's stages after the first ask for: the scale's `stage_b_train`,
/// else its `max_train` (docs/METHOD.md, "The forget scale"). `None` for the shifts, which
/// split one sample, and for a scale without a train cap. A task with fewer train rows
/// (MRPC: 3668) trains on all of them.
fn stage_b_rows(run: &Run) -> Option<u64> {
    if splits_one_task(run) {
        return None;
    }
    let spec = &run.record.scale_spec;
    spec.stage_b_train
        .or(spec.max_train)
        .map(|rows| rows as u64)
}

/// `paper/tables/regime`: is task A learned and does flat forget, per surveyed setting.
pub(crate) fn regime_table(results: &Path) -> Result<Table> {
    let set = read_runs(results)?;
    let by = survey(&set);
    if by.is_empty() {
        let missing = format!("no flat run records at scale {FORGET}");
        return Err(MissingInput::error("table regime", missing));
    }
    let mut table = Table {
        title: "The forget regime: per setting, flat at the calibrated rate (mean ± sd over seeds)"
            .into(),
        ..Table::default()
    };
    table.md_header = [
        "setting",
        "seeds",
        "B rows",
        "majority",
        "a1",
        "p_s",
        "p_o",
        "forgetting",
        "A learned",
        "flat forgets",
        "criterion",
        "s/run",
    ]
    .map(String::from)
    .to_vec();
    table.csv_header = [
        "setting",
        "seeds",
        "b_train_rows",
        "majority",
        "a1",
        "a1_sd",
        "p_s",
        "p_s_sd",
        "p_o",
        "p_o_sd",
        "forgetting",
        "forgetting_sd",
        "a_learned",
        "flat_forgets",
        "meets_criterion",
        "seconds_per_run",
    ]
    .map(String::from)
    .to_vec();
    // Per stage-B rows candidate: (settings, settings that meet); the shifts count in each.
    let mut by_rows: BTreeMap<Option<u64>, (usize, usize)> = BTreeMap::new();
    let mut shifts = (0, 0);
    let mut meets = 0;
    for (setting, runs) in &by {
        let task = runs[0].record.tasks.first().cloned().unwrap_or_default();
        let majority = summary(runs, |r| r.record.majority.first().copied().flatten());
        let a1 = summary(runs, |r| r.record.a1);
        let p_s = summary(runs, |r| r.record.p_s);
        let p_o = summary(runs, |r| r.record.p_o);
        let forgetting = summary(runs, |r| r.record.forgetting);
        let seconds = summary(runs, |r| Some(r.record.seconds)).0;
        let learned = a1.0.is_some_and(|a| task_a_learned(&task, a, majority.0));
        let forgets = forgetting.0.is_some_and(flat_forgets);
        let ok = learned && forgets;
        meets += usize::from(ok);
        let b_rows = stage_b_rows(runs[0]);
        let split = splits_one_task(runs[0]);
        let tally = match split {
            true => &mut shifts,
            false => by_rows.entry(b_rows).or_default(),
        };
        tally.0 += 1;
        tally.1 += usize::from(ok);
        let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
        let b_md = match (split, b_rows) {
            (true, _) => "split".to_string(),
            (false, Some(n)) => n.to_string(),
            (false, None) => "—".to_string(),
        };
        table.md_rows.push(vec![
            setting.clone(),
            runs.len().to_string(),
            b_md,
            crate::table::md_num(majority.0),
            md_mean_sd(a1.0, a1.1),
            md_mean_sd(p_s.0, p_s.1),
            md_mean_sd(p_o.0, p_o.1),
            md_mean_sd(forgetting.0, forgetting.1),
            yes(learned),
            yes(forgets),
            if ok { "meets" } else { "**misses**" }.into(),
            seconds.map_or("—".into(), |s| format!("{s:.0}")),
        ]);
        table.csv_rows.push(vec![
            setting.clone(),
            runs.len().to_string(),
            b_rows.map_or(String::new(), |n| n.to_string()),
            csv_num(majority.0),
            csv_num(a1.0),
            csv_num(a1.1),
            csv_num(p_s.0),
            csv_num(p_s.1),
            csv_num(p_o.0),
            csv_num(p_o.1),
            csv_num(forgetting.0),
            csv_num(forgetting.1),
            learned.to_string(),
            forgets.to_string(),
            ok.to_string(),
            csv_num(seconds),
        ]);
    }
    let mut flat_only = set.clone();
    flat_only.retain(|r| r.record.scale == FORGET && r.record.method == FLAT);
    table.footer = vec![
        format!("Source: {}.", flat_only.provenance()),
        format!(
            "{meets} of {} settings meet the criterion: task A learned ({}, {}, otherwise {}; \
             means over seeds) and flat forgets (a1 - p_o >= 0.05). Majority: the score of \
             always predicting task A's most frequent dev label. B rows: the train rows the \
             stages after the first ask for (a task with fewer, MRPC's 3668, trains on all; \
             split: a shift, whose two stages split one sample of task A's rows). s/run: mean \
             wall seconds of a run (one thread; stage 1 restored from the cache where it was \
             trained before).",
            by.len(),
            learned_bar("cola"),
            learned_bar("stsb"),
            learned_bar("sst2"),
        ),
    ];
    // More than one candidate scale surveyed: the criterion count of each, over the settings
    // it ran plus the shifts (which a stage-B row count does not change).
    if by_rows.len() > 1 {
        for (rows, (n, k)) in &by_rows {
            let rows = rows.map_or("unstated".to_string(), |r| r.to_string());
            table.footer.push(format!(
                "At B rows {rows}: {} of {} settings meet ({k} of {n} pairs and sequences \
                 surveyed at it, {} of {} shifts).",
                k + shifts.1,
                n + shifts.0,
                shifts.1,
                shifts.0
            ));
        }
    }
    Ok(table)
}

/// Per setting and depth: mean p_o recovered by putting that depth's post-A weights back.
pub(crate) struct Recovered {
    pub depths: Vec<String>,
    /// setting → (mean recovered per depth, forgetting, seeds).
    pub rows: BTreeMap<String, (Vec<f64>, Option<f64>, usize)>,
}

pub(crate) fn recovered(set: &RunSet) -> Recovered {
    let mut depths = Vec::new();
    let mut rows = BTreeMap::new();
    for (setting, runs) in survey(set) {
        let with: Vec<&Run> = runs
            .into_iter()
            .filter(|r| r.record.attribution.is_some())
            .collect();
        let Some(first) = with.first().and_then(|r| r.record.attribution.as_ref()) else {
            continue;
        };
        if depths.is_empty() {
            depths = first.depths.clone();
        }
        let n = first.scores.len();
        let per_depth: Vec<f64> = (0..n)
            .map(|d| {
                let v: Vec<f64> = with
                    .iter()
                    .filter_map(|r| r.record.attribution.as_ref())
                    .filter(|a| a.scores.len() == n)
                    .map(|a| a.scores[d] - a.p_o)
                    .collect();
                mean(&v).unwrap_or(f64::NAN)
            })
            .collect();
        let forgetting = summary(&with, |r| r.record.forgetting).0;
        rows.insert(setting, (per_depth, forgetting, with.len()));
    }
    Recovered { depths, rows }
}

/// `paper/tables/attribution`: where forgetting lives, per setting and depth.
pub(crate) fn attribution_table(results: &Path) -> Result<Table> {
    let set = read_runs(results)?;
    let rec = recovered(&set);
    if rec.rows.is_empty() {
        let missing = format!("no flat run record at scale {FORGET} with an attribution");
        return Err(MissingInput::error("table attribution", missing));
    }
    let mut table = Table {
        title: "Where forgetting lives: p_o recovered by putting one depth's post-A weights back \
                (flat, forget scale, mean over seeds)"
            .into(),
        ..Table::default()
    };
    let mut header = vec!["setting".to_string(), "seeds".into(), "forgetting".into()];
    header.extend(rec.depths.iter().cloned());
    header.push("largest".into());
    table.csv_header = header.iter().map(|h| h.replace(' ', "_")).collect();
    table.md_header = header;
    for (setting, (per_depth, forgetting, n)) in &rec.rows {
        let largest = per_depth
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(d, _)| rec.depths.get(d).cloned().unwrap_or_default())
            .unwrap_or_default();
        let mut md = vec![
            setting.clone(),
            n.to_string(),
            crate::table::md_num(*forgetting),
        ];
        md.extend(per_depth.iter().map(|v| format!("{v:+.4}")));
        md.push(largest.clone());
        let mut csv = vec![setting.clone(), n.to_string(), csv_num(*forgetting)];
        csv.extend(per_depth.iter().map(|v| csv_num(Some(*v))));
        csv.push(largest);
        table.md_rows.push(md);
        table.csv_rows.push(csv);
    }
    let mut with = set.clone();
    with.retain(|r| {
        r.record.scale == FORGET && r.record.method == FLAT && r.record.attribution.is_some()
    });
    table.footer = vec![
        format!("Source: {}.", with.provenance()),
        "Each cell: task A's dev score after stage B with that depth's post-A weights put back \
         and every other depth post-B, minus p_o (`lrdist run --attribute`). A cell equal to the \
         forgetting would mean that depth holds all of it; the cells need not add up (depths \
         interact). `heads` holds only what stage B changes there (nothing for a pair, whose \
         task-A head stage B does not train)."
            .into(),
    ];
    Ok(table)
}
