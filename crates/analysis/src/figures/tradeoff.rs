//! The learning–forgetting trade-off at the forget scale (docs/METHOD.md, "The flat
//! frontier" and "Evaluation at the forget scale"): one panel per setting, p_s (learning B)
//! against p_o (keeping A), every method's mean ± sd in both axes and the flat curve drawn
//! through the flat points at their rates that no other flat point beats in both (those it
//! beats are drawn unconnected, labelled "off the curve"), all over the curve's seeds (those every flat point
//! ran; `CurveMeans`), as the frontier table judges them. A method above the curve keeps
//! more of A than flat does at the same learning of B; one on it makes a trade a flat rate
//! makes.
//! A flat point far from every method (a rate that collapses task A) is drawn at the
//! panel's edge with its value, and the curve is cut there ([`frame`]), so that it does not
//! squash the methods into one corner.

use std::ops::Range;
use std::path::Path;

use anyhow::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{colour, grid_size, padded_range, panels, Figure, FONT};
use crate::tables::forget::{Evaluation, MethodRow, Role, Setting};

const CAPTION_PX: u32 = 17;
const MARGIN_PX: u32 = 10;
const X_LABELS_PX: u32 = 40;
const Y_LABELS_PX: u32 = 56;
const LABEL_PX: u32 = 11;
const LEGEND_PX: u32 = 14;
const LEGEND_ROW_PX: u32 = 24;
const LEGEND_COLUMNS: usize = 5;
const PANEL: (u32, u32) = (600, 470);

/// One point to draw: a mean with its sd in both axes.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    label: String,
    p_s: f64,
    p_o: f64,
    p_s_sd: f64,
    p_o_sd: f64,
}

impl Point {
    /// `m` at its means over the curve's seeds, as the frontier judges it.
    fn of(m: &MethodRow, label: String) -> Option<Self> {
        let c = &m.on_curve_seeds;
        Some(Point {
            label,
            p_s: c.p_s?,
            p_o: c.p_o?,
            p_s_sd: c.p_s_sd.unwrap_or(0.0),
            p_o_sd: c.p_o_sd.unwrap_or(0.0),
        })
    }
}

struct Panel {
    title: String,
    /// The flat points on the curve ordered by p_s, labelled with their rates.
    curve: Vec<Point>,
    /// The flat points off it (another flat point beats them in both), drawn unconnected.
    off_curve: Vec<Point>,
    /// (index into [`TradeOff::methods`], point).
    methods: Vec<(usize, Point)>,
}

pub(crate) struct TradeOff {
    panels: Vec<Panel>,
    /// Every method drawn, in table order; a method's colour is its index.
    methods: Vec<String>,
}

/// The figure from the forget-scale run records.
pub(crate) fn figure(results: &Path) -> Result<TradeOff> {
    let eval = Evaluation::load(results, "figure tradeoff")?;
    let settings = eval.compared("figure tradeoff")?;
    let mut methods: Vec<String> = Vec::new();
    for s in &settings {
        for m in s.methods.iter().filter(|m| m.role == Role::Method) {
            if !methods.contains(&m.method) {
                methods.push(m.method.clone());
            }
        }
    }
    methods.sort_by_key(|m| crate::tables::forget::method_order(m));
    let flat_rate = match eval.flat_rates.as_slice() {
        [rate] => format!("flat {rate:.0e}"),
        _ => "flat".to_string(),
    };
    let panels = settings
        .iter()
        .map(|s| panel(s, &methods, &flat_rate))
        .collect();
    Ok(TradeOff { panels, methods })
}

fn panel(setting: &Setting, methods: &[String], flat_rate: &str) -> Panel {
    // (on the curve, point) for each flat point.
    type Flagged = Vec<(bool, Point)>;
    let (on, off): (Flagged, Flagged) = setting
        .curve_points()
        .filter_map(|m| {
            let label = match m.role {
                Role::Frontier(rate) => format!("{rate:.0e}"),
                _ => flat_rate.to_string(),
            };
            let label = match m.beaten_by.is_empty() {
                true => label,
                false => format!("{label} (off the curve)"),
            };
            Some((m.beaten_by.is_empty(), Point::of(m, label)?))
        })
        .partition(|(on, _)| *on);
    let mut curve: Vec<Point> = on.into_iter().map(|(_, p)| p).collect();
    let off_curve: Vec<Point> = off.into_iter().map(|(_, p)| p).collect();
    curve.sort_by(|a, b| a.p_s.total_cmp(&b.p_s));
    let points = setting
        .methods
        .iter()
        .filter(|m| m.role == Role::Method)
        .filter_map(|m| {
            let i = methods.iter().position(|name| *name == m.method)?;
            Some((i, Point::of(m, m.method.clone())?))
        })
        .collect();
    let note = if setting.curve.is_none() {
        ", no flat curve yet"
    } else {
        ""
    };
    Panel {
        title: format!("{} ({}{note})", setting.name, setting.set()),
        curve,
        off_curve,
        methods: points,
    }
}

impl TradeOff {
    fn columns(&self) -> usize {
        if self.panels.len() <= 4 {
            2
        } else {
            3
        }
    }

    fn legend_px(&self) -> u32 {
        let entries = self.methods.len() + 1;
        entries.div_ceil(LEGEND_COLUMNS) as u32 * LEGEND_ROW_PX + 40
    }
}

impl Figure for TradeOff {
    fn size(&self) -> (u32, u32) {
        let (w, h) = grid_size(self.panels.len(), self.columns(), PANEL);
        (w.max(900), h + self.legend_px())
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let (_, height) = root.dim_in_pixel();
        let (grid, legend) = root.split_vertically(height - self.legend_px());
        for (area, p) in panels(&grid, self.panels.len(), self.columns())
            .iter()
            .zip(&self.panels)
        {
            draw_panel(area, p)?;
        }
        draw_legend(&legend, &self.methods)
    }
}

/// The coordinates of a panel: p_s by p_o.
type Axes = Cartesian2d<RangedCoordf64, RangedCoordf64>;

/// A dot with error bars of ± sd in both axes (capped), in `c`.
fn draw_point<DB>(
    chart: &mut ChartContext<'_, DB, Axes>,
    p: &Point,
    c: RGBColor,
    filled: bool,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let style = c.stroke_width(2);
    let bars = [
        vec![(p.p_s - p.p_s_sd, p.p_o), (p.p_s + p.p_s_sd, p.p_o)],
        vec![(p.p_s, p.p_o - p.p_o_sd), (p.p_s, p.p_o + p.p_o_sd)],
    ];
    chart.draw_series(bars.into_iter().map(|b| PathElement::new(b, style)))?;
    let caps_x = [p.p_s - p.p_s_sd, p.p_s + p.p_s_sd]
        .map(|x| EmptyElement::at((x, p.p_o)) + PathElement::new(vec![(0, -4), (0, 4)], style));
    let caps_y = [p.p_o - p.p_o_sd, p.p_o + p.p_o_sd]
        .map(|y| EmptyElement::at((p.p_s, y)) + PathElement::new(vec![(-4, 0), (4, 0)], style));
    chart.draw_series(caps_x)?;
    chart.draw_series(caps_y)?;
    let dot = if filled {
        Circle::new((p.p_s, p.p_o), 5, c.filled())
    } else {
        Circle::new((p.p_s, p.p_o), 5, c.stroke_width(2))
    };
    chart.draw_series([dot])?;
    Ok(())
}

/// How far beyond the methods' span (and at least how far) a flat point may lie and still
/// be inside a panel, in each axis: 0.05 is 20 dev rows in 400.
const NEAR: f64 = 0.05;

/// The ranges a panel shows (p_s, p_o): every method's point with its sd bars, and the flat
/// points whose means lie within the methods' span widened by that span (at least
/// [`NEAR`]) each way, with theirs; without methods, every flat point. A flat point
/// outside is drawn at the edge ([`draw_panel`]).
fn frame(panel: &Panel) -> (Range<f64>, Range<f64>) {
    let bars = |p: &Point| {
        (
            [p.p_s - p.p_s_sd, p.p_s + p.p_s_sd],
            [p.p_o - p.p_o_sd, p.p_o + p.p_o_sd],
        )
    };
    let span = |v: &[f64]| {
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        let w = (hi - lo).max(NEAR);
        lo - w..hi + w
    };
    let methods: Vec<&Point> = panel.methods.iter().map(|(_, p)| p).collect();
    let flat = || panel.curve.iter().chain(&panel.off_curve);
    let shown: Vec<&Point> = if methods.is_empty() {
        flat().collect()
    } else {
        let (xs, ys): (Vec<f64>, Vec<f64>) = methods.iter().map(|p| (p.p_s, p.p_o)).unzip();
        let (near_x, near_y) = (span(&xs), span(&ys));
        let near = |p: &&Point| near_x.contains(&p.p_s) && near_y.contains(&p.p_o);
        methods.iter().copied().chain(flat().filter(near)).collect()
    };
    let (xs, ys): (Vec<[f64; 2]>, Vec<[f64; 2]>) = shown.iter().map(|p| bars(p)).unzip();
    (score_range(xs.concat()), score_range(ys.concat()))
}

/// The part of segment `a`-`b` inside the rectangle `x` by `y` (Liang–Barsky), if any:
/// plotters moves points outside a chart's ranges onto its edge instead of cutting lines
/// there.
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    x: &Range<f64>,
    y: &Range<f64>,
) -> Option<((f64, f64), (f64, f64))> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-dx, a.0 - x.start),
        (dx, x.end - a.0),
        (-dy, a.1 - y.start),
        (dy, y.end - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    (t0 <= t1).then_some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

/// [`padded_range`], at least 0.02 wide (four dev rows in 400 each side of a single
/// value), so that a panel whose points share a score gets readable ticks.
fn score_range(values: Vec<f64>) -> std::ops::Range<f64> {
    let r = padded_range(values);
    let (mid, half) = ((r.start + r.end) / 2.0, (r.end - r.start) / 2.0);
    let half = half.max(0.01);
    mid - half..mid + half
}

fn draw_panel<DB>(area: &DrawingArea<DB, Shift>, panel: &Panel) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (x_range, y_range) = frame(panel);
    let inside = |p: &&Point| x_range.contains(&p.p_s) && y_range.contains(&p.p_o);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, CAPTION_PX))
        .margin(MARGIN_PX)
        .x_label_area_size(X_LABELS_PX)
        .y_label_area_size(Y_LABELS_PX)
        .build_cartesian_2d(x_range.clone(), y_range.clone())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("p_s (task B learned)")
        .y_desc("p_o (task A kept)")
        .label_style((FONT, 12))
        .draw()?;
    let ink = RGBColor(40, 40, 40);
    let segments = panel.curve.windows(2).filter_map(|w| {
        clip(
            (w[0].p_s, w[0].p_o),
            (w[1].p_s, w[1].p_o),
            &x_range,
            &y_range,
        )
    });
    chart.draw_series(segments.map(|(a, b)| PathElement::new(vec![a, b], ink.stroke_width(2))))?;
    let flat = || panel.curve.iter().chain(&panel.off_curve);
    for p in panel.curve.iter().filter(inside) {
        draw_point(&mut chart, p, ink, false)?;
    }
    for p in panel.off_curve.iter().filter(inside) {
        draw_point(&mut chart, p, ink, false)?;
    }
    let label_font = (FONT, LABEL_PX).into_font().color(&ink);
    chart.draw_series(flat().filter(inside).map(|p| {
        EmptyElement::at((p.p_s, p.p_o)) + Text::new(p.label.clone(), (7, 6), label_font.clone())
    }))?;
    // A flat point off the panel: a hollow triangle at the nearest edge, with its value.
    let (x_mid, y_mid) = (
        (x_range.start + x_range.end) / 2.0,
        (y_range.start + y_range.end) / 2.0,
    );
    let edge = |v: f64, r: &Range<f64>| {
        let pad = (r.end - r.start) * 0.02;
        v.clamp(r.start + pad, r.end - pad)
    };
    chart.draw_series(flat().filter(|p| !inside(p)).map(|p| {
        let at = (edge(p.p_s, &x_range), edge(p.p_o, &y_range));
        let dx = if at.0 > x_mid { -190 } else { 9 };
        let dy = if at.1 < y_mid { -18 } else { 6 };
        EmptyElement::at(at)
            + TriangleMarker::new((0, 0), 6, ink.stroke_width(2))
            + Text::new(
                format!(
                    "{} off the panel: p_s {:.3}, p_o {:.3}",
                    p.label, p.p_s, p.p_o
                ),
                (dx, dy),
                label_font.clone(),
            )
    }))?;
    for (i, p) in &panel.methods {
        draw_point(&mut chart, p, colour(*i), true)?;
    }
    chart.draw_series(panel.methods.iter().map(|(i, p)| {
        EmptyElement::at((p.p_s, p.p_o))
            + Text::new(
                p.label.clone(),
                (7, -16),
                (FONT, LABEL_PX).into_font().color(&colour(*i)),
            )
    }))?;
    Ok(())
}

/// The key under the panels: one entry per method, and the flat curve.
fn draw_legend<DB>(area: &DrawingArea<DB, Shift>, methods: &[String]) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (width, _) = area.dim_in_pixel();
    let column = (width as i32 - 40) / LEGEND_COLUMNS as i32;
    let at = |k: usize| {
        let (row, col) = (k / LEGEND_COLUMNS, k % LEGEND_COLUMNS);
        (
            20 + col as i32 * column,
            20 + row as i32 * LEGEND_ROW_PX as i32,
        )
    };
    let font = (FONT, LEGEND_PX).into_font();
    let ink = RGBColor(40, 40, 40);
    let (x, y) = at(0);
    area.draw(&PathElement::new(
        vec![(x, y), (x + 24, y)],
        ink.stroke_width(2),
    ))?;
    area.draw(&Circle::new((x + 12, y), 5, ink.stroke_width(2)))?;
    area.draw(&Text::new(
        "flat curve (labels: rates)",
        (x + 32, y - 8),
        font.clone(),
    ))?;
    for (i, method) in methods.iter().enumerate() {
        let (x, y) = at(i + 1);
        area.draw(&Circle::new((x + 12, y), 5, colour(i).filled()))?;
        area.draw(&Text::new(method.clone(), (x + 32, y - 8), font.clone()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(p_s: f64, p_o: f64, sd: f64) -> Point {
        Point {
            label: String::new(),
            p_s,
            p_o,
            p_s_sd: sd,
            p_o_sd: sd,
        }
    }

    #[test]
    fn a_collapsed_flat_point_is_off_the_panel_and_the_others_on_it() {
        // STS-B -> MRPC's shape: methods near (.79, .74), flat 2e-4 at (.745, .41).
        let panel = Panel {
            title: String::new(),
            curve: vec![
                point(0.745, 0.41, 0.4),
                point(0.78, 0.77, 0.04),
                point(0.80, 0.73, 0.03),
            ],
            off_curve: vec![],
            methods: vec![(0, point(0.785, 0.72, 0.01)), (1, point(0.80, 0.75, 0.01))],
        };
        let (x, y) = frame(&panel);
        assert!(x.contains(&0.745) && x.contains(&0.80), "{x:?}");
        assert!(!y.contains(&0.41) && y.contains(&(0.77 + 0.04)), "{y:?}");
        // Without methods every flat point is shown.
        let alone = Panel {
            methods: vec![],
            ..panel
        };
        assert!(frame(&alone).1.contains(&0.41));
    }

    #[test]
    fn segments_are_cut_at_the_frame() {
        let (x, y) = (0.0..1.0, 0.0..1.0);
        assert_eq!(
            clip((0.5, 0.5), (0.5, -1.5), &x, &y),
            Some(((0.5, 0.5), (0.5, 0.0)))
        );
        assert_eq!(
            clip((0.2, 0.2), (0.4, 0.6), &x, &y),
            Some(((0.2, 0.2), (0.4, 0.6)))
        );
        let cut = clip((-1.0, 0.5), (2.0, 0.5), &x, &y).unwrap();
        assert_eq!(cut, ((0.0, 0.5), (1.0, 0.5)));
        assert_eq!(clip((2.0, 2.0), (3.0, 3.0), &x, &y), None);
    }
}
