//! Every ONNX fixture compiles to the integer form, and the integer walker
//! agrees 100% with onnxruntime's stored labels and with tract.
//!
//! The crate is a binary, so the model modules are compiled into this test
//! directly.
#![allow(dead_code, unused_imports)]

#[path = "../src/learn/bins.rs"]
mod bins;
#[path = "../src/bpf_intf.rs"]
mod bpf_intf;
#[path = "../src/learn/cart.rs"]
mod cart;
/// The learner without its online part (which needs the scheduler).
mod learn {
    pub use super::cart::{train, CartParams, ClassWeight};
}
#[path = "../src/model/mod.rs"]
mod model;
#[path = "../src/schema.rs"]
mod schema;

use std::path::PathBuf;

use model::flat::{flatten, walk};
use model::rows::Table;
use model::{onnx_import, tract_run::TractModel};

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
];

/// Binary classifiers with one score column: tract labels them by an argmax
/// over its own two-column layout, which differs from onnxruntime's
/// `score > threshold` rule (onnxruntime's labels are the reference).
const TRACT_MISLABELS: &[&str] = &["lightgbm_binary", "sklearn_dt_binary"];

fn fixtures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "onnx").then(|| p.file_stem()?.to_str().map(String::from))?
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

#[test]
fn const_class_fixtures_always_predict_their_class() {
    for k in 0..4usize {
        let imported =
            onnx_import::import_file(&dir().join(format!("const_class_{k}.onnx"))).unwrap();
        let flat = flatten(&imported.ensemble, 1).unwrap();
        assert_eq!(flat.nr_nodes, 1);
        let mut rng = model::rows::Rng::new(k as u64);
        for _ in 0..200 {
            let row = std::array::from_fn(|_| rng.feature());
            assert_eq!(walk(&flat, &row).unwrap().class, k);
        }
    }
}
