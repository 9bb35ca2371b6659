//! The learning thread's glue: it feeds the learner, runs candidates in the
//! shadow slot, promotes winners into the live slot and keeps every promoted
//! generation on disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use libbpf_rs::MapHandle;
use log::{debug, info, warn};
use serde::Serialize;

use crate::learn::online::{describe, Evaluation, LearnMode, LearnStats, Learner};
use crate::model::ensemble::Ensemble;
use crate::sched::model_slot::ModelSlot;
use crate::sched::samples::Sample;
use crate::sched::stats::Stats;

/// The live model: its slot and, when known, its ensemble (so candidates
/// can be compared with it on the same held-out samples).
pub struct LiveModel {
    pub slot: ModelSlot,
    pub ensemble: Option<Ensemble>,
}

/// Sidecar written beside every promoted generation's ONNX file.
#[derive(Debug, Serialize)]
pub struct Sidecar {
    pub generation: u64,
    pub parent_generation: u64,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub samples_used: usize,
    pub holdout_accuracy: f64,
    /// The parent's accuracy on the same held-out samples (None: fallback).
    pub parent_holdout_accuracy: Option<f64>,
    /// The parent's live accuracy (BPF counters) while it was installed.
    pub parent_live_accuracy: Option<f64>,
    /// The candidate's accuracy walked in shadow, when it ran there.
    pub shadow_accuracy: Option<f64>,
}

/// A candidate being walked in the shadow slot.
struct InShadow {
    candidate: Ensemble,
    eval: Evaluation,
    baseline: Stats,
}

pub struct LearningThread {
    learner: Learner,
    live: Arc<Mutex<LiveModel>>,
    shadow: ModelSlot,
    cpu_stats: MapHandle,
    model_dir: PathBuf,
    pub stats: Arc<Mutex<LearnStats>>,
    in_shadow: Option<InShadow>,
    /// Counters when the live generation was installed, for its live accuracy.
    live_since: (u64, Stats),
    /// For samples_per_sec.
    rate_mark: (Instant, u64),
    last_stats_read: Instant,
}

impl LearningThread {
    pub fn new(
        learner: Learner,
        live: Arc<Mutex<LiveModel>>,
        shadow: ModelSlot,
        cpu_stats: MapHandle,
        model_dir: PathBuf,
    ) -> Result<Self> {
        std::fs::create_dir_all(&model_dir)
            .with_context(|| format!("creating the model directory {}", model_dir.display()))?;
        let baseline = Stats::read(&cpu_stats)?;
        let generation = live.lock().unwrap().slot.generation();
        Ok(Self {
            learner,
            live,
            shadow,
            cpu_stats,
            model_dir,
            stats: Arc::new(Mutex::new(LearnStats::default())),
            in_shadow: None,
            live_since: (generation, baseline),
            rate_mark: (Instant::now(), 0),
            last_stats_read: Instant::now(),
        })
    }

    pub fn push(&mut self, s: &Sample) {
        self.learner.push(s);
    }

    /// Called between ring buffer polls: train, shadow, promote.
    pub fn tick(&mut self) {
        if let Err(e) = self.step() {
            warn!("learning: {e:#}");
            self.learner.stats.last_verdict = format!("error: {e:#}");
        }
        if self.last_stats_read.elapsed() >= Duration::from_secs(1) {
            self.last_stats_read = Instant::now();
            match Stats::read(&self.cpu_stats) {
                Ok(now) => {
                    self.learner.stats.live_accuracy = self.live_accuracy(&now);
                    self.learner.stats.live_generation = self.live_since.0;
                }
                Err(e) => warn!("learning: {e:#}"),
            }
            let (t, seen) = self.rate_mark;
            let secs = t.elapsed().as_secs_f64();
            self.learner.stats.samples_per_sec =
                (self.learner.stats.samples_seen - seen) as f64 / secs;
            self.rate_mark = (Instant::now(), self.learner.stats.samples_seen);
        }
        *self.stats.lock().unwrap() = self.learner.stats.clone();
    }

    /// Live accuracy (BPF counters) of the live generation since it was installed.
    fn live_accuracy(&mut self, now: &Stats) -> Option<f64> {
        let generation = self.live.lock().unwrap().slot.generation();
        if generation != self.live_since.0 {
            // Installed by `swap` meanwhile: start counting afresh.
            self.live_since = (generation, now.clone());
        }
        now.delta(&self.live_since.1).accuracy()
    }

    fn step(&mut self) -> Result<()> {
        let cfg = self.learner.config().clone();
        if let Some(sh) = &self.in_shadow {
            let now = Stats::read(&self.cpu_stats)?;
            let d = now.delta(&sh.baseline);
            let shadowed: u64 = d.shadow_confusion.iter().flatten().sum();
            if shadowed < cfg.shadow_bursts {
                return Ok(());
            }
            let sh = self.in_shadow.take().unwrap();
            let (shadow_acc, live_acc) = d.shadow_record().unwrap_or((0.0, None));
            self.shadow.clear()?;
            let record = format!(
                "shadow record over {shadowed} bursts: candidate {:.1}% vs live {}",
                shadow_acc * 100.0,
                live_acc.map_or("none (fallback)".into(), |a| format!("{:.1}%", a * 100.0))
            );
            if shadow_acc >= live_acc.unwrap_or(0.0) + cfg.margin {
                self.promote(sh.candidate, sh.eval, Some(shadow_acc), &record)?;
            } else {
                info!("learning: rejected after shadow: {record}");
                self.learner.verdict(false, format!("rejected: {record}"));
            }
            return Ok(());
        }

        let now = Instant::now();
        if !self.learner.due(now) {
            return Ok(());
        }
        let live = self.live.lock().unwrap().ensemble.clone();
        let (candidate, eval) = self.learner.train_candidate(live.as_ref(), now)?;
        let summary = describe(&eval);
        debug!("learning: {summary}");
        match cfg.mode {
            LearnMode::Off => {}
            LearnMode::Shadow => {
                let done = self
                    .shadow
                    .install(|g| crate::model::flat::flatten(&candidate, g))?;
                info!(
                    "learning: candidate generation {} walking in shadow: {summary}",
                    done.generation
                );
                self.learner.stats.last_verdict = format!("in shadow: {summary}");
            }
            LearnMode::On if !eval.beats_live(cfg.margin) => {
                info!("learning: rejected: {summary}");
                self.learner.verdict(
                    false,
                    format!(
                        "rejected: {summary}; needs a {:.1}-point margin",
                        cfg.margin * 100.0
                    ),
                );
            }
            LearnMode::On if cfg.shadow_bursts > 0 => {
                let done = self
                    .shadow
                    .install(|g| crate::model::flat::flatten(&candidate, g))?;
                info!(
                    "learning: candidate generation {} in shadow for {} bursts: {summary}",
                    done.generation, cfg.shadow_bursts
                );
                self.learner.stats.last_verdict = format!("in shadow: {summary}");
                self.in_shadow = Some(InShadow {
                    candidate,
                    eval,
                    baseline: Stats::read(&self.cpu_stats)?,
                });
            }
            LearnMode::On => self.promote(candidate, eval, None, &summary)?,
        }
        Ok(())
    }

    fn promote(
        &mut self,
        candidate: Ensemble,
        eval: Evaluation,
        shadow_accuracy: Option<f64>,
        why: &str,
    ) -> Result<()> {
        let now_stats = Stats::read(&self.cpu_stats)?;
        let parent_live_accuracy = self.live_accuracy(&now_stats);
        let t0 = Instant::now();
        let (generation, parent) = {
            let mut live = self.live.lock().unwrap();
            let parent = live.slot.generation();
            let done = live
                .slot
                .install(|g| crate::model::flat::flatten(&candidate, g))?;
            live.ensemble = Some(candidate.clone());
            (done.generation, parent)
        };
        let swap_us = t0.elapsed().as_micros() as u64;
        self.live_since = (generation, now_stats);
        self.learner.stats.last_swap_us = Some(swap_us);
        self.learner.stats.parent_live_accuracy = parent_live_accuracy;
        self.learner.stats.live_generation = generation;
        self.learner.stats.live_accuracy = None;
        info!(
            "learning: promoted generation {generation} (parent {parent}, live accuracy {}) in {swap_us} µs: {why}",
            parent_live_accuracy.map_or("-".into(), |a| format!("{:.1}%", a * 100.0))
        );
        self.learner
            .verdict(true, format!("promoted generation {generation}: {why}"));
        let sidecar = Sidecar {
            generation,
            parent_generation: parent,
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            samples_used: eval.train_rows,
            holdout_accuracy: eval.candidate_accuracy,
            parent_holdout_accuracy: eval.live_accuracy,
            parent_live_accuracy,
            shadow_accuracy,
        };
        save_generation(&self.model_dir, &candidate, &sidecar)
    }
}

/// Write `gen-NNNNNN.onnx` and its `.json` sidecar into `dir`.
pub fn save_generation(dir: &Path, model: &Ensemble, sidecar: &Sidecar) -> Result<()> {
    let stem = dir.join(format!("gen-{:06}", sidecar.generation));
    let onnx = stem.with_extension("onnx");
    crate::model::onnx_export::write_file(model, &onnx)?;
    let json = stem.with_extension("json");
    std::fs::write(&json, serde_json::to_string_pretty(sidecar)? + "\n")
        .with_context(|| format!("writing {}", json.display()))?;
    info!("learning: saved {}", onnx.display());
    Ok(())
}
