//! `bpf/intf.h` for Rust: the one definition of the feature schema, the
//! burst classes, the integer tree layout walked in BPF, the outcome samples
//! and the per-CPU counters, shared by the scheduler and the crates below it.
//!
//! * [`bpf_intf`]: the bindgen structs and constants.
//! * [`schema`]: the schema's names, units, classes and limits.
//! * [`sample`]: one outcome sample as the ring buffer carries it.
//! * [`oracle`]: where an oracle build takes what a workload knows.

pub mod bpf_intf;
pub mod oracle;
pub mod sample;
pub mod schema;
