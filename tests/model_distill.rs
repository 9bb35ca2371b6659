//! `scx_arbor model distill` against ground truth: onnxruntime's labels of a
//! boosted model beyond the walk budget (tests/fixtures/models/
//! big_lightgbm_multi60.samples.csv, written by make_fixtures.py) and the
//! recorded classes of the same samples.

use std::path::PathBuf;
use std::process::Command;

use arbor_model::flat::{flatten, walk};
use arbor_model::onnx_import::{import_bytes, import_bytes_unbounded, import_file};
use arbor_model::rows::Table;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

const BIG: &str = "big_lightgbm_multi60.onnx";
const SAMPLES: &str = "big_lightgbm_multi60.samples.csv";

#[test]
fn the_big_model_is_refused_but_predicts_exactly_without_the_limits() {
    let bytes = std::fs::read(fixture(BIG)).unwrap();
    let e = format!("{:#}", import_bytes(&bytes).unwrap_err());
    assert!(
        e.contains("240 trees, 112 more than the limit of 128") && e.contains("model distill"),
        "{e}"
    );
    let big = import_bytes_unbounded(&bytes).unwrap().ensemble;
    let st = big.check_semantics().unwrap();
    assert_eq!(st.trees, 240);
    assert!(st.walk > 512, "{st:?}");
    let t = Table::read(&fixture(SAMPLES)).unwrap();
    let rows = t.feature_rows().unwrap();
    let ort = t.u32_column("label").unwrap();
    for (r, &l) in rows.iter().zip(&ort) {
        assert_eq!(big.predict(r).unwrap(), l as usize, "row {r:?}");
    }
}

/// `a/t` numbers of the line starting with `  all` after the line containing `after`.
fn all_line(out: &str, after: &str) -> Vec<(usize, usize)> {
    let tail = &out[out
        .find(after)
        .unwrap_or_else(|| panic!("no {after:?} in\n{out}"))..];
    let line = tail
        .lines()
        .find(|l| l.trim_start().starts_with("all "))
        .unwrap_or_else(|| panic!("no `all` line after {after:?} in\n{out}"));
    line.split_whitespace()
        .filter_map(|w| {
            let (a, t) = w.split_once('/')?;
            Some((a.parse().ok()?, t.parse().ok()?))
        })
        .collect()
}

#[test]
fn distill_reports_fidelity_and_accuracy_that_match_ground_truth() {
    let dir = std::env::temp_dir().join(format!("scx_arbor_distill_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let small = dir.join("small.onnx");
    let out = Command::new(env!("CARGO_BIN_EXE_scx_arbor"))
        .args(["model", "distill"])
        .arg(fixture(BIG))
        .arg("--csv")
        .arg(fixture(SAMPLES))
        .arg("--out")
        .arg(&small)
        .args([
            "--max-depth",
            "6",
            "--min-samples-leaf",
            "5",
            "--holdout",
            "0",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("beyond the budget of 512"), "{text}");

    // The small model is installable and at most 6 deep.
    let imported = import_file(&small).unwrap();
    let st = imported.ensemble.validate().unwrap();
    assert!(st.trees == 1 && st.max_depth <= 6, "{st:?}");
    let flat = flatten(&imported.ensemble, 1).unwrap();

    let t = Table::read(&fixture(SAMPLES)).unwrap();
    let rows = t.feature_rows().unwrap();
    let ort = t.u32_column("label").unwrap();
    let actual = t.u32_column("actual").unwrap();
    let n = rows.len();
    let ours: Vec<u32> = rows
        .iter()
        .map(|r| walk(&flat, r).unwrap().class as u32)
        .collect();
    let fidelity = ours.iter().zip(&ort).filter(|(a, b)| a == b).count();
    let big_right = ort.iter().zip(&actual).filter(|(a, b)| a == b).count();
    let small_right = ours.iter().zip(&actual).filter(|(a, b)| a == b).count();

    assert_eq!(all_line(&text, "fidelity"), vec![(fidelity, n)], "{text}");
    assert_eq!(
        all_line(&text, "accuracy against"),
        vec![(big_right, n), (small_right, n)],
        "{text}"
    );
    // A depth-6 tree fit to 3000 of the big model's labels imitates it
    // on most of them.
    assert!(fidelity * 10 > n * 8, "fidelity {fidelity}/{n}\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The CSV without column `col`, written into `dir`.
fn csv_without(dir: &std::path::Path, col: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture(SAMPLES)).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let k = header.iter().position(|h| *h == col).unwrap();
    let cut: String = text
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(k);
            cells.join(",") + "\n"
        })
        .collect();
    let csv = dir.join(format!("no_{col}.csv"));
    std::fs::write(&csv, cut).unwrap();
    csv
}

fn distill_cmd(csv: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_scx_arbor"))
        .args(["model", "distill"])
        .arg(fixture(BIG))
        .arg("--csv")
        .arg(csv)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn distill_needs_the_big_models_features_not_the_actual_column() {
    let dir = std::env::temp_dir().join(format!("scx_arbor_distill_err_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Without ewma_burst_us (which a model of this data splits on) the big
    // model cannot label the rows: refused.
    let out = distill_cmd(&csv_without(&dir, "ewma_burst_us"), &dir.join("x.onnx"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no column ewma_burst_us"), "{err}");
    // Without `actual` the rows are still labelled by the big model itself:
    // the tree is fit and its fidelity reported; accuracy is not.
    let small = dir.join("small.onnx");
    let out = distill_cmd(&csv_without(&dir, "actual"), &small);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!all_line(&text, "fidelity").is_empty(), "{text}");
    assert!(text.contains("no `actual` column"), "{text}");
    assert!(!text.contains("by actual class"), "{text}");
    assert!(small.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
