//! The JSON document of `scx_arbor ab`: per round, per scheduler and the
//! summary (the terminal table is in table.rs, the SVG in plot.rs).

use super::bpfstats::ProgStat;
use super::latency::{Bucket, LatencySummary};
use super::rundelay::RunDelay;
use super::stats::Comparison;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Seconds since the Unix epoch, as the JSON records times.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
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
