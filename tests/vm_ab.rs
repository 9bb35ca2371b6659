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
    // A third arm: a sched_ext scheduler given with --arm, here the floor
    // scheduler of scx_arbor_tools (bpf/floor.bpf.c), started as another
    // program would be (own arguments only).
    let c = vm::run_scenario(
        "ab",
        &[
            ("rounds", "2"),
            ("duration", "3"),
            ("other", "floor:/usr/bin/scx_arbor_tools+floor"),
        ],
        Duration::from_secs(500),
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
    assert_eq!(
        arms.iter().map(String::as_str).collect::<Vec<_>>(),
        ["arbor", "eevdf", "floor"],
        "every arm must have rounds:\n{text}"
    );
    assert_eq!(rounds.len(), 2 * arms.len(), "2 rounds per arm:\n{text}");
    for r in rounds.iter().filter(|r| r["arm"] == "floor") {
        assert!(
            r["scheduler"]["cpu_pct"].as_f64().is_some_and(|x| x >= 0.0),
            "the other scheduler's CPU: {r}"
        );
    }
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

/// `--arms eevdf,default,learn` on 2 ms wakers the shipped model
/// mispredicts: the learn arm promotes a generation in round 1, round 2
/// resumes it from the arm's model directory, and on the scheduler's own
/// counters the resumed tree predicts these bursts better than the shipped
/// model does in the same round. With --bpf-stats, every scx_arbor arm-round
/// reads the run counts of its own BPF programs from the kernel.
#[test]
fn ab_learn_arm_resumes_what_it_promoted() {
    let c = vm::run_scenario("ab-learn", &[("bpf_stats", "1")], Duration::from_secs(400));
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
    assert!(
        table.contains("learning effect: arbor --learn on against arbor"),
        "{table}"
    );

    let json = c.json("json");
    let arms: Vec<&str> = json["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(arms, ["eevdf", "arbor", "arbor-learn"]);
    let rounds = json["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 6, "2 rounds x 3 arms:\n{table}");
    let round = |arm: &str, n: u64| -> &Value {
        rounds
            .iter()
            .find(|r| r["arm"] == arm && r["round"] == n)
            .unwrap_or_else(|| panic!("no round {n} of {arm}"))
    };
    let l1 = &round("arbor-learn", 1)["learn"];
    let l2 = &round("arbor-learn", 2)["learn"];
    assert!(l1["resumed_generation"].is_null(), "fresh directory: {l1}");
    assert!(
        l1["promoted"].as_u64().unwrap() >= 1,
        "round 1 promoted nothing: {l1}\n{}",
        c.block("generations")
    );
    assert_eq!(
        l2["resumed_generation"], l1["newest_generation"],
        "round 2 must resume what round 1 promoted"
    );
    let listing = c.block("generations");
    let g = l1["newest_generation"].as_u64().unwrap();
    assert!(listing.contains(&format!("{g}")), "{listing}");

    for r in rounds.iter().filter(|r| r["arm"] != "eevdf") {
        let s = &r["scheduler"];
        let cpu = s["cpu_pct"].as_f64().unwrap_or(f64::NAN);
        assert!(cpu > 0.0 && cpu < 100.0, "scheduler CPU {cpu} in {s}");
        assert!(
            s["model_outcomes"].as_u64().unwrap() > 500,
            "the scheduler's counters were not read: {s}"
        );
        let progs = r["bpf_stats"].as_array().unwrap();
        assert!(
            progs.iter().any(|p| p["run_cnt"].as_u64().unwrap() > 0)
                && progs
                    .iter()
                    .all(|p| p["name"].as_str().unwrap().starts_with("arbor_")),
            "the kernel's counts of arbor's BPF programs: {progs:?}"
        );
    }
    // Ground truth from the BPF counters: in round 2 the resumed tree
    // scores the wakers' bursts well above the shipped model.
    let score = |arm: &str| round(arm, 2)["scheduler"]["model_score"].as_f64().unwrap();
    let (learned, shipped) = (score("arbor-learn"), score("arbor"));
    eprintln!("round 2 model score: learned {learned:.1}, shipped {shipped:.1}");
    assert!(
        learned > shipped + 2.0,
        "learned {learned:.1} vs shipped {shipped:.1}\n{table}"
    );
}
