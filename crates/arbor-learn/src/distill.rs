//! `scx_arbor model distill`: a model too big for the BPF walk, replaced by
//! one bounded tree that imitates it.
//!
//! The big model is compiled exactly, as for installing, but without the
//! size limits, and predicts a class for every recorded sample. A CART tree
//! of bounded depth is fit to those predictions (not to the recorded
//! outcomes: the point is to keep what the big model learnt). Both models
//! are then scored on held-out samples: the small one's agreement with the
//! big one (fidelity), and, when the samples have an `actual` column, each
//! one's accuracy against the recorded class, so the user sees what the
//! smaller walk costs.

use std::fmt::Write;

use anyhow::{ensure, Context, Result};

use crate::cart::{self, CartParams, ClassWeight};
use arbor_intf::schema::{feature_index, CLASS_NAMES, MAX_WALK_STEPS, NR_CLASSES};
use arbor_model::ensemble::{Ensemble, Stats};
use arbor_model::onnx_import::import_bytes_unbounded;
use arbor_model::rows::{Row, Table};
use arbor_util::rng::SplitMix64;

/// Settings of a distillation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Depth of the small tree.
    pub max_depth: usize,
    /// Smallest number of samples in one of its leaves.
    pub min_samples_leaf: usize,
    /// Share of the samples held out for the report (0: report on all).
    pub holdout: f64,
    /// Seed of the held-out split.
    pub seed: u64,
}

/// `(right, total)` per class.
pub type PerClass = [(usize, usize); NR_CLASSES];

/// What was distilled and what it cost.
#[derive(Debug, Clone)]
pub struct Report {
    /// The big model's size.
    pub big: Stats,
    /// The small tree's size.
    pub small: Stats,
    /// Samples the small tree was fit to.
    pub trained: usize,
    /// Samples the scores below are over (held out unless `holdout` was 0).
    pub evaluated: usize,
    /// True when `evaluated` are the training samples themselves.
    pub on_training_set: bool,
    /// The small model agrees with the big one, by the big one's class.
    pub fidelity: PerClass,
    /// Against the recorded class, by recorded class: the big model's
    /// accuracy and the small one's (None without an `actual` column).
    pub accuracy: Option<(PerClass, PerClass)>,
}

fn total(p: &PerClass) -> (usize, usize) {
    (p.iter().map(|c| c.0).sum(), p.iter().map(|c| c.1).sum())
}

fn pct((a, t): (usize, usize)) -> String {
    if t == 0 {
        "-".into()
    } else {
        format!("{a}/{t} ({:.1}%)", 100.0 * a as f64 / t as f64)
    }
}

impl Report {
    /// Share of the evaluated samples where the small model agrees with the big one.
    pub fn fidelity_total(&self) -> (usize, usize) {
        total(&self.fidelity)
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let fits =
            if self.big.walk <= MAX_WALK_STEPS && arbor_intf::schema::MAX_TREES >= self.big.trees {
                "within the budget"
            } else {
                "beyond the budget"
            };
        let _ = writeln!(
            out,
            "big model: {} trees, {} nodes, depth {}, walks up to {} nodes per decision \
             ({fits} of {MAX_WALK_STEPS})",
            self.big.trees, self.big.nodes, self.big.max_depth, self.big.walk
        );
        let _ = writeln!(
            out,
            "small model: {} tree, {} nodes, {} leaves, depth {}, walks up to {} nodes",
            self.small.trees,
            self.small.nodes,
            self.small.leaves,
            self.small.max_depth,
            self.small.walk
        );
        let _ = writeln!(
            out,
            "fit to the big model's classes on {} samples; scored on {} {}",
            self.trained,
            self.evaluated,
            if self.on_training_set {
                "training samples (--holdout 0)"
            } else {
                "held-out samples"
            }
        );
        let _ = writeln!(
            out,
            "fidelity (small agrees with big), by the big model's class:"
        );
        for (c, &p) in self.fidelity.iter().enumerate() {
            if p.1 > 0 {
                let _ = writeln!(out, "  {:<7} {}", CLASS_NAMES[c], pct(p));
            }
        }
        let _ = writeln!(out, "  {:<7} {}", "all", pct(self.fidelity_total()));
        let Some((big_accuracy, small_accuracy)) = &self.accuracy else {
            let _ = writeln!(
                out,
                "no `actual` column: accuracy against the recorded class not reported"
            );
            return out;
        };
        let _ = writeln!(
            out,
            "accuracy against the recorded actual class, by actual class:\n  {:<7} {:<22} small",
            "", "big"
        );
        for ((name, &big), &small) in CLASS_NAMES.iter().zip(big_accuracy).zip(small_accuracy) {
            if big.1 > 0 {
                let _ = writeln!(out, "  {name:<7} {:<22} {}", pct(big), pct(small));
            }
        }
        let _ = writeln!(
            out,
            "  {:<7} {:<22} {}",
            "all",
            pct(total(big_accuracy)),
            pct(total(small_accuracy))
        );
        out
    }
}

/// Distills the ONNX model `big` over the samples of `table` (a `--record`
/// CSV: the features the big model splits on, and `actual`). Returns the
/// small tree and the report.
pub fn distill(big: &[u8], table: &Table, params: &Params) -> Result<(Ensemble, Report)> {
    ensure!(
        (0.0..1.0).contains(&params.holdout),
        "--holdout must be in [0, 1)"
    );
    let imported = import_bytes_unbounded(big).context("compiling the big model")?;
    let big_e = &imported.ensemble;
    let big_stats = big_e.check_semantics()?;
    let used = big_e.used_features();
    // Every schema feature the CSV has: the small tree may split on any.
    let present: Vec<usize> = table
        .header
        .iter()
        .filter_map(|h| feature_index(h))
        .collect();
    for f in &used {
        ensure!(
            present.contains(f),
            "the CSV has no column {} (the big model splits on it)",
            arbor_intf::schema::FEATURES[*f].name
        );
    }
    let x: Vec<Row> = table.rows_of(&present)?;
    ensure!(
        x.len() >= 2,
        "need at least 2 samples, the CSV has {}",
        x.len()
    );
    // The recorded classes are only reported against: the big model labels
    // the rows itself, so a CSV without them is distilled all the same.
    let actual: Option<Vec<usize>> = if table.header.iter().any(|h| h == "actual") {
        let classes = table
            .u32_column("actual")?
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                ensure!(
                    (c as usize) < NR_CLASSES,
                    "row {}: actual = {c} is not a class",
                    i + 2
                );
                Ok(c as usize)
            })
            .collect::<Result<_>>()?;
        Some(classes)
    } else {
        None
    };
    let labels: Vec<usize> = x
        .iter()
        .map(|r| big_e.predict(r))
        .collect::<Result<_>>()
        .context("predicting with the big model")?;

    let mut order: Vec<usize> = (0..x.len()).collect();
    SplitMix64::new(params.seed).shuffle(&mut order);
    let n_test = (x.len() as f64 * params.holdout).round() as usize;
    let (test, fit) = order.split_at(n_test.min(x.len() - 1));
    let fx: Vec<Row> = fit.iter().map(|&i| x[i]).collect();
    let fy: Vec<u8> = fit.iter().map(|&i| labels[i] as u8).collect();
    let small = cart::train(
        &fx,
        &fy,
        &CartParams {
            max_depth: params.max_depth,
            min_samples_leaf: params.min_samples_leaf,
            class_weight: ClassWeight::None,
            ..CartParams::default()
        },
    )
    .context("fitting the small tree")?;
    let small_stats = small
        .validate()
        .context("the small tree does not fit the BPF limits")?;

    let on_training_set = test.is_empty();
    let eval: &[usize] = if on_training_set { fit } else { test };
    let mut fidelity: PerClass = [(0, 0); NR_CLASSES];
    let mut big_accuracy: PerClass = [(0, 0); NR_CLASSES];
    let mut small_accuracy: PerClass = [(0, 0); NR_CLASSES];
    for &i in eval {
        let s = small.predict(&x[i])?;
        let b = labels[i];
        fidelity[b].1 += 1;
        fidelity[b].0 += usize::from(s == b);
        if let Some(actual) = &actual {
            let a = actual[i];
            big_accuracy[a].1 += 1;
            big_accuracy[a].0 += usize::from(b == a);
            small_accuracy[a].1 += 1;
            small_accuracy[a].0 += usize::from(s == a);
        }
    }
    let report = Report {
        big: big_stats,
        small: small_stats,
        trained: fit.len(),
        evaluated: eval.len(),
        on_training_set,
        fidelity,
        accuracy: actual.is_some().then_some((big_accuracy, small_accuracy)),
    };
    Ok((small, report))
}
