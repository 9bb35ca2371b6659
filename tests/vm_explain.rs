//! `scx_arbor explain PID` in the VM, on a known periodic task: the latency
//! workload's waker (10007 µs period, 1000 µs of CPU per wakeup) under the
//! shipped model. Ground truth: the task's own period and burst for the
//! features, and the shipped model's integer walk (`flat::trace`, checked
//! against onnxruntime by the fixture tests) for the path and the class.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use arbor_intf::schema::{feature_index, FEATURES, NR_FEATURES};
use arbor_model::flat::{flatten, trace};
use arbor_model::onnx_import::import_bytes;

fn shipped_model() -> arbor_model::ensemble::Ensemble {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/default.onnx")).unwrap();
    import_bytes(&bytes).unwrap().ensemble
}

#[test]
fn explain_a_periodic_task_and_refuse_clearly() {
    let c = vm::run_scenario("explain", &[], Duration::from_secs(240));
    c.assert_exit_ok();
    let tid = c.mark("waker").u64("tid");
    assert!(tid > 0);

    // The JSON reply against ground truth.
    let v = c.json("explain_json");
    assert_eq!(v["pid"].as_u64(), Some(tid));
    assert_eq!(v["comm"].as_str(), Some("ab-waker"));
    let feat: [u32; NR_FEATURES] =
        std::array::from_fn(|f| v["features"][f].as_u64().unwrap() as u32);
    let f = |name: &str| feat[feature_index(name).unwrap()];
    // A 10007 µs period: ~100 wakeups per second; bursts of 1000 µs of CPU
    // (emulation and the hog stretch both; the bounds are loose).
    let hz = f("wake_rate_hz");
    assert!(
        (50..=130).contains(&hz),
        "wake_rate_hz {hz} for a 10007 µs period"
    );
    let burst = f("ewma_burst_us");
    assert!(
        (700..=3000).contains(&burst),
        "ewma_burst_us {burst} for 1000 µs bursts"
    );
    assert!(f("voluntary_permille") > 500, "a sleeper: {feat:?}");
    assert_eq!(f("weight"), 100);

    // The path and the class are the shipped model's walk of those features.
    let m = flatten(&shipped_model(), 1).unwrap();
    let (walk, path) = trace(&m, &feat).unwrap();
    assert_eq!(v["class"].as_u64(), Some(walk.class as u64));
    assert_eq!(v["walk_steps"].as_u64(), Some(u64::from(walk.steps)));
    let got = v["path"].as_array().unwrap();
    assert_eq!(got.len(), path.len());
    for (g, s) in got.iter().zip(&path) {
        assert_eq!(g["feature"].as_u64(), Some(s.feature as u64));
        assert_eq!(g["value"].as_u64(), Some(u64::from(s.value)));
        assert_eq!(g["threshold"].as_u64(), Some(u64::from(s.threshold)));
        assert_eq!(g["left"].as_bool(), Some(s.left));
    }
    // Default action table (docs/design.md) on the VM's 2 CPUs: slices
    // capped at the base slice 1.5 ms; requests tiny 250 µs, short 1 ms,
    // medium 4 ms, long 8 ms.
    let rows = [(1000, 250), (1500, 1000), (1500, 4000), (1500, 8000)];
    let (slice_us, req_us) = rows[walk.class];
    assert_eq!(v["slice_ns"].as_u64(), Some(slice_us * 1000));
    assert_eq!(v["request_ns"].as_u64(), Some(req_us * 1000));
    let last = &v["last"];
    assert!(last["class"].as_u64().unwrap() < 4, "{last}");
    assert!(last["generation"].as_u64().unwrap() >= 1, "{last}");

    // The text (a second request, so its features may have moved on):
    // each split as `feature (unit) = value <= threshold → left` (or
    // `> threshold → right`), as many as it says it took.
    let text = c.block("explain");
    assert_eq!(c.block_rc("explain"), Some(0), "{text}");
    println!("{text}");
    let splits: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    ") && l.contains(" → "))
        .collect();
    let said: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("path of the live model ("))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no path header in\n{text}"));
    assert_eq!(splits.len(), said, "{text}");
    for l in &splits {
        let (lhs, dir) = l.trim().split_once(" → ").unwrap();
        let (name_unit, cmp) = lhs.split_once(" = ").unwrap();
        let name = name_unit.split(' ').next().unwrap();
        let f = &FEATURES[feature_index(name).unwrap_or_else(|| panic!("{l}"))];
        let label = if f.unit.is_empty() {
            f.name.to_string()
        } else {
            format!("{} ({})", f.name, f.unit)
        };
        assert_eq!(name_unit, label, "{l}");
        let w: Vec<&str> = cmp.split(' ').collect();
        let (value, op, threshold): (u64, &str, u64) =
            (w[0].parse().unwrap(), w[1], w[2].parse().unwrap());
        match (op, dir) {
            ("<=", "left") => assert!(value <= threshold, "{l}"),
            (">", "right") => assert!(value > threshold, "{l}"),
            _ => panic!("malformed split {l:?}"),
        }
    }
    assert!(
        text.contains("class: ") && text.contains("last decision: "),
        "{text}"
    );

    let gone = c.block("gone");
    assert_eq!(c.block_rc("gone"), Some(1), "{gone}");
    assert!(gone.contains("no task with pid 4000000"), "{gone}");

    let fifo = c.mark("fifo").u64("pid");
    assert!(fifo > 0, "no SCHED_FIFO stress-ng worker found");
    let out = c.block("fifo");
    assert_eq!(c.block_rc("fifo"), Some(1), "{out}");
    assert!(
        out.contains("is not on sched_ext") && out.contains("SCHED_FIFO"),
        "{out}"
    );

    let out = c.block("nomodel");
    assert_eq!(c.block_rc("nomodel"), Some(1), "{out}");
    assert!(out.contains("no model is installed"), "{out}");
}
