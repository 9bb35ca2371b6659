//! The statistics of a running scx_arbor, one struct for every reader:
//! the scx_stats server serves it (`stats_meta`, `stats`: what `--stats`,
//! `--monitor`, scxtop and the OpenMetrics relay read) and the control
//! socket's `status` answers with it.

use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

/// The counters as scx_stats serves them (`stats_meta`, `stats`): what
/// `--stats`, `--monitor`, scxtop and the OpenMetrics relay read. Counters
/// are per reading: the first `stats` request on a connection answers with
/// the totals since the scheduler attached, each later one with what
/// happened since the previous request on that connection. Gauges (marked
/// so) are the value at the time of the request.
#[stat_doc]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[stat(top, desc = "scx_arbor scheduler statistics")]
pub struct Metrics {
    #[stat(
        desc = "Gauge: model generation the BPF side decides with (newest walked by any CPU; 0 = none)"
    )]
    pub generation: u64,
    #[stat(desc = "Gauge: scheduler generation of the model installed last (0 = none installed)")]
    pub installed_generation: u64,
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
    #[stat(
        desc = "Live model's cost-weighted score over this reading, points (100: every outcome right; 0 when no outcomes)"
    )]
    pub model_score: f64,
    #[stat(
        desc = "Live model's balanced accuracy over this reading, percent (mean recall over the classes that occurred; 0 when no outcomes)"
    )]
    pub model_balanced_accuracy_pct: f64,
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

impl Metrics {
    /// Counters accumulated since `prev`; gauges as they are now. The
    /// shares (accuracy, CPU) are recomputed for the interval; the scores
    /// (`model_score`, `model_balanced_accuracy_pct`) are left as in `self`:
    /// only the scheduler, which knows the cost of each mis-prediction,
    /// scores a reading.
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

/// CPU time over wall time, percent of one CPU (0 without wall time).
pub fn cpu_pct(cpu_ms: u64, wall_ms: u64) -> f64 {
    if wall_ms == 0 {
        0.0
    } else {
        cpu_ms as f64 * 100.0 / wall_ms as f64
    }
}

/// `part` in percent of `whole` (0 when `whole` is 0).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
