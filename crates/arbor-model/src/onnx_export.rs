//! Writes an integer ensemble as a standard ONNX `TreeEnsembleClassifier`.
//!
//! The file has one float input `input` of shape `[N, 8]` (the schema's
//! features in index order), outputs `label` (int64 class index) and
//! `probabilities` (f32 `[N, nr_classes]`: the raw class scores, fixed point
//! divided by `2^score_frac_bits`; not normalised), `post_transform` NONE,
//! and the metadata `arbor.schema_version`, `arbor.features`,
//! `arbor.score_frac_bits`.
//!
//! **Exactness.** Splits are `BRANCH_LEQ` on the integer threshold, exact in
//! f32 (thresholds are below 2^24). Leaf weights and base values are integer
//! scores times `2^-B`; when every reachable partial sum stays below 2^24
//! units ([`EXACT_F32_BOUND`], which [`super::onnx_import`] and the learner
//! aim for) every f32 sum any engine computes is exact, so its argmax (ties
//! to the first column = the lowest class) is the integer walker's. The
//! exporter refuses models beyond that bound. An absent class gets base
//! value `ABSENT_SCORE * 2^-B`, which the importer recognises.

use std::path::Path;

use super::onnx_pb::{
    AttributeProto, AttributeType, DataType, Dimension, DimensionValue, GraphProto, ModelProto,
    NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto,
};
use anyhow::{ensure, Context, Result};
use prost::Message;

use super::ensemble::{Ensemble, Node, ABSENT_SCORE, EXACT_F32_BOUND};
use super::onnx_import::{META_FEATURES, META_FRAC_BITS, META_SCHEMA};
use arbor_intf::schema::{FEATURES, NR_FEATURES};

fn attr(name: &str, ty: AttributeType) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: ty as i32,
        ..Default::default()
    }
}

fn ints(name: &str, v: Vec<i64>) -> AttributeProto {
    AttributeProto {
        ints: v,
        ..attr(name, AttributeType::Ints)
    }
}

fn floats(name: &str, v: Vec<f32>) -> AttributeProto {
    AttributeProto {
        floats: v,
        ..attr(name, AttributeType::Floats)
    }
}

fn strings(name: &str, v: Vec<&str>) -> AttributeProto {
    AttributeProto {
        strings: v.into_iter().map(|s| s.as_bytes().to_vec()).collect(),
        ..attr(name, AttributeType::Strings)
    }
}

fn string(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        s: v.as_bytes().to_vec(),
        ..attr(name, AttributeType::String)
    }
}

fn tensor_info(name: &str, elem: DataType, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => DimensionValue::DimValue(*v),
                None => DimensionValue::DimParam("N".into()),
            }),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: elem as i32,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
        ..Default::default()
    }
}

fn meta(key: &str, value: String) -> StringStringEntryProto {
    StringStringEntryProto {
        key: key.into(),
        value,
    }
}

/// Builds the ONNX model of an ensemble.
pub fn to_onnx(e: &Ensemble) -> Result<ModelProto> {
    e.validate()?;
    let reach = e.score_reach();
    ensure!(
        reach <= EXACT_F32_BOUND,
        "scores reach {reach}, beyond 2^24: f32 engines would round them; lower score_frac_bits"
    );
    let scale = 1.0 / f64::from(1u32 << e.score_frac_bits.min(30));
    let real = |v: i32| (f64::from(v) * scale) as f32;
    let nc = e.nr_classes;

    let (mut treeids, mut nodeids, mut featureids, mut modes, mut values) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut trues, mut falses) = (vec![], vec![]);
    let (mut c_tree, mut c_node, mut c_ids, mut c_w) = (vec![], vec![], vec![], vec![]);
    for (t, tree) in e.trees.iter().enumerate() {
        for (i, n) in tree.nodes.iter().enumerate() {
            treeids.push(t as i64);
            nodeids.push(i as i64);
            match n {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    featureids.push(i64::from(*feature));
                    modes.push("BRANCH_LEQ");
                    // Exact: thresholds are clamped below 2^24.
                    values.push((*threshold).min(arbor_intf::schema::FEATURE_MAX) as f32);
                    trues.push(i64::from(*left));
                    falses.push(i64::from(*right));
                }
                Node::Leaf { scores } => {
                    featureids.push(0);
                    modes.push("LEAF");
                    values.push(0.0);
                    trues.push(0);
                    falses.push(0);
                    for (c, &s) in scores.iter().enumerate().take(nc) {
                        c_tree.push(t as i64);
                        c_node.push(i as i64);
                        c_ids.push(c as i64);
                        c_w.push(real(s));
                    }
                }
            }
        }
    }
    let base: Vec<f32> = (0..nc)
        .map(|c| {
            if e.base_scores[c] == ABSENT_SCORE {
                (f64::from(ABSENT_SCORE) * scale) as f32
            } else {
                real(e.base_scores[c])
            }
        })
        .collect();
    let node = NodeProto {
        input: vec!["input".into()],
        output: vec!["label".into(), "probabilities".into()],
        name: "arbor_trees".into(),
        op_type: "TreeEnsembleClassifier".into(),
        domain: "ai.onnx.ml".into(),
        attribute: vec![
            ints("classlabels_int64s", (0..nc as i64).collect()),
            ints("nodes_treeids", treeids),
            ints("nodes_nodeids", nodeids),
            ints("nodes_featureids", featureids),
            strings("nodes_modes", modes),
            floats("nodes_values", values),
            ints("nodes_truenodeids", trues),
            ints("nodes_falsenodeids", falses),
            ints("class_treeids", c_tree),
            ints("class_nodeids", c_node),
            ints("class_ids", c_ids),
            floats("class_weights", c_w),
            floats("base_values", base),
            string("post_transform", "NONE"),
        ],
        ..Default::default()
    };
    let graph = GraphProto {
        node: vec![node],
        name: "scx_arbor".into(),
        input: vec![tensor_info(
            "input",
            DataType::Float,
            &[None, Some(NR_FEATURES as i64)],
        )],
        output: vec![
            tensor_info("label", DataType::Int64, &[None]),
            tensor_info("probabilities", DataType::Float, &[None, Some(nc as i64)]),
        ],
        ..Default::default()
    };
    Ok(ModelProto {
        ir_version: 8,
        opset_import: vec![
            OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            },
            OperatorSetIdProto {
                domain: "ai.onnx.ml".into(),
                version: 1,
            },
        ],
        producer_name: "scx_arbor".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(graph),
        metadata_props: vec![
            meta(META_SCHEMA, e.schema_version.to_string()),
            meta(
                META_FEATURES,
                FEATURES
                    .iter()
                    .map(|f| f.name)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            meta(META_FRAC_BITS, e.score_frac_bits.to_string()),
        ],
        ..Default::default()
    })
}

/// Encodes an ensemble as ONNX bytes.
pub fn to_bytes(e: &Ensemble) -> Result<Vec<u8>> {
    Ok(to_onnx(e)?.encode_to_vec())
}

/// Writes an ensemble to an ONNX file.
pub fn write_file(e: &Ensemble, path: &Path) -> Result<()> {
    std::fs::write(path, to_bytes(e)?).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flat::{flatten, walk};
    use crate::onnx_import;
    use crate::rows::{probe_rows, random_ensemble};

    #[test]
    fn reimport_is_identical_and_walks_the_same() {
        for (seed, trees, depth, nc) in [(1, 1, 6, 4), (2, 5, 5, 4), (3, 16, 4, 3), (4, 3, 8, 2)] {
            let e = random_ensemble(seed, trees, depth, nc);
            e.validate().unwrap();
            let bytes = to_bytes(&e).unwrap();
            let flat = flatten(&e, 5).unwrap();

            let back = onnx_import::import_bytes(&bytes).unwrap();
            assert!(back.ensemble == e, "seed {seed}: re-import differs");
            let flat2 = flatten(&back.ensemble, 5).unwrap();
            assert!(bytes_eq(&flat, &flat2), "seed {seed}: flat models differ");

            for r in probe_rows(&e, 500, seed) {
                let class = walk(&flat, &r).unwrap().class;
                assert_eq!(class, e.predict(&r).unwrap(), "seed {seed} row {r:?}");
            }
        }
    }

    fn bytes_eq(
        a: &arbor_intf::bpf_intf::arbor_model,
        b: &arbor_intf::bpf_intf::arbor_model,
    ) -> bool {
        use zerocopy::IntoBytes;
        a.as_bytes() == b.as_bytes()
    }

    #[test]
    fn absent_classes_round_trip() {
        let mut e = random_ensemble(9, 2, 3, 4);
        e.base_scores[1] = ABSENT_SCORE;
        for t in &mut e.trees {
            for n in &mut t.nodes {
                if let Node::Leaf { scores } = n {
                    scores[1] = 0;
                }
            }
        }
        let back = onnx_import::import_bytes(&to_bytes(&e).unwrap()).unwrap();
        assert!(back.ensemble == e, "absent class did not round-trip");
    }
}
