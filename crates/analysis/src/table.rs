//! A finished table and how it is written: Markdown (`<name>.md`) and CSV (`<name>.csv`),
//! both ending with a footer that names the inputs. In the CSV the footer lines start with
//! `#` (read it with a comment prefix, e.g. pandas `comment="#"`).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use polars::prelude::{DataFrame, DataType};

/// Rows ready to print. Markdown and CSV columns may differ: the CSV carries every number
/// unrounded to 6 decimals, the Markdown a readable selection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub title: String,
    pub md_header: Vec<String>,
    pub md_rows: Vec<Vec<String>>,
    pub csv_header: Vec<String>,
    pub csv_rows: Vec<Vec<String>>,
    /// Footer lines: sources and definitions.
    pub footer: Vec<String>,
}

impl Table {
    /// Writes `<out_dir>/<name>.md` and `<out_dir>/<name>.csv`.
    pub fn write(&self, out_dir: &Path, name: &str) -> Result<Vec<PathBuf>> {
        fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
        let md = out_dir.join(format!("{name}.md"));
        fs::write(&md, self.markdown()).with_context(|| format!("writing {}", md.display()))?;
        let csv = out_dir.join(format!("{name}.csv"));
        fs::write(&csv, self.csv()?).with_context(|| format!("writing {}", csv.display()))?;
        Ok(vec![md, csv])
    }

    fn markdown(&self) -> String {
        let row = |cells: &[String]| {
            let cells: Vec<String> = cells.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = format!("# {}\n\n", self.title);
        out.push_str(&row(&self.md_header));
        out.push_str(&format!("|{}\n", "---|".repeat(self.md_header.len())));
        for cells in &self.md_rows {
            out.push_str(&row(cells));
        }
        for line in &self.footer {
            out.push_str(&format!("\n{line}\n"));
        }
        out
    }

    fn csv(&self) -> Result<Vec<u8>> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&self.csv_header)?;
        for row in &self.csv_rows {
            writer.write_record(row)?;
        }
        let mut out = writer.into_inner().context("flushing CSV")?;
        for line in &self.footer {
            out.extend_from_slice(format!("# {line}\n").as_bytes());
        }
        Ok(out)
    }
}

/// A score for Markdown: 4 decimals, `—` when absent.
pub(crate) fn md_num(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or("—".to_string(), |v| format!("{v:.4}"))
}

/// A signed difference for Markdown: `+0.0123`.
pub(crate) fn md_delta(value: f64) -> String {
    format!("{value:+.4}")
}

/// A p-value for Markdown: 4 decimals, scientific below 1e-4.
pub(crate) fn md_p(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// "mean ± sd", or the mean alone when there is no sd.
pub(crate) fn md_mean_sd(mean: Option<f64>, sd: Option<f64>) -> String {
    match (mean.filter(|m| m.is_finite()), sd.filter(|s| s.is_finite())) {
        (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
        (Some(m), None) => format!("{m:.4}"),
        _ => "—".to_string(),
    }
}

/// A number for CSV: 6 decimals, empty when absent.
pub(crate) fn csv_num(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v:.6}"))
}

/// A p-value for CSV: 6 significant digits, empty when absent.
pub(crate) fn csv_p(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or(String::new(), |v| format!("{v:.5e}"))
}

/// Column `name` of `df` as floats (cast when needed).
pub(crate) fn f64_column(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let column = df
        .column(name)
        .with_context(|| format!("column {name}"))?
        .cast(&DataType::Float64)
        .with_context(|| format!("column {name} as numbers"))?;
    Ok(column.f64()?.iter().collect())
}

/// Column `name` of `df` as text (`""` for nulls).
pub(crate) fn str_column(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let column = df.column(name).with_context(|| format!("column {name}"))?;
    Ok(column
        .str()?
        .iter()
        .map(|s| s.unwrap_or("").to_string())
        .collect())
}
