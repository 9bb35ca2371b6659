//! The sched_ext selftests' hard cases (tests/vm/scenarios/hardcases.sh),
//! each of which must leave scx_arbor attached and the kernel clean:
//! attach/detach cycles beside a CPU hog with nothing left behind in the
//! kernel (bpftool's count of maps and programs before and after), and a
//! storm of forked tasks that exit at once while CPU hogs move through 100
//! cgroups created and removed meanwhile. The sizes (100 cycles,
//! 10,000 forks) do not fit a 60 s test under TCG; the scenario takes them
//! as arbor.cycles and arbor.forks for a manual run. Ground truth: bpftool's counts,
//! stress-ng's own count of forks, the shell's count of cgroup moves, and
//! the kernel's sched_ext state, events and messages.
//!
//! Exiting tasks: scx_arbor does not set SCX_OPS_ENQ_EXITING, so a task
//! that is enqueued after PF_EXITING goes to its CPU's local DSQ without
//! ops.enqueue (the kernel counts these in SCX_EV_ENQ_SKIP_EXITING). The
//! flag exists for schedulers that look tasks up by pid to dispatch them,
//! which arbor never does; the storm shows the rest (no stall, no error).

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use vm::{Checks, Console, Scenario};

const BPFTOOL: &str = "/usr/sbin/bpftool";
const LIBCAP: &str = "/lib/x86_64-linux-gnu/libcap.so.2";

fn no_trouble(c: &Console, checks: &mut Checks, hackbench: bool) {
    let dmesg = c.block("dmesg_scx");
    let t: Vec<&str> = vm::sched_ext_trouble(&dmesg).collect();
    checks.check(t.is_empty(), || {
        format!("sched_ext trouble in dmesg: {t:#?}")
    });
    for m in c.marks_tagged("sched_exit") {
        checks.check(m.i64("rc") == 0 && m.str("state") == "disabled", || {
            format!("scx_arbor did not exit cleanly: {m:?}")
        });
    }
    if hackbench {
        let hb = c.marks_tagged("hackbench");
        checks.check(
            !hb.is_empty() && hb.iter().all(|m| m.get("failed") == Some("0")),
            || format!("hackbench under the scheduler: {hb:?}"),
        );
    }
}

#[test]
fn attach_detach_cycles_under_load_leave_no_maps_or_programs() {
    // Each cycle starts the debug binary under TCG (8-20 s beside a hog);
    // the hundred cycles of the issue are a manual run with
    // arbor.cycles=100 (docs/kernels.md).
    let cycles = 3;
    let c = Scenario::new("hardcases")
        .arg("phase", "cycles")
        .arg("cycles", cycles)
        .file(BPFTOOL, "/usr/sbin/bpftool")
        .file(LIBCAP, LIBCAP)
        .timeout(Duration::from_secs(60))
        .run();
    c.assert_exit_ok();
    let mut checks = Checks::default();

    let per = c.marks_tagged("cycle");
    checks.check(per.len() == cycles, || {
        format!("{} of {cycles} cycles attached: {per:?}", per.len())
    });
    checks.check(per.iter().all(|m| m.str("state") == "enabled"), || {
        format!("a cycle was not enabled: {per:?}")
    });
    // The same scheduler holds the same fds, maps and programs each time.
    for key in ["fds", "maps", "progs"] {
        let v: Vec<&str> = per.iter().map(|m| m.str(key)).collect();
        checks.check(v.windows(2).all(|w| w[0] == w[1]), || {
            format!("{key} changed from cycle to cycle: {v:?}")
        });
    }
    let m = c.mark("cycles");
    checks.check(m.u64("clean") == cycles as u64, || {
        format!(
            "{} of {cycles} detaches left sched_ext disabled",
            m.str("clean")
        )
    });
    checks.check(m.u64("maps_after") == m.u64("maps_before"), || {
        format!(
            "BPF maps in the kernel: {} before the first attach, {} after the last detach",
            m.str("maps_before"),
            m.str("maps_after")
        )
    });
    checks.check(m.u64("progs_after") == m.u64("progs_before"), || {
        format!(
            "BPF programs in the kernel: {} before, {} after",
            m.str("progs_before"),
            m.str("progs_after")
        )
    });
    // The scheduler really held maps and programs while attached (bpftool
    // saw them), so the equal counts after are not two zeros.
    checks.check(
        per.first()
            .is_some_and(|p| p.u64("maps") > m.u64("maps_before")),
        || format!("bpftool did not see the scheduler's maps: {per:?} {m:?}"),
    );
    no_trouble(&c, &mut checks, false);
    assert!(checks.0.is_empty(), "{}", checks.0.join("\n"));
}

#[test]
fn fork_storm_exits_and_cgroup_churn_leave_the_scheduler_attached() {
    // 1,005 forks took 46 s in the first run (TCG, beside the hogs, the
    // churn and hackbench); 10,000 took more than stress-ng's 40 s (4,699
    // done) in a later one, so the test asks for 1,000 and a manual run
    // passes arbor.forks=10000 (docs/kernels.md).
    let forks = 1000u64;
    // 1,000 cgroups: 44 s of guest time beside the storm (100 took 20 s).
    let cgroups = 1000u64;
    let c = Scenario::new("hardcases")
        .arg("phase", "storm")
        .arg("forks", forks)
        .arg("cgroups", cgroups)
        // 56 s here; 124 s with the host's other core busy.
        .timeout(Duration::from_secs(300))
        .run();
    c.assert_exit_ok();
    let mut checks = Checks::default();

    let f = c.mark("forks");
    checks.check(f.u64("done") == forks && f.i64("rc") == 0, || {
        format!(
            "stress-ng forked {} of {forks} (rc {}): {f:?}",
            f.str("done"),
            f.str("rc")
        )
    });
    checks.check(f.str("state") == "enabled" && f.u64("alive") == 1, || {
        format!("scx_arbor after the fork storm: {f:?}")
    });
    let ch = c.mark("churn");
    let hogs = ch.u64("hogs");
    checks.check(
        hogs >= 2
            && ch.u64("created") == cgroups
            && ch.u64("removed") == cgroups
            && ch.u64("moved") == cgroups * hogs,
        || format!("cgroup churn: {ch:?} (want {cgroups} created and removed, every hog moved each time)"),
    );
    let after = c.mark("after_storm");
    checks.check(
        after.str("state") == "enabled" && after.u64("alive") == 1,
        || format!("after the storm: {after:?}"),
    );
    let events = c.block("events");
    eprintln!("sched_ext events after the storm:\n{events}");
    checks.check(events.contains("SCX_EV_ENQ_SKIP_EXITING"), || {
        format!("no SCX_EV_ENQ_SKIP_EXITING in the kernel's events:\n{events}")
    });
    no_trouble(&c, &mut checks, true);
    assert!(checks.0.is_empty(), "{}", checks.0.join("\n"));
}
