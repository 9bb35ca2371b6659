//! Online learning: a bounded window of outcome samples, periodic retraining
//! and the decision to promote a candidate over the running tree.
//!
//! This module is pure logic: the scheduler's learning thread feeds it
//! samples, asks it for candidates and installs what it promotes. Candidates
//! are judged by the cost-weighted score of [`super::cost`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::cart::{self, CartParams};
use crate::cost::Confusion;
use arbor_intf::sample::Sample;
use arbor_intf::schema::{NR_FEATURES, POINT_WAKEUP};
use arbor_model::ensemble::Ensemble;

/// What the learning thread may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LearnMode {
    /// Never train; the model changes only through --model or `swap`.
    Off,
    /// Train candidates and walk them in BPF beside the live model, counting
    /// their score on real outcomes; never promote.
    Shadow,
    /// Train candidates and promote those that beat the live model.
    On,
}

/// Learning parameters.
#[derive(Debug, Clone)]
pub struct LearnConfig {
    pub mode: LearnMode,
    /// Samples kept (the oldest go first): caps memory at about
    /// `window * 48` bytes.
    pub window: usize,
    /// Train a candidate at most this often.
    pub interval: Duration,
    /// ... and only once this many new samples arrived since the last one.
    pub min_new_samples: usize,
    /// Never train on fewer samples than this.
    pub min_samples: usize,
    /// Share of the samples held out for evaluation (never trained on),
    /// spread evenly over the window by arrival order (see [`is_held_out`]).
    pub holdout: f64,
    /// Score points (0..100) a candidate must beat the running tree by.
    pub margin: f64,
    /// Bursts a candidate must be walked in shadow before it may be promoted
    /// (0: promote on the held-out evaluation alone).
    pub shadow_bursts: u64,
    /// Train on at most this many samples (the newest of the training
    /// samples): bounds the time and CPU one candidate costs.
    pub max_train_rows: usize,
    pub cart: CartParams,
}

/// Rejections in a row double the wait before the next candidate, up to
/// `interval << MAX_BACKOFF`.
pub const MAX_BACKOFF: u32 = 3;

/// Is the sample that arrived `seq`-th (0-based, over the learner's life)
/// held out for evaluation? Held-out samples are spread evenly by arrival
/// order, a share `holdout` of them, so training and evaluation samples come
/// from the same stretch of time: right after a workload switch the newest
/// samples are trained on too, not only scored. The choice depends on the
/// sample alone, so a sample trained on once is never held out later and a
/// parent tree is never scored on samples it was trained on.
pub fn is_held_out(seq: u64, holdout: f64) -> bool {
    let h = holdout.clamp(0.0, 1.0);
    ((seq + 1) as f64 * h).floor() > (seq as f64 * h).floor()
}

/// How a candidate and the running tree ("parent") did on the same
/// held-out samples. Scores and balanced accuracies are in points (0..100).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub train_rows: usize,
    pub holdout_rows: usize,
    pub candidate_score: f64,
    pub candidate_balanced_accuracy: f64,
    /// None when no model is running (every task gets the fallback class).
    pub parent_score: Option<f64>,
    pub parent_balanced_accuracy: Option<f64>,
    pub train_ms: f64,
}

impl Evaluation {
    /// Does the candidate beat the parent by `margin` points? With no
    /// parent tree there is nothing to beat.
    pub fn beats_parent(&self, margin: f64) -> bool {
        self.parent_score
            .is_none_or(|p| self.candidate_score >= p + margin)
    }
}

/// A candidate's shadow record: its decisions and the running tree's over
/// the same bursts (BPF counters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShadowRecord {
    pub candidate: Confusion,
    pub parent: Confusion,
}

impl ShadowRecord {
    /// Does the candidate beat the parent in shadow by `margin` points?
    /// A parent without model decisions (fallback) has nothing to beat.
    pub fn candidate_wins(&self, margin: f64) -> bool {
        match (self.candidate.score(), self.parent.score()) {
            (Some(c), Some(p)) => c >= p + margin,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "shadow record over {} bursts: candidate score {} vs running {}",
            self.candidate.total(),
            points(self.candidate.score()),
            points(self.parent.score())
        )
    }
}

/// What to do with a freshly trained candidate.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Shadow mode: walk it in shadow, never promote.
    ShadowOnly,
    /// Gated: it won on held-out; walk it in shadow before deciding.
    Shadow,
    /// It won on held-out and no shadow record is required.
    Promote,
    /// It lost on held-out.
    Reject(String),
}

/// The promotion rule for a candidate evaluated on held-out samples.
pub fn next_step(cfg: &LearnConfig, eval: &Evaluation) -> Next {
    match cfg.mode {
        LearnMode::Off | LearnMode::Shadow => Next::ShadowOnly,
        LearnMode::On if !eval.beats_parent(cfg.margin) => Next::Reject(format!(
            "rejected: {}; needs a {:.1}-point margin",
            describe(eval),
            cfg.margin
        )),
        LearnMode::On if cfg.shadow_bursts > 0 => Next::Shadow,
        LearnMode::On => Next::Promote,
    }
}

/// The learner's counters, reported in `status` and `--stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LearnStats {
    pub samples_seen: u64,
    pub window_len: usize,
    pub candidates_trained: u64,
    pub promoted: u64,
    pub rejected: u64,
    /// Why the last candidate was promoted or rejected.
    pub last_verdict: String,
    pub last_evaluation: Option<Evaluation>,
    /// Time from the promotion decision to the slot swap returning, µs.
    pub last_swap_us: Option<u64>,
    /// Scheduler generation live now, and its number in --model-dir when it
    /// is a saved generation.
    pub live_generation: u64,
    pub live_stored_generation: Option<u64>,
    /// Cost-weighted score (points) and balanced accuracy of the live
    /// generation on real outcomes (BPF counters) since it was installed.
    pub live_score: Option<f64>,
    pub live_balanced_accuracy: Option<f64>,
    pub live_bursts: u64,
    /// At the last promotion: the replaced generation's live score.
    pub parent_live_score: Option<f64>,
    /// Samples per second reaching the learner (over the last 10 s).
    pub samples_per_sec: f64,
    /// Batches handed to the learner.
    pub batches: u64,
}

/// The bounded sample window and the retraining schedule.
pub struct Learner {
    cfg: LearnConfig,
    window: VecDeque<([u32; NR_FEATURES], u8)>,
    /// The decision point of each window sample (`ARBOR_POINT_*`), in
    /// step with `window`.
    points: VecDeque<u8>,
    new_since_train: usize,
    last_train: Option<Instant>,
    /// Rejections in a row (capped at MAX_BACKOFF).
    backoff: u32,
    /// The live score when the current run of rejections began: the level
    /// the running tree held while candidates could not beat it.
    live_ref: Option<f64>,
    /// `samples_seen` when the live score first fell below `live_ref` by
    /// more than the margin (None: not degraded).
    degraded_since: Option<u64>,
    live_now: Option<f64>,
    pub stats: LearnStats,
}

impl Learner {
    pub fn new(cfg: LearnConfig) -> Self {
        // The window's memory is written once here, so the learner's
        // footprint is what it will be from the start, instead of growing
        // for as long as the window takes to fill (at a few hundred samples
        // a second, minutes).
        let cap = cfg.window.min(1 << 20);
        let mut window = VecDeque::with_capacity(cap);
        window.resize(cap, ([0; NR_FEATURES], 0));
        window.clear();
        let mut points = VecDeque::with_capacity(cap);
        points.resize(cap, 0);
        points.clear();
        Self {
            window,
            points,
            cfg,
            new_since_train: 0,
            last_train: None,
            backoff: 0,
            live_ref: None,
            degraded_since: None,
            live_now: None,
            stats: LearnStats::default(),
        }
    }

    pub fn config(&self) -> &LearnConfig {
        &self.cfg
    }

    /// Take one outcome sample into the window.
    pub fn push(&mut self, s: &Sample) {
        if self.window.len() == self.cfg.window {
            self.window.pop_front();
            self.points.pop_front();
        }
        self.window.push_back((s.features, s.actual));
        self.points.push_back(s.point);
        self.new_since_train += 1;
        self.stats.samples_seen += 1;
    }

    /// Take a batch of samples (no allocation once the window is full).
    pub fn push_batch(&mut self, batch: &[Sample]) {
        for s in batch {
            self.push(s);
        }
        self.stats.window_len = self.window.len();
        self.stats.batches += 1;
    }

    /// The wait between candidates now: the interval, doubled for each
    /// rejection in a row (up to 2^MAX_BACKOFF times).
    pub fn current_interval(&self) -> Duration {
        self.cfg.interval * (1u32 << self.backoff)
    }

    /// The running tree's recent live score (points), as it is measured.
    /// While it is more than the margin below the level it held when the
    /// rejections began, the workload has changed under it: candidates are
    /// trained at the plain interval, without back-off, until one is
    /// promoted or a whole window of samples has arrived since the drop
    /// (then the lower level is the new reference: no candidate trained on
    /// the new workload alone beat the running tree).
    pub fn observe_live(&mut self, score: Option<f64>) {
        self.live_now = score;
        let (Some(reference), Some(now)) = (self.live_ref, score) else {
            return;
        };
        if now >= reference - self.cfg.margin.max(1.0) {
            self.degraded_since = None;
            return;
        }
        let seen = self.stats.samples_seen;
        let since = *self.degraded_since.get_or_insert(seen);
        if seen - since >= self.cfg.window as u64 {
            self.live_ref = Some(now);
            self.degraded_since = None;
        } else {
            self.backoff = 0;
        }
    }

    /// Is it time to train a candidate?
    pub fn due(&self, now: Instant) -> bool {
        self.cfg.mode != LearnMode::Off
            && self.window.len() >= self.cfg.min_samples
            && self.new_since_train >= self.cfg.min_new_samples
            && self
                .last_train
                .is_none_or(|t| now.duration_since(t) >= self.current_interval())
    }

    /// Train a candidate on the window's training samples (the newest
    /// `max_train_rows` of them: decisions at wakeups and mid-burst, so the
    /// tree learns what elapsed time says of the rest of a burst) and score
    /// it and `parent` (the running tree) on its held-out samples
    /// ([`is_held_out`]) of wakeup decisions: the decision whose outcome the
    /// scheduler's confusion matrix and live score count.
    pub fn train_candidate(
        &mut self,
        parent: Option<&Ensemble>,
        now: Instant,
    ) -> Result<(Ensemble, Evaluation)> {
        self.last_train = Some(now);
        self.new_since_train = 0;
        self.stats.window_len = self.window.len();
        let n = self.window.len();
        anyhow::ensure!(n >= 2, "need at least 2 samples to train, have {n}");
        let n_train = self.training_rows().count();
        let n_held = self.judged_rows().count();
        anyhow::ensure!(
            n_train > 0 && n_held > 0,
            "{n} samples give {n_train} to train on and {n_held} to hold out"
        );
        // Only the rows trained on are copied (the newest max_train_rows of
        // them); the window is read in place, so training's scratch does not
        // grow with the window.
        let skip = n_train.saturating_sub(self.cfg.max_train_rows.max(1));
        let (x, y): (Vec<_>, Vec<_>) = self.training_rows().skip(skip).copied().unzip();
        let t0 = Instant::now();
        // Judged by the cost-weighted score, so labelled by least cost.
        let candidate = cart::cost_leaves(&cart::train(&x, &y, &self.cfg.cart)?);
        let train_ms = t0.elapsed().as_secs_f64() * 1e3;
        let cand = confusion(&candidate, self.judged_rows())?;
        let par = parent
            .map(|m| confusion(m, self.judged_rows()))
            .transpose()?;
        let eval = Evaluation {
            train_rows: x.len(),
            holdout_rows: n_held,
            candidate_score: cand.score().unwrap_or(0.0),
            candidate_balanced_accuracy: cand.balanced_accuracy().unwrap_or(0.0),
            parent_score: par.and_then(|c| c.score()),
            parent_balanced_accuracy: par.and_then(|c| c.balanced_accuracy()),
            train_ms,
        };
        self.stats.candidates_trained += 1;
        self.stats.last_evaluation = Some(eval);
        Ok((candidate, eval))
    }

    /// The window's samples, oldest first, read in place: whether each is
    /// held out ([`is_held_out`]), its decision point and its row.
    fn window_rows(&self) -> impl Iterator<Item = (bool, u8, &([u32; NR_FEATURES], u8))> + '_ {
        let first = self.stats.samples_seen - self.window.len() as u64;
        self.window
            .iter()
            .zip(&self.points)
            .enumerate()
            .map(move |(i, (r, &p))| (is_held_out(first + i as u64, self.cfg.holdout), p, r))
    }

    /// The training samples (every decision point), oldest first.
    fn training_rows(&self) -> impl Iterator<Item = &([u32; NR_FEATURES], u8)> + '_ {
        self.window_rows()
            .filter(|&(held, _, _)| !held)
            .map(|(_, _, r)| r)
    }

    /// The held-out samples of wakeup decisions, oldest first.
    fn judged_rows(&self) -> impl Iterator<Item = &([u32; NR_FEATURES], u8)> + '_ {
        self.window_rows()
            .filter(|&(held, p, _)| held && p == POINT_WAKEUP)
            .map(|(_, _, r)| r)
    }

    /// Record a promotion or a rejection and why.
    pub fn verdict(&mut self, promoted: bool, why: String) {
        if promoted {
            self.stats.promoted += 1;
            self.backoff = 0;
            self.live_ref = None;
            self.degraded_since = None;
            // The replaced tree's score says nothing about the new one.
            self.live_now = None;
        } else {
            self.stats.rejected += 1;
            if self.live_ref.is_none() {
                self.live_ref = self.live_now;
            }
            if self.degraded_since.is_none() {
                self.backoff = (self.backoff + 1).min(MAX_BACKOFF);
            }
        }
        self.stats.last_verdict = why;
    }
}

/// Predicted against actual class of `model` on `rows`.
pub fn confusion<'a>(
    model: &Ensemble,
    rows: impl IntoIterator<Item = &'a ([u32; NR_FEATURES], u8)>,
) -> Result<Confusion> {
    let mut c = Confusion::default();
    for (x, y) in rows {
        c.add(model.predict(x)?, *y as usize);
    }
    Ok(c)
}

fn points(v: Option<f64>) -> String {
    v.map_or("none (fallback class)".to_string(), |v| format!("{v:.1}"))
}

/// Explain a held-out evaluation in one line.
pub fn describe(e: &Evaluation) -> String {
    format!(
        "score {:.1} (balanced accuracy {:.1}%) vs running {} (balanced accuracy {}) on {} held-out samples (trained on {} in {:.1} ms)",
        e.candidate_score,
        e.candidate_balanced_accuracy,
        points(e.parent_score),
        e.parent_balanced_accuracy.map_or("-".into(), |v| format!("{v:.1}%")),
        e.holdout_rows,
        e.train_rows,
        e.train_ms
    )
}

#[cfg(test)]
mod tests;
