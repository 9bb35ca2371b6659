//! Tasks that switch between interactive and batch phases (an editor beside
//! a build, a service with GC pauses).
//!
//! Each of `tasks` threads alternates every `phase_ms` between an
//! interactive phase (a periodic waker, as in the latency mix: sleep to the
//! next multiple of its period, record the wakeup latency, burn `burst_us`
//! of CPU) and a batch phase (burn `batch_burst_us` of CPU in work units,
//! sleep `batch_sleep_us`, again). Task i's phases are shifted by
//! i × 2 × `phase_ms` / `tasks`, so they do not all switch together. CPU hogs
//! run beside them.
//!
//! Metrics: interactive wakeup latency over all wakeups and over those in
//! the first `switch_window_ms` after a switch to interactive (where a
//! scheduler that judges by history still sees a batch task); batch
//! throughput (work units/s done in the batch bursts); hog throughput.
//!
//! Oracle: each task publishes its own burst end at the start of each burst
//! (its CPU clock + the burst + its allowance) and before each sleep, for
//! the burst after it (its CPU clock + that burst + its allowance: an
//! interactive or a batch burst, whichever phase the wakeup falls in; none
//! when the sleep ends in a phase switch).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{anyhow, ensure, Result};
use serde::Serialize;

use crate::clock::ensure_sched_other;
use crate::clock::{burn_cpu, gettid, mono_ns, sleep_until_ns, thread_cpu_ns, tight_timer_slack};
use crate::hogs::{per_s, work_unit, Hogs};
use crate::latency::{summarize, LatencySummary};
use crate::oracle::{self, Allowance, Oracle, OracleReport};
use crate::phase::Phase;
use crate::rundelay::{RunDelay, SchedStat, ThreadMeter};

#[derive(Clone, Debug, Serialize)]
pub struct PhasesConfig {
    pub tasks: usize,
    /// Length of each phase, ms.
    pub phase_ms: u64,
    /// Interactive period, µs, round-robin over tasks like the latency mix's.
    pub period_us: Vec<u64>,
    /// Interactive burst, µs of CPU.
    pub burst_us: u64,
    /// Batch burst, µs of CPU.
    pub batch_burst_us: u64,
    /// Sleep between batch bursts, µs.
    pub batch_sleep_us: u64,
    /// Wakeups this soon after a switch to interactive are also reported apart, ms.
    pub switch_window_ms: u64,
    pub hogs: usize,
}

impl PhasesConfig {
    pub fn validate(&self) -> Result<()> {
        ensure!(self.tasks > 0, "phases: --tasks must be > 0");
        ensure!(self.phase_ms > 0, "phases: --phase-ms must be > 0");
        ensure!(
            !self.period_us.is_empty() && !self.period_us.contains(&0),
            "phases: --period-us must be one or more periods > 0"
        );
        ensure!(
            self.batch_burst_us > 0,
            "phases: --batch-burst-us must be > 0"
        );
        Ok(())
    }

    pub fn task_period_ns(&self, i: usize) -> u64 {
        1000 * self.period_us[i % self.period_us.len().max(1)]
    }

    /// How far task `i`'s phases are shifted, ns.
    pub fn offset_ns(&self, i: usize) -> u64 {
        (i as u64 * 2 * self.phase_ms * 1_000_000) / self.tasks.max(1) as u64
    }

    /// The phase task `i` is in `t_ns` after the start: (interactive, start
    /// and end of that phase, ns after the start; the first may begin
    /// before it).
    pub fn phase_at(&self, i: usize, t_ns: u64) -> (bool, i64, i64) {
        let len = self.phase_ms * 1_000_000;
        let shifted = t_ns + self.offset_ns(i);
        let k = shifted / len;
        let start = (k * len) as i64 - self.offset_ns(i) as i64;
        (k.is_multiple_of(2), start, start + len as i64)
    }

    /// Phase switches (either way) one task makes in `secs`, on average.
    pub fn expected_switches(&self, secs: f64) -> f64 {
        secs * 1000.0 / self.phase_ms as f64
    }
}

/// What one task brings back.
#[derive(Clone, Debug, Default)]
pub struct TaskOut {
    /// (wakeup latency ns, within the switch window).
    pub wakeups: Vec<(u64, bool)>,
    pub missed: u64,
    pub to_interactive: u64,
    pub to_batch: u64,
    pub batch_bursts: u64,
    pub batch_units: u64,
    pub wake_path_cpu_ns: Vec<u64>,
    pub rundelay: Option<(SchedStat, u64)>,
}

/// Raw figures of one run.
#[derive(Clone, Debug, Default)]
pub struct PhasesResult {
    pub tasks: Vec<TaskOut>,
    pub hog_units: u64,
    pub measured_s: f64,
    pub rundelay: RunDelay,
    pub rundelay_hogs: RunDelay,
    pub oracle: OracleReport,
}

impl PhasesResult {
    fn wakeups(&self, window_only: bool) -> Vec<u64> {
        self.tasks
            .iter()
            .flat_map(|t| t.wakeups.iter())
            .filter(|w| !window_only || w.1)
            .map(|w| w.0)
            .collect()
    }
    pub fn wakeup(&self) -> LatencySummary {
        summarize(&self.wakeups(false))
    }
    pub fn after_switch(&self) -> LatencySummary {
        summarize(&self.wakeups(true))
    }
    fn sum(&self, f: impl Fn(&TaskOut) -> u64) -> u64 {
        self.tasks.iter().map(f).sum()
    }
    pub fn batch_units_per_s(&self) -> f64 {
        per_s(self.sum(|t| t.batch_units), self.measured_s)
    }
    pub fn hog_units_per_s(&self) -> f64 {
        per_s(self.hog_units, self.measured_s)
    }

    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let (w, a) = (self.wakeup(), self.after_switch());
        vec![
            ("ph_wakeup_p99_us", w.p99_us),
            ("ph_wakeup_p50_us", w.p50_us),
            ("ph_wakeup_max_us", w.max_us),
            ("ph_switch_p50_us", a.p50_us),
            ("ph_switch_p99_us", a.p99_us),
            ("ph_batch_units_per_s", self.batch_units_per_s()),
            ("ph_hog_units_per_s", self.hog_units_per_s()),
            ("ph_rundelay_us_per_run", self.rundelay.us_per_run()),
        ]
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PhasesOracleJson {
    #[serde(flatten)]
    pub feed: OracleReport,
    pub allowance_start_ns: u64,
    /// Measured CPU per sleep → burst → sleep cycle beyond the burst.
    pub wake_path_cpu: LatencySummary,
}

/// What `ab --json` and `scx_arbor workload phases` record.
#[derive(Clone, Debug, Serialize)]
pub struct PhasesJson {
    pub workload: &'static str,
    pub config: PhasesConfig,
    pub measured_s: f64,
    /// Interactive wakeup latency, µs.
    pub wakeup: LatencySummary,
    /// The same within the switch window after a switch to interactive.
    pub after_switch: LatencySummary,
    pub missed_periods: u64,
    pub switches_to_interactive: u64,
    pub switches_to_batch: u64,
    /// Switches (either way) all tasks should make in the measured time.
    pub switches_expected: f64,
    pub batch_bursts: u64,
    pub batch_units: u64,
    pub batch_units_per_s: f64,
    pub hog_units: u64,
    pub hog_units_per_s: f64,
    pub rundelay: RunDelay,
    pub rundelay_hogs: RunDelay,
    pub oracle: PhasesOracleJson,
}

impl PhasesJson {
    pub fn new(cfg: &PhasesConfig, r: &PhasesResult) -> PhasesJson {
        let wake_path: Vec<u64> = r
            .tasks
            .iter()
            .flat_map(|t| t.wake_path_cpu_ns.iter().copied())
            .collect();
        PhasesJson {
            workload: "phases",
            config: cfg.clone(),
            measured_s: r.measured_s,
            wakeup: r.wakeup(),
            after_switch: r.after_switch(),
            missed_periods: r.sum(|t| t.missed),
            switches_to_interactive: r.sum(|t| t.to_interactive),
            switches_to_batch: r.sum(|t| t.to_batch),
            switches_expected: cfg.tasks as f64 * cfg.expected_switches(r.measured_s),
            batch_bursts: r.sum(|t| t.batch_bursts),
            batch_units: r.sum(|t| t.batch_units),
            batch_units_per_s: r.batch_units_per_s(),
            hog_units: r.hog_units,
            hog_units_per_s: r.hog_units_per_s(),
            rundelay: r.rundelay.clone(),
            rundelay_hogs: r.rundelay_hogs.clone(),
            oracle: PhasesOracleJson {
                feed: r.oracle.clone(),
                allowance_start_ns: oracle::DEFAULT_ALLOWANCE_NS,
                wake_path_cpu: summarize(&wake_path),
            },
        }
    }
}

/// Burn `ns` of CPU in hog work units; returns the units done.
fn burn_units(ns: u64, state: &mut u64) -> u64 {
    let end = thread_cpu_ns() + ns;
    let mut units = 0;
    while thread_cpu_ns() < end {
        work_unit(state);
        units += 1;
    }
    units
}

/// One task from `t0` (monotonic ns, common to all tasks).
fn task(i: usize, cfg: &PhasesConfig, t0: u64, phase: &Phase, oracle: &Oracle) -> TaskOut {
    ensure_sched_other();
    tight_timer_slack();
    let tid = gettid();
    let period = cfg.task_period_ns(i);
    let (burst, batch_burst) = (cfg.burst_us * 1000, cfg.batch_burst_us * 1000);
    let window = cfg.switch_window_ms as i64 * 1_000_000;
    let allowance = Allowance::default();
    let mut out = TaskOut::default();
    let mut meter: Option<ThreadMeter> = None;
    let mut st = 0x5851_F42D_4C95_7F2Du64 ^ i as u64;
    let mut was_interactive: Option<bool> = None;
    // CPU clock at the last sleep and the work done since.
    let (mut slept_at, mut work) = (thread_cpu_ns(), 0u64);
    let go_to_sleep =
        |work: &mut u64, slept_at: &mut u64, next_work: u64, measuring: bool, out: &mut TaskOut| {
            let now = thread_cpu_ns();
            let o = oracle::cycle_overhead(*slept_at, now, *work);
            allowance.observe(o);
            if measuring {
                out.wake_path_cpu_ns.push(o);
            }
            (*slept_at, *work) = (now, 0);
            oracle.publish(tid, oracle::burst_end(now, next_work, allowance.ns()));
        };
    let mut next = 0u64; // next interactive deadline, ns after t0
    while !phase.done() {
        if meter.is_none() && phase.measuring() {
            meter = Some(ThreadMeter::start());
        }
        let measuring = meter.is_some() && phase.measuring();
        let now = mono_ns() - t0;
        let (interactive, start, end) = cfg.phase_at(i, now);
        if was_interactive != Some(interactive) {
            if was_interactive.is_some() && measuring {
                *if interactive {
                    &mut out.to_interactive
                } else {
                    &mut out.to_batch
                } += 1;
            }
            was_interactive = Some(interactive);
            if interactive {
                // The first deadline of the phase: its period grid from its start.
                let from = start.max(0) as u64;
                next = from + period;
                while next <= now {
                    next += period;
                }
            }
        }
        if interactive {
            if next as i64 >= end {
                // The phase ends before the next wakeup: sleep into the switch.
                go_to_sleep(&mut work, &mut slept_at, 0, measuring, &mut out);
                sleep_until_ns(t0 + end as u64);
                continue;
            }
            go_to_sleep(&mut work, &mut slept_at, burst, measuring, &mut out);
            sleep_until_ns(t0 + next);
            let woke = mono_ns() - t0;
            if measuring && phase.measuring() {
                out.wakeups
                    .push((woke.saturating_sub(next), (next as i64 - start) < window));
            }
            oracle.publish(
                tid,
                oracle::burst_end(thread_cpu_ns(), burst, allowance.ns()),
            );
            burn_cpu(burst);
            work += burst;
            next += period;
            let now = mono_ns() - t0;
            while next <= now {
                next += period;
                if measuring {
                    out.missed += 1;
                }
            }
        } else {
            oracle.publish(
                tid,
                oracle::burst_end(thread_cpu_ns(), batch_burst, allowance.ns()),
            );
            let units = burn_units(batch_burst, &mut st);
            work += batch_burst;
            if measuring && phase.measuring() {
                out.batch_units += units;
                out.batch_bursts += 1;
            }
            let wake_at = mono_ns() - t0 + cfg.batch_sleep_us * 1000;
            let next_work = if (wake_at as i64) < end {
                batch_burst
            } else {
                0
            };
            go_to_sleep(&mut work, &mut slept_at, next_work, measuring, &mut out);
            sleep_until_ns(t0 + wake_at);
        }
    }
    out.rundelay = meter.and_then(|m| m.finish());
    out
}

/// Run the family: `warmup` unmeasured, then `duration` measured, feeding
/// `oracle`; returns early (with what was measured) when `stop` is set or
/// an oracle update fails (then with that error).
pub fn run(
    cfg: &PhasesConfig,
    warmup: Duration,
    duration: Duration,
    oracle: &Oracle,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<PhasesResult> {
    cfg.validate()?;
    let phase = Phase::new();
    let t0 = mono_ns();
    let mut measured_s = 0.0;
    let (tasks, hogs) = std::thread::scope(|s| -> Result<_> {
        let phase = &phase;
        let mut handles = Vec::with_capacity(cfg.tasks);
        for i in 0..cfg.tasks {
            handles.push(
                std::thread::Builder::new()
                    .name("ab-phase-task".into())
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || task(i, cfg, t0, phase, oracle))?,
            );
        }
        let hogs = Hogs::spawn(s, cfg.hogs, phase)?;
        measured_s = phase.drive(
            "phases",
            warmup,
            duration,
            &oracle::halt(stop, oracle),
            progress,
        );
        let tasks: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        Ok((tasks, hogs.join()))
    })?;
    oracle.check()?;
    let mut res = PhasesResult {
        measured_s,
        oracle: oracle.report(),
        ..Default::default()
    };
    for t in tasks {
        let t = t.map_err(|_| anyhow!("a phases task panicked"))?;
        if let Some((d, ns)) = t.rundelay {
            res.rundelay.add(d, ns);
        }
        res.tasks.push(t);
    }
    let hogs = hogs?;
    res.hog_units = hogs.units;
    res.rundelay_hogs = hogs.rundelay;
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PhasesConfig {
        PhasesConfig {
            tasks: 4,
            phase_ms: 3000,
            period_us: vec![2017],
            burst_us: 50,
            batch_burst_us: 8000,
            batch_sleep_us: 500,
            switch_window_ms: 200,
            hogs: 0,
        }
    }

    #[test]
    fn tasks_are_shifted_so_they_do_not_switch_together() {
        let c = cfg();
        c.validate().unwrap();
        let ms = 1_000_000i64;
        assert_eq!(c.offset_ns(0), 0);
        assert_eq!(c.offset_ns(1), 1500 * ms as u64);
        assert_eq!(c.offset_ns(2), 3000 * ms as u64);
        // Task 0: interactive for [0, 3 s), batch for [3, 6 s).
        assert_eq!(c.phase_at(0, 0), (true, 0, 3000 * ms));
        assert_eq!(
            c.phase_at(0, 3000 * ms as u64),
            (false, 3000 * ms, 6000 * ms)
        );
        // Task 1 started 1.5 s into its interactive phase.
        assert_eq!(c.phase_at(1, 0), (true, -1500 * ms, 1500 * ms));
        assert!(!c.phase_at(1, 1500 * ms as u64).0);
        // Task 2 starts in batch.
        assert!(!c.phase_at(2, 0).0);
        assert!((c.expected_switches(9.0) - 3.0).abs() < 1e-12);
        for bad in [
            PhasesConfig { tasks: 0, ..cfg() },
            PhasesConfig {
                phase_ms: 0,
                ..cfg()
            },
            PhasesConfig {
                period_us: vec![],
                ..cfg()
            },
            PhasesConfig {
                batch_burst_us: 0,
                ..cfg()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_switch_window_is_reported_apart() {
        let r = PhasesResult {
            tasks: vec![TaskOut {
                wakeups: vec![(10_000, true), (20_000, false), (30_000, false)],
                batch_units: 100,
                ..Default::default()
            }],
            measured_s: 2.0,
            ..Default::default()
        };
        assert_eq!(r.wakeup().samples, 3);
        assert_eq!(r.after_switch().samples, 1);
        assert!((r.after_switch().p50_us - 10.0).abs() < 1e-9);
        assert!((r.batch_units_per_s() - 50.0).abs() < 1e-9);
        assert_eq!(r.metrics()[0].0, "ph_wakeup_p99_us");
    }

    #[test]
    fn a_short_run_switches_at_the_phase_length() {
        let c = PhasesConfig {
            tasks: 2,
            phase_ms: 200,
            batch_burst_us: 2000,
            ..cfg()
        };
        let stop = AtomicBool::new(false);
        let r = run(
            &c,
            Duration::from_millis(50),
            Duration::from_millis(1000),
            &Oracle::none(),
            &stop,
            &mut |_| {},
        )
        .unwrap();
        let j = PhasesJson::new(&c, &r);
        let switches = (j.switches_to_interactive + j.switches_to_batch) as f64;
        assert!(
            (switches - j.switches_expected).abs() <= 2.0 * c.tasks as f64,
            "{switches} switches, {} expected",
            j.switches_expected
        );
        assert!(j.wakeup.samples > 50, "{:?}", j.wakeup);
        assert!(j.batch_bursts > 10 && j.batch_units > 0);
        assert!(j.after_switch.samples > 0);
    }
}
