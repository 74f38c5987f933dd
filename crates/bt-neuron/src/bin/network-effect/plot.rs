//! The PNG: test accuracy against training steps, one line per run.
//!
//! Text needs a font; plotters' `ab_glyph` backend takes one as bytes, so no fontconfig is
//! involved. We look for a TrueType font in the usual places (or `--font`); without one the
//! plot is drawn with its lines and grid but no text, and the caller says so.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

/// A curve's points: (step, value).
pub type Points = Vec<(u64, f64)>;

/// One line: a name and `(step, accuracy in %)` points, with the min–max over seeds drawn as a
/// shaded band when there is more than one seed.
pub struct Curve {
    pub name: String,
    pub points: Vec<(u64, f64)>,
    pub band: Option<(Points, Points)>,
}

const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Registers a font for the plot's text; returns where it came from, or `None`.
pub fn register_font(given: Option<&Path>) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match given {
        Some(p) => vec![p.to_path_buf()],
        None => FONT_CANDIDATES.iter().map(PathBuf::from).collect(),
    };
    for path in candidates {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        // plotters keeps registered fonts for the life of the process
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
            return Some(path);
        }
    }
    None
}

pub fn draw(
    path: &Path,
    title: &str,
    curves: &[Curve],
    with_text: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_step = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(1);
    let min_acc = curves
        .iter()
        .flat_map(|c| {
            let low = c.band.iter().flat_map(|b| b.0.iter());
            c.points.iter().chain(low).map(|p| p.1)
        })
        .fold(100.0f64, f64::min);
    let y_low = (min_acc / 10.0).floor() * 10.0;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20);
    if with_text {
        builder
            .caption(title, ("sans-serif", 24))
            .x_label_area_size(45)
            .y_label_area_size(60);
    }
    let mut chart = builder.build_cartesian_2d(0u64..max_step, y_low..100.0f64)?;
    let mut mesh = chart.configure_mesh();
    if with_text {
        mesh.x_desc("training steps of the new neuron (batch 64)")
            .y_desc("test accuracy (%)");
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;
    let colors = [RED, BLUE, GREEN, MAGENTA];
    for (i, c) in curves.iter().enumerate() {
        let color = colors[i % colors.len()];
        if let Some((low, high)) = &c.band {
            let outline: Vec<(u64, f64)> = high.iter().chain(low.iter().rev()).copied().collect();
            chart.draw_series(std::iter::once(Polygon::new(
                outline,
                color.mix(0.15).filled(),
            )))?;
        }
        let series = chart.draw_series(LineSeries::new(
            c.points.iter().copied(),
            color.stroke_width(3),
        ))?;
        if with_text {
            series.label(c.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
            });
        }
        chart.draw_series(
            c.points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
        )?;
    }
    if with_text {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 18))
            .draw()?;
    }
    root.present()?;
    Ok(())
}
