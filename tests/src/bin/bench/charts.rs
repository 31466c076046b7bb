//! Charts of a benchmark run (SVG, drawn with `plotters`), written next to `latest.json` and
//! shown in the README:
//!
//! - `api.svg`: `Authorize` throughput and p99 latency against concurrency, per surface, next to
//!   pgbench running the same SQL (pgbench reports an average latency, drawn dashed);
//! - `relay.svg`: relay events/s (one and two processes) next to the raw produce and raw
//!   PostgreSQL limits, with the 0.8 × min(limits) goal as a line;
//! - `latency.svg`: commit → consumer latency percentiles of a following relay at steady
//!   rates, with and without the outbox NOTIFY.
//!
//! Each chart is drawn only from what the results hold; a part that did not run is skipped.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;

/// Surface and pgbench colours, the same in every chart.
const GRPC: RGBColor = RGBColor(31, 119, 180);
const REST: RGBColor = RGBColor(255, 127, 14);
const PGBENCH: RGBColor = RGBColor(90, 90, 90);
const GOAL: RGBColor = RGBColor(214, 39, 40);

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

/// Draws every chart the results allow into `dir`; returns the files written.
///
/// # Errors
/// When a file cannot be written.
pub(crate) fn write_all(results: &Value, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    if results["api"]["steps"].is_array() {
        let path = dir.join("api.svg");
        api(&results["api"], &path)?;
        written.push(path);
    }
    if results["relay"]["one"].is_object() {
        let path = dir.join("relay.svg");
        relay(&results["relay"], &path)?;
        written.push(path);
    }
    if results["relay"]["latency"].is_array() {
        let path = dir.join("latency.svg");
        latency(&results["relay"]["latency"], &path)?;
        written.push(path);
    }
    Ok(written)
}

/// `(concurrency, value)` points of one surface's API steps.
fn surface_points(api: &Value, surface: &str, field: &str) -> Vec<(f64, f64)> {
    api["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter(|step| step["surface"] == surface)
                .map(|step| (number(&step["concurrency"]), number(&step[field])))
                .collect()
        })
        .unwrap_or_default()
}

fn api(api: &Value, path: &Path) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1100, 440)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(550);
    let pgbench_tps: Vec<(f64, f64)> = api["pgbench"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|run| (number(&run["concurrency"]), number(&run["tps"])))
                .collect()
        })
        .unwrap_or_default();
    let pgbench_latency: Vec<(f64, f64)> = api["pgbench"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .map(|run| (number(&run["concurrency"]), number(&run["latency_avg_ms"])))
                .collect()
        })
        .unwrap_or_default();
    let series = |field: &str| {
        [
            ("gRPC", GRPC, surface_points(api, "gRPC", field)),
            ("REST", REST, surface_points(api, "REST", field)),
        ]
    };
    panel(
        &left,
        "Authorize throughput",
        "req/s",
        &series("throughput_rps"),
        Some(("pgbench, same SQL", &pgbench_tps)),
    )?;
    panel(
        &right,
        "Authorize latency (p99; pgbench: average)",
        "ms",
        &series("p99_ms"),
        Some(("pgbench average", &pgbench_latency)),
    )?;
    root.present()?;
    Ok(())
}

type Series<'a> = [(&'a str, RGBColor, Vec<(f64, f64)>)];

/// One panel: lines with markers against concurrency (log scale), and a dashed reference.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    title: &str,
    unit: &str,
    series: &Series<'_>,
    reference: Option<(&str, &[(f64, f64)])>,
) -> anyhow::Result<()> {
    let all = series
        .iter()
        .flat_map(|(_, _, points)| points.iter())
        .chain(reference.into_iter().flat_map(|(_, points)| points.iter()));
    let (x_max, y_max) = all.fold((1.0_f64, 1.0_f64), |(x, y), (px, py)| {
        (x.max(*px), y.max(*py))
    });
    // The measured concurrencies are the axis's ticks.
    let mut key_points: Vec<f64> = series
        .iter()
        .flat_map(|(_, _, points)| points.iter().map(|(x, _)| *x))
        .collect();
    key_points.sort_by(f64::total_cmp);
    key_points.dedup();
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            (1.0..x_max * 1.2)
                .log_scale()
                .with_key_points(key_points.to_vec()),
            0.0..y_max * 1.15,
        )?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("concurrent clients")
        .y_desc(unit)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()?;
    for (name, colour, points) in series {
        let colour = *colour;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))?
            .label(*name)
            .legend(legend_mark(colour));
        chart.draw_series(
            points
                .iter()
                .map(|point| Circle::new(*point, 4, colour.filled())),
        )?;
    }
    if let Some((name, points)) = reference {
        chart
            .draw_series(DashedLineSeries::new(
                points.iter().copied(),
                6,
                4,
                PGBENCH.stroke_width(2),
            ))?
            .label(name)
            .legend(legend_mark(PGBENCH));
    }
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(())
}

/// A legend entry's mark: a short line in the series' colour.
fn legend_mark(colour: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour)
}

/// Draws the chart's legend at `position`, the same box in every chart.
fn legend_box<'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The name of the category a segmented axis label stands for (only segment centres get one).
fn segment_label(value: &SegmentValue<i32>, names: &[&str]) -> String {
    match value {
        SegmentValue::CenterOf(index) => usize::try_from(*index)
            .ok()
            .and_then(|i| names.get(i))
            .map(|name| (*name).to_owned())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn relay(relay: &Value, path: &Path) -> anyhow::Result<()> {
    let produce = number(&relay["limit_produce"]["records_per_second"]);
    let database = number(&relay["limit_database"]["events_per_second"]);
    let bars = [
        (
            "relay-job, 1 process",
            number(&relay["one"]["events_per_second"]),
            GRPC,
        ),
        (
            "relay-job, 2 processes",
            number(&relay["two"]["events_per_second"]),
            GRPC,
        ),
        ("(a) raw produce", produce, PGBENCH),
        ("(b) raw claim + mark", database, PGBENCH),
    ];
    let names: Vec<&str> = bars.iter().map(|(name, _, _)| *name).collect();
    let goal = 0.8 * produce.min(database);
    let x_max = bars.iter().fold(goal, |max, (_, value, _)| max.max(*value)) * 1.15;
    let root = SVGBackend::new(path, (900, 320)).into_drawing_area();
    root.fill(&WHITE)?;
    let count = bars.len() as i32;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!(
                "Relay: {} events, per-payment order on (events/s)",
                relay["events"]
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(180)
        .build_cartesian_2d(0.0..x_max, (0..count - 1).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| segment_label(y, &names))
        .x_desc("events/s")
        .draw()?;
    chart.draw_series(bars.iter().zip(0..).map(|((_, value, colour), index)| {
        let mut bar = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(index)),
                (*value, SegmentValue::Exact(index + 1)),
            ],
            colour.mix(0.8).filled(),
        );
        bar.set_margin(6, 6, 0, 0);
        bar
    }))?;
    chart.draw_series(bars.iter().zip(0..).map(|((_, value, _), index)| {
        Text::new(
            format!("{value:.0}"),
            (*value, SegmentValue::CenterOf(index)),
            ("sans-serif", 14),
        )
    }))?;
    chart
        .draw_series(DashedLineSeries::new(
            [
                (goal, SegmentValue::Exact(0)),
                (goal, SegmentValue::Exact(count)),
            ],
            6,
            4,
            GOAL.stroke_width(2),
        ))?
        .label(format!("goal: 0.8 × min(a, b) = {goal:.0}"))
        .legend(legend_mark(GOAL));
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    root.present()?;
    Ok(())
}

fn latency(steps: &Value, path: &Path) -> anyhow::Result<()> {
    let quantiles = [
        ("p50", "p50_ms"),
        ("p90", "p90_ms"),
        ("p99", "p99_ms"),
        ("p99.9", "p999_ms"),
    ];
    let names: Vec<&str> = quantiles.iter().map(|(name, _)| *name).collect();
    let steps = steps.as_array().cloned().unwrap_or_default();
    let y_max = steps
        .iter()
        .flat_map(|step| quantiles.iter().map(|(_, field)| number(&step[*field])))
        .fold(100.0_f64, f64::max)
        * 1.7; // room above the goal line for the legend
    let root = SVGBackend::new(path, (700, 380)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Commit → consumer latency, relay-job run --follow (poll 50 ms)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d((0..quantiles.len() as i32 - 1).into_segmented(), 0.0..y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_label_formatter(&|x| segment_label(x, &names))
        .y_desc("ms")
        .draw()?;
    let colours = [GRPC, REST, RGBColor(44, 160, 44), PGBENCH];
    for (step, colour) in steps.iter().zip(colours) {
        let points: Vec<(SegmentValue<i32>, f64)> = quantiles
            .iter()
            .zip(0..)
            .map(|((_, field), index)| (SegmentValue::CenterOf(index), number(&step[*field])))
            .collect();
        chart
            .draw_series(LineSeries::new(
                points.iter().cloned(),
                colour.stroke_width(2),
            ))?
            .label(step["label"].as_str().unwrap_or_default().to_owned())
            .legend(legend_mark(colour));
        chart.draw_series(
            points
                .iter()
                .map(|point| Circle::new(point.clone(), 4, colour.filled())),
        )?;
    }
    chart
        .draw_series(DashedLineSeries::new(
            [
                (SegmentValue::Exact(0), 100.0),
                (SegmentValue::Exact(quantiles.len() as i32), 100.0),
            ],
            6,
            4,
            GOAL.stroke_width(2),
        ))?
        .label("goal: p99 ≤ 100 ms")
        .legend(legend_mark(GOAL));
    legend_box(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Every chart is drawn from a results file's shape, with its legend.
    #[test]
    fn a_full_result_draws_three_charts() {
        let step = |surface: &str, concurrency: u32, rps: f64| json!({ "surface": surface, "concurrency": concurrency, "throughput_rps": rps, "p99_ms": 3.0 });
        let results = json!({
            "api": {
                "steps": [step("gRPC", 1, 400.0), step("gRPC", 8, 1200.0), step("REST", 1, 450.0), step("REST", 8, 1100.0)],
                "pgbench": [{ "concurrency": 1, "tps": 470.0, "latency_avg_ms": 2.1 }, { "concurrency": 8, "tps": 1590.0, "latency_avg_ms": 5.0 }],
            },
            "relay": {
                "events": 1000,
                "one": { "events_per_second": 27000.0 }, "two": { "events_per_second": 34000.0 },
                "limit_produce": { "records_per_second": 140000.0 },
                "limit_database": { "events_per_second": 52000.0 },
                "latency": [{ "label": "NOTIFY on", "rate": 1000, "p50_ms": 5.0, "p90_ms": 9.0, "p99_ms": 20.0, "p999_ms": 30.0 }],
            },
        });
        let dir = std::env::temp_dir().join(format!("bench-charts-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let written = super::write_all(&results, &dir).unwrap();
        assert_eq!(written.len(), 3);
        for (file, legend) in [
            ("api.svg", "pgbench, same SQL"),
            ("relay.svg", "goal: 0.8 × min(a, b) = 41600"),
            ("latency.svg", "NOTIFY on"),
        ] {
            let svg = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains(legend), "{file}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
