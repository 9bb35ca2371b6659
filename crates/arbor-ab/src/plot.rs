//! The SVG of `scx_arbor ab --plot`: the pooled CDF and its tail per arm,
//! and a per-round strip (each round's median and interquartile range) so
//! that round-to-round noise is visible next to the difference between arms.

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::stats::quantile_sorted;
use std::path::Path;

/// Values grouped by the round (1-based) that produced them.
pub type Rounds = Vec<(usize, Vec<f64>)>;

/// One arm's values, grouped by round.
#[derive(Clone, Debug, Default)]
pub struct PlotArm {
    pub name: String,
    pub rounds: Rounds,
}

/// One round of one arm in the strip: its quartiles.
struct RoundStat {
    round: usize,
    p25: f64,
    p50: f64,
    p75: f64,
}

impl RoundStat {
    /// Round `round`'s quartiles of the sorted values `v`, the same type-7
    /// quantiles as the table's.
    fn of(round: usize, v: &[f64]) -> RoundStat {
        RoundStat {
            round,
            p25: quantile_sorted(v, 0.25),
            p50: quantile_sorted(v, 0.5),
            p75: quantile_sorted(v, 0.75),
        }
    }
}

/// Size of the SVG in pixels.
pub const SIZE: (u32, u32) = (1200, 860);

/// Colour of the `i`-th arm's curves, dots and legend entry.
pub fn arm_color(i: usize) -> RGBColor {
    const C: [RGBColor; 4] = [
        RGBColor(31, 119, 180),  // blue: baseline
        RGBColor(214, 39, 40),   // red
        RGBColor(44, 160, 44),   // green
        RGBColor(148, 103, 189), // purple
    ];
    C[i % C.len()]
}

/// At most `n` points of the empirical CDF of `v` (sorted in place).
pub fn cdf_points(v: &mut [f64], n: usize) -> Vec<(f64, f64)> {
    v.sort_by(|a, b| a.total_cmp(b));
    let len = v.len();
    if len == 0 {
        return vec![];
    }
    let step = (len / n.max(1)).max(1);
    let mut pts: Vec<(f64, f64)> = (0..len)
        .step_by(step)
        .map(|i| (v[i], (i + 1) as f64 / len as f64))
        .collect();
    // Always keep the tail exactly (the interesting part).
    let tail = len.saturating_sub(step * 4);
    for (i, x) in v.iter().enumerate().skip(tail) {
        pts.push((*x, (i + 1) as f64 / len as f64));
    }
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup();
    pts
}

/// Tick values for a log axis over `lo..hi`: the densest of the 1-2-5-like
/// mantissa sets that gives at most `max` ticks, so that a range narrower
/// than a decade still gets several labelled ticks.
pub fn log_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    const SETS: [&[f64]; 4] = [
        &[1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
        &[1.0, 2.0, 3.0, 5.0, 7.0],
        &[1.0, 2.0, 5.0],
        &[1.0],
    ];
    let ticks = |set: &[f64]| -> Vec<f64> {
        let mut v = Vec::new();
        let mut e = lo.log10().floor() as i32;
        while 10f64.powi(e) <= hi {
            for m in set {
                let t = m * 10f64.powi(e);
                if t >= lo && t <= hi {
                    v.push(t);
                }
            }
            e += 1;
        }
        v
    };
    for set in SETS {
        let v = ticks(set);
        if v.len() <= max {
            return v;
        }
    }
    // More decades than `max`: every k-th power of ten.
    let v = ticks(&[1.0]);
    let k = v.len().div_ceil(max.max(1));
    v.into_iter().step_by(k).collect()
}

/// A tick label with two significant digits and no trailing zeros
/// ("0.05", "1.5", "150"); below 0.001 in e-notation ("1e-4").
pub fn tick_label(x: &f64) -> String {
    let x = *x;
    if x > 0.0 && x < 1e-3 {
        return format!("{x:.0e}");
    }
    let d = (1.0 - x.abs().log10().floor()).max(0.0) as usize;
    let s = format!("{x:.d$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The empirical CDF `pts` as a step function: flat between values,
/// rising at each, from 0 below the first.
fn steps(pts: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut prev = 0.0;
    let mut v = Vec::with_capacity(pts.len() * 2);
    for &(x, f) in pts {
        v.push((x, prev));
        v.push((x, f));
        prev = f;
    }
    v
}

/// Writes the SVG at `path`: top left the CDF of every arm's values pooled
/// over its rounds, top right the tail (1 − CDF, log), x on a log scale in
/// `unit`; bottom, per round, each arm's median (dot) and p25–p75 (bar).
/// Values that are not finite and positive are left out.
pub fn write_svg(path: &Path, title: &str, unit: &str, arms: &[PlotArm]) -> Result<()> {
    // (arm index for the colour, name, sorted pooled values, per-round sorted values)
    type Arm = (usize, String, Vec<f64>, Rounds);
    let arms: Vec<Arm> = arms
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let rounds: Rounds = a
                .rounds
                .iter()
                .map(|(r, v)| {
                    let mut v: Vec<f64> = v
                        .iter()
                        .copied()
                        .filter(|x| x.is_finite() && *x > 0.0)
                        .collect();
                    v.sort_by(f64::total_cmp);
                    (*r, v)
                })
                .filter(|(_, v)| !v.is_empty())
                .collect();
            let pooled: Vec<f64> = rounds.iter().flat_map(|(_, v)| v.iter().copied()).collect();
            (i, a.name.clone(), pooled, rounds)
        })
        .filter(|a| !a.2.is_empty())
        .collect();
    anyhow::ensure!(!arms.is_empty(), "nothing to plot (no positive samples)");
    let all = || arms.iter().flat_map(|a| a.2.iter().copied());
    let lo = all().fold(f64::INFINITY, f64::min);
    let hi = all().fold(0.0, f64::max);
    let (xlo, xhi) = (lo * 0.8, (hi * 1.25).max(lo * 2.0));
    let nmax = arms.iter().map(|a| a.2.len()).max().unwrap_or(1) as f64;
    let ylo = (1.0 / nmax).min(0.1) * 0.5;

    let e = |e: DrawingAreaErrorKind<_>| anyhow!("plot {}: {e:?}", path.display());
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(e)?;
    let (top, bottom) = root.split_vertically(SIZE.1 * 56 / 100);
    let panels = top.split_evenly((1, 2));

    let pts: Vec<Vec<(f64, f64)>> = arms
        .iter()
        .map(|a| steps(&cdf_points(&mut a.2.clone(), 2000)))
        .collect();
    let x_desc = format!("{unit} (log scale)");
    let legend = |(x, y): (i32, i32), c: RGBColor| {
        PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3))
    };
    {
        let mut chart = ChartBuilder::on(&panels[0])
            .caption("CDF, all rounds pooled", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(55)
            .build_cartesian_2d(
                (xlo..xhi)
                    .log_scale()
                    .with_key_points(log_ticks(xlo, xhi, 8)),
                0.0..1.0,
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(&x_desc)
            .x_label_formatter(&tick_label)
            .y_desc("fraction ≤ x")
            .y_max_light_lines(1)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        for ((i, name, _, _), p) in arms.iter().zip(&pts) {
            let c = arm_color(*i);
            chart
                .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))
                .map_err(e)?
                .label(name.clone())
                .legend(move |xy| legend(xy, c));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(e)?;
    }
    {
        let mut chart = ChartBuilder::on(&panels[1])
            .caption("tail: 1 − CDF", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (xlo..xhi)
                    .log_scale()
                    .with_key_points(log_ticks(xlo, xhi, 8)),
                (ylo..1.0)
                    .log_scale()
                    .with_key_points(log_ticks(ylo, 1.0, 6)),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(&x_desc)
            .x_label_formatter(&tick_label)
            .y_desc("fraction > x")
            .y_label_formatter(&tick_label)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(e)?;
        for ((i, name, _, _), p) in arms.iter().zip(&pts) {
            let c = arm_color(*i);
            // After the largest value the tail is 0: drawn down to the axis.
            let tail = p.iter().map(|&(x, f)| (x, (1.0 - f).max(ylo)));
            chart
                .draw_series(LineSeries::new(tail, c.stroke_width(2)))
                .map_err(e)?
                .label(name.clone())
                .legend(move |xy| legend(xy, c));
        }
        chart
            .configure_series_labels()
            // Tails start top left and fall to the right: the lower left is free.
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(e)?;
    }
    strip(
        &bottom,
        unit,
        &arms.iter().map(|a| (a.0, &a.3)).collect::<Vec<_>>(),
    )?;
    root.present().map_err(e)?;
    Ok(())
}

/// The per-round strip: x the round, y (log) each arm's median in that
/// round as a dot with its p25–p75 as a bar, arms side by side in a round.
fn strip<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    unit: &str,
    arms: &[(usize, &Rounds)],
) -> Result<()> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plot: {e:?}");
    let stats: Vec<(usize, Vec<RoundStat>)> = arms
        .iter()
        .map(|(i, rounds)| {
            let s = rounds.iter().map(|(r, v)| RoundStat::of(*r, v)).collect();
            (*i, s)
        })
        .collect();
    let all = || stats.iter().flat_map(|(_, s)| s.iter());
    let lo = all().map(|s| s.p25).fold(f64::INFINITY, f64::min);
    let hi = all().map(|s| s.p75).fold(0.0, f64::max);
    // At least a factor 2 of range, centred on the data, so flat data sits mid-panel.
    let mid = (lo * hi).sqrt();
    let half = (hi / lo).sqrt().max(2f64.sqrt()) * 1.15;
    let (ylo, yhi) = (mid / half, mid * half);
    let rmin = all().map(|s| s.round).min().unwrap_or(1);
    let rmax = all().map(|s| s.round).max().unwrap_or(1);
    let step = (rmax - rmin + 1).div_ceil(25).max(1);
    // x in hundredths of a round: integer coordinates (whose labels plotters
    // can format) with room for the arms' offsets within a round.
    let x = |r: usize, dx: f64| (r as f64 * 100.0 + dx * 100.0).round() as i32;
    let xticks: Vec<i32> = (rmin..=rmax).step_by(step).map(|r| x(r, 0.0)).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(
            "per round: median (dot) and p25–p75 (bar) of each arm",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(
            (x(rmin, -0.5)..x(rmax, 0.5)).with_key_points(xticks),
            (ylo..yhi)
                .log_scale()
                .with_key_points(log_ticks(ylo, yhi, 6)),
        )
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("round")
        .x_label_formatter(&|x| format!("{}", x / 100))
        .y_desc(format!("{unit} (log scale)"))
        .y_label_formatter(&tick_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    let k = stats.len() as f64;
    for (j, (i, s)) in stats.iter().enumerate() {
        let c = arm_color(*i);
        // Arms side by side within a round's slot of width 1.
        let dx = if k > 1.0 {
            (j as f64 / (k - 1.0) - 0.5) * 0.4
        } else {
            0.0
        };
        chart
            .draw_series(s.iter().map(|q| {
                let xr = x(q.round, dx);
                PathElement::new(vec![(xr, q.p25), (xr, q.p75)], c.stroke_width(2))
            }))
            .map_err(e)?;
        chart
            .draw_series(
                s.iter()
                    .map(|q| Circle::new((x(q.round, dx), q.p50), 5, c.filled())),
            )
            .map_err(e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_median_is_the_tables_median() {
        // The table's medians and percentiles are type-7 quantiles
        // (stats::quantile_sorted); the strip must draw the same values.
        let v = [1.0, 2.0, 3.0, 4.0];
        let r = RoundStat::of(1, &v);
        assert_eq!(r.p50, crate::stats::median(&v));
        assert_eq!(r.p25, crate::stats::quantile_sorted(&v, 0.25));
        assert_eq!(r.p75, crate::stats::quantile_sorted(&v, 0.75));
    }

    #[test]
    fn cdf_points_monotone() {
        let mut v: Vec<f64> = (0..10_000).rev().map(|i| i as f64).collect();
        let p = cdf_points(&mut v, 100);
        assert!(p.len() >= 100 && p.len() <= 500, "{}", p.len());
        assert!(p.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert_eq!(p.last().unwrap(), &(9999.0, 1.0));
    }

    #[test]
    fn log_ticks_cover_narrow_and_wide_ranges() {
        // Less than a decade still gets several ticks, all inside the range.
        let t = log_ticks(40.0, 150.0, 5);
        assert_eq!(t, vec![50.0, 70.0, 100.0]);
        let t = log_ticks(40.0, 90.0, 8);
        assert_eq!(t, vec![40.0, 50.0, 60.0, 70.0, 80.0, 90.0]);
        // Nine decades with at most 4 ticks: every third power of ten.
        let t = log_ticks(1.0, 1e9, 4);
        assert_eq!(t, vec![1.0, 1e3, 1e6, 1e9]);
    }

    #[test]
    fn tick_labels_are_short() {
        let l = |v: &[f64]| v.iter().map(tick_label).collect::<Vec<_>>();
        assert_eq!(
            l(&[0.05, 0.3, 0.5, 1.0, 1.5, 70.0, 150.0, 2000.0, 1e-4]),
            ["0.05", "0.3", "0.5", "1", "1.5", "70", "150", "2000", "1e-4"]
        );
    }

    #[test]
    fn empty_input_is_an_error() {
        let f = std::env::temp_dir().join(format!("ab-plot-empty-{}.svg", std::process::id()));
        let a = PlotArm {
            name: "x".into(),
            rounds: vec![(1, vec![0.0, f64::NAN])],
        };
        assert!(write_svg(&f, "t", "µs", &[a]).is_err());
    }
}
