//! scx_arbor: a sched_ext scheduler whose per-task request sizes come from
//! integer decision trees.
//!
//! This library is the scheduler; `src/main.rs` is its command line. Data
//! flows `bpf/` (kernel side) -> [`sched`] (loader, maps, swap, learning,
//! the control socket and statistics), built on arbor-model (ONNX -> integer
//! tree), arbor-learn (samples -> retrained tree) and arbor-proto (what
//! clients see). The A/B harness (arbor-ab), tract's verification
//! (arbor-verify) and the floor scheduler (`src/floor.rs`) run in the
//! second binary, `scx_arbor_tools`.

pub mod bpf_skel;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod logging;
pub mod model_cli;
pub mod sched;
pub mod tools;
