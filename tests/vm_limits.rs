//! The verifier accepts the tree walk at its limits and the walk holds up
//! there under load: every decision of a maximal ensemble (128 trees, 4096
//! leaves, a depth-24 tree) walks exactly the 512-node budget, with no walk
//! error, on every CPU; a boosted 4-class LightGBM model of 60 trees then
//! runs under load with no walk error either.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use serde_json::Value;

/// Nodes every decision of tests/fixtures/models/limits_max.onnx visits:
/// 25 in tree 0, 4 in each of 106 trees, 3 in each of 21.
const STEPS_PER_DECISION: u64 = 25 + 106 * 4 + 21 * 3;
const FALLBACK: usize = 4;

fn field(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no unsigned `{key}` in {v}"))
}

/// Decisions per action row (tiny, short, medium, long, fallback).
fn decisions(v: &Value) -> Vec<u64> {
    ["tiny", "short", "medium", "long", "fallback"]
        .iter()
        .map(|class| field(v, &format!("decisions_{class}")))
        .collect()
}

#[test]
fn maximal_ensemble_walks_512_nodes_per_decision_under_load() {
    assert_eq!(
        STEPS_PER_DECISION as usize,
        arbor_intf::schema::MAX_WALK_STEPS
    );
    let limits = arbor_model::onnx_import::import_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/models/limits_max.onnx"
    )))
    .unwrap();
    let st = limits.ensemble.validate().unwrap();
    assert_eq!(
        (st.trees, st.leaves, st.max_depth, st.walk),
        (128, 4096, 24, 512),
        "limits_max.onnx is not at the limits"
    );
    let boosted = arbor_model::onnx_import::import_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/models/boost_lightgbm_multi15.onnx"
    )))
    .unwrap()
    .ensemble
    .validate()
    .unwrap();

    let c = vm::run_scenario("limits", &[], Duration::from_secs(180));
    c.assert_exit_ok();
    let a = c.mark("attach");
    assert_eq!(a.str("state"), "enabled", "the maximal model did not load");

    let start = c.json("status_start");
    let end = c.json("status_end");
    assert_eq!(field(&end, "generation"), 1);
    let d0 = decisions(&start);
    let d1 = decisions(&end);
    let made: u64 = d1.iter().sum::<u64>() - d0.iter().sum::<u64>();
    assert!(made > 1000, "only {made} decisions under load");
    assert_eq!(
        d1[FALLBACK], d0[FALLBACK],
        "decisions fell back to the constant class with a model installed"
    );
    assert_eq!(field(&end, "walk_errors"), 0, "walk errors at the limits");
    assert_eq!(field(&end, "torn_reads"), 0);
    // Walks: one per wakeup decision, and one per mid-burst decision (at
    // the tick when a burst outruns its class, for a waker at a wakeup).
    let delta = |k: &str| field(&end, k) - field(&start, k);
    let mid = delta("tick_decisions") + delta("waker_decisions");
    let steps = delta("walk_steps");
    assert_eq!(
        steps,
        (made + mid) * STEPS_PER_DECISION,
        "every walk must take {STEPS_PER_DECISION} nodes ({made} wakeup decisions, {mid} mid-burst)"
    );
    for (cpu, row) in end["decisions_per_cpu"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let n: u64 = row
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum();
        assert!(n > 0, "CPU {cpu} made no decisions");
    }

    let swapped = c.block("swap_boosted");
    assert_eq!(c.block_rc("swap_boosted"), Some(0), "{swapped}");
    let b0 = c.json("boosted_start");
    let b1 = c.json("boosted_end");
    assert_eq!(field(&b1, "generation"), 2, "the boosted model is not live");
    let made: u64 = decisions(&b1).iter().sum::<u64>() - decisions(&b0).iter().sum::<u64>();
    assert!(
        made > 1000,
        "only {made} decisions under load with the boosted model"
    );
    assert_eq!(
        decisions(&b1)[FALLBACK],
        decisions(&b0)[FALLBACK],
        "boosted-model decisions fell back to the constant class"
    );
    assert_eq!(
        field(&b1, "walk_errors"),
        0,
        "walk errors with the boosted model"
    );
    assert_eq!(field(&b1, "torn_reads"), 0);
    let steps = field(&b1, "walk_steps") - field(&b0, "walk_steps");
    // Walks: one per wakeup decision and one per mid-burst decision. Every
    // tree is entered (at least its root) and none walks past its depth.
    let bdelta = |k: &str| field(&b1, k) - field(&b0, k);
    let walks = made + bdelta("tick_decisions") + bdelta("waker_decisions");
    assert!(
        steps >= walks * boosted.trees as u64 && steps <= walks * boosted.walk as u64,
        "{steps} nodes for {walks} walks ({made} wakeup decisions) of a {}-tree model walking at most {}",
        boosted.trees,
        boosted.walk
    );
    println!(
        "boosted model: {made} decisions, {:.1} nodes walked per decision (at most {})",
        steps as f64 / made as f64,
        boosted.walk
    );

    let refused = c.block("refuse_deep");
    assert_eq!(c.block_rc("refuse_deep"), Some(1), "{refused}");
    assert!(
        refused.contains("25 splits deep") && refused.contains("max_depth <= 24"),
        "the refusal must say which limit and what to do:\n{refused}"
    );
    let after = c.mark("after");
    assert_eq!(after.str("state"), "enabled");
    assert_eq!(after.str("alive"), "1");
}
