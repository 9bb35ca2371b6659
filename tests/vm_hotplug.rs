//! CPU hotplug while scx_arbor schedules (tests/vm/scenarios/hotplug.sh).
//!
//! Ground truth is the kernel's: sched_ext's state file, the watchdog's
//! stall reports in dmesg, the CPUs online in sysfs. Before the
//! cpu_online/cpu_offline callbacks, the first phase's sequence (a hog,
//! learning on, a swap, CPU 1 out for 3 s and back) had the watchdog eject
//! scx_arbor 3 times out of 3: a task woken by the idle thread of the CPU
//! coming up waited in that CPU's own queue, which nothing served.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;
use vm::{Checks, Console, Scenario, Shape};

/// The kernel lines of trouble, but for the restarts hotplug is meant to
/// cause, and every watchdog stall report.
fn trouble(c: &Console) -> Vec<String> {
    let dmesg = c.block("dmesg_scx");
    vm::sched_ext_trouble(&dmesg)
        // Restarts: asked by the scheduler (a CPU it never saw, an LLC
        // left empty) or by the kernel (a CPU came or went between the
        // loader reading the topology and the attach).
        .filter(|l| {
            !(l.contains("unregistered from BPF")
                || l.contains("unregistered from the main kernel"))
        })
        .map(str::to_string)
        .chain(
            dmesg
                .lines()
                .filter(|l| l.contains("stall"))
                .map(str::to_string),
        )
        .collect()
}

/// The hotplug counters of a phase's status block: at least `offlines`
/// CPUs went offline and `onlines` came back since the scheduler attached.
fn hotplug_counted(c: &Console, checks: &mut Checks, name: &str, offlines: u64, onlines: u64) {
    let st = c.json(&format!("status_{name}"));
    let count = |k: &str| st[k].as_u64().unwrap_or(0);
    eprintln!(
        "{name}: offlines {}, onlines {}, tasks moved off leaving CPUs {}",
        count("cpu_offlines"),
        count("cpu_onlines"),
        count("offline_moves")
    );
    checks.check(
        count("cpu_offlines") >= offlines && count("cpu_onlines") >= onlines,
        || {
            format!(
                "{name}: status counts {} CPUs offline and {} online (want >= {offlines} and >= {onlines})",
                count("cpu_offlines"),
                count("cpu_onlines")
            )
        },
    );
}

/// A phase ended with scx_arbor attached, alive, every CPU back and no
/// stall; `restarts` is how many restarts it may have taken so far.
fn phase_ok(
    c: &Console,
    checks: &mut Checks,
    name: &str,
    online: &str,
    restarts: std::ops::RangeInclusive<u64>,
) {
    let m = c.mark(&format!("phase_{name}"));
    eprintln!("phase {name}: {m:?}");
    checks.check(m.str("state") == "enabled", || {
        format!("{name}: sched_ext is {} at the end", m.str("state"))
    });
    checks.check(m.u64("alive") == 1, || {
        format!("{name}: scx_arbor is no longer running")
    });
    checks.check(m.str("online") == online, || {
        format!("{name}: CPUs online {} (want {online})", m.str("online"))
    });
    checks.check(m.u64("stalls") == 0, || {
        format!("{name}: the watchdog reported {} stalls", m.str("stalls"))
    });
    checks.check(restarts.contains(&m.u64("restarts")), || {
        format!(
            "{name}: scx_arbor restarted {} times (want {restarts:?})",
            m.str("restarts")
        )
    });
    // The model swapped in before the hotplug is still the live one, under
    // the generation the swap gave it.
    if let Some(swapped) = m.get("swapped") {
        checks.check(swapped != "none" && m.str("gen") == swapped, || {
            format!(
                "{name}: live generation {} after hotplug, the swap gave {swapped}",
                m.str("gen")
            )
        });
    }
}

fn sched_exit_ok(c: &Console, checks: &mut Checks) {
    for m in c.marks_tagged("sched_exit") {
        checks.check(m.i64("rc") == 0 && m.str("state") == "disabled", || {
            format!("scx_arbor did not exit cleanly: {m:?}")
        });
    }
}

#[test]
fn hotplug_on_two_cpus_never_stalls_and_keeps_the_model() {
    let c = Scenario::new("hotplug")
        .arg("phases", "known,unknown,race")
        .timeout(Duration::from_secs(240))
        .run();
    c.assert_exit_ok();
    let mut checks = Checks::default();

    // The exact sequence that was ejected: no restart at all now, the
    // scheduler stays enabled while CPU 1 is out.
    let once = c.mark("phase_known_once");
    checks.check(once.str("state_while_offline") == "enabled", || {
        format!(
            "sched_ext was {} while CPU 1 was offline",
            once.str("state_while_offline")
        )
    });
    phase_ok(&c, &mut checks, "known_once", "0-1", 0..=0);
    hotplug_counted(&c, &mut checks, "known_once", 1, 1);
    phase_ok(&c, &mut checks, "known_cycles", "0-1", 0..=0);
    hotplug_counted(&c, &mut checks, "known_cycles", 6, 6);
    let hb = c.marks_tagged("hackbench");
    checks.check(hb.iter().all(|m| m.get("failed") == Some("0")), || {
        format!("hackbench failed while CPUs came and went: {hb:?}")
    });

    // A CPU the scheduler never saw: one restart, the new topology read,
    // the swapped-in model live under its own generation.
    phase_ok(&c, &mut checks, "unknown", "0-1", 1..=1);
    let log = c.block("log:unknown.log");
    checks.check(log.contains("topology: 1 LLCs: [0]"), || {
        format!("the first start should see CPU 0 only:\n{log}")
    });
    checks.check(log.contains("topology: 1 LLCs: [0-1]"), || {
        format!("the restart did not read CPU 1 back into the topology:\n{log}")
    });
    // The --record file outlives the restart: one header, rows from
    // before it and after it (a restart used to truncate the file).
    let rec = c.mark("record_unknown");
    checks.check(
        rec.u64("headers") == 1
            && rec.u64("rows") > 0
            && rec.u64("first_ns") < rec.u64("restart_ms") * 1_000_000
            && rec.u64("last_ns") > rec.u64("restart_ms") * 1_000_000,
        || format!("the --record file across the restart: {rec:?}"),
    );

    // Toggling while attaching: whatever restarts it takes, it ends
    // attached with both CPUs.
    let race = c.mark("phase_race");
    checks.check(
        race.str("state") == "enabled" && race.u64("alive") == 1 && race.u64("stalls") == 0,
        || format!("CPU 1 toggled during attach: {race:?}"),
    );

    sched_exit_ok(&c, &mut checks);
    let t = trouble(&c);
    checks.check(t.is_empty(), || {
        format!("sched_ext trouble in dmesg: {t:#?}")
    });
    assert!(checks.0.is_empty(), "{}", checks.0.join("\n"));
}

#[test]
fn hotplug_on_two_llcs_cycles_every_cpu_and_a_whole_llc() {
    let c = Scenario::new("hotplug")
        .arg("phases", "cycle")
        .shape(Shape::TwoSockets)
        .timeout(Duration::from_secs(420))
        .run();
    c.assert_exit_ok();
    let mut checks = Checks::default();
    // Every CPU but 0 out and back twice (LLC 4-7 empty in between), then
    // all of LLC 4-7 out and back: CPUs of the topology read at load, so
    // not one restart; what waited on the LLC went to LLC 0-3's queue.
    phase_ok(&c, &mut checks, "cycle_cpus", "0-7", 0..=0);
    phase_ok(&c, &mut checks, "cycle_llc_out", "0-3", 0..=0);
    phase_ok(&c, &mut checks, "cycle_llc_back", "0-7", 0..=0);
    // 7 CPUs out and back twice, then 4 out and back.
    hotplug_counted(&c, &mut checks, "cycle_llc_back", 18, 18);
    sched_exit_ok(&c, &mut checks);
    let t = trouble(&c);
    checks.check(t.is_empty(), || {
        format!("sched_ext trouble in dmesg: {t:#?}")
    });
    assert!(checks.0.is_empty(), "{}", checks.0.join("\n"));
}
