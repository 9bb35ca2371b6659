//! Learning on the host: the cost matrix as `--help` and docs/learning.md show it, and
//! `scx_arbor generations` over a model directory.

use std::path::PathBuf;
use std::process::Command;

use arbor_learn::cost;
use arbor_learn::generations::{Lineage, Store};

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("running scx_arbor");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("arbor-learn-host-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn help_and_learning_doc_show_the_one_cost_matrix() {
    let table = cost::table();
    // The matrix itself, independently: over-predicting by k classes costs
    // 2k, under-predicting k.
    assert!(table.contains("| tiny | 0 | 1 | 2 | 3 |"), "{table}");
    assert!(table.contains("| long | 6 | 4 | 2 | 0 |"), "{table}");
    let (ok, help) = run(&["--help"]);
    assert!(ok, "{help}");
    for line in table.lines() {
        assert!(
            help.lines().any(|l| l.trim() == line),
            "--help lacks the cost matrix row {line:?}:\n{help}"
        );
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/learning.md"))
        .expect("docs/learning.md");
    assert!(
        doc.contains(&table),
        "docs/learning.md does not show the cost matrix as defined:\n{table}"
    );
}

fn lineage(parent: Option<u64>, score: f64) -> Lineage {
    Lineage {
        generation: 0,
        parent,
        time: 1_764_400_000,
        samples: 3000,
        holdout_rows: 1000,
        holdout_score: Some(score),
        holdout_balanced_accuracy: Some(61.25),
        parent_holdout_score: parent.map(|_| score - 4.0),
        parent_live_score: None,
        shadow_score: None,
        parent_shadow_score: None,
        promoted: true,
        installed_as: 2,
        source: None,
        sha256: None,
    }
}

#[test]
fn generations_lists_lineage_and_scores() {
    let d = tmpdir("list");
    let dir = d.to_str().unwrap();
    let (ok, out) = run(&["generations", "--model-dir", dir]);
    assert!(ok, "{out}");
    assert!(out.contains("no generations"), "{out}");

    let store = Store::new(&d);
    let model = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.onnx")).unwrap();
    // Generations 1..3 from an earlier run, then two saves.
    std::fs::create_dir_all(&d).unwrap();
    for n in 1..=3 {
        std::fs::write(d.join(format!("gen-{n:06}.onnx")), &model).unwrap();
    }
    assert_eq!(store.save(&model, &mut lineage(Some(3), 91.5)).unwrap(), 4);
    assert_eq!(store.save(&model, &mut lineage(Some(4), 93.75)).unwrap(), 5);

    let (ok, out) = run(&["generations", "--model-dir", dir]);
    assert!(ok, "{out}");
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 5, "{out}");
    let cols: Vec<&str> = rows[4].split_whitespace().collect();
    // generation, parent, date, time, samples, held-out, parent@ho, live, bal.acc
    assert_eq!(
        &cols[..9],
        [
            "5",
            "4",
            "2025-11-29",
            "07:06:40",
            "3000",
            "93.8",
            "89.8",
            "-",
            "61.2"
        ],
        "{out}"
    );
    assert!(rows[0].starts_with("1 "), "{out}");

    let (ok, out) = run(&["generations", "--model-dir", dir, "--json"]);
    assert!(ok, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[3]["lineage"]["parent"], 3);
    assert!(lines[0]["lineage"].is_null());
    let _ = std::fs::remove_dir_all(&d);
}
