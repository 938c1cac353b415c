//! (f) Ours beside the authors' raw logs: top, the authors' per-pair distributions (their
//! rank-weighted combination of each log, and the best trial of its last search); bottom,
//! Δp_o and Δp_s of the best trial against the flat first trial, theirs and ours.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    colour, grid_size, index_label, log_range, padded_range, panels, rate_label, Figure, FONT,
};
use crate::inputs::{Inputs, MissingInput};
use crate::tables::{comparisons, Comparison};

pub(crate) struct Authors {
    /// Per log: name, rank-weighted combination, best trial of the last search.
    runs: Vec<(String, Vec<f64>, Option<Vec<f64>>)>,
    comparisons: Vec<Comparison>,
}

pub(crate) fn figure(inputs: &Inputs) -> Result<Authors> {
    let Some(dir) = &inputs.authors_logs else {
        return Err(MissingInput::error(
            "figure authors",
            "no authors' logs directory given",
        ));
    };
    let runs = lrdist_combine::authors_logs::read_runs(dir)?;
    if runs.is_empty() {
        let missing = format!("no *.log_file.csv in {}", dir.display());
        return Err(MissingInput::error("figure authors", missing));
    }
    let runs = runs
        .iter()
        .map(|run| {
            (
                run.name.clone(),
                run.combination(),
                run.best().map(|b| b.rates.clone()),
            )
        })
        .collect();
    let comparisons = comparisons(inputs)?
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.deltas().is_some())
        .collect();
    Ok(Authors { runs, comparisons })
}

const COLUMNS: usize = 5;
const PANEL: (u32, u32) = (320, 250);
const BARS_HEIGHT: u32 = 420;
const TITLE_HEIGHT: u32 = 40;

impl Figure for Authors {
    fn size(&self) -> (u32, u32) {
        let (width, height) = grid_size(self.runs.len(), COLUMNS, PANEL);
        (
            width.max(PANEL.0 * COLUMNS as u32),
            TITLE_HEIGHT + height + BARS_HEIGHT,
        )
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let title = "The authors' raw logs: rates per group (solid: rank-weighted combination \
                     of the log; dashed: best trial of its last search), and best vs flat";
        let root = root.titled(title, (FONT, 18))?;
        let grid_height = grid_size(self.runs.len(), COLUMNS, PANEL).1;
        let (top, bottom) = root.split_vertically(grid_height);
        let areas = panels(&top, self.runs.len(), COLUMNS);
        for (area, (name, combination, best)) in areas.iter().zip(&self.runs) {
            draw_run(area, name, combination, best.as_deref())?;
        }
        draw_deltas(&bottom, &self.comparisons)
    }
}

/// One log's distributions on a log axis.
fn draw_run<DB>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    combination: &[f64],
    best: Option<&[f64]>,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let groups = combination.len();
    let values = combination.iter().chain(best.unwrap_or(&[])).copied();
    let mut chart = ChartBuilder::on(area)
        .caption(name, (FONT, 15))
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(48)
        .build_cartesian_2d(-0.5f64..groups as f64 - 0.5, log_range(values).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(groups + 1)
        .x_label_formatter(&index_label)
        .y_labels(5)
        .y_label_formatter(&rate_label)
        .label_style((FONT, 11))
        .draw()?;
    let points = |rates: &[f64]| -> Vec<(f64, f64)> {
        rates
            .iter()
            .enumerate()
            .map(|(g, &r)| (g as f64, r))
            .collect()
    };
    chart.draw_series(LineSeries::new(
        points(combination),
        colour(0).stroke_width(3),
    ))?;
    if let Some(best) = best {
        chart.draw_series(DashedLineSeries::new(
            points(best),
            6,
            4,
            colour(1).stroke_width(2),
        ))?;
    }
    Ok(())
}

/// The four bars of a pair: (who, which delta, colour, filled).
const BARS: [(&str, &str); 4] = [
    ("authors", "Δp_o"),
    ("authors", "Δp_s"),
    ("ours", "Δp_o"),
    ("ours", "Δp_s"),
];

fn draw_deltas<DB>(area: &DrawingArea<DB, Shift>, rows: &[Comparison]) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let mut pairs: Vec<&str> = rows.iter().map(|r| r.pair.as_str()).collect();
    pairs.dedup();
    let values = rows
        .iter()
        .filter_map(Comparison::deltas)
        .flat_map(|(o, s)| [o, s, 0.0]);
    let mut chart = ChartBuilder::on(area)
        .caption("Best vs flat first trial: Δp_o and Δp_s", (FONT, 20))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(65)
        .build_cartesian_2d(
            -0.5f64..pairs.len().max(1) as f64 - 0.5,
            padded_range(values),
        )?;
    let names = pairs.clone();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .x_labels(pairs.len() + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            let on_pair = (x - i).abs() < 1e-6 && i >= 0.0;
            on_pair
                .then(|| names.get(i as usize).copied())
                .flatten()
                .unwrap_or("")
                .to_string()
        })
        .y_desc("change (score units)")
        .label_style((FONT, 12))
        .draw()?;
    for (k, (who, delta)) in BARS.iter().enumerate() {
        let c = colour(if *delta == "Δp_o" { 0 } else { 1 });
        let style = if *who == "authors" {
            c.filled()
        } else {
            c.mix(0.45).filled()
        };
        let bars = rows.iter().filter(|r| r.who == *who).filter_map(|r| {
            let (d_o, d_s) = r.deltas()?;
            let x = pairs.iter().position(|p| *p == r.pair)? as f64 - 0.4 + 0.2 * k as f64;
            let value = if *delta == "Δp_o" { d_o } else { d_s };
            Some(Rectangle::new([(x + 0.01, 0.0), (x + 0.19, value)], style))
        });
        chart
            .draw_series(bars)?
            .label(format!("{who} {delta}"))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
    }
    chart.draw_series(LineSeries::new(
        vec![(-0.5, 0.0), (pairs.len() as f64 - 0.5, 0.0)],
        BLACK.stroke_width(1),
    ))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 13))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}
