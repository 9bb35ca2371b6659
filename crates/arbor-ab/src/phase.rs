//! The warm-up / measure / done protocol every built-in workload follows:
//! its threads run unmeasured during the warm-up, record during the
//! measurement and leave when it is done; the calling thread drives the
//! phases and reports progress.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const DONE: u8 = 2;

/// The phase of a running workload, shared by its threads.
#[derive(Debug, Default)]
pub struct Phase(AtomicU8);

impl Phase {
    pub fn new() -> Phase {
        Phase(AtomicU8::new(WARMUP))
    }
    pub fn measuring(&self) -> bool {
        self.0.load(Ordering::Acquire) == MEASURE
    }
    pub fn done(&self) -> bool {
        self.0.load(Ordering::Acquire) == DONE
    }
    pub fn start_measuring(&self) {
        self.0.store(MEASURE, Ordering::Release);
    }
    pub fn finish(&self) {
        self.0.store(DONE, Ordering::Release);
    }

    /// Warm up for `warmup`, measure for `duration`, then mark the phase
    /// done; either wait ends early when `halt` says so. Returns the
    /// measured seconds.
    pub fn drive(
        &self,
        name: &str,
        warmup: Duration,
        duration: Duration,
        halt: &dyn Fn() -> bool,
        progress: &mut dyn FnMut(String),
    ) -> f64 {
        wait_reporting(warmup, &format!("{name} warm-up"), halt, progress);
        self.start_measuring();
        let s = wait_reporting(duration, &format!("{name} measuring"), halt, progress);
        self.finish();
        s.as_secs_f64()
    }
}

/// `halt` for a plain stop flag.
pub fn flag(stop: &AtomicBool) -> impl Fn() -> bool + '_ {
    move || stop.load(Ordering::Relaxed)
}

/// Sleep through a workload phase of `d` (cut short by `halt`), reporting
/// "`what` elapsed/total s" every 250 ms; returns the time it took.
pub(crate) fn wait_reporting(
    d: Duration,
    what: &str,
    halt: &dyn Fn() -> bool,
    progress: &mut dyn FnMut(String),
) -> Duration {
    let t0 = Instant::now();
    let mut last = Instant::now() - Duration::from_secs(1);
    while t0.elapsed() < d && !halt() {
        if last.elapsed() >= Duration::from_millis(250) {
            progress(format!(
                "{what} {:.1}/{:.1} s",
                t0.elapsed().as_secs_f64(),
                d.as_secs_f64()
            ));
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20).min(d.saturating_sub(t0.elapsed())));
    }
    t0.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_go_warmup_measure_done() {
        let p = Phase::new();
        assert!(!p.measuring() && !p.done());
        let stop = AtomicBool::new(false);
        let mut seen = Vec::new();
        let s = p.drive(
            "t",
            Duration::from_millis(30),
            Duration::from_millis(300),
            &flag(&stop),
            &mut |m| seen.push(m),
        );
        assert!(p.done() && !p.measuring());
        assert!((0.29..1.0).contains(&s), "{s}");
        assert!(
            seen.iter().any(|m| m.starts_with("t measuring")),
            "{seen:?}"
        );
        stop.store(true, Ordering::Relaxed);
        let p = Phase::new();
        let s = p.drive(
            "t",
            Duration::from_secs(5),
            Duration::from_secs(5),
            &flag(&stop),
            &mut |_| {},
        );
        assert!(s < 0.5 && p.done());
    }
}
