//! How an ONNX tree ensemble's leaf weights and base values become real
//! per-class scores (the classifier's and the regressor's rules, class
//! labels, post-transforms), before the importer fixes them to integers.

use std::collections::BTreeSet;

use super::onnx_pb::NodeProto;
use anyhow::{anyhow, bail, ensure, Result};

use super::ensemble::ABSENT_SCORE;
use super::onnx_attrs as attr;
use super::onnx_raw::RawTree;
use arbor_intf::schema::{CLASS_BOUNDS_US, CLASS_NAMES, NR_CLASSES};

/// Largest number of fraction bits the importer uses.
pub const MAX_FRAC_BITS: u32 = 24;

/// Real per-class scores of a leaf from its `(column, weight)` pairs.
type LeafScoring = Box<dyn Fn(&[(usize, f64)]) -> [f64; NR_CLASSES]>;

/// How leaf weights and base values become real per-class scores.
pub(crate) struct Scoring {
    /// Real base score per class (`None`: absent class).
    pub(crate) base: [Option<f64>; NR_CLASSES],
    /// Real leaf score per class from the leaf's `(column, weight)` pairs.
    pub(crate) leaf: LeafScoring,
    /// Scale applied to every score before adding `tiebreak` (1 or NR_CLASSES).
    pub(crate) scale: i64,
    /// Integer added to each class's base after scaling.
    pub(crate) tiebreak: [i64; NR_CLASSES],
    /// Number of classes the argmax runs over.
    pub(crate) nr_classes: usize,
    /// Fraction bits named by the model's metadata (our own exports).
    pub(crate) frac_bits: Option<u32>,
    /// See [`Imported::binary_one_column`].
    pub(crate) binary_one_column: bool,
}

fn class_of_label(label: &ClassLabel) -> Result<usize> {
    match label {
        ClassLabel::Int(v) => {
            ensure!(
                (0..NR_CLASSES as i64).contains(v),
                "class label {v} is not a schema class (0..{}: {})",
                NR_CLASSES - 1,
                CLASS_NAMES.join(",")
            );
            Ok(*v as usize)
        }
        ClassLabel::Str(s) => CLASS_NAMES.iter().position(|n| n == s).ok_or_else(|| {
            anyhow!(
                "class label {s:?} is not a schema class name ({})",
                CLASS_NAMES.join(",")
            )
        }),
    }
}

enum ClassLabel {
    Int(i64),
    Str(String),
}

/// Schema class of each score column, from classlabels_int64s or classlabels_strings.
pub fn class_columns(node: &NodeProto) -> Result<Vec<usize>> {
    let ints = attr::ints_opt(node, "classlabels_int64s").filter(|v| !v.is_empty());
    let strs = attr::strings_opt(node, "classlabels_strings")?.filter(|v| !v.is_empty());
    let labels: Vec<ClassLabel> = match (ints, strs) {
        (Some(i), None) => i.iter().map(|&v| ClassLabel::Int(v)).collect(),
        (None, Some(s)) => s.into_iter().map(ClassLabel::Str).collect(),
        (None, None) => {
            bail!("the classifier has neither classlabels_int64s nor classlabels_strings")
        }
        (Some(_), Some(_)) => {
            bail!("the classifier has both classlabels_int64s and classlabels_strings")
        }
    };
    let cols = labels
        .iter()
        .map(class_of_label)
        .collect::<Result<Vec<_>>>()?;
    let mut seen = [false; NR_CLASSES];
    for &c in &cols {
        ensure!(!seen[c], "class {} is labelled twice", CLASS_NAMES[c]);
        seen[c] = true;
    }
    Ok(cols)
}

fn post_transform(node: &NodeProto) -> Result<String> {
    Ok(attr::string_opt(node, "post_transform")?.unwrap_or_else(|| "NONE".into()))
}

pub(crate) fn classifier_scoring(
    node: &NodeProto,
    raw: &[RawTree],
    frac_bits: Option<u32>,
    notes: &mut Vec<String>,
) -> Result<Scoring> {
    let cols = class_columns(node)?;
    let post = post_transform(node)?;
    let mut used = BTreeSet::new();
    let mut nonzero = BTreeSet::new();
    let mut all_nonneg = true;
    for t in raw {
        for nd in &t.nodes {
            for &(j, w) in &nd.weights {
                ensure!(
                    j < cols.len(),
                    "a leaf scores column {j} but the model has {} class labels",
                    cols.len()
                );
                used.insert(j);
                if w != 0.0 {
                    nonzero.insert(j);
                }
                all_nonneg &= w >= 0.0;
            }
        }
    }
    let base_values = attr::reals_opt(node, "base_values")?.unwrap_or_default();
    for b in &base_values {
        ensure!(b.is_finite(), "base value {b} is not finite");
    }
    let nr_classes = cols.iter().max().map_or(1, |&m| m + 1);
    let mut base = [None; NR_CLASSES];

    if cols.len() == 2 && used.len() <= 1 && used.iter().all(|&j| j == 0) {
        // One score column: onnxruntime thresholds it before any post transform.
        ensure!(
            base_values.len() <= 1,
            "binary classifier with one score column and {} base values is not supported",
            base_values.len()
        );
        let thr = if all_nonneg { 0.5 } else { 0.0 };
        let (neg, pos) = (cols[0], cols[1]);
        base[neg] = Some(0.0);
        base[pos] = Some(base_values.first().copied().unwrap_or(0.0) - thr);
        notes.push(format!(
            "binary, one score column: {} iff base + sum of leaves > {thr} (post_transform {post} \
             does not matter), else {}",
            CLASS_NAMES[pos], CLASS_NAMES[neg]
        ));
        let mut tiebreak = [0; NR_CLASSES];
        if pos < neg {
            tiebreak[pos] = -1;
        }
        return Ok(Scoring {
            base,
            leaf: Box::new(move |ws| {
                let mut s = [0.0; NR_CLASSES];
                for &(_, w) in ws {
                    s[pos] += w;
                }
                s
            }),
            scale: 1,
            tiebreak,
            nr_classes,
            frac_bits: None,
            binary_one_column: true,
        });
    }

    match post.as_str() {
        "NONE" | "SOFTMAX" | "LOGISTIC" | "PROBIT" => {}
        "SOFTMAX_ZERO" => bail!(
            "post_transform SOFTMAX_ZERO can change the argmax of the scores; re-export with \
             NONE or SOFTMAX"
        ),
        other => bail!("unknown post_transform {other:?}"),
    }
    ensure!(
        base_values.is_empty() || base_values.len() == cols.len(),
        "base_values has {} entries for {} classes",
        base_values.len(),
        cols.len()
    );
    // Our exports mark an absent class with base ABSENT_SCORE / 2^frac_bits.
    let absent_marker = frac_bits
        .filter(|&b| b <= MAX_FRAC_BITS)
        .map(|b| f64::from(ABSENT_SCORE) / f64::from(1u32 << b));
    for (j, &c) in cols.iter().enumerate() {
        if !base_values.is_empty() && Some(base_values[j]) == absent_marker && !nonzero.contains(&j)
        {
            notes.push(format!("class {} is marked absent", CLASS_NAMES[c]));
        } else if !base_values.is_empty() {
            base[c] = Some(base_values[j]);
        } else if used.contains(&j) {
            base[c] = Some(0.0);
        } else {
            notes.push(format!(
                "class {} is never scored: it can never be predicted",
                CLASS_NAMES[c]
            ));
        }
    }
    // Ties must go to the first column, as in onnxruntime and tract.
    let present: Vec<usize> = cols
        .iter()
        .copied()
        .filter(|&c| base[c].is_some())
        .collect();
    let in_order = present.windows(2).all(|w| w[0] < w[1]);
    let (scale, mut tiebreak) = if in_order {
        (1, [0; NR_CLASSES])
    } else {
        notes.push("class columns are not in class order: ties broken by column order".into());
        (NR_CLASSES as i64, [0; NR_CLASSES])
    };
    if !in_order {
        for (j, &c) in cols.iter().enumerate() {
            tiebreak[c] = (NR_CLASSES - 1 - j) as i64;
        }
    }
    notes.push(format!(
        "classifier: argmax of base + sum of leaves over {} columns (post_transform {post} keeps \
         the argmax)",
        cols.len()
    ));
    Ok(Scoring {
        base,
        leaf: Box::new(move |ws| {
            let mut s = [0.0; NR_CLASSES];
            for &(j, w) in ws {
                s[cols[j]] += w;
            }
            s
        }),
        scale,
        tiebreak,
        nr_classes,
        frac_bits: None,
        binary_one_column: false,
    })
}

pub(crate) fn regressor_scoring(
    node: &NodeProto,
    raw: &[RawTree],
    notes: &mut Vec<String>,
) -> Result<Scoring> {
    let post = post_transform(node)?;
    ensure!(
        post == "NONE",
        "regressor post_transform {post} is not supported: the output must be the burst in µs"
    );
    let targets = attr::int_opt(node, "n_targets").unwrap_or(1);
    ensure!(
        targets == 1,
        "regressor has {targets} targets; it must predict one value, the burst in µs"
    );
    for t in raw {
        for nd in &t.nodes {
            for &(j, _) in &nd.weights {
                ensure!(j == 0, "a leaf scores target {j}; only target 0 exists");
            }
        }
    }
    let agg = attr::string_opt(node, "aggregate_function")?.unwrap_or_else(|| "SUM".into());
    let n = match agg.as_str() {
        "SUM" => 1.0,
        "AVERAGE" => raw.len() as f64,
        other => bail!("regressor aggregate_function {other} is not supported (SUM or AVERAGE)"),
    };
    let base_values = attr::reals_opt(node, "base_values")?.unwrap_or_default();
    ensure!(
        base_values.len() <= 1,
        "regressor has {} base values, expected at most one",
        base_values.len()
    );
    let b0 = base_values.first().copied().unwrap_or(0.0);
    ensure!(b0.is_finite(), "base value {b0} is not finite");
    let mut base = [None; NR_CLASSES];
    let mut cum = 0.0;
    for (k, slot) in base.iter_mut().enumerate() {
        // f_k * n = k * (n * base + sum of leaves) - n * sum_{j<k} bound_j
        *slot = Some(k as f64 * n * b0 - n * cum);
        if k < CLASS_BOUNDS_US.len() {
            cum += f64::from(CLASS_BOUNDS_US[k]);
        }
    }
    notes.push(format!(
        "regressor ({agg}): class of the predicted burst y via f_k = k*y - sum of bounds below k"
    ));
    Ok(Scoring {
        base,
        leaf: Box::new(|ws| {
            let v: f64 = ws.iter().map(|&(_, w)| w).sum();
            std::array::from_fn(|k| k as f64 * v)
        }),
        scale: 1,
        tiebreak: [0; NR_CLASSES],
        nr_classes: NR_CLASSES,
        frac_bits: None,
        binary_one_column: false,
    })
}
