//! The terminal table of `scx_arbor ab`: per arm against the baseline, one
//! row per metric, then the per-round values, walk cost and notes.

use super::report::{MetricComparison, RoundRecord, Summary};
use super::stats::{Better, Verdict};
use std::fmt::Write as _;

fn fmt_val(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.3e}", v)
    } else if a >= 1000.0 {
        format!("{:.0}", v)
    } else if a >= 100.0 {
        format!("{:.1}", v)
    } else if a >= 1.0 {
        format!("{:.2}", v)
    } else {
        format!("{:.3}", v)
    }
}

/// One comparison table: `arm` against `baseline`, one row per metric.
fn comparison_rows(out: &mut String, baseline: &str, arm: &str, cmps: &[&MetricComparison]) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<36} {:>6} {:>10} {:>13} {:>7} {:>17} {:>7}  verdict",
        "metric (median over rounds)", "better", baseline, arm, "ratio", "95% CI of ratio", "p",
    );
    for c in cmps {
        let label = format!("{} [{}]", c.label, c.unit);
        let ci = c
            .cmp
            .ci95
            .map(|(l, h)| format!("[{:.3}, {:.3}]", l, h))
            .unwrap_or_else(|| "-".into());
        let verdict = match c.cmp.verdict {
            Verdict::Better => "BETTER".to_string(),
            Verdict::Worse => "WORSE".to_string(),
            v => v.as_str().to_string(),
        };
        let _ = writeln!(
            out,
            "{:<36} {:>6} {:>10} {:>13} {:>7} {:>17} {:>7}  {}",
            label,
            match c.cmp.better {
                Better::Lower => "lower",
                Better::Higher => "higher",
            },
            fmt_val(c.cmp.median_baseline),
            fmt_val(c.cmp.median_arm),
            c.cmp
                .ratio
                .map(|r| format!("{r:.3}"))
                .unwrap_or_else(|| "-".into()),
            ci,
            if c.cmp.p_value.is_finite() {
                format!("{:.4}", c.cmp.p_value)
            } else {
                "-".into()
            },
            verdict
        );
    }
}

/// The terminal table.
pub fn table(summary: &Summary, rounds: &[RoundRecord], header: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let arms: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for c in &summary.comparisons {
            if !v.contains(&c.arm) {
                v.push(c.arm.clone());
            }
        }
        v
    };
    for arm in &arms {
        let cmps: Vec<&MetricComparison> = summary
            .comparisons
            .iter()
            .filter(|c| &c.arm == arm)
            .collect();
        comparison_rows(&mut out, &summary.baseline, arm, &cmps);
    }
    if !summary.model_vs_nomodel.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "model effect: arbor against arbor --no-model");
        let cmps: Vec<&MetricComparison> = summary.model_vs_nomodel.iter().collect();
        comparison_rows(&mut out, &cmps[0].baseline, &cmps[0].arm, &cmps);
    }
    for (cmps, title) in [
        (
            &summary.model_vs_heuristic,
            "model against the heuristic: arbor against arbor --heuristic",
        ),
        (
            &summary.oracle_vs_heuristic,
            "headroom: the oracle against arbor --heuristic",
        ),
    ] {
        if !cmps.is_empty() {
            let _ = writeln!(out);
            let _ = write!(out, "{title}");
            let cmps: Vec<&MetricComparison> = cmps.iter().collect();
            comparison_rows(&mut out, &cmps[0].baseline, &cmps[0].arm, &cmps);
        }
    }
    if !summary.learn_vs_default.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "learning effect: arbor --learn on against arbor");
        let cmps: Vec<&MetricComparison> = summary.learn_vs_default.iter().collect();
        comparison_rows(&mut out, &cmps[0].baseline, &cmps[0].arm, &cmps);
    }
    if !summary.scheduler.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<16} {:>7} {:>18} {:>18} {:>20}",
            "scheduler", "rounds", "process CPU [%]", "model score [pt]", "balanced acc [%]"
        );
        let o = |v: Option<f64>| v.map_or("-".to_string(), fmt_val);
        for a in &summary.scheduler {
            let _ = writeln!(
                out,
                "{:<16} {:>7} {:>18} {:>18} {:>20}",
                a.arm,
                a.rounds,
                o(a.cpu_pct),
                o(a.model_score),
                o(a.model_balanced_acc_pct)
            );
        }
        let _ = writeln!(
            out,
            "(medians over rounds, during the workloads; the model figures are from the scheduler's counters of bursts that ended)"
        );
    }
    if !summary.learn_rounds.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "learn arm generations (resumed -> newest, promoted):");
        let g = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
        for l in &summary.learn_rounds {
            let _ = write!(
                out,
                "  #{}: {} -> {} (+{})",
                l.round,
                g(l.info.resumed_generation),
                g(l.info.newest_generation),
                l.info.promoted
            );
        }
        let _ = writeln!(out);
    }
    // Commands: every exit status, non-zero ones called out.
    let cmds: Vec<&RoundRecord> = rounds.iter().filter(|r| r.command.is_some()).collect();
    if !cmds.is_empty() {
        let _ = writeln!(out);
        let _ = write!(out, "command exit status per round:");
        for r in &cmds {
            let c = r.command.as_ref().unwrap();
            let _ = write!(out, "  {}#{}: {}", r.arm, r.round, c.status);
        }
        let _ = writeln!(out);
        if summary.failed_commands > 0 {
            let _ = writeln!(
                out,
                "WARNING: the command failed (non-zero exit or signal) in {} of {} runs; its timings are still listed",
                summary.failed_commands,
                cmds.len()
            );
        }
    }
    if !summary.latency_pooled.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<16} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "pooled latency", "samples", "mean", "p50", "p90", "p99", "p99.9", "max [µs]"
        );
        for (arm, s) in &summary.latency_pooled {
            let _ = writeln!(
                out,
                "{:<16} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                arm,
                s.samples,
                fmt_val(s.mean_us),
                fmt_val(s.p50_us),
                fmt_val(s.p90_us),
                fmt_val(s.p99_us),
                fmt_val(s.p999_us),
                fmt_val(s.max_us)
            );
        }
    }
    if !summary.bpf.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<16} {:<18} {:>12} {:>14} {:>10}",
            "decision cost", "BPF program", "calls", "run time [ns]", "ns/call"
        );
        for b in summary.bpf.iter().filter(|b| b.run_cnt > 0) {
            let _ = writeln!(
                out,
                "{:<16} {:<18} {:>12} {:>14} {:>10}",
                b.arm,
                b.name,
                b.run_cnt,
                b.run_time_ns,
                fmt_val(b.avg_ns)
            );
        }
    }
    if !summary.walk_cost.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<18} {:>12} {:>12} {:>10} {:>17} {:>7}  verdict",
            "tree walk cost", "model ns", "no-model ns", "walk ns", "95% CI of ratio", "p",
        );
        for w in summary.walk_cost.iter().filter(|w| w.walk_ns.is_finite()) {
            let _ = writeln!(
                out,
                "{:<18} {:>12} {:>12} {:>10} {:>17} {:>7}  {}",
                w.name,
                fmt_val(w.avg_ns_model),
                fmt_val(w.avg_ns_no_model),
                fmt_val(w.walk_ns),
                w.cmp
                    .ci95
                    .map(|(l, h)| format!("[{:.3}, {:.3}]", l, h))
                    .unwrap_or_else(|| "-".into()),
                if w.cmp.p_value.is_finite() {
                    format!("{:.4}", w.cmp.p_value)
                } else {
                    "-".into()
                },
                w.cmp.verdict.as_str()
            );
        }
    }
    if !summary.learn_cost.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<18} {:>12} {:>12} {:>10} {:>7} {:>17} {:>7}  verdict",
            "learning cost", "learn ns", "default ns", "extra ns", "ratio", "95% CI of ratio", "p",
        );
        for w in summary.learn_cost.iter().filter(|w| w.extra_ns.is_finite()) {
            let _ = writeln!(
                out,
                "{:<18} {:>12} {:>12} {:>10} {:>7} {:>17} {:>7}  {}",
                w.name,
                fmt_val(w.avg_ns_learn),
                fmt_val(w.avg_ns_default),
                fmt_val(w.extra_ns),
                w.cmp
                    .ratio
                    .map(|r| format!("{r:.3}"))
                    .unwrap_or_else(|| "-".into()),
                w.cmp
                    .ci95
                    .map(|(l, h)| format!("[{:.3}, {:.3}]", l, h))
                    .unwrap_or_else(|| "-".into()),
                if w.cmp.p_value.is_finite() {
                    format!("{:.4}", w.cmp.p_value)
                } else {
                    "-".into()
                },
                w.cmp.verdict.as_str()
            );
        }
    }
    for n in &summary.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}
