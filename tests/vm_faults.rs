//! Faults a production host can throw at scx_arbor, in one VM boot
//! (tests/vm/scenarios/faults.sh): hostile control clients and model paths,
//! a second instance, `kill -9` under load, and the sched-ext/scx CI stress
//! command with learning on and with no model. Every check is collected and
//! reported together, so one run shows every broken contract.

#[path = "common/vm.rs"]
mod vm;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use vm::{Checks, Console, Scenario};

/// tests/vm/hostile-client.c, built static for the guest.
fn hostile_client() -> PathBuf {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-client");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vm/hostile-client.c");
    let st = Command::new("cc")
        .args(["-static", "-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(src)
        .status()
        .expect("running cc to build tests/vm/hostile-client.c");
    assert!(st.success(), "building {src} failed");
    out
}

fn status(c: &Console, block: &str) -> Option<Value> {
    (c.block_rc(block) == Some(0)).then(|| c.json(block))
}

fn generation(c: &Console, block: &str) -> Option<u64> {
    status(c, block).and_then(|v| v["installed_generation"].as_u64())
}

/// The `reply MODE {json}` lines a hostile-client block printed.
fn replies(c: &Console, mode: &str) -> Vec<Value> {
    c.block(&format!("hostile:{mode}"))
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("reply {mode} ")))
        .map(|j| serde_json::from_str(j).unwrap_or(Value::Null))
        .collect()
}

fn hostile(c: &Console, k: &mut Checks) {
    let before = generation(c, "hostile_before");
    k.check(before.is_some(), || "no status before the abuse".into());
    for mode in ["garbage", "longline", "half", "hangup", "noread", "flood"] {
        k.check(c.block_rc(&format!("hostile:{mode}")) == Some(0), || {
            format!(
                "hostile client {mode} could not do its part: {}",
                c.block(&format!("hostile:{mode}"))
            )
        });
    }
    // Every reply to garbage is a refusal with a reason.
    let garbage = replies(c, "garbage");
    k.check(garbage.len() == 7, || {
        format!("garbage: {} replies, want 7", garbage.len())
    });
    for r in &garbage {
        k.check(
            r["ok"] == Value::Bool(false) && r["error"].as_str().is_some_and(|e| !e.is_empty()),
            || format!("garbage got {r}, want a refusal with a reason"),
        );
    }
    let long = replies(c, "longline");
    k.check(
        long.len() == 1
            && long[0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("longer than")),
        || format!("a 10 MB line got {long:?}, want a too-long refusal"),
    );
    let half = replies(c, "half");
    k.check(
        half.len() == 1
            && half[0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("payload")),
        || format!("half a payload got {half:?}, want a payload refusal"),
    );
    for (p, why) in [
        ("/dev/zero", "character device"),
        ("/tmp/fifo", "FIFO"),
        ("/tmp/dir.onnx", "directory"),
        ("/tmp/sparse.onnx", "byte model limit"),
        ("/tmp/loop-a", "symbolic links"),
        ("theirs", "Permission denied"),
    ] {
        let b = format!("path:{p}");
        let text = c.block(&b);
        k.check(c.block_rc(&b) == Some(1) && text.contains(why), || {
            format!(
                "swap {p}: rc {:?}, want 1 and {why:?}: {text}",
                c.block_rc(&b)
            )
        });
    }
    let after = generation(c, "hostile_after");
    k.check(after.is_some() && after == before, || {
        format!("the running model changed under abuse: generation {before:?} -> {after:?}")
    });
    let swapped = generation(c, "hostile_swapped");
    k.check(
        c.block_rc("hostile:swap") == Some(0) && swapped == before.map(|g| g + 1),
        || {
            format!(
                "a swap after the abuse: rc {:?}, generation {before:?} -> {swapped:?}: {}",
                c.block_rc("hostile:swap"),
                c.block("hostile:swap")
            )
        },
    );
    let m = c.mark("hostile");
    k.check(m.str("state") == "enabled" && m.str("alive") == "1", || {
        format!(
            "after the abuse: state {} alive {}",
            m.str("state"),
            m.str("alive")
        )
    });
    let startup = c.block("startup:/dev/zero");
    k.check(
        c.block_rc("startup:/dev/zero") == Some(1) && startup.contains("character device"),
        || {
            format!(
                "--model /dev/zero: rc {:?}: {startup}",
                c.block_rc("startup:/dev/zero")
            )
        },
    );
    k.check(c.mark("startup").str("state") == "disabled", || {
        "--model /dev/zero left sched_ext enabled".into()
    });
}

fn second(c: &Console, k: &mut Checks) {
    let text = c.block("second");
    k.check(c.block_rc("second") == Some(1), || {
        format!(
            "a second scx_arbor exited {:?}, want 1: {text}",
            c.block_rc("second")
        )
    });
    k.check(
        text.contains("another scx_arbor") && text.contains("arbor") && text.contains("running"),
        || format!("the second instance does not name the running scheduler: {text}"),
    );
    let m = c.mark("second");
    k.check(m.str("socket") == "1", || {
        "the second instance deleted the first one's control socket".into()
    });
    k.check(m.str("state") == "enabled" && m.str("alive") == "1", || {
        format!("the first instance suffered: {m:?}")
    });
    k.check(status(c, "second_status").is_some(), || {
        "the first instance's socket stopped serving after a second start".into()
    });
}

fn kill9(c: &Console, k: &mut Checks) {
    let m = c.mark("kill9");
    // Killed by SIGKILL: the shell reports 128 + 9.
    k.check(m.str("rc") == "137", || {
        format!("kill -9: rc {}", m.str("rc"))
    });
    k.check(
        m.str("reached") == "1" && m.str("state") == "disabled",
        || {
            format!(
                "sched_ext not back to disabled within 30 s of kill -9 ({} ms, state {})",
                m.str("disabled_ms"),
                m.str("state")
            )
        },
    );
    k.check(c.block_rc("kill9_hackbench") == Some(0), || {
        format!(
            "hackbench after kill -9 failed (stuck tasks?): {}",
            c.block("kill9_hackbench")
        )
    });
    let loads = c.marks_tagged("load");
    k.check(
        loads
            .first()
            .is_some_and(|l| l.str("rcs").split(',').all(|r| r == "0")),
        || format!("the load under kill -9 did not finish cleanly: {loads:?}"),
    );
    k.check(status(c, "kill9_again").is_some(), || {
        "scx_arbor started again after kill -9 does not answer status".into()
    });
    k.check(c.block_rc("kill9_swap") == Some(0), || {
        format!("swap after the restart: {}", c.block("kill9_swap"))
    });
    println!(
        "kill -9: sched_ext disabled after {} ms",
        m.str("disabled_ms")
    );
}

fn stress(c: &Console, k: &mut Checks, nr_cpus: usize) {
    for v in ["learn", "nomodel"] {
        let b = format!("stress:{v}");
        k.check(c.block_rc(&b) == Some(0), || {
            format!(
                "stress-ng ({v}) exited {:?}: {}",
                c.block_rc(&b),
                c.block(&b)
            )
        });
        let m = c.mark(&format!("stress_{v}"));
        k.check(m.str("n") == nr_cpus.to_string(), || {
            format!("stress-ng ran with N={}, want {nr_cpus}", m.str("n"))
        });
        k.check(
            m.str("state") == "enabled"
                && m.str("ops").starts_with("arbor")
                && m.str("alive") == "1",
            || format!("after stress-ng ({v}): {m:?}"),
        );
        k.check(status(c, &format!("stress_status_{v}")).is_some(), || {
            format!("no status after stress-ng ({v})")
        });
    }
}

#[test]
fn faults_hostile_input_second_instance_kill9_and_scx_ci_stress() {
    let c = Scenario::new("faults")
        .file(hostile_client(), "/bin/hostile-client")
        .timeout(Duration::from_secs(600))
        .run();
    c.assert_exit_ok();
    let mut k = Checks::default();
    k.check(c.errors().is_empty(), || {
        format!("scenario errors: {:?}", c.errors())
    });
    hostile(&c, &mut k);
    second(&c, &mut k);
    kill9(&c, &mut k);
    stress(&c, &mut k, 2);
    // Every sched_stop: exit 0 on SIGINT, sched_ext disabled afterwards.
    let exits = c.marks_tagged("sched_exit");
    k.check(exits.len() == 4, || {
        format!(
            "{} clean stops, want 4 (hostile, kill9 restart, 2 stress)",
            exits.len()
        )
    });
    for e in &exits {
        k.check(
            e.str("rc") == "0" && e.str("sigkilled") == "0" && e.str("state") == "disabled",
            || format!("an unclean stop: {e:?}"),
        );
    }
    // The kernel's word: every disable was a user-space unregistration, no
    // error exit, no stall, no watchdog.
    let dmesg = c.block("dmesg");
    k.0.extend(vm::sched_ext_trouble(&dmesg).map(|l| format!("kernel: {l}")));
    k.check(dmesg.contains("sched_ext"), || {
        "dmesg has no sched_ext line at all (was it captured?)".into()
    });
    assert!(
        k.0.is_empty(),
        "{} fault checks failed:\n- {}\n{}",
        k.0.len(),
        k.0.join("\n- "),
        c.tail(40)
    );
}
