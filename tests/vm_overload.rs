//! Ring-buffer overload (tests/vm/scenarios/overload.sh): the smallest
//! sample ring, `--sample-every 1`, `--record`, and fork/exit storms of a
//! known size, one while scx_arbor is stopped (userspace drains nothing)
//! and one while it runs; a 100 Hz waker probes scheduling throughout.
//! The ground truth is the storm's size against the ring's capacity, which
//! the test computes from the kernel's ring-buffer record format, and the
//! probes' own counts of their wakeups.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use serde_json::Value;
use vm::{Checks, Console};

const RING_KIB: u64 = 4;
const FORKS: u64 = 200;
/// A ring buffer record: the kernel's 8-byte header and the 76-byte
/// `struct arbor_sample` of schema 2 (bpf/intf.h) padded to 8 bytes.
const RECORD_BYTES: u64 = 8 + 80;
/// The consumer's drain timer without a wakeup (samples::DRAIN_EVERY).
const DRAIN_EVERY_S: f64 = 0.25;

fn counter(c: &Console, block: &str, key: &str) -> u64 {
    c.json(block)[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no {key} in status block {block}"))
}

fn delta(c: &Console, from: &str, to: &str, key: &str) -> u64 {
    counter(c, to, key) - counter(c, from, key)
}

fn wakeups(probe: &Value) -> u64 {
    probe["per_waker"][0]["wakeups"].as_u64().expect("wakeups")
}

#[test]
fn ring_overload_drops_are_counted_scheduling_goes_on_and_recording_resumes() {
    let c = vm::Scenario::new("overload")
        .arg("ring_kib", RING_KIB)
        .arg("forks", FORKS)
        .timeout(Duration::from_secs(120))
        .run();
    c.assert_exit_ok();
    let mut k = Checks::default();
    let capacity = RING_KIB * 1024 / RECORD_BYTES;

    // The ring really is the size asked for.
    let log = c.block("ring_log");
    k.check(
        log.contains(&format!("samples ring: {RING_KIB} KiB, {capacity} samples")),
        || format!("the scheduler's ring line: {log:?}, want {RING_KIB} KiB, {capacity} samples"),
    );

    // stopped: nothing drains, so of the storm's samples (at least one per
    // child that exits: its burst ends) all but the ring's capacity are
    // dropped, and counted.
    let m = c.mark("stopped");
    let forks = m.u64("forks");
    k.check(forks >= FORKS / 2, || {
        format!("the stopped storm forked only {forks} children")
    });
    k.check(m.str("sched") == "T", || {
        format!("scx_arbor was not stopped during the storm: {m:?}")
    });
    k.check(m.str("state") == "enabled", || {
        format!("sched_ext left during the stopped storm: {m:?}")
    });
    let dropped = delta(&c, "s0", "s1", "samples_dropped");
    k.check(dropped + capacity >= forks, || {
        format!(
            "{forks} children exited while nothing drained a {capacity}-sample ring, \
             but only {dropped} drops were counted"
        )
    });
    let m = c.mark("after_stopped");
    k.check(m.str("state") == "enabled" && m.str("alive") == "1", || {
        format!("after SIGCONT: {m:?}")
    });

    // free: the consumer runs. Every burst is an attempt (no budget under
    // --record): sent + dropped covers the storm, the CSV got what was sent,
    // and the consumer, woken at a quarter of the real ring, keeps up. A
    // consumer woken only by its timer would lose most of them: at this rate
    // one drain period brings several ring's worth.
    let f = c.mark("free");
    let free_forks = f.u64("forks");
    let secs = f.f64("ms") / 1000.0;
    let (sent, dropped) = (
        delta(&c, "s2", "s3", "samples_sent"),
        delta(&c, "s2", "s3", "samples_dropped"),
    );
    k.check(delta(&c, "s2", "s3", "samples_throttled") == 0, || {
        "samples throttled under --record (no budget)".into()
    });
    k.check(sent + dropped >= free_forks, || {
        format!("{free_forks} children exited, {sent} samples sent + {dropped} dropped")
    });
    let rows = f.u64("rows_after") - f.u64("rows_before");
    k.check(rows * 10 >= sent * 8, || {
        format!("{sent} samples sent during the free storm, {rows} reached the CSV")
    });
    let per_drain = (sent + dropped) as f64 / secs * DRAIN_EVERY_S;
    k.check(per_drain >= 2.0 * capacity as f64, || {
        format!(
            "the free storm brought {per_drain:.0} samples per drain period, not enough to \
             overflow a {capacity}-sample ring drained by the timer alone"
        )
    });
    k.check(dropped * 5 <= sent + dropped, || {
        format!(
            "the consumer lost {dropped} of {} samples in the free storm: is it woken at a \
             quarter of the real ring?",
            sent + dropped
        )
    });
    k.check(f.str("state") == "enabled" && f.str("alive") == "1", || {
        format!("after the free storm: {f:?}")
    });

    // Scheduling went on through both storms: the probe kept waking.
    let probe = c.json("probe_storm");
    let periods = (probe["measured_s"].as_f64().expect("measured_s") * 100.0) as u64;
    let woke = wakeups(&probe);
    k.check(woke * 2 >= periods, || {
        format!("the probe woke {woke} times in {periods} periods through the storms")
    });

    // quiet: recording is whole again. Every wakeup of the quiet probe ends
    // a burst, so each is a sample in the finished CSV.
    let quiet = c.json("probe_quiet");
    let q_woke = wakeups(&quiet);
    let q_rows: u64 = c.block("quiet_rows").trim().parse().expect("quiet_rows");
    k.check(!c.mark("quiet").str("tids").is_empty(), || {
        "the quiet probe's waker thread was not found".into()
    });
    k.check(q_woke >= 200 && q_rows * 10 >= q_woke * 9, || {
        format!(
            "after the storms the probe woke {q_woke} times and has {q_rows} samples in the CSV"
        )
    });
    let (q_sent, q_dropped) = (
        delta(&c, "s3", "s4", "samples_sent"),
        delta(&c, "s3", "s4", "samples_dropped"),
    );
    k.check(q_dropped * 20 <= q_sent + q_dropped, || {
        format!("once the load fell, {q_dropped} dropped against {q_sent} sent")
    });

    let end = c.mark("end");
    k.check(
        end.str("state") == "enabled" && end.str("alive") == "1",
        || format!("at the end: {end:?}"),
    );
    let exit = c.mark("sched_exit");
    k.check(
        exit.str("rc") == "0" && exit.str("sigkilled") == "0" && exit.str("state") == "disabled",
        || format!("unclean stop: {exit:?}"),
    );
    let dmesg = c.block("dmesg");
    k.0.extend(vm::sched_ext_trouble(&dmesg).map(|l| format!("kernel: {l}")));
    k.check(dmesg.contains("sched_ext"), || {
        "dmesg has no sched_ext line at all".into()
    });

    let lat = &probe["latency"];
    println!(
        "ring {RING_KIB} KiB ({capacity} samples); stopped storm: {forks} forks, {} dropped; \
         free storm: {free_forks} forks in {secs:.1} s, {sent} sent, {dropped} dropped \
         ({:.1}%); probe through the storms: {woke} wakeups of {periods}, p99 {:.0} µs, \
         max {:.0} µs; quiet: {q_rows} samples of {q_woke} probe wakeups, {q_dropped} dropped",
        delta(&c, "s0", "s1", "samples_dropped"),
        100.0 * dropped as f64 / (sent + dropped).max(1) as f64,
        lat["p99_us"].as_f64().unwrap_or(f64::NAN),
        lat["max_us"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(
        k.0.is_empty(),
        "{} overload checks failed:\n- {}",
        k.0.len(),
        k.0.join("\n- ")
    );
}

/// Many sleepers beside a hog (tests/vm/scenarios/sleep-storm.sh): an
/// overload in which most tasks wait far past their turn. The kernel's
/// watchdog is the judge: no runnable task may wait 5 s, with the default
/// model or without one.
#[test]
fn a_sleep_storm_leaves_no_task_waiting_out_the_watchdog() {
    let c = vm::Scenario::new("sleep-storm")
        .timeout(Duration::from_secs(180))
        .run();
    c.assert_exit_ok();
    let mut failures = Vec::new();
    for arm in ["default", "nomodel"] {
        let m = c.mark(&format!("storm_{arm}"));
        eprintln!("sleep storm, {arm}: {m:?}");
        if m.str("state") != "enabled" || m.str("alive") != "1" {
            failures.push(format!("{arm}: scx_arbor gone after the storm: {m:?}"));
        }
        if m.i64("rc") != 0 {
            failures.push(format!("{arm}: stress-ng failed (rc {})", m.str("rc")));
        }
        let st = c.json(&format!("status_{arm}"));
        eprintln!(
            "{arm}: {} starved tasks run out of deadline order",
            st["starved_runs"]
        );
    }
    let dmesg = c.block("dmesg_scx");
    let trouble: Vec<&str> = vm::sched_ext_trouble(&dmesg).collect();
    if !trouble.is_empty() {
        failures.push(format!("sched_ext trouble in dmesg: {trouble:#?}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
