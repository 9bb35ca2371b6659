//! Run delay (time spent runnable but waiting for a CPU) from
//! `/proc/<pid>/task/<tid>/schedstat`, whose three fields are: time on CPU
//! (ns), time waiting on a run queue (ns), number of times the task was put on
//! a CPU ("runs"). The accounting (sched_info) is done by the core scheduler for
//! every scheduling class, so EEVDF and sched_ext arms are measured alike.
//!
//! Reported per arm and round:
//! - `us_per_run`: Σ run delay / Σ runs — the mean wait each time a task got a CPU.
//! - `ms_per_task_s`: Σ run delay / Σ task lifetime within the window — how many
//!   ms each task spent waiting per second of its existence (1000 = always waiting).

use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// One reading of a task's schedstat.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SchedStat {
    pub cpu_ns: u64,
    pub delay_ns: u64,
    pub runs: u64,
}

impl SchedStat {
    pub fn parse(s: &str) -> Option<SchedStat> {
        let mut it = s.split_whitespace().map(|f| f.parse::<u64>().ok());
        Some(SchedStat {
            cpu_ns: it.next()??,
            delay_ns: it.next()??,
            runs: it.next()??,
        })
    }

    pub fn read(path: &Path) -> Option<SchedStat> {
        SchedStat::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// The calling thread's own counters.
    pub fn this_thread() -> Option<SchedStat> {
        SchedStat::read(Path::new("/proc/thread-self/schedstat"))
    }

    pub fn since(&self, earlier: &SchedStat) -> SchedStat {
        SchedStat {
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            delay_ns: self.delay_ns.saturating_sub(earlier.delay_ns),
            runs: self.runs.saturating_sub(earlier.runs),
        }
    }
}

/// Run-delay totals over a set of tasks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunDelay {
    /// Tasks measured.
    pub tasks: u64,
    pub cpu_ns: u64,
    pub delay_ns: u64,
    pub runs: u64,
    /// Σ of each task's time inside the measurement window, ns.
    pub task_ns: u64,
}

impl RunDelay {
    pub fn add(&mut self, d: SchedStat, task_ns: u64) {
        self.tasks += 1;
        self.cpu_ns += d.cpu_ns;
        self.delay_ns += d.delay_ns;
        self.runs += d.runs;
        self.task_ns += task_ns;
    }

    pub fn merge(&mut self, o: &RunDelay) {
        self.tasks += o.tasks;
        self.cpu_ns += o.cpu_ns;
        self.delay_ns += o.delay_ns;
        self.runs += o.runs;
        self.task_ns += o.task_ns;
    }

    /// Mean wait per time on a CPU, µs (NaN without data).
    pub fn us_per_run(&self) -> f64 {
        if self.runs == 0 {
            return f64::NAN;
        }
        self.delay_ns as f64 / 1e3 / self.runs as f64
    }

    /// Waiting time per task-second, ms/s (NaN without data).
    pub fn ms_per_task_s(&self) -> f64 {
        if self.task_ns == 0 {
            return f64::NAN;
        }
        (self.delay_ns as f64 / 1e6) / (self.task_ns as f64 / 1e9)
    }
}

/// Measures the calling thread between `start` and `finish`.
pub struct ThreadMeter {
    start: Option<SchedStat>,
    t0: Instant,
}

impl ThreadMeter {
    pub fn start() -> ThreadMeter {
        ThreadMeter {
            start: SchedStat::this_thread(),
            t0: Instant::now(),
        }
    }

    /// (delta, ns in window); None when schedstat is unavailable.
    pub fn finish(&self) -> Option<(SchedStat, u64)> {
        let end = SchedStat::this_thread()?;
        Some((
            end.since(self.start.as_ref()?),
            self.t0.elapsed().as_nanos() as u64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_schedstat() {
        assert_eq!(
            SchedStat::parse("123 456 7\n"),
            Some(SchedStat {
                cpu_ns: 123,
                delay_ns: 456,
                runs: 7
            })
        );
        assert_eq!(SchedStat::parse("1 2"), None);
        assert_eq!(SchedStat::parse("x 2 3"), None);
    }

    #[test]
    fn rates() {
        let mut r = RunDelay::default();
        r.add(
            SchedStat {
                cpu_ns: 900_000_000,
                delay_ns: 100_000_000,
                runs: 1000,
            },
            1_000_000_000,
        );
        r.add(
            SchedStat {
                cpu_ns: 0,
                delay_ns: 0,
                runs: 0,
            },
            1_000_000_000,
        );
        assert_eq!(r.tasks, 2);
        // 100 ms wait over 1000 runs = 100 µs per run
        assert!((r.us_per_run() - 100.0).abs() < 1e-9);
        // 100 ms over 2 task-seconds = 50 ms/s
        assert!((r.ms_per_task_s() - 50.0).abs() < 1e-9);
        assert!(RunDelay::default().us_per_run().is_nan());
    }

    #[test]
    fn own_thread_is_readable() {
        // Run delay needs the kernel's CONFIG_SCHED_INFO (Debian's kernels
        // have it): without it every arm's run delay would be missing, so
        // the test fails and says why. (A fresh thread may still read all
        // zeros: the kernel updates the counters when the thread is
        // switched out.)
        let s = SchedStat::this_thread().expect(
            "/proc/thread-self/schedstat is missing or unreadable: this kernel lacks \
             CONFIG_SCHED_INFO, which `ab`'s run delay reads",
        );
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = std::hint::black_box(x ^ i.wrapping_mul(31));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let t = SchedStat::this_thread().expect("schedstat was readable a moment ago");
        assert!(t.runs > s.runs && t.cpu_ns > s.cpu_ns, "{s:?} -> {t:?}");
    }
}
