//! ONNX tree ensembles (`ai.onnx.ml` `TreeEnsembleClassifier` and
//! `TreeEnsembleRegressor`) to the integer IR, with the same predicted class
//! as onnxruntime.
//!
//! # What is supported and why the argmax is exact
//!
//! * **Thresholds**: converted exactly, see [`super::threshold`].
//! * **Classifier, several score columns** (scikit-learn trees and forests,
//!   gradient boosting with more than two classes, LightGBM, XGBoost): the
//!   label is the argmax of `base_values[j] + sum of leaf weights[j]` over
//!   columns `j`, ties to the first column. `post_transform` NONE, SOFTMAX,
//!   LOGISTIC and PROBIT are strictly increasing per row or per element, so
//!   they do not move the argmax; SOFTMAX_ZERO is refused. A column that no
//!   leaf scores and that has no base value is never predicted by onnxruntime:
//!   it becomes an absent class. When columns are not in increasing class
//!   order (string labels are sorted by name) every score is multiplied by
//!   [`NR_CLASSES`] and column `j` gets `NR_CLASSES - 1 - j` added to its base,
//!   which breaks ties towards the first column without changing any strict
//!   order.
//! * **Binary classifier with one score column** (scikit-learn binary
//!   gradient boosting, LightGBM/XGBoost binary, scikit-learn binary trees):
//!   onnxruntime predicts `labels[1]` iff `s = base + sum > 0.5` when every
//!   leaf weight is >= 0, else iff `s > 0`, before any post transform. We
//!   score `labels[1]` with `s - threshold` and `labels[0]` with 0 (minus one
//!   unit when `labels[1]` is the lower class, so that equality still goes to
//!   `labels[0]`).
//! * **Regressor** (a burst-length prediction `y` in µs, aggregate SUM or
//!   AVERAGE, one target, post_transform NONE): class `k` is the argmax of
//!   `f_k(y) = k*y - sum_{j<k} bound_j`. Since `f_k - f_{k-1} = y - bound_{k-1}`
//!   decreases with `k`, the argmax is the class of `y` with equality going to
//!   the lower class, as [`arbor_intf::schema::class_of_burst`]. `y` is a sum of
//!   leaf values, so leaf scores are `k * leaf` and base scores
//!   `k*base - sum_{j<k} bound_j` (everything times the tree count for
//!   AVERAGE, which keeps it an integer sum).
//! * **Fixed point**: real scores are rounded to integers with `B` fraction
//!   bits (`score_frac_bits`). `B` is the largest value <= 24 that keeps
//!   every reachable class score (base plus the largest leaf of each tree)
//!   within 2^24 ([`EXACT_F32_BOUND`], so that a re-export computes exactly in
//!   f32) as long as that leaves `B >= 8`; otherwise within [`SCORE_BOUND`]
//!   (2^28). Our own exports name `B` in `arbor.score_frac_bits` and are
//!   re-imported with it, bit for bit. Sums fit an s64 trivially (16 leaves
//!   and a base of at most 2^31 each) and an absent class
//!   ([`ABSENT_SCORE`], 2^29 below zero) can never win. Scores that differ
//!   by less than `2^-B` may order differently than in f32; the fixtures
//!   (including every threshold +-1) agree 100% with onnxruntime and tract.
//! * **Refused**: the opset-5 `TreeEnsemble` op (re-export with
//!   `ai.onnx.ml` opset <= 4), BRANCH_EQ/NEQ, NaN thresholds or weights,
//!   aggregate MIN/MAX, several targets, more than one tree op per model.

use std::collections::BTreeMap;
use std::path::Path;

use super::onnx_pb::{DimensionValue, ModelProto, NodeProto};
use anyhow::{anyhow, bail, ensure, Context, Result};
use prost::Message;

use super::ensemble::{Ensemble, Node, Tree, ABSENT_SCORE, EXACT_F32_BOUND, SCORE_BOUND};
use super::onnx_raw::{parse_raw, RawTree};
use super::onnx_scoring::{classifier_scoring, regressor_scoring, Scoring};
use super::threshold::{convert, Test};
use arbor_intf::schema::{
    feature_index, features_of_schema, FEATURES, MAX_DEPTH, NR_CLASSES, SCHEMA_OLDEST,
    SCHEMA_VERSION,
};

pub use super::onnx_attrs::{META_FEATURES, META_FRAC_BITS, META_SCHEMA};
pub use super::onnx_scoring::MAX_FRAC_BITS;

/// Which ONNX operator the ensemble came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `TreeEnsembleClassifier`: the label is a class.
    Classifier,
    /// `TreeEnsembleRegressor`: the output is a burst length in µs.
    Regressor,
}

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The integer ensemble.
    pub ensemble: Ensemble,
    /// The operator it came from.
    pub op: OpKind,
    /// Schema feature index of each input column.
    pub columns: Vec<usize>,
    /// How the label was derived (for `model inspect`).
    pub notes: Vec<String>,
    /// A binary classifier with one score column: tract's label output
    /// differs from onnxruntime's for these (onnxruntime is the reference).
    pub binary_one_column: bool,
}

/// Decodes an ONNX protobuf.
pub fn decode(bytes: &[u8]) -> Result<ModelProto> {
    let m = ModelProto::decode(bytes).context("not an ONNX model (protobuf decoding failed)")?;
    ensure!(
        m.graph.is_some(),
        "not an ONNX model: the protobuf has no graph"
    );
    Ok(m)
}

/// Reads a model file and imports it.
pub fn import_file(path: &Path) -> Result<Imported> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    import_bytes(&bytes).with_context(|| format!("importing {}", path.display()))
}

/// Imports an ONNX model from its bytes.
pub fn import_bytes(bytes: &[u8]) -> Result<Imported> {
    import_model(&decode(bytes)?)
}

/// Imports an ONNX model from its bytes with the same exact compilation but
/// without the BPF size limits (trees, nodes, leaves, depth, walk budget):
/// for predicting with a model too big to install, e.g. to distill it.
pub fn import_bytes_unbounded(bytes: &[u8]) -> Result<Imported> {
    import_model_sized(&decode(bytes)?, false)
}

/// The value of a metadata property.
pub fn metadata<'a>(m: &'a ModelProto, key: &str) -> Option<&'a str> {
    m.metadata_props
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.value.as_str())
}

/// Checks the schema metadata and returns the schema feature of each input column.
pub fn schema_columns(m: &ModelProto) -> Result<Vec<usize>> {
    let hint = "add it with `scx_arbor model annotate IN OUT --features NAME,NAME,...` \
                (the schema feature of each input column, in order)";
    let version = metadata(m, META_SCHEMA)
        .ok_or_else(|| anyhow!("the model has no {META_SCHEMA} metadata; {hint}"))?;
    let version: u32 = version
        .trim()
        .parse()
        .with_context(|| format!("{META_SCHEMA} = {version:?} is not a number"))?;
    let known = features_of_schema(version).ok_or_else(|| {
        anyhow!(
            "the model is for feature schema {version}, this scheduler reads schemas \
             {SCHEMA_OLDEST} to {SCHEMA_VERSION}: retrain it on samples recorded by this version"
        )
    })?;
    let names = metadata(m, META_FEATURES)
        .ok_or_else(|| anyhow!("the model has no {META_FEATURES} metadata; {hint}"))?;
    let cols = parse_feature_list(names)?;
    // A model of an older schema reads the same features: they only come
    // after, and it names none of them.
    if let Some(&f) = cols.iter().find(|&&f| f >= known) {
        bail!(
            "the model is for feature schema {version}, which has no feature {:?}",
            FEATURES[f].name
        );
    }
    Ok(cols)
}

/// Parses a comma-separated list of schema feature names.
pub fn parse_feature_list(names: &str) -> Result<Vec<usize>> {
    let mut cols = Vec::new();
    for name in names.split(',').map(str::trim) {
        let f = feature_index(name).ok_or_else(|| {
            anyhow!(
                "{name:?} is not a schema feature; known: {}",
                FEATURES
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })?;
        ensure!(!cols.contains(&f), "feature {name} is listed twice");
        cols.push(f);
    }
    ensure!(!cols.is_empty(), "the feature list is empty");
    Ok(cols)
}

/// Finds the single tree-ensemble node of the graph.
pub fn tree_node(m: &ModelProto) -> Result<&NodeProto> {
    let graph = m.graph.as_ref().context("the model has no graph")?;
    let trees: Vec<&NodeProto> = graph
        .node
        .iter()
        .filter(|n| n.op_type.starts_with("TreeEnsemble"))
        .collect();
    match trees.as_slice() {
        [] => bail!(
            "no TreeEnsembleClassifier or TreeEnsembleRegressor node in the graph (ops: {})",
            graph
                .node
                .iter()
                .map(|n| n.op_type.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
        [one] => Ok(one),
        many => bail!(
            "the graph has {} tree-ensemble nodes; only models with one are supported",
            many.len()
        ),
    }
}

/// Imports a decoded model.
pub fn import_model(m: &ModelProto) -> Result<Imported> {
    import_model_sized(m, true)
}

/// Imports a decoded model, checking the BPF limits when `bounded`.
fn import_model_sized(m: &ModelProto, bounded: bool) -> Result<Imported> {
    let columns = schema_columns(m)?;
    let node = tree_node(m)?;
    ensure!(
        node.domain == "ai.onnx.ml",
        "{} is in domain {:?}, expected ai.onnx.ml",
        node.op_type,
        node.domain
    );
    check_input_width(m, node, columns.len())?;
    let op = match node.op_type.as_str() {
        "TreeEnsembleClassifier" => OpKind::Classifier,
        "TreeEnsembleRegressor" => OpKind::Regressor,
        "TreeEnsemble" => bail!(
            "the opset-5 TreeEnsemble op is not supported (neither is it by tract); re-export \
             with ai.onnx.ml opset <= 4, e.g. skl2onnx target_opset={{'ai.onnx.ml': 3}}"
        ),
        other => bail!("unsupported tree op {other}"),
    };
    let prefix = match op {
        OpKind::Classifier => "class",
        OpKind::Regressor => "target",
    };
    let raw = parse_raw(node, prefix, columns.len()).context("reading the trees")?;
    let mut notes = Vec::new();
    let frac_bits = match metadata(m, META_FRAC_BITS) {
        Some(v) => Some(
            v.trim()
                .parse::<u32>()
                .with_context(|| format!("{META_FRAC_BITS} = {v:?} is not a number"))?,
        ),
        None => None,
    };
    let mut scoring = match op {
        OpKind::Classifier => classifier_scoring(node, &raw, frac_bits, &mut notes)?,
        OpKind::Regressor => regressor_scoring(node, &raw, &mut notes)?,
    };
    scoring.frac_bits = frac_bits;
    let ensemble = build(&raw, &columns, &scoring, bounded)?;
    Ok(Imported {
        ensemble,
        op,
        columns,
        notes,
        binary_one_column: scoring.binary_one_column,
    })
}

/// The declared width of the tree op's input, when the graph states it, must
/// match the feature list.
fn check_input_width(m: &ModelProto, node: &NodeProto, ncols: usize) -> Result<()> {
    let Some(graph) = m.graph.as_ref() else {
        return Ok(());
    };
    let Some(input) = node.input.first() else {
        bail!("{} has no input", node.op_type);
    };
    let Some(vi) = graph.input.iter().find(|i| &i.name == input) else {
        return Ok(()); // fed by another node: cannot tell
    };
    let dims = vi
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.clone());
    if let Some(dims) = dims {
        if let Some(DimensionValue::DimValue(w)) = dims.get(1).and_then(|d| d.value.clone()) {
            ensure!(
                w as usize == ncols,
                "the model's input has {w} columns but {META_FEATURES} names {ncols}"
            );
        }
    }
    Ok(())
}

/// A tree with real-valued leaves, after threshold conversion.
struct RealTree {
    nodes: Vec<Node>,
    leaf_reals: BTreeMap<usize, [f64; NR_CLASSES]>,
}

/// Converts one ONNX tree: exact integer tests, constant splits removed,
/// children in IR order. Iterative, so hostile depths cannot overflow the stack.
fn convert_tree(t: &RawTree, columns: &[usize], scoring: &Scoring) -> Result<(RealTree, usize)> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut leaf_reals = BTreeMap::new();
    let mut visited = vec![false; t.nodes.len()];
    let mut max_depth = 0;
    /// (raw node, depth, parent IR index and whether it is the left child)
    type Pending = (usize, usize, Option<(usize, bool)>);
    let mut stack: Vec<Pending> = vec![(t.root, 0, None)];
    while let Some((mut i, depth, parent)) = stack.pop() {
        // Follow constant splits.
        let test = loop {
            ensure!(
                !visited[i],
                "node {i} of a tree is reached twice (a cycle or shared subtree)"
            );
            visited[i] = true;
            let nd = &t.nodes[i];
            match nd.split {
                None => break None,
                Some((mode, col, thr)) => match convert(mode, thr)? {
                    Test::Always(true) => i = nd.on_true,
                    Test::Always(false) => i = nd.on_false,
                    other => break Some((columns[col], other)),
                },
            }
        };
        let me = nodes.len();
        if let Some((p, left)) = parent {
            if let Node::Split {
                left: l, right: r, ..
            } = &mut nodes[p]
            {
                if left {
                    *l = me as u32;
                } else {
                    *r = me as u32;
                }
            }
        }
        let nd = &t.nodes[i];
        match test {
            None => {
                max_depth = max_depth.max(depth);
                leaf_reals.insert(me, (scoring.leaf)(&nd.weights));
                nodes.push(Node::Leaf {
                    scores: [0; NR_CLASSES],
                });
            }
            Some((feature, test)) => {
                let (k, left_child, right_child) = match test {
                    Test::TrueIfLeq(k) => (k, nd.on_true, nd.on_false),
                    Test::TrueIfGt(k) => (k, nd.on_false, nd.on_true),
                    Test::Always(_) => bail!("internal error: a constant split was not removed"),
                };
                nodes.push(Node::Split {
                    feature: feature as u16,
                    threshold: k,
                    left: 0,
                    right: 0,
                });
                // Refuse absurd depths early (the limit check below says by how much).
                ensure!(
                    depth <= 4 * MAX_DEPTH + 1000,
                    "a tree is more than {} splits deep (limit {MAX_DEPTH}): retrain with \
                     max_depth <= {MAX_DEPTH}",
                    4 * MAX_DEPTH + 1000
                );
                stack.push((right_child, depth + 1, Some((me, false))));
                stack.push((left_child, depth + 1, Some((me, true))));
            }
        }
    }
    Ok((RealTree { nodes, leaf_reals }, max_depth))
}

/// Converts every tree, picks the fixed-point scale and quantizes.
fn build(raw: &[RawTree], columns: &[usize], scoring: &Scoring, bounded: bool) -> Result<Ensemble> {
    let trees = raw
        .iter()
        .enumerate()
        .map(|(i, t)| convert_tree(t, columns, scoring).with_context(|| format!("tree {i}")))
        .collect::<Result<Vec<_>>>()?;
    // Reach of each present class in real units.
    let mut reach = 0f64;
    for c in 0..NR_CLASSES {
        let Some(b) = scoring.base[c] else { continue };
        let mut r = b.abs();
        for (t, _) in &trees {
            r += t
                .leaf_reals
                .values()
                .map(|s| s[c].abs())
                .fold(0.0, f64::max);
        }
        reach = reach.max(r);
    }
    ensure!(reach.is_finite(), "scores are not finite");
    let s = scoring.scale as f64;
    let fits = |b: u32, bound: i64| (reach * f64::from(1u32 << b) + 9.0) * s + s <= bound as f64;
    // Prefer the f32-exact range (see onnx_export) while keeping >= 8 bits.
    let pick = |bound: i64| (0..=MAX_FRAC_BITS).rev().find(|&b| fits(b, bound));
    let bits = match scoring.frac_bits {
        Some(b) if b <= MAX_FRAC_BITS && fits(b, SCORE_BOUND) => b,
        _ => match pick(EXACT_F32_BOUND) {
            Some(b) if b >= 8 => b,
            _ => pick(SCORE_BOUND).ok_or_else(|| {
                anyhow!(
                    "scores reach {reach}, too large for the fixed-point range 2^28: the leaf \
                     values or base values are unreasonably large"
                )
            })?,
        },
    };
    let one = f64::from(1u32 << bits);
    let q = |v: f64| (v * one).round() as i64 * scoring.scale;

    let mut e = Ensemble::new(scoring.nr_classes, bits);
    for c in 0..NR_CLASSES {
        e.base_scores[c] = match scoring.base[c] {
            _ if c >= scoring.nr_classes => 0,
            Some(b) => (q(b) + scoring.tiebreak[c]) as i32,
            None => ABSENT_SCORE,
        };
    }
    for (t, _) in trees {
        let mut nodes = t.nodes;
        for (i, reals) in t.leaf_reals {
            if let Node::Leaf { scores } = &mut nodes[i] {
                for c in 0..scoring.nr_classes {
                    if scoring.base[c].is_some() {
                        scores[c] = q(reals[c]) as i32;
                    }
                }
            }
        }
        e.trees.push(Tree { nodes });
    }
    if bounded {
        e.validate()
            .context("the model does not fit the BPF limits")?;
    } else {
        e.check_semantics()?;
    }
    Ok(e)
}
