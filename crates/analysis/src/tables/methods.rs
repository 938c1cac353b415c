//! Method tables from the run records: per (scenario, method, scale), mean ± sd over seeds
//! and the paired difference to the flat learning rate.
//!
//! `main`: a1, p_s, p_o, forgetting and p_o + p_s (docs/METHOD.md "Forgetting protocol").
//! `cl`: average accuracy, backward transfer and forgetting over the whole accuracy matrix
//! (docs/METHOD.md "Metrics").

use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use crate::inputs::MissingInput;
use crate::runs::{read_runs, to_frame, RunSet, FLAT};
use crate::stats::PairedTest;
use crate::table::{csv_num, csv_p, f64_column, md_delta, md_mean_sd, md_p, str_column, Table};

/// A metric column of the run-record frame and how the table shows it.
struct Metric {
    column: &'static str,
    label: &'static str,
    /// Whether the Markdown shows its difference to flat (the CSV always has it).
    delta_in_markdown: bool,
}

const MAIN: &[Metric] = &[
    Metric {
        column: "a1",
        label: "a1",
        delta_in_markdown: false,
    },
    Metric {
        column: "p_s",
        label: "p_s",
        delta_in_markdown: true,
    },
    Metric {
        column: "p_o",
        label: "p_o",
        delta_in_markdown: true,
    },
    Metric {
        column: "forgetting",
        label: "forgetting",
        delta_in_markdown: false,
    },
    Metric {
        column: "objective",
        label: "p_o+p_s",
        delta_in_markdown: true,
    },
];

const CL: &[Metric] = &[
    Metric {
        column: "cl_avg_accuracy",
        label: "avg acc",
        delta_in_markdown: true,
    },
    Metric {
        column: "cl_backward_transfer",
        label: "BWT",
        delta_in_markdown: true,
    },
    Metric {
        column: "cl_max_drop_forgetting",
        label: "max-drop forgetting",
        delta_in_markdown: true,
    },
];

pub(crate) fn main_table(results: &Path) -> Result<Table> {
    let runs = read_runs(results)?;
    if runs.runs.is_empty() {
        return Err(MissingInput::error("table main", no_runs(results)));
    }
    let title =
        "Forgetting per scenario and method (mean ± sd over seeds; Δ to flat, paired by seed)";
    method_table(&runs, MAIN, title)
}

pub(crate) fn cl_table(results: &Path) -> Result<Table> {
    let mut runs = read_runs(results)?;
    if runs.runs.is_empty() {
        return Err(MissingInput::error("table cl", no_runs(results)));
    }
    runs.retain(|r| r.record.cl.is_some());
    if runs.runs.is_empty() {
        return Err(MissingInput::error(
            "table cl",
            "no run record has continual-learning metrics",
        ));
    }
    let title = "Continual-learning metrics per scenario and method (mean ± sd over seeds; Δ to flat, paired by seed)";
    method_table(&runs, CL, title)
}

pub(super) fn no_runs(results: &Path) -> String {
    format!(
        "no run records in {}",
        results.join("runs").join("*.jsonl").display()
    )
}

fn method_table(runs: &RunSet, metrics: &[Metric], title: &str) -> Result<Table> {
    let frame = to_frame(runs)?;
    let columns: Vec<&str> = metrics.iter().map(|m| m.column).collect();
    let summary = summarise(&frame, &columns)?;
    let rows = Rows::read(&summary, &columns)?;
    let mut table = Table {
        title: title.to_string(),
        md_header: md_header(metrics),
        csv_header: csv_header(metrics),
        ..Table::default()
    };
    for i in 0..rows.method.len() {
        table.md_rows.push(rows.markdown(i, metrics));
        table.csv_rows.push(rows.csv(i, metrics));
    }
    table.footer = vec![
        format!("Source: {}.", runs.provenance()),
        format!(
            "Δ = method − {FLAT}, paired by seed within (scenario, scale); p: two-sided paired \
             t-test with n − 1 degrees of freedom (n = seeds present for both); no test below \
             n = 2. Scores are validation scores of each task's primary metric."
        ),
    ];
    Ok(table)
}

/// One row per (scenario, method, scale): `n`, `<m>_mean`, `<m>_sd`, and against flat
/// `d_<m>_mean`, `d_<m>_sd`, `d_<m>_n`; sorted by scenario, scale, flat first, method.
pub(super) fn summarise(runs: &DataFrame, metrics: &[&str]) -> Result<DataFrame> {
    let keys = [col("scenario"), col("method"), col("scale")];
    let pair_keys = [col("scenario"), col("scale"), col("seed")];
    let mut stats = vec![len().alias("n")];
    let mut flat = pair_keys.to_vec();
    let mut deltas = Vec::new();
    for m in metrics {
        stats.push(col(*m).mean().alias(format!("{m}_mean")));
        stats.push(col(*m).std(1).alias(format!("{m}_sd")));
        flat.push(col(*m).alias(format!("{m}_flat")));
        let delta = col(*m) - col(format!("{m}_flat"));
        deltas.push(delta.clone().mean().alias(format!("d_{m}_mean")));
        deltas.push(delta.clone().std(1).alias(format!("d_{m}_sd")));
        deltas.push(delta.count().alias(format!("d_{m}_n")));
    }
    let flat = runs
        .clone()
        .lazy()
        .filter(col("method").eq(lit(FLAT)))
        .select(flat);
    let paired = runs
        .clone()
        .lazy()
        .filter(col("method").neq(lit(FLAT)))
        .join(
            flat,
            pair_keys.clone(),
            pair_keys,
            JoinArgs::new(JoinType::Inner),
        )
        .group_by(keys.clone())
        .agg(deltas);
    let summary = runs
        .clone()
        .lazy()
        .group_by(keys.clone())
        .agg(stats)
        .join(paired, keys.clone(), keys, JoinArgs::new(JoinType::Left))
        .sort_by_exprs(
            [
                col("scenario"),
                col("scale"),
                col("method").neq(lit(FLAT)),
                col("method"),
            ],
            SortMultipleOptions::default(),
        )
        .collect()?;
    Ok(summary)
}

/// The summary frame as plain vectors.
pub(super) struct Rows {
    pub(super) scenario: Vec<String>,
    pub(super) method: Vec<String>,
    pub(super) scale: Vec<String>,
    n: Vec<Option<f64>>,
    /// Per metric: mean, sd, Δ mean, Δ sd, Δ n.
    values: Vec<[Vec<Option<f64>>; 5]>,
}

impl Rows {
    pub(super) fn read(summary: &DataFrame, metrics: &[&str]) -> Result<Self> {
        let values = metrics
            .iter()
            .map(|m| {
                Ok([
                    f64_column(summary, &format!("{m}_mean"))?,
                    f64_column(summary, &format!("{m}_sd"))?,
                    f64_column(summary, &format!("d_{m}_mean"))?,
                    f64_column(summary, &format!("d_{m}_sd"))?,
                    f64_column(summary, &format!("d_{m}_n"))?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Rows {
            scenario: str_column(summary, "scenario")?,
            method: str_column(summary, "method")?,
            scale: str_column(summary, "scale")?,
            n: f64_column(summary, "n")?,
            values,
        })
    }

    /// Mean over seeds of metric `m` in row `i`.
    pub(super) fn mean(&self, i: usize, m: usize) -> Option<f64> {
        self.values[m][0][i]
    }

    /// Sample sd over seeds of metric `m` in row `i`.
    pub(super) fn sd(&self, i: usize, m: usize) -> Option<f64> {
        self.values[m][1][i]
    }

    /// The number of records (seeds) of row `i`.
    pub(super) fn count(&self, i: usize) -> usize {
        self.n[i].map_or(0, |n| n as usize)
    }

    fn seeds(&self, i: usize) -> String {
        self.n[i].map_or(String::new(), |n| format!("{n:.0}"))
    }

    /// The paired test of metric `m` in row `i`, or why there is none.
    pub(super) fn delta(&self, i: usize, m: usize) -> Delta {
        if self.method[i] == FLAT {
            return Delta::Reference;
        }
        let [_, _, mean, sd, n] = &self.values[m];
        match (mean[i], n[i]) {
            (Some(mean), Some(n)) if n >= 1.0 => {
                let test = PairedTest::from_summary(mean, sd[i].unwrap_or(f64::NAN), n as usize);
                Delta::Paired {
                    mean,
                    sd: sd[i],
                    test,
                }
            }
            _ => Delta::NoFlat,
        }
    }

    fn markdown(&self, i: usize, metrics: &[Metric]) -> Vec<String> {
        let mut cells = vec![
            self.scenario[i].clone(),
            self.method[i].clone(),
            self.scale[i].clone(),
            self.seeds(i),
        ];
        for (m, _) in metrics.iter().enumerate() {
            cells.push(md_mean_sd(self.values[m][0][i], self.values[m][1][i]));
        }
        for (m, metric) in metrics.iter().enumerate() {
            if metric.delta_in_markdown {
                cells.push(self.delta(i, m).markdown());
            }
        }
        cells
    }

    fn csv(&self, i: usize, metrics: &[Metric]) -> Vec<String> {
        let mut cells = vec![
            self.scenario[i].clone(),
            self.method[i].clone(),
            self.scale[i].clone(),
            self.seeds(i),
        ];
        for (m, _) in metrics.iter().enumerate() {
            cells.push(csv_num(self.values[m][0][i]));
            cells.push(csv_num(self.values[m][1][i]));
        }
        for (m, _) in metrics.iter().enumerate() {
            cells.extend(self.delta(i, m).csv());
        }
        cells
    }
}

pub(super) enum Delta {
    /// The flat row itself.
    Reference,
    /// No flat record shares a seed with this method.
    NoFlat,
    Paired {
        mean: f64,
        sd: Option<f64>,
        test: PairedTest,
    },
}

impl Delta {
    pub(super) fn markdown(&self) -> String {
        match self {
            Delta::Reference => "ref.".to_string(),
            Delta::NoFlat => "no flat pair".to_string(),
            Delta::Paired { mean, test, .. } => match test {
                PairedTest::TooFew { n } => format!("{} (n={n}, no test)", md_delta(*mean)),
                PairedTest::NoVariance { n } => {
                    format!("{} (n={n}, sd 0, no test)", md_delta(*mean))
                }
                PairedTest::Tested { n, p, .. } => {
                    format!("{} (p={}, n={n})", md_delta(*mean), md_p(*p))
                }
            },
        }
    }

    /// Δ mean, Δ sd, n, t, p.
    pub(super) fn csv(&self) -> [String; 5] {
        match self {
            Delta::Reference | Delta::NoFlat => Default::default(),
            Delta::Paired { mean, sd, test } => {
                let (n, t, p) = match *test {
                    PairedTest::TooFew { n } | PairedTest::NoVariance { n } => (n, None, None),
                    PairedTest::Tested { n, t, p } => (n, Some(t), Some(p)),
                };
                [
                    csv_num(Some(*mean)),
                    csv_num(*sd),
                    n.to_string(),
                    csv_num(t),
                    csv_p(p),
                ]
            }
        }
    }
}

fn md_header(metrics: &[Metric]) -> Vec<String> {
    let mut header: Vec<String> = ["scenario", "method", "scale", "seeds"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(metrics.iter().map(|m| m.label.to_string()));
    let delta = |label: &str| {
        if label.contains('+') {
            format!("Δ({label}) vs {FLAT}")
        } else {
            format!("Δ{label} vs {FLAT}")
        }
    };
    header.extend(
        metrics
            .iter()
            .filter(|m| m.delta_in_markdown)
            .map(|m| delta(m.label)),
    );
    header
}

fn csv_header(metrics: &[Metric]) -> Vec<String> {
    let mut header: Vec<String> = ["scenario", "method", "scale", "seeds"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for m in metrics {
        header.push(format!("{}_mean", m.column));
        header.push(format!("{}_sd", m.column));
    }
    for m in metrics {
        for suffix in ["mean", "sd", "n", "t", "p"] {
            header.push(format!("d_{}_{suffix}", m.column));
        }
    }
    header
}
