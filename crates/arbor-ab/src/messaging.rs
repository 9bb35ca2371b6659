//! Messaging: a hackbench-like run over pipes (threads, no external tool).
//!
//! One iteration: `groups` independent groups, each of `fds` senders and `fds`
//! receivers; every sender writes `loops` messages of 100 bytes to every
//! receiver of its group (each receiver owns one pipe that all the group's
//! senders write to; writes ≤ PIPE_BUF are atomic). The clock starts when all
//! threads are released from a barrier and stops when the last one finishes;
//! that is the iteration's completion time. Iterations run back to back for the
//! round's duration (at least one); warm-up iterations are discarded.
//!
//! Metrics: median completion time per iteration, messages/s over all measured
//! iterations (messages / Σ completion time), run delay of all the threads.

use super::rundelay::{RunDelay, ThreadMeter};
use super::stats::median;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

pub const MSG_SIZE: usize = 100;

#[derive(Clone, Debug, Serialize)]
pub struct MessagingConfig {
    pub groups: usize,
    pub fds: usize,
    pub loops: usize,
}

impl MessagingConfig {
    pub fn messages_per_iteration(&self) -> u64 {
        (self.groups * self.fds * self.fds * self.loops) as u64
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct MessagingResult {
    /// Completion time of each measured iteration, s.
    pub iterations_s: Vec<f64>,
    pub messages: u64,
    #[serde(skip)]
    pub rundelay: RunDelay,
}

impl MessagingResult {
    pub fn median_time_ms(&self) -> f64 {
        median(&self.iterations_s) * 1e3
    }

    pub fn messages_per_s(&self) -> f64 {
        let t: f64 = self.iterations_s.iter().sum();
        if t > 0.0 {
            self.messages as f64 / t
        } else {
            f64::NAN
        }
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("pipe2: {}", std::io::Error::last_os_error());
    }
    // SAFETY: fresh fds we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn write_all(fd: i32, mut buf: &[u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, buf.as_ptr() as *const _, buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

fn read_bytes(fd: i32, mut want: usize) -> std::io::Result<()> {
    let mut buf = [0u8; MSG_SIZE * 16];
    while want > 0 {
        let len = buf.len().min(want);
        // SAFETY: valid buffer of at least len bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut _, len) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "pipe closed early",
            ));
        }
        want -= n as usize;
    }
    Ok(())
}

type ThreadOut = std::io::Result<Option<(super::rundelay::SchedStat, u64)>>;

/// One iteration; returns (completion time, run delay of its threads).
pub fn iteration(cfg: &MessagingConfig) -> Result<(Duration, RunDelay)> {
    if cfg.groups == 0 || cfg.fds == 0 || cfg.loops == 0 {
        bail!("messaging needs groups, fds and loops > 0");
    }
    let mut pipes = Vec::with_capacity(cfg.groups * cfg.fds);
    for _ in 0..cfg.groups * cfg.fds {
        pipes.push(pipe()?);
    }
    let nthreads = 2 * cfg.groups * cfg.fds;
    let barrier = Barrier::new(nthreads + 1);
    let per_receiver = cfg.fds * cfg.loops * MSG_SIZE;
    let (elapsed, outs) = std::thread::scope(|s| -> Result<(Duration, Vec<ThreadOut>)> {
        let barrier = &barrier;
        let mut handles = Vec::with_capacity(nthreads);
        for g in 0..cfg.groups {
            let group = &pipes[g * cfg.fds..(g + 1) * cfg.fds];
            for (rfd, _) in group {
                let rfd = rfd.as_raw_fd();
                handles.push(
                    std::thread::Builder::new()
                        .name("ab-recv".into())
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, move || -> ThreadOut {
                            crate::clock::ensure_sched_other();
                            barrier.wait();
                            let m = ThreadMeter::start();
                            read_bytes(rfd, per_receiver)?;
                            Ok(m.finish())
                        })?,
                );
            }
            let wfds: Vec<i32> = group.iter().map(|(_, w)| w.as_raw_fd()).collect();
            for _ in 0..cfg.fds {
                let wfds = wfds.clone();
                handles.push(
                    std::thread::Builder::new()
                        .name("ab-send".into())
                        .stack_size(128 * 1024)
                        .spawn_scoped(s, move || -> ThreadOut {
                            crate::clock::ensure_sched_other();
                            let data = [0x5au8; MSG_SIZE];
                            barrier.wait();
                            let m = ThreadMeter::start();
                            for _ in 0..cfg.loops {
                                for &w in &wfds {
                                    write_all(w, &data)?;
                                }
                            }
                            Ok(m.finish())
                        })?,
                );
            }
        }
        barrier.wait();
        let t0 = Instant::now();
        let outs: Vec<ThreadOut> = handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("thread panicked")))
            })
            .collect();
        Ok((t0.elapsed(), outs))
    })?;
    let mut rd = RunDelay::default();
    for o in outs {
        if let Some((d, ns)) = o.map_err(|e| anyhow!("messaging thread: {e}"))? {
            rd.add(d, ns);
        }
    }
    Ok((elapsed, rd))
}

/// Warm-up iterations for `warmup`, then measured iterations for `duration`
/// (at least one). Returns early when `stop` is set.
pub fn run(
    cfg: &MessagingConfig,
    warmup: Duration,
    duration: Duration,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<MessagingResult> {
    let t0 = Instant::now();
    while t0.elapsed() < warmup && !stop.load(Ordering::Relaxed) {
        progress(format!(
            "messaging warm-up {:.1}/{:.1} s",
            t0.elapsed().as_secs_f64(),
            warmup.as_secs_f64()
        ));
        iteration(cfg)?;
    }
    let mut res = MessagingResult::default();
    let t1 = Instant::now();
    while !stop.load(Ordering::Relaxed) && (res.iterations_s.is_empty() || t1.elapsed() < duration)
    {
        progress(format!(
            "messaging measuring {:.1}/{:.1} s, {} iterations",
            t1.elapsed().as_secs_f64(),
            duration.as_secs_f64(),
            res.iterations_s.len()
        ));
        let (d, rd) = iteration(cfg)?;
        res.iterations_s.push(d.as_secs_f64());
        res.messages += cfg.messages_per_iteration();
        res.rundelay.merge(&rd);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_small_iteration() {
        let cfg = MessagingConfig {
            groups: 2,
            fds: 3,
            loops: 20,
        };
        assert_eq!(cfg.messages_per_iteration(), 360);
        let (d, rd) = iteration(&cfg).unwrap();
        assert!(d > Duration::ZERO);
        if rd.tasks > 0 {
            assert_eq!(rd.tasks, 12);
        }
    }
}
