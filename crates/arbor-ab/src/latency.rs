//! Latency mix: periodic wakers beside CPU hogs, all SCHED_OTHER.
//!
//! Waker i sleeps `period_us[i % period_us.len()]`: one period makes all
//! wakers alike; a list of different periods (e.g. 1009,2017,2503,10007)
//! makes their wakeups drift against each other and against the tick.
//!
//! Each waker sleeps to an absolute deadline (`clock_nanosleep(CLOCK_MONOTONIC,
//! TIMER_ABSTIME)`, timer slack set to 1 ns), and on waking records
//! `actual wake − intended wake`, then spins a short burst (default 50 µs) as a
//! real interactive task would, and sleeps to the next period. A missed period
//! (burst + latency longer than the period) is skipped, not queued up, and
//! counted. The hogs spin on fixed work units; throughput = units/s summed over
//! hogs. Warm-up runs the same threads unmeasured.

use super::rundelay::{RunDelay, ThreadMeter};
use super::stats::quantile_sorted;
use crate::clock::{ensure_sched_other, sleep_until_ns, tight_timer_slack};
use crate::hogs::Hogs;
use crate::phase::{flag, Phase};
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[derive(Clone, Debug, Serialize)]
pub struct LatencyConfig {
    pub wakers: usize,
    /// Waker periods in µs, used round-robin: waker i sleeps
    /// `period_us[i % period_us.len()]`. Must not be empty.
    pub period_us: Vec<u64>,
    pub burst_us: u64,
    pub hogs: usize,
}

impl LatencyConfig {
    /// The period of waker `i`, µs (0 if no period is configured).
    pub fn waker_period_us(&self, i: usize) -> u64 {
        if self.period_us.is_empty() {
            0
        } else {
            self.period_us[i % self.period_us.len()]
        }
    }
}

/// What one waker measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct WakerStats {
    /// Index of the waker (0-based).
    pub waker: usize,
    pub period_us: u64,
    /// Wakeups measured (one latency sample each).
    pub wakeups: u64,
    /// Periods this waker skipped because it was still late or busy.
    pub missed: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// Raw figures of one latency-mix run.
#[derive(Clone, Debug, Default)]
pub struct LatencyResult {
    /// Wakeup latencies of all wakers, ns.
    pub samples_ns: Vec<u64>,
    /// Periods skipped because a waker was still late/busy at the next deadline.
    pub missed: u64,
    /// The same figures per waker, in waker order.
    pub per_waker: Vec<WakerStats>,
    pub hog_units: u64,
    pub measured_s: f64,
    pub rundelay: RunDelay,
    pub rundelay_wakers: RunDelay,
}

impl LatencyResult {
    pub fn hog_units_per_s(&self) -> f64 {
        if self.measured_s > 0.0 {
            self.hog_units as f64 / self.measured_s
        } else {
            f64::NAN
        }
    }
}

/// Percentiles of a latency sample, in µs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub samples: usize,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

pub fn summarize(samples_ns: &[u64]) -> LatencySummary {
    if samples_ns.is_empty() {
        return LatencySummary {
            samples: 0,
            mean_us: f64::NAN,
            p50_us: f64::NAN,
            p90_us: f64::NAN,
            p99_us: f64::NAN,
            p999_us: f64::NAN,
            max_us: f64::NAN,
        };
    }
    let mut v: Vec<f64> = samples_ns.iter().map(|&x| x as f64 / 1e3).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    LatencySummary {
        samples: v.len(),
        mean_us: v.iter().sum::<f64>() / v.len() as f64,
        p50_us: quantile_sorted(&v, 0.50),
        p90_us: quantile_sorted(&v, 0.90),
        p99_us: quantile_sorted(&v, 0.99),
        p999_us: quantile_sorted(&v, 0.999),
        max_us: *v.last().unwrap(),
    }
}

/// One bucket of a log-scale latency histogram (µs).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Bucket {
    pub lo_us: f64,
    pub hi_us: f64,
    pub count: u64,
}

/// Sub-buckets per power of two (≈9% wide buckets).
pub const HIST_SUB: u32 = 8;

/// Log-scale histogram: bucket 0 is [0, 1) µs, bucket i ≥ 1 is
/// [2^((i−1)/8), 2^(i/8)) µs. Only non-empty buckets are returned.
pub fn histogram(samples_ns: &[u64]) -> Vec<Bucket> {
    let mut counts: std::collections::BTreeMap<u32, u64> = Default::default();
    for &ns in samples_ns {
        let us = ns as f64 / 1e3;
        let i = if us < 1.0 {
            0
        } else {
            (us.log2() * HIST_SUB as f64).floor() as u32 + 1
        };
        *counts.entry(i).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(i, count)| {
            let (lo, hi) = if i == 0 {
                (0.0, 1.0)
            } else {
                (
                    2f64.powf((i - 1) as f64 / HIST_SUB as f64),
                    2f64.powf(i as f64 / HIST_SUB as f64),
                )
            };
            Bucket {
                lo_us: lo,
                hi_us: hi,
                count,
            }
        })
        .collect()
}

pub use crate::clock::mono_ns;
pub use crate::hogs::work_unit;

/// Run the latency mix: `warmup` unmeasured, then `duration` measured.
/// Returns early (with what was measured) when `stop` is set.
pub fn run(
    cfg: &LatencyConfig,
    warmup: Duration,
    duration: Duration,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<LatencyResult> {
    if cfg.period_us.is_empty() || cfg.period_us.contains(&0) {
        return Err(anyhow!(
            "waker periods must be > 0 (got {:?})",
            cfg.period_us
        ));
    }
    let phase = Phase::new();
    let burst_ns = cfg.burst_us * 1000;
    let mut measured_s = 0.0;

    let (wakers, hogs) = std::thread::scope(|s| -> Result<_> {
        let phase = &phase;
        let mut waker_handles = Vec::new();
        for i in 0..cfg.wakers {
            let period_ns = cfg.waker_period_us(i) * 1000;
            let h = std::thread::Builder::new()
                .name("ab-waker".into())
                .stack_size(256 * 1024)
                .spawn_scoped(s, move || {
                    ensure_sched_other();
                    tight_timer_slack();
                    let mut samples = Vec::with_capacity(8192);
                    let mut missed = 0u64;
                    let mut meter: Option<ThreadMeter> = None;
                    let mut next = mono_ns() + period_ns;
                    while !phase.done() {
                        if phase.measuring() && meter.is_none() {
                            meter = Some(ThreadMeter::start());
                        }
                        sleep_until_ns(next);
                        let woke = mono_ns();
                        let measuring = meter.is_some() && phase.measuring();
                        if measuring {
                            samples.push(woke.saturating_sub(next));
                        }
                        while mono_ns() < woke + burst_ns {
                            std::hint::spin_loop();
                        }
                        next += period_ns;
                        let now = mono_ns();
                        while next <= now {
                            next += period_ns;
                            if measuring {
                                missed += 1;
                            }
                        }
                    }
                    let rd = meter.and_then(|m| m.finish());
                    (samples, missed, rd)
                })?;
            waker_handles.push(h);
        }
        let hogs = Hogs::spawn(s, cfg.hogs, phase)?;
        measured_s = phase.drive("latency", warmup, duration, &flag(stop), progress);
        let wakers: Vec<_> = waker_handles.into_iter().map(|h| h.join()).collect();
        Ok((wakers, hogs.join()))
    })?;

    let mut res = LatencyResult {
        measured_s,
        ..Default::default()
    };
    for (i, w) in wakers.into_iter().enumerate() {
        let (samples, missed, rd) = w.map_err(|_| anyhow!("a waker thread panicked"))?;
        let s = summarize(&samples);
        res.per_waker.push(WakerStats {
            waker: i,
            period_us: cfg.waker_period_us(i),
            wakeups: samples.len() as u64,
            missed,
            p50_us: s.p50_us,
            p99_us: s.p99_us,
            max_us: s.max_us,
        });
        res.samples_ns.extend(samples);
        res.missed += missed;
        if let Some((d, ns)) = rd {
            res.rundelay.add(d, ns);
            res.rundelay_wakers.add(d, ns);
        }
    }
    let hogs = hogs?;
    res.hog_units = hogs.units;
    res.rundelay.merge(&hogs.rundelay);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakers_take_periods_round_robin() {
        let cfg = LatencyConfig {
            wakers: 6,
            period_us: vec![1009, 2017, 2503, 10007],
            burst_us: 50,
            hogs: 0,
        };
        let p: Vec<u64> = (0..cfg.wakers).map(|i| cfg.waker_period_us(i)).collect();
        assert_eq!(p, [1009, 2017, 2503, 10007, 1009, 2017]);
        let one = LatencyConfig {
            period_us: vec![2017],
            ..cfg.clone()
        };
        assert!((0..5).all(|i| one.waker_period_us(i) == 2017));
        let stop = AtomicBool::new(false);
        for bad in [vec![], vec![2017, 0]] {
            let c = LatencyConfig {
                period_us: bad,
                ..cfg.clone()
            };
            assert!(run(&c, Duration::ZERO, Duration::ZERO, &stop, &mut |_| {}).is_err());
        }
    }

    #[test]
    fn summary_percentiles() {
        let ns: Vec<u64> = (1..=1000).map(|i| i * 1000).collect(); // 1..1000 µs
        let s = summarize(&ns);
        assert_eq!(s.samples, 1000);
        assert!((s.p50_us - 500.5).abs() < 1e-9);
        assert!((s.max_us - 1000.0).abs() < 1e-9);
        assert!((s.mean_us - 500.5).abs() < 1e-9);
        assert!(s.p99_us > 989.0 && s.p99_us < 991.0);
        assert!(summarize(&[]).p50_us.is_nan());
    }

    #[test]
    fn histogram_buckets() {
        let h = histogram(&[500, 1000, 1500, 2000, 2000, 1_000_000]);
        // 0.5 µs -> bucket 0; 1 µs -> [1, 2^(1/8)); 1.5 µs -> log2=0.585*8=4.68 -> bucket 5
        assert_eq!(
            h[0],
            Bucket {
                lo_us: 0.0,
                hi_us: 1.0,
                count: 1
            }
        );
        assert_eq!(h[1].count, 1);
        assert!((h[1].lo_us - 1.0).abs() < 1e-12);
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 6);
        for b in &h {
            assert!(b.lo_us < b.hi_us);
        }
        let two = h.iter().find(|b| b.lo_us <= 2.0 && 2.0 < b.hi_us).unwrap();
        assert_eq!(two.count, 2);
        let ms = h.last().unwrap();
        assert!(ms.lo_us <= 1000.0 && 1000.0 < ms.hi_us);
    }
}
