//! `scx_arbor_tools floor`: the floor scheduler (`bpf/floor.bpf.c`) attached
//! until SIGINT or SIGTERM, for `ab` to run as an arm (`--arm
//! floor='scx_arbor_tools floor'`): the least a fair sched_ext scheduler
//! does, so that what sched_ext's own path costs on a machine is measured
//! apart from what scx_arbor's policy costs. A benchmark, not a scheduler
//! to deploy.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};

use crate::floor_skel::*;
use scx_arbor::sched::actions::eevdf_base_slice_us;

#[derive(Debug, Args)]
pub struct FloorArgs {
    /// Every task's slice, µs [default: EEVDF's base slice for this
    /// machine's CPU count, which is scx_arbor's fallback slice].
    #[arg(long, value_name = "US", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub slice_us: Option<u64>,
}

/// Attach the floor scheduler and keep it attached until a signal or until
/// the kernel ejects it; then print why it exited.
pub fn run(args: &FloorArgs) -> Result<()> {
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = shutdown.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        .context("installing the SIGINT/SIGTERM handler")?;
    scx_utils::try_set_rlimit_infinity();
    let slice_us = args
        .slice_us
        .unwrap_or_else(|| eevdf_base_slice_us(*scx_utils::NR_CPU_IDS));

    let mut open_object = MaybeUninit::uninit();
    let builder = FloorSkelBuilder::default();
    let mut skel = scx_ops_open!(builder, &mut open_object, floor_ops, None)
        .context("opening the floor scheduler")?;
    skel.maps
        .rodata_data
        .as_mut()
        .context("no rodata")?
        .slice_ns = slice_us * 1000;
    let mut skel = scx_ops_load!(skel, floor_ops, uei).context("loading the floor scheduler")?;
    let link = scx_ops_attach!(skel, floor_ops).context("attaching the floor scheduler")?;
    eprintln!("floor: attached, every slice {slice_us} µs");
    while !shutdown.load(Ordering::Relaxed) && !uei_exited!(&skel, uei) {
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(link);
    uei_report!(&skel, uei)?;
    Ok(())
}
