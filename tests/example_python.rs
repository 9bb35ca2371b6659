//! examples/python/train_boosted.py end to end, in a venv: a `--record` CSV
//! in, a boosted LightGBM model out, checked by `scx_arbor model verify`
//! against onnxruntime's labels. The venv is the fixtures' one
//! (`$ARBOR_CACHE/pyenv`, default ~/.cache/scx_arbor/pyenv, see
//! tests/fixtures/models/make_fixtures.py), prepared and cached by
//! tests/vm/install-python-env.sh, which install-host-deps.sh runs. A
//! missing or outdated venv fails the test with the command to run.

use std::path::{Path, PathBuf};
use std::process::Command;

use arbor_intf::schema;
use arbor_model::onnx_import::import_file;
use arbor_util::rng::SplitMix64;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The venv tests/vm/install-python-env.sh prepared (install-host-deps.sh
/// runs it): the test installs nothing, and fails with the reason when the
/// venv is missing or holds other requirements.
fn venv() -> PathBuf {
    let cache = std::env::var_os("ARBOR_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                        .join(".cache")
                })
                .join("scx_arbor")
        });
    let venv = cache.join("pyenv");
    let prepare = "run tests/vm/install-python-env.sh (tests/vm/install-host-deps.sh runs it)";
    assert!(
        venv.join("bin/python").exists(),
        "no Python environment at {}: {prepare}",
        venv.display()
    );
    let req = Path::new(ROOT).join("examples/python/requirements.txt");
    let sum = Command::new("sha256sum")
        .arg(&req)
        .output()
        .expect("running sha256sum");
    let want = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    let have = std::fs::read_to_string(venv.join("requirements.sha256")).unwrap_or_default();
    assert!(
        sum.status.success() && have.trim() == want,
        "the Python environment at {} was not installed from the current \
         examples/python/requirements.txt: {prepare}",
        venv.display()
    );
    venv
}

/// A `--record` CSV whose class follows ewma_burst_us and voluntary_permille.
fn record_csv(n: usize) -> String {
    let mut rng = SplitMix64::new(5);
    let mut s = String::from(
        "ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,wake_rate_hz,\
voluntary_permille,weight,nr_cpus_allowed,runnable_load,predicted,actual,burst_us,truncated\n",
    );
    for i in 0..n {
        let ewma = rng.below(9000) as u32;
        let vol = rng.below(1001) as u32;
        let burst =
            (ewma + if vol < 300 { 3000 } else { 0 } + rng.below(400) as u32).saturating_sub(200);
        let last = (ewma + rng.below(600) as u32).saturating_sub(300);
        s.push_str(&format!(
            "{},{},1,{last},{ewma},{},{},{vol},100,2,{},4,{},{burst},0\n",
            i * 1000,
            100 + i % 7,
            rng.below(100_000),
            rng.below(2000),
            rng.below(5),
            schema::class_of_burst(burst)
        ));
    }
    s
}

#[test]
fn the_python_example_trains_exports_and_verifies_a_boosted_model() {
    let venv = venv();
    let dir = std::env::temp_dir().join(format!("scx_arbor_example_py_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("samples.csv");
    std::fs::write(&csv, record_csv(4000)).unwrap();
    let out = dir.join("boosted.onnx");
    let run = Command::new(venv.join("bin/python"))
        .arg(Path::new(ROOT).join("examples/python/train_boosted.py"))
        .arg("--csv")
        .arg(&csv)
        .arg("--out")
        .arg(&out)
        .arg("--scx-arbor")
        .arg(env!("CARGO_BIN_EXE_scx_arbor"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // 800 held-out rows labelled by onnxruntime, every one agreeing.
    assert!(
        text.contains("vs the CSV's label column: 800/800 agree"),
        "{text}"
    );
    assert!(
        text.contains("OK: the integer walker agrees on every row"),
        "{text}"
    );
    // Boosted: 4 classes x 15 rounds, within the budget.
    let st = import_file(&out).unwrap().ensemble.validate().unwrap();
    assert_eq!(st.trees, 60, "{st:?}");
    assert!(
        st.max_depth <= 3 && st.walk <= schema::MAX_WALK_STEPS,
        "{st:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
