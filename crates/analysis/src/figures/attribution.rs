//! Where forgetting lives: per surveyed setting, the p_o recovered by putting each depth's
//! post-A weights back (docs/METHOD.md, "Where forgetting lives"), one line per setting.

use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    colour, index_label, legend_height, padded_range, plot_height, room_below, Figure,
};
use crate::inputs::MissingInput;
use crate::runs::read_runs;
use crate::tables::regime::recovered;

const FONT: &str = "sans-serif";
const CAPTION_PX: u32 = 20;
const LEGEND_PX: u32 = 12;
const X_LABELS_PX: u32 = 45;
const MARGIN_PX: u32 = 12;

pub(crate) struct AttributionFigure {
    depths: Vec<String>,
    /// (setting, recovered p_o per depth).
    lines: Vec<(String, Vec<f64>)>,
}

pub(crate) fn figure(results: &Path) -> Result<AttributionFigure> {
    let rec = recovered(&read_runs(results)?);
    if rec.rows.is_empty() {
        return Err(MissingInput::error(
            "figure attribution",
            "no flat run record at scale forget with an attribution",
        ));
    }
    Ok(AttributionFigure {
        depths: rec.depths,
        lines: rec
            .rows
            .into_iter()
            .map(|(setting, (per_depth, _, _))| (setting, per_depth))
            .collect(),
    })
}

impl Figure for AttributionFigure {
    fn size(&self) -> (u32, u32) {
        (900, 620)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let n = self.depths.len().max(1);
        let y = room_below(
            padded_range(
                self.lines
                    .iter()
                    .flat_map(|(_, v)| v.iter().copied())
                    .chain([0.0]),
            ),
            legend_height(self.lines.len(), LEGEND_PX),
            plot_height(root, CAPTION_PX, X_LABELS_PX, MARGIN_PX),
        );
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Where forgetting lives: p_o recovered by restoring one depth (flat, forget scale)",
                (FONT, CAPTION_PX),
            )
            .margin(MARGIN_PX)
            .x_label_area_size(X_LABELS_PX)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..n as f64 - 0.5, y)?;
        let depths = self.depths.clone();
        let label = move |x: &f64| {
            let i = index_label(x);
            i.parse::<usize>()
                .ok()
                .and_then(|d| depths.get(d))
                .map(|s| s.replace("layer ", "L"))
                .unwrap_or(i)
        };
        chart
            .configure_mesh()
            .x_desc("depth put back to its post-A weights (L = encoder layer)")
            .y_desc("p_o recovered (task A dev score - p_o)")
            .light_line_style(TRANSPARENT)
            .x_labels(n + 1)
            .x_label_formatter(&label)
            .label_style((FONT, 13))
            .draw()?;
        chart.draw_series(LineSeries::new(
            vec![(-0.5, 0.0), (n as f64 - 0.5, 0.0)],
            BLACK.mix(0.4).stroke_width(1),
        ))?;
        for (i, (setting, values)) in self.lines.iter().enumerate() {
            let c = colour(i);
            let points: Vec<(f64, f64)> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(d, &v)| (d as f64, v))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), c.stroke_width(2)))?
                .label(setting)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                });
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, LEGEND_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    }
}
