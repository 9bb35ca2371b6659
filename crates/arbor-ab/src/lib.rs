//! `scx_arbor ab`: A/B comparison of the kernel's default scheduler (EEVDF)
//! against scx_arbor, in interleaved rounds on the same machine.
//!
//! Each round runs every arm once (EEVDF = no sched_ext scheduler attached;
//! arbor = the scx_arbor binary started as a child with the user's scheduler options;
//! optionally arbor --no-model), in the order given by `--order`. Within an
//! arm-round each selected workload warms up, then is measured for the same
//! duration. Afterwards every metric is compared arm vs EEVDF: medians over
//! rounds, ratio, a seeded bootstrap 95% CI of the ratio and a Mann–Whitney U
//! p-value; "better"/"worse" only when the CI excludes 1 and p < 0.05.
//!
//! Safety: `ab` refuses to start while another sched_ext scheduler is
//! attached, and always leaves the system on EEVDF: the scheduler child is
//! owned by a guard that stops it (SIGINT, then SIGKILL) and waits for
//! sched_ext to report `disabled`, on success, error and Ctrl-C alike (Ctrl-C,
//! SIGTERM and SIGHUP only set a flag; the workloads notice it within
//! milliseconds and the guards unwind). The child also gets SIGINT from the
//! kernel if `ab` itself is killed (PR_SET_PDEATHSIG). bpf_stats_enabled is
//! restored by a guard too.

pub mod args;
pub mod arms;
pub mod bpfstats;
pub mod clock;
pub mod command;
pub mod env;
pub mod family_args;
pub mod fanout;
pub mod hogs;
pub mod latency;
pub mod messaging;
pub mod metrics;
pub mod oracle;
pub mod order;
pub mod phase;
pub mod phases;
pub mod plot;
pub mod progress;
pub mod report;
pub mod requests;
pub mod round;
pub mod run;
pub mod rundelay;
pub mod schbench;
pub mod stats;
pub mod summary;
pub mod sysfs;
pub mod table;
pub mod watch;
pub mod workload_cmd;

pub use args::{AbArgs, ArmKind, Order, WorkloadKind};
pub use arms::{
    heuristic_args, learn_args, no_model_args, oracle_args, Arm, ExternalArm, BASELINE, DEFAULT,
    HEURISTIC, LEARN, NOMODEL, ORACLE,
};
pub use env::nr_cpus;
pub use env::{AbEnv, OPS_PREFIX, PROG_PREFIX, SCHEDULER, SCHED_PREFIX_ARGS, STATS_SOCKET};
pub use order::schedule;
pub use round::bpf_ns_per_decision;
pub use run::{run, run_with, AbOutput};
pub use summary::summarize;
