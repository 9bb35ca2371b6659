//! The public interface of a running scx_arbor, shared by the scheduler
//! (which serves it) and its clients (`status`, `swap`, `explain`, `ab`):
//!
//! * [`control`]: the control socket's requests, their parser and a client.
//! * [`metrics`]: the statistics, one struct for the control socket's
//!   `status` and for scx_stats.

pub mod control;
pub mod metrics;
