//! `model verify --rows` with a CSV that names only the model's columns, in
//! another order, against onnxruntime's labels (the fixtures' expected CSVs).

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

/// The expected CSV of `model` reduced to `keep` (in that order) plus `label`
/// and a column no model reads.
fn reduced(model: &str, keep: &[&str], path: &std::path::Path) {
    let text = std::fs::read_to_string(fixture(&format!("{model}.expected.csv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let idx: Vec<usize> = keep
        .iter()
        .chain(["label"].iter())
        .map(|k| header.iter().position(|h| h == k).unwrap())
        .collect();
    let mut out = format!("note,{},label\n", keep.join(","));
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let row: Vec<&str> = idx.iter().map(|&i| cells[i]).collect();
        out.push_str(&format!("x,{}\n", row.join(",")));
    }
    std::fs::write(path, out).unwrap();
}

fn verify(model: &str, csv: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_arbor"))
        .args(["model", "verify"])
        .arg(fixture(&format!("{model}.onnx")))
        .arg("--rows")
        .arg(csv)
        .output()
        .unwrap()
}

#[test]
fn only_the_models_columns_in_another_order_are_enough() {
    let dir = std::env::temp_dir().join(format!("scx_arbor_verify_rows_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The model's metadata names these four columns (make_fixtures.py).
    let declared = [
        "ewma_sleep_us",
        "last_burst_us",
        "voluntary_permille",
        "ewma_burst_us",
    ];
    let csv = dir.join("subset.csv");
    let mut order = declared;
    order.reverse();
    reduced("sklearn_dt_subset", &order, &csv);
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
    let out = verify("sklearn_dt_subset", &csv);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("vs the CSV's label column: {rows}/{rows} agree")),
        "{text}"
    );
    assert!(
        text.contains("ignored columns (the model does not read them): note"),
        "{text}"
    );

    // Without a column the model splits on, it says which one is missing;
    // at least one of the four is split on.
    let mut refused = 0;
    for drop in declared {
        let keep: Vec<&str> = declared.iter().copied().filter(|c| *c != drop).collect();
        let csv = dir.join(format!("no_{drop}.csv"));
        reduced("sklearn_dt_subset", &keep, &csv);
        let out = verify("sklearn_dt_subset", &csv);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&format!("no column {drop}")), "{drop}: {err}");
            refused += 1;
        } else {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&format!("{rows}/{rows} agree")), "{text}");
        }
    }
    assert!(refused >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_record_csv_lists_its_other_columns_as_ignored() {
    let dir = std::env::temp_dir().join(format!("scx_arbor_verify_rec_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("rec.csv");
    std::fs::write(
        &csv,
        "ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,wake_rate_hz,\
voluntary_permille,weight,nr_cpus_allowed,runnable_load,predicted,actual,burst_us,truncated\n\
1,2,1,100,200,300,40,900,100,2,0,0,0,120,0\n",
    )
    .unwrap();
    let out = verify("sklearn_dt_subset", &csv);
    let text = String::from_utf8_lossy(&out.stdout);
    for c in ["ts_ns", "pid", "generation", "weight", "actual", "burst_us"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("ignored columns") && l.contains(c)),
            "{c}: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
