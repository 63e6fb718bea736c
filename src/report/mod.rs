//! Pictures of saved results for slides and tickets (`meshtop report FILE... --svg OUT`):
//! for bench results, each run's latency by percentile on HdrHistogram's "1/(1-q)" axis;
//! for sweeps, each target's p50 and p99 slowdown by step, and below it (when a cluster was
//! watched) its pods' proxy and app CPU and memory by step. Pure: results in, SVG text out.

use plotters::prelude::*;

use crate::compare::Saved;
use crate::model::bench::BenchResult;
use crate::model::sweep::SweepResult;

const SIZE: (u32, u32) = (960, 540);

/// Series colours, readable on white and in print.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One SVG document for the files: a percentile spectrum when they are bench results,
/// the slowdown by step when it is one sweep.
pub fn svg(files: &[(String, Saved)]) -> Result<String, String> {
    match files {
        [] => Err("no result to draw".into()),
        [(_, Saved::Sweep(s))] => sweep_svg(s),
        _ if files.iter().all(|(_, s)| matches!(s, Saved::Bench(_))) => {
            let runs: Vec<(&str, &BenchResult)> = files
                .iter()
                .filter_map(|(n, s)| match s {
                    Saved::Bench(b) => Some((n.as_str(), &**b)),
                    Saved::Sweep(_) => None,
                })
                .collect();
            spectrum_svg(&runs)
        }
        _ => Err("draw bench results (any number) or one sweep, not both and not several sweeps".into()),
    }
}

/// (x = 1/(1-q), latency ms) points of a run's corrected latency, from its histogram bins.
pub fn spectrum(r: &BenchResult) -> Vec<(f64, f64)> {
    let d = &r.latency;
    // Counts come from a file: added without overflowing.
    let total: u64 = d.bins.iter().fold(0u64, |t, b| t.saturating_add(b.count));
    if total == 0 {
        return Vec::new();
    }
    let mut seen = 0u64;
    let mut points = Vec::new();
    for b in &d.bins {
        seen = seen.saturating_add(b.count);
        // The last bin holds the slowest response: q = 1 has no place on a 1/(1-q) axis, so
        // it is drawn at the resolution the run's size allows.
        let q = (seen as f64 / total as f64).min(1.0 - 1.0 / (total as f64 + 1.0));
        points.push((1.0 / (1.0 - q), b.end as f64 / 1e3));
    }
    points
}

fn spectrum_svg(runs: &[(&str, &BenchResult)]) -> Result<String, String> {
    let curves: Vec<(&str, Vec<(f64, f64)>)> = runs.iter().map(|(n, r)| (*n, spectrum(r))).collect();
    let points = curves.iter().flat_map(|(_, p)| p.iter());
    let x_max = points.clone().map(|p| p.0).fold(10.0_f64, f64::max) * 1.5;
    let y_max = points.clone().map(|p| p.1).fold(0.01_f64, f64::max) * 1.5;
    let y_min = points.map(|p| p.1).filter(|v| *v > 0.0).fold(y_max, f64::min) / 1.5;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Latency by percentile (corrected for coordinated omission)",
                ("sans-serif", 22),
            )
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d((1.0..x_max).log_scale(), (y_min.max(0.001)..y_max).log_scale())
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| percentile_label(*x))
            .y_label_formatter(&|y| format!("{y:.3}"))
            .draw()
            .map_err(draw_error)?;
        for (i, (name, pts)) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(draw_error)?
                .label(label(name))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        legend(chart)?;
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// `50%`, `90%`, `99%`, `99.9%` at 2, 10, 100, 1000 on the 1/(1-q) axis.
fn percentile_label(x: f64) -> String {
    let q = (1.0 - 1.0 / x) * 100.0;
    let s = format!("{q:.4}");
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

fn sweep_svg(s: &SweepResult) -> Result<String, String> {
    if s.steps.is_empty() {
        return Err("the sweep has no finished step".into());
    }
    let names: Vec<String> = s.steps.iter().map(|st| st.name(&s.varies)).collect();
    let mut targets: Vec<&str> = Vec::new();
    for st in &s.steps {
        for t in &st.targets {
            if !targets.contains(&t.name.as_str()) {
                targets.push(&t.name);
            }
        }
    }
    // Per target: a thick and a thin line (label suffix, value of a target in a step),
    // in the target's colour; lines with no point are left out.
    type Pick = fn(&crate::model::sweep::TargetStep, bool) -> Option<f64>;
    let lines = |names: [&str; 2], pick: Pick| -> Vec<Series> {
        let mut out = Vec::new();
        for (ti, name) in targets.iter().enumerate() {
            for (thick, what) in [(false, names[0]), (true, names[1])] {
                let pts: Vec<(f64, f64)> = s
                    .steps
                    .iter()
                    .enumerate()
                    .filter_map(|(i, st)| {
                        let v = pick(st.targets.iter().find(|t| t.name == *name)?, thick)?;
                        v.is_finite().then_some((i as f64, v))
                    })
                    .collect();
                if !pts.is_empty() {
                    out.push((label(&format!("{name} {what}")), ti, thick, pts));
                }
            }
        }
        out
    };
    let series = lines(
        ["p50", "p99"],
        |t, p99| if p99 { t.slowdown.p99 } else { t.slowdown.p50 },
    );
    let x_max = (names.len() as f64 - 1.0).max(1.0);
    let cpu = lines(["app", "proxy"], |t, proxy| {
        let r = t.resources.as_ref()?;
        Some(if proxy {
            r.proxy_cpu_millis.mean
        } else {
            r.app_cpu_millis.mean
        })
    });
    let mem = lines(["app", "proxy"], |t, proxy| {
        let r = t.resources.as_ref()?;
        Some(if proxy {
            r.proxy_memory_mib.mean
        } else {
            r.app_memory_mib.mean
        })
    });
    let size = if cpu.is_empty() { SIZE } else { (SIZE.0, SIZE.1 * 2) };
    let x_desc = match s.varies.as_str() {
        "rate" => "requested rate (req/s)",
        _ => "connections",
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let (top, bottom) = if cpu.is_empty() {
            (root.clone(), None)
        } else {
            let (a, b) = root.split_vertically(SIZE.1);
            (a, Some(b.split_horizontally(SIZE.0 / 2)))
        };
        let title = label(&format!("Slowdown against {} by {}", s.baseline, s.varies));
        let y_desc = "latency / baseline's latency (x)";
        step_chart(&top, (&title, 22), x_desc, y_desc, &names, x_max, &series)?;
        if let Some((left, right)) = bottom {
            let cpu_chart = ("CPU by step (millicores, mean)", "CPU (millicores)", &cpu);
            let mem_chart = ("Memory by step (MiB, mean)", "memory (MiB)", &mem);
            for (area, (title, y_desc, series)) in [(left, cpu_chart), (right, mem_chart)] {
                step_chart(&area, (title, 18), x_desc, y_desc, &names, x_max, series)?;
            }
        }
        root.present().map_err(draw_error)?;
    }
    Ok(out)
}

/// A sweep chart by step: a line per series in its target's colour, thick for p99 (or the
/// proxy) and thin for p50 (or the app), from 0 to above the largest value (at least 1),
/// with its legend.
fn step_chart(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (title, title_size): (&str, u32),
    x_desc: &str,
    y_desc: &str,
    names: &[String],
    x_max: f64,
    series: &[Series],
) -> Result<(), String> {
    let y_max = series
        .iter()
        .flat_map(|(_, _, _, p)| p.iter().map(|p| p.1))
        .fold(1.0_f64, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", title_size))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(-0.3..x_max + 0.3, 0.0..y_max)
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_labels(names.len() + 1)
        .x_label_formatter(&|x| step_label(names, *x))
        .draw()
        .map_err(draw_error)?;
    for (name, ti, proxy, pts) in series {
        let color = PALETTE[ti % PALETTE.len()];
        let style = color.stroke_width(if *proxy { 3 } else { 1 });
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), style).point_size(if *proxy { 4 } else { 2 }))
            .map_err(draw_error)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    legend(chart)
}

/// A line of a sweep chart: its label, the target's colour index, whether it is drawn
/// thick (p99, or the proxy), and its points (step index, value).
type Series = (String, usize, bool, Vec<(f64, f64)>);

/// The step's name under its tick; nothing between steps.
fn step_label(names: &[String], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() < 1e-6 && i >= 0.0 {
        names.get(i as usize).cloned().unwrap_or_default()
    } else {
        String::new()
    }
}

/// The SVG rasterised (twice its size, for slides) to PNG bytes with resvg. Text needs a
/// font from the system: a sans-serif face is chosen, and none at all is an error rather
/// than a picture without its labels.
pub fn png(svg: &str) -> Result<Vec<u8>, String> {
    let mut fonts = resvg::usvg::fontdb::Database::new();
    fonts.load_system_fonts();
    let family = sans_family(&fonts).ok_or(
        "no font on this system to draw the PNG's text (install one, e.g. Debian's fonts-dejavu-core), or use --svg",
    )?;
    fonts.set_sans_serif_family(family.clone());
    let options = resvg::usvg::Options {
        font_family: family,
        fontdb: std::sync::Arc::new(fonts),
        ..Default::default()
    };
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(|e| format!("reading the SVG: {e}"))?;
    let size = tree.size().to_int_size();
    let mut pixmap =
        resvg::tiny_skia::Pixmap::new(size.width() * 2, size.height() * 2).ok_or("the picture has no area")?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(2.0, 2.0),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(|e| format!("encoding the PNG: {e}"))
}

/// A sans-serif family the system has: DejaVu, Liberation, Helvetica or Arial when there,
/// else any family with "Sans" in its name, else the first one.
fn sans_family(fonts: &resvg::usvg::fontdb::Database) -> Option<String> {
    let families: Vec<String> = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .collect();
    ["DejaVu Sans", "Liberation Sans", "Helvetica", "Arial"]
        .iter()
        .find(|want| families.iter().any(|f| f == *want))
        .map(|f| f.to_string())
        .or_else(|| {
            families
                .iter()
                .find(|f| f.contains("Sans") && !f.contains("Mono"))
                .cloned()
        })
        .or_else(|| families.first().cloned())
}

/// A name from a file as SVG text: control characters make ill-formed XML.
fn label(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).collect()
}

/// The legend, top left on a light box.
fn legend<'a, X, Y>(mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> Result<(), String>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(draw_error)?;
    Ok(())
}

fn draw_error<E: std::fmt::Display>(e: E) -> String {
    format!("drawing the chart: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
    }
}
