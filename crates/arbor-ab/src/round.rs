//! One arm in one round: start its scheduler (guarded), run the workloads,
//! read the scheduler's figures, stop it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::args::{AbArgs, WorkloadKind};
use crate::arms::Arm;
use crate::env::AbEnv;
use crate::oracle::Oracle;
use crate::progress::Progress;
use crate::report::{
    self, unix_now, CommandJson, LatencyJson, MessagingJson, RoundRecord, SchbenchJson,
};
use crate::sysfs::{RestoreFile, RunningSched, SchedLaunch};
use crate::watch::{promoted_generations, SchedWatch};
use crate::{bpfstats, command, fanout, latency, messaging, phases, requests, schbench};

/// A family's metrics as the round's map entries.
fn named(m: Vec<(&'static str, f64)>) -> impl Iterator<Item = (String, f64)> {
    m.into_iter().map(|(k, v)| (k.to_string(), v))
}

/// One arm in one round.
pub(crate) fn run_arm_round(
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
        requests: None,
        fanout: None,
        phases: None,
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
                arm.arbor_exe
                    .clone()
                    .unwrap_or_else(|| env.sched_exe.clone()),
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
            WorkloadKind::Requests => {
                let cfg = args.family.requests(&args.shared(crate::env::nr_cpus()));
                let r = requests::run(&cfg, warmup, duration, &Oracle::open()?, stop, &mut upd)?;
                rec.metrics.extend(named(r.metrics()));
                rec.requests = Some(requests::RequestsJson::new(&cfg, &r));
            }
            WorkloadKind::Fanout => {
                let cfg = args.family.fanout(&args.shared(crate::env::nr_cpus()));
                let r = fanout::run(&cfg, warmup, duration, &Oracle::open()?, stop, &mut upd)?;
                rec.metrics.extend(named(r.metrics(&cfg)));
                rec.fanout = Some(fanout::FanoutJson::new(&cfg, &r));
            }
            WorkloadKind::Phases => {
                let cfg = args.family.phases(&args.shared(crate::env::nr_cpus()));
                let r = phases::run(&cfg, warmup, duration, &Oracle::open()?, stop, &mut upd)?;
                rec.metrics.extend(named(r.metrics()));
                rec.phases = Some(phases::PhasesJson::new(&cfg, &r));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
