//! Bad ONNX input gives a clear error, never a panic.

use arbor_model as model;

use std::path::PathBuf;

use model::onnx_import::import_bytes;
use prost::Message;
use tract_onnx::pb::{attribute_proto::AttributeType, AttributeProto, ModelProto, NodeProto};

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name);
    std::fs::read(p).unwrap()
}

fn base() -> ModelProto {
    ModelProto::decode(&fixture("sklearn_dt_multi.onnx")[..]).unwrap()
}

fn tree_node(m: &mut ModelProto) -> &mut NodeProto {
    m.graph
        .as_mut()
        .unwrap()
        .node
        .iter_mut()
        .find(|n| n.op_type.starts_with("TreeEnsemble"))
        .unwrap()
}

fn attr<'a>(m: &'a mut ModelProto, name: &str) -> &'a mut AttributeProto {
    let n = tree_node(m);
    if !n.attribute.iter().any(|a| a.name == name) {
        n.attribute.push(AttributeProto {
            name: name.into(),
            ..Default::default()
        });
    }
    n.attribute.iter_mut().find(|a| a.name == name).unwrap()
}

/// Imports `m` and returns the error text (panics if it was accepted).
fn err_of(m: &ModelProto) -> String {
    match import_bytes(&m.encode_to_vec()) {
        Ok(_) => panic!("accepted a bad model"),
        Err(e) => format!("{e:#}"),
    }
}

fn assert_err(m: &ModelProto, needle: &str) {
    let e = err_of(m);
    assert!(e.contains(needle), "error {e:?} lacks {needle:?}");
}

/// Replaces the tree op's node attributes with a synthetic ensemble:
/// `nodes` rows are (tree, id, column, mode, value, true id, false id), and
/// every LEAF node gets weight 1 on class `id % 4`.
fn synth(nodes: &[(i64, i64, i64, &str, f32, i64, i64)]) -> ModelProto {
    let mut m = base();
    let n = tree_node(&mut m);
    n.attribute
        .retain(|a| a.name == "classlabels_int64s" || a.name == "post_transform");
    let ints = |name: &str, v: Vec<i64>| AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v,
        ..Default::default()
    };
    let col = |k: usize| {
        nodes
            .iter()
            .map(move |r| [r.0, r.1, r.2, 0, 0, r.5, r.6][k])
    };
    n.attribute.push(ints("nodes_treeids", col(0).collect()));
    n.attribute.push(ints("nodes_nodeids", col(1).collect()));
    n.attribute.push(ints("nodes_featureids", col(2).collect()));
    n.attribute
        .push(ints("nodes_truenodeids", col(5).collect()));
    n.attribute
        .push(ints("nodes_falsenodeids", col(6).collect()));
    n.attribute.push(AttributeProto {
        name: "nodes_modes".into(),
        r#type: AttributeType::Strings as i32,
        strings: nodes.iter().map(|r| r.3.as_bytes().to_vec()).collect(),
        ..Default::default()
    });
    n.attribute.push(AttributeProto {
        name: "nodes_values".into(),
        r#type: AttributeType::Floats as i32,
        floats: nodes.iter().map(|r| r.4).collect(),
        ..Default::default()
    });
    let leaves: Vec<_> = nodes.iter().filter(|r| r.3 == "LEAF").collect();
    n.attribute
        .push(ints("class_treeids", leaves.iter().map(|r| r.0).collect()));
    n.attribute
        .push(ints("class_nodeids", leaves.iter().map(|r| r.1).collect()));
    n.attribute
        .push(ints("class_ids", leaves.iter().map(|r| r.1 % 4).collect()));
    n.attribute.push(AttributeProto {
        name: "class_weights".into(),
        r#type: AttributeType::Floats as i32,
        floats: vec![1.0; leaves.len()],
        ..Default::default()
    });
    m
}

type Row = (i64, i64, i64, &'static str, f32, i64, i64);

/// A left-leaning chain of `depth` splits in tree `t`.
fn chain(t: i64, depth: i64) -> Vec<Row> {
    let mut v = Vec::new();
    for i in 0..depth {
        v.push((
            t,
            2 * i,
            0,
            "BRANCH_LEQ",
            i as f32 + 0.5,
            2 * i + 1,
            2 * i + 2,
        ));
        v.push((t, 2 * i + 1, 0, "LEAF", 0.0, 0, 0));
    }
    v.push((t, 2 * depth, 0, "LEAF", 0.0, 0, 0));
    v
}

#[test]
fn synthetic_builder_is_valid() {
    let m = synth(&chain(0, 3));
    import_bytes(&m.encode_to_vec()).unwrap();
}

#[test]
fn not_onnx_and_truncated() {
    assert!(import_bytes(b"hello, this is not a model").is_err());
    assert!(import_bytes(&[]).is_err());
    let bytes = fixture("sklearn_rf_multi.onnx");
    let e = format!("{:#}", import_bytes(&bytes[..bytes.len() / 2]).unwrap_err());
    assert!(e.contains("not an ONNX model"), "{e}");
}

#[test]
fn missing_or_wrong_schema_metadata() {
    let mut m = base();
    m.metadata_props.clear();
    assert_err(&m, "model annotate");
    let mut m = base();
    m.metadata_props[0].value = "99".into();
    assert_err(&m, "schema 99");
    let mut m = base();
    for p in &mut m.metadata_props {
        if p.key == "arbor.features" {
            p.value = p.value.replace("weight", "colour");
        }
    }
    assert_err(&m, "\"colour\" is not a schema feature");
    let mut m = base();
    for p in &mut m.metadata_props {
        if p.key == "arbor.features" {
            p.value = "last_burst_us,ewma_burst_us".into();
        }
    }
    assert_err(&m, "input has 8 columns but arbor.features names 2");
}

#[test]
fn no_tree_op_and_opset5() {
    let mut m = base();
    tree_node(&mut m).op_type = "Relu".into();
    assert_err(&m, "no TreeEnsembleClassifier or TreeEnsembleRegressor");
    let mut m = base();
    tree_node(&mut m).op_type = "TreeEnsemble".into();
    assert_err(&m, "opset-5 TreeEnsemble op is not supported");
}

#[test]
fn unsupported_modes_and_transforms() {
    let mut rows = chain(0, 2);
    rows[0].3 = "BRANCH_EQ";
    assert_err(&synth(&rows), "BRANCH_EQ is not supported");
    let mut m = synth(&chain(0, 2));
    attr(&mut m, "post_transform").s = b"SOFTMAX_ZERO".to_vec();
    assert_err(&m, "SOFTMAX_ZERO");
    // Regressor with a transform.
    let mut m = fixture_model("sklearn_gb_regressor.onnx");
    let a = attr(&mut m, "post_transform");
    a.s = b"LOGISTIC".to_vec();
    a.r#type = AttributeType::String as i32;
    assert_err(&m, "regressor post_transform LOGISTIC");
}

fn fixture_model(name: &str) -> ModelProto {
    ModelProto::decode(&fixture(name)[..]).unwrap()
}

#[test]
fn bad_structure() {
    // Feature column beyond the input.
    let mut rows = chain(0, 2);
    rows[0].2 = 11;
    assert_err(&synth(&rows), "splits on input column 11");
    // Dangling child.
    let mut rows = chain(0, 2);
    rows[0].6 = 99;
    assert_err(&synth(&rows), "child 99 does not exist");
    // Cycle: the last split's false child points back to the root.
    let mut rows = chain(0, 2);
    rows[2].6 = 0;
    rows.pop();
    assert!(err_of(&synth(&rows)).contains("cycle"));
    // Duplicate node id.
    let mut rows = chain(0, 2);
    rows[1].1 = 0;
    assert_err(&synth(&rows), "two nodes with id 0");
}

#[test]
fn non_finite_values() {
    let mut rows = chain(0, 2);
    rows[0].4 = f32::NAN;
    assert_err(&synth(&rows), "threshold is NaN");
    let mut m = synth(&chain(0, 2));
    attr(&mut m, "class_weights").floats[0] = f32::INFINITY;
    assert_err(&m, "non-finite");
    // +inf threshold is exact: always true, the split disappears.
    let mut rows = chain(0, 2);
    rows[0].4 = f32::INFINITY;
    let e = import_bytes(&synth(&rows).encode_to_vec()).unwrap();
    assert_eq!(e.ensemble.stats().unwrap().nodes, 1);
}

#[test]
fn labels_outside_the_schema() {
    let mut m = synth(&chain(0, 2));
    attr(&mut m, "classlabels_int64s").ints = vec![0, 1, 2, 7];
    assert_err(&m, "class label 7 is not a schema class");
    let mut m = synth(&chain(0, 2));
    let a = attr(&mut m, "classlabels_int64s");
    a.ints.clear();
    let s = attr(&mut m, "classlabels_strings");
    s.r#type = AttributeType::Strings as i32;
    s.strings = ["tiny", "short", "huge", "long"]
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    assert_err(&m, "\"huge\" is not a schema class name");
}

#[test]
fn limits_say_by_how_much_and_what_to_do() {
    let e = err_of(&synth(&chain(0, 30)));
    assert!(
        e.contains("30 splits deep, 6 more than the limit of 24"),
        "{e}"
    );
    assert!(e.contains("max_depth <= 24"), "{e}");
    // 128 one-split trees are fine; 131 are 3 too many.
    let rows: Vec<Row> = (0..128).flat_map(|t| chain(t, 1)).collect();
    import_bytes(&synth(&rows).encode_to_vec()).unwrap();
    let rows: Vec<Row> = (0..131).flat_map(|t| chain(t, 1)).collect();
    let e = err_of(&synth(&rows));
    assert!(e.contains("131 trees, 3 more than the limit of 128"), "{e}");
    assert!(e.contains("fewer trees"), "{e}");
    // 20 trees of 24-deep chains walk 500 nodes: fine; a 21st walks 525.
    let rows: Vec<Row> = (0..20).flat_map(|t| chain(t, 24)).collect();
    import_bytes(&synth(&rows).encode_to_vec()).unwrap();
    let rows: Vec<Row> = (0..21).flat_map(|t| chain(t, 24)).collect();
    let e = err_of(&synth(&rows));
    assert!(
        e.contains("walks up to 525 nodes") && e.contains("13 more than the budget of 512"),
        "{e}"
    );
    assert!(e.contains("model distill"), "{e}");
    // A balanced tree of depth 13 has 16383 nodes.
    let mut rows = Vec::new();
    let n = (1 << 14) - 1;
    for i in 0..n {
        if i < (1 << 13) - 1 {
            rows.push((
                0,
                i,
                1,
                "BRANCH_LEQ",
                (i % 97) as f32 + 0.5,
                2 * i + 1,
                2 * i + 2,
            ));
        } else {
            rows.push((0, i, 0, "LEAF", 0.0, 0, 0));
        }
    }
    let e = err_of(&synth(&rows));
    assert!(e.contains("8191 more than the limit of 8192"), "{e}");
}

#[test]
fn truncations_and_byte_flips_never_panic() {
    for name in [
        "sklearn_gb_multi.onnx",
        "xgboost_binary.onnx",
        "sklearn_rf_regressor.onnx",
    ] {
        let bytes = fixture(name);
        let step = (bytes.len() / 300).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let _ = exercise(&bytes[..cut]);
        }
        let mut rng = arbor_util::rng::SplitMix64::new(7);
        for _ in 0..1500 {
            let mut b = bytes.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << rng.below(8);
            }
            let _ = exercise(&b);
        }
    }
}

/// Import, flatten and walk: any accepted model must walk without faults.
fn exercise(bytes: &[u8]) -> anyhow::Result<()> {
    let imported = import_bytes(bytes)?;
    let flat = model::flat::flatten(&imported.ensemble, 3)?;
    let mut rng = arbor_util::rng::SplitMix64::new(1);
    for _ in 0..20 {
        let row = std::array::from_fn(|_| model::rows::random_feature(&mut rng));
        model::flat::walk(&flat, &row).expect("an accepted model walks without faults");
    }
    Ok(())
}
