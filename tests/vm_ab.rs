//! `scx_arbor ab` for real in the VM: both arms produce sane figures, the
//! JSON and SVG are written, and the system is back on EEVDF afterwards,
//! also when interrupted. Structure and sanity only: never that arbor wins.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use serde_json::Value;

/// Every number in `v`, recursively, with its path.
fn numbers(v: &Value, path: &str, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Number(n) => out.push((path.to_string(), n.as_f64().unwrap())),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| numbers(x, &format!("{path}[{i}]"), out)),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| numbers(x, &format!("{path}.{k}"), out)),
        _ => {}
    }
}

#[test]
fn ab_runs_both_arms_and_leaves_eevdf() {
    let c = vm::run_scenario(
        "ab",
        &[("rounds", "2"), ("duration", "3")],
        Duration::from_secs(400),
    );
    c.assert_exit_ok();
    assert_eq!(c.mark("before").str("state"), "disabled");
    let ab = c.mark("ab");
    assert_eq!(
        ab.i64("rc"),
        0,
        "scx_arbor ab failed:\n{}",
        c.block("stderr")
    );
    assert_eq!(ab.str("state"), "disabled", "ab left sched_ext enabled");
    assert_eq!(ab.u64("arbor_procs"), 0, "ab left a scheduler running");

    let table = c.block("table");
    for word in ["eevdf", "arbor", "p99", "95% CI"] {
        assert!(
            table.to_lowercase().contains(&word.to_lowercase()),
            "table lacks {word}:\n{table}"
        );
    }

    let json = c.json("json");
    let mut nums = Vec::new();
    numbers(&json, "", &mut nums);
    assert!(!nums.is_empty());
    for (path, x) in &nums {
        assert!(x.is_finite(), "{path} = {x} in the JSON");
    }
    let rounds = json["rounds"]
        .as_array()
        .unwrap_or_else(|| panic!("no rounds array in the JSON: {json}"));
    let text = rounds
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let mut arms = std::collections::BTreeSet::new();
    for r in rounds {
        arms.insert(r["arm"].as_str().unwrap_or_default().to_string());
    }
    assert!(
        arms.len() >= 2,
        "both arms must have rounds: {arms:?}\n{text}"
    );
    assert_eq!(rounds.len(), 2 * arms.len(), "2 rounds per arm:\n{text}");
    for r in rounds {
        // Every arm-round measured wakeups with positive latency, hogs that
        // did work, and a messaging run that completed.
        let mut nums = Vec::new();
        numbers(r, "", &mut nums);
        let get = |needle: &str| -> Vec<f64> {
            nums.iter()
                .filter(|(p, _)| p.contains(needle))
                .map(|(_, x)| *x)
                .collect()
        };
        let p50 = get("p50_us");
        assert!(
            !p50.is_empty() && p50.iter().all(|x| *x > 0.0),
            "p50 in {r}"
        );
        let hogs = get("hog_units");
        assert!(
            !hogs.is_empty() && hogs.iter().all(|x| *x > 0.0),
            "hogs in {r}"
        );
        let msg = get("messages_per_s");
        assert!(
            !msg.is_empty() && msg.iter().all(|x| *x > 0.0),
            "messaging in {r}"
        );
    }
    let svg = c.mark("svg");
    assert!(
        svg.u64("bytes") > 1000,
        "SVG too small: {}",
        svg.u64("bytes")
    );
    assert!(svg.u64("has_svg_tag") >= 1);
}

#[test]
fn ab_interrupted_leaves_eevdf() {
    let c = vm::run_scenario("ab-interrupt", &[], Duration::from_secs(300));
    c.assert_exit_ok();
    let ab = c.mark("ab");
    assert_ne!(ab.i64("rc"), 0, "an interrupted ab must not claim success");
    assert_eq!(
        ab.str("state"),
        "disabled",
        "interrupted ab left sched_ext enabled:\n{}",
        c.block("stderr")
    );
    assert_eq!(ab.u64("arbor_procs"), 0, "interrupted ab left a scheduler");
    assert!(
        ab.u64("ms") < 60_000,
        "ab took {} ms to stop after SIGINT",
        ab.u64("ms")
    );
}
