//! The oracle's interface: where a workload tells an oracle build of the
//! scheduler what it knows of its threads' coming CPU use (`struct
//! arbor_oracle` in bpf/intf.h). Tests and benchmarks only: the scheduler
//! pins the map only in builds with its `oracle` feature, run with
//! `--oracle`, so that an A/B run can measure how much knowing the future
//! is worth on a workload (the headroom over any model).

/// The pinned BPF map (hash: thread id, u32 -> `struct arbor_oracle`).
pub const PIN_PATH: &str = "/sys/fs/bpf/scx_arbor/oracle";

/// Its directory in the BPF filesystem.
pub const PIN_DIR: &str = "/sys/fs/bpf/scx_arbor";
