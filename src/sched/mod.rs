//! The scheduler side of userspace: loading and attaching the BPF policy,
//! installing models, reading counters and samples, the control channel.

pub mod actions;
pub mod control;
pub mod explain;
pub mod features;
pub mod guard;
pub mod kernel;
pub mod learning;
pub mod loader;
pub mod model_file;
pub mod model_slot;
#[cfg(feature = "oracle")]
pub mod oracle;
pub mod record;
pub mod samples;
pub mod stats;
pub mod stats_server;
pub mod supervisor;
pub mod topology;
pub mod verifier;
pub mod watch;

use std::path::PathBuf;

use clap::Args;

/// The model used when neither --model nor --no-model is given.
pub const EMBEDDED_MODEL: Option<&[u8]> = Some(include_bytes!("../../models/default.onnx"));

/// Options of the scheduler itself (`scx_arbor [OPTIONS]`).
#[derive(Debug, Clone, Args)]
pub struct SchedOpts {
    /// ONNX tree-ensemble model to start with (default: the model embedded in
    /// the binary). It must name feature schema 1 or 2; see docs/models.md.
    #[arg(long, value_name = "FILE", conflicts_with = "no_model")]
    pub model: Option<PathBuf>,

    /// Start with no model: every task gets the fallback class, which behaves
    /// like EEVDF's default base slice. Useful as a baseline.
    #[arg(long)]
    pub no_model: bool,

    /// Start with the heuristic model: a task's class is the class of its
    /// average burst (ewma_burst_us at 250 µs, 1 ms, 4 ms), one tree built
    /// in, run through the same path as any model. The hand-written rule a
    /// learned model has to beat.
    #[arg(long, conflicts_with_all = ["no_model", "model"])]
    pub heuristic: bool,

    /// Slice and request of the fallback class, µs. Default: EEVDF's base
    /// slice, 750 µs × (1 + log2(min(CPUs, 8))). Larger favours throughput,
    /// smaller favours latency.
    #[arg(long, value_name = "US")]
    pub slice_us: Option<u64>,

    /// Override one row of the action table: CLASS=SLICE_US:REQUEST_US, with
    /// CLASS one of tiny, short, medium, long, fallback (or 0..4). A smaller
    /// request gives the class earlier deadlines (lower latency); a larger
    /// slice lets it run longer before the tick can preempt it. Repeatable.
    #[arg(long, value_name = "SPEC")]
    pub action: Vec<String>,

    /// Don't preempt a running task when a waking task has an earlier
    /// deadline. Wakers then wait for the running slice to end (at tick
    /// granularity): better throughput for hogs, much worse wakeup latency.
    #[arg(long)]
    pub no_wakeup_preempt: bool,

    /// Send one outcome sample every N bursts through the ring buffer (0:
    /// none). Default: 1 with --record, else 0. Lower N sees more, costs more.
    #[arg(long, value_name = "N")]
    pub sample_every: Option<u32>,

    /// Send at most N outcome samples per second per CPU (0: no limit),
    /// N/4 per burst class, so a flood of one kind of burst cannot crowd out
    /// the rare ones; what the budget turns away is counted as throttled.
    /// scx_arbor's own threads are never sampled. Default: 0 with --record
    /// (every sample is written), else 128.
    #[arg(long, value_name = "N")]
    pub sample_budget: Option<u32>,

    /// Size of the outcome-sample ring buffer, KiB: a power of two, at
    /// least one page (4 on x86-64), at most 1048576 (1 GiB). The consumer
    /// is woken when it is a quarter full and drains it at least 4 times a
    /// second; samples that find it full are dropped and counted
    /// (samples_dropped), never waited for. Larger rides out longer bursts
    /// of samples at the cost of kernel memory (a sample takes 88 bytes).
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    pub sample_ring_kib: u32,

    /// Write every outcome sample to FILE as CSV (header: ts_ns, pid,
    /// generation, the features, predicted, actual, burst_us, truncated)
    /// until the scheduler stops. Samples the ring buffer cannot take are
    /// counted as dropped, never block scheduling.
    #[arg(long, value_name = "FILE", conflicts_with = "record_dir")]
    pub record: Option<PathBuf>,

    /// Write every outcome sample into DIR as gzip-compressed CSV, one file
    /// per interval (`arbor-HOST-STARTZ-SEQ.csv.gz`, written as `.part` and
    /// renamed when whole), the --record columns then host, kernel and
    /// schema_version (and workload); never unbounded: the oldest files go
    /// past --record-keep or --record-max-mib, counted in
    /// record_files_deleted. For fleet training (docs/fleet.md).
    #[arg(long, value_name = "DIR")]
    pub record_dir: Option<PathBuf>,

    /// --record-dir: a new file after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub record_rotate_secs: u64,

    /// --record-dir: a new file once the compressed file reaches this many MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub record_rotate_mib: u64,

    /// --record-dir: keep at most this many closed files (default: a day of
    /// 5-minute files).
    #[arg(long, value_name = "N", default_value_t = 288)]
    pub record_keep: usize,

    /// --record-dir: keep at most this many MiB of closed files.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    pub record_max_mib: u64,

    /// --record-dir: the operator's name of the workload, written in a
    /// `workload` column of every row.
    #[arg(long, value_name = "NAME", requires = "record_dir")]
    pub record_workload: Option<String>,

    /// Learning from the running system: `off` never changes the model by
    /// itself; `shadow` trains candidates and walks them in BPF beside the
    /// live model, counting their accuracy, never acting; `on` promotes
    /// candidates that beat the live model on held-out samples.
    #[arg(long, value_enum, default_value = "off")]
    pub learn: arbor_learn::online::LearnMode,

    /// Train a candidate at most every SECS seconds. Shorter adapts faster
    /// and costs more CPU in the learning thread.
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub learn_interval: f64,

    /// Samples needed before the first candidate; a quarter as many new ones
    /// are needed between candidates. Fewer trains sooner on a noisier picture.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub learn_min_samples: usize,

    /// Samples kept for training (oldest dropped first); caps the learner's
    /// memory at about 48 bytes per sample.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub learn_window: usize,

    /// Train each candidate on at most the newest N samples of the window.
    /// Bounds the CPU one candidate costs; more sees further back.
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub learn_max_train: usize,

    /// Score points (0-100) a candidate must beat the running tree by, on
    /// held-out samples and in shadow (cost-weighted score; `--help` shows
    /// the cost matrix).
    #[arg(
        long,
        value_name = "POINTS",
        default_value_t = 2.0,
        long_help = arbor_learn::cost::margin_help()
    )]
    pub learn_margin: f64,

    /// Depth limit of learnt trees (<= 24). Deeper fits more, generalises less.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub learn_max_depth: usize,

    /// With --learn on: before promotion, walk a candidate in shadow for N
    /// bursts and promote only if its shadow accuracy beats the live model's
    /// over the same bursts by the margin (0: the held-out test alone).
    #[arg(long, value_name = "BURSTS", default_value_t = 0)]
    pub promote_after_shadow: u64,

    /// The guard (docs/design.md#the-guard): in a quarter of the time, in
    /// windows picked at random, the fallback row decides instead of the
    /// model, and each such window is paired with a model window; when a
    /// batch of pairs shows the model's wakeup-wait p99 significantly worse
    /// (signed-rank test), the model is suspended (the fallback decides, a quarter
    /// of the windows still try the model) until its windows are
    /// significantly better. Counted in the guard_* statistics.
    #[arg(
        long,
        value_name = "on|off",
        default_value = "off",
        action = clap::ArgAction::Set,
        value_parser = on_off
    )]
    pub guard: bool,

    /// The guard's window, ms; four windows make a block with one probe.
    #[arg(long, value_name = "MS", default_value_t = 250)]
    pub guard_window_ms: u64,

    /// Window pairs per guard verdict: more is surer and slower.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub guard_pairs: usize,

    /// Roll out models published into DIR (docs/fleet.md, "Rollout"): each
    /// new NAME.onnx (owned by the scheduler's user, not group- or
    /// world-writable; its sha256 equal to NAME.report.json's when there is
    /// one) is imported and verified against tract, walked in shadow beside
    /// the live model, installed, and kept only if its canary window holds
    /// against the generation it replaced (live score, walk errors,
    /// preemptions, starved runs, fallback decisions, wakeup-wait p99);
    /// otherwise the previous generation goes back in. Progress in
    /// NAME.status.json and the watch_* statistics. Not with --learn.
    #[arg(long, value_name = "DIR")]
    pub model_watch: Option<PathBuf>,

    /// --model-watch: seconds a candidate walks in shadow before it is
    /// installed (0: no shadow stage).
    #[arg(long, value_name = "SECS", default_value_t = 120.0)]
    pub canary_shadow_secs: f64,

    /// --model-watch: seconds of the canary window after the install.
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub canary_secs: f64,

    /// --model-watch: score points a candidate may lose against the live
    /// model, in shadow and in its canary window.
    #[arg(long, value_name = "POINTS", default_value_t = 1.0)]
    pub canary_margin: f64,

    /// --model-watch: bursts the shadow stage and the canary window need
    /// before they judge.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub canary_min_bursts: u64,

    /// --model-watch: how far, in percent, the rates per decision
    /// (preemptions, starved runs, fallback decisions) and the wakeup-wait
    /// p99 may rise in the canary window over the previous generation's.
    #[arg(long, value_name = "PCT", default_value_t = 20.0)]
    pub canary_max_rise_pct: f64,

    /// Directory where every promoted generation is written as
    /// gen-NNNNNN.onnx with a JSON lineage sidecar, numbered on from what it
    /// holds, never overwriting (list with `generations`, reload one with
    /// --model, --resume or `swap`).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/scx_arbor/models")]
    pub model_dir: PathBuf,

    /// Start from the newest promoted generation in --model-dir (e.g. after
    /// a reboot) instead of --model or the embedded model, which are used
    /// only when the directory holds none. `scx_arbor generations` lists them.
    #[arg(long, conflicts_with = "no_model")]
    pub resume: bool,

    /// Print statistics every SECS seconds while scheduling, read from this
    /// instance's scx_stats server (/var/run/scx/root/stats) like any client.
    #[arg(long, value_name = "SECS")]
    pub stats: Option<f64>,

    /// Don't schedule: print the statistics of the running instance every
    /// SECS seconds, read from its scx_stats server (/var/run/scx/root/stats).
    #[arg(long, value_name = "SECS")]
    pub monitor: Option<f64>,

    /// Print the description of every statistic (`--stats`, `--monitor`,
    /// scxtop, the OpenMetrics relay) and exit.
    #[arg(long)]
    pub help_stats: bool,

    /// Control socket of the running instance (root only, mode 0600).
    #[arg(long, value_name = "PATH", default_value = arbor_proto::control::DEFAULT_SOCKET)]
    pub control_socket: PathBuf,

    /// Bytes of the BPF exit dump printed when the scheduler errors out
    /// (0: the kernel's default).
    #[arg(long, default_value_t = 0, value_name = "BYTES")]
    pub exit_dump_len: u32,

    /// More log output; twice also prints libbpf's debug log (verifier
    /// output on a load failure).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print the version and exit.
    #[arg(short = 'V', long)]
    pub version: bool,

    /// TESTS ONLY: accept `swap --debug-torn`, which overwrites the live model
    /// in place (a deliberately torn install) to prove torn reads are counted.
    /// Only in builds with the `debug-torn` feature (the tests'), never in a
    /// release build.
    #[cfg(feature = "debug-torn")]
    #[arg(long, hide = true)]
    pub debug_allow_torn_install: bool,

    /// TESTS ONLY: make a worker thread fail (panic), to prove the
    /// supervisor notices: KIND is learner, samples or control; `KIND`
    /// fails once about a second after it starts (control: in its next
    /// request), `KIND:always` every time it is started, `KIND:locked` once
    /// while holding the live model's lock (learner, control). Only in
    /// builds with the `debug-torn` feature.
    #[cfg(feature = "debug-torn")]
    #[arg(long, hide = true, value_name = "KIND[:MODE]")]
    pub debug_fail_thread: Option<String>,

    /// BENCHMARKS ONLY: decide from what the workload knows instead of the
    /// model, where it published it (the pinned map
    /// /sys/fs/bpf/scx_arbor/oracle): the oracle arm of `ab`, the most any
    /// model could do. Only in builds with the `oracle` feature.
    #[cfg(feature = "oracle")]
    #[arg(long, hide = true)]
    pub oracle: bool,
}

impl SchedOpts {
    /// Whether outcome samples are recorded (`--record` or `--record-dir`).
    pub fn recording(&self) -> bool {
        self.record.is_some() || self.record_dir.is_some()
    }
}

/// `on` or `off`, as a switch option takes it.
fn on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("expected on or off, not {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        opts: SchedOpts,
    }

    #[test]
    fn guard_takes_on_or_off_and_is_off_by_default() {
        let parse = |a: &[&str]| Cli::try_parse_from([&["scx_arbor"], a].concat());
        assert!(!parse(&[]).unwrap().opts.guard);
        assert!(parse(&["--guard", "on"]).unwrap().opts.guard);
        assert!(!parse(&["--guard", "off"]).unwrap().opts.guard);
        assert!(parse(&["--guard", "yes"]).is_err());
        assert!(parse(&["--guard"]).is_err());
    }
}
