//! The verifier accepts the tree walk at its limits and the walk holds up
//! there under load: every decision of a maximal ensemble walks exactly
//! 16 trees x 25 nodes, with no walk error, on every CPU.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use serde_json::Value;

/// Nodes every decision of tests/fixtures/models/limits_max.onnx visits.
const STEPS_PER_DECISION: u64 = 16 * 25;
const FALLBACK: usize = 4;

fn field(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no unsigned `{key}` in {v}"))
}

fn decisions(v: &Value) -> Vec<u64> {
    v["decisions"]
        .as_array()
        .unwrap_or_else(|| panic!("no decisions in {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

#[test]
fn maximal_ensemble_walks_400_nodes_per_decision_under_load() {
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
    let steps = field(&end, "walk_steps") - field(&start, "walk_steps");
    assert_eq!(
        steps,
        made * STEPS_PER_DECISION,
        "every decision must walk {STEPS_PER_DECISION} nodes ({made} decisions)"
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
