//! Human-readable rendering of an imported ensemble.

use std::fmt::Write;

use super::ensemble::{Ensemble, Node, ABSENT_SCORE};
use super::flat::MODEL_BYTES;
use super::onnx_import::{Imported, OpKind};
use arbor_intf::schema::{CLASS_NAMES, FEATURES, MAX_WALK_STEPS, NR_CLASSES};

fn scores_text(e: &Ensemble, s: &[i32; NR_CLASSES]) -> String {
    let one = f64::from(1u32 << e.score_frac_bits.min(30));
    (0..e.nr_classes)
        .map(|c| format!("{} {:.4}", CLASS_NAMES[c], f64::from(s[c]) / one))
        .collect::<Vec<_>>()
        .join("  ")
}

fn feature_text(f: u16, threshold: u32) -> String {
    match FEATURES.get(f as usize) {
        Some(ft) if ft.unit.is_empty() => format!("{} <= {threshold}", ft.name),
        Some(ft) => format!("{} <= {threshold} {}", ft.name, ft.unit),
        None => format!("feature#{f} <= {threshold}"),
    }
}

/// The summary: schema, columns, classes, counts, depth, BPF map bytes.
pub fn summary(imp: &Imported) -> String {
    let e = &imp.ensemble;
    let mut out = String::new();
    let st = e.stats().unwrap_or_default();
    let _ = writeln!(
        out,
        "op: {}",
        match imp.op {
            OpKind::Classifier => "TreeEnsembleClassifier",
            OpKind::Regressor => "TreeEnsembleRegressor",
        }
    );
    let _ = writeln!(out, "schema version: {}", e.schema_version);
    let _ = writeln!(
        out,
        "input columns: {}",
        imp.columns
            .iter()
            .map(|&f| FEATURES[f].name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let classes: Vec<&str> = (0..e.nr_classes)
        .filter(|&c| e.base_scores[c] != ABSENT_SCORE)
        .map(|c| CLASS_NAMES[c])
        .collect();
    let _ = writeln!(out, "classes predicted: {}", classes.join(", "));
    for n in &imp.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(
        out,
        "trees: {}  nodes: {}  leaves: {}  max depth: {}  nodes walked per decision: at most {} \
         (budget {MAX_WALK_STEPS})",
        st.trees, st.nodes, st.leaves, st.max_depth, st.walk
    );
    let _ = writeln!(
        out,
        "score fraction bits: {}  base: {}",
        e.score_frac_bits,
        (0..e.nr_classes)
            .map(|c| if e.base_scores[c] == ABSENT_SCORE {
                format!("{} absent", CLASS_NAMES[c])
            } else {
                format!(
                    "{} {:.4}",
                    CLASS_NAMES[c],
                    f64::from(e.base_scores[c]) / f64::from(1u32 << e.score_frac_bits.min(30))
                )
            })
            .collect::<Vec<_>>()
            .join("  ")
    );
    let _ = writeln!(
        out,
        "BPF map value: {MODEL_BYTES} bytes (struct arbor_model)"
    );
    out
}

/// Every tree as indented if/else text with feature names and units.
pub fn trees_text(e: &Ensemble) -> String {
    let mut out = String::new();
    for (t, tree) in e.trees.iter().enumerate() {
        let _ = writeln!(out, "tree {t} ({} nodes)", tree.nodes.len());
        enum Item {
            Node(usize, usize),
            Else(usize),
        }
        let mut stack = vec![Item::Node(0, 1)];
        while let Some(item) = stack.pop() {
            let (i, ind) = match item {
                Item::Else(ind) => {
                    let _ = writeln!(out, "{}else:", "  ".repeat(ind));
                    continue;
                }
                Item::Node(i, ind) => (i, ind),
            };
            let pad = "  ".repeat(ind);
            match tree.nodes.get(i) {
                None => {
                    let _ = writeln!(out, "{pad}<missing node {i}>");
                }
                Some(Node::Leaf { scores }) => {
                    let _ = writeln!(out, "{pad}-> {}", scores_text(e, scores));
                }
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    let _ = writeln!(out, "{pad}if {}:", feature_text(*feature, *threshold));
                    stack.push(Item::Node(*right as usize, ind + 1));
                    stack.push(Item::Else(ind));
                    stack.push(Item::Node(*left as usize, ind + 1));
                }
            }
        }
    }
    out
}
