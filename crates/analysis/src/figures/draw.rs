//! What every figure draws with: the [`Figure`] trait, the font family, colours, axis
//! ranges, room for a legend, panel grids and tick labels.

use std::ops::Range;

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Something drawable on any plotters backend.
pub(crate) trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);
    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

/// The family every text style names.
pub(crate) const FONT: &str = "sans-serif";

/// How many distinct colours [`colour`] has before it repeats.
pub(crate) const COLOURS: usize = 10;

/// Distinct colours (matplotlib's "tab10"), repeating after [`COLOURS`].
pub(crate) fn colour(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); COLOURS] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// A log-axis range covering `values` with some room (a factor of 1.5 each side).
pub(crate) fn log_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi <= 0.0 {
        return 1e-7..1e-3;
    }
    lo / 1.5..hi * 1.5
}

/// A linear range covering `values` with 5% room each side.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if lo > hi {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    lo - pad..hi + pad
}

/// Pixels a legend of `rows` entries in a `font_px` font takes up, border included
/// (plotters' series-label box: one row per entry plus its margins).
pub(crate) fn legend_height(rows: usize, font_px: u32) -> f64 {
    rows as f64 * (f64::from(font_px) + 8.0) + 20.0
}

/// Pixels of a chart's plotting area in `area`: the area's height less the caption, the
/// x-label area and the margins above and below.
pub(crate) fn plot_height<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption_px: u32,
    x_label_px: u32,
    margin_px: u32,
) -> f64 {
    let (_, height) = area.dim_in_pixel();
    f64::from(height) - f64::from(caption_px + 10 + x_label_px + 2 * margin_px)
}

/// `range` extended downwards so that no data point lands in the lowest `legend_px` of a
/// plot `plot_px` high: room for a legend drawn at the bottom, which would otherwise hide
/// the lowest points (collapsed or pruned trials, the smallest rates).
pub(crate) fn room_below(range: Range<f64>, legend_px: f64, plot_px: f64) -> Range<f64> {
    let share = (legend_px / plot_px.max(1.0)).clamp(0.0, 0.6);
    let span = range.end - range.start;
    range.start - span * share / (1.0 - share)..range.end
}

/// [`room_below`] on a log axis: the room is made in log space.
pub(crate) fn log_room_below(range: Range<f64>, legend_px: f64, plot_px: f64) -> Range<f64> {
    let logs = room_below(range.start.ln()..range.end.ln(), legend_px, plot_px);
    logs.start.exp()..logs.end.exp()
}

/// `n` panels in a grid of at most `columns` columns.
pub(crate) fn panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    n: usize,
    columns: usize,
) -> Vec<DrawingArea<DB, Shift>> {
    let columns = columns.min(n).max(1);
    let rows = n.div_ceil(columns).max(1);
    root.split_evenly((rows, columns))
        .into_iter()
        .take(n)
        .collect()
}

/// Size of a grid of `n` panels of `panel` pixels with at most `columns` columns.
pub(crate) fn grid_size(n: usize, columns: usize, panel: (u32, u32)) -> (u32, u32) {
    let columns = columns.min(n).max(1);
    let rows = n.div_ceil(columns).max(1);
    (panel.0 * columns as u32, panel.1 * rows as u32)
}

/// Label for a learning rate on a log axis.
pub(crate) fn rate_label(rate: &f64) -> String {
    format!("{rate:.0e}")
}

/// Label for an integer position on a linear axis (empty between integers).
pub(crate) fn index_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{:.0}", x.round())
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_below_leaves_the_legend_share_of_the_plot_free_of_data() {
        let r = room_below(1.0..2.0, 100.0, 400.0);
        assert_eq!(r.end, 2.0);
        let free = (1.0 - r.start) / (r.end - r.start);
        assert!((free - 0.25).abs() < 1e-12, "{free}");
    }

    #[test]
    fn log_room_below_makes_the_room_in_decades() {
        let r = log_room_below(1e-6..1e-4, 100.0, 400.0);
        assert!((r.end - 1e-4).abs() < 1e-16);
        let decades = (r.end / r.start).log10();
        let free = (1e-6f64 / r.start).log10() / decades;
        assert!((free - 0.25).abs() < 1e-9, "{free}");
    }

    #[test]
    fn room_below_is_capped_when_the_legend_is_taller_than_the_plot() {
        let r = room_below(0.0..1.0, 1000.0, 100.0);
        let free = (0.0 - r.start) / (r.end - r.start);
        assert!((free - 0.6).abs() < 1e-12, "{free}");
    }
}
