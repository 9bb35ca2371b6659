//! The control socket's `status` reply, which `status --json` prints: the
//! [`Metrics`] since attach, flat, the same fields scx_stats serves, and
//! beside them what scx_stats cannot carry (the decisions per CPU and the
//! confusion matrices); and how the BPF side's per-CPU counters sum into one.

use arbor_intf::bpf_intf::arbor_cpu_stats;
use arbor_intf::schema::{CLASS_FALLBACK, NR_ACTIONS, NR_CLASSES};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::waits;

// Every `u64` of `struct arbor_cpu_stats` is a field of the lists in
// metrics.rs or in a table summed here: a counter added to bpf/intf.h and
// not listed does not compile. (A listed one the header lacks does not
// either: `Metrics::add_cpu_counters` reads it by name.)
const _: () = assert!(
    std::mem::size_of::<arbor_cpu_stats>()
        == std::mem::size_of::<[u64; NR_ACTIONS]>() // decisions
            + std::mem::size_of::<[[u64; NR_CLASSES]; NR_ACTIONS]>() // confusion
            + std::mem::size_of::<[[u64; NR_CLASSES]; NR_CLASSES]>() // shadow_confusion
            + std::mem::size_of::<[[u64; NR_CLASSES]; NR_ACTIONS]>() // paired_confusion
            + std::mem::size_of::<[u64; waits::BUCKETS]>() // wakeup_wait_hist
            + std::mem::size_of::<u64>() * Metrics::CPU_FIELDS.len(),
    "struct arbor_cpu_stats (bpf/intf.h) has a field that neither metrics.rs lists nor status.rs sums"
);

/// A reading of a running scx_arbor: its statistics and the tables beside.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    /// The statistics since attach: every field scx_stats serves.
    #[serde(flatten)]
    pub metrics: Metrics,
    /// Decisions per CPU (rows) per action row (columns: tiny, short,
    /// medium, long, fallback).
    pub decisions_per_cpu: Vec<Vec<u64>>,
    /// The live model's outcomes: `confusion[predicted action row][actual
    /// class]`, counted at burst end.
    pub confusion: Vec<Vec<u64>>,
    /// The shadow candidate's: `shadow_confusion[shadow class][actual class]`.
    pub shadow_confusion: Vec<Vec<u64>>,
    /// The live model's confusion over the bursts the shadow candidate saw.
    pub paired_confusion: Vec<Vec<u64>>,
    /// Wakeup waits per bucket of [`crate::waits`].
    pub wakeup_wait_hist: Vec<u64>,
}

impl Status {
    /// Sums per-CPU counters: the BPF counters and gauges of [`Metrics`],
    /// the decisions per class, the outcomes and hits, and the tables. The
    /// other fields (the installed generation, the scores, the daemon's and
    /// the learner's figures) are the scheduler's to fill.
    pub fn from_cpus(cpus: &[arbor_cpu_stats]) -> Status {
        let mut s = Status {
            confusion: vec![vec![0; NR_CLASSES]; NR_ACTIONS],
            shadow_confusion: vec![vec![0; NR_CLASSES]; NR_CLASSES],
            paired_confusion: vec![vec![0; NR_CLASSES]; NR_ACTIONS],
            wakeup_wait_hist: vec![0; waits::BUCKETS],
            ..Default::default()
        };
        let m = &mut s.metrics;
        for c in cpus {
            m.add_cpu_counters(c);
            // The gauges: the newest generations any CPU walked, and the
            // LLC clock furthest ahead with the weight it counted then.
            m.generation = m.generation.max(c.generation);
            m.shadow_generation = m.shadow_generation.max(c.shadow_generation);
            if c.vtime >= m.vtime {
                m.vtime = c.vtime;
                m.runnable_weight = c.runnable_weight;
            }
            s.decisions_per_cpu.push(c.decisions.to_vec());
            add_matrix(&mut s.confusion, &c.confusion);
            add_matrix(&mut s.shadow_confusion, &c.shadow_confusion);
            add_matrix(&mut s.paired_confusion, &c.paired_confusion);
            for (d, v) in s.wakeup_wait_hist.iter_mut().zip(&c.wakeup_wait_hist) {
                *d += v;
            }
        }
        let row = |a: usize| cpus.iter().map(|c| c.decisions[a]).sum::<u64>();
        m.decisions = (0..NR_ACTIONS).map(row).sum();
        m.decisions_tiny = row(0);
        m.decisions_short = row(1);
        m.decisions_medium = row(2);
        m.decisions_long = row(3);
        m.decisions_fallback = row(CLASS_FALLBACK);
        (m.model_hits, m.model_outcomes) = matrix_hits(&s.confusion);
        (m.shadow_hits, m.shadow_outcomes) = matrix_hits(&s.shadow_confusion);
        s.wait_quantiles();
        s
    }

    /// The wakeup-wait quantiles of the reading, from its histogram.
    fn wait_quantiles(&mut self) {
        let q = |q| waits::quantile(&self.wakeup_wait_hist, q).unwrap_or(0.0);
        (
            self.metrics.wakeup_wait_p50_us,
            self.metrics.wakeup_wait_p99_us,
        ) = (q(0.5), q(0.99));
    }

    /// What happened since `earlier`: counters and tables subtracted,
    /// gauges as they are now (see [`Metrics::delta`]).
    pub fn delta(&self, earlier: &Status) -> Status {
        let mut d = Status {
            metrics: self.metrics.delta(&earlier.metrics),
            decisions_per_cpu: sub_matrix(&self.decisions_per_cpu, &earlier.decisions_per_cpu),
            confusion: sub_matrix(&self.confusion, &earlier.confusion),
            shadow_confusion: sub_matrix(&self.shadow_confusion, &earlier.shadow_confusion),
            paired_confusion: sub_matrix(&self.paired_confusion, &earlier.paired_confusion),
            wakeup_wait_hist: waits::since(&self.wakeup_wait_hist, &earlier.wakeup_wait_hist),
        };
        d.wait_quantiles();
        d
    }
}

/// (diagonal, total) of the class rows of a confusion matrix; rows past the
/// classes (the fallback) are not predictions and are left out.
pub fn matrix_hits(m: &[Vec<u64>]) -> (u64, u64) {
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

fn add_matrix<const N: usize>(into: &mut [Vec<u64>], m: &[[u64; N]]) {
    for (dst, src) in into.iter_mut().zip(m) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d += s;
        }
    }
}

/// `a - b`, element by element (a missing element of `b` counts as 0).
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
    use zerocopy::FromZeros;

    fn cpu(gen: u64, dec: [u64; NR_ACTIONS]) -> arbor_cpu_stats {
        let mut c = arbor_cpu_stats::new_zeroed();
        c.decisions = dec;
        c.generation = gen;
        c.confusion[0][0] = 3;
        c.confusion[0][1] = 1;
        c.confusion[CLASS_FALLBACK][2] = 5;
        c.bursts = 9;
        c
    }

    #[test]
    fn sums_cpus_keeps_the_newest_generation_and_counts_classes() {
        let mut a = cpu(4, [1, 2, 0, 0, 7]);
        a.preempt_queued = 2;
        a.vtime = 900;
        a.runnable_weight = 300;
        let mut b = cpu(6, [0, 0, 3, 0, 1]);
        b.preempt_queued = 5;
        b.vtime = 800;
        b.runnable_weight = 100;
        b.shadow_confusion[1][1] = 2;
        b.shadow_confusion[1][0] = 2;
        let s = Status::from_cpus(&[a, b]);
        let m = &s.metrics;
        assert_eq!((m.generation, m.bursts, m.preempt_queued), (6, 18, 7));
        assert_eq!((m.vtime, m.runnable_weight), (900, 300), "the clock ahead");
        assert_eq!(m.decisions, 14);
        assert_eq!(
            [
                m.decisions_tiny,
                m.decisions_short,
                m.decisions_medium,
                m.decisions_long,
                m.decisions_fallback
            ],
            [1, 2, 3, 0, 8]
        );
        assert_eq!(
            s.decisions_per_cpu,
            vec![vec![1, 2, 0, 0, 7], vec![0, 0, 3, 0, 1]]
        );
        assert_eq!(s.confusion[0], vec![6, 2, 0, 0]);
        // The fallback row is no outcome of the model.
        assert_eq!((m.model_hits, m.model_outcomes), (6, 8));
        assert_eq!((m.shadow_hits, m.shadow_outcomes), (2, 4));
    }

    #[test]
    fn status_is_flat_and_reads_back() {
        let s = Status::from_cpus(&[cpu(3, [4, 0, 2, 0, 1])]);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["decisions"], 7, "Metrics' fields at the top level");
        assert_eq!(v["decisions_per_cpu"][0][4], 1);
        assert_eq!(v["confusion"][0][1], 1);
        assert!(v.get("metrics").is_none(), "{v}");
        let back: Status = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn sub_matrix_subtracts_and_takes_missing_as_zero() {
        let a = vec![vec![5, 3], vec![2, 2]];
        let b = vec![vec![1, 4]];
        assert_eq!(sub_matrix(&a, &b), vec![vec![4, 0], vec![2, 2]]);
    }

    #[test]
    fn delta_subtracts_counters_and_tables() {
        let a = Status::from_cpus(&[cpu(1, [1, 1, 1, 1, 1])]);
        let mut later = cpu(2, [3, 1, 1, 1, 1]);
        later.confusion[1][1] = 4;
        let d = Status::from_cpus(&[later]).delta(&a);
        assert_eq!(d.decisions_per_cpu, vec![vec![2, 0, 0, 0, 0]]);
        assert_eq!((d.metrics.decisions, d.metrics.decisions_tiny), (2, 2));
        assert_eq!(d.metrics.generation, 2, "a gauge");
        assert_eq!(d.confusion[1][1], 4);
        assert_eq!((d.metrics.model_hits, d.metrics.model_outcomes), (4, 4));
    }
}
