//! The statistics of a running scx_arbor, one struct for every reader:
//! the scx_stats server serves it (`stats_meta`, `stats`: what `--stats`,
//! `--monitor`, scxtop and the OpenMetrics relay read) and the control
//! socket's `status` answers with it.
//!
//! **The list below is the one place a statistic is named on the Rust
//! side.** A new BPF counter is a `u64` in `struct arbor_cpu_stats`
//! (bpf/intf.h) and a line in `cpu_counters`, under the same name: the
//! field, its description, the sum over CPUs and the change between
//! readings follow from it (see [`crate::define`]).

use arbor_intf::bpf_intf::arbor_cpu_stats;
use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

use crate::define::define_metrics;

define_metrics! {
    cpu_counters {
        walk_steps: "Tree nodes walked by all decisions",
        walk_errors: "Decisions whose tree walk failed (bad node index or out of steps); they got the fallback",
        torn_reads: "Decisions that saw a model whose generation tags disagreed (torn install); should stay 0",
        samples_sent: "Outcome samples sent to userspace through the ring buffer",
        samples_dropped: "Outcome samples dropped because the ring buffer was full",
        samples_throttled: "Outcome samples not sent: over the CPU's per-class budget (--sample-budget)",
        direct_dispatches: "Tasks inserted straight into an idle CPU's local DSQ",
        preempt_kicks: "Wakeups that preempted a running task with a later deadline",
        preempt_lost: "Preemptions given up because another waker claimed the CPU first",
        preempt_queued: "Wakeups that did not preempt a running task with a later deadline because a task queued there (the CPU's or its LLC's DSQ) had an earlier deadline still",
        preempted_requeues: "Preempted tasks put back in their CPU's local DSQ, behind the waker",
        waker_waits: "Wakeups queued behind a waker that ends its burst soon (or behind the task an interrupt woke on an idle CPU), not preempting another CPU",
        wake_llc_local: "Wakeups placed in the waking CPU's LLC",
        wake_llc_remote: "Wakeups placed in another LLC",
        pcpu_enqueues: "Enqueues of tasks that can run on one CPU only (into that CPU's DSQ)",
        sibling_pulls: "Tasks an idle CPU pulled from the DSQ of another CPU of its LLC",
        sibling_pull_misses: "Pulls from another CPU's DSQ that found only tasks bound to that CPU",
        llc_steals: "Tasks an idle CPU pulled from another LLC's DSQ",
        llc_balance_pulls: "Tasks a CPU whose task used its slice up pulled from a busier LLC's DSQ (more queued per CPU by at least two tasks' worth) instead of going on with its task, which then queued in its own LLC",
        smt_moves: "Tasks whose slice ended on a core whose other CPU was busy, moved to a wholly idle core (SMT machines only)",
        starved_runs: "Tasks run out of deadline order after waiting past the wait bound: twice a round over their queue (its length times the fallback slice over the CPUs serving it), at least 100 ms, at most 1 s",
        ineligible_skips: "Picks that passed over an earlier deadline whose task had run ahead of its LLC's V (lag < 0): no queue head was eligible and an eligible task further down the LLC's queue ran",
        cpu_onlines: "CPUs of the topology read at load that came online (CPU hotplug)",
        cpu_offlines: "CPUs that went offline (CPU hotplug)",
        offline_moves: "Waiting tasks moved off the queues of a CPU going offline to a queue a CPU online serves",
        tick_decisions: "Decisions at a tick: a burst that ran past the bound of the class decided for it, classified again from its CPU time so far",
        waker_decisions: "Decisions at a wakeup on whether the waker ends its burst soon (its burst classified again from its CPU time and the wakeups it issued so far)",
        waker_soon: "Of waker_decisions, those that found the waker ends soon (the wakee waits for it instead of preempting another CPU)",
        oracle_decisions: "Decisions (at a wakeup, a tick or on a waker) the oracle made from what the workload published (builds with the oracle feature, --oracle; else 0)",
        bursts: "Bursts (wakeup to sleep) that ended",
        shadow_decisions: "Decisions the shadow candidate made beside the live model",
        wakeup_waits: "Woken tasks that ran (each wakeup's wait for a CPU is counted at its first run)",
        wakeup_wait_ns: "The waits of wakeup_waits summed, ns: from the wakeup to the first run",
        guard_fallback_decisions: "Decisions the guard gave the fallback row instead of the model (its fallback windows, or the model suspended)",
    }
    cpu_gauges {
        generation: "Gauge: model generation the BPF side decides with (newest walked by any CPU; 0 = none)",
        shadow_generation: "Gauge: generation of the candidate walked in shadow (0 = none)",
        vtime: "Gauge: V of an LLC (the load-weighted average vruntime of its runnable tasks, EEVDF's; each LLC keeps its own), virtual ns: the largest a CPU saw when it last charged a run",
        runnable_weight: "Gauge: total weight of the runnable tasks of the LLC whose V is vtime, when that CPU charged (100 = one nice-0 task)",
    }
    counters {
        decisions: "Decisions made at wakeup (all action rows)",
        decisions_tiny: "Decisions for the tiny class (predicted burst <= 250 us)",
        decisions_short: "Decisions for the short class (predicted burst <= 1 ms)",
        decisions_medium: "Decisions for the medium class (predicted burst <= 4 ms)",
        decisions_long: "Decisions for the long class (predicted burst > 4 ms)",
        decisions_fallback: "Decisions given the fallback row (no model installed, or the walk failed)",
        model_outcomes: "Bursts that ended after a model decision (the fallback excluded)",
        model_hits: "Of model_outcomes, bursts whose class the model predicted right",
        shadow_outcomes: "Bursts that ended after a shadow decision",
        shadow_hits: "Of shadow_outcomes, bursts whose class the shadow candidate predicted right",
        guard_pairs: "Window pairs the guard compared (one window of model decisions, one of fallback decisions)",
        guard_suspensions: "Times the guard suspended the model: its windows' wakeup-wait p99 significantly worse than the fallback's",
        guard_resumes: "Times the guard resumed a suspended model: its windows significantly better than the fallback's",
        daemon_cpu_ms: "CPU time of the scheduler process (utime+stime of all its threads, /proc/self/stat), ms",
        daemon_wall_ms: "Wall time this reading covers, ms (the first: since the process started)",
        learn_samples: "Outcome samples the learner took in",
        learn_batches: "Batches of samples handed to the learner",
        learn_dropped: "Outcome samples the learner's queue could not take (dropped, never blocking)",
        learn_candidates: "Candidate trees trained",
        learn_promoted: "Candidates promoted to the live model",
        learn_rejected: "Candidates rejected (did not beat the live model by the margin)",
        record_rows: "Outcome samples the recorder wrote (--record or --record-dir)",
        record_files_written: "--record-dir: files closed and renamed to .csv.gz",
        record_files_deleted: "--record-dir: closed files deleted to stay within --record-keep and --record-max-mib (the oldest first)",
        watch_installed: "--model-watch: models of the watched directory installed live for their canary window",
        watch_kept: "--model-watch: installed models kept after their canary window",
        watch_rolled_back: "--model-watch: installed models rolled back to the previous generation (canary figures worse, or the scheduler restarted during the window)",
        watch_rejected: "--model-watch: files refused before install (ownership, import, verification, or worse than the live model in shadow)",
    }
    gauges {
        installed_generation: u64 "Gauge: scheduler generation of the model installed last (0 = none installed)",
        wakeup_wait_p50_us: f64 "Median wait of a woken task for a CPU over this reading, us (from the histogram; 0 when none)",
        wakeup_wait_p99_us: f64 "99th percentile wait of a woken task for a CPU over this reading, us (from the histogram; 0 when none)",
        guard_mode: String "The guard: off, model (the model decides, a share of windows the fallback), suspended (the fallback decides, a share of windows the model)",
        guard_model_p99_us: f64 "Gauge: median over the guard's last batch of pairs of the model windows' wakeup-wait p99, us (0 = no batch yet)",
        guard_fallback_p99_us: f64 "Gauge: the same for the fallback windows, us",
        guard_p: f64 "Gauge: one-sided Wilcoxon signed-rank p of the guard's last batch, for the side it tested (worse while the model decides, better while suspended; 1 = no batch yet)",
        guard_last_verdict: String "The guard's last verdict on a batch of window pairs, with its figures",
        watch_stage: String "--model-watch: what the watcher does (off, idle, verifying, shadow, canary)",
        watch_last_verdict: String "--model-watch: the last file's outcome (kept, rolled-back, rejected) with its figures",
        accuracy_pct: f64 "Live model accuracy over this reading, percent (model_hits / model_outcomes; 0 when no outcomes)",
        model_score: f64 "Live model's cost-weighted score over this reading, points (100: every outcome right; 0 when no outcomes)",
        model_balanced_accuracy_pct: f64 "Live model's balanced accuracy over this reading, percent (mean recall over the classes that occurred; 0 when no outcomes)",
        daemon_cpu_pct: f64 "Scheduler process CPU over this reading, percent of one CPU (daemon_cpu_ms / daemon_wall_ms)",
        learn_mode: String "Learning mode: off, shadow or on",
        learn_samples_per_sec: f64 "Gauge: outcome samples per second reaching the learner over the last 10 s (0 when not learning)",
        learn_window: u64 "Gauge: samples in the learner's window",
        learn_live_generation: u64 "Gauge: generation the learner counts as live",
        learn_live_stored_generation: u64 "Gauge: the live generation's number in --model-dir (0 = not a saved generation)",
        learn_live_bursts: u64 "Gauge: bursts the live generation's live score is counted over (0 = no score yet)",
        learn_live_score: f64 "Gauge: live score, the live generation's cost-weighted score (points) on real outcomes since it was installed (valid when learn_live_bursts > 0)",
        learn_live_balanced_accuracy_pct: f64 "Gauge: the live generation's balanced accuracy on real outcomes since it was installed, percent (valid when learn_live_bursts > 0)",
        learn_parent_live_score: f64 "Gauge: live score of the generation the live one replaced, over its own time live (0 = none replaced yet)",
        learn_last_swap_us: u64 "Gauge: time of the last promotion's slot swap, us (0 = none yet)",
        learn_last_verdict: String "Why the last candidate was promoted or rejected",
        learn_eval_train_rows: u64 "Gauge: samples the last candidate was trained on (0 = none trained yet)",
        learn_eval_holdout_rows: u64 "Gauge: held-out samples the last candidate was evaluated on",
        learn_eval_train_ms: f64 "Gauge: time the last candidate took to train, ms",
        learn_eval_candidate_score: f64 "Gauge: the last candidate's cost-weighted score on its held-out samples, points",
        learn_eval_candidate_balanced_accuracy_pct: f64 "Gauge: the last candidate's balanced accuracy on its held-out samples, percent",
        learn_eval_parent_score: f64 "Gauge: the running model's score on the same held-out samples, points (0 when no model was running)",
        learn_eval_parent_balanced_accuracy_pct: f64 "Gauge: the running model's balanced accuracy on the same held-out samples, percent (0 when no model was running)",
    }
}

impl Metrics {
    /// Counters accumulated since `prev`; gauges as they are now. The
    /// shares (accuracy, CPU) are recomputed for the interval; the scores
    /// (`model_score`, `model_balanced_accuracy_pct`) are left as in `self`:
    /// only the scheduler, which knows the cost of each mis-prediction,
    /// scores a reading.
    pub fn delta(&self, prev: &Metrics) -> Metrics {
        let mut m = self.sub_counters(prev);
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
             steps/dec {:.1} | direct {} preempt {} lost {} queued {} requeued {} waker-waits {} | \
             wake llc local {} remote {} | pcpu {} pulls {} (missed {}) steals {} balance {} starved {} \
             ineligible-skips {} | hotplug on {} off {} moved {} | mid-burst tick {} waker {} \
             (soon {}) | oracle {}",
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
            self.preempt_queued,
            self.preempted_requeues,
            self.waker_waits,
            self.wake_llc_local,
            self.wake_llc_remote,
            self.pcpu_enqueues,
            self.sibling_pulls,
            self.sibling_pull_misses,
            self.llc_steals,
            self.llc_balance_pulls,
            self.starved_runs,
            self.ineligible_skips,
            self.cpu_onlines,
            self.cpu_offlines,
            self.offline_moves,
            self.tick_decisions,
            self.waker_decisions,
            self.waker_soon,
            self.oracle_decisions
        );
        s += &format!(
            " | wakeup wait p50 {:.0} p99 {:.0} us of {}",
            self.wakeup_wait_p50_us, self.wakeup_wait_p99_us, self.wakeup_waits
        );
        if !matches!(self.guard_mode.as_str(), "" | "off") {
            s += &format!(
                " | guard {}: pairs {} suspended {} resumed {} fallback decisions {}, last: {}",
                self.guard_mode,
                self.guard_pairs,
                self.guard_suspensions,
                self.guard_resumes,
                self.guard_fallback_decisions,
                if self.guard_last_verdict.is_empty() {
                    "-"
                } else {
                    &self.guard_last_verdict
                }
            );
        }
        if !matches!(self.watch_stage.as_str(), "" | "off") {
            s += &format!(
                " | watch {}: installed {} kept {} rolled back {} rejected {}, last: {}",
                self.watch_stage,
                self.watch_installed,
                self.watch_kept,
                self.watch_rolled_back,
                self.watch_rejected,
                if self.watch_last_verdict.is_empty() {
                    "-"
                } else {
                    &self.watch_last_verdict
                }
            );
        }
        let secs = self.daemon_wall_ms as f64 / 1000.0;
        let rate = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        s += &format!(
            " | daemon cpu {:.1}% | samples/s sent {:.0} dropped {:.0} throttled {:.0}",
            self.daemon_cpu_pct,
            rate(self.samples_sent),
            rate(self.samples_dropped),
            rate(self.samples_throttled)
        );
        if !matches!(self.learn_mode.as_str(), "" | "off") {
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

    /// The scalar `u64` fields of `struct arbor_cpu_stats` as bpf/intf.h
    /// declares them, in order.
    fn intf_h_scalars() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../arbor-intf/intf.h");
        let h = std::fs::read_to_string(path).unwrap();
        let start = h
            .find("struct arbor_cpu_stats {")
            .expect("struct arbor_cpu_stats");
        let body = &h[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n};").unwrap()];
        // Without comments, the declarations are what ';' ends.
        let mut code = String::new();
        let mut rest = body;
        while let Some(i) = rest.find("/*") {
            code.push_str(&rest[..i]);
            rest = &rest[i + rest[i..].find("*/").unwrap() + 2..];
        }
        code.push_str(rest);
        code.split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty() && !d.contains('['))
            .map(|d| {
                let words: Vec<&str> = d.split_whitespace().collect();
                assert_eq!(
                    words.len(),
                    2,
                    "a declaration this test does not know: {d:?}"
                );
                assert_eq!(words[0], "u64", "a counter that is not a u64: {d:?}");
                words[1].to_string()
            })
            .collect()
    }

    #[test]
    fn the_list_names_every_u64_of_arbor_cpu_stats_and_no_other() {
        let mut header = intf_h_scalars();
        let mut listed: Vec<String> = Metrics::CPU_FIELDS.iter().map(|s| s.to_string()).collect();
        header.sort();
        listed.sort();
        let missing: Vec<_> = header.iter().filter(|n| !listed.contains(n)).collect();
        let extra: Vec<_> = listed.iter().filter(|n| !header.contains(n)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "bpf/intf.h's struct arbor_cpu_stats and metrics.rs's lists differ: \
             not listed {missing:?}, not in the header {extra:?}"
        );
    }

    #[test]
    fn delta_subtracts_counters_and_keeps_gauges() {
        let a = Metrics {
            walk_steps: 5,
            preempt_queued: 3,
            ineligible_skips: 1,
            decisions: 10,
            model_hits: 2,
            model_outcomes: 4,
            daemon_cpu_ms: 100,
            daemon_wall_ms: 1000,
            generation: 2,
            vtime: 50,
            learn_window: 7,
            ..Default::default()
        };
        let b = Metrics {
            walk_steps: 9,
            preempt_queued: 7,
            ineligible_skips: 1,
            decisions: 30,
            model_hits: 5,
            model_outcomes: 8,
            daemon_cpu_ms: 150,
            daemon_wall_ms: 2000,
            generation: 3,
            vtime: 40,
            learn_window: 9,
            ..Default::default()
        };
        let d = b.delta(&a);
        assert_eq!(
            (d.walk_steps, d.preempt_queued, d.ineligible_skips),
            (4, 4, 0)
        );
        assert_eq!((d.decisions, d.model_hits, d.model_outcomes), (20, 3, 4));
        assert_eq!((d.generation, d.vtime, d.learn_window), (3, 40, 9));
        assert_eq!((d.accuracy_pct, d.daemon_cpu_pct), (75.0, 5.0));
        // The first reading of a connection is against zero: the totals.
        let t = b.delta(&Metrics::default());
        assert_eq!((t.walk_steps, t.daemon_wall_ms), (9, 2000));
    }

    #[test]
    fn the_line_shows_the_new_counters() {
        let m = Metrics {
            preempt_kicks: 4,
            preempt_queued: 3,
            ineligible_skips: 2,
            cpu_onlines: 1,
            cpu_offlines: 1,
            offline_moves: 6,
            tick_decisions: 7,
            waker_decisions: 9,
            waker_soon: 5,
            oracle_decisions: 8,
            ..Default::default()
        };
        let l = m.line();
        for want in [
            "preempt 4 lost 0 queued 3",
            "ineligible-skips 2",
            "hotplug on 1 off 1 moved 6",
            "mid-burst tick 7 waker 9 (soon 5)",
            "oracle 8",
        ] {
            assert!(l.contains(want), "{want:?} not in {l}");
        }
        assert!(!l.contains("learn"), "no learner: {l}");
    }
}
