//! The oracle feed: what a workload knows of its threads' coming CPU use,
//! published before the event it concerns, for an `--oracle` build of
//! scx_arbor to read.
//!
//! That build pins a BPF map at [`ORACLE_PATH`]: HASH, key u32 = thread id
//! (`gettid`), value [`OracleEntry`] `{ u64 end_exec_ns }` = the value the
//! thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`, the kernel's
//! `se.sum_exec_runtime`) will have when its current or next burst (CPU time
//! until it next sleeps) ends. Without the file, publishing is a no-op
//! without a syscall; a file that cannot be opened as that map, or an
//! update that fails, is an error.
//!
//! A waker that predicts another thread's burst starts from the CPU clock
//! that thread stored right before it blocked, adds the work it hands over
//! and an allowance for the CPU the thread burns around the work: the rest
//! of going to sleep after the store, the return from the wait, taking the
//! work, the bookkeeping after it and the way back into the wait. The
//! workload measures that allowance on every cycle (CPU clock at the next
//! block − CPU clock at the last block − the work) and keeps a moving
//! average per thread ([`Allowance`]), starting from
//! [`DEFAULT_ALLOWANCE_NS`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle, MapType};
use serde::Serialize;

/// Where an `--oracle` build of scx_arbor pins the map.
pub use arbor_intf::oracle::PIN_PATH as ORACLE_PATH;

/// Starting allowance for the CPU a thread burns around one piece of work
/// (the wakeup path and going back to sleep), ns. Measured with
/// `scx_arbor workload requests` (`oracle.wake_path_cpu` in its JSON): a
/// median of about 10 µs under EEVDF in the 2-vCPU TCG VM, 2–4 µs on the
/// 2-core build host. Each thread's moving average replaces it after a few
/// cycles.
pub const DEFAULT_ALLOWANCE_NS: u64 = 10_000;

/// The map's value (`struct arbor_oracle` in bpf/intf.h).
pub type OracleEntry = arbor_intf::bpf_intf::arbor_oracle;

/// The CPU clock a thread will read when a burst ends: where it stands
/// (`cpu_ns`), plus the work still ahead of it in this burst, plus the
/// allowance.
pub fn burst_end(cpu_ns: u64, work_ns: u64, allowance_ns: u64) -> u64 {
    cpu_ns.saturating_add(work_ns).saturating_add(allowance_ns)
}

/// What one cycle of a thread (block → wake → work → block again) cost
/// beyond its work: the allowance it needed (0 if the work took more).
pub fn cycle_overhead(cpu_at_block_ns: u64, cpu_at_next_block_ns: u64, work_ns: u64) -> u64 {
    cpu_at_next_block_ns
        .saturating_sub(cpu_at_block_ns)
        .saturating_sub(work_ns)
}

/// A thread's allowance: a moving average (weight 1/8) of its measured
/// cycle overheads, readable by other threads.
#[derive(Debug)]
pub struct Allowance(AtomicU64);

impl Default for Allowance {
    fn default() -> Self {
        Allowance(AtomicU64::new(DEFAULT_ALLOWANCE_NS))
    }
}

impl Allowance {
    pub fn ns(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Fold in one measured overhead. Only its own thread calls this.
    pub fn observe(&self, overhead_ns: u64) {
        let old = self.ns();
        let new = if overhead_ns >= old {
            old + (overhead_ns - old) / 8
        } else {
            old - (old - overhead_ns) / 8
        };
        self.0.store(new, Ordering::Relaxed);
    }
}

/// The oracle map of one run, or nothing when it is not pinned.
#[derive(Debug)]
pub struct Oracle {
    map: Option<MapHandle>,
    path: PathBuf,
    updates: AtomicU64,
    failed: AtomicBool,
    error: Mutex<Option<String>>,
}

/// What a workload's JSON records of the oracle.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OracleReport {
    /// Whether the map was there, so the workload published.
    pub fed: bool,
    pub path: String,
    /// Map updates written.
    pub updates: u64,
}

impl Oracle {
    /// The map at [`ORACLE_PATH`], if pinned.
    pub fn open() -> Result<Oracle> {
        Oracle::open_at(Path::new(ORACLE_PATH))
    }

    /// The map pinned at `path`: absent → an oracle that publishes nothing;
    /// present but not a HASH of u32 → u64, or not openable → an error.
    pub fn open_at(path: &Path) -> Result<Oracle> {
        let map = match path.try_exists() {
            Ok(false) => None,
            Ok(true) => Some(open_map(path)?),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("checking the oracle map {}", path.display()))
            }
        };
        Ok(Oracle {
            map,
            path: path.to_path_buf(),
            updates: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        })
    }

    /// An oracle that publishes nothing (tests, or workloads run elsewhere).
    pub fn none() -> Oracle {
        Oracle {
            map: None,
            path: PathBuf::from(ORACLE_PATH),
            updates: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    pub fn fed(&self) -> bool {
        self.map.is_some()
    }

    /// Publish that thread `tid`'s burst ends when its CPU clock reads
    /// `end_exec_ns`. Without the map: nothing, no syscall. A failed update
    /// is kept: [`Oracle::failed`] turns true and [`Oracle::check`] returns
    /// it (the thread that hit it carries on; the workload stops).
    pub fn publish(&self, tid: u32, end_exec_ns: u64) {
        let Some(map) = &self.map else {
            return;
        };
        let v = OracleEntry { end_exec_ns };
        match map.update(
            &tid.to_ne_bytes(),
            &v.end_exec_ns.to_ne_bytes(),
            MapFlags::ANY,
        ) {
            Ok(()) => {
                self.updates.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if !self.failed.swap(true, Ordering::AcqRel) {
                    let mut g = self.error.lock().unwrap_or_else(|p| p.into_inner());
                    *g = Some(format!(
                        "updating the oracle map {} (thread {tid}): {e}",
                        self.path.display()
                    ));
                }
            }
        }
    }

    /// Whether an update failed (the workload should stop).
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// The first failed update as an error.
    pub fn check(&self) -> Result<()> {
        let g = self.error.lock().unwrap_or_else(|p| p.into_inner());
        match &*g {
            Some(e) => bail!("{e}"),
            None => Ok(()),
        }
    }

    pub fn report(&self) -> OracleReport {
        OracleReport {
            fed: self.fed(),
            path: self.path.display().to_string(),
            updates: self.updates.load(Ordering::Relaxed),
        }
    }
}

fn open_map(path: &Path) -> Result<MapHandle> {
    let map = MapHandle::from_pinned_path(path).with_context(|| {
        format!(
            "opening the oracle map {} (it exists, so an --oracle scx_arbor pinned it; run as root)",
            path.display()
        )
    })?;
    let (ty, k, v) = (map.map_type(), map.key_size(), map.value_size());
    if ty != MapType::Hash || k != 4 || v as usize != std::mem::size_of::<OracleEntry>() {
        bail!(
            "the oracle map {} is a {ty:?} map with {k}-byte keys and {v}-byte values; \
             expected a Hash map of u32 thread id -> u64 end_exec_ns",
            path.display()
        );
    }
    Ok(map)
}

/// The halt condition of a workload that feeds `oracle`: the user's stop or
/// a failed update.
pub fn halt<'a>(
    stop: &'a std::sync::atomic::AtomicBool,
    oracle: &'a Oracle,
) -> impl Fn() -> bool + 'a {
    move || stop.load(Ordering::Relaxed) || oracle.failed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handed_request_ends_at_the_stored_clock_plus_work_plus_allowance() {
        // Worker blocked at 1.5 ms of CPU; a 100 µs request; 10 µs allowance.
        assert_eq!(burst_end(1_500_000, 100 * 1000, 10_000), 1_610_000);
        assert_eq!(burst_end(u64::MAX - 5, 10, 10), u64::MAX);
    }

    #[test]
    fn the_overhead_is_the_cycle_less_its_work() {
        // Blocked at 1.0 ms, blocked again at 1.117 ms after 100 µs of work.
        assert_eq!(cycle_overhead(1_000_000, 1_117_000, 100_000), 17_000);
        // The clock cannot go back; more work than the cycle: no overhead.
        assert_eq!(cycle_overhead(2_000, 1_000, 0), 0);
        assert_eq!(cycle_overhead(1_000, 2_000, 5_000), 0);
    }

    #[test]
    fn the_allowance_moves_an_eighth_towards_each_measurement() {
        let a = Allowance::default();
        assert_eq!(a.ns(), DEFAULT_ALLOWANCE_NS);
        a.observe(DEFAULT_ALLOWANCE_NS + 8_000);
        assert_eq!(a.ns(), DEFAULT_ALLOWANCE_NS + 1_000);
        a.observe(DEFAULT_ALLOWANCE_NS + 1_000 - 800);
        assert_eq!(a.ns(), DEFAULT_ALLOWANCE_NS + 900);
        for _ in 0..200 {
            a.observe(3_000);
        }
        assert!((3_000..3_010).contains(&a.ns()), "{}", a.ns());
    }

    #[test]
    fn no_pinned_file_means_no_feed_and_no_error() {
        let o = Oracle::open_at(Path::new("/nonexistent/scx_arbor/oracle")).unwrap();
        assert!(!o.fed());
        o.publish(1, 2);
        o.check().unwrap();
        let r = o.report();
        assert!(!r.fed && r.updates == 0 && !o.failed());
    }

    #[test]
    fn a_file_that_is_not_a_map_is_an_error() {
        let dir = std::env::temp_dir().join(format!("arbor-oracle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("oracle");
        std::fs::write(&f, b"not a map").unwrap();
        let e = Oracle::open_at(&f).unwrap_err();
        assert!(format!("{e:#}").contains("opening the oracle map"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_value_is_one_u64() {
        assert_eq!(std::mem::size_of::<OracleEntry>(), 8);
    }
}
