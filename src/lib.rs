//! scx_arbor: a sched_ext scheduler whose per-task request sizes come from
//! integer decision trees.
//!
//! The library holds everything; `src/main.rs` is the command line. Data
//! flows `bpf/` (kernel side) -> [`sched`] (loader, maps, swap) and
//! [`model`] (ONNX -> integer tree) / [`learn`] (samples -> retrained tree);
//! [`ab`] compares the scheduler with EEVDF.

pub mod ab;
pub mod bpf_intf;
pub mod bpf_skel;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod learn;
pub mod model;
pub mod proc_cpu;
pub mod sample;
pub mod sched;
pub mod schema;
