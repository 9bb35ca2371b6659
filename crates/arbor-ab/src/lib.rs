//! `scx_arbor ab`: A/B comparison of the kernel's default scheduler (EEVDF)
//! against scx_arbor, in interleaved rounds on the same machine.
//!
//! Each round runs every arm once (EEVDF = no sched_ext scheduler attached;
//! arbor = this binary started as a child with the user's scheduler options;
//! optionally arbor --no-model), in the order given by `--order`. Within an
//! arm-round each selected workload warms up, then is measured for the same
//! duration. Afterwards every metric is compared arm vs EEVDF: medians over
//! rounds, ratio, a seeded bootstrap 95% CI of the ratio and a Mann–Whitney U
//! p-value; "better"/"worse" only when the CI excludes 1 and p < 0.05.
//!
//! Safety: `ab` refuses to start while another sched_ext scheduler is
//! attached, and always leaves the system on EEVDF: the scheduler child is
//! owned by a guard that stops it (SIGINT, then SIGKILL) and waits for
//! sched_ext to report `disabled`, on success, error and Ctrl-C alike (Ctrl-C,
//! SIGTERM and SIGHUP only set a flag; the workloads notice it within
//! milliseconds and the guards unwind). The child also gets SIGINT from the
//! kernel if `ab` itself is killed (PR_SET_PDEATHSIG). bpf_stats_enabled is
//! restored by a guard too.

pub mod bpfstats;
pub mod command;
pub mod latency;
pub mod messaging;
pub mod plot;
pub mod report;
pub mod rundelay;
pub mod schbench;
pub mod stats;
pub mod sysfs;
pub mod workload_cmd;

use anyhow::{bail, Context, Result};
use report::{
    CommandJson, LatencyJson, MessagingJson, MetricComparison, RoundRecord, SchbenchJson, Summary,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use sysfs::{RestoreFile, RunningSched, SchedLaunch, ScxSysfs};

/// The scheduler of the arbor arms: the `scx_arbor` binary beside this one
/// (else on PATH).
pub const SCHEDULER: &str = "scx_arbor";
/// Where scx_arbor, like every scx scheduler, serves its statistics.
pub const STATS_SOCKET: &str = "/var/run/scx/root/stats";
/// Arguments placed before the user's scheduler options when `ab` starts
/// scx_arbor as the scheduler of an arbor arm (empty: `scx_arbor [OPTIONS]`
/// runs the scheduler).
pub const SCHED_PREFIX_ARGS: &[&str] = &[];
/// `/sys/kernel/sched_ext/root/ops` of scx_arbor starts with this.
pub const OPS_PREFIX: &str = "arbor";
/// scx_arbor's BPF programs are named `arbor_<op>`.
pub const PROG_PREFIX: &str = "arbor_";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Same order every round: EEVDF, arbor (, arbor-nomodel).
    Alternate,
    /// Order reversed every other round (A B, B A, A B …).
    Abba,
    /// Each round's order shuffled (seeded by --seed).
    Random,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Periodic SCHED_OTHER wakers beside CPU hogs: wakeup latency and hog throughput.
    Latency,
    /// hackbench-like sender/receiver groups over pipes: completion time and messages/s.
    Messaging,
    /// schbench-like: message threads hand requests to workers that burn a
    /// fixed CPU burst; wakeup and request latency percentiles, requests/s.
    Schbench,
}

/// An arm of the comparison (`--arms`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArmKind {
    /// The kernel's default scheduler (no sched_ext scheduler attached).
    Eevdf,
    /// scx_arbor with the scheduler options given (the shipped model unless
    /// they name another).
    Default,
    /// scx_arbor with --no-model: every task gets the fallback class.
    Nomodel,
    /// scx_arbor learning (--learn on) into --learn-dir, resuming its newest
    /// promoted generation in every round, so later rounds run a trained tree.
    Learn,
}

/// Compare EEVDF (the kernel's default scheduler) with scx_arbor in interleaved rounds.
///
/// Run as root on a kernel with sched_ext and no other sched_ext scheduler
/// attached. Prints a table (medians, ratio arbor/EEVDF, bootstrap 95% CI,
/// Mann–Whitney p, verdict) and always leaves the system on EEVDF, also on
/// Ctrl-C or error.
#[derive(clap::Args, Debug, Clone, Serialize)]
#[command(
    after_help = "Example: scx_arbor ab --rounds 5 --duration 10 --workload latency,messaging \
    --json ab.json --plot ab.svg --arbor-arg=--model --arbor-arg=model.onnx\n\
    Any command after `--` is run (and timed) in every arm-round: scx_arbor ab -- make -j2"
)]
pub struct AbArgs {
    /// Rounds per arm. Each round runs every arm once. More rounds narrow the
    /// CI and are needed for significance at all: with the exact Mann–Whitney
    /// test the smallest attainable p is 0.33 with 2 rounds, 0.10 with 3,
    /// 0.029 with 4, 0.008 with 5; each round costs (warm-up + duration) per
    /// workload per arm.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,

    /// Measured seconds per workload per arm-round (identical for all arms).
    /// Longer rounds average out noise within a round and give the tail
    /// percentiles enough samples (2 wakers at 2017 µs give ~1000 wakeups/s,
    /// so p99.9 wants ≥ 10 s), but the run takes longer.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub duration: f64,

    /// Unmeasured seconds each workload runs before its measurement in every
    /// arm-round, so that caches, the scheduler's state and CPU frequency have
    /// settled. Too short lets start-up effects leak into the first figures;
    /// longer only costs time.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub warmup: f64,

    /// Order of the arms within each round. alternate is simple but the same
    /// arm always runs first (slow drift favours one arm); abba reverses the
    /// order every other round, cancelling linear drift; random shuffles each
    /// round (seeded by --seed), guarding against periodic interference.
    #[arg(long, value_enum, default_value_t = Order::Alternate)]
    pub order: Order,

    /// Seed for --order random and the bootstrap resampling; the same figures
    /// and seed always give the same confidence intervals.
    #[arg(long, default_value_t = 0x5eed)]
    pub seed: u64,

    /// Built-in workloads per arm-round, comma-separated (latency, messaging);
    /// each adds (warm-up + duration) per arm-round. Default: latency, or
    /// none when a command is given after `--` (then only the command runs).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub workload: Vec<WorkloadKind>,

    /// Periodic wakers in the latency mix. More wakers give more samples per
    /// second (better tails) but also add load that competes with the hogs.
    #[arg(long, default_value_t = 2)]
    pub wakers: usize,

    /// Waker period in µs, or a comma-separated list of periods: waker i
    /// sleeps list[i % len] (e.g. 1009,2017,2503,10007 with 4 wakers gives
    /// each its own period; one value gives all wakers the same). Keep every
    /// period off multiples of the tick (HZ=250: 4000 µs; HZ=1000: 1000 µs)
    /// so wakeups do not line up with tick-driven preemption, which would
    /// hide or exaggerate latency.
    #[arg(
        long,
        value_name = "US[,US...]",
        value_delimiter = ',',
        default_value = "2017",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub period_us: Vec<u64>,

    /// Busy burst each waker spins after waking, in µs, like an interactive
    /// task handling an event. Longer bursts load the CPUs more and make a
    /// period more likely to be missed.
    #[arg(long, value_name = "US", default_value_t = 50)]
    pub burst_us: u64,

    /// CPU hogs beside the wakers (default: number of CPUs). Fewer hogs than
    /// CPUs leaves idle CPUs, and the wakers then measure idle wakeup paths
    /// rather than preemption.
    #[arg(long)]
    pub hogs: Option<usize>,

    /// Messaging groups, each of --fds senders and --fds receivers. More
    /// groups mean more runnable threads competing for the CPUs. The default
    /// (4 x 10 x 10 x 100 = 40,000 messages per iteration) is lighter than
    /// hackbench's 10 groups of 20, so an iteration stays short even on a
    /// 2-vCPU emulated VM.
    #[arg(long, default_value_t = 4)]
    pub groups: usize,

    /// Senders and receivers per messaging group (hackbench: 20).
    #[arg(long, default_value_t = 10)]
    pub fds: usize,

    /// Messages each sender sends to each receiver of its group per iteration
    /// (hackbench: 100). More loops make one iteration longer and its
    /// completion time less sensitive to thread start-up.
    #[arg(long, default_value_t = 100)]
    pub loops: usize,

    /// schbench workload: message threads, each handing requests to
    /// --workers worker threads of its own (schbench's -m).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub message_threads: usize,

    /// schbench workload: workers per message thread (schbench's -t).
    /// Default: CPUs / --message-threads (at least 1), one worker per CPU.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,

    /// schbench workload: CPU time each request burns in its worker, µs.
    /// Longer requests load the CPUs more and leave the workers more time
    /// to be preempted.
    #[arg(long, value_name = "US", default_value_t = 200)]
    pub request_us: u64,

    /// One option for the scheduler of the arbor arm; repeat for more (e.g.
    /// `--arbor-arg=--model --arbor-arg=FILE`). Write `--arbor-arg=-x` for
    /// options that start with a dash.
    #[arg(long = "arbor-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub arbor_arg: Vec<String>,

    /// Scheduler options as one string, split at whitespace and appended after
    /// the --arbor-arg ones (e.g. --arbor-args "--model m.onnx"). Convenient,
    /// but arguments cannot contain spaces.
    #[arg(long = "arbor-args", value_name = "ARGS", allow_hyphen_values = true)]
    pub arbor_args: Option<String>,

    /// Arms to compare, comma-separated, each run once per round: eevdf,
    /// default (scx_arbor with the options above), nomodel (the same with
    /// --no-model) and learn (the same with --learn on, keeping what it
    /// learned across rounds in --learn-dir). Default: eevdf,default (and
    /// nomodel with --walk-cost). Every arm is compared with eevdf; default
    /// with nomodel and learn with default when both are present.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub arms: Vec<ArmKind>,

    /// Model directory of the learn arm. Each of its rounds starts
    /// `--learn on --model-dir DIR --resume`, so it resumes the newest
    /// generation the earlier rounds promoted (a directory that already holds
    /// generations gives a pre-trained start). Default: a new directory
    /// under the temporary directory, named after this process, kept after
    /// the run.
    #[arg(long, value_name = "DIR")]
    pub learn_dir: Option<PathBuf>,

    /// One more option for the learn arm only (after the scheduler options);
    /// repeat for more, e.g. --learn-arg=--sample-budget --learn-arg=0.
    #[arg(long = "learn-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub learn_arg: Vec<String>,

    /// Another sched_ext scheduler as one more arm, NAME=COMMAND: its binary
    /// and options separated by spaces, e.g.
    /// --arm 'bpfland=/usr/bin/scx_bpfland -s 20000'. Repeat for more. It is
    /// started, watched and stopped the same guarded way as scx_arbor (own
    /// process group, SIGINT then SIGKILL, waiting until sched_ext reports
    /// `disabled`), whatever ops name it attaches under, and compared with
    /// eevdf like every arm; its process CPU is reported, its BPF programs
    /// are not (--bpf-stats covers arbor's).
    #[arg(long = "arm", value_name = "NAME=COMMAND", value_parser = parse_external_arm)]
    pub external_arms: Vec<ExternalArm>,

    /// Add a third arm, arbor with --no-model (the constant fallback class),
    /// and report the tree walk's cost per BPF call as the difference in
    /// ns/call between the two arbor arms (implies --bpf-stats). Adds one arm
    /// to every round.
    #[arg(long)]
    pub walk_cost: bool,

    /// Measure the decision overhead: enable kernel.bpf_stats_enabled during
    /// the scheduler arms (restored afterwards) and report ns per call of each
    /// arbor_* struct_ops program. The accounting itself adds a few tens of ns
    /// per BPF call to the arbor arms only, which slightly favours EEVDF in
    /// the workload metrics.
    #[arg(long)]
    pub bpf_stats: bool,

    /// Write every round's raw figures (arm, round, order, metrics, latency
    /// percentiles and histogram, run delay, BPF counters) and the summary as
    /// JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Draw the wakeup-latency distributions of the arms (CDF and tail on log
    /// scales, all rounds pooled, and a strip of each round's median and
    /// p25–p75) as SVG to FILE. Without the latency workload the messaging
    /// iteration times, else the command's wall times, are drawn.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Seconds to wait for the scheduler to attach (and to detach after
    /// SIGINT) before giving up. Slow emulated VMs need more; a short value
    /// fails fast when the scheduler cannot load.
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub attach_timeout: f64,

    /// Append the command's stdout and stderr to FILE (default: discarded, so
    /// that its output does not mix with the progress line).
    #[arg(long, value_name = "FILE")]
    pub cmd_output: Option<PathBuf>,

    /// Command to run and time in every arm-round (after `--`). Its exit
    /// status is reported; a failing command does not stop the comparison.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Everything `run` takes from the machine, replaceable in tests.
#[derive(Clone, Debug)]
pub struct AbEnv {
    pub sysfs: ScxSysfs,
    pub sched_exe: PathBuf,
    pub sched_prefix_args: Vec<String>,
    pub ops_prefix: String,
    pub prog_prefix: String,
    pub bpf_stats_sysctl: PathBuf,
    /// Where scx_arbor serves its statistics (scx_stats).
    pub stats_socket: PathBuf,
    pub require_root: bool,
    pub install_signal_handler: bool,
    pub stop: Arc<AtomicBool>,
    /// Print the table and progress (tests turn this off).
    pub print: bool,
    /// How long an arm-round waits for the scheduler's statistics (they
    /// are served a moment after sched_ext reports the scheduler attached)
    /// before it goes on without the scheduler's counters.
    pub socket_wait: Duration,
}

impl AbEnv {
    pub fn system() -> Result<AbEnv> {
        Ok(AbEnv {
            sysfs: ScxSysfs::new(sysfs::SCX_SYSFS),
            sched_exe: arbor_util::sibling::sibling_binary(SCHEDULER)?,
            sched_prefix_args: SCHED_PREFIX_ARGS.iter().map(|s| s.to_string()).collect(),
            ops_prefix: OPS_PREFIX.into(),
            prog_prefix: PROG_PREFIX.into(),
            bpf_stats_sysctl: bpfstats::BPF_STATS_SYSCTL.into(),
            stats_socket: STATS_SOCKET.into(),
            require_root: true,
            install_signal_handler: true,
            stop: Arc::new(AtomicBool::new(false)),
            print: true,
            socket_wait: Duration::from_secs(5),
        })
    }
}

/// Entry point of `scx_arbor ab`.
pub fn run(args: AbArgs) -> Result<()> {
    let env = AbEnv::system()?;
    let out = run_with(&args, &env)?;
    if let Some(e) = out.error {
        bail!(e);
    }
    if out.interrupted {
        bail!("interrupted; the system is back on EEVDF");
    }
    Ok(())
}

/// One arm of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Arm {
    pub name: String,
    /// Scheduler options; None for the EEVDF baseline.
    pub sched_args: Option<Vec<String>>,
    /// The learn arm's model directory.
    pub model_dir: Option<PathBuf>,
    /// Another scheduler's binary (--arm); None for scx_arbor and EEVDF.
    pub exe: Option<PathBuf>,
}

/// Another sched_ext scheduler given with --arm NAME=COMMAND.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExternalArm {
    pub name: String,
    pub exe: PathBuf,
    pub args: Vec<String>,
}

/// Names the built-in arms take; an --arm may not reuse them.
const RESERVED_ARM_NAMES: [&str; 4] = [BASELINE, DEFAULT, NOMODEL, LEARN];

/// Parse --arm NAME=COMMAND.
fn parse_external_arm(s: &str) -> Result<ExternalArm, String> {
    let (name, cmd) = s.split_once('=').ok_or_else(|| {
        format!("{s:?}: expected NAME=COMMAND, e.g. bpfland=/usr/bin/scx_bpfland")
    })?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "arm name {name:?}: use letters, digits, '-', '_' and '.' only"
        ));
    }
    if RESERVED_ARM_NAMES.contains(&name) {
        return Err(format!(
            "arm name {name:?} is taken by a built-in arm ({})",
            RESERVED_ARM_NAMES.join(", ")
        ));
    }
    let mut words = cmd.split_whitespace().map(String::from);
    let exe = words
        .next()
        .ok_or_else(|| format!("--arm {name}: no command after '='"))?;
    Ok(ExternalArm {
        name: name.to_string(),
        exe: exe.into(),
        args: words.collect(),
    })
}

pub const BASELINE: &str = "eevdf";
/// Name of the arm with the user's scheduler options.
pub const DEFAULT: &str = "arbor";
/// Name of the arm with --no-model (--arms nomodel, or --walk-cost).
pub const NOMODEL: &str = "arbor-nomodel";
/// Name of the learning arm (--arms learn).
pub const LEARN: &str = "arbor-learn";

impl AbArgs {
    pub fn scheduler_args(&self) -> Vec<String> {
        let mut v = self.arbor_arg.clone();
        if let Some(s) = &self.arbor_args {
            v.extend(s.split_whitespace().map(String::from));
        }
        v
    }

    pub fn workloads(&self) -> Vec<WorkloadKind> {
        if self.workload.is_empty() && self.command.is_empty() {
            return vec![WorkloadKind::Latency];
        }
        // Each once, in the order first named (a workload named twice would
        // otherwise run twice and its second figures replace the first).
        let mut v: Vec<WorkloadKind> = Vec::new();
        for w in &self.workload {
            if !v.contains(w) {
                v.push(*w);
            }
        }
        v
    }

    /// The arms asked for (--arms, else eevdf, default and with --walk-cost
    /// nomodel), without duplicates, in the order given.
    pub fn arm_kinds(&self) -> Vec<ArmKind> {
        let mut kinds = if self.arms.is_empty() {
            vec![ArmKind::Eevdf, ArmKind::Default]
        } else {
            self.arms.clone()
        };
        if self.walk_cost && !kinds.contains(&ArmKind::Nomodel) {
            kinds.push(ArmKind::Nomodel);
        }
        let mut seen = Vec::new();
        kinds.retain(|k| {
            let new = !seen.contains(k);
            seen.push(*k);
            new
        });
        kinds
    }

    /// The learn arm's model directory (--learn-dir or the default).
    pub fn learn_dir(&self) -> PathBuf {
        self.learn_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("scx_arbor-ab-learn-{}", std::process::id()))
        })
    }

    pub fn arms(&self) -> Vec<Arm> {
        let sa = self.scheduler_args();
        self.arm_kinds()
            .into_iter()
            .map(|k| match k {
                ArmKind::Eevdf => Arm {
                    name: BASELINE.into(),
                    sched_args: None,
                    model_dir: None,
                    exe: None,
                },
                ArmKind::Default => Arm {
                    name: DEFAULT.into(),
                    sched_args: Some(sa.clone()),
                    model_dir: None,
                    exe: None,
                },
                ArmKind::Nomodel => Arm {
                    name: NOMODEL.into(),
                    sched_args: Some(no_model_args(&sa)),
                    model_dir: None,
                    exe: None,
                },
                ArmKind::Learn => Arm {
                    name: LEARN.into(),
                    sched_args: Some(learn_args(&sa, &self.learn_dir(), &self.learn_arg)),
                    model_dir: Some(self.learn_dir()),
                    exe: None,
                },
            })
            .chain(self.external_arms.iter().map(|x| Arm {
                name: x.name.clone(),
                sched_args: Some(x.args.clone()),
                model_dir: None,
                exe: Some(x.exe.clone()),
            }))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.duration > 0.0 && self.duration.is_finite(),
            "--duration must be > 0"
        );
        anyhow::ensure!(
            self.warmup >= 0.0 && self.warmup.is_finite(),
            "--warmup must be >= 0"
        );
        anyhow::ensure!(self.attach_timeout > 0.0, "--attach-timeout must be > 0");
        let kinds = self.arm_kinds();
        anyhow::ensure!(
            kinds.contains(&ArmKind::Eevdf),
            "--arms must include eevdf: every arm is compared with it"
        );
        anyhow::ensure!(
            kinds.len() + self.external_arms.len() >= 2,
            "--arms needs eevdf and at least one scheduler arm (scx_arbor's or --arm)"
        );
        for (i, x) in self.external_arms.iter().enumerate() {
            anyhow::ensure!(
                !self.external_arms[..i].iter().any(|y| y.name == x.name),
                "--arm {}: two arms have that name",
                x.name
            );
        }
        anyhow::ensure!(
            !self.walk_cost || kinds.contains(&ArmKind::Default),
            "--walk-cost compares the default arm with nomodel: add default to --arms"
        );
        if self.workloads().contains(&WorkloadKind::Latency) {
            anyhow::ensure!(
                !self.period_us.is_empty() && !self.period_us.contains(&0),
                "--period-us must be one or more periods > 0"
            );
            anyhow::ensure!(
                self.wakers > 0,
                "--wakers must be > 0 for the latency workload"
            );
        }
        if self.workloads().contains(&WorkloadKind::Messaging) {
            anyhow::ensure!(
                self.groups > 0 && self.fds > 0 && self.loops > 0,
                "--groups, --fds and --loops must be > 0"
            );
        }
        if self.workloads().contains(&WorkloadKind::Schbench) {
            anyhow::ensure!(
                self.message_threads > 0 && self.workers != Some(0) && self.request_us > 0,
                "--message-threads, --workers and --request-us must be > 0"
            );
        }
        Ok(())
    }
}

/// The user's scheduler options with any --model FILE removed and --no-model added.
pub fn no_model_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--model" {
            it.next();
        } else if a.starts_with("--model=") || a == "--no-model" {
        } else {
            out.push(a.clone());
        }
    }
    out.push("--no-model".into());
    out
}

/// The user's scheduler options with whatever sets learning, the model
/// directory or --resume removed, then `--learn on --model-dir DIR --resume`
/// and the learn arm's own options.
pub fn learn_args(args: &[String], dir: &std::path::Path, extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--learn" || a == "--model-dir" {
            it.next();
        } else if a.starts_with("--learn=") || a.starts_with("--model-dir=") || a == "--resume" {
        } else {
            out.push(a.clone());
        }
    }
    out.extend(["--learn".into(), "on".into(), "--model-dir".into()]);
    out.push(dir.display().to_string());
    out.push("--resume".into());
    out.extend(extra.iter().cloned());
    out
}

/// (round, slot, arm index) for every arm-round, in execution order.
pub fn schedule(
    n_arms: usize,
    rounds: usize,
    order: Order,
    seed: u64,
) -> Vec<(usize, usize, usize)> {
    let mut rng = arbor_util::rng::SplitMix64::new(seed ^ 0x0A0B_0C0D);
    let mut v = Vec::new();
    for r in 0..rounds {
        let mut arms: Vec<usize> = (0..n_arms).collect();
        match order {
            Order::Alternate => {}
            Order::Abba => {
                if r % 2 == 1 {
                    arms.reverse();
                }
            }
            Order::Random => rng.shuffle(&mut arms),
        }
        for (slot, a) in arms.into_iter().enumerate() {
            v.push((r, slot, a));
        }
    }
    v
}

/// What a run produced.
#[derive(Debug, Serialize)]
pub struct AbOutput {
    pub tool: &'static str,
    pub version: &'static str,
    pub kernel: String,
    pub nr_cpus: usize,
    pub started_unix_s: f64,
    pub finished_unix_s: f64,
    pub interrupted: bool,
    pub error: Option<String>,
    pub config: AbArgs,
    /// CPU hogs of the latency mix actually used (--hogs or the number of CPUs).
    pub hogs: usize,
    pub arms: Vec<Arm>,
    pub metric_defs: &'static [report::MetricDef],
    pub rounds: Vec<RoundRecord>,
    pub summary: Summary,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub fn nr_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Progress line on stderr (rewritten in place on a terminal, milestones only otherwise).
struct Progress {
    enabled: bool,
    tty: bool,
    last: Instant,
    prefix: String,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        // SAFETY: isatty on a plain fd.
        let tty = unsafe { libc::isatty(2) } == 1;
        Progress {
            enabled,
            tty,
            last: Instant::now() - Duration::from_secs(1),
            prefix: String::new(),
        }
    }

    fn update(&mut self, msg: &str) {
        if !self.enabled || !self.tty || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{} {}", self.prefix, msg);
        let _ = e.flush();
    }

    fn line(&mut self, msg: &str) {
        if !self.enabled {
            return;
        }
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[K");
        }
        let _ = writeln!(e, "{msg}");
    }
}

/// Run the comparison with the given environment; writes --json/--plot even
/// after an error or interruption (with what was measured), then returns.
pub fn run_with(args: &AbArgs, env: &AbEnv) -> Result<AbOutput> {
    args.validate()?;
    if env.require_root {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            bail!("scx_arbor ab must run as root (it attaches and detaches a sched_ext scheduler)");
        }
    }
    env.sysfs.ensure_idle()?;
    if env.install_signal_handler {
        let stop = env.stop.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                eprintln!("\nscx_arbor ab: second interrupt; still restoring EEVDF, please wait");
            } else {
                eprintln!("\nscx_arbor ab: interrupted; stopping the round and restoring EEVDF");
            }
        }) {
            log::warn!("could not install the Ctrl-C handler ({e}); Ctrl-C will end the round only at its end");
        }
    }

    let arms = args.arms();
    let workloads = args.workloads();
    let rounds = args.rounds as usize;
    let plan = schedule(arms.len(), rounds, args.order, args.seed);
    let bpf_stats = args.bpf_stats || args.walk_cost;
    let hogs = args.hogs.unwrap_or_else(nr_cpus);
    let mut progress = Progress::new(env.print);
    let started = unix_now();
    let mut records: Vec<RoundRecord> = Vec::new();
    let mut error: Option<String> = None;

    let per_arm_s = (workloads.len() + usize::from(!args.command.is_empty())) as f64
        * (args.warmup + args.duration);
    progress.line(&format!(
        "scx_arbor ab: {} rounds x {} arms ({}), workloads: {}{}; ~{:.0} s of workload time",
        rounds,
        arms.len(),
        arms.iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if workloads.is_empty() {
            "none".to_string()
        } else {
            workloads
                .iter()
                .map(|w| format!("{w:?}").to_lowercase())
                .collect::<Vec<_>>()
                .join(",")
        },
        if args.command.is_empty() {
            String::new()
        } else {
            format!(" + command {:?}", args.command)
        },
        per_arm_s * plan.len() as f64
    ));

    for (seq, &(round, slot, ai)) in plan.iter().enumerate() {
        if env.stop.load(Ordering::SeqCst) {
            break;
        }
        let arm = &arms[ai];
        progress.prefix = format!(
            "[{}/{}] round {}/{} {}:",
            seq + 1,
            plan.len(),
            round + 1,
            rounds,
            arm.name
        );
        match run_arm_round(args, env, arm, &workloads, hogs, bpf_stats, &mut progress) {
            Ok(mut rec) => {
                rec.round = round + 1;
                rec.slot = slot + 1;
                rec.order = seq + 1;
                progress.line(&format!("{} {}", progress.prefix, round_brief(&rec)));
                if env.stop.load(Ordering::SeqCst) {
                    // An interrupted arm-round is incomplete: keep it out of the statistics.
                    break;
                }
                records.push(rec);
            }
            Err(e) => {
                progress.line(&format!("{} failed: {e:#}", progress.prefix));
                error = Some(format!("round {} arm {}: {e:#}", round + 1, arm.name));
                break;
            }
        }
    }
    // Whatever happened above, no scheduler child is alive (guards); make sure of the state.
    if !env.sysfs.is_disabled() && env.sysfs.is_attached(&env.ops_prefix) {
        let msg = "sched_ext still shows scx_arbor attached after the run";
        error.get_or_insert_with(|| msg.to_string());
    } else if !args.external_arms.is_empty() && !env.sysfs.is_disabled() {
        let msg = format!(
            "sched_ext still shows a scheduler ({:?}) attached after the run",
            env.sysfs.ops()
        );
        error.get_or_insert(msg);
    }
    let interrupted = env.stop.load(Ordering::SeqCst);

    let summary = summarize(args, &arms, &records);
    let out = AbOutput {
        tool: "scx_arbor ab",
        version: env!("CARGO_PKG_VERSION"),
        kernel: arbor_util::kernel_release().unwrap_or_default(),
        nr_cpus: nr_cpus(),
        started_unix_s: started,
        finished_unix_s: unix_now(),
        interrupted,
        error,
        config: args.clone(),
        hogs,
        arms: arms.clone(),
        metric_defs: report::METRICS,
        rounds: records,
        summary,
    };

    if env.print {
        let header = format!(
            "\nscx_arbor ab: {} of {} arm-rounds done, {} s per workload after {} s warm-up, order {:?}, kernel {}, {} CPUs{}",
            out.rounds.len(),
            plan.len(),
            args.duration,
            args.warmup,
            args.order,
            out.kernel,
            out.nr_cpus,
            if interrupted { " (INTERRUPTED)" } else { "" }
        );
        print!("{}", report::table(&out.summary, &out.rounds, &header));
        let _ = std::io::stdout().flush();
    }
    if let Some(p) = &args.json {
        report::write_json(p, &out)?;
        progress.line(&format!("wrote {}", p.display()));
    }
    if let Some(p) = &args.plot {
        let (title, unit, arms) = plot_series(&out);
        match plot::write_svg(p, &title, unit, &arms) {
            Ok(()) => progress.line(&format!("wrote {}", p.display())),
            Err(e) => progress.line(&format!("no plot written: {e:#}")),
        }
    }
    Ok(out)
}

fn round_brief(r: &RoundRecord) -> String {
    let mut parts = Vec::new();
    let g = |k: &str| r.metrics.get(k).copied().unwrap_or(f64::NAN);
    if r.latency.is_some() {
        parts.push(format!(
            "lat p50 {:.0} µs p99 {:.0} µs max {:.0} µs, hogs {:.0} units/s",
            g("lat_p50_us"),
            g("lat_p99_us"),
            g("lat_max_us"),
            g("hog_units_per_s")
        ));
    }
    if r.schbench.is_some() {
        parts.push(format!(
            "sch wakeup p99 {:.0} µs request p99 {:.0} µs {:.0} req/s",
            g("sch_wakeup_p99_us"),
            g("sch_request_p99_us"),
            g("sch_requests_per_s")
        ));
    }
    if r.messaging.is_some() {
        parts.push(format!(
            "msg {:.1} ms/iter {:.0} msg/s",
            g("msg_time_ms"),
            g("msg_per_s")
        ));
    }
    if let Some(c) = &r.command {
        parts.push(format!("cmd {:.2} s {}", c.result.wall_s, c.status));
    }
    if let Some(a) = r.attach_s {
        parts.push(format!("attach {:.2} s", a));
    }
    parts.join("; ")
}

/// One arm in one round.
fn run_arm_round(
    args: &AbArgs,
    env: &AbEnv,
    arm: &Arm,
    workloads: &[WorkloadKind],
    hogs: usize,
    bpf_stats: bool,
    progress: &mut Progress,
) -> Result<RoundRecord> {
    let warmup = Duration::from_secs_f64(args.warmup);
    let duration = Duration::from_secs_f64(args.duration);
    let stop = &*env.stop;
    let mut rec = RoundRecord {
        arm: arm.name.clone(),
        round: 0,
        order: 0,
        slot: 0,
        started_unix_s: unix_now(),
        attach_s: None,
        metrics: BTreeMap::new(),
        latency: None,
        messaging: None,
        schbench: None,
        command: None,
        bpf_stats: Vec::new(),
        scheduler: None,
        learn: None,
        latency_samples_ns: Vec::new(),
    };
    let promoted_before = match &arm.model_dir {
        Some(dir) => Some(promoted_generations(dir)?),
        None => None,
    };

    // Guards are declared in this order so that they drop in reverse: the
    // scheduler stops first, then bpf_stats_enabled is restored.
    let mut _bpf_guard: Option<RestoreFile> = None;
    let mut sched: Option<RunningSched> = None;
    if let Some(sa) = &arm.sched_args {
        if bpf_stats {
            _bpf_guard = Some(
                RestoreFile::set(&env.bpf_stats_sysctl, "1")
                    .context("enabling BPF run-time stats")?,
            );
        }
        progress.update("starting scheduler");
        // Another scheduler (--arm) runs as given and may attach under any
        // ops name.
        let (exe, prefix_args, ops_prefix) = match &arm.exe {
            Some(exe) => (exe.clone(), vec![], String::new()),
            None => (
                env.sched_exe.clone(),
                env.sched_prefix_args.clone(),
                env.ops_prefix.clone(),
            ),
        };
        let launch = SchedLaunch {
            exe,
            prefix_args,
            args: sa.clone(),
            ops_prefix,
            attach_timeout: Duration::from_secs_f64(args.attach_timeout),
            stop_timeout: Duration::from_secs_f64(args.attach_timeout),
            interrupt: Some(env.stop.clone()),
        };
        let s = RunningSched::start(&env.sysfs, &launch)?;
        rec.attach_s = Some(s.attach_time.as_secs_f64());
        sched = Some(s);
    } else {
        env.sysfs
            .ensure_idle()
            .context("baseline arm must run without a sched_ext scheduler")?;
    }
    // arbor's BPF programs and control socket; another scheduler has neither.
    let arbor = sched.is_some() && arm.exe.is_none();
    let bpf_before = if bpf_stats && arbor {
        bpfstats::snapshot(&env.prog_prefix)
    } else {
        vec![]
    };
    let watch = sched.as_ref().and_then(|s| s.pid()).map(|pid| {
        let stats = arbor.then_some(env.stats_socket.as_path());
        SchedWatch::start(pid, stats, env.socket_wait, stop)
    });

    let mut upd = |m: String| progress.update(&m);
    for w in workloads {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match w {
            WorkloadKind::Latency => {
                let cfg = latency::LatencyConfig {
                    wakers: args.wakers,
                    period_us: args.period_us.clone(),
                    burst_us: args.burst_us,
                    hogs,
                };
                let r = latency::run(&cfg, warmup, duration, stop, &mut upd)?;
                let s = latency::summarize(&r.samples_ns);
                let m = &mut rec.metrics;
                m.insert("lat_p50_us".into(), s.p50_us);
                m.insert("lat_p99_us".into(), s.p99_us);
                m.insert("lat_p999_us".into(), s.p999_us);
                m.insert("lat_max_us".into(), s.max_us);
                m.insert("lat_mean_us".into(), s.mean_us);
                m.insert("hog_units_per_s".into(), r.hog_units_per_s());
                m.insert(
                    "lat_waker_rundelay_us_per_run".into(),
                    r.rundelay_wakers.us_per_run(),
                );
                m.insert("lat_rundelay_us_per_run".into(), r.rundelay.us_per_run());
                m.insert(
                    "lat_rundelay_ms_per_task_s".into(),
                    r.rundelay.ms_per_task_s(),
                );
                rec.latency = Some(LatencyJson {
                    config: cfg,
                    measured_s: r.measured_s,
                    percentiles: s,
                    missed_periods: r.missed,
                    per_waker: r.per_waker.clone(),
                    hog_units: r.hog_units,
                    hog_units_per_s: r.hog_units_per_s(),
                    histogram: latency::histogram(&r.samples_ns),
                    rundelay: r.rundelay.clone(),
                    rundelay_wakers: r.rundelay_wakers.clone(),
                });
                rec.latency_samples_ns = r.samples_ns;
            }
            WorkloadKind::Schbench => {
                let cfg = schbench::SchbenchConfig {
                    message_threads: args.message_threads,
                    workers: args
                        .workers
                        .unwrap_or_else(|| (*scx_utils::NR_CPU_IDS / args.message_threads).max(1)),
                    request_us: args.request_us,
                };
                let r = schbench::run(&cfg, warmup, duration, stop, &mut upd)?;
                let (w, q) = (r.wakeup(), r.request());
                let m = &mut rec.metrics;
                m.insert("sch_wakeup_p50_us".into(), w.p50_us);
                m.insert("sch_wakeup_p90_us".into(), w.p90_us);
                m.insert("sch_wakeup_p99_us".into(), w.p99_us);
                m.insert("sch_wakeup_p999_us".into(), w.p999_us);
                m.insert("sch_request_p50_us".into(), q.p50_us);
                m.insert("sch_request_p90_us".into(), q.p90_us);
                m.insert("sch_request_p99_us".into(), q.p99_us);
                m.insert("sch_request_p999_us".into(), q.p999_us);
                m.insert("sch_requests_per_s".into(), r.requests_per_s());
                m.insert("sch_rundelay_us_per_run".into(), r.rundelay.us_per_run());
                rec.schbench = Some(SchbenchJson {
                    config: cfg,
                    measured_s: r.measured_s,
                    requests: r.request_ns.len() as u64,
                    requests_per_s: r.requests_per_s(),
                    wakeup: w,
                    request: q,
                    rundelay: r.rundelay,
                });
            }
            WorkloadKind::Messaging => {
                let cfg = messaging::MessagingConfig {
                    groups: args.groups,
                    fds: args.fds,
                    loops: args.loops,
                };
                let r = messaging::run(&cfg, warmup, duration, stop, &mut upd)?;
                let m = &mut rec.metrics;
                m.insert("msg_time_ms".into(), r.median_time_ms());
                m.insert("msg_per_s".into(), r.messages_per_s());
                m.insert("msg_rundelay_us_per_run".into(), r.rundelay.us_per_run());
                m.insert(
                    "msg_rundelay_ms_per_task_s".into(),
                    r.rundelay.ms_per_task_s(),
                );
                rec.messaging = Some(MessagingJson {
                    config: cfg,
                    median_time_ms: r.median_time_ms(),
                    messages_per_s: r.messages_per_s(),
                    iterations_s: r.iterations_s,
                    messages: r.messages,
                    rundelay: r.rundelay,
                });
            }
        }
        if let Some(s) = sched.as_mut() {
            s.check_alive()?;
        }
    }
    if !args.command.is_empty() && !stop.load(Ordering::SeqCst) {
        // Warm-up for a command: let the freshly attached scheduler settle.
        let t0 = Instant::now();
        while t0.elapsed() < warmup && !stop.load(Ordering::SeqCst) {
            upd(format!(
                "command warm-up {:.1}/{:.1} s",
                t0.elapsed().as_secs_f64(),
                args.warmup
            ));
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = command::run(&args.command, args.cmd_output.as_ref(), stop, &mut upd)?;
        rec.metrics.insert("cmd_wall_s".into(), r.wall_s);
        rec.metrics
            .insert("cmd_rundelay_us_per_run".into(), r.rundelay.us_per_run());
        rec.metrics.insert(
            "cmd_rundelay_ms_per_task_s".into(),
            r.rundelay.ms_per_task_s(),
        );
        rec.command = Some(CommandJson {
            status: r.status_text(),
            rundelay: r.rundelay.clone(),
            result: r,
        });
        if let Some(s) = sched.as_mut() {
            s.check_alive()?;
        }
    }
    if bpf_stats && arbor {
        rec.bpf_stats = bpfstats::delta(&bpf_before, &bpfstats::snapshot(&env.prog_prefix));
    }
    if let Some(w) = watch {
        let j = w.finish();
        rec.metrics.insert("sched_cpu_pct".into(), j.cpu_pct);
        if let Some(score) = j.model_score {
            rec.metrics.insert("model_score".into(), score);
        }
        if let Some(b) = j.model_balanced_accuracy {
            rec.metrics.insert("model_balanced_acc_pct".into(), b);
        }
        if let Some(ns) = bpf_ns_per_decision(&rec.bpf_stats, j.decisions) {
            rec.metrics.insert("bpf_ns_per_decision".into(), ns);
        }
        rec.scheduler = Some(j);
    }
    if let Some(s) = sched.take() {
        progress.update("stopping scheduler");
        s.stop()?;
        if let (Some(before), Some(dir)) = (&promoted_before, &arm.model_dir) {
            let after = promoted_generations(dir)?;
            rec.learn = Some(report::LearnRoundJson {
                model_dir: dir.display().to_string(),
                resumed_generation: before.last().copied(),
                newest_generation: after.last().copied(),
                promoted: after.iter().filter(|g| !before.contains(g)).count() as u64,
            });
        }
    } else {
        env.sysfs.ensure_idle().context(
            "a sched_ext scheduler attached during the baseline arm; its figures are void",
        )?;
    }
    Ok(rec)
}

/// Run time of every BPF program of the scheduler over the decisions it
/// made meanwhile: what a decision costs in BPF, sampling included (None
/// without BPF stats or decisions).
pub fn bpf_ns_per_decision(progs: &[bpfstats::ProgStat], decisions: u64) -> Option<f64> {
    let ns: u64 = progs.iter().map(|p| p.run_time_ns).sum();
    (decisions > 0 && !progs.is_empty()).then(|| ns as f64 / decisions as f64)
}

/// Promoted generations in a model directory, oldest first, from their
/// lineage files (`gen-NNNNNN.json`, whose format README "Learning"
/// documents): what the learn arm's scheduler promoted.
fn promoted_generations(dir: &std::path::Path) -> Result<Vec<u64>> {
    #[derive(serde::Deserialize)]
    struct Lineage {
        generation: u64,
        promoted: bool,
    }
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("listing {}", dir.display())),
    };
    for entry in entries {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let Some(number) = name
            .strip_prefix("gen-")
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            continue; // gen-NNNNNN.live.json: the live score, not a lineage
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let lineage: Lineage = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a lineage record", path.display()))?;
        if lineage.promoted {
            out.push(lineage.generation);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The scheduler process's CPU time, and for scx_arbor its statistics,
/// from the start of a round's workloads to their end.
struct SchedWatch {
    pid: u32,
    cpu: Option<arbor_util::proc_cpu::CpuReading>,
    /// A connection to scx_arbor's scx_stats server, which has answered
    /// once (the totals): its next answer is what happened since. None for
    /// another scheduler, or when the server did not answer in time.
    stats: Option<scx_stats::prelude::StatsClient>,
}

/// Connect to the scx_stats server at `path` and take its first reading.
fn stats_connection(path: &std::path::Path) -> Option<scx_stats::prelude::StatsClient> {
    let mut client = scx_stats::prelude::StatsClient::new()
        .set_path(path)
        .connect(Some(2000))
        .ok()?;
    client
        .request::<arbor_proto::metrics::Metrics>("stats", vec![])
        .ok()?;
    Some(client)
}

impl SchedWatch {
    /// The scheduler serves its statistics a moment after sched_ext
    /// reports it attached: wait up to `wait` for them.
    fn start(
        pid: u32,
        stats: Option<&std::path::Path>,
        wait: Duration,
        stop: &AtomicBool,
    ) -> SchedWatch {
        let t0 = Instant::now();
        let stats = stats.and_then(|path| loop {
            match stats_connection(path) {
                Some(c) => break Some(c),
                None if t0.elapsed() < wait && !stop.load(Ordering::SeqCst) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                None => break None,
            }
        });
        SchedWatch {
            cpu: arbor_util::proc_cpu::read(&pid.to_string()).ok(),
            stats,
            pid,
        }
    }

    fn finish(self) -> report::SchedulerJson {
        let cpu_pct = match (self.cpu, arbor_util::proc_cpu::read(&self.pid.to_string())) {
            (Some(a), Ok(b)) => b.percent_since(&a),
            _ => f64::NAN,
        };
        let mut j = report::SchedulerJson {
            cpu_pct,
            ..Default::default()
        };
        let reading = self.stats.and_then(|mut c| {
            c.request::<arbor_proto::metrics::Metrics>("stats", vec![])
                .ok()
        });
        if let Some(d) = reading {
            let scored = d.model_outcomes > 0;
            j.model_score = scored.then_some(d.model_score);
            j.model_balanced_accuracy = scored.then_some(d.model_balanced_accuracy_pct);
            j.model_outcomes = d.model_outcomes;
            j.decisions = d.decisions;
            j.samples_sent = d.samples_sent;
            j.samples_throttled = d.samples_throttled;
            j.installed_generation = (d.installed_generation > 0).then_some(d.installed_generation);
        }
        j
    }
}

/// Statistics over all completed rounds.
pub fn summarize(args: &AbArgs, arms: &[Arm], records: &[RoundRecord]) -> Summary {
    let mut s = Summary {
        baseline: BASELINE.into(),
        ..Default::default()
    };
    let values = |arm: &str, key: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| r.arm == arm)
            .filter_map(|r| r.metrics.get(key).copied())
            .filter(|v| v.is_finite())
            .collect()
    };
    let mut min_p_note = None;
    for arm in arms.iter().filter(|a| a.name != BASELINE) {
        for (i, def) in report::METRICS.iter().enumerate() {
            let base = values(BASELINE, def.key);
            let a = values(&arm.name, def.key);
            // The scheduler's own figures (CPU, model score) have no EEVDF
            // side; they are in `scheduler` and the arm-pair tables.
            if base.is_empty() {
                continue;
            }
            let seed = args.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let cmp = stats::compare(&base, &a, def.better, seed);
            if cmp.min_p >= stats::ALPHA
                && min_p_note.is_none()
                && cmp.n_baseline > 0
                && cmp.n_arm > 0
            {
                min_p_note = Some(format!(
                    "with {} vs {} rounds the smallest attainable p is {:.3} >= {}: no verdict can be significant; use --rounds 5 or more",
                    cmp.n_baseline, cmp.n_arm, cmp.min_p, stats::ALPHA
                ));
            }
            s.comparisons.push(MetricComparison {
                metric: def.key.into(),
                label: def.label.into(),
                unit: def.unit.into(),
                baseline: BASELINE.into(),
                arm: arm.name.clone(),
                cmp,
            });
        }
    }
    s.notes.extend(min_p_note);
    // Pairs of scx_arbor arms: what the model changes, what learning changes.
    let has = |n: &str| arms.iter().any(|a| a.name == n);
    let pair = |base: &str, arm: &str, salt: u64| -> Vec<MetricComparison> {
        let mut v = Vec::new();
        for (i, def) in report::METRICS.iter().enumerate() {
            let b = values(base, def.key);
            let a = values(arm, def.key);
            if b.is_empty() && a.is_empty() {
                continue;
            }
            let seed = args.seed ^ (i as u64 + salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            v.push(MetricComparison {
                metric: def.key.into(),
                label: def.label.into(),
                unit: def.unit.into(),
                baseline: base.into(),
                arm: arm.into(),
                cmp: stats::compare(&b, &a, def.better, seed),
            });
        }
        v
    };
    if has(NOMODEL) && has(DEFAULT) {
        s.model_vs_nomodel = pair(NOMODEL, DEFAULT, 101);
    }
    if has(LEARN) && has(DEFAULT) {
        s.learn_vs_default = pair(DEFAULT, LEARN, 201);
    }
    for arm in arms.iter().filter(|a| a.sched_args.is_some()) {
        let med = |key: &str| {
            let v = values(&arm.name, key);
            (!v.is_empty()).then(|| stats::median(&v))
        };
        let n = records.iter().filter(|r| r.arm == arm.name).count();
        if n > 0 {
            s.scheduler.push(report::SchedulerSummary {
                arm: arm.name.clone(),
                rounds: n,
                cpu_pct: med("sched_cpu_pct"),
                model_score: med("model_score"),
                model_balanced_acc_pct: med("model_balanced_acc_pct"),
            });
        }
    }
    s.learn_rounds = records
        .iter()
        .filter_map(|r| {
            r.learn.as_ref().map(|l| report::LearnRound {
                round: r.round,
                info: l.clone(),
            })
        })
        .collect();
    for arm in arms {
        let samples: Vec<u64> = records
            .iter()
            .filter(|r| r.arm == arm.name)
            .flat_map(|r| r.latency_samples_ns.iter().copied())
            .collect();
        if !samples.is_empty() {
            s.latency_pooled
                .insert(arm.name.clone(), latency::summarize(&samples));
        }
    }
    // Decision overhead per program and arm.
    let mut per_round: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for arm in arms.iter().filter(|a| a.sched_args.is_some()) {
        let rs: Vec<&RoundRecord> = records.iter().filter(|r| r.arm == arm.name).collect();
        let tot = bpfstats::totals(rs.iter().flat_map(|r| r.bpf_stats.iter()));
        for (name, t) in tot {
            let pr: Vec<f64> = rs
                .iter()
                .map(|r| {
                    bpfstats::totals(r.bpf_stats.iter())
                        .get(&name)
                        .map(|p| p.avg_ns())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            per_round.insert((arm.name.clone(), name.clone()), pr.clone());
            s.bpf.push(report::BpfProgSummary {
                arm: arm.name.clone(),
                name,
                run_cnt: t.run_cnt,
                run_time_ns: t.run_time_ns,
                avg_ns: t.avg_ns(),
                per_round_avg_ns: pr,
            });
        }
    }
    // Learning's cost per BPF call: the learn arm against the default arm.
    for c in extra_cost_per_program(&s.bpf, &per_round, LEARN, DEFAULT, args.seed ^ 0x1ea7) {
        s.learn_cost.push(report::LearnCost {
            name: c.name,
            avg_ns_learn: c.avg_ns_arm,
            avg_ns_default: c.avg_ns_base,
            extra_ns: c.avg_ns_arm - c.avg_ns_base,
            cmp: c.cmp,
        });
    }
    if args.walk_cost {
        for c in extra_cost_per_program(&s.bpf, &per_round, DEFAULT, NOMODEL, args.seed ^ 0x77) {
            s.walk_cost.push(report::WalkCost {
                name: c.name,
                avg_ns_model: c.avg_ns_arm,
                avg_ns_no_model: c.avg_ns_base,
                walk_ns: c.avg_ns_arm - c.avg_ns_base,
                cmp: c.cmp,
            });
        }
        if s.walk_cost.is_empty() {
            s.notes.push("--walk-cost: no BPF program counters were collected (are the arbor_* struct_ops programs loaded, and bpf_stats_enabled writable?)".into());
        }
    }
    s.failed_commands = records
        .iter()
        .filter(|r| {
            r.command
                .as_ref()
                .map(|c| !c.result.success)
                .unwrap_or(false)
        })
        .count();
    if s.failed_commands > 0 {
        s.notes.push(format!(
            "the command failed in {} arm-rounds (see the exit statuses)",
            s.failed_commands
        ));
    }
    s
}

/// One BPF program's ns/call in `arm` against `base`: the means over all
/// rounds and the per-round comparison (lower is better).
struct ExtraCost {
    name: String,
    avg_ns_arm: f64,
    avg_ns_base: f64,
    cmp: stats::Comparison,
}

/// [`ExtraCost`] of every program that both arms ran.
fn extra_cost_per_program(
    bpf: &[report::BpfProgSummary],
    per_round: &BTreeMap<(String, String), Vec<f64>>,
    arm: &str,
    base: &str,
    seed: u64,
) -> Vec<ExtraCost> {
    bpf.iter()
        .filter(|a| a.arm == arm)
        .filter_map(|a| {
            let b = bpf.iter().find(|x| x.arm == base && x.name == a.name)?;
            let of = |arm: &str| per_round.get(&(arm.to_string(), a.name.clone()));
            Some(ExtraCost {
                name: a.name.clone(),
                avg_ns_arm: a.avg_ns,
                avg_ns_base: b.avg_ns,
                cmp: stats::compare(of(base)?, of(arm)?, stats::Better::Lower, seed),
            })
        })
        .collect()
}

/// What --plot draws, per arm and round: latency if measured, else messaging
/// iterations, else command wall times.
fn plot_series(out: &AbOutput) -> (String, &'static str, Vec<plot::PlotArm>) {
    let by_arm = |f: &dyn Fn(&RoundRecord) -> Vec<f64>| -> Vec<plot::PlotArm> {
        out.arms
            .iter()
            .map(|a| plot::PlotArm {
                name: a.name.clone(),
                rounds: out
                    .rounds
                    .iter()
                    .filter(|r| r.arm == a.name)
                    .map(|r| (r.round, f(r)))
                    .filter(|(_, v)| !v.is_empty())
                    .collect(),
            })
            .filter(|a| !a.rounds.is_empty())
            .collect()
    };
    let lat = by_arm(&|r| {
        r.latency_samples_ns
            .iter()
            .map(|&n| n as f64 / 1e3)
            .collect()
    });
    if !lat.is_empty() {
        return ("scx_arbor ab: wakeup latency".into(), "µs", lat);
    }
    let msg = by_arm(&|r| {
        r.messaging
            .as_ref()
            .map(|m| m.iterations_s.iter().map(|s| s * 1e3).collect())
            .unwrap_or_default()
    });
    if !msg.is_empty() {
        return ("scx_arbor ab: messaging iteration time".into(), "ms", msg);
    }
    let cmd = by_arm(&|r| {
        r.command
            .as_ref()
            .map(|c| vec![c.result.wall_s])
            .unwrap_or_default()
    });
    ("scx_arbor ab: command wall time".into(), "s", cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ab: AbArgs,
    }

    fn parse(a: &[&str]) -> AbArgs {
        Cli::try_parse_from(std::iter::once("ab").chain(a.iter().copied()))
            .unwrap()
            .ab
    }

    #[test]
    fn cli_defaults_and_options() {
        let a = parse(&[]);
        assert_eq!(a.rounds, 5);
        assert_eq!(a.period_us, vec![2017]);
        assert_eq!(a.workloads(), vec![WorkloadKind::Latency]);
        assert_eq!(a.arms().len(), 2);
        let a = parse(&[
            "--rounds",
            "2",
            "--duration",
            "3",
            "--workload",
            "latency,messaging",
            "--arbor-arg=--model",
            "--arbor-arg",
            "m.onnx",
            "--arbor-args",
            "-v --foo",
            "--walk-cost",
            "--order",
            "random",
        ]);
        assert_eq!(
            a.workloads(),
            vec![WorkloadKind::Latency, WorkloadKind::Messaging]
        );
        assert_eq!(a.scheduler_args(), vec!["--model", "m.onnx", "-v", "--foo"]);
        let arms = a.arms();
        assert_eq!(arms.len(), 3);
        assert_eq!(
            arms[2].sched_args.as_ref().unwrap(),
            &vec!["-v", "--foo", "--no-model"]
        );
        let a = parse(&["--arbor-arg", "--no-model", "--arbor-arg", "-v"]);
        assert_eq!(a.scheduler_args(), vec!["--no-model", "-v"]);
        let a = parse(&["--", "make", "-j2"]);
        assert_eq!(a.command, vec!["make", "-j2"]);
        assert!(a.workloads().is_empty());
        let a = parse(&["--workload", "messaging", "--", "true"]);
        assert_eq!(a.workloads(), vec![WorkloadKind::Messaging]);
        assert!(Cli::try_parse_from(["ab", "--rounds", "0"]).is_err());
    }

    #[test]
    fn period_list() {
        assert_eq!(parse(&["--period-us", "1009"]).period_us, vec![1009]);
        let a = parse(&["--period-us", "1009,2017,2503,10007", "--wakers", "4"]);
        assert_eq!(a.period_us, vec![1009, 2017, 2503, 10007]);
        a.validate().unwrap();
        assert_eq!(
            parse(&["--period-us", "1009", "--period-us", "2503"]).period_us,
            vec![1009, 2503]
        );
        for bad in ["0", "1009,0", "", "1009,,2017", "2017,x", "-5"] {
            assert!(
                Cli::try_parse_from(["ab", "--period-us", bad]).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn schbench_options() {
        let a = parse(&["--workload", "schbench"]);
        assert_eq!(a.workloads(), vec![WorkloadKind::Schbench]);
        assert_eq!((a.message_threads, a.workers, a.request_us), (2, None, 200));
        a.validate().unwrap();
        let a = parse(&[
            "--workload",
            "schbench",
            "--message-threads",
            "4",
            "--workers",
            "3",
            "--request-us",
            "50",
        ]);
        assert_eq!(
            (a.message_threads, a.workers, a.request_us),
            (4, Some(3), 50)
        );
        for bad in [
            ["--workers", "0"],
            ["--request-us", "0"],
            ["--message-threads", "0"],
        ] {
            let mut v = vec!["--workload", "schbench"];
            v.extend(bad);
            assert!(parse(&v).validate().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn other_scheduler_arms() {
        let a = parse(&[
            "--arm",
            "bpfland=/usr/bin/scx_bpfland -s 20000",
            "--arm=cosmos=/bin/scx_cosmos",
        ]);
        a.validate().unwrap();
        let arms = a.arms();
        let names: Vec<&str> = arms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["eevdf", "arbor", "bpfland", "cosmos"]);
        assert_eq!(arms[2].exe, Some(PathBuf::from("/usr/bin/scx_bpfland")));
        assert_eq!(arms[2].sched_args, Some(vec!["-s".into(), "20000".into()]));
        assert_eq!(arms[3].sched_args, Some(vec![]));
        assert_eq!(arms[1].exe, None);
        // eevdf against another scheduler only
        parse(&["--arms", "eevdf", "--arm", "x=/bin/x"])
            .validate()
            .unwrap();
        assert!(parse(&["--arms", "eevdf"]).validate().is_err());
        assert!(parse(&["--arm", "x=/a", "--arm", "x=/b"])
            .validate()
            .is_err());
        for bad in [
            "nocommand",
            "=/bin/x",
            "x=",
            "x=  ",
            "arbor=/bin/x",
            "eevdf=/x",
            "a b=/x",
        ] {
            assert!(parse_external_arm(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arms_option() {
        let names = |a: &AbArgs| a.arms().into_iter().map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(names(&parse(&[])), ["eevdf", "arbor"]);
        assert_eq!(
            names(&parse(&["--walk-cost"])),
            ["eevdf", "arbor", "arbor-nomodel"]
        );
        let a = parse(&["--arms", "eevdf,learn,default,learn", "--learn-dir", "/d"]);
        assert_eq!(names(&a), ["eevdf", "arbor-learn", "arbor"]);
        assert_eq!(a.arms()[1].model_dir, Some(PathBuf::from("/d")));
        a.validate().unwrap();
        assert!(parse(&["--arms", "default"]).validate().is_err());
        assert!(parse(&["--arms", "eevdf"]).validate().is_err());
        assert!(Cli::try_parse_from(["ab", "--arms", "eevdf,cfs"]).is_err());
    }

    #[test]
    fn learn_args_replace_learning_options() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let d = std::path::Path::new("/m");
        assert_eq!(
            learn_args(
                &v(&[
                    "--learn",
                    "shadow",
                    "-v",
                    "--model-dir=/x",
                    "--resume",
                    "--model",
                    "a"
                ]),
                d,
                &v(&["--sample-budget", "0"])
            ),
            v(&[
                "-v",
                "--model",
                "a",
                "--learn",
                "on",
                "--model-dir",
                "/m",
                "--resume",
                "--sample-budget",
                "0"
            ])
        );
    }

    #[test]
    fn bpf_time_per_decision_sums_every_program() {
        let p = |name: &str, cnt: u64, ns: u64| bpfstats::ProgStat {
            id: 1,
            name: name.into(),
            run_cnt: cnt,
            run_time_ns: ns,
        };
        let progs = [
            p("arbor_select_cpu", 10, 3000),
            p("arbor_quiescent", 12, 1000),
        ];
        assert_eq!(bpf_ns_per_decision(&progs, 8), Some(500.0));
        assert_eq!(bpf_ns_per_decision(&progs, 0), None);
        assert_eq!(bpf_ns_per_decision(&[], 8), None);
    }

    #[test]
    fn no_model_args_strips_model() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            no_model_args(&v(&["--model", "a", "-x"])),
            v(&["-x", "--no-model"])
        );
        assert_eq!(
            no_model_args(&v(&["--model=a", "--no-model"])),
            v(&["--no-model"])
        );
    }

    #[test]
    fn a_workload_named_twice_runs_once() {
        let args = |w: &str| parse(&["--workload", w]).workloads();
        use WorkloadKind::{Latency, Messaging, Schbench};
        assert_eq!(args("latency,messaging,latency"), [Latency, Messaging]);
        assert_eq!(
            args("schbench,latency,schbench,latency"),
            [Schbench, Latency]
        );
    }

    #[test]
    fn schedule_orders() {
        let s = schedule(2, 3, Order::Alternate, 1);
        assert_eq!(
            s.iter().map(|x| x.2).collect::<Vec<_>>(),
            vec![0, 1, 0, 1, 0, 1]
        );
        let s = schedule(2, 3, Order::Abba, 1);
        assert_eq!(
            s.iter().map(|x| x.2).collect::<Vec<_>>(),
            vec![0, 1, 1, 0, 0, 1]
        );
        let s = schedule(3, 20, Order::Random, 9);
        // every round holds every arm once; the order is deterministic for a seed
        for r in 0..20 {
            let mut a: Vec<usize> = s.iter().filter(|x| x.0 == r).map(|x| x.2).collect();
            a.sort();
            assert_eq!(a, vec![0, 1, 2]);
        }
        assert_eq!(s, schedule(3, 20, Order::Random, 9));
        assert!(
            s.chunks(3).any(|c| c[0].2 != 0),
            "random order never changed the first arm"
        );
    }
}
