//! scx_arbor_tools: what `scx_arbor ab`, `scx_arbor workload` and
//! `scx_arbor model verify` run, and the floor scheduler `ab` can run as an
//! arm. `scx_arbor` parses those commands and then
//! runs this binary with the same arguments, so that the A/B harness, its
//! plots and tract stay out of the scheduler's binary. It takes the same
//! command line as `scx_arbor` for these commands.

use anyhow::Result;
use clap::{Parser, Subcommand};

// The floor scheduler and its skeleton: this binary's only, so the
// scheduler's binary carries neither.
#[path = "../floor.rs"]
mod floor;
#[path = "../floor_skel.rs"]
mod floor_skel;

/// The A/B harness, its workloads and tract's verification of scx_arbor.
#[derive(Debug, Parser)]
#[command(name = "scx_arbor", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A/B-compare scx_arbor against the kernel's default scheduler (EEVDF)
    /// on the same workload, in interleaved rounds, with statistics.
    Ab(Box<arbor_ab::AbArgs>),
    /// Run one A/B workload alone (the latency mix, requests, fanout or
    /// phases), under whatever scheduler is attached.
    Workload(arbor_ab::workload_cmd::WorkloadArgs),
    /// ONNX tree models.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Attach the floor scheduler until SIGINT or SIGTERM: the least a fair
    /// sched_ext scheduler does (one vruntime-ordered queue, the kernel's
    /// idle selection, no wakeup preemption), an arm for `ab` (`--arm
    /// floor='scx_arbor_tools floor'`) that measures what sched_ext's own
    /// path costs apart from scx_arbor's policy. Not for deployment.
    Floor(floor::FloorArgs),
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Compare the integer walker (the BPF semantics) with tract's inference
    /// of the ONNX file and with stored labels.
    Verify(scx_arbor::model_cli::VerifyArgs),
}

fn run(cli: Cli) -> Result<()> {
    scx_arbor::logging::init(0)?;
    match cli.command {
        Command::Ab(args) => arbor_ab::run(*args),
        Command::Workload(args) => arbor_ab::workload_cmd::run(&args),
        Command::Model(ModelCommand::Verify(a)) => {
            arbor_verify::cli::run(&a.file, a.rows.as_deref(), a.random, a.seed)
        }
        Command::Floor(a) => floor::run(&a),
    }
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("scx_arbor: {e:#}");
        std::process::exit(1);
    }
}
