//! (e) The embedding shift (docs/METHOD.md "Scenarios"): a 2-D projection
//! of pretrained [CLS] embeddings of one task, coloured by KMeans cluster and by label.
//! Input: `results/embeddings/<task>.csv` with columns `x,y,cluster,label,split`, written
//! by `lrdist-train`.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{colour, padded_range, Figure, FONT};
use crate::inputs::MissingInput;

/// One projected example.
#[derive(Debug, Clone)]
struct Point {
    x: f64,
    y: f64,
    cluster: String,
    label: String,
    /// `train` points are drawn filled, the others open.
    split: String,
}

/// How many points of which splits, and how they are drawn: the filled/open key only
/// when both kinds are there.
fn points_phrase(points: &[Point]) -> String {
    let mut splits: Vec<&str> = points.iter().map(|p| p.split.as_str()).collect();
    splits.sort_unstable();
    splits.dedup();
    let has_train = splits.contains(&"train");
    if has_train && splits.len() > 1 {
        format!(
            "{} points, filled = train split, open = others",
            points.len()
        )
    } else {
        format!("{} {} points", points.len(), splits.join("/"))
    }
}

pub(crate) struct Embedding {
    task: String,
    source: String,
    points: Vec<Point>,
}

/// One figure per `results/embeddings/*.csv`, with its task name.
pub(crate) fn figures(results: &Path) -> Result<Vec<(String, Embedding)>> {
    let dir = results.join("embeddings");
    let files = csv_files(&dir)?;
    if files.is_empty() {
        let missing = format!("no projections in {}", dir.join("*.csv").display());
        return Err(MissingInput::error("figure embedding-shift", missing));
    }
    files
        .iter()
        .map(|path| {
            let task = path
                .file_stem()
                .map_or(String::new(), |s| s.to_string_lossy().into_owned());
            let source = crate::inputs::shown_path(results, path);
            Ok((
                task.clone(),
                Embedding {
                    task,
                    source,
                    points: read_points(path)?,
                },
            ))
        })
        .collect()
}

fn csv_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "csv") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_points(path: &Path) -> Result<Vec<Point>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
    let header = reader
        .headers()
        .with_context(|| format!("reading {}", path.display()))?
        .clone();
    let find = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| anyhow!("{}: no column {name:?}", path.display()))
    };
    let (x, y, cluster, label) = (find("x")?, find("y")?, find("cluster")?, find("label")?);
    let split = find("split")?;
    let mut points = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("reading {}", path.display()))?;
        let line = row.position().map_or(0, |p| p.line());
        let number = |i: usize| -> Result<f64> {
            let cell = row.get(i).unwrap_or("").trim();
            cell.parse()
                .with_context(|| format!("{}:{line}: not a number: {cell:?}", path.display()))
        };
        let text = |i: usize| row.get(i).unwrap_or("").trim().to_string();
        points.push(Point {
            x: number(x)?,
            y: number(y)?,
            cluster: text(cluster),
            label: text(label),
            split: text(split),
        });
    }
    Ok(points)
}

impl Figure for Embedding {
    fn size(&self) -> (u32, u32) {
        (1200, 560)
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let title = format!(
            "{}: pretrained [CLS] embeddings, 2-D projection ({}; {})",
            self.task,
            points_phrase(&self.points),
            self.source
        );
        let root = root.titled(&title, (FONT, 18))?;
        let halves = root.split_evenly((1, 2));
        draw_panel(&halves[0], &self.points, "coloured by cluster", |p| {
            &p.cluster
        })?;
        draw_panel(&halves[1], &self.points, "coloured by label", |p| &p.label)?;
        Ok(())
    }
}

fn draw_panel<DB>(
    area: &DrawingArea<DB, Shift>,
    points: &[Point],
    caption: &str,
    key: impl Fn(&Point) -> &String,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let x = padded_range(points.iter().map(|p| p.x));
    let y = padded_range(points.iter().map(|p| p.y));
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 16))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("PC 1")
        .y_desc("PC 2")
        .label_style((FONT, 12))
        .draw()?;
    let classes: BTreeSet<&String> = points.iter().map(&key).collect();
    for (i, class) in classes.into_iter().enumerate() {
        let c = colour(i);
        let style = |p: &Point| {
            if p.split == "train" {
                c.mix(0.6).filled()
            } else {
                c.stroke_width(1)
            }
        };
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| key(p) == class)
                    .map(|p| Circle::new((p.x, p.y), 3, style(p))),
            )?
            .label(class.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FONT, 12))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{points_phrase, Point};

    fn point(split: &str) -> Point {
        Point {
            x: 0.0,
            y: 0.0,
            cluster: "0".into(),
            label: "1".into(),
            split: split.into(),
        }
    }

    #[test]
    fn the_filled_open_key_appears_only_when_train_and_other_points_are_both_drawn() {
        assert_eq!(points_phrase(&[point("dev"), point("dev")]), "2 dev points");
        assert_eq!(
            points_phrase(&[point("train"), point("dev")]),
            "2 points, filled = train split, open = others"
        );
    }
}
