//! The workload families in the VM: `scx_arbor workload NAME --secs 3`
//! under EEVDF and under scx_arbor, each JSON checked against the ground
//! truth the workload controls (service CPU times, the long share, batch
//! shares, phase switches). Structure and sanity only, never which
//! scheduler is faster. Also `ab` with all six workloads in one run.

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;

use serde_json::Value;

const SECS: f64 = 3.0;

/// Run `family` with `flags` (words joined by +) under both arms; their JSON.
fn run(family: &str, flags: &str) -> (vm::Console, Vec<(&'static str, Value)>) {
    let c = vm::Scenario::new("families")
        .arg("family", family)
        .arg("secs", SECS)
        .arg("flags", flags)
        .timeout(Duration::from_secs(150))
        .run();
    c.assert_exit_ok();
    assert_eq!(c.mark("before").str("state"), "disabled");
    let mut out = Vec::new();
    for arm in ["eevdf", "arbor"] {
        let m = c.mark(&format!("run_{arm}"));
        assert_eq!(
            m.i64("rc"),
            0,
            "{family} under {arm} failed: {}",
            if c.has_block(&format!("{arm}.err")) {
                c.block(&format!("{arm}.err"))
            } else {
                String::new()
            }
        );
        let want = if arm == "arbor" {
            "enabled"
        } else {
            "disabled"
        };
        assert_eq!(m.str("state"), want, "sched_ext during the {arm} run");
        let j = c.json(arm);
        assert_eq!(j["workload"], family);
        // The measurement ends when the main thread, asleep beside the
        // workload, next runs: an overloaded VM can be late by a second.
        let s = j["measured_s"].as_f64().unwrap();
        assert!(
            (SECS - 0.05..SECS + 2.0).contains(&s),
            "{arm}: measured {s} s"
        );
        oracle_sane(arm, &j["oracle"]);
        out.push((arm, j));
    }
    assert_eq!(c.mark("sched_exit").i64("rc"), 0);
    (c, out)
}

/// No scx_arbor here pins the oracle map: nothing fed, nothing written;
/// the wakeup path's CPU was measured.
fn oracle_sane(arm: &str, o: &Value) {
    let fed = o["fed"].as_bool().unwrap();
    let updates = o["updates"].as_u64().unwrap();
    assert_eq!(fed, updates > 0, "{arm}: oracle {o}");
    assert!(!fed, "{arm}: an oracle map is pinned in the VM: {o}");
    let w = &o["wake_path_cpu"];
    assert!(w["samples"].as_u64().unwrap() > 0, "{arm}: {o}");
    eprintln!(
        "{arm}: wake path CPU p50 {:.1} µs p90 {:.1} µs p99 {:.1} µs ({} cycles)",
        w["p50_us"].as_f64().unwrap(),
        w["p90_us"].as_f64().unwrap(),
        w["p99_us"].as_f64().unwrap(),
        w["samples"]
    );
}

/// p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max, all finite and ≥ `floor` µs.
fn ordered(what: &str, s: &Value, floor: f64) {
    let v: Vec<f64> = ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"]
        .iter()
        .map(|k| s[k].as_f64().unwrap_or(f64::NAN))
        .collect();
    assert!(
        v.iter().all(|x| x.is_finite() && *x >= floor) && v.windows(2).all(|w| w[0] <= w[1]),
        "{what}: {s}"
    );
}

/// |seen − p| within four standard errors of a share over `n` draws, + 0.01.
fn share_near(what: &str, seen: f64, p: f64, n: u64) {
    let tol = 4.0 * (p * (1.0 - p) / n.max(1) as f64).sqrt() + 0.01;
    assert!(
        (seen - p).abs() <= tol,
        "{what}: {seen:.3} against {p} (±{tol:.3}, n={n})"
    );
}

#[test]
fn requests_serve_short_and_long_at_their_cpu_times_and_share() {
    // Under TCG a request costs ~70 µs of CPU beside its service, so a
    // lower load than the default keeps workers idle between requests.
    let (_c, runs) = run("requests", "--load+0.2+--long-runs+3+--long-runs-p+0.7");
    for (arm, j) in &runs {
        let cfg = &j["config"];
        assert_eq!(
            (cfg["short_us"].as_u64(), cfg["long_us"].as_u64()),
            (Some(100), Some(4000))
        );
        assert_eq!(cfg["long_runs"].as_u64(), Some(3));
        let served = j["served"].as_u64().unwrap();
        assert!(served > 200, "{arm}: {served} served");
        assert!(j["arrivals"].as_u64().unwrap() >= served - 16, "{arm}: {j}");
        // The service bursts are the worker's CPU time: at least what was
        // asked, and a little more (the burn loop checks its clock). Under
        // TCG a guest thread is also charged the time its vCPU waits for a
        // host core, so a burst that is preempted often reads longer.
        for (k, us) in [("service_cpu_short", 100.0), ("service_cpu_long", 4000.0)] {
            let s = &j[k];
            assert!(s["samples"].as_u64().unwrap() > 0, "{arm}: {k} {s}");
            let (min_p50, max_p50) = (us, us * 1.5 + 100.0);
            let p50 = s["p50_us"].as_f64().unwrap();
            assert!((min_p50..max_p50).contains(&p50), "{arm}: {k} p50 {p50} µs");
        }
        share_near(
            &format!("{arm}: long share"),
            j["long_share"].as_f64().unwrap(),
            0.1,
            served,
        );
        let lat = &j["latency"];
        ordered(&format!("{arm}: short latency"), &lat["short"], 100.0);
        ordered(&format!("{arm}: long latency"), &lat["long"], 4000.0);
        ordered(&format!("{arm}: all latency"), &lat["all"], 100.0);
        assert_eq!(
            lat["all"]["samples"].as_u64().unwrap(),
            lat["short"]["samples"].as_u64().unwrap() + lat["long"]["samples"].as_u64().unwrap()
        );
        ordered(&format!("{arm}: queue wait"), &j["queue_wait"], 0.0);
        ordered(&format!("{arm}: wakeup"), &j["wakeup"], 0.0);
        assert!(j["queued"].as_u64().unwrap() <= j["arrivals"].as_u64().unwrap());
        assert!(
            j["hog_units"].as_u64().unwrap() > 0,
            "{arm}: the hog did nothing"
        );
        let rd = &j["rundelay"];
        if rd["tasks"].as_u64().unwrap() > 0 {
            // generator + workers (2 × 2 vCPUs)
            assert_eq!(rd["tasks"].as_u64(), Some(5), "{arm}: {rd}");
        }
    }
}

#[test]
fn fanout_draws_batches_at_their_probabilities_and_wakes_them_all() {
    let (_c, runs) = run("fanout", "--batch+2,8+--batch-p+0.7,0.3");
    for (arm, j) in &runs {
        assert_eq!(j["workers"].as_u64(), Some(8));
        let rounds = j["rounds"].as_u64().unwrap();
        // 3 s of 10007 µs periods is 300 rounds; a slow VM skips some.
        assert!((100..=301).contains(&rounds), "{arm}: {rounds} rounds");
        let by = j["by_batch"].as_array().unwrap();
        assert_eq!(by.len(), 2);
        let mut woken = 0;
        for b in by {
            let (size, p) = (b["batch"].as_u64().unwrap(), b["p"].as_f64().unwrap());
            share_near(
                &format!("{arm}: batch {size}"),
                b["share"].as_f64().unwrap(),
                p,
                rounds,
            );
            let n = b["rounds"].as_u64().unwrap();
            woken += size * n;
            // The dispatcher's burst holds its post-processing: 400 µs per worker.
            let burst = &b["dispatcher_burst"];
            ordered(
                &format!("{arm}: burst of {size}"),
                burst,
                (size * 400) as f64,
            );
            ordered(
                &format!("{arm}: completion of {size}"),
                &b["round_completion"],
                200.0,
            );
            assert!(b["wakeup"]["samples"].as_u64().unwrap() > 0, "{arm}: {b}");
        }
        // Every woken worker reports, but perhaps the last round's.
        let wakeups = j["wakeup"]["samples"].as_u64().unwrap();
        assert!(
            wakeups <= woken && wakeups + 8 >= woken,
            "{arm}: {wakeups} of {woken}"
        );
        ordered(&format!("{arm}: wakeup"), &j["wakeup"], 0.0);
        assert!(j["oracle"]["wake_call_cpu"]["samples"].as_u64().unwrap() > 0);
        assert!(j["hog_units"].as_u64().unwrap() > 0);
    }
}

#[test]
fn phases_switch_at_the_phase_length() {
    let (_c, runs) = run("phases", "--phase-ms+500");
    for (arm, j) in &runs {
        let tasks = j["config"]["tasks"].as_u64().unwrap();
        assert_eq!(tasks, 4);
        let switches = j["switches_to_interactive"].as_u64().unwrap()
            + j["switches_to_batch"].as_u64().unwrap();
        let expected = j["switches_expected"].as_f64().unwrap();
        // 4 tasks × 3 s / 500 ms; each task may gain or lose one at either end.
        assert!((expected - 24.0).abs() < 3.0, "{arm}: {expected}");
        assert!(
            (switches as f64 - expected).abs() <= tasks as f64 + 1.0,
            "{arm}: {switches} switches, {expected} expected"
        );
        // Half of each task's time is interactive at 2017 µs.
        let due = tasks as f64 * SECS / 2.0 / 2017e-6;
        let seen = (j["wakeup"]["samples"].as_u64().unwrap()
            + j["missed_periods"].as_u64().unwrap()) as f64;
        assert!(
            (0.5 * due..1.1 * due).contains(&seen),
            "{arm}: {seen} periods of {due}"
        );
        ordered(&format!("{arm}: wakeup"), &j["wakeup"], 0.0);
        ordered(&format!("{arm}: after a switch"), &j["after_switch"], 0.0);
        assert!(j["batch_bursts"].as_u64().unwrap() > 20, "{arm}: {j}");
        assert!(j["batch_units_per_s"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn ab_runs_all_six_workloads_in_one_run() {
    let all = "requests,fanout,phases,latency,messaging,schbench";
    let c = vm::Scenario::new("ab")
        .arg("rounds", 1)
        .arg("duration", 2)
        .arg("warmup", "0.5")
        .arg("workload", all)
        .timeout(Duration::from_secs(240))
        .run();
    c.assert_exit_ok();
    let ab = c.mark("ab");
    assert_eq!(
        ab.i64("rc"),
        0,
        "scx_arbor ab failed:\n{}",
        c.block("stderr")
    );
    assert_eq!(ab.str("state"), "disabled", "ab left sched_ext enabled");
    let table = c.block("table");
    for label in [
        "requests: short request p99",
        "fanout: worker wakeup p99",
        "phases: interactive wakeup p99",
        "wakeup latency p99",
        "messaging completion time",
        "schbench wakeup p99",
    ] {
        assert!(table.contains(label), "table lacks {label}:\n{table}");
    }
    let json = c.json("json");
    let rounds = json["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 2, "one round of two arms");
    for r in rounds {
        for k in [
            "requests",
            "fanout",
            "phases",
            "latency",
            "messaging",
            "schbench",
        ] {
            assert!(r[k].is_object(), "round of {} lacks {k}", r["arm"]);
        }
        for k in ["req_short_p99_us", "fan_wakeup_p99_us", "ph_wakeup_p99_us"] {
            let v = r["metrics"][k].as_f64().unwrap_or(f64::NAN);
            assert!(v.is_finite() && v >= 0.0, "{} {k} = {v}", r["arm"]);
        }
    }
    let defs = json["metric_defs"].as_array().unwrap();
    assert!(defs.iter().any(|d| d["key"] == "req_short_p99_us"));
}
