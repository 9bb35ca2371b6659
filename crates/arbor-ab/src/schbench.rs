//! schbench-style request mix (after Meta's schbench, written anew here):
//! message threads hand requests to their worker threads, each worker burns
//! a fixed CPU burst per request and reports back.
//!
//! A message thread stamps a request with the monotonic clock and wakes its
//! worker (a futex wake through `Thread::unpark`); the worker reads the clock
//! when it runs. Wakeup latency = worker running − request stamped; request
//! latency = burst finished − request stamped, so it adds the burst and any
//! time the worker was preempted during it. The burst is CPU time of the
//! worker thread (`CLOCK_THREAD_CPUTIME_ID`), the same work whatever the
//! scheduler does. Each message thread posts one request to each of its
//! workers, waits until all are done, and posts again (a closed loop):
//! requests/s is the throughput. All threads are SCHED_OTHER.

use super::latency::{summarize, LatencySummary};
use super::rundelay::{RunDelay, ThreadMeter};
use crate::clock::ensure_sched_other;
use crate::clock::{burn_cpu, mono_ns};
use crate::phase::{flag, Phase};
use anyhow::{anyhow, ensure, Result};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::Duration;

#[derive(Clone, Debug, Serialize)]
pub struct SchbenchConfig {
    /// Message threads.
    pub message_threads: usize,
    /// Worker threads per message thread.
    pub workers: usize,
    /// CPU time each request burns, µs.
    pub request_us: u64,
}

/// Raw figures of one run.
#[derive(Clone, Debug, Default)]
pub struct SchbenchResult {
    /// Per request: worker running − request stamped, ns.
    pub wakeup_ns: Vec<u64>,
    /// Per request: burst finished − request stamped, ns.
    pub request_ns: Vec<u64>,
    pub measured_s: f64,
    /// Run delay of every message and worker thread.
    pub rundelay: RunDelay,
}

impl SchbenchResult {
    pub fn requests_per_s(&self) -> f64 {
        if self.measured_s > 0.0 {
            self.request_ns.len() as f64 / self.measured_s
        } else {
            f64::NAN
        }
    }
    pub fn wakeup(&self) -> LatencySummary {
        summarize(&self.wakeup_ns)
    }
    pub fn request(&self) -> LatencySummary {
        summarize(&self.request_ns)
    }
}

/// One worker's mailbox: the stamp of its pending request (0: none).
struct Slot {
    posted_ns: AtomicU64,
}

/// One message thread and its workers.
struct Group {
    slots: Vec<Slot>,
    workers: Vec<OnceLock<Thread>>,
    message: OnceLock<Thread>,
    pending: AtomicUsize,
}

/// Run the mix: `warmup` unmeasured, then `duration` measured. Returns
/// early (with what was measured) when `stop` is set.
pub fn run(
    cfg: &SchbenchConfig,
    warmup: Duration,
    duration: Duration,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<SchbenchResult> {
    ensure!(
        cfg.message_threads > 0 && cfg.workers > 0 && cfg.request_us > 0,
        "schbench needs message threads, workers and a request time > 0"
    );
    let phase = Phase::new();
    let burst_ns = cfg.request_us * 1000;
    let groups: Vec<Group> = (0..cfg.message_threads)
        .map(|_| Group {
            slots: (0..cfg.workers)
                .map(|_| Slot {
                    posted_ns: AtomicU64::new(0),
                })
                .collect(),
            workers: (0..cfg.workers).map(|_| OnceLock::new()).collect(),
            message: OnceLock::new(),
            pending: AtomicUsize::new(0),
        })
        .collect();
    let park = Duration::from_millis(10);
    let mut measured_s = 0.0;

    type WorkerOut = (
        Vec<u64>,
        Vec<u64>,
        Option<(super::rundelay::SchedStat, u64)>,
    );
    let (workers, messages) = std::thread::scope(|s| -> Result<_> {
        let phase = &phase;
        let mut worker_handles = Vec::new();
        let mut message_handles = Vec::new();
        for g in &groups {
            for (w, slot) in g.slots.iter().enumerate() {
                let h = std::thread::Builder::new()
                    .name("ab-sch-worker".into())
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || -> WorkerOut {
                        ensure_sched_other();
                        let _ = g.workers[w].set(std::thread::current());
                        let (mut wake, mut req) = (Vec::new(), Vec::new());
                        let mut meter: Option<ThreadMeter> = None;
                        loop {
                            let posted = slot.posted_ns.load(Ordering::Acquire);
                            if posted == 0 {
                                if phase.done() {
                                    break;
                                }
                                std::thread::park_timeout(park);
                                continue;
                            }
                            let woke = mono_ns();
                            burn_cpu(burst_ns);
                            let done = mono_ns();
                            if phase.measuring() {
                                if meter.is_none() {
                                    meter = Some(ThreadMeter::start());
                                } else {
                                    wake.push(woke.saturating_sub(posted));
                                    req.push(done.saturating_sub(posted));
                                }
                            }
                            slot.posted_ns.store(0, Ordering::Release);
                            if g.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                                if let Some(m) = g.message.get() {
                                    m.unpark();
                                }
                            }
                        }
                        (wake, req, meter.and_then(|m| m.finish()))
                    })?;
                worker_handles.push(h);
            }
            let h = std::thread::Builder::new()
                .name("ab-sch-message".into())
                .stack_size(256 * 1024)
                .spawn_scoped(s, move || {
                    ensure_sched_other();
                    let _ = g.message.set(std::thread::current());
                    let mut meter: Option<ThreadMeter> = None;
                    // Every worker must be parkable before it is posted to.
                    while g.workers.iter().any(|w| w.get().is_none()) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    while !phase.done() {
                        if phase.measuring() && meter.is_none() {
                            meter = Some(ThreadMeter::start());
                        }
                        g.pending.store(g.slots.len(), Ordering::Release);
                        for (slot, w) in g.slots.iter().zip(&g.workers) {
                            slot.posted_ns.store(mono_ns(), Ordering::Release);
                            if let Some(t) = w.get() {
                                t.unpark();
                            }
                        }
                        while g.pending.load(Ordering::Acquire) > 0 {
                            if phase.done() {
                                break;
                            }
                            std::thread::park_timeout(park);
                        }
                    }
                    meter.and_then(|m| m.finish())
                })?;
            message_handles.push(h);
        }

        measured_s = phase.drive("schbench", warmup, duration, &flag(stop), progress);
        for g in &groups {
            g.workers
                .iter()
                .filter_map(|w| w.get())
                .for_each(Thread::unpark);
            if let Some(m) = g.message.get() {
                m.unpark();
            }
        }
        let workers: Vec<_> = worker_handles.into_iter().map(|h| h.join()).collect();
        let messages: Vec<_> = message_handles.into_iter().map(|h| h.join()).collect();
        Ok((workers, messages))
    })?;

    let mut res = SchbenchResult {
        measured_s,
        ..Default::default()
    };
    for w in workers {
        let (wake, req, rd) = w.map_err(|_| anyhow!("a schbench worker panicked"))?;
        res.wakeup_ns.extend(wake);
        res.request_ns.extend(req);
        if let Some((d, ns)) = rd {
            res.rundelay.add(d, ns);
        }
    }
    for m in messages {
        if let Some((d, ns)) = m.map_err(|_| anyhow!("a schbench message thread panicked"))? {
            res.rundelay.add(d, ns);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_takes_its_burst_and_wakes_before_it_ends() {
        let cfg = SchbenchConfig {
            message_threads: 2,
            workers: 2,
            request_us: 300,
        };
        let stop = AtomicBool::new(false);
        let r = run(
            &cfg,
            Duration::from_millis(100),
            Duration::from_millis(600),
            &stop,
            &mut |_| {},
        )
        .unwrap();
        assert!(r.request_ns.len() >= 20, "{} requests", r.request_ns.len());
        assert_eq!(r.wakeup_ns.len(), r.request_ns.len());
        for (w, q) in r.wakeup_ns.iter().zip(&r.request_ns) {
            // 300 µs of the worker's own CPU time cannot take less wall time.
            assert!(*q >= 300_000, "request of {q} ns < its 300 µs burst");
            assert!(w < q, "woke ({w} ns) after finishing ({q} ns)");
        }
        // Closed loop of 4 workers: at most 4 requests in flight, each at
        // least 300 µs, so at most 4 / 300 µs per second.
        let rps = r.requests_per_s();
        assert!(rps > 0.0 && rps <= 4.0 / 300e-6 * 1.05, "{rps} requests/s");
        let s = r.request();
        assert!(s.p50_us >= 300.0 && s.p50_us <= s.p90_us && s.p99_us <= s.p999_us);
    }

    #[test]
    fn refuses_an_empty_mix() {
        let cfg = SchbenchConfig {
            message_threads: 1,
            workers: 0,
            request_us: 100,
        };
        let stop = AtomicBool::new(false);
        assert!(run(
            &cfg,
            Duration::ZERO,
            Duration::from_millis(10),
            &stop,
            &mut |_| {}
        )
        .is_err());
    }
}
