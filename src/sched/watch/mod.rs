//! `--model-watch DIR`: models published into a directory are rolled out
//! one at a time. A file is checked ([`candidate::check`]), walked in the
//! shadow slot beside the live model and scored on the same bursts
//! ([`verdict::shadow`]), installed as a new generation, and kept only if
//! its canary window holds against the generation it replaced
//! ([`verdict::canary`]); otherwise the previous generation is installed
//! again. A kept model is saved in --model-dir with its lineage. Each
//! file's progress is in `NAME.status.json` beside it, and in the
//! statistics (`watch_*`).
//!
//! The canary outlives a restart of the scheduler: if the kernel ejects or
//! restarts scx_arbor during the window, [`restarted`] rolls back and the
//! scheduler attaches again with the previous generation.

pub mod candidate;
pub mod verdict;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::MapHandle;
use log::{info, warn};

use crate::sched::learning::{Carried, LiveModel};
use crate::sched::model_slot::ModelSlot;
use crate::sched::stats::{self, WatchStats};
use crate::sched::supervisor::lock;
use arbor_learn::cost::Confusion;
use arbor_learn::generations::{Lineage, Store};
use arbor_model::ensemble::Ensemble;
use arbor_proto::status::Status;
use arbor_util::utc::unix_now;
use candidate::Candidate;
use verdict::{Judgement, Limits};

/// How often the directory is looked at and a stage checked.
const POLL: Duration = Duration::from_secs(1);
/// A gate that has not seen its bursts after this many times its length
/// gives up: an idle machine cannot judge a model.
const GIVE_UP_AFTER: u32 = 10;

/// The options of `--model-watch`.
#[derive(Debug, Clone)]
pub struct Config {
    pub dir: std::path::PathBuf,
    /// Length of the shadow stage (zero: none).
    pub shadow: Duration,
    /// Length of the canary window.
    pub canary: Duration,
    pub limits: Limits,
}

/// A model live in its canary window.
struct Canary {
    file: Candidate,
    /// The model it replaced, to install again on a rollback.
    previous: Carried,
    generation: u64,
    /// The counters at the install.
    at_install: Status,
    /// What the previous generation did over the window before the install.
    before: Status,
    since: Instant,
    /// The shadow stage's scores (candidate, live), for the lineage.
    shadow_scores: (Option<f64>, Option<f64>),
    /// Whether the previous generation walks in shadow during the window.
    previous_in_shadow: bool,
}

/// What outlives the watcher thread and the scheduler instance.
#[derive(Default)]
pub struct Shared {
    /// The figures the statistics read (their own lock: a reader never
    /// waits for the watcher's state).
    pub stats: Arc<Mutex<WatchStats>>,
    canary: Option<Canary>,
}

/// A model walked in the shadow slot.
struct InShadow {
    file: Candidate,
    ensemble: Ensemble,
    baseline: Status,
    live_generation: u64,
    since: Instant,
}

/// Install the model `previous` describes again (under its generation), or
/// clear the slot when there was none.
fn reinstall(live: &mut LiveModel, previous: &Carried) -> Result<()> {
    match &previous.ensemble {
        Some(e) if previous.generation != 0 => {
            live.slot
                .reinstall(previous.generation, |g| arbor_model::flat::flatten(e, g))?;
        }
        Some(e) => {
            live.slot.install(|g| arbor_model::flat::flatten(e, g))?;
        }
        None => live.slot.clear()?,
    }
    live.ensemble = previous.ensemble.clone();
    live.stored = previous.stored;
    Ok(())
}

/// Finish a file: its final stage in its status file, the counters and the
/// log.
fn finish(shared: &Mutex<Shared>, file: &mut Candidate, stage: &str, reason: String) {
    file.status.enter(stage, reason.clone());
    if let Err(e) = file.write_status() {
        warn!("model-watch: {e:#}");
    }
    let name = file.path.display().to_string();
    info!("model-watch: {name}: {stage}: {reason}");
    let stats = lock(shared).stats.clone();
    let mut s = lock(&stats);
    match stage {
        "kept" => s.kept += 1,
        "rolled-back" => s.rolled_back += 1,
        "rejected" => s.rejected += 1,
        _ => {}
    }
    s.last_verdict = format!("{name}: {stage}: {reason}");
    s.stage = "idle".into();
}

/// Called when the scheduler instance ended (a restart the kernel asked
/// for, or an error exit) other than by shutdown. A model in its canary
/// window is rolled back: returns the previous model for the next instance
/// to attach with.
pub fn restarted(shared: &Mutex<Shared>, why: &str) -> Option<Carried> {
    let mut c = lock(shared).canary.take()?;
    finish(
        shared,
        &mut c.file,
        "rolled-back",
        format!(
            "the scheduler {why} during the canary window of generation {}; \
             attaching again with generation {}",
            c.generation, c.previous.generation
        ),
    );
    Some(c.previous)
}

/// The watcher thread's state.
pub struct Watcher {
    cfg: Config,
    live: Arc<Mutex<LiveModel>>,
    shadow: ModelSlot,
    cpu_stats: MapHandle,
    store: Store,
    shared: Arc<Mutex<Shared>>,
    scanner: candidate::Scanner,
    in_shadow: Option<InShadow>,
    /// Readings of the counters, one per poll, over the last canary length
    /// of the live generation `history_generation`.
    history: VecDeque<(Instant, Status)>,
    history_generation: u64,
}

impl Watcher {
    /// A watcher going on from `shared` (a canary in progress continues); a
    /// candidate a dead watcher left in the shadow slot is taken out.
    pub fn new(
        cfg: Config,
        live: Arc<Mutex<LiveModel>>,
        mut shadow: ModelSlot,
        cpu_stats: MapHandle,
        store: Store,
        shared: Arc<Mutex<Shared>>,
    ) -> Result<Self> {
        shadow.clear()?;
        {
            let s = lock(&shared);
            match &s.canary {
                // A watcher restarted in a canary window walks the previous
                // generation in shadow again.
                Some(c) if c.previous_in_shadow => {
                    if let Some(e) = &c.previous.ensemble {
                        shadow.install(|g| arbor_model::flat::flatten(e, g))?;
                    }
                }
                Some(_) => {}
                None => lock(&s.stats).stage = "idle".into(),
            }
        }
        Ok(Self {
            cfg,
            live,
            shadow,
            cpu_stats,
            store,
            shared,
            scanner: candidate::Scanner::default(),
            in_shadow: None,
            history: VecDeque::new(),
            history_generation: 0,
        })
    }

    /// Poll until `stop`.
    pub fn run(mut self, stop: Arc<AtomicBool>) -> Result<()> {
        while !stop.load(Ordering::Relaxed) {
            self.step(&stop)?;
            let t = Instant::now();
            while t.elapsed() < POLL && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.shadow.clear()?;
        Ok(())
    }

    fn set_stage(&self, stage: &str) {
        let stats = lock(&self.shared).stats.clone();
        lock(&stats).stage = stage.into();
    }

    fn step(&mut self, stop: &AtomicBool) -> Result<()> {
        let now = Instant::now();
        let reading = stats::read(&self.cpu_stats)?;
        // The window before an install is the live generation's alone.
        let live_generation = lock(&self.live).slot.generation();
        if live_generation != self.history_generation {
            self.history.clear();
            self.history_generation = live_generation;
        }
        self.history.push_back((now, reading.clone()));
        while self
            .history
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > self.cfg.canary + POLL)
        {
            self.history.pop_front();
        }
        if lock(&self.shared).canary.is_some() {
            return self.step_canary(&reading);
        }
        if self.in_shadow.is_some() {
            return self.step_shadow(&reading);
        }
        self.step_idle(&reading, stop)
    }

    /// Look for a new file; check it; start its shadow stage (or install it).
    /// Not before the live generation has run for a canary window's length:
    /// its figures over that time are what the new one is judged against.
    fn step_idle(&mut self, reading: &Status, stop: &AtomicBool) -> Result<()> {
        let span = self
            .history
            .front()
            .map_or(Duration::ZERO, |(t, _)| t.elapsed());
        if span < self.cfg.canary {
            return Ok(());
        }
        let Some(mut file) = self.scanner.next(&self.cfg.dir)? else {
            return Ok(());
        };
        if file.status.is_final() {
            // Refused without reading (its size).
            let why = file.status.reason.clone();
            finish(&self.shared, &mut file, "rejected", why);
            return Ok(());
        }
        // Without a status file nobody learns the outcome and a restart
        // would try the file again: passed over (not an error that ends
        // the watcher) until the file or its status file changes.
        if let Err(e) = file.write_status() {
            warn!(
                "model-watch: {}: passed over until it changes: {e:#}",
                file.path.display()
            );
            self.scanner.skip(&file.path);
            return Ok(());
        }
        self.set_stage("verifying");
        let ensemble = match candidate::check(&mut file, stop) {
            Ok(e) => e,
            // No verdict: the file is taken up again at the next start.
            Err(e) if e.is::<candidate::Stopped>() => return Ok(()),
            Err(e) => {
                finish(&self.shared, &mut file, "rejected", format!("{e:#}"));
                return Ok(());
            }
        };
        if self.cfg.shadow.is_zero() {
            return self.install(file, ensemble, (None, None), reading);
        }
        let done = self
            .shadow
            .install(|g| arbor_model::flat::flatten(&ensemble, g))?;
        file.status.enter(
            "shadow",
            format!(
                "walked beside the live model as shadow generation {} for {:?}, at least {} bursts",
                done.generation, self.cfg.shadow, self.cfg.limits.min_bursts
            ),
        );
        if let Err(e) = file.write_status() {
            warn!("model-watch: {e:#}");
        }
        info!(
            "model-watch: {}: {}",
            file.path.display(),
            file.status.reason
        );
        self.set_stage("shadow");
        self.in_shadow = Some(InShadow {
            file,
            ensemble,
            baseline: reading.clone(),
            live_generation: lock(&self.live).slot.generation(),
            since: Instant::now(),
        });
        Ok(())
    }

    fn step_shadow(&mut self, reading: &Status) -> Result<()> {
        let Some(sh) = &self.in_shadow else {
            return Ok(());
        };
        if lock(&self.live).slot.generation() != sh.live_generation {
            // Another install (`swap`) changed the model it is compared
            // with: start over, the file stays undecided.
            info!(
                "model-watch: {}: the live model changed during its shadow stage; starting over",
                sh.file.path.display()
            );
            self.in_shadow = None;
            self.shadow.clear()?;
            self.set_stage("idle");
            return Ok(());
        }
        let elapsed = sh.since.elapsed();
        if elapsed < self.cfg.shadow {
            return Ok(());
        }
        let d = reading.delta(&sh.baseline);
        let (cand, live) = (
            Confusion::from_rows(&d.shadow_confusion),
            Confusion::from_rows(&d.paired_confusion),
        );
        let judged = verdict::shadow(&cand, &live, &self.cfg.limits);
        if judged == Judgement::Wait && elapsed < self.cfg.shadow * GIVE_UP_AFTER {
            return Ok(());
        }
        let mut sh = self.in_shadow.take().context("no model in shadow")?;
        self.shadow.clear()?;
        match judged {
            Judgement::Pass(why) => {
                info!("model-watch: {}: {why}", sh.file.path.display());
                sh.file.status.reason = why;
                self.install(sh.file, sh.ensemble, (cand.score(), live.score()), reading)
            }
            Judgement::Fail(why) => {
                finish(&self.shared, &mut sh.file, "rejected", why);
                Ok(())
            }
            Judgement::Wait => {
                finish(
                    &self.shared,
                    &mut sh.file,
                    "rejected",
                    format!(
                        "only {} bursts in {elapsed:.0?} of shadow, fewer than the {} needed",
                        cand.total(),
                        self.cfg.limits.min_bursts
                    ),
                );
                Ok(())
            }
        }
    }

    /// Install as a new generation and open its canary window.
    fn install(
        &mut self,
        mut file: Candidate,
        ensemble: Ensemble,
        shadow_scores: (Option<f64>, Option<f64>),
        reading: &Status,
    ) -> Result<()> {
        let since = self.history.front().map_or(reading, |(_, s)| s).clone();
        let before = reading.delta(&since);
        let (previous, done) = {
            let mut live = lock(&self.live);
            let previous = live.carry();
            let done = live
                .slot
                .install(|g| arbor_model::flat::flatten(&ensemble, g))
                .context("installing a watched model")?;
            live.ensemble = Some(ensemble);
            live.stored = None;
            (previous, done)
        };
        // The previous generation walks in shadow during the window: the
        // live score is judged against it on the same bursts.
        let previous_in_shadow = match &previous.ensemble {
            Some(e) => {
                self.shadow
                    .install(|g| arbor_model::flat::flatten(e, g))
                    .context("walking the previous generation in shadow")?;
                true
            }
            None => false,
        };
        file.status.generation = done.generation;
        file.status.previous_generation = previous.generation;
        file.status.enter(
            "canary",
            format!(
                "installed as generation {} (replacing {}) for {:?}, at least {} bursts",
                done.generation, previous.generation, self.cfg.canary, self.cfg.limits.min_bursts
            ),
        );
        if let Err(e) = file.write_status() {
            warn!("model-watch: {e:#}");
        }
        info!(
            "model-watch: {}: {}",
            file.path.display(),
            file.status.reason
        );
        let mut s = lock(&self.shared);
        {
            let mut st = lock(&s.stats);
            st.installed += 1;
            st.stage = "canary".into();
        }
        s.canary = Some(Canary {
            file,
            previous,
            generation: done.generation,
            at_install: reading.clone(),
            before,
            since: Instant::now(),
            shadow_scores,
            previous_in_shadow,
        });
        Ok(())
    }

    fn step_canary(&mut self, reading: &Status) -> Result<()> {
        let (generation, elapsed, judged) = {
            let s = lock(&self.shared);
            let Some(c) = &s.canary else { return Ok(()) };
            let after = reading.delta(&c.at_install);
            (
                c.generation,
                c.since.elapsed(),
                verdict::canary(&c.before, &after, c.previous_in_shadow, &self.cfg.limits),
            )
        };
        if lock(&self.live).slot.generation() != generation {
            let Some(mut c) = lock(&self.shared).canary.take() else {
                return Ok(());
            };
            self.shadow.clear()?;
            finish(
                &self.shared,
                &mut c.file,
                "superseded",
                format!(
                    "another model was installed during the canary window of generation {generation}"
                ),
            );
            return Ok(());
        }
        if elapsed < self.cfg.canary
            || (judged == Judgement::Wait && elapsed < self.cfg.canary * GIVE_UP_AFTER)
        {
            return Ok(());
        }
        let Some(mut c) = lock(&self.shared).canary.take() else {
            return Ok(());
        };
        self.shadow.clear()?;
        match judged {
            Judgement::Pass(why) => {
                let saved = self.save(&c, reading);
                let why = match saved {
                    Ok(n) => {
                        c.file.status.saved_as = Some(n);
                        lock(&self.live).stored = Some(n);
                        format!("{why}; saved as gen-{n:06}")
                    }
                    Err(e) => format!("{why}; NOT saved: {e:#}"),
                };
                finish(&self.shared, &mut c.file, "kept", why);
            }
            Judgement::Fail(why) => self.roll_back(c, why)?,
            Judgement::Wait => {
                let why = format!(
                    "too few bursts to judge in {elapsed:.0?} (needs {})",
                    self.cfg.limits.min_bursts
                );
                self.roll_back(c, why)?;
            }
        }
        Ok(())
    }

    fn roll_back(&mut self, mut c: Canary, why: String) -> Result<()> {
        reinstall(&mut lock(&self.live), &c.previous)
            .context("rolling back to the previous generation")?;
        finish(
            &self.shared,
            &mut c.file,
            "rolled-back",
            format!("{why}; generation {} is live again", c.previous.generation),
        );
        Ok(())
    }

    /// Save a kept model in --model-dir with its lineage.
    fn save(&self, c: &Canary, reading: &Status) -> Result<u64> {
        let after = reading.delta(&c.at_install);
        let mut lineage = Lineage {
            generation: 0,
            parent: c.previous.stored,
            time: unix_now(),
            samples: 0,
            holdout_rows: 0,
            holdout_score: None,
            holdout_balanced_accuracy: None,
            parent_holdout_score: None,
            parent_live_score: Confusion::from_rows(&c.before.confusion).score(),
            shadow_score: c.shadow_scores.0,
            parent_shadow_score: c.shadow_scores.1,
            promoted: true,
            installed_as: c.generation,
            source: Some("model-watch".into()),
            sha256: Some(c.file.status.sha256.clone()),
        };
        let n = self.store.save(&c.file.bytes, &mut lineage)?;
        if let Some(score) = Confusion::from_rows(&after.confusion).score() {
            let rec = arbor_learn::generations::LiveRecord {
                live_score: score,
                live_balanced_accuracy: Confusion::from_rows(&after.confusion).balanced_accuracy(),
                bursts: after.metrics.model_outcomes,
                time: unix_now(),
            };
            self.store.record_live(n, &rec)?;
        }
        Ok(n)
    }
}
