//! Live learning and model swapping, tested for real in the VM: refused
//! models leave the running one in place, learning promotes a better tree,
//! shadow mode counts without acting, and the control channel is root-only.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use serde_json::Value;
use vm::Console;

const NR_CLASSES: usize = 4;

fn status(c: &Console, block: &str) -> Value {
    assert_eq!(
        c.block_rc(block),
        Some(0),
        "`scx_arbor status --json` failed in block {block}:\n{}",
        c.block(block)
    );
    c.json(block)
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no unsigned `{key}` in {v}"))
}

fn matrix(v: &Value, key: &str) -> Vec<Vec<u64>> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` matrix in {v}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap_or_else(|| panic!("`{key}` row is not an array: {v}"))
                .iter()
                .map(|x| x.as_u64().expect("matrix entries are u64"))
                .collect()
        })
        .collect()
}

fn sum(m: &[Vec<u64>]) -> u64 {
    m.iter().flatten().sum()
}

/// Accuracy of the model rows (not the fallback) of a confusion matrix.
fn accuracy(m: &[Vec<u64>]) -> Option<f64> {
    let rows = &m[..NR_CLASSES.min(m.len())];
    let all: u64 = rows.iter().flatten().sum();
    let hit: u64 = rows.iter().enumerate().map(|(i, r)| r[i]).sum();
    (all > 0).then(|| hit as f64 / all as f64)
}

#[test]
fn refused_models_leave_the_running_model_in_place() {
    let c = vm::run_scenario("refuse", &[], Duration::from_secs(180));
    c.assert_exit_ok();
    let before = status(&c, "status_before");
    let after = status(&c, "status_after");
    let generation = u64_of(&before, "generation");
    assert!(generation >= 1, "const_class_1 was not installed: {before}");

    let expect = [
        ("refuse:truncated", "not an ONNX model"),
        ("refuse:schema_v2", "schema 2"),
        ("refuse:unknown_feature", "cache_misses_per_ms"),
        ("refuse:text", "not an ONNX model"),
    ];
    for (block, reason) in expect {
        let out = c.block(block);
        assert_eq!(
            c.block_rc(block),
            Some(1),
            "{block}: a refused swap must exit 1:\n{out}"
        );
        assert!(
            out.contains("refused") && out.contains(reason),
            "{block}: the refusal must say why ({reason:?}):\n{out}"
        );
    }

    assert_eq!(
        u64_of(&after, "generation"),
        generation,
        "a refused model changed the running generation"
    );
    assert_eq!(
        after["installed_generation"],
        before["installed_generation"]
    );
    // The running model (always class 1) still decides everything.
    let d0 = before["decisions"].as_array().unwrap();
    let d1 = after["decisions"].as_array().unwrap();
    let grew: Vec<u64> = (0..d0.len())
        .map(|i| d1[i].as_u64().unwrap() - d0[i].as_u64().unwrap())
        .collect();
    assert!(grew[1] > 0, "class 1 stopped deciding: {grew:?}");
    assert_eq!(
        grew.iter().sum::<u64>(),
        grew[1],
        "decisions outside class 1 after the refusals: {grew:?}"
    );
    assert_eq!(u64_of(&after, "torn_reads"), 0);
    let m = c.mark("after");
    assert_eq!(m.str("state"), "enabled");
    assert_eq!(m.str("alive"), "1");
}

#[test]
fn learning_promotes_a_better_tree_and_keeps_it_on_disk() {
    let c = vm::run_scenario("learn", &[("secs", "45")], Duration::from_secs(240));
    c.assert_exit_ok();
    let start = status(&c, "status_start");
    let end = status(&c, "status_end");
    assert_eq!(end["learn_mode"], "on");
    let learn = &end["learn"];
    let promoted = u64_of(learn, "promoted");
    let trained = u64_of(learn, "candidates_trained");
    eprintln!("learner at the end: {learn}");
    assert!(
        promoted >= 1,
        "no candidate was promoted in {trained} trained; last verdict: {}",
        learn["last_verdict"]
    );
    assert!(
        u64_of(&end, "generation") > u64_of(&start, "generation"),
        "the generation in use did not advance"
    );

    // Live accuracy (BPF counters on real outcomes) of the generation
    // promoted last, against its parent's while the parent was live.
    let before = learn["parent_live_accuracy"]
        .as_f64()
        .unwrap_or_else(|| panic!("no parent live accuracy: {learn}"));
    let after = learn["live_accuracy"]
        .as_f64()
        .unwrap_or_else(|| panic!("no live accuracy for the promoted tree yet: {learn}"));
    eprintln!(
        "live accuracy: {:.1}% before the last promotion, {:.1}% after",
        before * 100.0,
        after * 100.0
    );
    assert!(
        after > before,
        "live accuracy did not improve: {:.1}% -> {:.1}%",
        before * 100.0,
        after * 100.0
    );
    assert_eq!(u64_of(&end, "torn_reads"), 0);

    // Every promotion left an ONNX file and a sidecar.
    let models = c.mark("models");
    assert_eq!(models.u64("n"), promoted, "one ONNX file per promotion");
    let sidecars: Vec<_> = c
        .text()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ARBOR-BEGIN sidecar:"))
        .map(str::to_string)
        .collect();
    assert_eq!(sidecars.len() as u64, promoted);
    for name in &sidecars {
        let j = c.json(&format!("sidecar:{name}"));
        for key in [
            "generation",
            "parent_generation",
            "time",
            "samples_used",
            "holdout_accuracy",
        ] {
            assert!(!j[key].is_null(), "sidecar {name} lacks {key}: {j}");
        }
        assert!(u64_of(&j, "generation") > u64_of(&j, "parent_generation"));
    }
    // A saved generation loads back (rollback).
    let rb = c.block("rollback");
    assert_eq!(c.block_rc("rollback"), Some(0), "rollback refused:\n{rb}");
    assert!(rb.starts_with("generation "), "{rb}");
}

#[test]
fn shadow_counts_without_acting_and_gates_promotion() {
    let c = vm::run_scenario("shadow", &[("secs", "20")], Duration::from_secs(240));
    c.assert_exit_ok();
    for phase in ["shadow", "gated"] {
        let st = status(&c, &format!("status_{phase}"));
        let learn = &st["learn"];
        eprintln!("{phase}: {learn}");
        assert!(
            u64_of(learn, "candidates_trained") >= 1,
            "{phase}: no candidate trained: {learn}"
        );
        assert!(
            u64_of(&st, "shadow_decisions") > 0,
            "{phase}: the shadow model was never walked"
        );
        assert!(
            sum(&matrix(&st, "shadow_confusion")) > 0,
            "{phase}: no shadow outcomes counted"
        );
        assert_eq!(
            sum(&matrix(&st, "shadow_confusion")),
            sum(&matrix(&st, "paired_confusion")),
            "{phase}: the shadow and the live record must cover the same bursts"
        );
        assert_eq!(
            u64_of(learn, "promoted"),
            0,
            "{phase}: promoted a candidate"
        );
        assert_eq!(
            u64_of(&st, "generation"),
            1,
            "{phase}: the live generation changed"
        );
        // The live model (always class 0) kept deciding everything.
        let d = st["decisions"].as_array().unwrap();
        let total: u64 = d.iter().map(|x| x.as_u64().unwrap()).sum();
        assert_eq!(d[0].as_u64().unwrap(), total, "{phase}: shadow acted");
        assert!(u64_of(&st, "shadow_generation") > 1);
        assert_eq!(c.mark(&format!("phase_{phase}")).u64("models"), 0);
        eprintln!(
            "{phase}: shadow accuracy {:?} vs live {:?} over the same bursts",
            accuracy(&matrix(&st, "shadow_confusion")),
            accuracy(&matrix(&st, "paired_confusion"))
        );
    }
}

#[test]
fn control_channel_refuses_non_root() {
    let c = vm::run_scenario("nonroot", &[], Duration::from_secs(120));
    c.assert_exit_ok();
    let sock = c.mark("socket");
    assert_eq!(sock.str("mode"), "600", "control socket mode");
    assert_eq!(sock.str("owner"), "0");

    let closed = c.block("nobody_status");
    assert_ne!(c.block_rc("nobody_status"), Some(0), "{closed}");
    assert!(
        closed.to_lowercase().contains("permission denied"),
        "non-root status through the 0600 socket:\n{closed}"
    );
    for block in ["nobody_status_open", "nobody_swap_open"] {
        let out = c.block(block);
        assert_ne!(c.block_rc(block), Some(0), "{block}:\n{out}");
        assert!(
            out.contains("root only"),
            "{block}: the server's credential check must refuse uid 65534:\n{out}"
        );
    }
    let root = status(&c, "root_status");
    assert_eq!(
        u64_of(&root, "generation"),
        1,
        "the refused swap changed the model"
    );
}
