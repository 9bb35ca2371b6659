//! Every ONNX fixture compiles to the integer form, and the integer walker
//! agrees 100% with onnxruntime's stored labels and with tract.

use arbor_model as model;

use std::path::PathBuf;

use arbor_verify::tract_run::TractModel;
use model::flat::{flatten, walk};
use model::onnx_import;
use model::rows::Table;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models")
}

/// Fixtures tract cannot load: it lacks TreeEnsembleRegressor, reads a
/// single base value of a binary classifier as an error, and cannot make
/// string labels.
const TRACT_UNSUPPORTED: &[&str] = &[
    "sklearn_dt_strings",
    "sklearn_gb_regressor",
    "sklearn_rf_regressor",
    "sklearn_gb_binary",
    "xgboost_binary",
    "boost_sklearn_gb_binary20",
    "boost_xgboost_binary20",
];

/// Binary classifiers with one score column: tract labels them by an argmax
/// over its own two-column layout, which differs from onnxruntime's
/// `score > threshold` rule (onnxruntime's labels are the reference).
const TRACT_MISLABELS: &[&str] = &[
    "lightgbm_binary",
    "sklearn_dt_binary",
    "boost_lightgbm_binary20",
];

/// Supported fixtures: the models with onnxruntime's labels beside them
/// (the other .onnx files are models the scheduler must refuse).
fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "onnx" && p.with_extension("expected.csv").exists())
                .then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_fixture_matches_onnxruntime_and_tract() {
    let names = fixtures();
    assert!(names.len() >= 17, "fixtures missing: {names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let path = dir().join(format!("{name}.onnx"));
        let bytes = std::fs::read(&path).unwrap();
        let imported = onnx_import::import_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{name}: import failed: {e:#}"));
        let flat = flatten(&imported.ensemble, 42).unwrap();
        let table = Table::read(&dir().join(format!("{name}.expected.csv"))).unwrap();
        let rows = table.feature_rows().unwrap();
        let expected = table.u32_column("label").unwrap();
        let ours: Vec<usize> = rows.iter().map(|r| walk(&flat, r).unwrap().class).collect();
        let ort_bad = ours
            .iter()
            .zip(&expected)
            .filter(|(a, b)| **a != **b as usize)
            .count();
        if ort_bad > 0 {
            failures.push(format!(
                "{name}: {ort_bad}/{} rows differ from onnxruntime",
                rows.len()
            ));
        }
        match TractModel::load(&bytes, &imported.columns, rows.len()) {
            Ok(t) => {
                assert!(
                    !TRACT_UNSUPPORTED.contains(&name.as_str()),
                    "{name}: tract now loads it; update TRACT_UNSUPPORTED"
                );
                let theirs = t.predict(&rows).unwrap();
                let bad = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
                if bad > 0 && !TRACT_MISLABELS.contains(&name.as_str()) {
                    failures.push(format!(
                        "{name}: {bad}/{} rows differ from tract",
                        rows.len()
                    ));
                }
            }
            Err(e) => assert!(
                TRACT_UNSUPPORTED.contains(&name.as_str()),
                "{name}: tract failed: {e:#}"
            ),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Boosted models as users train them (make_fixtures.py `boosted`): one
/// tree per class and round, depth 3. Each must fit the walk budget with its
/// every tree, and agree with onnxruntime on every stored row (checked for
/// every fixture above; here also by name, so none can go missing).
#[test]
fn boosted_ensembles_within_the_walk_budget_agree_with_onnxruntime() {
    use arbor_intf::schema::{MAX_TREES, MAX_WALK_STEPS};
    for (name, trees) in [
        ("boost_sklearn_gb_multi15", 60),
        ("boost_lightgbm_multi15", 60),
        ("boost_xgboost_multi15", 60),
        ("boost_sklearn_gb_binary20", 20),
        ("boost_lightgbm_binary20", 20),
        ("boost_xgboost_binary20", 20),
    ] {
        let bytes = std::fs::read(dir().join(format!("{name}.onnx"))).unwrap();
        let imported = onnx_import::import_bytes(&bytes)
            .unwrap_or_else(|e| panic!("{name}: import failed: {e:#}"));
        let st = imported.ensemble.validate().unwrap();
        assert_eq!(st.trees, trees, "{name}");
        assert!(st.trees > 16 && st.trees <= MAX_TREES, "{name}: {st:?}");
        assert!(st.max_depth <= 3, "{name}: {st:?}");
        assert!(st.walk <= MAX_WALK_STEPS, "{name}: {st:?}");
        let flat = flatten(&imported.ensemble, 9).unwrap();
        let table = Table::read(&dir().join(format!("{name}.expected.csv"))).unwrap();
        let rows = table.feature_rows().unwrap();
        let expected = table.u32_column("label").unwrap();
        assert!(rows.len() > 500, "{name}: {} rows", rows.len());
        let mut seen = [false; 4];
        for (r, &e) in rows.iter().zip(&expected) {
            let w = walk(&flat, r).unwrap();
            assert_eq!(w.class, e as usize, "{name}: row {r:?}");
            assert!(w.steps as usize <= st.walk, "{name}");
            seen[e as usize] = true;
        }
        let want = if trees == 60 { 4 } else { 2 };
        assert_eq!(
            seen.iter().filter(|&&s| s).count(),
            want,
            "{name}: onnxruntime's labels cover too few classes to mean much"
        );
    }
}

#[test]
fn refusal_fixtures_are_refused_with_clear_errors() {
    for (name, needle) in [
        ("schema_v99", "schema 99"),
        ("unknown_feature", "not a schema feature"),
        ("truncated", "not an ONNX model"),
    ] {
        let path = dir().join(format!("{name}.onnx"));
        if !path.exists() {
            continue; // generated by make_refusal_fixtures.py, owned by the scheduler tests
        }
        let e = format!("{:#}", onnx_import::import_file(&path).unwrap_err());
        assert!(e.contains(needle), "{name}: {e}");
    }
}

#[test]
fn const_class_fixtures_always_predict_their_class() {
    for k in 0..4usize {
        let imported =
            onnx_import::import_file(&dir().join(format!("const_class_{k}.onnx"))).unwrap();
        let flat = flatten(&imported.ensemble, 1).unwrap();
        assert_eq!(flat.nr_nodes, 1);
        let mut rng = arbor_util::rng::SplitMix64::new(k as u64);
        for _ in 0..200 {
            let row = std::array::from_fn(|_| model::rows::random_feature(&mut rng));
            assert_eq!(walk(&flat, &row).unwrap().class, k);
        }
    }
}

/// FNV-1a, 64 bits: a fingerprint that stays the same across Rust releases.
fn fnv64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What one fixture imports to: the operator, the columns and a
/// fingerprint of the whole integer ensemble (imported without the BPF
/// limits, so big models are covered too), and whether the bounded import
/// takes it or the outermost reason it refuses it.
fn import_line(name: &str, bytes: &[u8]) -> String {
    let bounded = match onnx_import::import_bytes(bytes) {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("refused: {e}"),
    };
    match onnx_import::import_bytes_unbounded(bytes) {
        Ok(imp) => {
            let st = imp.ensemble.stats().unwrap();
            format!(
                "{name} {:?} columns {:?} binary_one_column {} trees {} nodes {} ensemble {:016x} bounded {bounded}",
                imp.op,
                imp.columns,
                imp.binary_one_column,
                st.trees,
                st.nodes,
                fnv64(format!("{:?}", imp.ensemble).as_bytes()),
            )
        }
        Err(e) => format!("{name} refused: {e}"),
    }
}

/// Every .onnx fixture imports to the ensemble recorded in
/// tests/fixtures/models/imports.txt (refusals included): the ONNX reader
/// can change without changing one integer of any model. After a deliberate
/// change to the import, write the file again with ARBOR_BLESS=1.
#[test]
fn every_fixture_imports_to_the_recorded_ensemble() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "onnx").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    let now: String = names
        .iter()
        .map(|n| import_line(n, &std::fs::read(dir().join(format!("{n}.onnx"))).unwrap()) + "\n")
        .collect();
    let recorded = dir().join("imports.txt");
    if std::env::var_os("ARBOR_BLESS").is_some() {
        std::fs::write(&recorded, &now).unwrap();
    }
    let want = std::fs::read_to_string(&recorded).unwrap_or_default();
    for (w, n) in want.lines().zip(now.lines()) {
        assert_eq!(n, w, "a fixture imports differently than recorded");
    }
    assert_eq!(
        now.lines().count(),
        want.lines().count(),
        "fixtures and {} disagree:\n{now}",
        recorded.display()
    );
}

/// arbor-model's own ONNX messages (`onnx_pb`) read every fixture as
/// tract's, generated from ONNX's onnx.proto3, do: re-encoded from
/// arbor-model's reading, tract decodes the same nodes (every tree node's
/// attributes), graph inputs and outputs, operator sets and metadata as
/// from the file itself.
#[test]
fn own_onnx_messages_read_every_fixture_as_tract_does() {
    use prost::Message;
    let mut n = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "onnx") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let name = path.display();
        let ours = model::onnx_pb::ModelProto::decode(bytes.as_slice());
        let theirs = tract_onnx::pb::ModelProto::decode(bytes.as_slice());
        let (ours, theirs) = match (ours, theirs) {
            (Ok(o), Ok(t)) => (o, t),
            // A refusal fixture that is no protobuf at all.
            (Err(_), Err(_)) => continue,
            (o, t) => panic!("{name}: decodes {:?} here, {:?} in tract", o.err(), t.err()),
        };
        let back = tract_onnx::pb::ModelProto::decode(ours.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.ir_version, theirs.ir_version, "{name}");
        assert_eq!(back.opset_import, theirs.opset_import, "{name}");
        assert_eq!(back.metadata_props, theirs.metadata_props, "{name}");
        let (g, tg) = (back.graph.unwrap(), theirs.graph.unwrap());
        assert_eq!(g.node, tg.node, "{name}: nodes");
        assert_eq!(g.input, tg.input, "{name}: inputs");
        assert_eq!(g.output, tg.output, "{name}: outputs");
        n += 1;
    }
    assert!(n >= 20, "only {n} fixtures");
}
