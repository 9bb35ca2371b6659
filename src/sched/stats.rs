//! Counters read from the BPF side's per-CPU `cpu_stats` map, and their
//! scx_stats form ([`Metrics`]).

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use scx_stats_derive::{stat_doc, Stats as ScxStats};
use serde::{Deserialize, Serialize};

use crate::bpf_intf::arbor_cpu_stats;
use crate::schema::{action_name, NR_ACTIONS, NR_CLASSES};

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

unsafe impl plain::Plain for arbor_cpu_stats {}

impl Stats {
    /// Read and sum the per-CPU counters.
    pub fn read(cpu_stats: &MapHandle) -> Result<Stats> {
        let per_cpu = cpu_stats
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .context("reading the cpu_stats map")?
            .context("cpu_stats has no element 0")?;
        let mut cpus = Vec::with_capacity(per_cpu.len());
        for bytes in &per_cpu {
            // SAFETY: arbor_cpu_stats is plain integers; all-zero is valid.
            let mut s: arbor_cpu_stats = unsafe { std::mem::zeroed() };
            plain::copy_from_bytes(&mut s, bytes)
                .map_err(|e| anyhow::anyhow!("cpu_stats value has the wrong size: {e:?}"))?;
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

    /// One human-readable line.
    pub fn line(&self) -> String {
        let total: u64 = self.decisions.iter().sum();
        let dec = self
            .decisions
            .iter()
            .enumerate()
            .map(|(a, v)| format!("{} {}", action_name(a), v))
            .collect::<Vec<_>>()
            .join(" ");
        let acc = self
            .accuracy()
            .map_or("-".to_string(), |a| format!("{:.1}%", a * 100.0));
        let steps = if total > 0 {
            self.walk_steps as f64 / total as f64
        } else {
            0.0
        };
        format!(
            "gen {} | decisions {} [{}] | acc {} | bursts {} | samples {} dropped {} throttled {} | \
             torn {} walk_err {} steps/dec {:.1} | direct {} preempt {} | \
             wake llc local {} remote {} | pcpu {} pulls {} (missed {}) steals {} starved {}",
            self.generation,
            total,
            dec,
            acc,
            self.bursts,
            self.samples_sent,
            self.samples_dropped,
            self.samples_throttled,
            self.torn_reads,
            self.walk_errors,
            steps,
            self.direct_dispatches,
            self.preempt_kicks,
            self.wake_llc_local,
            self.wake_llc_remote,
            self.pcpu_enqueues,
            self.sibling_pulls,
            self.sibling_pull_misses,
            self.llc_steals,
            self.starved_runs
        )
    }
}

/// The counters as scx_stats serves them (`stats_meta`, `stats`): what
/// `--stats`, `--monitor`, scxtop and the OpenMetrics relay read. Counters
/// are per reading: the first `stats` request on a connection answers with
/// the totals since the scheduler attached, each later one with what
/// happened since the previous request on that connection. Gauges (marked
/// so) are the value at the time of the request.
#[stat_doc]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ScxStats)]
#[stat(top, desc = "scx_arbor scheduler statistics")]
pub struct Metrics {
    #[stat(
        desc = "Gauge: model generation the BPF side decides with (newest walked by any CPU; 0 = none)"
    )]
    pub generation: u64,
    #[stat(desc = "Decisions made at wakeup (all action rows)")]
    pub decisions: u64,
    #[stat(desc = "Decisions for the tiny class (predicted burst <= 250 us)")]
    pub decisions_tiny: u64,
    #[stat(desc = "Decisions for the short class (predicted burst <= 1 ms)")]
    pub decisions_short: u64,
    #[stat(desc = "Decisions for the medium class (predicted burst <= 4 ms)")]
    pub decisions_medium: u64,
    #[stat(desc = "Decisions for the long class (predicted burst > 4 ms)")]
    pub decisions_long: u64,
    #[stat(desc = "Decisions given the fallback row (no model installed, or the walk failed)")]
    pub decisions_fallback: u64,
    #[stat(desc = "Bursts (wakeup to sleep) that ended")]
    pub bursts: u64,
    #[stat(desc = "Bursts that ended after a model decision (the fallback excluded)")]
    pub model_outcomes: u64,
    #[stat(desc = "Of model_outcomes, bursts whose class the model predicted right")]
    pub model_hits: u64,
    #[stat(
        desc = "Live model accuracy over this reading, percent (model_hits / model_outcomes; 0 when no outcomes)"
    )]
    pub accuracy_pct: f64,
    #[stat(desc = "Tree nodes walked by all decisions")]
    pub walk_steps: u64,
    #[stat(
        desc = "Decisions whose tree walk failed (bad node index or depth); they got the fallback"
    )]
    pub walk_errors: u64,
    #[stat(
        desc = "Decisions that saw a model whose generation tags disagreed (torn install); should stay 0"
    )]
    pub torn_reads: u64,
    #[stat(desc = "Outcome samples sent to userspace through the ring buffer")]
    pub samples_sent: u64,
    #[stat(desc = "Outcome samples dropped because the ring buffer was full")]
    pub samples_dropped: u64,
    #[stat(desc = "Outcome samples not sent: over the CPU's per-class budget (--sample-budget)")]
    pub samples_throttled: u64,
    #[stat(desc = "Tasks inserted straight into an idle CPU's local DSQ")]
    pub direct_dispatches: u64,
    #[stat(desc = "Wakeups that preempted a running task with a later deadline")]
    pub preempt_kicks: u64,
    #[stat(desc = "Preemptions given up because another waker claimed the CPU first")]
    pub preempt_lost: u64,
    #[stat(desc = "Preempted tasks put back in their CPU's local DSQ, behind the waker")]
    pub preempted_requeues: u64,
    #[stat(
        desc = "Wakeups queued behind a waker that ends its burst soon (or behind the task an interrupt woke on an idle CPU), not preempting another CPU"
    )]
    pub waker_waits: u64,
    #[stat(desc = "Wakeups placed in the waking CPU's LLC")]
    pub wake_llc_local: u64,
    #[stat(desc = "Wakeups placed in another LLC")]
    pub wake_llc_remote: u64,
    #[stat(desc = "Enqueues of tasks that can run on one CPU only (into that CPU's DSQ)")]
    pub pcpu_enqueues: u64,
    #[stat(desc = "Tasks an idle CPU pulled from the DSQ of another CPU of its LLC")]
    pub sibling_pulls: u64,
    #[stat(desc = "Pulls from another CPU's DSQ that found only tasks bound to that CPU")]
    pub sibling_pull_misses: u64,
    #[stat(desc = "Tasks an idle CPU pulled from another LLC's DSQ")]
    pub llc_steals: u64,
    #[stat(desc = "Tasks run out of deadline order after waiting 100 ms")]
    pub starved_runs: u64,
    #[stat(desc = "Gauge: the policy's virtual time V, virtual ns, at the latest charge")]
    pub vtime: u64,
    #[stat(
        desc = "Gauge: total weight of runnable tasks at the latest charge (100 = one nice-0 task)"
    )]
    pub runnable_weight: u64,
    #[stat(desc = "Gauge: generation of the candidate walked in shadow (0 = none)")]
    pub shadow_generation: u64,
    #[stat(desc = "Decisions the shadow candidate made beside the live model")]
    pub shadow_decisions: u64,
    #[stat(desc = "Bursts that ended after a shadow decision")]
    pub shadow_outcomes: u64,
    #[stat(desc = "Of shadow_outcomes, bursts whose class the shadow candidate predicted right")]
    pub shadow_hits: u64,
    #[stat(
        desc = "CPU time of the scheduler process (utime+stime of all its threads, /proc/self/stat), ms"
    )]
    pub daemon_cpu_ms: u64,
    #[stat(desc = "Wall time this reading covers, ms (the first: since the process started)")]
    pub daemon_wall_ms: u64,
    #[stat(
        desc = "Scheduler process CPU over this reading, percent of one CPU (daemon_cpu_ms / daemon_wall_ms)"
    )]
    pub daemon_cpu_pct: f64,
    #[stat(desc = "Learning mode: off, shadow or on")]
    pub learn_mode: String,
    #[stat(
        desc = "Gauge: outcome samples per second reaching the learner over the last 10 s (0 when not learning)"
    )]
    pub learn_samples_per_sec: f64,
    #[stat(desc = "Outcome samples the learner took in")]
    pub learn_samples: u64,
    #[stat(desc = "Outcome samples the learner's queue could not take (dropped, never blocking)")]
    pub learn_dropped: u64,
    #[stat(desc = "Gauge: samples in the learner's window")]
    pub learn_window: u64,
    #[stat(desc = "Candidate trees trained")]
    pub learn_candidates: u64,
    #[stat(desc = "Candidates promoted to the live model")]
    pub learn_promoted: u64,
    #[stat(desc = "Candidates rejected (did not beat the live model by the margin)")]
    pub learn_rejected: u64,
    #[stat(desc = "Gauge: generation the learner counts as live")]
    pub learn_live_generation: u64,
    #[stat(
        desc = "Gauge: bursts the live generation's live score is counted over (0 = no score yet)"
    )]
    pub learn_live_bursts: u64,
    #[stat(
        desc = "Gauge: live score, the live generation's cost-weighted score (points) on real outcomes since it was installed (valid when learn_live_bursts > 0)"
    )]
    pub learn_live_score: f64,
    #[stat(
        desc = "Gauge: the live generation's balanced accuracy on real outcomes since it was installed, percent (valid when learn_live_bursts > 0)"
    )]
    pub learn_live_balanced_accuracy_pct: f64,
    #[stat(
        desc = "Gauge: live score of the generation the live one replaced, over its own time live (0 = none replaced yet)"
    )]
    pub learn_parent_live_score: f64,
    #[stat(desc = "Gauge: time of the last promotion's slot swap, us (0 = none yet)")]
    pub learn_last_swap_us: u64,
    #[stat(desc = "Why the last candidate was promoted or rejected")]
    pub learn_last_verdict: String,
}

/// The learner's side of [`Metrics`], when learning.
pub struct LearnFigures<'a> {
    pub mode: crate::learn::online::LearnMode,
    pub stats: Option<&'a crate::learn::online::LearnStats>,
    /// Samples the learner's queue could not take.
    pub queue_dropped: u64,
}

impl Metrics {
    /// Totals since attach, from a counter snapshot and the learner's figures.
    pub fn collect(st: &Stats, learn: &LearnFigures<'_>) -> Metrics {
        let row = |a: usize| st.decisions.get(a).copied().unwrap_or(0);
        let (model_hits, model_outcomes) = matrix_hits(&st.confusion);
        let (shadow_hits, shadow_outcomes) = matrix_hits(&st.shadow_confusion);
        let mode = serde_json::to_value(learn.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let mut m = Metrics {
            generation: st.generation,
            decisions: st.decisions.iter().sum(),
            decisions_tiny: row(0),
            decisions_short: row(1),
            decisions_medium: row(2),
            decisions_long: row(3),
            decisions_fallback: row(crate::schema::CLASS_FALLBACK),
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
        if let Ok(r) = crate::proc_cpu::read("self") {
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
        m
    }

    /// Counters accumulated since `prev`; gauges as they are now.
    pub fn delta(&self, prev: &Metrics) -> Metrics {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let mut m = Metrics {
            decisions: d(self.decisions, prev.decisions),
            decisions_tiny: d(self.decisions_tiny, prev.decisions_tiny),
            decisions_short: d(self.decisions_short, prev.decisions_short),
            decisions_medium: d(self.decisions_medium, prev.decisions_medium),
            decisions_long: d(self.decisions_long, prev.decisions_long),
            decisions_fallback: d(self.decisions_fallback, prev.decisions_fallback),
            bursts: d(self.bursts, prev.bursts),
            model_outcomes: d(self.model_outcomes, prev.model_outcomes),
            model_hits: d(self.model_hits, prev.model_hits),
            walk_steps: d(self.walk_steps, prev.walk_steps),
            walk_errors: d(self.walk_errors, prev.walk_errors),
            torn_reads: d(self.torn_reads, prev.torn_reads),
            samples_sent: d(self.samples_sent, prev.samples_sent),
            samples_dropped: d(self.samples_dropped, prev.samples_dropped),
            samples_throttled: d(self.samples_throttled, prev.samples_throttled),
            direct_dispatches: d(self.direct_dispatches, prev.direct_dispatches),
            preempt_kicks: d(self.preempt_kicks, prev.preempt_kicks),
            preempt_lost: d(self.preempt_lost, prev.preempt_lost),
            preempted_requeues: d(self.preempted_requeues, prev.preempted_requeues),
            waker_waits: d(self.waker_waits, prev.waker_waits),
            wake_llc_local: d(self.wake_llc_local, prev.wake_llc_local),
            wake_llc_remote: d(self.wake_llc_remote, prev.wake_llc_remote),
            pcpu_enqueues: d(self.pcpu_enqueues, prev.pcpu_enqueues),
            sibling_pulls: d(self.sibling_pulls, prev.sibling_pulls),
            sibling_pull_misses: d(self.sibling_pull_misses, prev.sibling_pull_misses),
            llc_steals: d(self.llc_steals, prev.llc_steals),
            starved_runs: d(self.starved_runs, prev.starved_runs),
            shadow_decisions: d(self.shadow_decisions, prev.shadow_decisions),
            shadow_outcomes: d(self.shadow_outcomes, prev.shadow_outcomes),
            shadow_hits: d(self.shadow_hits, prev.shadow_hits),
            learn_samples: d(self.learn_samples, prev.learn_samples),
            learn_dropped: d(self.learn_dropped, prev.learn_dropped),
            learn_candidates: d(self.learn_candidates, prev.learn_candidates),
            learn_promoted: d(self.learn_promoted, prev.learn_promoted),
            learn_rejected: d(self.learn_rejected, prev.learn_rejected),
            daemon_cpu_ms: d(self.daemon_cpu_ms, prev.daemon_cpu_ms),
            daemon_wall_ms: d(self.daemon_wall_ms, prev.daemon_wall_ms),
            ..self.clone()
        };
        m.accuracy_pct = percent(m.model_hits, m.model_outcomes);
        m.daemon_cpu_pct = cpu_pct(m.daemon_cpu_ms, m.daemon_wall_ms);
        m
    }

    /// One human-readable line, as `--stats` and `--monitor` print it.
    pub fn line(&self) -> String {
        let steps = if self.decisions > 0 {
            self.walk_steps as f64 / self.decisions as f64
        } else {
            0.0
        };
        let mut s = format!(
            "gen {} | decisions {} [tiny {} short {} medium {} long {} fallback {}] | \
             acc {:.1}% of {} | bursts {} | samples {} dropped {} throttled {} | torn {} walk_err {} \
             steps/dec {:.1} | direct {} preempt {} lost {} requeued {} waker-waits {} | wake llc local {} remote {} | \
             pcpu {} pulls {} (missed {}) steals {} starved {}",
            self.generation,
            self.decisions,
            self.decisions_tiny,
            self.decisions_short,
            self.decisions_medium,
            self.decisions_long,
            self.decisions_fallback,
            self.accuracy_pct,
            self.model_outcomes,
            self.bursts,
            self.samples_sent,
            self.samples_dropped,
            self.samples_throttled,
            self.torn_reads,
            self.walk_errors,
            steps,
            self.direct_dispatches,
            self.preempt_kicks,
            self.preempt_lost,
            self.preempted_requeues,
            self.waker_waits,
            self.wake_llc_local,
            self.wake_llc_remote,
            self.pcpu_enqueues,
            self.sibling_pulls,
            self.sibling_pull_misses,
            self.llc_steals,
            self.starved_runs
        );
        let secs = self.daemon_wall_ms as f64 / 1000.0;
        let rate = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        s += &format!(
            " | daemon cpu {:.1}% | samples/s sent {:.0} dropped {:.0} throttled {:.0}",
            self.daemon_cpu_pct,
            rate(self.samples_sent),
            rate(self.samples_dropped),
            rate(self.samples_throttled)
        );
        if self.learn_mode != "off" {
            let live = if self.learn_live_bursts == 0 {
                "-".to_string()
            } else {
                format!(
                    "{:.1} points, balanced acc {:.1}% over {} bursts",
                    self.learn_live_score,
                    self.learn_live_balanced_accuracy_pct,
                    self.learn_live_bursts
                )
            };
            let parent = if self.learn_parent_live_score > 0.0 {
                format!(" (parent {:.1})", self.learn_parent_live_score)
            } else {
                String::new()
            };
            s += &format!(
                " | learn {}: {:.0} samples/s taken, {:.0}/s dropped, candidates {} promoted {} \
                 rejected {}, live gen {} score {}{}, last: {}",
                self.learn_mode,
                self.learn_samples_per_sec,
                rate(self.learn_dropped),
                self.learn_candidates,
                self.learn_promoted,
                self.learn_rejected,
                self.learn_live_generation,
                live,
                parent,
                if self.learn_last_verdict.is_empty() {
                    "-"
                } else {
                    &self.learn_last_verdict
                }
            );
        }
        s
    }
}

/// The `status` command's text: the counters, the daemon's CPU and the
/// learner's figures (totals since the instance attached; rates over the
/// process's life), from the control socket's `status` reply.
pub fn status_text(reply: &serde_json::Value) -> Result<String> {
    let st: Stats = serde_json::from_value(reply["stats"].clone()).context("the reply's stats")?;
    let learn: Option<crate::learn::online::LearnStats> = match &reply["learn"] {
        serde_json::Value::Null => None,
        v => Some(serde_json::from_value(v.clone()).context("the reply's learner figures")?),
    };
    let mode = serde_json::from_value(reply["learn_mode"].clone())
        .unwrap_or(crate::learn::online::LearnMode::Off);
    let figures = LearnFigures {
        mode,
        stats: learn.as_ref(),
        queue_dropped: reply["learn"]["queue_dropped"].as_u64().unwrap_or(0),
    };
    let mut m = Metrics::collect(&st, &figures);
    // collect() read this process; the figures are the instance's.
    let d = &reply["daemon"];
    m.daemon_cpu_ms = d["cpu_ms"].as_u64().unwrap_or(0);
    m.daemon_wall_ms = d["wall_ms"].as_u64().unwrap_or(0);
    m.daemon_cpu_pct = cpu_pct(m.daemon_cpu_ms, m.daemon_wall_ms);
    Ok(m.line())
}

/// The scheduler process's CPU time and age for the `status` reply.
pub fn daemon_figures() -> serde_json::Value {
    match crate::proc_cpu::read("self") {
        Ok(r) => serde_json::json!({
            "cpu_ms": (r.cpu_s * 1000.0).round() as u64,
            "wall_ms": (r.age_s * 1000.0).round() as u64,
            "cpu_pct": r.percent_since_start(),
        }),
        Err(e) => serde_json::json!({ "error": format!("{e:#}") }),
    }
}

/// CPU time over wall time, percent of one CPU (0 without wall time).
fn cpu_pct(cpu_ms: u64, wall_ms: u64) -> f64 {
    if wall_ms == 0 {
        0.0
    } else {
        cpu_ms as f64 * 100.0 / wall_ms as f64
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

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
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

fn sub_matrix(a: &[Vec<u64>], b: &[Vec<u64>]) -> Vec<Vec<u64>> {
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
        assert!(b.line().contains("gen 2"));
        assert_eq!(d.shadow_record(), None);
    }

    #[test]
    fn every_metric_is_described_and_one_struct_is_top() {
        use scx_stats::Meta;
        let meta = Metrics::meta();
        assert_eq!(meta.attrs.top.as_deref(), Some("true"));
        // Every field serde emits is in the metadata, with a description.
        let json = serde_json::to_value(Metrics::default()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let fields: Vec<_> = meta.fields.keys().cloned().collect();
        assert_eq!(keys, fields);
        for (name, f) in &meta.fields {
            let desc = f.attrs.desc.as_deref().unwrap_or("");
            assert!(desc.len() > 10, "{name} has no real description");
        }
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
            mode: crate::learn::online::LearnMode::Off,
            stats: None,
            queue_dropped: 0,
        };
        let a = Metrics::collect(&st, &off);
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
        let b = Metrics::collect(&Stats::sum(&[c2]), &off);
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
            mode: crate::learn::online::LearnMode::Off,
            stats: None,
            queue_dropped: 0,
        };
        let st = Stats::sum(&[cpu(1, [0; NR_ACTIONS])]);
        // The first reading covers the process's life, which is at least
        // this sleep (the process may be younger than /proc/uptime's 10 ms
        // tick when the test starts, as nextest starts one per test).
        std::thread::sleep(std::time::Duration::from_millis(100));
        let a = Metrics::collect(&st, &off);
        assert!(
            a.daemon_wall_ms + 20 >= 100,
            "the first reading covers the process's life, not {} ms",
            a.daemon_wall_ms
        );
        // Ground truth: the wall clock around the spin and the spinning
        // thread's own CPU clock (the spin lasts longer on a loaded machine).
        let t0 = std::time::Instant::now();
        let used = crate::proc_cpu::tests::spin_cpu_s(0.5);
        let spun = Metrics::collect(&st, &off).delta(&a);
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
        let b = Metrics::collect(&st, &off);
        std::thread::sleep(std::time::Duration::from_millis(500));
        let slept = Metrics::collect(&st, &off).delta(&b);
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
        let learn = crate::learn::online::LearnStats {
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
