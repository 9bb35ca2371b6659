//! Online learning: a bounded window of outcome samples, periodic retraining
//! and the decision to promote a candidate over the live model.
//!
//! This module is pure logic: the scheduler's learning thread feeds it
//! samples, asks it for candidates and installs what it promotes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::learn::cart::{self, CartParams};
use crate::model::ensemble::Ensemble;
use crate::sched::samples::Sample;
use crate::schema::NR_FEATURES;

/// What the learning thread may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LearnMode {
    /// Never train; the model changes only through --model or `swap`.
    Off,
    /// Train candidates and walk them in BPF beside the live model, counting
    /// their accuracy on real outcomes; never promote.
    Shadow,
    /// Train candidates and promote those that beat the live model.
    On,
}

/// Learning parameters.
#[derive(Debug, Clone)]
pub struct LearnConfig {
    pub mode: LearnMode,
    /// Samples kept (the oldest go first): caps memory at about
    /// `window * size_of::<Sample>()`.
    pub window: usize,
    /// Train a candidate at most this often.
    pub interval: Duration,
    /// ... and only once this many new samples arrived since the last one.
    pub min_new_samples: usize,
    /// Never train on fewer samples than this.
    pub min_samples: usize,
    /// Share of the newest samples held out for evaluation (never trained on).
    pub holdout: f64,
    /// Accuracy (0..1) a candidate must beat the live model by.
    pub margin: f64,
    /// Bursts a candidate must be walked in shadow before it may be promoted
    /// (0: promote on the held-out evaluation alone).
    pub shadow_bursts: u64,
    pub cart: CartParams,
}

/// How a candidate did on the held-out samples.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Evaluation {
    pub train_rows: usize,
    pub holdout_rows: usize,
    pub candidate_accuracy: f64,
    /// None when no model is live (every task gets the fallback class).
    pub live_accuracy: Option<f64>,
    pub train_ms: f64,
}

impl Evaluation {
    /// Does the candidate beat the live model by `margin`?
    pub fn beats_live(&self, margin: f64) -> bool {
        self.candidate_accuracy >= self.live_accuracy.unwrap_or(0.0) + margin
    }
}

/// The learner's counters, reported in `status` and `--stats`.
#[derive(Debug, Clone, Default, Serialize)]
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
    /// Generation live now, and its accuracy on real outcomes (BPF counters)
    /// since it was installed.
    pub live_generation: u64,
    pub live_accuracy: Option<f64>,
    /// At the last promotion: the replaced generation's live accuracy.
    pub parent_live_accuracy: Option<f64>,
    /// Samples per second reaching the learner (over the last tick).
    pub samples_per_sec: f64,
}

/// The bounded sample window and the retraining schedule.
pub struct Learner {
    cfg: LearnConfig,
    window: VecDeque<([u32; NR_FEATURES], u8)>,
    new_since_train: usize,
    last_train: Option<Instant>,
    pub stats: LearnStats,
}

impl Learner {
    pub fn new(cfg: LearnConfig) -> Self {
        Self {
            window: VecDeque::with_capacity(cfg.window.min(1 << 20)),
            cfg,
            new_since_train: 0,
            last_train: None,
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
        }
        self.window.push_back((s.features, s.actual));
        self.new_since_train += 1;
        self.stats.samples_seen += 1;
        self.stats.window_len = self.window.len();
    }

    /// Is it time to train a candidate?
    pub fn due(&self, now: Instant) -> bool {
        self.cfg.mode != LearnMode::Off
            && self.window.len() >= self.cfg.min_samples
            && self.new_since_train >= self.cfg.min_new_samples
            && self
                .last_train
                .is_none_or(|t| now.duration_since(t) >= self.cfg.interval)
    }

    /// Train a candidate on the older part of the window and evaluate it and
    /// `live` on the newest part.
    pub fn train_candidate(
        &mut self,
        live: Option<&Ensemble>,
        now: Instant,
    ) -> Result<(Ensemble, Evaluation)> {
        self.last_train = Some(now);
        self.new_since_train = 0;
        let n = self.window.len();
        let holdout = ((n as f64 * self.cfg.holdout).round() as usize).clamp(1, n - 1);
        let split = n - holdout;
        let (x, y): (Vec<_>, Vec<_>) = self.window.iter().take(split).copied().unzip();
        let t0 = Instant::now();
        let candidate = cart::train(&x, &y, &self.cfg.cart)?;
        let train_ms = t0.elapsed().as_secs_f64() * 1e3;
        let held: Vec<_> = self.window.iter().skip(split).copied().collect();
        let eval = Evaluation {
            train_rows: split,
            holdout_rows: held.len(),
            candidate_accuracy: accuracy(&candidate, &held)?,
            live_accuracy: live.map(|m| accuracy(m, &held)).transpose()?,
            train_ms,
        };
        self.stats.candidates_trained += 1;
        self.stats.last_evaluation = Some(eval);
        Ok((candidate, eval))
    }

    /// Record a promotion or a rejection and why.
    pub fn verdict(&mut self, promoted: bool, why: String) {
        if promoted {
            self.stats.promoted += 1;
        } else {
            self.stats.rejected += 1;
        }
        self.stats.last_verdict = why;
    }
}

/// Share of `rows` whose class `model` predicts correctly.
pub fn accuracy(model: &Ensemble, rows: &[([u32; NR_FEATURES], u8)]) -> Result<f64> {
    if rows.is_empty() {
        return Ok(0.0);
    }
    let mut hit = 0usize;
    for (x, y) in rows {
        if model.predict(x)? == *y as usize {
            hit += 1;
        }
    }
    Ok(hit as f64 / rows.len() as f64)
}

/// Explain a held-out evaluation in one line.
pub fn describe(e: &Evaluation) -> String {
    let live = e
        .live_accuracy
        .map_or("none (fallback class)".to_string(), |a| {
            format!("{:.1}%", a * 100.0)
        });
    format!(
        "candidate {:.1}% vs live {} on {} held-out samples (trained on {} in {:.1} ms)",
        e.candidate_accuracy * 100.0,
        live,
        e.holdout_rows,
        e.train_rows,
        e.train_ms
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::CLASS_FALLBACK;

    fn cfg(mode: LearnMode) -> LearnConfig {
        LearnConfig {
            mode,
            window: 1000,
            interval: Duration::from_secs(0),
            min_new_samples: 100,
            min_samples: 200,
            holdout: 0.25,
            margin: 0.02,
            shadow_bursts: 0,
            cart: CartParams::default(),
        }
    }

    /// Bursts that follow the last burst: class by last_burst_us.
    fn sample(i: u32) -> Sample {
        let last = (i * 7919) % 8000;
        let mut features = [0u32; NR_FEATURES];
        features[0] = last;
        features[5] = 100;
        Sample {
            ts_ns: i as u64,
            pid: 1,
            generation: 0,
            features,
            predicted: CLASS_FALLBACK as u8,
            actual: crate::schema::class_of_burst(last) as u8,
            burst_us: last,
            truncated: false,
            shadow: None,
        }
    }

    #[test]
    fn window_is_bounded_and_schedule_respected() {
        let mut l = Learner::new(cfg(LearnMode::On));
        for i in 0..150 {
            l.push(&sample(i));
        }
        assert!(!l.due(Instant::now()), "below min_samples");
        for i in 150..5000 {
            l.push(&sample(i));
        }
        assert_eq!(l.stats.window_len, 1000);
        assert_eq!(l.stats.samples_seen, 5000);
        assert!(l.due(Instant::now()));
        l.train_candidate(None, Instant::now()).unwrap();
        assert!(!l.due(Instant::now()), "needs new samples after training");

        let off = Learner::new(cfg(LearnMode::Off));
        assert!(!off.due(Instant::now()));
    }

    #[test]
    fn learns_the_rule_and_beats_a_wrong_live_model() {
        let mut l = Learner::new(cfg(LearnMode::On));
        for i in 0..1000 {
            l.push(&sample(i));
        }
        // A live model that always says "long".
        let (wrong, _) = {
            let mut w = Learner::new(cfg(LearnMode::On));
            for i in 0..1000 {
                let mut s = sample(i);
                s.actual = 3;
                w.push(&s);
            }
            w.train_candidate(None, Instant::now()).unwrap()
        };
        let (cand, eval) = l.train_candidate(Some(&wrong), Instant::now()).unwrap();
        assert_eq!(eval.holdout_rows, 250);
        assert_eq!(eval.train_rows, 750);
        assert!(eval.candidate_accuracy > 0.95, "{eval:?}");
        assert!(eval.live_accuracy.unwrap() < 0.7, "{eval:?}");
        assert!(eval.beats_live(0.02));
        // The same model is no better than itself.
        let again = Evaluation {
            live_accuracy: Some(eval.candidate_accuracy),
            ..eval
        };
        assert!(!again.beats_live(0.02));
        assert!(describe(&eval).contains("held-out"));
        let _ = cand;
        l.verdict(true, "better".into());
        l.verdict(false, "worse".into());
        assert_eq!((l.stats.promoted, l.stats.rejected), (1, 1));
        assert_eq!(l.stats.last_verdict, "worse");
    }
}
