//! Request serving with bimodal service times (cache hits and misses).
//!
//! An open-loop load generator draws Poisson arrivals at the rate that
//! keeps the workers' CPU use at `load` × CPUs on average (given the mean
//! service time) and hands each request to a pool of worker threads: to an
//! idle worker directly (a futex wake of that one worker), or, when none is
//! idle, into a shared FIFO queue that workers drain before they go idle
//! (those requests are counted as queued). A request is long (a miss,
//! `long_us` of the worker's CPU time) with probability `long_share`, else
//! short (`short_us`). With `long_runs` K > 0, long requests come in runs
//! per worker (a miss storm): after a long request the same worker's next
//! request is long again with probability `long_runs_p`, a run never
//! exceeds K, and the chance of a long request after a short one is chosen
//! so that the share of long requests stays `long_share`; a worker's recent
//! requests then predict its next one. CPU hogs run beside the pool.
//!
//! Times: arrival = the request's scheduled arrival (open loop: a late
//! generator does not delay the clock of the requests it owes); queue wait
//! = arrival → a worker takes it; wakeup latency = the generator's wake
//! call → the woken worker running; request latency = arrival → its
//! service burst done. Service is CPU time of the worker thread, the same
//! work under any scheduler.
//!
//! Oracle: before waking a worker the generator publishes the worker's
//! burst end = the CPU clock the worker stored right before it blocked +
//! the service time + the worker's allowance (see [`crate::oracle`]); a
//! worker that takes a queued request without sleeping publishes its own
//! (its CPU clock now + service + allowance).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use arbor_util::rng::SplitMix64;
use serde::Serialize;

use crate::clock::ensure_sched_other;
use crate::clock::{burn_cpu, gettid, mono_ns, sleep_until_ns, thread_cpu_ns, tight_timer_slack};
use crate::hogs::{per_s, Hogs};
use crate::latency::{summarize, LatencySummary};
use crate::oracle::{self, Allowance, Oracle, OracleReport};
use crate::phase::Phase;
use crate::rundelay::{RunDelay, SchedStat, ThreadMeter};

#[derive(Clone, Debug, Serialize)]
pub struct RequestsConfig {
    /// Worker threads in the pool.
    pub workers: usize,
    /// Target CPU utilisation of the workers, as a share of all CPUs.
    pub load: f64,
    /// CPUs the load is a share of.
    pub cpus: usize,
    /// Service CPU time of a short request (a hit), µs.
    pub short_us: u64,
    /// Service CPU time of a long request (a miss), µs.
    pub long_us: u64,
    /// Share of long requests.
    pub long_share: f64,
    /// Longest run of long requests to one worker; 0: each request is
    /// long independently.
    pub long_runs: u32,
    /// With runs: chance that a worker's next request is long after a long one.
    pub long_runs_p: f64,
    pub hogs: usize,
    /// Seed of the arrivals and the request mix.
    pub seed: u64,
}

impl RequestsConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(self.workers > 0, "requests: --workers must be > 0");
        ensure!(self.cpus > 0, "requests: no CPUs to load");
        ensure!(
            self.load > 0.0 && self.load.is_finite(),
            "requests: --load must be > 0 (a share of all CPUs, e.g. 0.5)"
        );
        ensure!(
            self.short_us > 0 && self.long_us > 0,
            "requests: --short-us and --long-us must be > 0"
        );
        ensure!(
            (0.0..1.0).contains(&self.long_share),
            "requests: --long-share must be in [0, 1)"
        );
        ensure!(
            (0.0..1.0).contains(&self.long_runs_p),
            "requests: --long-runs-p must be in [0, 1)"
        );
        let q = self.long_after_short_p();
        ensure!(
            q <= 1.0,
            "requests: a long share of {} cannot be reached with runs of at most {} \
             (continued with p = {}): it needs a long request after a short one with p = {q:.3} > 1",
            self.long_share,
            self.long_runs,
            self.long_runs_p
        );
        Ok(())
    }

    /// Mean service time, µs.
    pub fn mean_service_us(&self) -> f64 {
        (1.0 - self.long_share) * self.short_us as f64 + self.long_share * self.long_us as f64
    }

    /// Arrivals per second that give the workers `load` × `cpus` of CPU.
    pub fn arrivals_per_s(&self) -> f64 {
        self.load * self.cpus as f64 * 1e6 / self.mean_service_us()
    }

    /// Mean length of a run of long requests (1 without runs).
    pub fn mean_long_run(&self) -> f64 {
        let (k, p) = (self.long_runs, self.long_runs_p);
        if k == 0 {
            1.0 / (1.0 - self.long_share)
        } else {
            // P(R = j) = p^(j-1) (1-p) for j < K, P(R = K) = p^(K-1).
            (1.0 - p.powi(k as i32)) / (1.0 - p)
        }
    }

    /// With runs: chance of a long request after a short one (or at the
    /// start), so that the long share is `long_share`. A cycle is a run of
    /// mean length E[R] then 1/q short requests on average, so
    /// share = E[R] / (E[R] + 1/q).
    pub fn long_after_short_p(&self) -> f64 {
        if self.long_runs == 0 {
            return self.long_share;
        }
        let s = self.long_share;
        s / (self.mean_long_run() * (1.0 - s))
    }

    /// Service CPU time of a request, ns.
    pub fn service_ns(&self, long: bool) -> u64 {
        1000 * if long { self.long_us } else { self.short_us }
    }
}

/// One worker's history: the length of the run of long requests it is in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mix {
    run: u32,
}

impl Mix {
    /// Whether this worker's next request is long.
    pub fn next_is_long(&mut self, cfg: &RequestsConfig, rng: &mut SplitMix64) -> bool {
        let p = if cfg.long_runs == 0 {
            cfg.long_share
        } else if self.run == 0 {
            cfg.long_after_short_p()
        } else if self.run < cfg.long_runs {
            cfg.long_runs_p
        } else {
            0.0
        };
        let long = rng.next_f64() < p;
        self.run = if long { self.run + 1 } else { 0 };
        long
    }
}

/// A request waiting in the queue.
#[derive(Clone, Copy, Debug)]
struct Pending {
    arrival_ns: u64,
    measured: bool,
}

/// A request handed to a worker.
#[derive(Clone, Copy, Debug)]
struct Job {
    arrival_ns: u64,
    measured: bool,
    long: bool,
}

/// What the pool's lock guards.
struct Pool {
    queue: VecDeque<Pending>,
    idle: Vec<usize>,
    assigned: Vec<Option<Job>>,
    mixes: Vec<Mix>,
    rng: SplitMix64,
    arrivals: u64,
    queued: u64,
}

/// A worker as the generator sees it.
#[derive(Default)]
struct Slot {
    thread: OnceLock<Thread>,
    tid: AtomicU32,
    /// The worker's CPU clock right before it last blocked.
    blocked_cpu: AtomicU64,
    allowance: Allowance,
    /// The generator's clock right before its wake call.
    woken_ns: AtomicU64,
    wake: AtomicBool,
}

/// One served request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Served {
    pub long: bool,
    /// Handed to an idle worker (false: it waited in the queue).
    pub handed: bool,
    pub arrival_ns: u64,
    pub picked_ns: u64,
    pub done_ns: u64,
    /// Wake call → the worker running (handed requests only).
    pub wakeup_ns: Option<u64>,
    /// CPU time the service burst took.
    pub service_cpu_ns: u64,
}

/// Raw figures of one run.
#[derive(Clone, Debug, Default)]
pub struct RequestsResult {
    pub served: Vec<Served>,
    /// Requests that arrived during the measurement.
    pub arrivals: u64,
    /// Of them, those that found no idle worker and waited in the queue.
    pub queued: u64,
    /// Arrived during the measurement but not served when it ended.
    pub unfinished: u64,
    /// Generator: actual − scheduled wake, ns.
    pub generator_lag_ns: Vec<u64>,
    /// Workers' measured CPU per cycle beyond the service (the allowance), ns.
    pub wake_path_cpu_ns: Vec<u64>,
    /// Each worker's allowance at the end, ns.
    pub allowance_ns: Vec<u64>,
    pub hog_units: u64,
    pub measured_s: f64,
    /// Run delay of the generator and the workers.
    pub rundelay: RunDelay,
    pub rundelay_hogs: RunDelay,
    pub oracle: OracleReport,
}

impl RequestsResult {
    fn latencies(&self, f: impl Fn(&Served) -> Option<u64>) -> Vec<u64> {
        self.served.iter().filter_map(f).collect()
    }
    /// Request latency (arrival → done) of the short, the long or all requests.
    pub fn latency(&self, long: Option<bool>) -> LatencySummary {
        summarize(&self.latencies(|s| {
            (long.is_none() || long == Some(s.long)).then(|| s.done_ns.saturating_sub(s.arrival_ns))
        }))
    }
    pub fn queue_wait(&self) -> LatencySummary {
        summarize(&self.latencies(|s| Some(s.picked_ns.saturating_sub(s.arrival_ns))))
    }
    pub fn wakeup(&self) -> LatencySummary {
        summarize(&self.latencies(|s| s.wakeup_ns))
    }
    pub fn service_cpu(&self, long: bool) -> LatencySummary {
        summarize(&self.latencies(|s| (s.long == long).then_some(s.service_cpu_ns)))
    }
    pub fn requests_per_s(&self) -> f64 {
        per_s(self.served.len() as u64, self.measured_s)
    }
    pub fn long_share(&self) -> f64 {
        let long = self.served.iter().filter(|s| s.long).count();
        long as f64 / self.served.len().max(1) as f64
    }
    pub fn hog_units_per_s(&self) -> f64 {
        per_s(self.hog_units, self.measured_s)
    }

    /// The ab metrics of this run (keys of [`crate::metrics::METRICS`]).
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let (s, l, a) = (
            self.latency(Some(false)),
            self.latency(Some(true)),
            self.latency(None),
        );
        let (q, w) = (self.queue_wait(), self.wakeup());
        vec![
            ("req_short_p99_us", s.p99_us),
            ("req_short_p50_us", s.p50_us),
            ("req_short_p90_us", s.p90_us),
            ("req_short_p999_us", s.p999_us),
            ("req_short_max_us", s.max_us),
            ("req_long_p50_us", l.p50_us),
            ("req_long_p99_us", l.p99_us),
            ("req_long_max_us", l.max_us),
            ("req_all_p50_us", a.p50_us),
            ("req_all_p99_us", a.p99_us),
            ("req_queue_wait_p50_us", q.p50_us),
            ("req_queue_wait_p99_us", q.p99_us),
            ("req_wakeup_p50_us", w.p50_us),
            ("req_wakeup_p99_us", w.p99_us),
            ("req_per_s", self.requests_per_s()),
            ("req_hog_units_per_s", self.hog_units_per_s()),
            ("req_rundelay_us_per_run", self.rundelay.us_per_run()),
        ]
    }
}

/// Request latency per class.
#[derive(Clone, Debug, Serialize)]
pub struct ByClass {
    pub short: LatencySummary,
    pub long: LatencySummary,
    pub all: LatencySummary,
}

/// The oracle's part of the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct RequestsOracleJson {
    #[serde(flatten)]
    pub feed: OracleReport,
    /// The allowance each worker started from, ns.
    pub allowance_start_ns: u64,
    /// Median over workers of their allowance at the end, ns.
    pub allowance_end_ns: f64,
    /// Measured CPU per wake → serve → block cycle beyond the service.
    pub wake_path_cpu: LatencySummary,
}

/// What `ab --json` and `scx_arbor workload requests` record.
#[derive(Clone, Debug, Serialize)]
pub struct RequestsJson {
    pub workload: &'static str,
    pub config: RequestsConfig,
    pub arrivals_per_s_target: f64,
    pub measured_s: f64,
    pub arrivals: u64,
    pub served: u64,
    pub requests_per_s: f64,
    pub queued: u64,
    pub queued_share: f64,
    pub unfinished: u64,
    /// Share of long requests among those served.
    pub long_share: f64,
    /// Arrival → done, µs.
    pub latency: ByClass,
    /// Arrival → a worker takes it, µs.
    pub queue_wait: LatencySummary,
    /// Wake call → the worker running, µs (handed requests).
    pub wakeup: LatencySummary,
    /// CPU time of the service bursts, µs.
    pub service_cpu_short: LatencySummary,
    pub service_cpu_long: LatencySummary,
    /// The generator's lateness against the scheduled arrivals, µs.
    pub generator_lag: LatencySummary,
    pub hog_units: u64,
    pub hog_units_per_s: f64,
    pub rundelay: RunDelay,
    pub rundelay_hogs: RunDelay,
    pub oracle: RequestsOracleJson,
}

impl RequestsJson {
    pub fn new(config: &RequestsConfig, r: &RequestsResult) -> RequestsJson {
        let allow: Vec<f64> = r.allowance_ns.iter().map(|&n| n as f64).collect();
        RequestsJson {
            workload: "requests",
            config: config.clone(),
            arrivals_per_s_target: config.arrivals_per_s(),
            measured_s: r.measured_s,
            arrivals: r.arrivals,
            served: r.served.len() as u64,
            requests_per_s: r.requests_per_s(),
            queued: r.queued,
            queued_share: r.queued as f64 / r.arrivals.max(1) as f64,
            unfinished: r.unfinished,
            long_share: r.long_share(),
            latency: ByClass {
                short: r.latency(Some(false)),
                long: r.latency(Some(true)),
                all: r.latency(None),
            },
            queue_wait: r.queue_wait(),
            wakeup: r.wakeup(),
            service_cpu_short: r.service_cpu(false),
            service_cpu_long: r.service_cpu(true),
            generator_lag: summarize(&r.generator_lag_ns),
            hog_units: r.hog_units,
            hog_units_per_s: r.hog_units_per_s(),
            rundelay: r.rundelay.clone(),
            rundelay_hogs: r.rundelay_hogs.clone(),
            oracle: RequestsOracleJson {
                feed: r.oracle.clone(),
                allowance_start_ns: oracle::DEFAULT_ALLOWANCE_NS,
                allowance_end_ns: crate::stats::median(&allow),
                wake_path_cpu: summarize(&r.wake_path_cpu_ns),
            },
        }
    }
}

fn lock(m: &Mutex<Pool>) -> MutexGuard<'_, Pool> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What one worker thread brings back.
struct WorkerOut {
    served: Vec<Served>,
    wake_path_cpu_ns: Vec<u64>,
    rundelay: Option<(SchedStat, u64)>,
}

/// One worker: serve what it is handed or what waits in the queue; when
/// there is nothing, store its CPU clock, go idle and sleep until handed a
/// request.
fn worker(
    w: usize,
    cfg: &RequestsConfig,
    pool: &Mutex<Pool>,
    slot: &Slot,
    phase: &Phase,
    oracle: &Oracle,
) -> WorkerOut {
    ensure_sched_other();
    let tid = gettid();
    slot.tid.store(tid, Ordering::Release);
    let _ = slot.thread.set(std::thread::current());
    let mut out = WorkerOut {
        served: Vec::new(),
        wake_path_cpu_ns: Vec::new(),
        rundelay: None,
    };
    let mut meter: Option<ThreadMeter> = None;
    // Since it last blocked: its CPU clock then, requests served, their work.
    let mut blocked_at: Option<u64> = None;
    let (mut served_since, mut work_since) = (0u32, 0u64);
    let mut resumed_ns: Option<u64> = None;
    loop {
        if meter.is_none() && phase.measuring() {
            meter = Some(ThreadMeter::start());
        }
        let mut p = lock(pool);
        if phase.done() {
            break;
        }
        let (job, handed) = if let Some(j) = p.assigned[w].take() {
            (j, true)
        } else if let Some(q) = p.queue.pop_front() {
            let long = {
                let Pool { mixes, rng, .. } = &mut *p;
                mixes[w].next_is_long(cfg, rng)
            };
            let j = Job {
                arrival_ns: q.arrival_ns,
                measured: q.measured,
                long,
            };
            (j, false)
        } else {
            // Nothing to do: block. The clock is stored before the worker
            // shows as idle, so the generator never reads a stale one.
            let cpu = thread_cpu_ns();
            if let (Some(b), 1) = (blocked_at, served_since) {
                let o = oracle::cycle_overhead(b, cpu, work_since);
                slot.allowance.observe(o);
                if phase.measuring() {
                    out.wake_path_cpu_ns.push(o);
                }
            }
            blocked_at = Some(cpu);
            (served_since, work_since) = (0, 0);
            slot.blocked_cpu.store(cpu, Ordering::Release);
            slot.wake.store(false, Ordering::Release);
            p.idle.push(w);
            drop(p);
            while !slot.wake.load(Ordering::Acquire) && !phase.done() {
                std::thread::park_timeout(Duration::from_millis(10));
            }
            resumed_ns = Some(mono_ns());
            continue;
        };
        drop(p);
        let service_ns = cfg.service_ns(job.long);
        let picked_ns = match (handed, resumed_ns.take()) {
            (true, Some(r)) => r,
            _ => mono_ns(),
        };
        let t0 = thread_cpu_ns();
        if !handed {
            // Its burst goes on: it says so itself.
            oracle.publish(tid, oracle::burst_end(t0, service_ns, slot.allowance.ns()));
        }
        let t1 = burn_cpu(service_ns);
        let done_ns = mono_ns();
        served_since += 1;
        work_since += service_ns;
        if job.measured {
            let woken = slot.woken_ns.load(Ordering::Acquire);
            out.served.push(Served {
                long: job.long,
                handed,
                arrival_ns: job.arrival_ns,
                picked_ns,
                done_ns,
                wakeup_ns: handed.then(|| picked_ns.saturating_sub(woken)),
                service_cpu_ns: t1 - t0,
            });
        }
    }
    out.rundelay = meter.and_then(|m| m.finish());
    out
}

/// Hand a request that arrives at `arrival_ns` to an idle worker, or queue it.
fn arrive(
    arrival_ns: u64,
    cfg: &RequestsConfig,
    pool: &Mutex<Pool>,
    slots: &[Slot],
    measured: bool,
    oracle: &Oracle,
) {
    let mut p = lock(pool);
    if measured {
        p.arrivals += 1;
    }
    let Some(w) = p.idle.pop() else {
        p.queue.push_back(Pending {
            arrival_ns,
            measured,
        });
        if measured {
            p.queued += 1;
        }
        return;
    };
    let long = {
        let Pool { mixes, rng, .. } = &mut *p;
        mixes[w].next_is_long(cfg, rng)
    };
    p.assigned[w] = Some(Job {
        arrival_ns,
        measured,
        long,
    });
    drop(p);
    let s = &slots[w];
    let end = oracle::burst_end(
        s.blocked_cpu.load(Ordering::Acquire),
        cfg.service_ns(long),
        s.allowance.ns(),
    );
    oracle.publish(s.tid.load(Ordering::Acquire), end);
    s.woken_ns.store(mono_ns(), Ordering::Release);
    s.wake.store(true, Ordering::Release);
    if let Some(t) = s.thread.get() {
        t.unpark();
    }
}

/// Exponential gap of a Poisson process of `rate_per_ns`, ns (≥ 1).
pub fn exp_gap_ns(rng: &mut SplitMix64, rate_per_ns: f64) -> u64 {
    let u = rng.next_f64();
    ((-(1.0 - u).ln() / rate_per_ns) as u64).max(1)
}

/// Run the family: `warmup` unmeasured, then `duration` measured, feeding
/// `oracle`; returns early (with what was measured) when `stop` is set or
/// an oracle update fails (then with that error).
pub fn run(
    cfg: &RequestsConfig,
    warmup: Duration,
    duration: Duration,
    oracle: &Oracle,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<RequestsResult> {
    cfg.validate()?;
    let phase = Phase::new();
    let pool = Mutex::new(Pool {
        queue: VecDeque::new(),
        idle: Vec::with_capacity(cfg.workers),
        assigned: vec![None; cfg.workers],
        mixes: vec![Mix::default(); cfg.workers],
        rng: SplitMix64::new(cfg.seed ^ 0x6d69_7865),
        arrivals: 0,
        queued: 0,
    });
    let slots: Vec<Slot> = (0..cfg.workers).map(|_| Slot::default()).collect();
    let rate_per_ns = cfg.arrivals_per_s() / 1e9;
    let mut measured_s = 0.0;

    let (workers, generator, hogs) = std::thread::scope(|s| -> Result<_> {
        let (phase, pool, slots) = (&phase, &pool, &slots);
        let mut handles = Vec::with_capacity(cfg.workers);
        for (w, slot) in slots.iter().enumerate() {
            handles.push(
                std::thread::Builder::new()
                    .name("ab-req-worker".into())
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || worker(w, cfg, pool, slot, phase, oracle))?,
            );
        }
        let gen = std::thread::Builder::new()
            .name("ab-req-gen".into())
            .stack_size(256 * 1024)
            .spawn_scoped(s, move || {
                ensure_sched_other();
                tight_timer_slack();
                // Every worker must be idle and parkable before the first request.
                while lock(pool).idle.len() < slots.len() && !phase.done() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let mut rng = SplitMix64::new(cfg.seed ^ 0x6172_7269);
                let mut lag = Vec::new();
                let mut meter: Option<ThreadMeter> = None;
                let mut next = mono_ns() + exp_gap_ns(&mut rng, rate_per_ns);
                while !phase.done() {
                    if meter.is_none() && phase.measuring() {
                        meter = Some(ThreadMeter::start());
                    }
                    sleep_until_ns(next);
                    let now = mono_ns();
                    let measured = meter.is_some() && phase.measuring();
                    if measured {
                        lag.push(now.saturating_sub(next));
                    }
                    while next <= now {
                        arrive(next, cfg, pool, slots, measured, oracle);
                        next += exp_gap_ns(&mut rng, rate_per_ns);
                    }
                }
                (lag, meter.and_then(|m| m.finish()))
            })?;
        let hogs = Hogs::spawn(s, cfg.hogs, phase)?;
        measured_s = phase.drive(
            "requests",
            warmup,
            duration,
            &oracle::halt(stop, oracle),
            progress,
        );
        for sl in slots.iter() {
            if let Some(t) = sl.thread.get() {
                t.unpark();
            }
        }
        let workers: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        Ok((workers, gen.join(), hogs.join()))
    })?;
    oracle.check()?;

    let p = lock(&pool);
    let mut res = RequestsResult {
        arrivals: p.arrivals,
        queued: p.queued,
        measured_s,
        allowance_ns: slots.iter().map(|s| s.allowance.ns()).collect(),
        oracle: oracle.report(),
        ..Default::default()
    };
    let waiting = p.queue.iter().filter(|q| q.measured).count()
        + p.assigned.iter().flatten().filter(|j| j.measured).count();
    drop(p);
    for w in workers {
        let w = w.map_err(|_| anyhow!("a requests worker panicked"))?;
        res.served.extend(w.served);
        res.wake_path_cpu_ns.extend(w.wake_path_cpu_ns);
        if let Some((d, ns)) = w.rundelay {
            res.rundelay.add(d, ns);
        }
    }
    let (lag, rd) = generator.map_err(|_| anyhow!("the requests generator panicked"))?;
    res.generator_lag_ns = lag;
    if let Some((d, ns)) = rd {
        res.rundelay.add(d, ns);
    }
    let hogs = hogs?;
    res.hog_units = hogs.units;
    res.rundelay_hogs = hogs.rundelay;
    res.unfinished = waiting as u64;
    Ok(res)
}

#[cfg(test)]
mod tests;
