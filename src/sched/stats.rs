//! The BPF side's per-CPU counters (the `cpu_stats` map) read into a
//! [`Status`] (arbor-proto sums them), and the scheduler's own figures
//! added to its [`Metrics`]: the installed generation, the scores, the
//! daemon's CPU, the learner's and the guard's.

use anyhow::{Context, Result};
use arbor_learn::cost::Confusion;
use arbor_proto::metrics::{cpu_pct, percent, Metrics};
use arbor_proto::status::Status;
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use zerocopy::FromBytes;

use arbor_intf::bpf_intf::arbor_cpu_stats;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::supervisor::lock;

/// Read and sum the per-CPU counters.
pub fn read(cpu_stats: &MapHandle) -> Result<Status> {
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
    Ok(Status::from_cpus(&cpus))
}

/// The guard's figures for the statistics.
#[derive(Debug, Clone, Default)]
pub struct GuardStats {
    pub mode: String,
    pub pairs: u64,
    pub suspensions: u64,
    pub resumes: u64,
    pub model_p99_us: f64,
    pub fallback_p99_us: f64,
    pub p: f64,
    pub last_verdict: String,
}

/// The watcher's figures for the statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchStats {
    pub stage: String,
    pub installed: u64,
    pub kept: u64,
    pub rolled_back: u64,
    pub rejected: u64,
    pub last_verdict: String,
}

/// Where the scheduler's own figures live, shared by the threads that keep
/// them and the two readers that report them (the control socket's
/// `status` and the scx_stats answer in the run loop).
#[derive(Clone)]
pub struct Sources {
    pub learn_mode: arbor_learn::online::LearnMode,
    /// The learner's counters, when learning.
    pub learn: Option<Arc<Mutex<arbor_learn::online::LearnStats>>>,
    /// Samples the learner's queue could not take.
    pub learn_dropped: Arc<AtomicU64>,
    /// The guard's figures, when it runs.
    pub guard: Option<Arc<Mutex<GuardStats>>>,
    /// What the recorder wrote (zeros when not recording).
    pub record: Arc<super::record::RecordCounters>,
    /// The model watcher's figures, when it runs.
    pub watch: Option<Arc<Mutex<WatchStats>>>,
}

impl Sources {
    /// [`collect`] over a reading of the counters, with these figures as
    /// they are now.
    pub fn collect(&self, st: Status, installed_generation: u64) -> Status {
        let learn = self.learn.as_ref().map(|l| lock(l).clone());
        let figures = LearnFigures {
            mode: self.learn_mode,
            stats: learn.as_ref(),
            queue_dropped: self.learn_dropped.load(Ordering::Relaxed),
        };
        let guard = self.guard.as_ref().map(|g| lock(g).clone());
        let mut st = collect(st, installed_generation, &figures, guard.as_ref());
        let m = &mut st.metrics;
        m.record_rows = self.record.rows.load(Ordering::Relaxed);
        m.record_files_written = self.record.files_written.load(Ordering::Relaxed);
        m.record_files_deleted = self.record.files_deleted.load(Ordering::Relaxed);
        match &self.watch {
            Some(w) => {
                let w = lock(w).clone();
                m.watch_stage = w.stage;
                m.watch_installed = w.installed;
                m.watch_kept = w.kept;
                m.watch_rolled_back = w.rolled_back;
                m.watch_rejected = w.rejected;
                m.watch_last_verdict = w.last_verdict;
            }
            None => m.watch_stage = "off".into(),
        }
        st
    }
}

/// The learner's side of [`Metrics`], when learning.
pub struct LearnFigures<'a> {
    pub mode: arbor_learn::online::LearnMode,
    pub stats: Option<&'a arbor_learn::online::LearnStats>,
    /// Samples the learner's queue could not take.
    pub queue_dropped: u64,
}

/// The statistics since attach: a reading of the counters with the
/// generation installed last, the scores, this process's CPU and the
/// learner's figures added.
pub fn collect(
    mut st: Status,
    installed_generation: u64,
    learn: &LearnFigures<'_>,
    guard: Option<&GuardStats>,
) -> Status {
    let m = &mut st.metrics;
    match guard {
        Some(g) => {
            m.guard_mode = g.mode.clone();
            m.guard_pairs = g.pairs;
            m.guard_suspensions = g.suspensions;
            m.guard_resumes = g.resumes;
            m.guard_model_p99_us = g.model_p99_us;
            m.guard_fallback_p99_us = g.fallback_p99_us;
            m.guard_p = g.p;
            m.guard_last_verdict = g.last_verdict.clone();
        }
        None => {
            m.guard_mode = "off".into();
            m.guard_p = 1.0;
        }
    }
    m.installed_generation = installed_generation;
    m.accuracy_pct = percent(m.model_hits, m.model_outcomes);
    m.learn_mode = serde_json::to_value(learn.mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    m.learn_dropped = learn.queue_dropped;
    if let Ok(r) = arbor_util::proc_cpu::read("self") {
        m.daemon_cpu_ms = (r.cpu_s * 1000.0).round() as u64;
        m.daemon_wall_ms = (r.age_s * 1000.0).round() as u64;
    }
    m.daemon_cpu_pct = cpu_pct(m.daemon_cpu_ms, m.daemon_wall_ms);
    if let Some(l) = learn.stats {
        m.learn_samples_per_sec = l.samples_per_sec;
        m.learn_samples = l.samples_seen;
        m.learn_batches = l.batches;
        m.learn_window = l.window_len as u64;
        m.learn_candidates = l.candidates_trained;
        m.learn_promoted = l.promoted;
        m.learn_rejected = l.rejected;
        m.learn_live_generation = l.live_generation;
        m.learn_live_stored_generation = l.live_stored_generation.unwrap_or(0);
        m.learn_live_bursts = l.live_bursts;
        m.learn_live_score = l.live_score.unwrap_or(0.0);
        m.learn_live_balanced_accuracy_pct = l.live_balanced_accuracy.unwrap_or(0.0);
        m.learn_parent_live_score = l.parent_live_score.unwrap_or(0.0);
        m.learn_last_swap_us = l.last_swap_us.unwrap_or(0);
        m.learn_last_verdict = l.last_verdict.clone();
        if let Some(e) = &l.last_evaluation {
            m.learn_eval_train_rows = e.train_rows as u64;
            m.learn_eval_holdout_rows = e.holdout_rows as u64;
            m.learn_eval_train_ms = e.train_ms;
            m.learn_eval_candidate_score = e.candidate_score;
            m.learn_eval_candidate_balanced_accuracy_pct = e.candidate_balanced_accuracy;
            m.learn_eval_parent_score = e.parent_score.unwrap_or(0.0);
            m.learn_eval_parent_balanced_accuracy_pct = e.parent_balanced_accuracy.unwrap_or(0.0);
        }
    }
    score(&mut st.metrics, &st.confusion);
    st
}

/// Score a reading: the live model's cost-weighted score and balanced
/// accuracy over the outcomes of `confusion` (the reading's own, as rows of
/// predicted action, columns of actual class); 0 without outcomes.
pub fn score(m: &mut Metrics, confusion: &[Vec<u64>]) {
    let c = Confusion::from_rows(confusion);
    m.model_score = c.score().unwrap_or(0.0);
    m.model_balanced_accuracy_pct = c.balanced_accuracy().unwrap_or(0.0);
}

/// The `status` command's text: the line `--stats` prints, over the totals
/// since the instance attached (rates and CPU over the process's life).
pub fn status_text(reply: &serde_json::Value) -> Result<String> {
    let st: Status = serde_json::from_value(reply.clone()).context("the status reply")?;
    Ok(st.metrics.line())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_intf::schema::{CLASS_FALLBACK, NR_ACTIONS};
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

    fn off() -> LearnFigures<'static> {
        LearnFigures {
            mode: arbor_learn::online::LearnMode::Off,
            stats: None,
            queue_dropped: 0,
        }
    }

    #[test]
    fn collect_scores_and_names_the_mode() {
        let st = collect(
            Status::from_cpus(&[cpu(3, [4, 0, 2, 0, 1])]),
            3,
            &off(),
            None,
        );
        let m = &st.metrics;
        assert_eq!((m.installed_generation, m.generation), (3, 3));
        // confusion[0][0] = 3 hit, [0][1] = 1 miss; the fallback row is no outcome.
        assert_eq!((m.model_hits, m.model_outcomes), (3, 4));
        assert_eq!(m.accuracy_pct, 75.0);
        assert_eq!(m.model_balanced_accuracy_pct, 50.0);
        assert_eq!(m.learn_mode, "off");
        assert!(m.line().starts_with("gen 3 | decisions 7 "), "{}", m.line());
        assert!(!m.line().contains("learn"), "no learning part when off");
    }

    #[test]
    fn daemon_cpu_follows_the_process() {
        let st = Status::from_cpus(&[cpu(1, [0; NR_ACTIONS])]);
        let read = || collect(st.clone(), 0, &off(), None).metrics;
        // The first reading covers the process's life, which is at least
        // this sleep (the process may be younger than /proc/uptime's 10 ms
        // tick when the test starts, as nextest starts one per test).
        std::thread::sleep(std::time::Duration::from_millis(100));
        let a = read();
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
        let spun = read().delta(&a);
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
        let b = read();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let slept = read().delta(&b);
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
        let learn = arbor_learn::online::LearnStats {
            samples_seen: 2900,
            candidates_trained: 4,
            promoted: 1,
            rejected: 3,
            last_verdict: "rejected: 91.0 vs 90.5 on 700 held-out samples".into(),
            live_generation: 3,
            live_stored_generation: Some(2),
            live_score: Some(92.5),
            live_balanced_accuracy: Some(70.0),
            live_bursts: 1234,
            parent_live_score: Some(80.3),
            samples_per_sec: 95.0,
            last_evaluation: Some(arbor_learn::online::Evaluation {
                train_rows: 5000,
                holdout_rows: 700,
                candidate_score: 91.0,
                candidate_balanced_accuracy: 60.0,
                parent_score: None,
                parent_balanced_accuracy: None,
                train_ms: 31.5,
            }),
            ..Default::default()
        };
        let figures = LearnFigures {
            mode: arbor_learn::online::LearnMode::On,
            stats: Some(&learn),
            queue_dropped: 60,
        };
        let mut st = collect(Status::from_cpus(&[c]), 3, &figures, None);
        // The instance's own process figures, as it answered.
        st.metrics.daemon_cpu_ms = 1500;
        st.metrics.daemon_wall_ms = 30000;
        st.metrics.daemon_cpu_pct = 5.0;
        let m = &st.metrics;
        assert_eq!(
            (m.learn_live_stored_generation, m.learn_eval_train_rows),
            (2, 5000)
        );
        assert_eq!(
            (m.learn_eval_train_ms, m.learn_eval_parent_score),
            (31.5, 0.0)
        );
        let reply = serde_json::to_value(&st).unwrap();
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
        // Without a learner: no learning part.
        let st = collect(Status::from_cpus(&[c]), 3, &off(), None);
        let t = status_text(&serde_json::to_value(&st).unwrap()).unwrap();
        assert!(t.contains("daemon cpu ") && !t.contains("learn"), "{t}");
    }
}
