//! Counters read from the BPF side's per-CPU `cpu_stats` map, and the
//! [`Metrics`] (arbor-proto) the scheduler serves from them.

use anyhow::{Context, Result};
use arbor_learn::cost::Confusion;
use arbor_proto::metrics::{cpu_pct, percent, Metrics};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use serde::{Deserialize, Serialize};
use zerocopy::FromBytes;

use arbor_intf::bpf_intf::arbor_cpu_stats;
use arbor_intf::schema::{NR_ACTIONS, NR_CLASSES};

/// A snapshot of the scheduler's counters, summed over CPUs where it makes sense.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// Model generation in use: the newest one any CPU walked (0: none).
    pub generation: u64,
    /// Decisions per action row (classes, then the fallback).
    pub decisions: Vec<u64>,
    /// The same, per CPU.
    pub decisions_per_cpu: Vec<Vec<u64>>,
    /// confusion[predicted action row][actual class], counted at burst end.
    pub confusion: Vec<Vec<u64>>,
    pub walk_steps: u64,
    pub walk_errors: u64,
    pub torn_reads: u64,
    pub samples_sent: u64,
    pub samples_dropped: u64,
    /// Samples the per-CPU, per-class budget (--sample-budget) turned away.
    pub samples_throttled: u64,
    pub direct_dispatches: u64,
    /// Wakeups that preempted a running task with a later deadline.
    pub preempt_kicks: u64,
    /// Preemptions given up because another waker claimed the CPU first.
    pub preempt_lost: u64,
    /// Preempted tasks put back in their CPU's local DSQ behind the waker.
    pub preempted_requeues: u64,
    /// Wakeups queued behind a waker expected to end its burst soon, or
    /// behind the task an interrupt just woke on an idle CPU, instead of
    /// preempting another CPU.
    pub waker_waits: u64,
    /// Wakeups placed in the waking CPU's LLC, and in another LLC.
    pub wake_llc_local: u64,
    pub wake_llc_remote: u64,
    /// Enqueues of tasks that can run on one CPU only (its own DSQ).
    pub pcpu_enqueues: u64,
    /// Tasks an idle CPU pulled from the DSQ of another CPU of its LLC.
    pub sibling_pulls: u64,
    /// Pulls from another CPU's DSQ that found only tasks bound to that CPU.
    pub sibling_pull_misses: u64,
    /// Tasks an idle CPU pulled from another LLC's DSQ.
    pub llc_steals: u64,
    /// Tasks run out of deadline order after waiting 100 ms.
    pub starved_runs: u64,
    /// The policy's virtual time V (virtual ns) at the latest charge any CPU
    /// made, and the total runnable weight it saw then (100 = one nice-0 task).
    pub vtime: u64,
    pub runnable_weight: u64,
    pub bursts: u64,
    /// Shadow model generation walked (0: none).
    pub shadow_generation: u64,
    pub shadow_decisions: u64,
    /// shadow_confusion[shadow class][actual class].
    pub shadow_confusion: Vec<Vec<u64>>,
    /// The live model's confusion over the same bursts the shadow saw.
    pub paired_confusion: Vec<Vec<u64>>,
}

impl Stats {
    /// Read and sum the per-CPU counters.
    pub fn read(cpu_stats: &MapHandle) -> Result<Stats> {
        let per_cpu = cpu_stats
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .context("reading the cpu_stats map")?
            .context("cpu_stats has no element 0")?;
        let mut cpus = Vec::with_capacity(per_cpu.len());
        for bytes in &per_cpu {
            let (s, _) = arbor_cpu_stats::read_from_prefix(bytes).map_err(|_| {
                anyhow::anyhow!(
                    "a cpu_stats value of {} bytes is shorter than struct arbor_cpu_stats",
                    bytes.len()
                )
            })?;
            cpus.push(s);
        }
        Ok(Self::sum(&cpus))
    }

    /// Sum per-CPU counters into a snapshot.
    pub fn sum(cpus: &[arbor_cpu_stats]) -> Stats {
        let mut st = Stats {
            decisions: vec![0; NR_ACTIONS],
            confusion: vec![vec![0; NR_CLASSES]; NR_ACTIONS],
            shadow_confusion: vec![vec![0; NR_CLASSES]; NR_CLASSES],
            paired_confusion: vec![vec![0; NR_CLASSES]; NR_ACTIONS],
            ..Default::default()
        };
        for c in cpus {
            st.generation = st.generation.max(c.generation);
            st.shadow_generation = st.shadow_generation.max(c.shadow_generation);
            st.shadow_decisions += c.shadow_decisions;
            add_matrix(&mut st.shadow_confusion, &c.shadow_confusion);
            add_matrix(&mut st.paired_confusion, &c.paired_confusion);
            st.decisions_per_cpu.push(c.decisions.to_vec());
            for (a, d) in c.decisions.iter().enumerate() {
                st.decisions[a] += d;
            }
            add_matrix(&mut st.confusion, &c.confusion);
            st.walk_steps += c.walk_steps;
            st.walk_errors += c.walk_errors;
            st.torn_reads += c.torn_reads;
            st.samples_sent += c.samples_sent;
            st.samples_dropped += c.samples_dropped;
            st.samples_throttled += c.samples_throttled;
            st.direct_dispatches += c.direct_dispatches;
            st.preempt_kicks += c.preempt_kicks;
            st.preempted_requeues += c.preempted_requeues;
            st.waker_waits += c.waker_waits;
            st.preempt_lost += c.preempt_lost;
            st.wake_llc_local += c.wake_llc_local;
            st.wake_llc_remote += c.wake_llc_remote;
            st.pcpu_enqueues += c.pcpu_enqueues;
            st.sibling_pulls += c.sibling_pulls;
            st.sibling_pull_misses += c.sibling_pull_misses;
            st.llc_steals += c.llc_steals;
            st.starved_runs += c.starved_runs;
            if c.vtime >= st.vtime {
                st.vtime = c.vtime;
                st.runnable_weight = c.runnable_weight;
            }
            st.bursts += c.bursts;
        }
        st
    }

    /// Counters accumulated since `earlier`.
    pub fn delta(&self, earlier: &Stats) -> Stats {
        let sub = |a: u64, b: u64| a.saturating_sub(b);
        let subv = |a: &[u64], b: &[u64]| -> Vec<u64> {
            a.iter()
                .enumerate()
                .map(|(i, v)| sub(*v, b.get(i).copied().unwrap_or(0)))
                .collect()
        };
        Stats {
            generation: self.generation,
            decisions: subv(&self.decisions, &earlier.decisions),
            decisions_per_cpu: self
                .decisions_per_cpu
                .iter()
                .enumerate()
                .map(|(i, v)| subv(v, earlier.decisions_per_cpu.get(i).map_or(&[], |e| e)))
                .collect(),
            confusion: sub_matrix(&self.confusion, &earlier.confusion),
            shadow_generation: self.shadow_generation,
            shadow_decisions: sub(self.shadow_decisions, earlier.shadow_decisions),
            shadow_confusion: sub_matrix(&self.shadow_confusion, &earlier.shadow_confusion),
            paired_confusion: sub_matrix(&self.paired_confusion, &earlier.paired_confusion),
            walk_steps: sub(self.walk_steps, earlier.walk_steps),
            walk_errors: sub(self.walk_errors, earlier.walk_errors),
            torn_reads: sub(self.torn_reads, earlier.torn_reads),
            samples_sent: sub(self.samples_sent, earlier.samples_sent),
            samples_dropped: sub(self.samples_dropped, earlier.samples_dropped),
            samples_throttled: sub(self.samples_throttled, earlier.samples_throttled),
            direct_dispatches: sub(self.direct_dispatches, earlier.direct_dispatches),
            preempt_kicks: sub(self.preempt_kicks, earlier.preempt_kicks),
            preempt_lost: sub(self.preempt_lost, earlier.preempt_lost),
            preempted_requeues: sub(self.preempted_requeues, earlier.preempted_requeues),
            waker_waits: sub(self.waker_waits, earlier.waker_waits),
            wake_llc_local: sub(self.wake_llc_local, earlier.wake_llc_local),
            wake_llc_remote: sub(self.wake_llc_remote, earlier.wake_llc_remote),
            pcpu_enqueues: sub(self.pcpu_enqueues, earlier.pcpu_enqueues),
            sibling_pulls: sub(self.sibling_pulls, earlier.sibling_pulls),
            sibling_pull_misses: sub(self.sibling_pull_misses, earlier.sibling_pull_misses),
            llc_steals: sub(self.llc_steals, earlier.llc_steals),
            starved_runs: sub(self.starved_runs, earlier.starved_runs),
            vtime: self.vtime,
            runnable_weight: self.runnable_weight,
            bursts: sub(self.bursts, earlier.bursts),
        }
    }

    /// Share of model decisions (not the fallback) whose class matched the
    /// burst that followed, or None before any such burst ended.
    pub fn accuracy(&self) -> Option<f64> {
        matrix_accuracy(&self.confusion)
    }

    /// The shadow model's accuracy and the live model's over the same
    /// bursts, or None before the shadow saw any.
    pub fn shadow_record(&self) -> Option<(f64, Option<f64>)> {
        Some((
            matrix_accuracy(&self.shadow_confusion)?,
            matrix_accuracy(&self.paired_confusion),
        ))
    }
}

/// The learner's side of [`Metrics`], when learning.
pub struct LearnFigures<'a> {
    pub mode: arbor_learn::online::LearnMode,
    pub stats: Option<&'a arbor_learn::online::LearnStats>,
    /// Samples the learner's queue could not take.
    pub queue_dropped: u64,
}

/// The statistics since attach, from a counter snapshot, the generation
/// installed last and the learner's figures.
pub fn collect(st: &Stats, installed_generation: u64, learn: &LearnFigures<'_>) -> Metrics {
    let row = |a: usize| st.decisions.get(a).copied().unwrap_or(0);
    let (model_hits, model_outcomes) = matrix_hits(&st.confusion);
    let (shadow_hits, shadow_outcomes) = matrix_hits(&st.shadow_confusion);
    let mode = serde_json::to_value(learn.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut m = Metrics {
        generation: st.generation,
        installed_generation,
        decisions: st.decisions.iter().sum(),
        decisions_tiny: row(0),
        decisions_short: row(1),
        decisions_medium: row(2),
        decisions_long: row(3),
        decisions_fallback: row(arbor_intf::schema::CLASS_FALLBACK),
        bursts: st.bursts,
        model_outcomes,
        model_hits,
        accuracy_pct: 0.0,
        walk_steps: st.walk_steps,
        walk_errors: st.walk_errors,
        torn_reads: st.torn_reads,
        samples_sent: st.samples_sent,
        samples_dropped: st.samples_dropped,
        samples_throttled: st.samples_throttled,
        direct_dispatches: st.direct_dispatches,
        preempt_kicks: st.preempt_kicks,
        preempt_lost: st.preempt_lost,
        preempted_requeues: st.preempted_requeues,
        waker_waits: st.waker_waits,
        wake_llc_local: st.wake_llc_local,
        wake_llc_remote: st.wake_llc_remote,
        pcpu_enqueues: st.pcpu_enqueues,
        sibling_pulls: st.sibling_pulls,
        sibling_pull_misses: st.sibling_pull_misses,
        llc_steals: st.llc_steals,
        starved_runs: st.starved_runs,
        vtime: st.vtime,
        runnable_weight: st.runnable_weight,
        shadow_generation: st.shadow_generation,
        shadow_decisions: st.shadow_decisions,
        shadow_outcomes,
        shadow_hits,
        learn_mode: mode,
        learn_dropped: learn.queue_dropped,
        ..Default::default()
    };
    if let Ok(r) = arbor_util::proc_cpu::read("self") {
        m.daemon_cpu_ms = (r.cpu_s * 1000.0).round() as u64;
        m.daemon_wall_ms = (r.age_s * 1000.0).round() as u64;
    }
    m.daemon_cpu_pct = cpu_pct(m.daemon_cpu_ms, m.daemon_wall_ms);
    if let Some(l) = learn.stats {
        m.learn_parent_live_score = l.parent_live_score.unwrap_or(0.0);
        m.learn_samples_per_sec = l.samples_per_sec;
        m.learn_samples = l.samples_seen;
        m.learn_window = l.window_len as u64;
        m.learn_candidates = l.candidates_trained;
        m.learn_promoted = l.promoted;
        m.learn_rejected = l.rejected;
        m.learn_live_generation = l.live_generation;
        m.learn_live_bursts = l.live_bursts;
        m.learn_live_score = l.live_score.unwrap_or(0.0);
        m.learn_live_balanced_accuracy_pct = l.live_balanced_accuracy.unwrap_or(0.0);
        m.learn_last_swap_us = l.last_swap_us.unwrap_or(0);
        m.learn_last_verdict = l.last_verdict.clone();
    }
    m.accuracy_pct = percent(m.model_hits, m.model_outcomes);
    score(&mut m, &st.confusion);
    m
}

/// Score a reading: the live model's cost-weighted score and balanced
/// accuracy over the outcomes of `confusion` (the reading's own, as rows of
/// predicted action, columns of actual class); 0 without outcomes.
pub fn score(m: &mut Metrics, confusion: &[Vec<u64>]) {
    let c = Confusion::from_rows(confusion);
    m.model_score = c.score().unwrap_or(0.0);
    m.model_balanced_accuracy_pct = c.balanced_accuracy().unwrap_or(0.0);
}

/// The `status` command's text: the counters, the daemon's CPU and the
/// learner's figures (totals since the instance attached; rates over the
/// process's life), from the control socket's `status` reply.
pub fn status_text(reply: &serde_json::Value) -> Result<String> {
    let st: Stats = serde_json::from_value(reply["stats"].clone()).context("the reply's stats")?;
    let learn: Option<arbor_learn::online::LearnStats> = match &reply["learn"] {
        serde_json::Value::Null => None,
        v => Some(serde_json::from_value(v.clone()).context("the reply's learner figures")?),
    };
    let mode = serde_json::from_value(reply["learn_mode"].clone())
        .unwrap_or(arbor_learn::online::LearnMode::Off);
    let figures = LearnFigures {
        mode,
        stats: learn.as_ref(),
        queue_dropped: reply["learn"]["queue_dropped"].as_u64().unwrap_or(0),
    };
    let installed = reply["installed_generation"].as_u64().unwrap_or(0);
    let mut m = collect(&st, installed, &figures);
    // collect() read this process; the figures are the instance's.
    let d = &reply["daemon"];
    m.daemon_cpu_ms = d["cpu_ms"].as_u64().unwrap_or(0);
    m.daemon_wall_ms = d["wall_ms"].as_u64().unwrap_or(0);
    m.daemon_cpu_pct = cpu_pct(m.daemon_cpu_ms, m.daemon_wall_ms);
    Ok(m.line())
}

/// The scheduler process's CPU time and age for the `status` reply.
pub fn daemon_figures() -> serde_json::Value {
    match arbor_util::proc_cpu::read("self") {
        Ok(r) => serde_json::json!({
            "cpu_ms": (r.cpu_s * 1000.0).round() as u64,
            "wall_ms": (r.age_s * 1000.0).round() as u64,
            "cpu_pct": r.percent_since_start(),
        }),
        Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
    }
}

/// (diagonal, total) of the class rows of a confusion matrix.
fn matrix_hits(m: &[Vec<u64>]) -> (u64, u64) {
    let (mut hit, mut all) = (0u64, 0u64);
    for (a, row) in m.iter().enumerate().take(NR_CLASSES) {
        for (k, v) in row.iter().enumerate() {
            all += v;
            if a == k {
                hit += v;
            }
        }
    }
    (hit, all)
}

/// Accuracy of a confusion matrix whose rows are predicted classes; rows
/// past the classes (the fallback) are not predictions and are ignored.
pub fn matrix_accuracy(m: &[Vec<u64>]) -> Option<f64> {
    let (hit, all) = matrix_hits(m);
    (all > 0).then(|| hit as f64 / all as f64)
}

fn add_matrix<const N: usize>(into: &mut [Vec<u64>], m: &[[u64; N]]) {
    for (dst, src) in into.iter_mut().zip(m) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

/// `a - b`, element by element (a missing element of `b` counts as 0).
pub fn sub_matrix(a: &[Vec<u64>], b: &[Vec<u64>]) -> Vec<Vec<u64>> {
    a.iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .enumerate()
                .map(|(k, v)| {
                    v.saturating_sub(b.get(i).and_then(|r| r.get(k)).copied().unwrap_or(0))
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(gen: u64, dec: [u64; NR_ACTIONS]) -> arbor_cpu_stats {
        // SAFETY: plain integers.
        let mut c: arbor_cpu_stats = unsafe { std::mem::zeroed() };
        c.decisions = dec;
        c.generation = gen;
        c.confusion[0][0] = 3;
        c.confusion[0][1] = 1;
        c.confusion[NR_CLASSES][2] = 5;
        c.bursts = 9;
        c
    }

    #[test]
    fn sums_cpus_and_keeps_newest_generation() {
        let st = Stats::sum(&[cpu(4, [1, 2, 0, 0, 7]), cpu(6, [0, 0, 3, 0, 1])]);
        assert_eq!(st.generation, 6);
        assert_eq!(st.decisions, vec![1, 2, 3, 0, 8]);
        assert_eq!(st.decisions_per_cpu.len(), 2);
        assert_eq!(st.confusion[0], vec![6, 2, 0, 0]);
        assert_eq!(st.bursts, 18);
        // Fallback rows do not count towards the model's accuracy.
        assert_eq!(st.accuracy(), Some(6.0 / 8.0));
    }

    #[test]
    fn delta_subtracts_and_accuracy_is_none_without_outcomes() {
        let a = Stats::sum(&[cpu(1, [1, 1, 1, 1, 1])]);
        let b = Stats::sum(&[cpu(2, [3, 1, 1, 1, 1])]);
        let d = b.delta(&a);
        assert_eq!(d.decisions, vec![2, 0, 0, 0, 0]);
        assert_eq!(d.generation, 2);
        assert_eq!(d.accuracy(), None);
        assert_eq!(d.shadow_record(), None);
    }

    #[test]
    fn metrics_count_classes_outcomes_and_subtract_counters_only() {
        let mut c = cpu(3, [4, 0, 2, 0, 1]);
        c.shadow_confusion[1][1] = 2;
        c.shadow_confusion[1][0] = 2;
        c.samples_dropped = 5;
        c.vtime = 900;
        c.runnable_weight = 300;
        let st = Stats::sum(&[c]);
        let off = LearnFigures {
            mode: arbor_learn::online::LearnMode::Off,
            stats: None,
            queue_dropped: 0,
        };
        let a = collect(&st, 0, &off);
        assert_eq!(a.decisions, 7);
        assert_eq!((a.decisions_tiny, a.decisions_medium), (4, 2));
        assert_eq!(a.decisions_fallback, 1);
        // confusion[0][0] = 3 hit, [0][1] = 1 miss; the fallback row is no outcome.
        assert_eq!((a.model_hits, a.model_outcomes), (3, 4));
        assert_eq!(a.accuracy_pct, 75.0);
        assert_eq!((a.shadow_hits, a.shadow_outcomes), (2, 4));
        assert_eq!(a.learn_mode, "off");
        // The first reading of a connection is against zero: the totals.
        assert_eq!(a.delta(&Metrics::default()), a);

        let mut c2 = cpu(4, [6, 1, 2, 0, 1]);
        c2.confusion[1][1] = 4;
        c2.samples_dropped = 8;
        c2.vtime = 1000;
        c2.runnable_weight = 200;
        let b = collect(&Stats::sum(&[c2]), 0, &off);
        let d = b.delta(&a);
        assert_eq!(d.decisions, 3);
        assert_eq!((d.decisions_tiny, d.decisions_short), (2, 1));
        assert_eq!((d.model_hits, d.model_outcomes), (4, 4));
        assert_eq!(d.accuracy_pct, 100.0);
        assert_eq!(d.samples_dropped, 3);
        // Gauges are the newer reading's.
        assert_eq!((d.generation, d.vtime, d.runnable_weight), (4, 1000, 200));
        assert!(d.line().starts_with("gen 4 | decisions 3 "));
        assert!(!d.line().contains("learn"), "no learning part when off");
    }

    #[test]
    fn daemon_cpu_follows_the_process() {
        let off = LearnFigures {
            mode: arbor_learn::online::LearnMode::Off,
            stats: None,
            queue_dropped: 0,
        };
        let st = Stats::sum(&[cpu(1, [0; NR_ACTIONS])]);
        // The first reading covers the process's life, which is at least
        // this sleep (the process may be younger than /proc/uptime's 10 ms
        // tick when the test starts, as nextest starts one per test).
        std::thread::sleep(std::time::Duration::from_millis(100));
        let a = collect(&st, 0, &off);
        assert!(
            a.daemon_wall_ms + 20 >= 100,
            "the first reading covers the process's life, not {} ms",
            a.daemon_wall_ms
        );
        // Ground truth: the wall clock around the spin and the spinning
        // thread's own CPU clock (the spin lasts longer on a loaded machine).
        let t0 = std::time::Instant::now();
        let cpu0 = arbor_util::proc_cpu::thread_cpu_s();
        while t0.elapsed() < std::time::Duration::from_millis(500) {
            std::hint::black_box(t0.elapsed());
        }
        let used = arbor_util::proc_cpu::thread_cpu_s() - cpu0;
        let spun = collect(&st, 0, &off).delta(&a);
        let wall_ms = t0.elapsed().as_millis() as u64;
        assert!(
            spun.daemon_wall_ms >= wall_ms.saturating_sub(20)
                && spun.daemon_wall_ms <= wall_ms + 50,
            "reading covers {} ms, the spin {wall_ms} ms",
            spun.daemon_wall_ms
        );
        let floor = 100.0 * (used - 0.02) * 1000.0 / spun.daemon_wall_ms as f64;
        assert!(
            spun.daemon_cpu_pct >= floor,
            "{:.1}% while spinning, the thread alone used {floor:.1}%",
            spun.daemon_cpu_pct
        );
        assert!(spun.line().contains("| daemon cpu "), "{}", spun.line());
        let b = collect(&st, 0, &off);
        std::thread::sleep(std::time::Duration::from_millis(500));
        let slept = collect(&st, 0, &off).delta(&b);
        assert!(
            slept.daemon_cpu_pct < 30.0,
            "{:.1}% while asleep",
            slept.daemon_cpu_pct
        );
    }

    #[test]
    fn status_text_shows_rates_cpu_and_the_learner() {
        let mut c = cpu(5, [10, 0, 0, 0, 0]);
        c.samples_sent = 3000;
        c.samples_dropped = 30;
        c.samples_throttled = 600;
        let st = Stats::sum(&[c]);
        let learn = arbor_learn::online::LearnStats {
            samples_seen: 2900,
            candidates_trained: 4,
            promoted: 1,
            rejected: 3,
            last_verdict: "rejected: 91.0 vs 90.5 on 700 held-out samples".into(),
            live_generation: 3,
            live_score: Some(92.5),
            live_balanced_accuracy: Some(70.0),
            live_bursts: 1234,
            parent_live_score: Some(80.3),
            samples_per_sec: 95.0,
            ..Default::default()
        };
        let mut lv = serde_json::to_value(&learn).unwrap();
        lv["queue_dropped"] = serde_json::json!(60);
        let reply = serde_json::json!({
            "installed_generation": 3,
            "stats": st,
            "learn_mode": "on",
            "learn": lv,
            "daemon": {"cpu_ms": 1500, "wall_ms": 30000, "cpu_pct": 5.0},
        });
        let t = status_text(&reply).unwrap();
        for want in [
            "daemon cpu 5.0%",
            // 3000 sent, 30 dropped, 600 throttled, 60 lost by the queue in 30 s
            "samples/s sent 100 dropped 1 throttled 20",
            "learn on: 95 samples/s taken, 2/s dropped",
            "candidates 4 promoted 1 rejected 3",
            "live gen 3 score 92.5 points",
            "(parent 80.3)",
            "last: rejected: 91.0 vs 90.5",
        ] {
            assert!(t.contains(want), "{want:?} not in {t}");
        }
        // Without a learner: no learning part; an old reply without daemon figures still renders.
        let t = status_text(&serde_json::json!({"stats": st, "learn_mode": "off", "learn": null}))
            .unwrap();
        assert!(t.contains("daemon cpu 0.0%") && !t.contains("learn"), "{t}");
    }

    #[test]
    fn shadow_record_compares_like_for_like() {
        let mut c = cpu(1, [0; NR_ACTIONS]);
        c.shadow_confusion[1][1] = 3;
        c.shadow_confusion[0][1] = 1;
        c.paired_confusion[1][1] = 1;
        c.paired_confusion[2][1] = 3;
        let st = Stats::sum(&[c]);
        assert_eq!(st.shadow_record(), Some((0.75, Some(0.25))));
    }
}
