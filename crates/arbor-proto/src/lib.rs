//! The public interface of a running scx_arbor, shared by the scheduler
//! (which serves it) and its clients (`status`, `swap`, `explain`, `ab`):
//!
//! * [`control`]: the control socket's requests, their parser and a client.
//! * [`metrics`]: the statistics, one list of them for the control socket's
//!   `status` and for scx_stats.
//! * [`status`]: the `status` reply, the statistics with the per-CPU and
//!   per-class tables beside them, and the sum of the BPF side's per-CPU
//!   counters.
//! * [`waits`]: the wakeup-wait histogram and its quantiles.

pub mod control;
mod define;
pub mod metrics;
pub mod status;
pub mod waits;
