//! What scx_arbor asks of the running kernel before it loads anything:
//! sched_ext, and no other sched_ext scheduler attached; and the one
//! sentence that replaces libbpf's error on a kernel too old for it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

/// Where the kernel publishes sched_ext's state.
const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

/// [`SCHED_EXT_SYSFS`]; test builds (feature `debug-torn`) take another
/// path from `ARBOR_DEBUG_SCHED_EXT_SYSFS`, so that the host tests can
/// show a kernel without sched_ext on any machine.
fn sched_ext_sysfs() -> PathBuf {
    #[cfg(feature = "debug-torn")]
    if let Some(p) = std::env::var_os("ARBOR_DEBUG_SCHED_EXT_SYSFS") {
        return p.into();
    }
    SCHED_EXT_SYSFS.into()
}

/// Fail early, in one sentence, on a kernel that has no sched_ext.
pub fn require_sched_ext() -> Result<()> {
    let sysfs = sched_ext_sysfs();
    if !sysfs.exists() {
        bail!(
            "this kernel ({}) has no sched_ext support ({} is missing): \
             scx_arbor needs Linux 6.12 or newer built with CONFIG_SCHED_CLASS_EXT=y",
            kernel_release(),
            sysfs.display()
        );
    }
    Ok(())
}

/// Exit early, naming it, if a sched_ext scheduler is already attached
/// (another scx_arbor or any other): the kernel runs one at a time.
pub fn refuse_if_attached() -> Result<()> {
    let read = |f: &str| {
        std::fs::read_to_string(sched_ext_sysfs().join(f))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    // A scheduler that just exited (a service restart) may still be
    // disabling: give the kernel a moment before calling it running.
    let t0 = Instant::now();
    let mut state = read("state");
    while state == "disabling" && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        state = read("state");
    }
    if state.is_empty() || state == "disabled" {
        return Ok(());
    }
    let ops = read("root/ops");
    let who = if ops.is_empty() {
        "another sched_ext scheduler".to_string()
    } else if ops.starts_with("arbor") {
        format!("another scx_arbor (sched_ext ops \"{ops}\")")
    } else {
        format!("the sched_ext scheduler \"{ops}\"")
    };
    bail!(
        "{who} is already running (sched_ext state {state}); stop it before starting \
         scx_arbor"
    );
}

fn kernel_release() -> String {
    arbor_util::kernel_release().unwrap_or_else(|| "unknown".into())
}

pub fn explain_open_error(e: anyhow::Error) -> anyhow::Error {
    if format!("{e:#}").contains("dump() missing") {
        anyhow::anyhow!(
            "this kernel ({}) does not support sched_ext well enough for scx_arbor \
             (sched_ext_ops has no dump()): use Linux 6.12 or newer",
            kernel_release()
        )
    } else {
        e
    }
}
