//! Replays the hand-written seeds (fuzz/seeds/TARGET/*) and the committed
//! fuzz corpus (fuzz/corpus/TARGET/*) through the fuzz targets' bodies
//! (src/fuzzing.rs), so every input the fuzzer kept — and every crash it
//! found, once fixed — is checked on each test run. Run the fuzzer itself
//! with fuzz/run.sh.

use std::path::{Path, PathBuf};

use scx_arbor::fuzzing;

/// The files of fuzz/KIND/TARGET, at least `min` of them.
fn inputs(kind: &str, target: &str, min: usize) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= min,
        "{} holds {} inputs, fewer than {min}: inputs were lost",
        dir.display(),
        files.len()
    );
    files
}

fn corpus(target: &str) -> Vec<PathBuf> {
    let mut all = inputs("seeds", target, 2);
    all.extend(inputs("corpus", target, 10));
    all
}

fn replay(target: &str, body: fn(&[u8])) {
    for f in corpus(target) {
        let data = std::fs::read(&f).expect("reading a corpus input");
        let r = std::panic::catch_unwind(|| body(&data));
        assert!(r.is_ok(), "fuzz input {} makes {target} panic", f.display());
    }
}

#[test]
fn onnx_import_corpus() {
    replay("onnx_import", fuzzing::onnx_import);
}

#[test]
fn csv_rows_corpus() {
    replay("csv_rows", fuzzing::csv_rows);
}

#[test]
fn control_request_corpus() {
    replay("control_request", fuzzing::control_request);
}

#[test]
fn the_seed_models_are_accepted_and_checked() {
    // The replay must reach the differential check, not only the refusals:
    // the seed models import and compile.
    let seeds: Vec<PathBuf> = inputs("seeds", "onnx_import", 2)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        })
        .collect();
    assert!(seeds.len() >= 4, "only {} seed models", seeds.len());
    for f in &seeds {
        let data = std::fs::read(f).unwrap();
        let imported = arbor_model::onnx_import::import_bytes(&data)
            .unwrap_or_else(|e| panic!("seed {} refused: {e:#}", f.display()));
        arbor_model::flat::flatten(&imported.ensemble, 1)
            .unwrap_or_else(|e| panic!("seed {} does not compile: {e:#}", f.display()));
    }
}
