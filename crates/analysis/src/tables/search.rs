//! Search summary: per study, trials by state, the best complete trial and compute hours.

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use crate::inputs::MissingInput;
use crate::studies::{read_studies_in, SearchDir, Study};
use crate::table::{csv_num, f64_column, md_num, str_column, Table};

const STATES: [&str; 5] = ["complete", "pruned", "failed", "running", "queued"];

/// `search`: the studies of `results/search`.
pub(crate) fn search_table(results: &Path) -> Result<Table> {
    search_table_in(results, SearchDir::Top, "table search", "Searches")
}

/// `search-forget`: the forget scale's studies, `results/search/forget` (docs/METHOD.md,
/// "Evaluation at the forget scale").
pub(crate) fn search_forget_table(results: &Path) -> Result<Table> {
    search_table_in(
        results,
        SearchDir::Forget,
        "table search-forget",
        "Searches at the forget scale",
    )
}

fn search_table_in(results: &Path, dir: SearchDir, what: &str, title: &str) -> Result<Table> {
    let studies = read_studies_in(results, dir)?;
    if studies.is_empty() {
        let missing = format!(
            "no study exports in {}",
            dir.path(results).join("*.csv").display()
        );
        return Err(MissingInput::error(what, missing));
    }
    let counts = count_states(&studies)?;
    let names = str_column(&counts, "study")?;
    let totals = f64_column(&counts, "trials")?;
    let hours = f64_column(&counts, "hours")?;
    let by_state: Vec<Vec<Option<f64>>> = STATES
        .iter()
        .map(|s| f64_column(&counts, s))
        .collect::<Result<_>>()?;

    let mut table = Table {
        title: format!("{title}: trials by state, best complete trial, compute"),
        ..Table::default()
    };
    let mut header: Vec<String> = vec!["study".into(), "trials".into()];
    header.extend(STATES.iter().map(|s| s.to_string()));
    header.extend(["best trial", "objective", "a1", "p_s", "p_o", "hours"].map(String::from));
    table.md_header = header;
    table.csv_header = table
        .md_header
        .iter()
        .map(|h| h.replace(' ', "_"))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let study = studies
            .iter()
            .find(|s| &s.name == name)
            .context("study vanished")?;
        let best = study.best();
        let count = |v: Option<f64>| v.map_or("0".to_string(), |v| format!("{v:.0}"));
        let mut cells = vec![name.clone(), count(totals[i])];
        cells.extend(by_state.iter().map(|column| count(column[i])));
        cells.push(best.map_or(String::new(), |b| b.trial.to_string()));
        let scores = [
            best.and_then(|b| b.objective),
            best.and_then(|b| b.a1),
            best.and_then(|b| b.p_s),
            best.and_then(|b| b.p_o),
        ];
        let mut md = cells.clone();
        md.extend(scores.iter().map(|v| md_num(*v)));
        md.push(hours[i].map_or("—".into(), |h| format!("{h:.2}")));
        let mut csv = cells;
        csv.extend(scores.iter().map(|v| csv_num(*v)));
        csv.push(csv_num(hours[i]));
        table.md_rows.push(md);
        table.csv_rows.push(csv);
    }
    let files: Vec<String> = studies
        .iter()
        .map(|s| format!("{} ({} trials)", s.source, s.trials.len()))
        .collect();
    table.footer = vec![
        format!(
            "Source: {} study exports: {}.",
            studies.len(),
            files.join(", ")
        ),
        "Best: the complete trial with the highest objective (p_o + p_s at the last rung). \
         Hours: wall-clock seconds of all trials, summed."
            .to_string(),
    ];
    Ok(table)
}

/// One row per study: `study`, `trials`, one count per state, `hours`; sorted by study.
fn count_states(studies: &[Study]) -> Result<DataFrame> {
    let mut study = Vec::new();
    let mut state = Vec::new();
    let mut seconds = Vec::new();
    for s in studies {
        for t in &s.trials {
            study.push(s.name.clone());
            state.push(t.state.as_str().to_string());
            seconds.push(t.seconds);
        }
    }
    let trials = DataFrame::new(
        study.len(),
        vec![
            Column::new("study".into(), study),
            Column::new("state".into(), state),
            Column::new("seconds".into(), seconds),
        ],
    )?;
    let mut aggs = vec![
        len().alias("trials"),
        (col("seconds").sum() / lit(3600.0)).alias("hours"),
    ];
    for s in STATES {
        aggs.push(col("state").eq(lit(s)).sum().alias(s));
    }
    let counts = trials
        .lazy()
        .group_by([col("study")])
        .agg(aggs)
        .sort(["study"], SortMultipleOptions::default())
        .collect()?;
    Ok(counts)
}
