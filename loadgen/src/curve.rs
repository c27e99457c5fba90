//! The fan-out curve: `messageAdded` delivery latency against the number of subscribers
//! (issue 18), as a small Markdown table and an SVG line plot of p50 and p99.
//!
//! Pure: the `table` and `fan-out-curve` workloads (`table_run`) measure the points, this
//! renders them. The plot is drawn with `plotters` (SVG backend and line series only: no font
//! rasterising, no bitmap backends; the SVG's text is plain `<text>` the browser sets).

use std::fmt::Write as _;

use anyhow::Context;
use plotters::prelude::*;

use crate::{fanout::FanOutReport, report::thousands, stats::median};

/// One subscriber count's figures (medians when it was measured more than once).
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub subscribers: usize,
    /// Fan-out runs the figures are the medians of.
    pub runs: usize,
    pub deliveries_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub kib_per_connection: Option<f64>,
    /// Every run delivered every message to every subscriber exactly once, in order.
    pub exact: bool,
}

impl CurvePoint {
    /// The medians of `reports`, fan-out runs at one subscriber count; `None` without runs or
    /// when no run measured a latency.
    pub fn of(reports: &[FanOutReport]) -> Option<Self> {
        let first = reports.first()?;
        let pick = |f: &dyn Fn(&FanOutReport) -> Option<f64>| median(&reports.iter().filter_map(f).collect::<Vec<_>>());
        Some(CurvePoint {
            subscribers: first.subscribers,
            runs: reports.len(),
            deliveries_per_sec: pick(&|r| Some(r.deliveries_per_sec))?,
            p50_ms: pick(&|r| r.latency.map(|p| p.p50_ms))?,
            p99_ms: pick(&|r| r.latency.map(|p| p.p99_ms))?,
            kib_per_connection: pick(&|r| r.kib_per_connection()),
            exact: reports.iter().all(FanOutReport::clean),
        })
    }
}

/// The curve's figures as a Markdown table.
pub fn render_table(points: &[CurvePoint]) -> String {
    let mut out = String::from(
        "| subscribers | runs | deliveries/s | p50 ms | p99 ms | KiB/conn | exactly once, in order |\n\
         |---:|---:|---:|---:|---:|---:|---|\n",
    );
    for p in points {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} | {} | {} |",
            thousands(p.subscribers as f64, 0),
            p.runs,
            thousands(p.deliveries_per_sec, 0),
            p.p50_ms,
            p.p99_ms,
            p.kib_per_connection.map_or("–".to_owned(), |k| format!("{k:.1}")),
            if p.exact { "yes" } else { "no" }
        );
    }
    out
}

/// Plot size in pixels.
const SIZE: (u32, u32) = (800, 480);

/// An SVG plot of p99 and p50 delivery latency (ms) against subscribers, each p99 point
/// labelled with its value; `caption` names what was measured (commit, date).
pub fn render_svg(points: &[CurvePoint], caption: &str) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).context("plot background")?;
        let x_max = points.iter().map(|p| p.subscribers).max().unwrap_or(1) as f64 * 1.1;
        let y_max = points.iter().map(|p| p.p99_ms.max(p.p50_ms)).fold(1.0, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 18))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .context("plot axes")?;
        chart
            .configure_mesh()
            .x_desc("subscribers")
            .y_desc("delivery latency, ms")
            .light_line_style(WHITE)
            .x_label_formatter(&|x| thousands(*x, 0))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .context("plot grid")?;
        let series = [
            ("p99", RED, CurvePoint::p99 as fn(&CurvePoint) -> f64),
            ("p50", BLUE, CurvePoint::p50),
        ];
        for (name, colour, value) in series {
            chart
                .draw_series(
                    LineSeries::new(
                        points.iter().map(|p| (p.subscribers as f64, value(p))),
                        colour.stroke_width(2),
                    )
                    .point_size(4),
                )
                .context("plot line")?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        chart
            .draw_series(points.iter().map(|p| {
                // Above and right of the marker, in pixels.
                EmptyElement::at((p.subscribers as f64, p.p99_ms))
                    + Text::new(format!("{:.1} ms", p.p99_ms), (6, -18), ("sans-serif", 13).into_font())
            }))
            .context("plot labels")?;
        chart
            .configure_series_labels()
            .background_style(WHITE)
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .context("plot legend")?;
        root.present().context("plot")?;
    }
    Ok(svg)
}

impl CurvePoint {
    fn p99(&self) -> f64 {
        self.p99_ms
    }

    fn p50(&self) -> f64 {
        self.p50_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> Vec<CurvePoint> {
        [
            (1000, 12.5, 30.2),
            (5000, 40.0, 95.4),
            (10_000, 80.0, 190.8),
            (20_000, 150.0, 402.1),
        ]
        .into_iter()
        .map(|(subscribers, p50_ms, p99_ms)| CurvePoint {
            subscribers,
            runs: 1,
            deliveries_per_sec: subscribers as f64 * 4.9,
            p50_ms,
            p99_ms,
            kib_per_connection: Some(38.0),
            exact: subscribers != 20_000,
        })
        .collect()
    }

    #[test]
    fn the_curve_table_has_a_row_per_count() {
        let text = render_table(&points());
        assert!(
            text.contains("| 1,000 | 1 | 4,900 | 12.5 | 30.2 | 38.0 | yes |"),
            "{text}"
        );
        assert!(
            text.contains("| 20,000 | 1 | 98,000 | 150.0 | 402.1 | 38.0 | no |"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 2 + 4);
    }

    #[test]
    fn the_svg_plots_both_series_and_labels_the_p99_points() {
        let svg = render_svg(&points(), "fan-out at abc1234").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100.min(svg.len())]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for label in [
            "fan-out at abc1234",
            "subscribers",
            "delivery latency, ms",
            "p99",
            "p50",
            "30.2 ms",
            "95.4 ms",
            "190.8 ms",
            "402.1 ms",
        ] {
            assert!(svg.contains(label), "no {label:?} in the SVG");
        }
        // A marker per point on each line.
        assert_eq!(svg.matches("<circle").count(), 2 * 4, "{svg}");
        // Each series is a polyline of the four points (beside its 2-point legend swatch),
        // left to right; higher latency is higher up (smaller y), and p50 lies below p99.
        let p99 = line(&svg, "#FF0000");
        let p50 = line(&svg, "#0000FF");
        assert!(p99.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1), "{p99:?}");
        assert!(
            p99.iter().zip(&p50).all(|(a, b)| a.0 == b.0 && a.1 < b.1),
            "{p99:?} {p50:?}"
        );
    }

    /// The points of the 4-point polyline stroked `colour`.
    fn line(svg: &str, colour: &str) -> Vec<(i32, i32)> {
        let stroke = format!("stroke=\"{colour}\"");
        let lines: Vec<Vec<(i32, i32)>> = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(&stroke))
            .map(|l| {
                let points = l.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
                points
                    .split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect();
        let mut four = lines.into_iter().filter(|l| l.len() == 4);
        let found = four
            .next()
            .unwrap_or_else(|| panic!("no 4-point {colour} line in\n{svg}"));
        assert!(four.next().is_none());
        found
    }

    #[test]
    fn a_single_point_still_plots() {
        let one = &points()[..1];
        let svg = render_svg(one, "one").unwrap();
        assert!(svg.contains("30.2 ms"));
    }
}
