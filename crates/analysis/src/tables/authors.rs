//! Ours beside the authors' raw logs: per task pair, the flat trial that starts the search
//! against the best trial, and the changes in p_o and p_s (docs/METHOD.md, "What the paper
//! and the authors' logs report").

use std::path::Path;

use anyhow::Result;
use lrdist_combine::authors_logs::{read_runs, AuthorsRun, AuthorsTrial};

use crate::inputs::{shown_path, Inputs, MissingInput};
use crate::studies::{read_studies, Study};
use crate::table::{csv_num, md_delta, md_num, Table};

/// Flat and best trial of one search, as (a1, p_s, p_o).
pub(crate) struct Comparison {
    pub pair: String,
    pub who: &'static str,
    pub source: String,
    pub trials: String,
    pub flat: Option<[f64; 3]>,
    pub best: Option<[f64; 3]>,
}

impl Comparison {
    /// (Δp_o, Δp_s) of best against flat.
    pub fn deltas(&self) -> Option<(f64, f64)> {
        let (flat, best) = (self.flat?, self.best?);
        Some((best[2] - flat[2], best[1] - flat[1]))
    }

    /// `run`, read from the logs in `dir`.
    fn from_authors(dir: &Path, run: &AuthorsRun) -> Self {
        let scores = |t: &AuthorsTrial| [t.a1, t.a2, t.a3];
        Comparison {
            pair: run.name.clone(),
            who: "authors",
            source: shown_path(dir, &run.path),
            trials: format!("{} of {}", run.last_search().len(), run.trials.len()),
            flat: run.flat().map(scores),
            best: run.best().map(scores),
        }
    }

    fn from_study(study: &Study) -> Self {
        let scores = |t: &crate::studies::StudyTrial| Some([t.a1?, t.p_s?, t.p_o?]);
        Comparison {
            pair: study.pair_key(),
            who: "ours",
            source: study.source.clone(),
            trials: study.trials.len().to_string(),
            flat: study.flat().and_then(scores),
            best: study.best().and_then(scores),
        }
    }
}

/// The comparisons available from `inputs`, sorted by pair, authors first; `None` when
/// there are neither logs nor studies.
pub(crate) fn comparisons(inputs: &Inputs) -> Result<Option<Vec<Comparison>>> {
    let mut rows: Vec<Comparison> = match &inputs.authors_logs {
        Some(dir) => read_runs(dir)?
            .iter()
            .map(|run| Comparison::from_authors(dir, run))
            .collect(),
        None => Vec::new(),
    };
    let studies = read_studies(&inputs.results)?;
    if rows.is_empty() && studies.is_empty() {
        return Ok(None);
    }
    rows.extend(studies.iter().map(Comparison::from_study));
    rows.sort_by(|a, b| (&a.pair, a.who, &a.source).cmp(&(&b.pair, b.who, &b.source)));
    Ok(Some(rows))
}

pub(crate) fn authors_table(inputs: &Inputs) -> Result<Table> {
    let Some(rows) = comparisons(inputs)? else {
        let missing = match &inputs.authors_logs {
            Some(dir) => format!(
                "no *.log_file.csv in {} and no study exports",
                dir.display()
            ),
            None => "no authors' logs given and no study exports".to_string(),
        };
        return Err(MissingInput::error("table authors", missing));
    };
    let mut table = Table {
        title: "Flat first trial vs best trial of each search: the authors' logs and ours"
            .to_string(),
        ..Table::default()
    };
    table.md_header = [
        "pair",
        "who",
        "trials",
        "flat a1/p_s/p_o",
        "best a1/p_s/p_o",
        "Δp_o",
        "Δp_s",
    ]
    .map(String::from)
    .to_vec();
    table.csv_header = [
        "pair", "who", "source", "trials", "flat_a1", "flat_p_s", "flat_p_o", "best_a1",
        "best_p_s", "best_p_o", "d_p_o", "d_p_s",
    ]
    .map(String::from)
    .to_vec();
    let triple = |t: Option<[f64; 3]>| {
        t.map_or("—".to_string(), |t| {
            t.map(|v| md_num(Some(v))).join(" / ")
        })
    };
    for row in &rows {
        let deltas = row.deltas();
        table.md_rows.push(vec![
            row.pair.clone(),
            row.who.to_string(),
            row.trials.clone(),
            triple(row.flat),
            triple(row.best),
            deltas.map_or("—".into(), |d| md_delta(d.0)),
            deltas.map_or("—".into(), |d| md_delta(d.1)),
        ]);
        let mut csv = vec![
            row.pair.clone(),
            row.who.to_string(),
            row.source.clone(),
            row.trials.clone(),
        ];
        for t in [row.flat, row.best] {
            csv.extend((0..3).map(|k| csv_num(t.map(|t| t[k]))));
        }
        csv.push(csv_num(deltas.map(|d| d.0)));
        csv.push(csv_num(deltas.map(|d| d.1)));
        table.csv_rows.push(csv);
    }
    let sources: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    table.footer = vec![
        format!("Source: {} searches: {}.", rows.len(), sources.join(", ")),
        "Authors: the last search in each log, from its all-1e-5 first trial on (trials: \
         that search's of the log's), one seed, validation accuracy. Ours: a study's flat \
         trial is its lowest-numbered complete trial with equal rates in every group; best = \
         highest p_o + p_s among complete trials. — : no flat trial in that search (ours: \
         none complete; a pruned flat trial's scores are after fewer epochs of task B, so \
         not comparable with the best trial's)."
            .to_string(),
    ];
    Ok(table)
}
