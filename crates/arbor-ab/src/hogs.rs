//! CPU hogs beside a workload: SCHED_OTHER threads that spin on fixed work
//! units for as long as the workload runs. Throughput = units done during
//! the measurement, summed over hogs.

use std::thread::{Scope, ScopedJoinHandle};

use anyhow::{anyhow, Result};

use crate::phase::Phase;
use crate::rundelay::{RunDelay, SchedStat, ThreadMeter};

/// One hog work unit (~tens of µs of integer work).
#[inline(never)]
pub fn work_unit(state: &mut u64) {
    let mut x = *state;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    *state = std::hint::black_box(x);
}

type HogOut = (u64, Option<(SchedStat, u64)>);

/// The running hogs of one workload.
pub struct Hogs<'scope> {
    handles: Vec<ScopedJoinHandle<'scope, HogOut>>,
}

/// What the hogs did during the measurement.
#[derive(Clone, Debug, Default)]
pub struct HogTotals {
    pub units: u64,
    pub rundelay: RunDelay,
}

impl<'scope> Hogs<'scope> {
    /// Start `n` hogs that run until `phase` is done.
    pub fn spawn<'env>(
        s: &'scope Scope<'scope, 'env>,
        n: usize,
        phase: &'env Phase,
    ) -> Result<Hogs<'scope>> {
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let h = std::thread::Builder::new()
                .name("ab-hog".into())
                .stack_size(256 * 1024)
                .spawn_scoped(s, move || {
                    crate::clock::ensure_sched_other();
                    let mut st = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1);
                    let mut units = 0u64;
                    let mut meter: Option<ThreadMeter> = None;
                    while !phase.done() {
                        if meter.is_none() && phase.measuring() {
                            meter = Some(ThreadMeter::start());
                        }
                        work_unit(&mut st);
                        if meter.is_some() {
                            units += 1;
                        }
                    }
                    (units, meter.and_then(|m| m.finish()))
                })?;
            handles.push(h);
        }
        Ok(Hogs { handles })
    }

    /// Wait for the hogs (after the phase is done) and add up their figures.
    pub fn join(self) -> Result<HogTotals> {
        let mut t = HogTotals::default();
        for h in self.handles {
            let (units, rd) = h.join().map_err(|_| anyhow!("a hog thread panicked"))?;
            t.units += units;
            if let Some((d, ns)) = rd {
                t.rundelay.add(d, ns);
            }
        }
        Ok(t)
    }
}

/// Units per second over `secs` (NaN for no time).
pub fn per_s(units: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        units as f64 / secs
    } else {
        f64::NAN
    }
}
