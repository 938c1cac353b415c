//! The figures, each drawn twice from the same code: PNG (bitmap) and SVG.
//!
//! Text is laid out with `ab_glyph` from DejaVu Sans embedded in the binary (the `dejavu`
//! crate), so no system font or fontconfig is needed.

mod attribution;
mod authors;
mod distributions;
mod draw;
mod embeddings;
mod search;
mod tradeoff;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use self::draw::{Figure, FONT};
use crate::inputs::Inputs;
use crate::studies::SearchDir;

pub(crate) const NAMES: &[&str] = &[
    "combined",
    "best-distributions",
    "search-progress",
    "pareto",
    "embedding-shift",
    "authors",
    "attribution",
    "tradeoff",
    "search-progress-forget",
    "pareto-forget",
    "best-distributions-forget",
];

pub(crate) fn write(name: &str, inputs: &Inputs, out_dir: &Path) -> Result<Vec<PathBuf>> {
    register_font()?;
    let stem = name.replace('-', "_");
    match name {
        "combined" => render(&distributions::combined(&inputs.results)?, out_dir, &stem),
        "best-distributions" => render(&distributions::best(&inputs.results)?, out_dir, &stem),
        "search-progress" => render(
            &search::progress(&inputs.results, SearchDir::Top, "figure search-progress")?,
            out_dir,
            &stem,
        ),
        "pareto" => render(
            &search::pareto(&inputs.results, SearchDir::Top, "figure pareto")?,
            out_dir,
            &stem,
        ),
        "search-progress-forget" => render(
            &search::progress(
                &inputs.results,
                SearchDir::Forget,
                "figure search-progress-forget",
            )?,
            out_dir,
            &stem,
        ),
        "pareto-forget" => render(
            &search::pareto(&inputs.results, SearchDir::Forget, "figure pareto-forget")?,
            out_dir,
            &stem,
        ),
        "best-distributions-forget" => render(
            &distributions::best_forget(&inputs.results)?,
            out_dir,
            &stem,
        ),
        "tradeoff" => render(&tradeoff::figure(&inputs.results)?, out_dir, &stem),
        "embedding-shift" => {
            let mut written = Vec::new();
            for (task, figure) in embeddings::figures(&inputs.results)? {
                written.extend(render(&figure, out_dir, &format!("{stem}_{task}"))?);
            }
            Ok(written)
        }
        "authors" => render(&authors::figure(inputs)?, out_dir, &stem),
        "attribution" => render(&attribution::figure(&inputs.results)?, out_dir, &stem),
        _ => unreachable!("names are checked by the caller"),
    }
    .with_context(|| format!("figure {name}"))
}

/// Draws `figure` into `<out_dir>/<stem>.png` and `<out_dir>/<stem>.svg`.
fn render(figure: &impl Figure, out_dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let png = out_dir.join(format!("{stem}.png"));
    let svg = out_dir.join(format!("{stem}.svg"));
    {
        let root = BitMapBackend::new(&png, figure.size()).into_drawing_area();
        draw_on(figure, &root).with_context(|| format!("drawing {}", png.display()))?;
    }
    {
        let root = SVGBackend::new(&svg, figure.size()).into_drawing_area();
        draw_on(figure, &root).with_context(|| format!("drawing {}", svg.display()))?;
    }
    Ok(vec![png, svg])
}

fn draw_on<DB>(figure: &impl Figure, root: &DrawingArea<DB, Shift>) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    figure.draw(root)?;
    root.present()?;
    Ok(())
}

fn register_font() -> Result<()> {
    static REGISTER: Once = Once::new();
    let mut result = Ok(());
    REGISTER.call_once(|| {
        result = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| anyhow!("the embedded DejaVu Sans font could not be parsed"));
    });
    result
}
