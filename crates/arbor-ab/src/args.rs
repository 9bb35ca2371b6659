//! `scx_arbor ab`'s options: the clap definition, the arms and workloads
//! they ask for, and their checks.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::arms::{
    heuristic_args, learn_args, no_model_args, oracle_args, parse_external_arm, Arm, ExternalArm,
    BASELINE, DEFAULT, HEURISTIC, LEARN, NOMODEL, ORACLE,
};
use crate::family_args::{FamilyArgs, Shared};

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
    /// Open-loop request serving with short and long (cache miss) service
    /// times by a worker pool beside a hog; short-request latency p99.
    Requests,
    /// A dispatcher that wakes a batch of workers and keeps running;
    /// worker wakeup latency p99, by batch size.
    Fanout,
    /// Tasks that switch between interactive and batch phases beside hogs;
    /// interactive wakeup latency p99, also right after a switch.
    Phases,
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
    /// scx_arbor with --heuristic: the class of the task's average burst,
    /// the hand-written rule a model must beat.
    Heuristic,
    /// An oracle build of scx_arbor (--oracle-exe) with --oracle: decisions
    /// from what the workload knows of its threads' coming bursts (the
    /// requests, fanout and phases workloads publish it); the most any
    /// model could get.
    Oracle,
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

    /// Built-in workloads per arm-round, comma-separated (latency, messaging,
    /// schbench, requests, fanout, phases); each adds (warm-up + duration)
    /// per arm-round. Default: latency, or none when a command is given
    /// after `--` (then only the command runs).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub workload: Vec<WorkloadKind>,

    /// Periodic wakers in the latency mix. More wakers give more samples per
    /// second (better tails) but also add load that competes with the hogs.
    #[arg(long, default_value_t = 2)]
    pub wakers: usize,

    /// Waker period in µs, or a comma-separated list of periods: waker i
    /// (and phases task i in its interactive phase) sleeps list[i % len]
    /// (e.g. 1009,2017,2503,10007 with 4 wakers gives
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
    /// task handling an event (phases: the CPU burst of an interactive
    /// wakeup). Longer bursts load the CPUs more and make a period more
    /// likely to be missed.
    #[arg(long, value_name = "US", default_value_t = 50)]
    pub burst_us: u64,

    /// CPU hogs beside the wakers (default: number of CPUs). Fewer hogs than
    /// CPUs leaves idle CPUs, and the wakers then measure idle wakeup paths
    /// rather than preemption. The families take it too (default: requests
    /// 1, fanout the number of CPUs, phases 1).
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
    /// requests: the worker pool (default: 2 × CPUs).
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
    /// --no-model), heuristic (the same with --heuristic), oracle (an oracle
    /// build, --oracle-exe, with --oracle) and learn (the same with --learn
    /// on, keeping what it learned across rounds in --learn-dir). Default:
    /// eevdf,default (and nomodel with --walk-cost). Every arm is compared
    /// with eevdf; default with nomodel, heuristic and oracle with
    /// heuristic, and learn with default when both are present.
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

    /// The oracle arm's binary: scx_arbor built with `--features oracle`
    /// (the release binary has no oracle). Needed by --arms oracle.
    #[arg(long, value_name = "PATH")]
    pub oracle_exe: Option<PathBuf>,

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

    #[command(flatten)]
    #[serde(flatten)]
    pub family: FamilyArgs,

    /// Command to run and time in every arm-round (after `--`). Its exit
    /// status is reported; a failing command does not stop the comparison.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

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

    /// The options the families share with the older workloads, for a
    /// machine of `cpus` CPUs.
    pub fn shared(&self, cpus: usize) -> Shared<'_> {
        Shared {
            cpus,
            hogs: self.hogs,
            workers: self.workers,
            period_us: &self.period_us,
            burst_us: self.burst_us,
            seed: self.seed,
        }
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
                    arbor_exe: None,
                },
                ArmKind::Default => Arm {
                    name: DEFAULT.into(),
                    sched_args: Some(sa.clone()),
                    model_dir: None,
                    exe: None,
                    arbor_exe: None,
                },
                ArmKind::Nomodel => Arm {
                    name: NOMODEL.into(),
                    sched_args: Some(no_model_args(&sa)),
                    model_dir: None,
                    exe: None,
                    arbor_exe: None,
                },
                ArmKind::Heuristic => Arm {
                    name: HEURISTIC.into(),
                    sched_args: Some(heuristic_args(&sa)),
                    model_dir: None,
                    exe: None,
                    arbor_exe: None,
                },
                ArmKind::Oracle => Arm {
                    name: ORACLE.into(),
                    sched_args: Some(oracle_args(&sa)),
                    model_dir: None,
                    exe: None,
                    arbor_exe: self.oracle_exe.clone(),
                },
                ArmKind::Learn => Arm {
                    name: LEARN.into(),
                    sched_args: Some(learn_args(&sa, &self.learn_dir(), &self.learn_arg)),
                    model_dir: Some(self.learn_dir()),
                    exe: None,
                    arbor_exe: None,
                },
            })
            .chain(self.external_arms.iter().map(|x| Arm {
                name: x.name.clone(),
                sched_args: Some(x.args.clone()),
                model_dir: None,
                exe: Some(x.exe.clone()),
                arbor_exe: None,
            }))
            .collect()
    }

    pub(crate) fn validate(&self) -> Result<()> {
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
            !kinds.contains(&ArmKind::Oracle) || self.oracle_exe.is_some(),
            "--arms oracle needs --oracle-exe PATH: a scx_arbor built with --features oracle"
        );
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
        let sh = self.shared(crate::env::nr_cpus());
        if self.workloads().contains(&WorkloadKind::Requests) {
            self.family.requests(&sh).validate()?;
        }
        if self.workloads().contains(&WorkloadKind::Fanout) {
            self.family.fanout(&sh).validate()?;
        }
        if self.workloads().contains(&WorkloadKind::Phases) {
            self.family.phases(&sh).validate()?;
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
    fn all_six_workloads_in_one_run() {
        use WorkloadKind::*;
        let a = parse(&[
            "--workload",
            "requests,fanout,phases,latency,messaging,schbench",
        ]);
        assert_eq!(
            a.workloads(),
            [Requests, Fanout, Phases, Latency, Messaging, Schbench]
        );
        a.validate().unwrap();
        let sh = a.shared(2);
        assert_eq!(a.family.requests(&sh).hogs, 1);
        assert_eq!(a.family.fanout(&sh).hogs, 2);
        let a = parse(&["--workload", "fanout", "--batch", "2,8", "--batch-p", "1"]);
        assert!(a.validate().is_err(), "one probability for two sizes");
        let a = parse(&["--workload", "requests", "--hogs", "3", "--workers", "5"]);
        let r = a.family.requests(&a.shared(2));
        assert_eq!((r.hogs, r.workers), (3, 5));
        let a = parse(&["--workload", "phases", "--tasks", "0"]);
        assert!(a.validate().is_err());
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
}
