//! `scx_arbor workload`: the latency mix of the A/B harness, run alone
//! under whatever scheduler is attached, its figures printed as JSON.

use std::time::Duration;

use anyhow::Result;

use crate::latency;

/// Run the A/B latency mix alone, under whatever scheduler is attached:
/// periodic wakers (sleep to an absolute deadline, wake, burn a burst)
/// beside CPU hogs. Prints wakeup latency percentiles (all wakers, and
/// per waker with its period) as JSON. Handy to give the learner a
/// workload with known burst lengths.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkloadArgs {
    /// Seconds to run (measured).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Periodic wakers.
    #[arg(long, default_value_t = 2)]
    pub wakers: usize,
    /// Waker period, µs, or a comma-separated list: waker i sleeps
    /// list[i % len] (e.g. 1009,2017,2503,10007). Keep every period off
    /// multiples of the tick (HZ=250: 4000 µs).
    #[arg(
        long,
        value_name = "US[,US...]",
        value_delimiter = ',',
        default_value = "2017",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub period_us: Vec<u64>,
    /// CPU burst each waker burns after waking, µs.
    #[arg(long, default_value_t = 50)]
    pub burst_us: u64,
    /// CPU hogs beside the wakers (default: number of CPUs).
    #[arg(long)]
    pub hogs: Option<usize>,
}

/// Run the mix for `--secs` and print its figures.
pub fn run(args: &WorkloadArgs) -> Result<()> {
    let cfg = latency::LatencyConfig {
        wakers: args.wakers,
        period_us: args.period_us.clone(),
        burst_us: args.burst_us,
        hogs: args.hogs.unwrap_or_else(|| *scx_utils::NR_CPU_IDS),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let res = latency::run(
        &cfg,
        Duration::ZERO,
        Duration::from_secs_f64(args.secs),
        &stop,
        &mut |_| {},
    )?;
    let summary = latency::summarize(&res.samples_ns);
    println!(
        "{}",
        serde_json::json!({
            "latency": summary,
            "missed": res.missed,
            "period_us": cfg.period_us,
            "measured_s": res.measured_s,
            "per_waker": res.per_waker,
            "hog_units_per_sec": res.hog_units as f64 / res.measured_s.max(1e-9),
        })
    );
    Ok(())
}
