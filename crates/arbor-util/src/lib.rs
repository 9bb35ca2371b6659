//! Small helpers that more than one of scx_arbor's crates needs.
//!
//! * [`rng`]: SplitMix64, the seedable generator of every random choice
//!   that must repeat (probe rows, held-out splits, bootstraps, round order).
//! * [`proc_cpu`]: a process's CPU time and age from `/proc/PID/stat`.
//! * [`sibling::sibling_binary`]: scx_arbor's other binary.
//! * [`kernel_release`]: the running kernel's release string.
//! * [`utc::Utc`]: Unix seconds as a UTC date and time.

pub mod proc_cpu;
pub mod rng;
pub mod sibling;
pub mod utc;

/// The running kernel's release (`uname -r`), if /proc says.
pub fn kernel_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}
