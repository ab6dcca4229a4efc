//! The SVG chart: per benchmark, one bar per engine of its time relative to the
//! baseline, on a log scale with bars growing from 1.0 (up = slower, down = faster),
//! then a geometric-mean group.
//!
//! plotters is built without its `ttf` feature, so no system fonts or fontconfig are
//! needed: text goes into the SVG as <text> elements and plotters only estimates its
//! size for layout, which is why label space below is sized from name lengths.

use crate::report::Report;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// One group of bars: a label and each engine's ratio (None = failed or missing).
pub struct Group {
    pub label: String,
    pub ratios: Vec<Option<f64>>,
}

/// The groups to draw: benchmarks in run order, then the geomean; engines are all but
/// the baseline (whose bars would all be 1.0).
pub fn groups(rep: &Report) -> (Vec<String>, Vec<Group>) {
    let engines: Vec<String> = rep
        .engines
        .iter()
        .map(|e| e.name.clone())
        .filter(|n| *n != rep.baseline)
        .collect();
    let mut gs: Vec<Group> = rep
        .benchmarks()
        .into_iter()
        .map(|b| {
            let ratios = engines
                .iter()
                .map(|e| rep.get(&b, e).and_then(|r| r.ratio))
                .collect();
            Group { label: b, ratios }
        })
        .collect();
    gs.push(Group {
        label: "geomean".into(),
        ratios: engines
            .iter()
            .map(|e| rep.geomean_ratio.get(e).copied())
            .collect(),
    });
    (engines, gs)
}

/// Log-axis range covering every ratio and 1.0, padded and rounded out to
/// 1-2-5 steps so the ends get labels.
fn y_range(gs: &[Group]) -> (f64, f64) {
    let vals = gs
        .iter()
        .flat_map(|g| g.ratios.iter().flatten().copied())
        .filter(|x| x.is_finite() && *x > 0.0);
    let (lo, hi) = vals.fold((1.0f64, 1.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let down = |x: f64| {
        let p = 10f64.powf(x.log10().floor());
        [5.0, 2.0, 1.0]
            .iter()
            .map(|m| m * p)
            .find(|v| *v <= x)
            .unwrap_or(p)
    };
    let up = |x: f64| {
        let p = 10f64.powf(x.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * p)
            .find(|v| *v >= x)
            .unwrap_or(10.0 * p)
    };
    // Room beyond the extremes for the geomean labels at the bar tips.
    (down(lo / 1.4), up(hi * 1.4))
}

pub fn render(rep: &Report, path: &Path) -> Result<(), String> {
    let (engines, gs) = groups(rep);
    if engines.is_empty() {
        return Err("the chart needs at least one engine besides the baseline".into());
    }
    let per_group = (engines.len() as u32 * 14 + 18).max(48);
    let width = (110 + per_group * gs.len() as u32).max(760);
    let longest = gs
        .iter()
        .map(|g| g.label.chars().count())
        .max()
        .unwrap_or(8) as u32;
    let label_px = longest * 13 / 2 + 12;
    let height = 480 + label_px;
    let root = SVGBackend::new(path, (width, height)).into_drawing_area();
    draw(&root, rep, &engines, &gs, label_px).map_err(|e| format!("{}: {e}", path.display()))?;
    root.present()
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn draw(
    root: &DrawingArea<SVGBackend, Shift>,
    rep: &Report,
    engines: &[String],
    gs: &[Group],
    label_px: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let (ymin, ymax) = y_range(gs);
    let n = gs.len() as f64;
    let title = format!(
        "Run time relative to {} (log scale; below 1x = faster)",
        rep.baseline
    );
    let (width, _) = root.dim_in_pixel();
    root.draw(&Text::new(
        title,
        (width as i32 / 2, 20),
        TextStyle::from(("sans-serif", 20).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_top(66)
        .x_label_area_size(label_px + 24)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..n, (ymin..ymax).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .disable_y_mesh()
        .y_label_formatter(&|_| String::new())
        .y_desc(format!("time / {} time", rep.baseline))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.12))
        .draw()?;

    // Ticks at 1-2-5 steps (plotters' log axis labels only powers of ten on short ranges).
    for t in ticks(ymin, ymax) {
        let major = (t.log10() - t.log10().round()).abs() < 1e-9;
        let style = if major {
            BLACK.mix(0.25)
        } else {
            BLACK.mix(0.1)
        };
        chart.draw_series(LineSeries::new([(0.0, t), (n, t)], style.stroke_width(1)))?;
        let (px, py) = chart.backend_coord(&(0.0, t));
        root.draw(&PathElement::new(
            [(px - 5, py), (px, py)],
            BLACK.stroke_width(1),
        ))?;
        root.draw(&Text::new(
            format!("{}x", trim_float(t)),
            (px - 8, py),
            TextStyle::from(("sans-serif", 13).into_font())
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))?;
    }

    let w = 0.8 / engines.len() as f64;
    for k in 0..engines.len() {
        let color = PALETTE[k % PALETTE.len()];
        let bars = gs.iter().enumerate().filter_map(move |(g, grp)| {
            let r = grp.ratios[k]?;
            let x0 = g as f64 + 0.1 + k as f64 * w;
            Some(Rectangle::new(
                [(x0, 1.0), (x0 + w * 0.92, r.clamp(ymin, ymax))],
                color.filled(),
            ))
        });
        chart.draw_series(bars)?;
        // A failed run gets a cross on the 1.0 line instead of a bar.
        let fails = gs
            .iter()
            .enumerate()
            .filter(|(_, grp)| grp.ratios[k].is_none())
            .map(move |(g, _)| {
                let x = g as f64 + 0.1 + (k as f64 + 0.46) * w;
                Text::new(
                    "×",
                    (x, 1.0),
                    ("sans-serif", 14)
                        .into_font()
                        .color(&color)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                )
            });
        chart.draw_series(fails)?;
    }
    // The baseline itself, and a rule setting the geomean group apart.
    chart.draw_series(LineSeries::new(
        [(0.0, 1.0), (n, 1.0)],
        BLACK.stroke_width(1),
    ))?;
    chart.draw_series(LineSeries::new(
        [(n - 1.0, ymin), (n - 1.0, ymax)],
        BLACK.mix(0.3).stroke_width(1),
    ))?;
    // Geomean values written at their bar tips, turned like the names so neighbouring
    // bars' labels cannot overlap; the headline then needs no axis reading.
    let last = gs.len() - 1;
    let notes = gs[last].ratios.iter().enumerate().filter_map(|(k, r)| {
        let r = (*r)?;
        let x = last as f64 + 0.1 + (k as f64 + 0.46) * w;
        let (y, h) = if r >= 1.0 {
            (r * 1.03, HPos::Left)
        } else {
            (r / 1.03, HPos::Right)
        };
        let font = ("sans-serif", 12)
            .into_font()
            .style(FontStyle::Bold)
            .transform(FontTransform::Rotate270);
        Some(Text::new(
            format!("{r:.2}x"),
            (x, y),
            TextStyle::from(font).pos(Pos::new(h, VPos::Center)),
        ))
    });
    chart.draw_series(notes)?;
    // Legend as one row under the title, outside the plot, so it never hides a bar.
    let (lx0, _) = chart.backend_coord(&(0.0, ymax));
    let mut lx = lx0 + 10;
    for (k, e) in engines.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        root.draw(&Rectangle::new([(lx, 44), (lx + 12, 56)], color.filled()))?;
        root.draw(&Text::new(
            e.clone(),
            (lx + 18, 50),
            TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        lx += 18 + e.chars().count() as i32 * 8 + 24;
    }
    root.draw(&Text::new(
        format!("(baseline {} = 1x;  × = failed)", rep.baseline),
        (lx + 8, 50),
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center)),
    ))?;

    // Benchmark names under the axis, rotated so long names never collide.
    for (g, grp) in gs.iter().enumerate() {
        let (px, py) = chart.backend_coord(&(g as f64 + 0.5, ymin));
        let font = ("sans-serif", 13).into_font();
        let font = if g == last {
            font.style(FontStyle::Bold)
        } else {
            font
        };
        let style = TextStyle::from(font.transform(FontTransform::Rotate270))
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(grp.label.clone(), (px, py + 8), style))?;
    }
    let (cx, axis_y) = chart.backend_coord(&(n / 2.0, ymin));
    root.draw(&Text::new(
        "benchmark",
        (cx, axis_y + label_px as i32 + 14),
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    Ok(())
}

/// Tick values 1, 2, 5 times powers of ten inside [lo, hi].
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut p = 10f64.powf(lo.log10().floor());
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = m * p;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                out.push(v);
            }
        }
        p *= 10.0;
    }
    out
}

/// 0.5 -> "0.5", 2 -> "2", 0.02 -> "0.02": axis labels without trailing zeros.
fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_range_covers_ratios_and_one() {
        let gs = vec![Group {
            label: "a".into(),
            ratios: vec![Some(0.3), Some(2.5), None],
        }];
        let (lo, hi) = y_range(&gs);
        assert!(lo <= 0.3 && lo > 0.1, "{lo}");
        assert!((2.5..=5.0).contains(&hi), "{hi}");
        let (lo, hi) = y_range(&[Group {
            label: "b".into(),
            ratios: vec![Some(1.0)],
        }]);
        assert!(lo < 1.0 && hi > 1.0);
    }

    #[test]
    fn ticks_step_one_two_five() {
        let t = ticks(0.05, 2.0);
        let want = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0];
        assert_eq!(t.len(), want.len(), "{t:?}");
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{t:?}"
        );
        assert_eq!(trim_float(0.5), "0.5");
        assert_eq!(trim_float(2.0), "2");
        assert_eq!(trim_float(0.02), "0.02");
    }
}
