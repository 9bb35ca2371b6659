//! What `ab` takes from the machine, replaceable in tests.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::bpfstats;
use crate::sysfs::{self, ScxSysfs};

/// The CPUs this process may use (what sizes the workloads by default).
pub fn nr_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The scheduler of the arbor arms: the `scx_arbor` binary beside this one
/// (else on PATH).
pub const SCHEDULER: &str = "scx_arbor";
/// Where scx_arbor, like every scx scheduler, serves its statistics.
pub const STATS_SOCKET: &str = "/var/run/scx/root/stats";
/// Arguments placed before the user's scheduler options when `ab` starts
/// scx_arbor as the scheduler of an arbor arm (empty: `scx_arbor [OPTIONS]`
/// runs the scheduler).
pub const SCHED_PREFIX_ARGS: &[&str] = &[];
/// `/sys/kernel/sched_ext/root/ops` of scx_arbor starts with this.
pub const OPS_PREFIX: &str = "arbor";
/// scx_arbor's BPF programs are named `arbor_<op>`.
pub const PROG_PREFIX: &str = "arbor_";

/// Everything `run` takes from the machine, replaceable in tests.
#[derive(Clone, Debug)]
pub struct AbEnv {
    pub sysfs: ScxSysfs,
    pub sched_exe: PathBuf,
    pub sched_prefix_args: Vec<String>,
    pub ops_prefix: String,
    pub prog_prefix: String,
    pub bpf_stats_sysctl: PathBuf,
    /// Where scx_arbor serves its statistics (scx_stats).
    pub stats_socket: PathBuf,
    pub require_root: bool,
    pub install_signal_handler: bool,
    pub stop: Arc<AtomicBool>,
    /// Print the table and progress (tests turn this off).
    pub print: bool,
    /// How long an arm-round waits for the scheduler's statistics (they
    /// are served a moment after sched_ext reports the scheduler attached)
    /// before it goes on without the scheduler's counters.
    pub socket_wait: Duration,
}

impl AbEnv {
    pub fn system() -> Result<AbEnv> {
        Ok(AbEnv {
            sysfs: ScxSysfs::new(sysfs::SCX_SYSFS),
            sched_exe: arbor_util::sibling::sibling_binary(SCHEDULER)?,
            sched_prefix_args: SCHED_PREFIX_ARGS.iter().map(|s| s.to_string()).collect(),
            ops_prefix: OPS_PREFIX.into(),
            prog_prefix: PROG_PREFIX.into(),
            bpf_stats_sysctl: bpfstats::BPF_STATS_SYSCTL.into(),
            stats_socket: STATS_SOCKET.into(),
            require_root: true,
            install_signal_handler: true,
            stop: Arc::new(AtomicBool::new(false)),
            print: true,
            socket_wait: Duration::from_secs(5),
        })
    }
}
