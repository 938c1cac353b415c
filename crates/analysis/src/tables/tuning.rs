//! `tuning`: the baselines' hyperparameter grids at the forget scale (docs/METHOD.md,
//! "Baselines", "Choosing hyperparameters", and "Evaluation at the forget scale"). The
//! records are `results/tuning/forget/<setting>.jsonl`, one method per grid point named
//! `<baseline>@<value>` (`ewc@1e6`, `llrd@0.8`); the objective is the search's, p_o + p_s.
//! Per baseline the chosen value is the one of highest mean objective over settings x seeds,
//! among the values with every run of the grid; `lrdist tune` writes its own choice to
//! `results/tuning/forget.yaml`, which the table checks against.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;
use serde::Deserialize;

use super::regime::FORGET;
use super::unseen::Searched;
use crate::inputs::{shown_path, MissingInput};
use crate::runs::{read_records_under, to_frame, Run};
use crate::table::{csv_num, f64_column, md_mean_sd, str_column, Table};
use lrdist_record::grid_point;

/// Where the tuning records of the forget scale live, under `results`.
const FOLDER: &str = "tuning/forget";

/// Order of a baseline's values: numerically where they parse, then as text.
fn value_order(value: &str) -> (u8, u64, String) {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() => {
            // Order-preserving bits of a float (negatives below positives).
            let bits = v.to_bits();
            let key = if v.is_sign_negative() {
                !bits
            } else {
                bits | (1 << 63)
            };
            (0, key, String::new())
        }
        _ => (1, 0, value.to_string()),
    }
}

/// `results/tuning/forget.yaml` as far as the table reads it.
#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    scores: Vec<ChoiceScore>,
}

#[derive(Debug, Deserialize)]
struct ChoiceScore {
    candidate: String,
    #[serde(default)]
    chosen: bool,
}

/// The candidates `lrdist tune` chose, if its choice file exists.
fn tune_choice(results: &Path) -> Result<Option<(String, BTreeSet<String>)>> {
    let path = results.join("tuning").join(format!("{FORGET}.yaml"));
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let choice: Choice =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let chosen = choice
        .scores
        .into_iter()
        .filter(|s| s.chosen)
        .map(|s| s.candidate)
        .collect();
    Ok(Some((shown_path(results, &path), chosen)))
}

/// One grid point on one setting.
struct Cell {
    seeds: usize,
    objective: Option<f64>,
    objective_sd: Option<f64>,
    p_o: Option<f64>,
    p_s: Option<f64>,
}

pub(crate) fn tuning_table(results: &Path) -> Result<Table> {
    let what = "table tuning";
    let mut set = read_records_under(results, FOLDER)?;
    set.retain(|r| r.record.scale == FORGET && grid_point(&r.record.method).is_some());
    if set.runs.is_empty() {
        let missing = format!(
            "no tuning records (methods <baseline>@<value>) at scale {FORGET} in {}",
            results.join(FOLDER).join("*.jsonl").display()
        );
        return Err(MissingInput::error(what, missing));
    }
    let searched = Searched::read(results)?;
    let setting_of = |scenario: &str, scale: &str| {
        if scale == FORGET {
            scenario.to_string()
        } else {
            format!("{scenario} [{scale}]")
        }
    };

    // Per grid point and setting: seeds, mean and sd of p_o + p_s, mean p_o and p_s.
    let cells = to_frame(&set)?
        .lazy()
        .with_column((col("p_o") + col("p_s")).alias("sum"))
        .group_by([col("method"), col("scenario"), col("scale")])
        .agg([
            col("sum").count().alias("n"),
            col("sum").mean().alias("objective"),
            col("sum").std(1).alias("objective_sd"),
            col("p_o").mean().alias("p_o"),
            col("p_s").mean().alias("p_s"),
        ])
        .sort(
            ["method", "scenario", "scale"],
            SortMultipleOptions::default(),
        )
        .collect()?;
    let methods = str_column(&cells, "method")?;
    let scenarios = str_column(&cells, "scenario")?;
    let scales = str_column(&cells, "scale")?;
    let n = f64_column(&cells, "n")?;
    let objective = f64_column(&cells, "objective")?;
    let objective_sd = f64_column(&cells, "objective_sd")?;
    let p_o = f64_column(&cells, "p_o")?;
    let p_s = f64_column(&cells, "p_s")?;
    // baseline -> value -> setting -> cell; setting -> searched.
    let mut grid: BTreeMap<String, BTreeMap<String, BTreeMap<String, Cell>>> = BTreeMap::new();
    let mut settings: BTreeMap<String, bool> = BTreeMap::new();
    for i in 0..methods.len() {
        let (baseline, value) = grid_point(&methods[i]).expect("filtered on grid points");
        let setting = setting_of(&scenarios[i], &scales[i]);
        settings.insert(setting.clone(), searched.contains(FORGET, &scenarios[i]));
        grid.entry(baseline.to_string())
            .or_default()
            .entry(value.to_string())
            .or_default()
            .insert(
                setting,
                Cell {
                    seeds: n[i].map_or(0, |n| n as usize),
                    objective: objective[i],
                    objective_sd: objective_sd[i],
                    p_o: p_o[i],
                    p_s: p_s[i],
                },
            );
    }
    // The runs each grid point has, (setting, seed), and the pooled mean over them.
    let mut runs_of: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for run in &set.runs {
        runs_of
            .entry(run.record.method.as_str())
            .or_default()
            .push(run);
    }
    let done = |method: &str| -> BTreeSet<(String, u64)> {
        runs_of.get(method).map_or_else(BTreeSet::new, |runs| {
            runs.iter()
                .filter(|r| r.record.p_o.is_some() && r.record.p_s.is_some())
                .map(|r| {
                    (
                        setting_of(&r.record.scenario, &r.scale_label()),
                        r.record.seed,
                    )
                })
                .collect()
        })
    };
    let pooled = |method: &str| -> Option<f64> {
        let values: Vec<f64> = runs_of
            .get(method)?
            .iter()
            .filter_map(|r| Some(r.record.p_o? + r.record.p_s?))
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let tune = tune_choice(results)?;

    let setting_names: Vec<&String> = settings.keys().collect();
    let mut table = Table {
        title: format!(
            "Tuning the baselines at the {FORGET} scale: mean p_o + p_s per grid point and \
             setting (mean ± sd over seeds, n seeds), and over settings x seeds"
        ),
        ..Table::default()
    };
    table.md_header = vec!["baseline".to_string(), "value".into()];
    table.md_header.extend(setting_names.iter().map(|s| {
        let set = if settings[*s] { "searched" } else { "held-out" };
        format!("{s} ({set})")
    }));
    table
        .md_header
        .extend(["mean over settings x seeds", "chosen"].map(String::from));
    table.csv_header = [
        "baseline",
        "value",
        "method",
        "setting",
        "set",
        "seeds",
        "objective_mean",
        "objective_sd",
        "p_o_mean",
        "p_s_mean",
        "pooled_mean",
        "pooled_runs",
        "complete",
        "chosen",
        "chosen_by_tune",
    ]
    .map(String::from)
    .to_vec();
    let mut disagreements = Vec::new();
    for (baseline, values) in &grid {
        let mut ordered: Vec<&String> = values.keys().collect();
        ordered.sort_by_key(|v| value_order(v));
        let method = |value: &str| format!("{baseline}@{value}");
        // Every (setting, seed) any grid point of this baseline ran.
        let all: BTreeSet<(String, u64)> = ordered.iter().flat_map(|v| done(&method(v))).collect();
        let complete = |value: &str| done(&method(value)) == all;
        let chosen = ordered
            .iter()
            .filter(|v| complete(v))
            .filter_map(|v| Some((*v, pooled(&method(v))?)))
            .fold(None::<(&String, f64)>, |best, (v, m)| match best {
                Some((_, b)) if b >= m => best,
                _ => Some((v, m)),
            })
            .map(|(v, _)| v.clone());
        for value in ordered {
            let name = method(value);
            let is_chosen = chosen.as_deref() == Some(value.as_str());
            let by_tune = tune.as_ref().map(|(_, c)| c.contains(&name));
            if by_tune.is_some_and(|t| t != is_chosen) {
                disagreements.push(name.clone());
            }
            let mean = pooled(&name);
            let runs = done(&name).len();
            let mut md = vec![baseline.clone(), value.clone()];
            for setting in &setting_names {
                md.push(match values[value].get(*setting) {
                    Some(c) => format!(
                        "{} (n={})",
                        md_mean_sd(c.objective, c.objective_sd),
                        c.seeds
                    ),
                    None => "—".to_string(),
                });
            }
            md.push(match (mean, complete(value)) {
                (Some(m), true) => format!("{m:.4}"),
                (Some(m), false) => format!("{m:.4} (incomplete: {runs} of {} runs)", all.len()),
                (None, _) => "—".to_string(),
            });
            md.push(if is_chosen { "**chosen**" } else { "" }.to_string());
            table.md_rows.push(md);
            for (setting, c) in &values[value] {
                table.csv_rows.push(vec![
                    baseline.clone(),
                    value.clone(),
                    name.clone(),
                    setting.clone(),
                    if settings[setting] {
                        "searched"
                    } else {
                        "held-out"
                    }
                    .to_string(),
                    c.seeds.to_string(),
                    csv_num(c.objective),
                    csv_num(c.objective_sd),
                    csv_num(c.p_o),
                    csv_num(c.p_s),
                    csv_num(mean),
                    runs.to_string(),
                    complete(value).to_string(),
                    is_chosen.to_string(),
                    by_tune.map_or(String::new(), |t| t.to_string()),
                ]);
            }
        }
    }
    table.footer = vec![
        format!("Source: {}.", set.provenance()),
        "Objective: p_o + p_s of each run, the search's (docs/METHOD.md, \"Search\"). The mean \
         over settings x seeds pools every run of the grid point; a grid point competes only \
         when it has every (setting, seed) run that any point of its baseline has \
         (incomplete otherwise); chosen: the competing point of highest mean (the lower value \
         on a tie)."
            .to_string(),
    ];
    let held_out: Vec<&str> = settings
        .iter()
        .filter(|(_, searched)| !**searched)
        .map(|(s, _)| s.as_str())
        .collect();
    if !held_out.is_empty() {
        table.footer.push(format!(
            "**Warning**: tuned on held-out settings ({}): a baseline's value must be chosen \
             on the searched settings only (docs/METHOD.md, \"Baselines\").",
            held_out.join(", ")
        ));
    }
    match &tune {
        Some((path, _)) if disagreements.is_empty() => table
            .footer
            .push(format!("The choice agrees with `lrdist tune`'s ({path}).")),
        Some((path, _)) => table.footer.push(format!(
            "**Warning**: the choice differs from `lrdist tune`'s ({path}) for {}.",
            disagreements.join(", ")
        )),
        None => table
            .footer
            .push("`lrdist tune` has written no choice yet (results/tuning/forget.yaml).".into()),
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_values_order_numerically() {
        let mut values = vec!["1e6", "2", "1e4", "0.5", "x", "-1"];
        values.sort_by_key(|v| value_order(v));
        assert_eq!(values, ["-1", "0.5", "2", "1e4", "1e6", "x"]);
    }
}
