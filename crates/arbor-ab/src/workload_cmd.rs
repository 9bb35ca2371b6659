//! `scx_arbor workload [NAME]`: one of the A/B harness's workloads (the
//! latency mix by default, or a family: requests, fanout, phases) run
//! alone under whatever scheduler is attached, its figures printed as JSON.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use crate::family_args::{FamilyArgs, Shared};
use crate::oracle::Oracle;
use crate::{fanout, latency, phases, requests};

/// The workloads `scx_arbor workload` runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standalone {
    /// Periodic wakers beside CPU hogs (wakeup latency).
    Latency,
    /// Open-loop requests, short and long, served by a worker pool.
    Requests,
    /// A dispatcher that wakes a batch of workers and keeps running.
    Fanout,
    /// Tasks alternating between interactive and batch phases.
    Phases,
}

/// Run one of the A/B workloads alone, under whatever scheduler is
/// attached, and print its figures as one JSON object. The latency mix
/// (the default): periodic wakers (sleep to an absolute deadline, wake,
/// burn a burst) beside CPU hogs, wakeup latency percentiles (all wakers,
/// and per waker with its period). requests, fanout, phases: the workload
/// families, with the same figures `ab --json` records for them (their
/// configuration, latency percentiles, ground truth such as measured
/// service times and batch shares, and the oracle feed). Handy to give the
/// learner a workload with known burst lengths.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkloadArgs {
    /// Which workload.
    #[arg(value_enum, value_name = "NAME", default_value = "latency")]
    pub name: Standalone,
    /// Seconds to run (measured).
    #[arg(long, default_value_t = 10.0)]
    pub secs: f64,
    /// Periodic wakers.
    #[arg(long, default_value_t = 2)]
    pub wakers: usize,
    /// Waker period, µs, or a comma-separated list: waker i (and phases
    /// task i when interactive) sleeps list[i % len] (e.g.
    /// 1009,2017,2503,10007). Keep every period off multiples of the tick
    /// (HZ=250: 4000 µs).
    #[arg(
        long,
        value_name = "US[,US...]",
        value_delimiter = ',',
        default_value = "2017",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub period_us: Vec<u64>,
    /// CPU burst each waker (and interactive phases task) burns after waking, µs.
    #[arg(long, default_value_t = 50)]
    pub burst_us: u64,
    /// CPU hogs beside the workload (default: number of CPUs; requests
    /// and phases: 1).
    #[arg(long)]
    pub hogs: Option<usize>,
    /// requests: worker threads in the pool (default: 2 × CPUs).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Seed of the families' random draws (arrivals, request mix, batches).
    #[arg(long, default_value_t = 0x5eed)]
    pub seed: u64,
    #[command(flatten)]
    pub family: FamilyArgs,
}

/// Run the workload for `--secs` and print its figures.
pub fn run(args: &WorkloadArgs) -> Result<()> {
    let cpus = *scx_utils::NR_CPU_IDS;
    let stop = AtomicBool::new(false);
    let secs = Duration::from_secs_f64(args.secs);
    let sh = Shared {
        cpus,
        hogs: args.hogs,
        workers: args.workers,
        period_us: &args.period_us,
        burst_us: args.burst_us,
        seed: args.seed,
    };
    let json = match args.name {
        Standalone::Latency => latency_json(args, cpus, &stop)?,
        Standalone::Requests => {
            let cfg = args.family.requests(&sh);
            let r = requests::run(
                &cfg,
                Duration::ZERO,
                secs,
                &Oracle::open()?,
                &stop,
                &mut |_| {},
            )?;
            serde_json::to_value(requests::RequestsJson::new(&cfg, &r))?
        }
        Standalone::Fanout => {
            let cfg = args.family.fanout(&sh);
            let r = fanout::run(
                &cfg,
                Duration::ZERO,
                secs,
                &Oracle::open()?,
                &stop,
                &mut |_| {},
            )?;
            serde_json::to_value(fanout::FanoutJson::new(&cfg, &r))?
        }
        Standalone::Phases => {
            let cfg = args.family.phases(&sh);
            let r = phases::run(
                &cfg,
                Duration::ZERO,
                secs,
                &Oracle::open()?,
                &stop,
                &mut |_| {},
            )?;
            serde_json::to_value(phases::PhasesJson::new(&cfg, &r))?
        }
    };
    println!("{json}");
    Ok(())
}

/// The latency mix's JSON, as it has always been.
fn latency_json(args: &WorkloadArgs, cpus: usize, stop: &AtomicBool) -> Result<serde_json::Value> {
    let cfg = latency::LatencyConfig {
        wakers: args.wakers,
        period_us: args.period_us.clone(),
        burst_us: args.burst_us,
        hogs: args.hogs.unwrap_or(cpus),
    };
    let res = latency::run(
        &cfg,
        Duration::ZERO,
        Duration::from_secs_f64(args.secs),
        stop,
        &mut |_| {},
    )?;
    let summary = latency::summarize(&res.samples_ns);
    Ok(serde_json::json!({
        "workload": "latency",
        "latency": summary,
        "missed": res.missed,
        "period_us": cfg.period_us,
        "measured_s": res.measured_s,
        "per_waker": res.per_waker,
        "hog_units_per_sec": res.hog_units as f64 / res.measured_s.max(1e-9),
    }))
}
