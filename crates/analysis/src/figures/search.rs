//! Search figures, one panel per study: (c) objective against trial number with pruned
//! trials visible, (d) p_s against p_o of every trial with the Pareto front.

use std::path::Path;

use anyhow::Result;
use lrdist_record::TrialState;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    colour, grid_size, index_label, legend_height, padded_range, panels, plot_height, room_below,
    Figure, FONT,
};
use crate::inputs::MissingInput;
use crate::studies::{read_studies_in, SearchDir, Study, StudyTrial};

/// Panel layout of both search figures, in pixels (the y range leaves the legend room).
const CAPTION_PX: u32 = 18;
const MARGIN_PX: u32 = 10;
const X_LABELS_PX: u32 = 40;
const LEGEND_PX: u32 = 12;

const COLUMNS: usize = 2;

/// (x, y) points of a panel.
type Points = Vec<(f64, f64)>;
const PANEL: (u32, u32) = (640, 440);

pub(crate) struct Progress {
    studies: Vec<Study>,
}

pub(crate) struct Pareto {
    studies: Vec<Study>,
}

fn studies_with_scores(results: &Path, dir: SearchDir, what: &str) -> Result<Vec<Study>> {
    let studies: Vec<Study> = read_studies_in(results, dir)?
        .into_iter()
        .filter(|s| s.trials.iter().any(|t| t.objective.is_some()))
        .collect();
    if studies.is_empty() {
        let missing = format!(
            "no trial with an objective in {}",
            dir.path(results).join("*.csv").display()
        );
        return Err(MissingInput::error(what, missing));
    }
    Ok(studies)
}

/// Figure (c) from the study exports of `dir` (`results/search`, or the forget scale's
/// `results/search/forget`).
pub(crate) fn progress(results: &Path, dir: SearchDir, what: &str) -> Result<Progress> {
    Ok(Progress {
        studies: studies_with_scores(results, dir, what)?,
    })
}

/// Figure (d) from the study exports of `dir`.
pub(crate) fn pareto(results: &Path, dir: SearchDir, what: &str) -> Result<Pareto> {
    Ok(Pareto {
        studies: studies_with_scores(results, dir, what)?,
    })
}

/// The points of `study` for `value`, split into complete and pruned trials.
fn split(study: &Study, value: impl Fn(&StudyTrial) -> Option<(f64, f64)>) -> (Points, Points) {
    let points = |state: TrialState| -> Points {
        study
            .trials
            .iter()
            .filter(|t| t.state == state)
            .filter_map(&value)
            .collect()
    };
    (points(TrialState::Complete), points(TrialState::Pruned))
}

/// The running best objective over complete trials, as a step line.
fn running_best(study: &Study) -> Vec<(f64, f64)> {
    let mut best = f64::NEG_INFINITY;
    let mut line = Vec::new();
    for t in study.trials.iter().filter(|t| t.is_complete()) {
        let Some(objective) = t.objective else {
            continue;
        };
        if objective > best {
            if best.is_finite() {
                line.push((t.trial as f64, best));
            }
            best = objective;
            line.push((t.trial as f64, best));
        }
    }
    if let (Some(last), Some(end)) = (line.last().copied(), study.trials.last()) {
        line.push((end.trial as f64, last.1));
    }
    line
}

/// The non-dominated complete trials (maximising p_o and p_s), sorted by p_o.
pub(crate) fn pareto_front(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in sorted {
        if front.last().is_none_or(|last| p.1 > last.1) {
            front.push(p);
        }
    }
    front.reverse();
    front
}

impl Figure for Progress {
    fn size(&self) -> (u32, u32) {
        grid_size(self.studies.len(), COLUMNS, PANEL)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        for (area, study) in panels(root, self.studies.len(), COLUMNS)
            .iter()
            .zip(&self.studies)
        {
            draw_progress(area, study)?;
        }
        Ok(())
    }
}

fn draw_progress<DB>(area: &DrawingArea<DB, Shift>, study: &Study) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (complete, pruned) = split(study, |t| Some((t.trial as f64, t.objective?)));
    let last = study.trials.last().map_or(1.0, |t| t.trial as f64);
    let y = room_below(
        padded_range(complete.iter().chain(&pruned).map(|p| p.1)),
        legend_height(3, LEGEND_PX),
        plot_height(area, CAPTION_PX, X_LABELS_PX, MARGIN_PX),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("{}: search progress", study.name),
            (FONT, CAPTION_PX),
        )
        .margin(MARGIN_PX)
        .x_label_area_size(X_LABELS_PX)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5..last + 0.5, y)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("trial")
        .y_desc("objective p_o + p_s")
        .x_label_formatter(&index_label)
        .label_style((FONT, 12))
        .draw()?;
    let (done, cut) = (colour(0), colour(3));
    chart
        .draw_series(complete.iter().map(|&p| Circle::new(p, 4, done.filled())))?
        .label("complete")
        .legend(move |(x, y)| Circle::new((x + 10, y), 4, done.filled()));
    chart
        .draw_series(
            pruned
                .iter()
                .map(|&p| Cross::new(p, 4, cut.stroke_width(2))),
        )?
        .label("pruned (last rung reached)")
        .legend(move |(x, y)| Cross::new((x + 10, y), 4, cut.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            running_best(study),
            colour(2).stroke_width(2),
        ))?
        .label("best so far")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour(2).stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, LEGEND_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

impl Figure for Pareto {
    fn size(&self) -> (u32, u32) {
        grid_size(self.studies.len(), COLUMNS, PANEL)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        for (area, study) in panels(root, self.studies.len(), COLUMNS)
            .iter()
            .zip(&self.studies)
        {
            draw_pareto(area, study)?;
        }
        Ok(())
    }
}

fn draw_pareto<DB>(area: &DrawingArea<DB, Shift>, study: &Study) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (complete, pruned) = split(study, |t| Some((t.p_o?, t.p_s?)));
    let front = pareto_front(&complete);
    let x = padded_range(complete.iter().chain(&pruned).map(|p| p.0));
    let y = room_below(
        padded_range(complete.iter().chain(&pruned).map(|p| p.1)),
        legend_height(3, LEGEND_PX),
        plot_height(area, CAPTION_PX, X_LABELS_PX, MARGIN_PX),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(format!("{}: p_s vs p_o", study.name), (FONT, CAPTION_PX))
        .margin(MARGIN_PX)
        .x_label_area_size(X_LABELS_PX)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("p_o (old task after the new one)")
        .y_desc("p_s (new task)")
        .label_style((FONT, 12))
        .draw()?;
    let (done, cut, edge) = (colour(0), colour(3), colour(1));
    chart
        .draw_series(
            pruned
                .iter()
                .map(|&p| Cross::new(p, 4, cut.stroke_width(2))),
        )?
        .label("pruned (last rung reached)")
        .legend(move |(x, y)| Cross::new((x + 10, y), 4, cut.stroke_width(2)));
    chart
        .draw_series(complete.iter().map(|&p| Circle::new(p, 4, done.filled())))?
        .label("complete")
        .legend(move |(x, y)| Circle::new((x + 10, y), 4, done.filled()));
    chart
        .draw_series(LineSeries::new(front.clone(), edge.stroke_width(2)))?
        .label("Pareto front (complete)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], edge.stroke_width(2)));
    chart.draw_series(
        front
            .iter()
            .map(|&p| Circle::new(p, 6, edge.stroke_width(2))),
    )?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font((FONT, LEGEND_PX))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::pareto_front;

    #[test]
    fn front_keeps_the_non_dominated_points() {
        let points = [
            (0.9, 0.5),
            (0.8, 0.7),
            (0.85, 0.6),
            (0.7, 0.65),
            (0.6, 0.8),
            (0.8, 0.6),
        ];
        // (0.7, 0.65) is dominated by (0.8, 0.7); (0.8, 0.6) by (0.8, 0.7).
        assert_eq!(
            pareto_front(&points),
            vec![(0.6, 0.8), (0.8, 0.7), (0.85, 0.6), (0.9, 0.5)]
        );
    }
}
