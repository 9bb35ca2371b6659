//! Fan-out: a dispatcher that wakes N workers and keeps running.
//!
//! Every period the dispatcher draws a batch size B (from `batch` with
//! weights `batch_p`), wakes B workers one after another (futex wakes),
//! then post-processes for B × `post_us` of its own CPU time, and sleeps to
//! the next period. A big batch thus means a long dispatcher burst right
//! after the fan-out, a small one a short burst: the woken workers compete
//! with their still-running waker. Each worker burns `work_us` of its CPU
//! time per wake. CPU hogs run beside them.
//!
//! Times: worker wakeup latency = the dispatcher's stamp right before its
//! wake call → the worker running; round completion = the dispatcher's
//! start of the round → the last worker done; dispatcher burst = its start
//! of the round → its post-processing done. A round whose workers are not
//! all done when the next period comes is not followed by another until
//! they are (counted as overruns).
//!
//! Oracle: before sleeping, the dispatcher publishes the end of its next
//! burst (it draws the next batch size then): its CPU clock + B × (its
//! measured CPU per wake + `post_us`) + its allowance; at the round's start,
//! before its first wake, it publishes that again with the clock it has
//! then. Before each wake it publishes the worker's burst end: the CPU clock
//! the worker stored before it blocked + `work_us` + the worker's allowance.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
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
pub struct FanoutConfig {
    /// Period of the rounds, µs.
    pub period_us: u64,
    /// Batch sizes (workers woken per round).
    pub batch: Vec<usize>,
    /// Weight of each batch size (normalised to probabilities).
    pub batch_p: Vec<f64>,
    /// Dispatcher CPU time per woken worker after the fan-out, µs.
    pub post_us: u64,
    /// Worker CPU time per wake, µs.
    pub work_us: u64,
    pub hogs: usize,
    pub seed: u64,
}

impl FanoutConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(self.period_us > 0, "fanout: --fanout-period-us must be > 0");
        ensure!(
            !self.batch.is_empty() && !self.batch.contains(&0),
            "fanout: --batch must be one or more sizes > 0"
        );
        ensure!(
            self.batch_p.is_empty() || self.batch_p.len() == self.batch.len(),
            "fanout: --batch-p needs one probability per --batch size ({} sizes, {} probabilities)",
            self.batch.len(),
            self.batch_p.len()
        );
        ensure!(
            self.batch_p.iter().all(|p| p.is_finite() && *p >= 0.0)
                && (self.batch_p.is_empty() || self.batch_p.iter().sum::<f64>() > 0.0),
            "fanout: --batch-p must be probabilities >= 0 with a positive sum"
        );
        ensure!(self.work_us > 0, "fanout: --work-us must be > 0");
        Ok(())
    }

    /// Worker threads: the largest batch.
    pub fn workers(&self) -> usize {
        self.batch.iter().copied().max().unwrap_or(0)
    }

    /// The probability of each batch size (equal without --batch-p).
    pub fn probabilities(&self) -> Vec<f64> {
        if self.batch_p.is_empty() {
            return vec![1.0 / self.batch.len() as f64; self.batch.len()];
        }
        let sum: f64 = self.batch_p.iter().sum();
        self.batch_p.iter().map(|p| p / sum).collect()
    }

    /// Draw a batch size.
    pub fn draw(&self, rng: &mut SplitMix64) -> usize {
        let u = rng.next_f64();
        let mut acc = 0.0;
        for (b, p) in self.batch.iter().zip(self.probabilities()) {
            acc += p;
            if u < acc {
                return *b;
            }
        }
        *self.batch.last().unwrap_or(&1)
    }
}

/// The round in flight, as the workers see it.
#[derive(Default)]
struct RoundState {
    start_ns: AtomicU64,
    batch: AtomicUsize,
    pending: AtomicUsize,
    measured: AtomicBool,
}

/// One worker, as the dispatcher sees it.
#[derive(Default)]
struct Slot {
    thread: OnceLock<Thread>,
    tid: AtomicU32,
    blocked_cpu: AtomicU64,
    allowance: Allowance,
    woken_ns: AtomicU64,
    go: AtomicBool,
}

/// One dispatcher round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Round {
    pub batch: usize,
    /// Round start → post-processing done, ns.
    pub burst_ns: u64,
}

/// Raw figures of one run.
#[derive(Clone, Debug, Default)]
pub struct FanoutResult {
    /// (batch size, worker wakeup latency ns).
    pub wakeups: Vec<(usize, u64)>,
    /// (batch size, round start → last worker done ns).
    pub completions: Vec<(usize, u64)>,
    pub rounds: Vec<Round>,
    /// Periods skipped because the last round's workers were not done.
    pub overruns: u64,
    /// Dispatcher: actual − scheduled round start, ns.
    pub dispatcher_lag_ns: Vec<u64>,
    /// Dispatcher CPU per wake call (its oracle publication included), ns.
    pub wake_cpu_ns: Vec<u64>,
    /// Workers' CPU per cycle beyond their work, ns.
    pub wake_path_cpu_ns: Vec<u64>,
    pub hog_units: u64,
    pub measured_s: f64,
    pub rundelay: RunDelay,
    pub rundelay_hogs: RunDelay,
    pub oracle: OracleReport,
}

impl FanoutResult {
    /// Worker wakeup latency, all batches or those of size `batch`.
    pub fn wakeup(&self, batch: Option<usize>) -> LatencySummary {
        let v: Vec<u64> = self
            .wakeups
            .iter()
            .filter(|(b, _)| batch.is_none_or(|x| x == *b))
            .map(|&(_, ns)| ns)
            .collect();
        summarize(&v)
    }
    pub fn completion(&self) -> LatencySummary {
        summarize(&self.completions.iter().map(|c| c.1).collect::<Vec<_>>())
    }
    pub fn burst(&self) -> LatencySummary {
        summarize(&self.rounds.iter().map(|r| r.burst_ns).collect::<Vec<_>>())
    }
    pub fn hog_units_per_s(&self) -> f64 {
        per_s(self.hog_units, self.measured_s)
    }

    /// The ab metrics of this run; `small`/`large` are the smallest and
    /// largest configured batch.
    pub fn metrics(&self, cfg: &FanoutConfig) -> Vec<(&'static str, f64)> {
        let all = self.wakeup(None);
        let small = cfg.batch.iter().min().copied();
        let large = cfg.batch.iter().max().copied();
        let (c, b) = (self.completion(), self.burst());
        vec![
            ("fan_wakeup_p99_us", all.p99_us),
            ("fan_wakeup_p50_us", all.p50_us),
            ("fan_wakeup_p90_us", all.p90_us),
            ("fan_wakeup_max_us", all.max_us),
            ("fan_wakeup_small_p99_us", self.wakeup(small).p99_us),
            ("fan_wakeup_large_p99_us", self.wakeup(large).p99_us),
            ("fan_round_p50_us", c.p50_us),
            ("fan_round_p99_us", c.p99_us),
            ("fan_burst_p50_us", b.p50_us),
            ("fan_burst_p99_us", b.p99_us),
            ("fan_hog_units_per_s", self.hog_units_per_s()),
            ("fan_rundelay_us_per_run", self.rundelay.us_per_run()),
        ]
    }
}

/// One batch size's figures in the JSON.
#[derive(Clone, Debug, Serialize)]
pub struct BatchJson {
    pub batch: usize,
    /// Configured probability.
    pub p: f64,
    /// Measured rounds of this size and their share of all.
    pub rounds: u64,
    pub share: f64,
    pub wakeup: LatencySummary,
    pub round_completion: LatencySummary,
    pub dispatcher_burst: LatencySummary,
}

#[derive(Clone, Debug, Serialize)]
pub struct FanoutOracleJson {
    #[serde(flatten)]
    pub feed: OracleReport,
    pub allowance_start_ns: u64,
    /// Dispatcher CPU per wake call, ns (what it adds per worker to its own burst).
    pub wake_call_cpu: LatencySummary,
    /// Workers' CPU per wake → work → block cycle beyond the work.
    pub wake_path_cpu: LatencySummary,
}

/// What `ab --json` and `scx_arbor workload fanout` record.
#[derive(Clone, Debug, Serialize)]
pub struct FanoutJson {
    pub workload: &'static str,
    pub config: FanoutConfig,
    pub workers: usize,
    pub measured_s: f64,
    pub rounds: u64,
    pub overruns: u64,
    /// Worker wakeup latency over all batches, µs.
    pub wakeup: LatencySummary,
    /// Round start → last worker done, µs.
    pub round_completion: LatencySummary,
    /// Round start → the dispatcher's post-processing done, µs.
    pub dispatcher_burst: LatencySummary,
    /// The dispatcher's lateness against the period, µs.
    pub dispatcher_lag: LatencySummary,
    pub by_batch: Vec<BatchJson>,
    pub hog_units: u64,
    pub hog_units_per_s: f64,
    pub rundelay: RunDelay,
    pub rundelay_hogs: RunDelay,
    pub oracle: FanoutOracleJson,
}

impl FanoutJson {
    pub fn new(cfg: &FanoutConfig, r: &FanoutResult) -> FanoutJson {
        let n = r.rounds.len().max(1) as f64;
        let by_batch = cfg
            .batch
            .iter()
            .zip(cfg.probabilities())
            .map(|(&b, p)| {
                let rounds: Vec<u64> = r
                    .rounds
                    .iter()
                    .filter(|x| x.batch == b)
                    .map(|x| x.burst_ns)
                    .collect();
                let comp: Vec<u64> = r
                    .completions
                    .iter()
                    .filter(|x| x.0 == b)
                    .map(|x| x.1)
                    .collect();
                BatchJson {
                    batch: b,
                    p,
                    rounds: rounds.len() as u64,
                    share: rounds.len() as f64 / n,
                    wakeup: r.wakeup(Some(b)),
                    round_completion: summarize(&comp),
                    dispatcher_burst: summarize(&rounds),
                }
            })
            .collect();
        FanoutJson {
            workload: "fanout",
            config: cfg.clone(),
            workers: cfg.workers(),
            measured_s: r.measured_s,
            rounds: r.rounds.len() as u64,
            overruns: r.overruns,
            wakeup: r.wakeup(None),
            round_completion: r.completion(),
            dispatcher_burst: r.burst(),
            dispatcher_lag: summarize(&r.dispatcher_lag_ns),
            by_batch,
            hog_units: r.hog_units,
            hog_units_per_s: r.hog_units_per_s(),
            rundelay: r.rundelay.clone(),
            rundelay_hogs: r.rundelay_hogs.clone(),
            oracle: FanoutOracleJson {
                feed: r.oracle.clone(),
                allowance_start_ns: oracle::DEFAULT_ALLOWANCE_NS,
                wake_call_cpu: summarize(&r.wake_cpu_ns),
                wake_path_cpu: summarize(&r.wake_path_cpu_ns),
            },
        }
    }
}

struct WorkerOut {
    wakeups: Vec<(usize, u64)>,
    completions: Vec<(usize, u64)>,
    wake_path_cpu_ns: Vec<u64>,
    rundelay: Option<(SchedStat, u64)>,
}

fn worker(cfg: &FanoutConfig, slot: &Slot, round: &RoundState, phase: &Phase) -> WorkerOut {
    ensure_sched_other();
    slot.tid.store(gettid(), Ordering::Release);
    let _ = slot.thread.set(std::thread::current());
    let work_ns = cfg.work_us * 1000;
    let mut out = WorkerOut {
        wakeups: Vec::new(),
        completions: Vec::new(),
        wake_path_cpu_ns: Vec::new(),
        rundelay: None,
    };
    let mut meter: Option<ThreadMeter> = None;
    let mut blocked_at: Option<u64> = None;
    while !phase.done() {
        if meter.is_none() && phase.measuring() {
            meter = Some(ThreadMeter::start());
        }
        let cpu = thread_cpu_ns();
        if let Some(b) = blocked_at {
            let o = oracle::cycle_overhead(b, cpu, work_ns);
            slot.allowance.observe(o);
            if phase.measuring() {
                out.wake_path_cpu_ns.push(o);
            }
        }
        blocked_at = Some(cpu);
        slot.blocked_cpu.store(cpu, Ordering::Release);
        while !slot.go.swap(false, Ordering::AcqRel) {
            if phase.done() {
                out.rundelay = meter.and_then(|m| m.finish());
                return out;
            }
            std::thread::park_timeout(Duration::from_millis(10));
        }
        let woke = mono_ns();
        let stamp = slot.woken_ns.load(Ordering::Acquire);
        let batch = round.batch.load(Ordering::Acquire);
        let measured = round.measured.load(Ordering::Acquire);
        burn_cpu(work_ns);
        if measured {
            out.wakeups.push((batch, woke.saturating_sub(stamp)));
        }
        if round.pending.fetch_sub(1, Ordering::AcqRel) == 1 && measured {
            let start = round.start_ns.load(Ordering::Acquire);
            out.completions
                .push((batch, mono_ns().saturating_sub(start)));
        }
    }
    out.rundelay = meter.and_then(|m| m.finish());
    out
}

struct DispatcherOut {
    rounds: Vec<Round>,
    overruns: u64,
    lag: Vec<u64>,
    wake_cpu: Vec<u64>,
    rundelay: Option<(SchedStat, u64)>,
}

fn dispatcher(
    cfg: &FanoutConfig,
    slots: &[Slot],
    round: &RoundState,
    phase: &Phase,
    oracle: &Oracle,
) -> DispatcherOut {
    ensure_sched_other();
    tight_timer_slack();
    let tid = gettid();
    let (period_ns, post_ns, work_ns) =
        (cfg.period_us * 1000, cfg.post_us * 1000, cfg.work_us * 1000);
    let mut out = DispatcherOut {
        rounds: Vec::new(),
        overruns: 0,
        lag: Vec::new(),
        wake_cpu: Vec::new(),
        rundelay: None,
    };
    // Every worker must be parkable before it is woken.
    while slots.iter().any(|s| s.thread.get().is_none()) && !phase.done() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut rng = SplitMix64::new(cfg.seed ^ 0x6661_6e6f);
    let wake_cost = Allowance::default();
    let allowance = Allowance::default();
    let mut meter: Option<ThreadMeter> = None;
    let mut batch = cfg.draw(&mut rng);
    // The CPU clock when it last went to sleep, and the work of the round after it.
    let mut slept_at = thread_cpu_ns();
    let mut next = mono_ns() + period_ns;
    while !phase.done() {
        if meter.is_none() && phase.measuring() {
            meter = Some(ThreadMeter::start());
        }
        let ahead = |b: usize, wake: u64| b as u64 * (wake + post_ns);
        oracle.publish(
            tid,
            oracle::burst_end(
                thread_cpu_ns(),
                ahead(batch, wake_cost.ns()),
                allowance.ns(),
            ),
        );
        sleep_until_ns(next);
        let start = mono_ns();
        let measured = meter.is_some() && phase.measuring();
        if measured {
            out.lag.push(start.saturating_sub(next));
        }
        next += period_ns;
        while next <= start {
            next += period_ns;
        }
        if round.pending.load(Ordering::Acquire) > 0 {
            if measured {
                out.overruns += 1;
            }
            slept_at = thread_cpu_ns();
            continue;
        }
        let cpu0 = thread_cpu_ns();
        let predicted = oracle::burst_end(slept_at, ahead(batch, wake_cost.ns()), allowance.ns());
        oracle.publish(tid, predicted.max(cpu0 + ahead(batch, wake_cost.ns())));
        round.start_ns.store(start, Ordering::Release);
        round.batch.store(batch, Ordering::Release);
        round.measured.store(measured, Ordering::Release);
        round.pending.store(batch, Ordering::Release);
        for s in &slots[..batch] {
            let end = oracle::burst_end(
                s.blocked_cpu.load(Ordering::Acquire),
                work_ns,
                s.allowance.ns(),
            );
            oracle.publish(s.tid.load(Ordering::Acquire), end);
            s.woken_ns.store(mono_ns(), Ordering::Release);
            s.go.store(true, Ordering::Release);
            if let Some(t) = s.thread.get() {
                t.unpark();
            }
        }
        let cpu1 = thread_cpu_ns();
        let per_wake = (cpu1 - cpu0) / batch as u64;
        wake_cost.observe(per_wake);
        burn_cpu(batch as u64 * post_ns);
        let done = mono_ns();
        if measured {
            out.wake_cpu.push(per_wake);
            out.rounds.push(Round {
                batch,
                burst_ns: done.saturating_sub(start),
            });
        }
        // Going to sleep: what this round cost beyond its wakes and work.
        let now = thread_cpu_ns();
        allowance.observe(oracle::cycle_overhead(
            slept_at,
            now,
            (cpu1 - cpu0) + batch as u64 * post_ns,
        ));
        slept_at = now;
        batch = cfg.draw(&mut rng);
    }
    out.rundelay = meter.and_then(|m| m.finish());
    out
}

/// Run the family: `warmup` unmeasured, then `duration` measured, feeding
/// `oracle`; returns early (with what was measured) when `stop` is set or
/// an oracle update fails (then with that error).
pub fn run(
    cfg: &FanoutConfig,
    warmup: Duration,
    duration: Duration,
    oracle: &Oracle,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<FanoutResult> {
    cfg.validate()?;
    let phase = Phase::new();
    let slots: Vec<Slot> = (0..cfg.workers()).map(|_| Slot::default()).collect();
    let round = RoundState::default();
    let mut measured_s = 0.0;
    let (workers, disp, hogs) = std::thread::scope(|s| -> Result<_> {
        let (phase, slots, round) = (&phase, &slots, &round);
        let mut handles = Vec::with_capacity(slots.len());
        for slot in slots.iter() {
            handles.push(
                std::thread::Builder::new()
                    .name("ab-fan-worker".into())
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || worker(cfg, slot, round, phase))?,
            );
        }
        let d = std::thread::Builder::new()
            .name("ab-fan-dispatch".into())
            .stack_size(256 * 1024)
            .spawn_scoped(s, move || dispatcher(cfg, slots, round, phase, oracle))?;
        let hogs = Hogs::spawn(s, cfg.hogs, phase)?;
        measured_s = phase.drive(
            "fanout",
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
        Ok((workers, d.join(), hogs.join()))
    })?;
    oracle.check()?;
    let mut res = FanoutResult {
        measured_s,
        oracle: oracle.report(),
        ..Default::default()
    };
    for w in workers {
        let w = w.map_err(|_| anyhow!("a fanout worker panicked"))?;
        res.wakeups.extend(w.wakeups);
        res.completions.extend(w.completions);
        res.wake_path_cpu_ns.extend(w.wake_path_cpu_ns);
        if let Some((d, ns)) = w.rundelay {
            res.rundelay.add(d, ns);
        }
    }
    let d = disp.map_err(|_| anyhow!("the fanout dispatcher panicked"))?;
    res.rounds = d.rounds;
    res.overruns = d.overruns;
    res.dispatcher_lag_ns = d.lag;
    res.wake_cpu_ns = d.wake_cpu;
    if let Some((x, ns)) = d.rundelay {
        res.rundelay.add(x, ns);
    }
    let hogs = hogs?;
    res.hog_units = hogs.units;
    res.rundelay_hogs = hogs.rundelay;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> FanoutConfig {
        FanoutConfig {
            period_us: 10007,
            batch: vec![2, 8],
            batch_p: vec![0.75, 0.25],
            post_us: 400,
            work_us: 200,
            hogs: 0,
            seed: 1,
        }
    }

    #[test]
    fn batches_are_drawn_at_their_probabilities() {
        let c = cfg();
        c.validate().unwrap();
        assert_eq!(c.workers(), 8);
        let mut rng = SplitMix64::new(5);
        let n = 100_000;
        let small = (0..n).filter(|_| c.draw(&mut rng) == 2).count();
        assert!((small as f64 / n as f64 - 0.75).abs() < 0.01, "{small}");
        let eq = FanoutConfig {
            batch_p: vec![],
            batch: vec![1, 2, 3, 4],
            ..cfg()
        };
        assert_eq!(eq.probabilities(), vec![0.25; 4]);
        let w = FanoutConfig {
            batch_p: vec![3.0, 1.0],
            ..cfg()
        };
        assert_eq!(w.probabilities(), vec![0.75, 0.25]);
        for bad in [
            FanoutConfig {
                batch: vec![],
                ..cfg()
            },
            FanoutConfig {
                batch: vec![0, 2],
                ..cfg()
            },
            FanoutConfig {
                batch_p: vec![1.0],
                ..cfg()
            },
            FanoutConfig {
                batch_p: vec![0.0, 0.0],
                ..cfg()
            },
            FanoutConfig {
                batch_p: vec![-1.0, 2.0],
                ..cfg()
            },
            FanoutConfig {
                period_us: 0,
                ..cfg()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn summaries_split_by_batch() {
        let r = FanoutResult {
            wakeups: vec![(2, 10_000), (2, 20_000), (8, 100_000)],
            completions: vec![(2, 500_000), (8, 2_000_000)],
            rounds: vec![
                Round {
                    batch: 2,
                    burst_ns: 900_000,
                },
                Round {
                    batch: 8,
                    burst_ns: 3_300_000,
                },
            ],
            measured_s: 1.0,
            ..Default::default()
        };
        assert_eq!(r.wakeup(None).samples, 3);
        assert!((r.wakeup(Some(2)).max_us - 20.0).abs() < 1e-9);
        assert!((r.wakeup(Some(8)).p50_us - 100.0).abs() < 1e-9);
        let j = FanoutJson::new(&cfg(), &r);
        assert_eq!(j.by_batch[0].rounds, 1);
        assert!((j.by_batch[1].share - 0.5).abs() < 1e-9);
        assert!((j.by_batch[1].dispatcher_burst.p50_us - 3300.0).abs() < 1e-9);
        let m = r.metrics(&cfg());
        assert_eq!(m[0].0, "fan_wakeup_p99_us");
        let large = m.iter().find(|x| x.0 == "fan_wakeup_large_p99_us").unwrap();
        assert!((large.1 - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_short_run_wakes_every_batch_and_finishes_its_rounds() {
        let c = FanoutConfig {
            period_us: 20011,
            batch: vec![1, 3],
            batch_p: vec![0.5, 0.5],
            post_us: 300,
            work_us: 200,
            hogs: 0,
            seed: 2,
        };
        let stop = AtomicBool::new(false);
        let r = run(
            &c,
            Duration::from_millis(100),
            Duration::from_millis(800),
            &Oracle::none(),
            &stop,
            &mut |_| {},
        )
        .unwrap();
        assert!(r.rounds.len() >= 10, "{} rounds", r.rounds.len());
        let woken: usize = r.rounds.iter().map(|x| x.batch).sum();
        // Each round's workers report, except perhaps the last round's.
        assert!(
            r.wakeups.len() + 3 >= woken && r.wakeups.len() <= woken,
            "{} of {woken}",
            r.wakeups.len()
        );
        for x in &r.rounds {
            assert!(x.burst_ns >= x.batch as u64 * 300_000, "{x:?}");
        }
        assert!(r.completions.len() + 1 >= r.rounds.len());
        let j = FanoutJson::new(&c, &r);
        assert!(j.by_batch.iter().all(|b| b.rounds > 0), "{:?}", j.by_batch);
        assert!(j.oracle.wake_call_cpu.samples > 0);
    }
}
