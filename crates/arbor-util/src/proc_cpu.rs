//! CPU time of a process from `/proc/PID/stat`: utime + stime of all its
//! threads, and how long it has run, for "daemon CPU %" figures.

use anyhow::{Context, Result};
use std::time::{Duration, Instant};

/// One reading of a process's CPU time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuReading {
    /// utime + stime of every thread, in seconds.
    pub cpu_s: f64,
    /// Seconds since the process started (by `/proc/uptime`).
    pub age_s: f64,
    /// When this reading was taken.
    pub at: Instant,
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime and starttime (clock ticks) from the text of a
/// `/proc/PID/stat` file. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted after its last `)`.
pub fn parse_stat(text: &str) -> Result<(u64, u64)> {
    let rest = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .context("no ')' after the command name")?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3, utime 14, stime 15, starttime 22.
    let field = |n: usize| -> Result<u64> {
        f.get(n - 3)
            .with_context(|| format!("field {n} missing"))?
            .parse::<u64>()
            .with_context(|| format!("field {n} is not a number"))
    };
    Ok((field(14)? + field(15)?, field(22)?))
}

/// Read the CPU time of process `pid` ("self" for this one).
pub fn read(pid: &str) -> Result<CpuReading> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let (cpu, start) = parse_stat(&text).with_context(|| format!("parsing {path}"))?;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .context("reading /proc/uptime")?
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .context("parsing /proc/uptime")?;
    let tck = clk_tck();
    Ok(CpuReading {
        cpu_s: cpu as f64 / tck,
        age_s: (uptime - start as f64 / tck).max(0.0),
        at: Instant::now(),
    })
}

impl CpuReading {
    /// CPU used since the process started, percent of one CPU.
    pub fn percent_since_start(&self) -> f64 {
        if self.age_s > 0.0 {
            100.0 * self.cpu_s / self.age_s
        } else {
            0.0
        }
    }

    /// CPU used between `earlier` and this reading, percent of one CPU
    /// (NaN when no time passed).
    pub fn percent_since(&self, earlier: &CpuReading) -> f64 {
        let wall = self.at.saturating_duration_since(earlier.at);
        if wall < Duration::from_millis(1) {
            return f64::NAN;
        }
        100.0 * (self.cpu_s - earlier.cpu_s).max(0.0) / wall.as_secs_f64()
    }
}

/// CPU time of the calling thread, s (CLOCK_THREAD_CPUTIME_ID).
pub fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    // It cannot fail for this clock of the calling thread.
    debug_assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let t = "1234 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 250 70 0 0 20 0 5 0 9000 0 0";
        assert_eq!(parse_stat(t).unwrap(), (320, 9000));
        assert!(parse_stat("1234 (x) S 1 2").is_err());
        assert!(parse_stat("no paren").is_err());
    }

    /// Spin until this thread has used `secs` of CPU by its own clock
    /// (however long that takes on a busy machine); returns what it used.
    fn spin_cpu_s(secs: f64) -> f64 {
        let t0 = thread_cpu_s();
        let mut x = 0u64;
        while thread_cpu_s() - t0 < secs {
            x = x.wrapping_mul(31).wrapping_add(1);
            std::hint::black_box(x);
        }
        thread_cpu_s() - t0
    }

    /// utime+stime come in clock ticks (10 ms at USER_HZ 100): a reading
    /// may lag the thread's own clock by up to one tick at each end.
    const TICKS_SLACK_S: f64 = 0.02;

    #[test]
    fn a_spinning_thread_shows_as_cpu() {
        // Ground truth: the spinning thread's own CPU clock, so the test
        // holds on a loaded machine, where the spin takes longer.
        let a = read("self").unwrap();
        let spun = spin_cpu_s(0.4);
        let b = read("self").unwrap();
        assert!(
            b.cpu_s - a.cpu_s >= spun - TICKS_SLACK_S,
            "utime+stime grew by {:.3} s while the thread used {spun:.3} s",
            b.cpu_s - a.cpu_s
        );
        let wall = b.at.duration_since(a.at).as_secs_f64();
        let floor = 100.0 * (spun - TICKS_SLACK_S) / wall;
        let pct = b.percent_since(&a);
        assert!(
            pct >= floor,
            "{pct:.1}% while spinning, the thread alone used {floor:.1}%"
        );
        std::thread::sleep(Duration::from_millis(400));
        let c = read("self").unwrap();
        assert!(
            c.percent_since(&b) < 40.0,
            "{:.1}% while sleeping",
            c.percent_since(&b)
        );
        assert!(c.age_s > 0.0 && c.percent_since_start() > 0.0);
    }
}
