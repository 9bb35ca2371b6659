//! Bodies of the fuzz targets in fuzz/ (feature `fuzzing`, never in a
//! release build). They live here so that tests/host_fuzz_corpus.rs replays
//! the committed corpus through exactly the code the fuzzer ran. Each takes
//! arbitrary bytes and may only panic on a real defect.

use arbor_model::{flat, onnx_import as import, rows};
use arbor_proto::control;

/// Bytes as an ONNX model: import, compile to the flat array BPF walks,
/// and check the flat walk against the integer ensemble on probe rows.
pub fn onnx_import(data: &[u8]) {
    let Ok(imported) = import::import_bytes(data) else {
        return;
    };
    let e = &imported.ensemble;
    let Ok(m) = flat::flatten(e, 1) else {
        return;
    };
    for x in rows::probe_rows(e, 8, 1).iter().take(512) {
        match (e.predict(x), flat::walk(&m, x)) {
            (Ok(want), Ok(got)) => assert_eq!(
                got.class, want,
                "the flat walk and the ensemble disagree on {x:?}"
            ),
            (want, got) => panic!(
                "an accepted model cannot be walked on {x:?}: ensemble {want:?}, flat {:?}",
                got.map(|w| w.class)
            ),
        }
    }
}

/// Bytes as a `--rows` / `--record` CSV: parse, then read the features and
/// the `actual` column as `model verify --rows` and `model train` do.
pub fn csv_rows(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(table) = rows::Table::parse(text) else {
        return;
    };
    for r in &table.rows {
        assert_eq!(r.len(), table.header.len(), "a ragged row was accepted");
    }
    if let Ok(x) = table.feature_rows() {
        assert_eq!(x.len(), table.rows.len());
        for row in &x {
            assert!(row.iter().all(|&v| v <= arbor_intf::schema::FEATURE_MAX));
        }
    }
    let _ = table.u32_column("actual");
}

/// Bytes as one control-socket request (line and payload).
pub fn control_request(data: &[u8]) {
    let mut r = std::io::BufReader::new(data);
    if let Ok(req) = control::read_request(&mut r) {
        let line_end = data.iter().position(|&b| b == b'\n');
        assert!(
            line_end.is_some_and(|n| n < control::MAX_LINE),
            "a request without a bounded line was accepted"
        );
        if let control::Request::Swap(p) = req {
            assert!(p.len() <= control::MAX_PAYLOAD);
        }
    }
}
