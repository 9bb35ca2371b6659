//! The `model` commands end to end: train on a `--record` CSV, verify the
//! written model, annotate a plain export, verify every fixture.

use arbor_intf::schema;
use arbor_model as model;

use std::path::PathBuf;

use arbor_util::rng::SplitMix64;
use arbor_verify::cli::run as verify;
use model::rows::Table;
use prost::Message;
use scx_arbor::model_cli::{run, ClassWeightArg, ModelCommand};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models")
}

/// A fresh scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let d =
            std::env::temp_dir().join(format!("scx_arbor_model_cli_{}_{test}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const RECORD_HEADER: &str = "ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,\
wake_rate_hz,voluntary_permille,weight,nr_cpus_allowed,runnable_load,predicted,actual,burst_us,truncated";

/// A synthetic `--record` CSV whose class follows ewma_burst_us.
fn record_csv(n: usize) -> String {
    let mut rng = SplitMix64::new(11);
    let mut s = String::from(RECORD_HEADER);
    s.push('\n');
    for i in 0..n {
        let ewma = rng.below(8000) as u32;
        let last = (ewma + rng.below(500) as u32).saturating_sub(250);
        let burst = (ewma as i64 + rng.below(200) as i64 - 100).max(0) as u32;
        let actual = schema::class_of_burst(burst);
        s.push_str(&format!(
            "{},{},0,{last},{ewma},{},{},{},100,2,{},4,{actual},{burst},0\n",
            i * 1000,
            100 + i % 7,
            rng.below(100_000),
            rng.below(2000),
            rng.below(1001),
            rng.below(5)
        ));
    }
    s
}

#[test]
fn train_writes_a_model_that_verifies() {
    let dir = Scratch::new("train");
    let csv = dir.path("samples.csv");
    std::fs::write(&csv, record_csv(5000)).unwrap();
    let out = dir.path("trained.onnx");
    run(ModelCommand::Train {
        csv: csv.clone(),
        out: out.clone(),
        max_depth: 6,
        min_samples_leaf: 10,
        class_weight: ClassWeightArg::Balanced,
        holdout: 0.2,
        seed: 3,
        max_bins: 256,
    })
    .unwrap();
    // Verify against tract on generated rows and on the samples themselves.
    verify(&out, None, 2000, 1).unwrap();
    verify(&out, Some(&csv), 0, 1).unwrap();
    // Trained on the class boundaries of ewma_burst_us: accurate.
    let imp = model::onnx_import::import_file(&out).unwrap();
    let flat = model::flat::flatten(&imp.ensemble, 1).unwrap();
    let t = Table::parse(&record_csv(2000)).unwrap();
    let x = t.feature_rows().unwrap();
    let y = t.u32_column("actual").unwrap();
    let right = x
        .iter()
        .zip(&y)
        .filter(|(r, &c)| model::flat::walk(&flat, r).unwrap().class == c as usize)
        .count();
    assert!(right > 1800, "{right}/2000");
    run(ModelCommand::Inspect {
        file: out,
        summary: false,
    })
    .unwrap();
}

#[test]
fn train_refuses_bad_csv() {
    let dir = Scratch::new("bad_csv");
    let csv = dir.path("bad.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    let e = run(ModelCommand::Train {
        csv,
        out: dir.path("never.onnx"),
        max_depth: 8,
        min_samples_leaf: 20,
        class_weight: ClassWeightArg::None,
        holdout: 0.2,
        seed: 1,
        max_bins: 256,
    })
    .unwrap_err();
    assert!(format!("{e:#}").contains("no column"), "{e:#}");
}

#[test]
fn annotate_makes_a_plain_export_acceptable() {
    let dir = Scratch::new("annotate");
    let mut m = tract_onnx::pb::ModelProto::decode(
        &std::fs::read(fixtures().join("sklearn_dt_subset.onnx")).unwrap()[..],
    )
    .unwrap();
    m.metadata_props.clear();
    let plain = dir.path("plain.onnx");
    std::fs::write(&plain, m.encode_to_vec()).unwrap();
    assert!(model::onnx_import::import_file(&plain).is_err());
    let out = dir.path("annotated.onnx");
    // Wrong width is refused.
    run(ModelCommand::Annotate {
        input: plain.clone(),
        output: out.clone(),
        features: "last_burst_us,colour".into(),
    })
    .unwrap_err();
    run(ModelCommand::Annotate {
        input: plain,
        output: out.clone(),
        features: "ewma_sleep_us,last_burst_us,voluntary_permille,ewma_burst_us".into(),
    })
    .unwrap();
    let rows = fixtures().join("sklearn_dt_subset.expected.csv");
    verify(&out, Some(&rows), 0, 1).unwrap();
}

#[test]
fn verify_accepts_every_fixture_with_its_onnxruntime_labels() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let p = entry.unwrap().path();
        let rows = p.with_extension("expected.csv");
        if p.extension().is_some_and(|e| e == "onnx") && rows.exists() {
            let bytes = std::fs::read(&p).unwrap();
            let table = Table::read(&rows).unwrap();
            let report = arbor_verify::verify::verify(&bytes, Some(&table), 0, 1).unwrap();
            assert!(report.ok(), "{}: {}", p.display(), report.text());
            // Generated rows against tract, where tract is a reference.
            let report = arbor_verify::verify::verify(&bytes, None, 500, 2).unwrap();
            assert!(report.ok(), "{}: {}", p.display(), report.text());
        }
    }
}
