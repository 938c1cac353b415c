//! Learning-rate distributions per group on a log scale: (a) the combined distribution
//! against the flat rate (the paper's average-LR figure), (b) the best distribution of
//! each searched pair.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    colour, index_label, legend_height, log_range, log_room_below, plot_height, rate_label, Figure,
    COLOURS, FONT,
};
use crate::combined::{read_combined, read_combined_of, yaml_path, FORGET_COMBINED};
use crate::inputs::MissingInput;
use crate::runs::read_runs;
use crate::runs::FLAT;
use crate::studies::{read_studies, read_studies_in, SearchDir};

/// Chart layout in pixels (the y range leaves the legend room).
const CAPTION_PX: u32 = 20;
const MARGIN_PX: u32 = 12;
const X_LABELS_PX: u32 = 45;
const LEGEND_PX: u32 = 13;

// The paper's flat baseline rate (docs/METHOD.md "Baselines"), drawn when no flat run record
// says which flat rate was used.
use lrdist_record::PAPER_FLAT_RATE;

/// Rates per group, one line each.
pub(crate) struct Distributions {
    title: String,
    x_desc: String,
    lines: Vec<Line>,
    /// Horizontal reference rates (label, rate).
    flat: Vec<(String, f64)>,
}

#[derive(Clone)]
struct Line {
    label: String,
    rates: Vec<f64>,
    /// Thick with points (the distribution the figure is about) or thin.
    emphasis: bool,
    dashed: bool,
    colour: RGBColor,
}

/// Figure (a) from `results/combined/` and the flat run records.
pub(crate) fn combined(results: &Path) -> Result<Distributions> {
    let Some(combined) = read_combined(results)? else {
        let missing = format!(
            "no combined distribution at {}",
            yaml_path(results).display()
        );
        return Err(MissingInput::error("figure combined", missing));
    };
    let mut lines: Vec<Line> = combined
        .per_input
        .iter()
        .enumerate()
        .map(|(i, (input, rates))| Line {
            label: study_label(input),
            rates: rates.clone(),
            emphasis: false,
            dashed: false,
            colour: colour(i + 1),
        })
        .collect();
    let name = combined
        .name
        .clone()
        .unwrap_or_else(|| "combined".to_string());
    // The method's full description (`combined.json`) is too long for a legend: it would
    // widen the legend box past the plot's left edge and clip every colour key.
    let title = match combined.per_input.len() {
        0 => "Combined learning-rate distribution vs flat".to_string(),
        n => format!("Combined learning-rate distribution (1.8^-rank, {n} searches) vs flat"),
    };
    lines.push(Line {
        label: name,
        rates: combined.rates.clone(),
        emphasis: true,
        dashed: false,
        colour: colour(0),
    });
    let grouping = combined
        .grouping
        .clone()
        .unwrap_or_else(|| "groups".to_string());
    Ok(Distributions {
        title,
        x_desc: format!("group ({grouping}; 0 = embeddings, last = head)"),
        lines,
        flat: flat_rates(results)?,
    })
}

/// The flat rates of the flat run records, or the paper's when there are none.
fn flat_rates(results: &Path) -> Result<Vec<(String, f64)>> {
    let runs = read_runs(results)?;
    let rates: BTreeSet<u64> = runs
        .runs
        .iter()
        .filter(|r| r.record.method == FLAT)
        .filter_map(|r| r.record.distribution.rates.first().copied())
        .map(f64::to_bits)
        .collect();
    if rates.is_empty() {
        return Ok(vec![(
            format!("flat {PAPER_FLAT_RATE:e} (paper baseline)"),
            PAPER_FLAT_RATE,
        )]);
    }
    Ok(rates
        .into_iter()
        .map(f64::from_bits)
        .map(|r| (format!("flat {r:e} (runs)"), r))
        .collect())
}

/// `results/search/sst2_mrpc.csv` → `sst2_mrpc`.
fn study_label(input: &str) -> String {
    Path::new(input)
        .file_stem()
        .map_or(input.to_string(), |s| s.to_string_lossy().into_owned())
}

/// Figure (b) from the study exports.
pub(crate) fn best(results: &Path) -> Result<Distributions> {
    let studies = read_studies(results)?;
    let lines: Vec<Line> = studies
        .iter()
        .filter_map(|s| Some((s, s.best()?)))
        .filter(|(_, best)| !best.rates.is_empty())
        .enumerate()
        .map(|(i, (study, best))| Line {
            label: format!("{} (trial {})", study.name, best.trial),
            rates: best.rates.clone(),
            emphasis: true,
            dashed: false,
            colour: colour(i),
        })
        .collect();
    if lines.is_empty() {
        let missing = format!(
            "no complete trial with rates in {}",
            results.join("search").join("*.csv").display()
        );
        return Err(MissingInput::error("figure best-distributions", missing));
    }
    Ok(Distributions {
        title: "Best distribution of each search".to_string(),
        x_desc: "group (0 = embeddings, last = head)".to_string(),
        lines,
        flat: Vec::new(),
    })
}

/// Figure (b) at the forget scale: the best distribution of each study in
/// `results/search/forget`, their combination (`results/combined/forget.yaml`) when it
/// exists, and the flat rate of the forget scale's flat records.
pub(crate) fn best_forget(results: &Path) -> Result<Distributions> {
    let studies = read_studies_in(results, SearchDir::Forget)?;
    let mut lines: Vec<Line> = studies
        .iter()
        .filter_map(|s| Some((s, s.best()?)))
        .filter(|(_, best)| !best.rates.is_empty())
        .enumerate()
        .map(|(i, (study, best))| Line {
            label: format!("{} (trial {})", study.name, best.trial),
            rates: best.rates.clone(),
            emphasis: true,
            dashed: false,
            colour: colour(i),
        })
        .collect();
    if lines.is_empty() {
        let missing = format!(
            "no complete trial with rates in {}",
            SearchDir::Forget.path(results).join("*.csv").display()
        );
        return Err(MissingInput::error(
            "figure best-distributions-forget",
            missing,
        ));
    }
    if let Some(combined) = read_combined_of(results, FORGET_COMBINED)? {
        lines.push(Line {
            label: format!("combined ({FORGET_COMBINED}.yaml)"),
            rates: combined.rates,
            emphasis: true,
            dashed: true,
            colour: RGBColor(0, 0, 0),
        });
    }
    let runs = read_runs(results)?;
    let rates: BTreeSet<u64> = runs
        .runs
        .iter()
        .filter(|r| r.record.scale == "forget" && r.record.method == FLAT)
        .filter_map(|r| r.record.distribution.rates.first().copied())
        .map(f64::to_bits)
        .collect();
    Ok(Distributions {
        title: "Best distribution of each search at the forget scale (stage B rates)".to_string(),
        x_desc: "group (0 = embeddings, last = head)".to_string(),
        lines,
        flat: rates
            .into_iter()
            .map(f64::from_bits)
            .map(|r| (format!("flat {r:e} (forget runs)"), r))
            .collect(),
    })
}

impl Figure for Distributions {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        draw_distributions(root, &self.title, &self.x_desc, &self.lines, &self.flat)
    }
}

/// The colour of the `i`-th flat reference line: the `i`-th colour no line has (or, when
/// the lines use them all, the next ones in turn).
fn flat_colour(lines: &[Line], i: usize) -> RGBColor {
    let used: Vec<RGBColor> = lines.iter().map(|l| l.colour).collect();
    let free: Vec<RGBColor> = (0..COLOURS)
        .map(colour)
        .filter(|c| !used.contains(c))
        .collect();
    free.get(i)
        .copied()
        .unwrap_or_else(|| colour(lines.len() + i))
}

fn draw_distributions<DB>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    x_desc: &str,
    lines: &[Line],
    flat: &[(String, f64)],
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let groups = lines.iter().map(|l| l.rates.len()).max().unwrap_or(1);
    let all = lines
        .iter()
        .flat_map(|l| l.rates.iter().copied())
        .chain(flat.iter().map(|f| f.1));
    let y = log_room_below(
        log_range(all),
        legend_height(lines.len() + flat.len(), LEGEND_PX),
        plot_height(area, CAPTION_PX, X_LABELS_PX, MARGIN_PX),
    );
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, CAPTION_PX))
        .margin(MARGIN_PX)
        .x_label_area_size(X_LABELS_PX)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5f64..groups as f64 - 0.5, y.log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc("learning rate")
        .light_line_style(TRANSPARENT)
        .y_labels(8)
        .x_labels(groups + 1)
        .x_label_formatter(&index_label)
        .y_label_formatter(&rate_label)
        .label_style((FONT, 13))
        .draw()?;
    for line in lines {
        let points: Vec<(f64, f64)> = line
            .rates
            .iter()
            .enumerate()
            .map(|(g, &r)| (g as f64, r))
            .collect();
        let width = if line.emphasis { 3 } else { 1 };
        let style = line.colour.stroke_width(width);
        let c = line.colour;
        let series = if line.dashed {
            chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))?
        } else {
            chart.draw_series(LineSeries::new(points.clone(), style))?
        };
        series.label(&line.label).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(width))
        });
        if line.emphasis {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
        }
    }
    for (i, (label, rate)) in flat.iter().enumerate() {
        let c = flat_colour(lines, i);
        let ends = vec![(-0.5, *rate), (groups as f64 - 0.5, *rate)];
        chart
            .draw_series(DashedLineSeries::new(ends, 8, 5, c.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Four searches combined, as `make combine` writes them (no run records).
    fn results_with_a_combination() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let combined = dir.path().join("combined");
        std::fs::create_dir_all(&combined).unwrap();
        let rates = "[1e-5, 2e-6, 3e-5, 1e-4]";
        std::fs::write(
            combined.join("combined.yaml"),
            format!("name: combined\ngrouping: per-layer\nsource_layers: 2\nrates: {rates}\n"),
        )
        .unwrap();
        let per_input: Vec<String> = ["a_b", "b_a", "c_b", "b_c"]
            .iter()
            .map(|s| format!("[\"results/search/{s}.sqlite\", {rates}]"))
            .collect();
        let method = "within each input: geometric mean of each group's rate weighted by \
                      1.8^-rank (ordinal rank by p_o + p_s, 0 = best, ties by trial order); \
                      across the 4 inputs: plain geometric mean";
        std::fs::write(
            combined.join("combined.json"),
            format!(
                "{{\"rates\": {rates}, \"per_input\": [{}], \"method\": \"{method}\"}}",
                per_input.join(", ")
            ),
        )
        .unwrap();
        dir
    }

    #[test]
    fn the_combined_figure_names_each_line_briefly_and_its_method_in_the_title() {
        let dir = results_with_a_combination();
        let fig = combined(dir.path()).unwrap();
        let labels: Vec<&str> = fig.lines.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["a_b", "b_a", "c_b", "b_c", "combined"]);
        assert!(fig.title.contains("1.8^-rank, 4 searches"), "{}", fig.title);
        assert_eq!(fig.flat.len(), 1, "the paper's flat rate when no run says");
    }

    #[test]
    fn flat_reference_lines_take_colours_no_line_has() {
        let dir = results_with_a_combination();
        let fig = combined(dir.path()).unwrap();
        let used: Vec<RGBColor> = fig.lines.iter().map(|l| l.colour).collect();
        let flats: Vec<RGBColor> = (0..3).map(|i| flat_colour(&fig.lines, i)).collect();
        for c in &flats {
            assert!(!used.contains(c), "{c:?} is a line's colour");
        }
        assert!(flats[0] != flats[1] && flats[1] != flats[2]);
    }

    #[test]
    fn flat_lines_still_get_a_colour_when_the_lines_use_every_one() {
        let dir = results_with_a_combination();
        let mut fig = combined(dir.path()).unwrap();
        let template = fig.lines.pop().unwrap();
        fig.lines = (0..COLOURS)
            .map(|i| Line {
                colour: colour(i),
                label: format!("line {i}"),
                ..template.clone()
            })
            .collect();
        assert_eq!(flat_colour(&fig.lines, 0), colour(COLOURS));
    }
}
