//! Model benchmarks: ONNX import + compile, tract load, integer walk vs
//! tract inference per row, CART training. Prints a table; no assertions.
//!
//! Run with `cargo bench --bench model`.

use arbor_intf::schema;
use arbor_learn as learn;
use arbor_model as model;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arbor_util::rng::SplitMix64;
use arbor_verify::tract_run::TractModel;
use model::rows::Row;
use schema::NR_FEATURES;

/// Median time of `f` over `n` runs.
fn median<T>(n: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .collect();
    v.sort();
    v[n / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn rows(n: usize, seed: u64) -> Vec<Row> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| std::array::from_fn(|_| model::rows::random_feature(&mut rng) % 20_000))
        .collect()
}

fn main() {
    // A test harness asking for the list of tests (cargo nextest): this
    // benchmark has none.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models");
    let data = rows(100_000, 1);
    println!(
        "{:<22} {:>6} {:>12} {:>12} {:>10} {:>12} {:>12}",
        "model", "nodes", "import+flat", "tract load", "walk/row", "tract/row b1", "tract/row b1k"
    );
    for name in [
        "sklearn_dt_multi",
        "sklearn_rf_multi",
        "sklearn_gb_multi",
        "lightgbm_multi",
        "xgboost_multi",
    ] {
        let bytes = std::fs::read(dir.join(format!("{name}.onnx"))).expect("fixture");
        let compile = median(51, || {
            let imp = model::onnx_import::import_bytes(&bytes).expect("import");
            model::flat::flatten(&imp.ensemble, 1).expect("flatten")
        });
        let imp = model::onnx_import::import_bytes(&bytes).expect("import");
        let flat = model::flat::flatten(&imp.ensemble, 1).expect("flatten");
        let tract_load = median(11, || {
            TractModel::load(&bytes, &imp.columns, 1).expect("tract")
        });

        let t = Instant::now();
        let mut sum = 0usize;
        for r in &data {
            sum += model::flat::walk(&flat, black_box(r)).expect("walk").class;
        }
        black_box(sum);
        let walk_ns = t.elapsed().as_nanos() as f64 / data.len() as f64;

        let t1 = TractModel::load(&bytes, &imp.columns, 1).expect("tract");
        let n1 = 5_000;
        let t = Instant::now();
        for r in &data[..n1] {
            black_box(t1.predict(std::slice::from_ref(r)).expect("tract"));
        }
        let tract1_ns = t.elapsed().as_nanos() as f64 / n1 as f64;

        let tk = TractModel::load(&bytes, &imp.columns, 1024).expect("tract");
        let t = Instant::now();
        black_box(tk.predict_all(&data[..50 * 1024]).expect("tract"));
        let trackk_ns = t.elapsed().as_nanos() as f64 / (50.0 * 1024.0);

        println!(
            "{:<22} {:>6} {:>12} {:>12} {:>7.1} ns {:>9.0} ns {:>9.0} ns",
            name,
            flat.nr_nodes,
            us(compile),
            us(tract_load),
            walk_ns,
            tract1_ns,
            trackk_ns
        );
    }

    // CART on 100k x 8, depth 8.
    let mut rng = SplitMix64::new(3);
    let y: Vec<u8> = data
        .iter()
        .map(|r: &[u32; NR_FEATURES]| {
            let burst = r[1] / 2 + r[0] / 4 + if r[4] % 1000 < 300 { 2000 } else { 0 };
            let noisy = (burst as i64 + rng.below(300) as i64 - 150).max(0) as u32;
            schema::class_of_burst(noisy) as u8
        })
        .collect();
    let params = learn::CartParams {
        max_depth: 8,
        min_samples_leaf: 20,
        ..Default::default()
    };
    let train = median(7, || learn::train(&data, &y, &params).expect("train"));
    let e = learn::train(&data, &y, &params).expect("train");
    let st = e.validate().expect("valid");
    println!(
        "\nCART 100k rows x {NR_FEATURES} features, depth 8, 256 bins: {:.1} ms (median of 7), {} nodes",
        train.as_secs_f64() * 1e3,
        st.nodes
    );
}
