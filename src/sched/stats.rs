//! Counters read from the BPF side's per-CPU `cpu_stats` map.

use anyhow::{Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
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
    /// Wakeups placed in the waking CPU's LLC, and in another LLC.
    pub wake_llc_local: u64,
    pub wake_llc_remote: u64,
    /// Enqueues of tasks that can run on one CPU only (its own DSQ).
    pub pcpu_enqueues: u64,
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
            st.preempt_lost += c.preempt_lost;
            st.wake_llc_local += c.wake_llc_local;
            st.wake_llc_remote += c.wake_llc_remote;
            st.pcpu_enqueues += c.pcpu_enqueues;
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
            wake_llc_local: sub(self.wake_llc_local, earlier.wake_llc_local),
            wake_llc_remote: sub(self.wake_llc_remote, earlier.wake_llc_remote),
            pcpu_enqueues: sub(self.pcpu_enqueues, earlier.pcpu_enqueues),
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
             wake llc local {} remote {} | pcpu {} steals {} starved {}",
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
            self.llc_steals,
            self.starved_runs
        )
    }
}

/// Accuracy of a confusion matrix whose rows are predicted classes; rows
/// past the classes (the fallback) are not predictions and are ignored.
pub fn matrix_accuracy(m: &[Vec<u64>]) -> Option<f64> {
    let (mut hit, mut all) = (0u64, 0u64);
    for (a, row) in m.iter().enumerate().take(NR_CLASSES) {
        for (k, v) in row.iter().enumerate() {
            all += v;
            if a == k {
                hit += v;
            }
        }
    }
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
