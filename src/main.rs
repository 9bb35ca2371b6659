//! scx_arbor: a sched_ext scheduler whose per-task request sizes come from
//! integer decision trees.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use arbor_intf::schema;
use arbor_proto::control::{self, Request};
use scx_arbor::sched::SchedOpts;
use scx_arbor::{logging, model_cli, sched, tools};

/// A sched_ext scheduler: EEVDF-style virtual deadlines whose per-task
/// request sizes come from integer decision trees (ONNX models) walked in BPF.
#[derive(Debug, Parser)]
#[command(
    name = "scx_arbor",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    sched: SchedOpts,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// ONNX tree models: verify against tract, inspect, train from a --record
    /// CSV, annotate with the feature schema.
    #[command(subcommand)]
    Model(model_cli::ModelCommand),
    /// A/B-compare scx_arbor against the kernel's default scheduler (EEVDF)
    /// on the same workload, in interleaved rounds, with statistics. Runs in
    /// scx_arbor_tools.
    Ab(Box<arbor_ab::AbArgs>),
    /// Print the feature schema, the burst classes and the model limits.
    Schema,
    /// Run one A/B workload alone, under whatever scheduler is attached:
    /// the latency mix (default: periodic wakers beside CPU hogs) or a
    /// family (requests, fanout, phases). Prints its figures as JSON.
    /// Handy to give the learner a workload with known burst lengths. Runs
    /// in scx_arbor_tools.
    Workload(arbor_ab::workload_cmd::WorkloadArgs),
    /// Print the running instance's statistics since it attached (root
    /// only).
    Status {
        /// Print the JSON reply instead of a summary line: every field
        /// scx_stats serves (`--help-stats`), flat, and beside them
        /// decisions_per_cpu and the confusion matrices.
        #[arg(long)]
        json: bool,
        /// Control socket of the running instance.
        #[arg(long, value_name = "PATH", default_value = control::DEFAULT_SOCKET)]
        socket: PathBuf,
    },
    /// List the generations saved in the model directory: generation,
    /// parent, time, training samples, held-out score (and the parent's on
    /// the same samples), live score, balanced accuracy. `swap` or --model
    /// takes any of the files back.
    Generations {
        /// The model directory (as the scheduler's --model-dir).
        #[arg(long, value_name = "DIR", default_value = "/var/lib/scx_arbor/models")]
        model_dir: PathBuf,
        /// Print the lineage records as JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Explain a running task's slice: its current features (from the BPF
    /// task storage), the path the live model takes for them (every split),
    /// the class and its action row, and the class of its last decision.
    /// Asks the running instance (root only); PID may be a thread id.
    Explain {
        /// The task (process or thread id).
        pid: u32,
        /// Print the raw JSON reply instead of text.
        #[arg(long)]
        json: bool,
        /// Control socket of the running instance.
        #[arg(long, value_name = "PATH", default_value = control::DEFAULT_SOCKET)]
        socket: PathBuf,
    },
    /// Install an ONNX model into the running instance, atomically. Prints the
    /// new generation, or why the model was refused (the running model then
    /// stays as it was).
    Swap {
        /// The ONNX model file.
        file: PathBuf,
        /// Control socket of the running instance.
        #[arg(long, value_name = "PATH", default_value = control::DEFAULT_SOCKET)]
        socket: PathBuf,
        /// TESTS ONLY: overwrite the live model in place instead (a torn
        /// install), to prove that torn reads are seen and counted. Only in
        /// builds with the `debug-torn` feature.
        #[cfg(feature = "debug-torn")]
        #[arg(long, hide = true)]
        debug_torn: bool,
    },
}

/// `VERSION[-gSHA[-dirty]] TARGET[/debug]`, the form scx's schedulers print
/// (scx_utils' build_id, with this crate's own commit from build.rs).
fn full_version() -> String {
    let mut v = env!("CARGO_PKG_VERSION").to_string();
    let sha = env!("ARBOR_GIT_SHA");
    if !sha.is_empty() {
        v += &format!("-g{sha}");
        if !env!("ARBOR_GIT_DIRTY").is_empty() {
            v += "-dirty";
        }
    }
    v += &format!(" {}", env!("ARBOR_TARGET"));
    if cfg!(debug_assertions) {
        v += "/debug";
    }
    v
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = real_main(cli) {
        eprintln!("scx_arbor: {e:#}");
        std::process::exit(1);
    }
}

fn real_main(cli: Cli) -> Result<()> {
    if cli.sched.version {
        println!("scx_arbor {}", full_version());
        return Ok(());
    }
    if cli.sched.help_stats {
        return sched::stats_server::describe(&mut std::io::stdout());
    }
    logging::init(cli.sched.verbose)?;
    match cli.command {
        None => match cli.sched.monitor {
            Some(secs) => sched::loader::monitor(secs),
            None => sched::loader::run(&cli.sched),
        },
        Some(Command::Model(cmd)) => model_cli::run(cmd),
        Some(Command::Schema) => {
            print!("{}", schema::describe());
            Ok(())
        }
        // Parsed here, run by the sibling binary with the same arguments.
        Some(Command::Ab(_)) | Some(Command::Workload(_)) => tools::exec_tools(),
        Some(Command::Status { json, socket }) => {
            let v = control::request(&socket, &Request::Status)?;
            if json {
                // The reply without the protocol's `ok`: Metrics' fields
                // (what scx_stats serves) and the tables beside them.
                let st: arbor_proto::status::Status =
                    serde_json::from_value(v).context("the status reply")?;
                println!(
                    "{}",
                    serde_json::to_string(&st).context("encoding the status")?
                );
            } else {
                println!("{}", sched::stats::status_text(&v)?);
            }
            Ok(())
        }
        Some(Command::Explain { pid, json, socket }) => {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                anyhow::bail!("no task with pid {pid} (it has exited, or never existed)");
            }
            let v = control::request(&socket, &Request::Explain(pid))
                .with_context(|| format!("explaining task {pid}"))?;
            if json {
                println!("{v}");
            } else {
                print!("{}", sched::explain::render(&v)?);
            }
            Ok(())
        }
        Some(Command::Generations { model_dir, json }) => {
            let store = arbor_learn::generations::Store::new(&model_dir);
            let all = store.list()?;
            if json {
                for e in &all {
                    println!(
                        "{}",
                        serde_json::json!({
                            "generation": e.generation,
                            "file": e.onnx,
                            "lineage": e.lineage,
                            "live": e.live,
                        })
                    );
                }
            } else if all.is_empty() {
                println!("no generations in {}", model_dir.display());
            } else {
                print!("{}", arbor_learn::generations::render(&all));
            }
            Ok(())
        }
        Some(Command::Swap {
            file,
            socket,
            #[cfg(feature = "debug-torn")]
            debug_torn,
        }) => {
            let bytes = sched::model_file::read_model_file(&file)?;
            #[cfg(feature = "debug-torn")]
            let req = if debug_torn {
                Request::SwapTorn(bytes)
            } else {
                Request::Swap(bytes)
            };
            #[cfg(not(feature = "debug-torn"))]
            let req = Request::Swap(bytes);
            let v = control::request(&socket, &req)
                .with_context(|| format!("{} was refused", file.display()))?;
            match v["visible_us"].as_u64() {
                Some(us) => println!(
                    "generation {} (installed in {} µs, in use after {us} µs)",
                    v["generation"], v["install_us"]
                ),
                None => println!("generation {}", v["generation"]),
            }
            Ok(())
        }
    }
}
