//! Output of `scx_arbor ab`: the terminal table and the JSON document (the SVG is in plot.rs).

use super::bpfstats::ProgStat;
use super::latency::{Bucket, LatencySummary};
use super::rundelay::RunDelay;
use super::stats::{Better, Comparison, Verdict};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Definition of one per-round metric.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MetricDef {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub better: Better,
}

const fn m(
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
) -> MetricDef {
    MetricDef {
        key,
        label,
        unit,
        better,
    }
}

/// Every metric a round can produce, in table order.
pub const METRICS: &[MetricDef] = &[
    m("lat_p50_us", "wakeup latency p50", "µs", Better::Lower),
    m("lat_p99_us", "wakeup latency p99", "µs", Better::Lower),
    m("lat_p999_us", "wakeup latency p99.9", "µs", Better::Lower),
    m("lat_max_us", "wakeup latency max", "µs", Better::Lower),
    m("lat_mean_us", "wakeup latency mean", "µs", Better::Lower),
    m(
        "hog_units_per_s",
        "hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "lat_waker_rundelay_us_per_run",
        "waker run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "lat_rundelay_us_per_run",
        "latency-mix run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "lat_rundelay_ms_per_task_s",
        "latency-mix run delay",
        "ms/task-s",
        Better::Lower,
    ),
    m(
        "msg_time_ms",
        "messaging completion time",
        "ms",
        Better::Lower,
    ),
    m("msg_per_s", "messaging throughput", "msg/s", Better::Higher),
    m(
        "msg_rundelay_us_per_run",
        "messaging run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "msg_rundelay_ms_per_task_s",
        "messaging run delay",
        "ms/task-s",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p50_us",
        "schbench wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p90_us",
        "schbench wakeup p90",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p99_us",
        "schbench wakeup p99",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p999_us",
        "schbench wakeup p99.9",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p50_us",
        "schbench request p50",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p90_us",
        "schbench request p90",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p99_us",
        "schbench request p99",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p999_us",
        "schbench request p99.9",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_requests_per_s",
        "schbench throughput",
        "req/s",
        Better::Higher,
    ),
    m(
        "sch_rundelay_us_per_run",
        "schbench run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p99_us",
        "requests: short request p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p50_us",
        "requests: short request p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p90_us",
        "requests: short request p90",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p999_us",
        "requests: short request p99.9",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_max_us",
        "requests: short request max",
        "µs",
        Better::Lower,
    ),
    m(
        "req_long_p50_us",
        "requests: long request p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_long_p99_us",
        "requests: long request p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_long_max_us",
        "requests: long request max",
        "µs",
        Better::Lower,
    ),
    m(
        "req_all_p50_us",
        "requests: all requests p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_all_p99_us",
        "requests: all requests p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_queue_wait_p50_us",
        "requests: queue wait p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_queue_wait_p99_us",
        "requests: queue wait p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_wakeup_p50_us",
        "requests: worker wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_wakeup_p99_us",
        "requests: worker wakeup p99",
        "µs",
        Better::Lower,
    ),
    m("req_per_s", "requests: served", "req/s", Better::Higher),
    m(
        "req_hog_units_per_s",
        "requests: hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "req_rundelay_us_per_run",
        "requests: run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_p99_us",
        "fanout: worker wakeup p99",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_p50_us",
        "fanout: worker wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_p90_us",
        "fanout: worker wakeup p90",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_max_us",
        "fanout: worker wakeup max",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_small_p99_us",
        "fanout: wakeup p99, smallest batch",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_large_p99_us",
        "fanout: wakeup p99, largest batch",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_round_p50_us",
        "fanout: round completion p50",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_round_p99_us",
        "fanout: round completion p99",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_burst_p50_us",
        "fanout: dispatcher burst p50",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_burst_p99_us",
        "fanout: dispatcher burst p99",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_hog_units_per_s",
        "fanout: hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "fan_rundelay_us_per_run",
        "fanout: run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_wakeup_p99_us",
        "phases: interactive wakeup p99",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_wakeup_p50_us",
        "phases: interactive wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_wakeup_max_us",
        "phases: interactive wakeup max",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_switch_p50_us",
        "phases: wakeup p50 after a switch",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_switch_p99_us",
        "phases: wakeup p99 after a switch",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_batch_units_per_s",
        "phases: batch throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "ph_hog_units_per_s",
        "phases: hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "ph_rundelay_us_per_run",
        "phases: run delay per run",
        "µs",
        Better::Lower,
    ),
    m("cmd_wall_s", "command wall time", "s", Better::Lower),
    m(
        "sched_cpu_pct",
        "scheduler process CPU",
        "% of a CPU",
        Better::Lower,
    ),
    m(
        "bpf_ns_per_decision",
        "BPF time per decision (all programs)",
        "ns",
        Better::Lower,
    ),
    m(
        "model_score",
        "model cost score on real bursts",
        "points",
        Better::Higher,
    ),
    m(
        "model_balanced_acc_pct",
        "model balanced accuracy",
        "%",
        Better::Higher,
    ),
    m(
        "cmd_rundelay_us_per_run",
        "command run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "cmd_rundelay_ms_per_task_s",
        "command run delay",
        "ms/task-s",
        Better::Lower,
    ),
];

/// Seconds since the Unix epoch, as the JSON records times.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
pub fn metric_def(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.key == key)
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyJson {
    pub config: super::latency::LatencyConfig,
    pub measured_s: f64,
    pub percentiles: LatencySummary,
    pub missed_periods: u64,
    /// Period, wakeups, missed periods and latency percentiles of each waker.
    pub per_waker: Vec<super::latency::WakerStats>,
    pub hog_units: u64,
    pub hog_units_per_s: f64,
    /// Log-scale histogram of the wakeup latencies (non-empty buckets only).
    pub histogram: Vec<Bucket>,
    pub rundelay: RunDelay,
    pub rundelay_wakers: RunDelay,
}

#[derive(Clone, Debug, Serialize)]
pub struct MessagingJson {
    pub config: super::messaging::MessagingConfig,
    pub iterations_s: Vec<f64>,
    pub messages: u64,
    pub median_time_ms: f64,
    pub messages_per_s: f64,
    pub rundelay: RunDelay,
}

#[derive(Clone, Debug, Serialize)]
pub struct SchbenchJson {
    pub config: super::schbench::SchbenchConfig,
    pub measured_s: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    pub wakeup: LatencySummary,
    pub request: LatencySummary,
    pub rundelay: RunDelay,
}

#[derive(Clone, Debug, Serialize)]
pub struct CommandJson {
    #[serde(flatten)]
    pub result: super::command::CommandResult,
    pub status: String,
    pub rundelay: RunDelay,
}

/// Raw figures of one arm in one round.
#[derive(Clone, Debug, Serialize)]
pub struct RoundRecord {
    pub arm: String,
    /// Round number, 1-based.
    pub round: usize,
    /// Position in the whole run's sequence of arm-rounds, 1-based.
    pub order: usize,
    /// Position of this arm within its round, 1-based.
    pub slot: usize,
    pub started_unix_s: f64,
    /// Seconds from spawning the scheduler until sched_ext reported it enabled.
    pub attach_s: Option<f64>,
    /// The metrics of [`METRICS`] this round produced (NaN → null).
    pub metrics: BTreeMap<String, f64>,
    pub latency: Option<LatencyJson>,
    pub messaging: Option<MessagingJson>,
    pub schbench: Option<SchbenchJson>,
    pub requests: Option<super::requests::RequestsJson>,
    pub fanout: Option<super::fanout::FanoutJson>,
    pub phases: Option<super::phases::PhasesJson>,
    pub command: Option<CommandJson>,
    /// BPF program counters accumulated during the workloads (with --bpf-stats).
    pub bpf_stats: Vec<ProgStat>,
    /// The scheduler's own figures over the workloads (scx_arbor arms).
    pub scheduler: Option<SchedulerJson>,
    /// The learn arm's generations before and after the round.
    pub learn: Option<LearnRoundJson>,
    #[serde(skip)]
    pub latency_samples_ns: Vec<u64>,
}

/// What a scheduler arm's process did during a round's workloads (the
/// counters and model figures come from scx_arbor's control socket, so
/// another scheduler's arm, `--arm`, has its CPU only).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SchedulerJson {
    /// utime + stime of the scheduler process over the workloads' wall
    /// time, percent of one CPU.
    pub cpu_pct: f64,
    /// From its control socket (None when it could not be read): the live
    /// model's cost-weighted score and balanced accuracy on the bursts that
    /// ended during the workloads, and how many.
    pub model_score: Option<f64>,
    pub model_balanced_accuracy: Option<f64>,
    pub model_outcomes: u64,
    /// Decisions (tree walks or the fallback) made during the workloads.
    pub decisions: u64,
    /// Outcome samples sent, and turned away by the budget, during the workloads.
    pub samples_sent: u64,
    pub samples_throttled: u64,
    /// Model generation installed at the end (scheduler generation counter).
    pub installed_generation: Option<u64>,
}

/// The learn arm's model directory around one round.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LearnRoundJson {
    pub model_dir: String,
    /// Newest promoted generation in the directory when the round started
    /// (what --resume installed; None: the configured model).
    pub resumed_generation: Option<u64>,
    /// Newest promoted generation when it ended.
    pub newest_generation: Option<u64>,
    /// Generations promoted during the round.
    pub promoted: u64,
}

/// Medians over an scx_arbor arm's rounds of the scheduler's own figures.
#[derive(Clone, Debug, Serialize)]
pub struct SchedulerSummary {
    pub arm: String,
    pub rounds: usize,
    /// Scheduler process CPU, percent of one CPU.
    pub cpu_pct: Option<f64>,
    /// Live model's cost-weighted score and balanced accuracy on the
    /// bursts of the workloads (points).
    pub model_score: Option<f64>,
    pub model_balanced_acc_pct: Option<f64>,
}

/// One learn-arm round in the summary.
#[derive(Clone, Debug, Serialize)]
pub struct LearnRound {
    pub round: usize,
    #[serde(flatten)]
    pub info: LearnRoundJson,
}

/// Learning's cost per call of one BPF program: the learn arm against the
/// default arm, per round.
#[derive(Clone, Debug, Serialize)]
pub struct LearnCost {
    pub name: String,
    pub avg_ns_learn: f64,
    pub avg_ns_default: f64,
    /// avg_ns_learn − avg_ns_default.
    pub extra_ns: f64,
    /// Per-round ns/call, learn (arm) against default (baseline).
    pub cmp: Comparison,
}

#[derive(Clone, Debug, Serialize)]
pub struct MetricComparison {
    pub metric: String,
    pub label: String,
    pub unit: String,
    pub baseline: String,
    pub arm: String,
    #[serde(flatten)]
    pub cmp: Comparison,
}

#[derive(Clone, Debug, Serialize)]
pub struct BpfProgSummary {
    pub arm: String,
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
    /// Σ run time / Σ calls over all rounds.
    pub avg_ns: f64,
    pub per_round_avg_ns: Vec<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WalkCost {
    pub name: String,
    pub avg_ns_model: f64,
    pub avg_ns_no_model: f64,
    /// avg_ns_model − avg_ns_no_model: the cost of the tree walk per call.
    pub walk_ns: f64,
    /// Per-round ns/call, arbor (model) against arbor --no-model.
    pub cmp: Comparison,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub baseline: String,
    pub comparisons: Vec<MetricComparison>,
    /// With the arbor-nomodel arm (--walk-cost): every metric of arbor (arm)
    /// against arbor --no-model (baseline), i.e. what the model changes.
    pub model_vs_nomodel: Vec<MetricComparison>,
    /// With the heuristic and default arms: the model against the rule it
    /// replaces (class of the average burst).
    pub model_vs_heuristic: Vec<MetricComparison>,
    /// With the heuristic and oracle arms: the headroom, what knowing each
    /// burst ahead buys over the rule.
    pub oracle_vs_heuristic: Vec<MetricComparison>,
    /// With the learn and default arms: every metric of the learn arm
    /// against the default arm, i.e. what learning changes.
    pub learn_vs_default: Vec<MetricComparison>,
    /// The scheduler's own figures per scx_arbor arm.
    pub scheduler: Vec<SchedulerSummary>,
    /// The learn arm's generations, round by round.
    pub learn_rounds: Vec<LearnRound>,
    /// With --bpf-stats and the learn and default arms: ns per BPF call.
    pub learn_cost: Vec<LearnCost>,
    /// Latency percentiles over all rounds of each arm pooled.
    pub latency_pooled: BTreeMap<String, LatencySummary>,
    pub bpf: Vec<BpfProgSummary>,
    pub walk_cost: Vec<WalkCost>,
    pub failed_commands: usize,
    pub notes: Vec<String>,
}

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

/// Write `doc` as pretty JSON (NaN and infinities become null).
pub fn write_json<T: Serialize>(path: &Path, doc: &T) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    serde_json::to_writer_pretty(&mut w, doc)?;
    use std::io::Write;
    writeln!(w)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_keys_unique() {
        let mut k: Vec<&str> = METRICS.iter().map(|m| m.key).collect();
        k.sort();
        k.dedup();
        assert_eq!(k.len(), METRICS.len());
        assert_eq!(
            metric_def("hog_units_per_s").unwrap().better,
            Better::Higher
        );
    }

    #[test]
    fn every_family_metric_is_defined_with_the_right_direction() {
        let req = crate::requests::RequestsResult::default().metrics();
        let fan = crate::fanout::FanoutResult::default().metrics(&crate::fanout::FanoutConfig {
            period_us: 1,
            batch: vec![1],
            batch_p: vec![],
            post_us: 0,
            work_us: 1,
            hogs: 0,
            seed: 0,
        });
        let ph = crate::phases::PhasesResult::default().metrics();
        for (k, _) in req.iter().chain(&fan).chain(&ph) {
            let d = metric_def(k).unwrap_or_else(|| panic!("{k} is not in METRICS"));
            let higher = k.ends_with("_per_s");
            assert_eq!(d.better == Better::Higher, higher, "{k}");
        }
    }
}
