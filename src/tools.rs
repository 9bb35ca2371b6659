//! `scx_arbor ab`, `scx_arbor workload` and `scx_arbor model verify` run in
//! the sibling binary `scx_arbor_tools`, which carries the A/B harness, its
//! plots and tract: the scheduler's own binary stays lean. This binary
//! parses their options (so `--help` and mistakes are answered here) and
//! then replaces itself with the tools binary, given the same arguments.

use std::os::unix::process::CommandExt;

use anyhow::{Context, Result};

/// The binary that runs the A/B harness and tract's verification.
pub const TOOLS: &str = "scx_arbor_tools";

/// Run this invocation's arguments in [`TOOLS`] (beside this executable,
/// else on PATH). Returns only on failure.
pub fn exec_tools() -> Result<()> {
    let exe = arbor_util::sibling::sibling_binary(TOOLS)?;
    let err = std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .exec();
    Err(err).with_context(|| format!("running {}", exe.display()))
}
