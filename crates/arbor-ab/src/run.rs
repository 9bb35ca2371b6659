//! The comparison's main loop: every arm-round in the planned order, then
//! the table, the JSON and the plot.

use std::io::Write as _;
use std::sync::atomic::Ordering;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::args::AbArgs;
use crate::arms::Arm;
use crate::env::{nr_cpus, AbEnv};
use crate::order::schedule;
use crate::plot;
use crate::progress::Progress;
use crate::report::{self, unix_now, RoundRecord, Summary};
use crate::round::run_arm_round;
use crate::summary::summarize;

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
    pub metric_defs: &'static [crate::metrics::MetricDef],
    pub rounds: Vec<RoundRecord>,
    pub summary: Summary,
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
        metric_defs: crate::metrics::METRICS,
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
        print!(
            "{}",
            crate::table::table(&out.summary, &out.rounds, &header)
        );
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
    if let Some(q) = &r.requests {
        parts.push(format!(
            "req short p99 {:.0} µs long p99 {:.0} µs {:.0} req/s",
            q.latency.short.p99_us, q.latency.long.p99_us, q.requests_per_s
        ));
    }
    if let Some(f) = &r.fanout {
        parts.push(format!(
            "fanout wakeup p99 {:.0} µs round p99 {:.0} µs",
            f.wakeup.p99_us, f.round_completion.p99_us
        ));
    }
    if let Some(p) = &r.phases {
        parts.push(format!(
            "phases wakeup p99 {:.0} µs after switch p99 {:.0} µs",
            p.wakeup.p99_us, p.after_switch.p99_us
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
