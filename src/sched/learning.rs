//! The learning thread's glue: it feeds the learner, runs candidates in the
//! shadow slot, promotes winners into the live slot and keeps every promoted
//! generation on disk with its lineage.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::MapHandle;
use log::{debug, info, warn};

use crate::sched::model_slot::ModelSlot;
use crate::sched::stats;
use crate::sched::supervisor::lock;
use arbor_intf::sample::Sample;
use arbor_learn::cost::Confusion;
use arbor_learn::generations::{Lineage, LiveRecord, Store};
use arbor_learn::online::{
    describe, next_step, Evaluation, LearnStats, Learner, Next, ShadowRecord,
};
use arbor_model::ensemble::Ensemble;
use arbor_proto::status::Status;
use arbor_util::utc::unix_now;

/// The live model: its slot and, when known, its ensemble (so candidates
/// can be compared with it on the same held-out samples) and its number in
/// the model directory when it is a saved generation.
pub struct LiveModel {
    pub slot: ModelSlot,
    pub ensemble: Option<Ensemble>,
    pub stored: Option<u64>,
}

/// A candidate being walked in the shadow slot.
struct InShadow {
    candidate: Ensemble,
    eval: Evaluation,
    baseline: Status,
}

/// The window samples_per_sec is counted over.
const RATE_WINDOW: Duration = Duration::from_secs(10);

/// A count's rate over the last [`RATE_WINDOW`].
struct Rate {
    marks: VecDeque<(Instant, u64)>,
}

impl Rate {
    fn new(now: Instant) -> Self {
        Self {
            marks: VecDeque::from([(now, 0)]),
        }
    }

    /// Record `count` (a running total) at `at`; the rate per second since
    /// the oldest mark within the window (None when no time passed).
    fn update(&mut self, at: Instant, count: u64) -> Option<f64> {
        self.marks.push_back((at, count));
        while self.marks.len() > 2
            && self
                .marks
                .front()
                .is_some_and(|(t, _)| at.duration_since(*t) > RATE_WINDOW)
        {
            self.marks.pop_front();
        }
        let &(t, c) = self.marks.front()?;
        let secs = at.duration_since(t).as_secs_f64();
        (secs > 0.0).then(|| count.saturating_sub(c) as f64 / secs)
    }
}

/// Training's scratch (the split window, the per-feature sort orders) is
/// freed once a candidate is trained: hand its pages back to the kernel, so
/// the daemon's resident memory is its steady footprint, not the peak of
/// the last training.
fn release_free_memory() {
    // SAFETY: malloc_trim only returns free heap memory to the kernel.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How often the live generation's score is written beside it on disk.
const LIVE_RECORD_EVERY: Duration = Duration::from_secs(10);

pub struct LearningThread {
    learner: Learner,
    live: Arc<Mutex<LiveModel>>,
    shadow: ModelSlot,
    cpu_stats: MapHandle,
    store: Store,
    pub stats: Arc<Mutex<LearnStats>>,
    in_shadow: Option<InShadow>,
    /// Counters when the live generation was installed, for its live score.
    live_since: (u64, Status),
    /// Counters at the last refresh, for the live score of the last second
    /// (what the learner watches for a workload change).
    recent_mark: (u64, Status),
    /// (time, samples seen) once a second over the last [`RATE_WINDOW`],
    /// for samples_per_sec: samples arrive in batches a few times a
    /// second, so one second alone aliases with them.
    rate: Rate,
    last_stats_read: Instant,
    last_live_record: Instant,
}

/// Lower the calling thread's priority: SCHED_IDLE, else nice 19. Says which.
pub fn lower_priority() -> &'static str {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: plain syscalls on the calling thread (pid 0 / its tid).
    unsafe {
        if libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) == 0 {
            return "SCHED_IDLE";
        }
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, 19) == 0 {
            return "nice 19";
        }
    }
    "unchanged"
}

impl LearningThread {
    /// A learner publishing its counters in `stats`, going on from what
    /// they hold (after a restart: counters stay monotonic for the
    /// statistics readers, which take differences; the window starts
    /// empty). A candidate left in the shadow slot by a learner that died
    /// is taken out.
    pub fn new(
        mut learner: Learner,
        live: Arc<Mutex<LiveModel>>,
        mut shadow: ModelSlot,
        cpu_stats: MapHandle,
        store: Store,
        stats: Arc<Mutex<LearnStats>>,
    ) -> Result<Self> {
        std::fs::create_dir_all(store.dir())
            .with_context(|| format!("creating the model directory {}", store.dir().display()))?;
        shadow.clear()?;
        learner.stats = LearnStats {
            window_len: 0,
            ..lock(&stats).clone()
        };
        let baseline = stats::read(&cpu_stats)?;
        let generation = lock(&live).slot.generation();
        Ok(Self {
            learner,
            live,
            shadow,
            cpu_stats,
            store,
            stats,
            in_shadow: None,
            live_since: (generation, baseline.clone()),
            recent_mark: (generation, baseline),
            rate: Rate::new(Instant::now()),
            last_stats_read: Instant::now(),
            last_live_record: Instant::now(),
        })
    }

    /// Take a batch of samples.
    pub fn push_batch(&mut self, batch: &[Sample]) {
        self.learner.push_batch(batch);
    }

    /// Called by the learning thread after each batch: train, shadow,
    /// promote, and refresh the counters once a second.
    pub fn tick(&mut self) {
        if let Err(e) = self.step() {
            warn!("learning: {e:#}");
            self.learner.stats.last_verdict = format!("error: {e:#}");
        }
        if self.last_stats_read.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last_stats_read = Instant::now();
        match stats::read(&self.cpu_stats) {
            Ok(now) => self.refresh_live(&now),
            Err(e) => warn!("learning: {e:#}"),
        }
        if let Some(r) = self
            .rate
            .update(Instant::now(), self.learner.stats.samples_seen)
        {
            self.learner.stats.samples_per_sec = r;
        }
        *lock(&self.stats) = self.learner.stats.clone();
    }

    /// The live generation's record on real outcomes (BPF counters) since
    /// it was installed; a model installed by `swap` starts a new record.
    fn live_record(&mut self, now: &Status) -> Confusion {
        let generation = lock(&self.live).slot.generation();
        if generation != self.live_since.0 {
            self.live_since = (generation, now.clone());
            self.identify_swapped();
        }
        Confusion::from_rows(&now.delta(&self.live_since.1).confusion)
    }

    /// After a `swap`: is the new live model a saved generation?
    fn identify_swapped(&mut self) {
        let mut live = lock(&self.live);
        live.stored = None;
        let Some(ens) = live.ensemble.clone() else {
            return;
        };
        drop(live);
        let found = self.store.list().ok().and_then(|all| {
            all.into_iter().rev().find(|e| {
                arbor_model::onnx_import::import_file(&e.onnx).is_ok_and(|imp| imp.ensemble == ens)
            })
        });
        if let Some(e) = found {
            info!(
                "learning: the swapped-in model is generation {}",
                e.generation
            );
            lock(&self.live).stored = Some(e.generation);
        }
    }

    fn refresh_live(&mut self, now: &Status) {
        let rec = self.live_record(now);
        // The live generation's score since the last refresh (since its
        // install if it is newer): a workload change shows at once, not
        // diluted by everything it scored before.
        let (generation, since) = &self.live_since;
        let mark = if self.recent_mark.0 == *generation {
            &self.recent_mark.1
        } else {
            since
        };
        let recent = Confusion::from_rows(&now.delta(mark).confusion);
        self.learner.observe_live(recent.score());
        self.recent_mark = (*generation, now.clone());
        let st = &mut self.learner.stats;
        st.live_generation = self.live_since.0;
        st.live_score = rec.score();
        st.live_balanced_accuracy = rec.balanced_accuracy();
        st.live_bursts = rec.total();
        let stored = lock(&self.live).stored;
        st.live_stored_generation = stored;
        if let (Some(n), Some(score)) = (stored, rec.score()) {
            if self.last_live_record.elapsed() >= LIVE_RECORD_EVERY {
                self.last_live_record = Instant::now();
                let r = LiveRecord {
                    live_score: score,
                    live_balanced_accuracy: rec.balanced_accuracy(),
                    bursts: rec.total(),
                    time: unix_now(),
                };
                if let Err(e) = self.store.record_live(n, &r) {
                    warn!("learning: {e:#}");
                }
            }
        }
    }

    fn step(&mut self) -> Result<()> {
        let cfg = self.learner.config().clone();
        if let Some(sh) = &self.in_shadow {
            let now = stats::read(&self.cpu_stats)?;
            let d = now.delta(&sh.baseline);
            let record = ShadowRecord {
                candidate: Confusion::from_rows(&d.shadow_confusion),
                parent: Confusion::from_rows(&d.paired_confusion),
            };
            if record.candidate.total() < cfg.shadow_bursts {
                return Ok(());
            }
            let sh = self.in_shadow.take().context("no candidate in shadow")?;
            self.shadow.clear()?;
            let why = record.describe();
            if record.candidate_wins(cfg.margin) {
                self.promote(sh.candidate, sh.eval, Some(&record), &why)?;
            } else {
                info!("learning: rejected after shadow: {why}");
                self.learner.verdict(
                    false,
                    format!(
                        "rejected after shadow: {why}; needs a {:.1}-point margin",
                        cfg.margin
                    ),
                );
            }
            return Ok(());
        }

        let now = Instant::now();
        if !self.learner.due(now) {
            return Ok(());
        }
        let parent = lock(&self.live).ensemble.clone();
        let (candidate, eval) = self.learner.train_candidate(parent.as_ref(), now)?;
        release_free_memory();
        let summary = describe(&eval);
        debug!("learning: {summary}");
        match next_step(&cfg, &eval) {
            Next::ShadowOnly => {
                let done = self
                    .shadow
                    .install(|g| arbor_model::flat::flatten(&candidate, g))?;
                info!(
                    "learning: candidate generation {} walking in shadow: {summary}",
                    done.generation
                );
                self.learner.stats.last_verdict = format!("in shadow: {summary}");
            }
            Next::Reject(why) => {
                info!("learning: {why}");
                self.learner.verdict(false, why);
            }
            Next::Shadow => {
                let done = self
                    .shadow
                    .install(|g| arbor_model::flat::flatten(&candidate, g))?;
                info!(
                    "learning: candidate generation {} in shadow for {} bursts: {summary}",
                    done.generation, cfg.shadow_bursts
                );
                self.learner.stats.last_verdict = format!("in shadow: {summary}");
                self.in_shadow = Some(InShadow {
                    candidate,
                    eval,
                    baseline: stats::read(&self.cpu_stats)?,
                });
            }
            Next::Promote => self.promote(candidate, eval, None, &summary)?,
        }
        Ok(())
    }

    fn promote(
        &mut self,
        candidate: Ensemble,
        eval: Evaluation,
        shadow: Option<&ShadowRecord>,
        why: &str,
    ) -> Result<()> {
        let onnx = arbor_model::onnx_export::to_bytes(&candidate)?;
        let now_stats = stats::read(&self.cpu_stats)?;
        let parent_record = self.live_record(&now_stats);
        let t0 = Instant::now();
        let (generation, parent_stored) = {
            let mut live = lock(&self.live);
            let done = live
                .slot
                .install(|g| arbor_model::flat::flatten(&candidate, g))?;
            live.ensemble = Some(candidate);
            (done.generation, live.stored.take())
        };
        let swap_us = t0.elapsed().as_micros() as u64;
        self.live_since = (generation, now_stats);
        let parent_live_score = parent_record.score();
        let st = &mut self.learner.stats;
        st.last_swap_us = Some(swap_us);
        st.parent_live_score = parent_live_score;
        st.live_generation = generation;
        st.live_score = None;
        st.live_balanced_accuracy = None;
        st.live_bursts = 0;
        if let (Some(p), Some(score)) = (parent_stored, parent_live_score) {
            let r = LiveRecord {
                live_score: score,
                live_balanced_accuracy: parent_record.balanced_accuracy(),
                bursts: parent_record.total(),
                time: unix_now(),
            };
            if let Err(e) = self.store.record_live(p, &r) {
                warn!("learning: {e:#}");
            }
        }
        let mut lineage = Lineage {
            generation: 0,
            parent: parent_stored,
            time: unix_now(),
            samples: eval.train_rows,
            holdout_rows: eval.holdout_rows,
            holdout_score: Some(eval.candidate_score),
            holdout_balanced_accuracy: Some(eval.candidate_balanced_accuracy),
            parent_holdout_score: eval.parent_score,
            parent_live_score,
            shadow_score: shadow.and_then(|r| r.candidate.score()),
            parent_shadow_score: shadow.and_then(|r| r.parent.score()),
            promoted: true,
            installed_as: generation,
            source: None,
            sha256: None,
        };
        let saved = self.store.save(&onnx, &mut lineage);
        let saved_as = match &saved {
            Ok(n) => {
                lock(&self.live).stored = Some(*n);
                self.learner.stats.live_stored_generation = Some(*n);
                format!("saved as gen-{n:06}")
            }
            Err(e) => format!("NOT saved: {e:#}"),
        };
        info!(
            "learning: promoted generation {generation} (parent live score {}) in {swap_us} µs, {saved_as}: {why}",
            parent_live_score.map_or("-".into(), |a| format!("{a:.1}"))
        );
        self.learner.verdict(
            true,
            format!("promoted generation {generation} ({saved_as}): {why}"),
        );
        saved.map(|_| ())
    }
}

/// What a restart of the scheduler inside this process carries over: the
/// model that was live, learned or swapped in.
#[derive(Debug, Clone)]
pub struct Carried {
    pub ensemble: Option<Ensemble>,
    pub stored: Option<u64>,
    /// The generation it was live under (0: none), which it keeps.
    pub generation: u64,
}

impl LiveModel {
    pub fn carry(&self) -> Carried {
        Carried {
            ensemble: self.ensemble.clone(),
            stored: self.stored,
            generation: self.slot.generation(),
        }
    }
}

/// The model an instance starts with.
#[derive(Debug, Clone, PartialEq)]
pub struct StartModel {
    /// For the log.
    pub name: String,
    /// None: no model, every task gets the fallback class.
    pub ensemble: Option<Ensemble>,
    /// Its number in the model directory, if it is a saved generation.
    pub stored: Option<u64>,
}

/// Choose the starting model: after an in-process restart, the one that
/// was live; else with `resume`, the newest promoted generation in `store`;
/// else `configured` (--model, the embedded model, or None for --no-model).
pub fn start_model(
    carried: Option<&Carried>,
    resume: bool,
    store: &Store,
    configured: Option<(String, Vec<u8>)>,
) -> Result<StartModel> {
    if let Some(c) = carried {
        return Ok(StartModel {
            name: match c.stored {
                Some(n) => format!("generation {n} (live before the restart)"),
                None if c.ensemble.is_some() => "the model live before the restart".into(),
                None => "no model (as before the restart)".into(),
            },
            ensemble: c.ensemble.clone(),
            stored: c.stored,
        });
    }
    if resume {
        match store.newest_promoted()? {
            Some(e) => {
                let imported = arbor_model::onnx_import::import_file(&e.onnx)
                    .with_context(|| format!("resuming from {}", e.onnx.display()))?;
                return Ok(StartModel {
                    name: format!("{} (resumed)", e.onnx.display()),
                    ensemble: Some(imported.ensemble),
                    stored: Some(e.generation),
                });
            }
            None => info!(
                "--resume: no promoted generation in {}; starting from the configured model",
                store.dir().display()
            ),
        }
    }
    match configured {
        Some((name, bytes)) => {
            let imported = arbor_model::onnx_import::import_bytes(&bytes)
                .with_context(|| format!("reading the model {name}"))?;
            Ok(StartModel {
                name,
                ensemble: Some(imported.ensemble),
                stored: None,
            })
        }
        None => Ok(StartModel {
            name: "no model".into(),
            ensemble: None,
            stored: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_intf::schema::NR_FEATURES;
    use arbor_learn::generations::Lineage;
    use arbor_learn::{train, CartParams};

    /// A tree that predicts `class` everywhere.
    fn constant(class: u8) -> Ensemble {
        let x = vec![[0u32; NR_FEATURES]; 4];
        train(&x, &[class; 4], &CartParams::default()).unwrap()
    }

    fn lineage(promoted: bool) -> Lineage {
        Lineage {
            generation: 0,
            parent: None,
            time: 1,
            samples: 4,
            holdout_rows: 1,
            holdout_score: Some(100.0),
            holdout_balanced_accuracy: Some(100.0),
            parent_holdout_score: None,
            parent_live_score: None,
            shadow_score: None,
            parent_shadow_score: None,
            promoted,
            installed_as: 1,
            source: None,
            sha256: None,
        }
    }

    fn tmpdir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("arbor-start-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn onnx(e: &Ensemble) -> Vec<u8> {
        arbor_model::onnx_export::to_bytes(e).unwrap()
    }

    #[test]
    fn sample_rate_is_steady_under_batched_arrivals() {
        // 100 samples every 300 ms (333/s), read once a second: a one-second
        // window sees 300 or 400; the 10 s window stays near the truth.
        let t0 = Instant::now();
        let mut rate = Rate::new(t0);
        let mut seen = 0u64;
        let mut last = None;
        for ms in (0..30_000u64).step_by(100) {
            if ms % 300 == 0 {
                seen += 100;
            }
            if ms % 1000 == 0 && ms > 0 {
                last = rate.update(t0 + Duration::from_millis(ms), seen);
                if ms >= 10_000 {
                    let r = last.unwrap();
                    assert!((r - 333.3).abs() < 15.0, "{r:.1}/s at {ms} ms");
                }
            }
        }
        assert!(last.is_some());
        assert!(rate.marks.len() <= 12, "the window is bounded");
    }

    #[test]
    fn a_restart_reinstalls_what_was_live_not_the_startup_model() {
        let d = tmpdir("restart");
        let store = Store::new(&d);
        let configured = || Some(("startup.onnx".to_string(), onnx(&constant(0))));
        // First start: the configured model.
        let first = start_model(None, false, &store, configured()).unwrap();
        assert_eq!(first.ensemble, Some(constant(0)));
        // A learned generation was live at the restart.
        let learned = Carried {
            ensemble: Some(constant(2)),
            stored: Some(7),
            generation: 9,
        };
        let again = start_model(Some(&learned), false, &store, configured()).unwrap();
        assert_eq!(again.ensemble, Some(constant(2)));
        assert_eq!(again.stored, Some(7));
        // A swapped-in model that is not saved, with --resume too.
        let swapped = Carried {
            ensemble: Some(constant(3)),
            stored: None,
            generation: 10,
        };
        let again = start_model(Some(&swapped), true, &store, configured()).unwrap();
        assert_eq!(again.ensemble, Some(constant(3)));
        // --no-model before the restart stays no model.
        let none = Carried {
            ensemble: None,
            stored: None,
            generation: 0,
        };
        assert_eq!(
            start_model(Some(&none), false, &store, configured())
                .unwrap()
                .ensemble,
            None
        );
    }

    #[test]
    fn resume_starts_from_the_newest_promoted_generation() {
        let d = tmpdir("resume");
        let store = Store::new(&d);
        let configured = || Some(("startup.onnx".to_string(), onnx(&constant(0))));
        // Empty directory: the configured model.
        let s = start_model(None, true, &store, configured()).unwrap();
        assert_eq!((s.ensemble, s.stored), (Some(constant(0)), None));
        store.save(&onnx(&constant(1)), &mut lineage(true)).unwrap();
        store.save(&onnx(&constant(2)), &mut lineage(true)).unwrap();
        store
            .save(&onnx(&constant(3)), &mut lineage(false))
            .unwrap();
        let s = start_model(None, true, &store, configured()).unwrap();
        assert_eq!(s.ensemble, Some(constant(2)));
        assert_eq!(s.stored, Some(2));
        // Without --resume the directory is not consulted.
        let s = start_model(None, false, &store, configured()).unwrap();
        assert_eq!(s.ensemble, Some(constant(0)));
        // A corrupt newest generation is an error, not a silent fallback.
        std::fs::write(d.join("gen-000004.onnx"), b"junk").unwrap();
        let mut l = lineage(true);
        l.generation = 4;
        std::fs::write(
            d.join("gen-000004.json"),
            serde_json::to_string(&l).unwrap(),
        )
        .unwrap();
        let err = start_model(None, true, &store, configured()).unwrap_err();
        assert!(format!("{err:#}").contains("gen-000004.onnx"), "{err:#}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
