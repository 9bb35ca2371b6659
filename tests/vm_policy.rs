//! Ground-truth tests of the scheduling policy, in the VM. Each compares
//! scx_arbor with a truth measured outside it: the workload's own CPU clock
//! (CLOCK_THREAD_CPUTIME_ID, the kernel's sum_exec_runtime), the kernel's
//! nice-to-weight table, and EEVDF measured in the same VM run just before.
//! The workloads are examples/policy_probe.rs, copied into the guest; the
//! scenarios are tests/vm/scenarios/policy-*.sh.

#[path = "common/vm.rs"]
mod vm;

use std::path::PathBuf;
use std::time::Duration;
use vm::Console;

/// Where the probe goes in the guest.
const GUEST_PROBE: &str = "/usr/bin/policy_probe";

/// sched_prio_to_weight[] of the kernel (kernel/sched/core.c).
fn nice_weight(nice: i64) -> f64 {
    match nice {
        0 => 1024.0,
        5 => 335.0,
        10 => 110.0,
        n => panic!("no weight for nice {n} in this test"),
    }
}

/// The probe binary of this build: cargo puts examples in
/// target/<profile>/examples, beside the deps/ directory of this test binary.
fn probe() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let p = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|profile| profile.join("examples").join("policy_probe"))
        .unwrap_or_else(|| panic!("no target directory above {}", exe.display()));
    assert!(
        p.is_file(),
        "policy_probe not found at {}: build it with `cargo build --examples` (`cargo test` and \
         `cargo nextest run` build examples, but not when limited with --test NAME)",
        p.display()
    );
    p
}

fn run(name: &str, timeout_s: u64) -> Console {
    let c = vm::Scenario::new(name)
        .file(probe(), GUEST_PROBE)
        .timeout(Duration::from_secs(timeout_s))
        .run();
    eprintln!("{name}: VM run took {:.1} s", c.wall().as_secs_f64());
    c
}

/// The JSON line a probe printed in block `name` (the block's last line that
/// starts with `{`); the probe must have exited 0.
fn probe_json(c: &Console, name: &str) -> serde_json::Value {
    let text = c.block(name);
    assert_eq!(
        c.block_rc(name),
        Some(0),
        "policy_probe failed in block {name}:\n{text}"
    );
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("block {name} has no JSON line:\n{text}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("block {name}: {e}:\n{line}"))
}

fn u64_of(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no unsigned `{key}` in {v}"))
}

fn f64_of(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("no number `{key}` in {v}"))
}

fn u64_list(v: &serde_json::Value, key: &str) -> Vec<u64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no array `{key}` in {v}"))
        .iter()
        .map(|x| x.as_u64().unwrap_or_else(|| panic!("`{key}`: {x} in {v}")))
        .collect()
}

/// One recorded sample of `--record` (the columns this file needs).
struct Row {
    ts_ns: u64,
    pid: u64,
    burst_us: u64,
    truncated: u64,
}

/// The wakeup-point samples of a `--record` CSV: one per burst (a burst
/// decided again mid-burst has a second row, point 1 or 2, with the same
/// outcome).
fn csv_rows(csv: &str) -> Vec<Row> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("CSV header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("no column {name} in the CSV header {header:?}"))
    };
    let (ts, pid, burst, trunc) = (col("ts_ns"), col("pid"), col("burst_us"), col("truncated"));
    let point = col("point");
    let mut rows: Vec<Row> = lines
        .filter_map(|l| {
            let v: Vec<u64> = l
                .split(',')
                .map(|x| x.parse().unwrap_or_else(|_| panic!("CSV row {l:?}")))
                .collect();
            assert_eq!(v.len(), header.len(), "CSV row {l:?}");
            (v[point] == 0).then(|| Row {
                ts_ns: v[ts],
                pid: v[pid],
                burst_us: v[burst],
                truncated: v[trunc],
            })
        })
        .collect();
    rows.sort_by_key(|r| r.ts_ns);
    rows
}

/// The scheduler was enabled from attach to the end, and left cleanly.
fn assert_arbor_ran(c: &Console) {
    let a = c.mark("attach");
    assert_eq!(a.str("state"), "enabled", "sched_ext never became enabled");
    assert!(a.str("ops").starts_with("arbor"), "ops {:?}", a.str("ops"));
    let exit = c.mark("sched_exit");
    assert_eq!(exit.i64("rc"), 0, "scx_arbor must exit 0 after SIGINT");
    assert_eq!(exit.str("sigkilled"), "0");
}

/// The recorded samples of one bursts worker, matched to its bursts.
struct Matched {
    /// Per measured burst: the recorded pieces (truncated ones first).
    per_burst: Vec<Vec<u64>>,
    /// Samples (truncated pieces included) of the exit burst, after the
    /// last wakeup: not checked.
    exit_samples: usize,
    /// Problems: samples that end inside a burst, before the worker began.
    errors: Vec<String>,
}

/// Match samples to bursts by time. A burst's untruncated sample is taken
/// in quiescent right after the worker's end-of-spin reading, before its
/// next wakeup; truncated pieces come before it.
fn match_samples(rows: &[Row], starts: &[u64], ends: &[u64], exit_start: u64) -> Matched {
    let mut m = Matched {
        per_burst: vec![Vec::new(); ends.len()],
        exit_samples: 0,
        errors: Vec::new(),
    };
    let next_start = |k: usize| starts.get(k + 1).copied().unwrap_or(exit_start);
    let mut pending = Vec::new();
    for r in rows {
        if r.ts_ns >= exit_start {
            m.exit_samples += 1;
            continue;
        }
        if r.truncated != 0 {
            pending.push(r.burst_us);
            continue;
        }
        match (0..ends.len()).find(|&k| ends[k] <= r.ts_ns && r.ts_ns < next_start(k)) {
            Some(k) => {
                m.per_burst[k].append(&mut pending);
                m.per_burst[k].push(r.burst_us);
            }
            None => {
                let inside = (0..ends.len()).find(|&k| starts[k] <= r.ts_ns && r.ts_ns < ends[k]);
                m.errors.push(match inside {
                    Some(k) => format!(
                        "a {} µs sample ended burst {k} {} µs before its end (the burst was split)",
                        r.burst_us,
                        (ends[k] - r.ts_ns) / 1000
                    ),
                    None => format!(
                        "a {} µs sample at ts {} outside every burst",
                        r.burst_us, r.ts_ns
                    ),
                });
                pending.clear();
            }
        }
    }
    m
}

/// Test 1. Every burst of the probe's worker must be recorded once, as the
/// CPU time the kernel charged to it (the worker's own thread CPU clock,
/// the first burst from its fork), including re-pinning and renicing in
/// the middle of bursts: those dequeue a running task without a sleep and
/// must neither end its burst (short samples, more of them) nor be missed
/// (merged samples of two bursts).
///
/// The nominal burst is 2000 µs; under TCG a vCPU that the host deschedules
/// in the middle of a burst makes the guest charge that time to the task,
/// so the truth of each burst is what the worker's own clock measured:
/// between its CPU time from wakeup to end of spin and that plus the CPU
/// charged across the sleeps on either side (the kernel's wakeup and sleep
/// paths, outside the worker's reach).
#[test]
fn bursts_match_the_tasks_own_cpu_clock() {
    const SPIN_US: u64 = 2000;
    const COUNT: usize = 40;
    /// ARBOR_BURST_TRUNC_US: a burst running this long is sampled as
    /// truncated, and what follows as a new burst.
    const TRUNC_US: u64 = 16_000;
    let c = run("policy-bursts", 180);
    c.assert_exit_ok();
    assert_arbor_ran(&c);

    let mut failures = Vec::new();
    // The probe's own figures under both schedulers: the measurement itself.
    for sched in ["eevdf", "arbor"] {
        for phase in ["idle", "loaded"] {
            let j = probe_json(&c, &format!("bursts:{sched}:{phase}"));
            let own = u64_list(&j, "bursts_cpu_us");
            let gap = u64_list(&j, "gap_cpu_us");
            assert_eq!(own.len(), COUNT, "{sched}/{phase}: {j}");
            assert_eq!(
                j["failures"].as_array().map(Vec::len),
                Some(0),
                "{sched}/{phase}: a setaffinity or setpriority failed: {j}"
            );
            let nominal = own.iter().filter(|&&b| b <= SPIN_US + SPIN_US / 20).count();
            eprintln!(
                "bursts {sched}/{phase}: worker's own clock: {nominal}/{COUNT} bursts of {SPIN_US} µs (+5%), \
                 longest {} µs (vCPU stalls), first {} µs; CPU across sleeps {}..{} µs",
                own.iter().max().unwrap(),
                own[0],
                gap.iter().min().unwrap(),
                gap.iter().max().unwrap()
            );
            assert!(
                own.iter().all(|&b| b >= SPIN_US),
                "{sched}/{phase}: the probe stopped a burst short of {SPIN_US} µs: {own:?}"
            );
        }
    }

    let status = c.json("status_end");
    let dropped = u64_of(&status, "samples_dropped");
    for phase in ["idle", "loaded"] {
        let j = probe_json(&c, &format!("bursts:arbor:{phase}"));
        let pid = u64_of(&j, "pid");
        assert_eq!(c.mark(&format!("worker_{phase}")).u64("pid"), pid);
        let own = u64_list(&j, "bursts_cpu_us");
        let gap = u64_list(&j, "gap_cpu_us");
        let rows = csv_rows(&c.block(&format!("csv:{phase}")));
        assert!(rows.iter().all(|r| r.pid == pid));
        let m = match_samples(
            &rows,
            &u64_list(&j, "start_ns"),
            &u64_list(&j, "end_ns"),
            u64_of(&j, "exit_start_ns"),
        );
        let sleeps = u64_of(&j, "sleeps") as usize;
        let mut lines = Vec::new();
        let mut bad = Vec::new();
        let mut literal_ok = 0;
        let (mut sum_rec, mut sum_own, mut sum_gap) = (0, 0, 0);
        for k in 0..own.len() {
            let pieces = &m.per_burst[k];
            let rec: u64 = pieces.iter().sum();
            let lo = own[k];
            let hi = own[k] + gap[k] + if k > 0 { gap[k - 1] } else { 0 };
            sum_rec += rec;
            sum_own += own[k];
            sum_gap += gap[k];
            literal_ok += pieces
                .iter()
                .filter(|&&p| p.abs_diff(SPIN_US) <= SPIN_US / 4)
                .count();
            // One sample, or truncated pieces first if the burst may have
            // reached the truncation limit; their sum is the burst.
            let pieces_ok = pieces.len() == 1 || pieces.len() > 1 && hi * 5 >= TRUNC_US * 4;
            let ok = pieces_ok && rec * 4 >= lo * 3 && rec * 4 <= hi * 5;
            let line = format!(
                "#{k:2} {:<22} own {lo:5} µs (+{:4} across sleeps) recorded {pieces:?}",
                j["events"][k].as_str().unwrap_or("?"),
                hi - lo
            );
            if !ok {
                bad.push(line.clone());
            }
            lines.push(line);
        }
        let samples = rows.len();
        eprintln!(
            "bursts arbor/{phase}: pid {pid}: {samples} samples ({} in the exit burst) for {} bursts and {sleeps} sleeps; \
             {literal_ok} samples within {SPIN_US} µs ± 25%; recorded sum {sum_rec} µs, own {sum_own} µs + {sum_gap} across sleeps\n  {}",
            m.exit_samples,
            own.len(),
            lines.join("\n  ")
        );
        if !bad.is_empty() || !m.errors.is_empty() {
            failures.push(format!(
                "{phase}: {} bursts not recorded once as their own CPU time ± 25%:\n  {}{}",
                bad.len(),
                bad.join("\n  "),
                m.errors
                    .iter()
                    .map(|e| format!("\n  {e}"))
                    .collect::<String>()
            ));
        }
        // Conservation: every µs the worker ran up to its last sleep is in
        // exactly one measured burst (the last wakeup's part belongs to the
        // exit burst).
        let (lo, hi) = (sum_own + sum_gap - gap[own.len() - 1], sum_own + sum_gap);
        if sum_rec * 100 < lo * 98 || sum_rec * 100 > hi * 102 {
            failures.push(format!(
                "{phase}: the recorded bursts sum to {sum_rec} µs, the worker ran {lo}..{hi} µs (±2%)"
            ));
        }
        // Each burst ends in one sleep and must give one sample (or its
        // truncated pieces and one sample): the count is checked burst by
        // burst above. Dropped samples would make bursts look missing.
        let missing = m.per_burst.iter().filter(|p| p.is_empty()).count();
        if missing > 0 {
            failures.push(format!(
                "{phase}: {missing} of {} bursts ({sleeps} sleeps) have no sample; samples_dropped = {dropped}{}",
                own.len(),
                if dropped > 0 {
                    " (the ring buffer dropped samples: the count cannot be checked)"
                } else {
                    ""
                }
            ));
        }
    }
    eprintln!(
        "bursts: status samples_sent={} samples_dropped={dropped}",
        u64_of(&status, "samples_sent")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(dropped, 0, "the BPF ring buffer dropped samples");
}

/// Test 2. A task A that slept 3 s, beside two CPU hogs on the 2 CPUs, must
/// not get more of the CPU in the second after it wakes than it would under
/// EEVDF: relative to a task B forked at the same moment (A/B), and relative
/// to the hogs, which never slept (A/hog). Each ratio under scx_arbor must
/// be within 15% of the same ratio under EEVDF in the same VM run.
#[test]
fn a_sleeper_banks_no_credit() {
    let c = run("policy-credit", 180);
    c.assert_exit_ok();
    assert_arbor_ran(&c);
    assert_eq!(c.mark("after").str("alive"), "1", "scx_arbor died");
    let e = probe_json(&c, "credit:eevdf");
    let a = probe_json(&c, "credit:arbor");
    for (name, j) in [("eevdf", &e), ("arbor", &a)] {
        let hog = f64_of(j, "hog_mean_cpu_us");
        eprintln!(
            "credit {name}: A {} µs, B {} µs, a hog {hog:.0} µs: A/B {:.3}, A/hog {:.3}, B/hog {:.3}; rounds {}",
            u64_of(j, "a_cpu_us"),
            u64_of(j, "b_cpu_us"),
            f64_of(j, "ratio"),
            u64_of(j, "a_cpu_us") as f64 / hog,
            u64_of(j, "b_cpu_us") as f64 / hog,
            j["rounds"]
        );
    }
    let (re, ra) = (f64_of(&e, "ratio"), f64_of(&a, "ratio"));
    let rel = ra / re;
    let (he, ha) = (f64_of(&e, "a_over_hog"), f64_of(&a, "a_over_hog"));
    let rel_hog = ha / he;
    eprintln!(
        "credit: scx_arbor / EEVDF: A/B {rel:.3}, A/hog {rel_hog:.3} (B/hog {:.3})",
        (u64_of(&a, "b_cpu_us") as f64 / f64_of(&a, "hog_mean_cpu_us"))
            / (u64_of(&e, "b_cpu_us") as f64 / f64_of(&e, "hog_mean_cpu_us"))
    );
    let mut failures = Vec::new();
    if (rel - 1.0).abs() > 0.15 {
        failures.push(format!(
            "the woken sleeper's CPU relative to a task forked as it woke: A/B = {ra:.3} under \
             scx_arbor, {re:.3} under EEVDF (ratio {rel:.3}, allowed 0.85..1.15)"
        ));
    }
    // Reported, not asserted: relative to hogs that ran alone before, both
    // the woken sleeper and the fresh task get more than EEVDF gives them
    // (1.19-1.92 seen), because the hogs had drifted ahead of the global V
    // (an open problem of one V for all CPUs; see docs/design.md "Placement").
    // The credit a sleep may bank is what the A/B check above bounds.
    eprintln!("credit: A/hog = {ha:.3} under scx_arbor, {he:.3} under EEVDF (ratio {rel_hog:.3})");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// CPU time (µs) of each hog of a `hogs` JSON, with its nice; checks the
/// probe could set each nice and pin, and that pinned hogs stayed pinned.
fn hogs(j: &serde_json::Value, what: &str) -> Vec<(i64, f64)> {
    let pin = j["pin"].as_str().unwrap_or("none");
    j["hogs"]
        .as_array()
        .unwrap_or_else(|| panic!("{what}: no hogs in {j}"))
        .iter()
        .map(|h| {
            assert_eq!(h["nice_errno"], 0, "{what}: setpriority failed: {h}");
            assert_eq!(h["pin_errno"], 0, "{what}: sched_setaffinity failed: {h}");
            if pin != "none" {
                assert_eq!(
                    h["last_cpu"].to_string(),
                    pin,
                    "{what}: a hog pinned to CPU {pin} ran elsewhere: {h}"
                );
            }
            (
                h["nice"].as_i64().expect("nice"),
                h["cpu_us"].as_f64().expect("cpu_us"),
            )
        })
        .collect()
}

/// Test 3. CPU time shares follow the kernel's nice weights: two pinned pairs
/// (nice 0/5 on CPU 0, nice 0/10 on CPU 1), then three unpinned hogs at nice
/// 0, 0, 5 on the 2 CPUs.
#[test]
fn cpu_shares_follow_nice_weights() {
    let c = run("policy-weights", 180);
    c.assert_exit_ok();
    assert_arbor_ran(&c);
    assert_eq!(c.mark("after").str("alive"), "1", "scx_arbor died");

    let mut failures = Vec::new();
    for sched in ["eevdf", "arbor"] {
        for (block, low_nice) in [("pin0", 5), ("pin1", 10)] {
            let name = format!("{block}:{sched}");
            let h = hogs(&probe_json(&c, &name), &name);
            assert_eq!(h.len(), 2, "{name}: {h:?}");
            assert_eq!((h[0].0, h[1].0), (0, low_nice), "{name}: {h:?}");
            let got = h[0].1 / h[1].1;
            let want = nice_weight(0) / nice_weight(low_nice);
            eprintln!(
                "weights {name}: nice 0 {:.0} ms, nice {low_nice} {:.0} ms: ratio {got:.3} (weights {want:.3}, {:+.1}%)",
                h[0].1 / 1e3,
                h[1].1 / 1e3,
                (got / want - 1.0) * 100.0
            );
            if (got / want - 1.0).abs() > 0.10 {
                failures.push(format!(
                    "{sched}: pinned nice 0 / nice {low_nice} CPU ratio {got:.3}, weight ratio {want:.3} (allowed ±10%)"
                ));
            }
        }
        let name = format!("free:{sched}");
        let h = hogs(&probe_json(&c, &name), &name);
        let nices: Vec<i64> = h.iter().map(|x| x.0).collect();
        assert_eq!(nices, [0, 0, 5], "{name}: {h:?}");
        let got = (h[0].1 + h[1].1) / 2.0 / h[2].1;
        let want = nice_weight(0) / nice_weight(5);
        eprintln!(
            "weights {name}: nice 0 {:.0} and {:.0} ms, nice 5 {:.0} ms: ratio {got:.3} (weights {want:.3}, {:+.1}%)",
            h[0].1 / 1e3,
            h[1].1 / 1e3,
            h[2].1 / 1e3,
            (got / want - 1.0) * 100.0
        );
        // EEVDF's per-CPU runqueues need not split 3 tasks on 2 CPUs by
        // weight: printed only.
        if sched == "arbor" && (got / want - 1.0).abs() > 0.10 {
            failures.push(format!(
                "arbor: unpinned nice 0 (mean) / nice 5 CPU ratio {got:.3}, weight ratio {want:.3} (allowed ±10%)"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Test 4. A lone hog beside periodic wakers on 2 CPUs is left alone, as
/// EEVDF leaves it: two wakers (1009 and 2017 µs periods, 50 µs bursts) and
/// one hog, two interleaved `scx_arbor ab` rounds of 3 s per arm (EEVDF,
/// scx_arbor, scx_arbor --no-model; the latency-grid scenario, cell
/// w2-diff-h1). The truth is the kernel's count of the hog's runs
/// (/proc/PID/schedstat) under EEVDF in the same VM run: there the wakers
/// share the other CPU and the hog runs undisturbed (2-45 runs per 3 s in
/// 12 release-build rounds). When the wakers' timers expired together on
/// the idle CPU, the second wakeup used to preempt the hog and then kept
/// waking on its CPU: 451-896 runs per 3 s (release build of 583c10d, 7
/// rounds); 515-777 in this test's debug build without the fix, where it
/// fails. Since the fix 15-93, and 17-189 with --no-model, whose 1.5 ms
/// slices hand the hog's CPU to a queued waker more often. Each arm's lower
/// round counts, so that one disturbed round does not decide.
#[test]
fn a_lone_hog_is_left_alone_by_periodic_wakers() {
    let c = vm::Scenario::new("latency-grid")
        .arg("wakers", 2)
        .arg("sets", "diff")
        .arg("hogs", 1)
        .arg("rounds", 2)
        .arg("duration", 3)
        .arg("warmup", 1)
        .timeout(Duration::from_secs(300))
        .run();
    eprintln!("lone hog: VM run took {:.1} s", c.wall().as_secs_f64());
    c.assert_exit_ok();
    let j = c.json("json:w2-diff-h1");
    let rounds = j["rounds"].as_array().expect("rounds in the ab JSON");
    let hog_runs = |arm: &str| -> Vec<u64> {
        let runs: Vec<u64> = rounds
            .iter()
            .filter(|r| r["arm"] == arm)
            .map(|r| {
                let lat = &r["latency"];
                let all = lat["rundelay"]["runs"].as_u64().expect("rundelay.runs");
                let wakers = lat["rundelay_wakers"]["runs"]
                    .as_u64()
                    .expect("rundelay_wakers.runs");
                all.checked_sub(wakers)
                    .unwrap_or_else(|| panic!("{arm}: waker runs {wakers} > all runs {all}"))
            })
            .collect();
        assert_eq!(runs.len(), 2, "{arm}: rounds in the ab JSON: {runs:?}");
        runs
    };
    let eevdf = hog_runs("eevdf");
    let bound = 250 + 3 * eevdf.iter().min().copied().unwrap_or(0);
    let mut failures = Vec::new();
    for arm in ["arbor", "arbor-nomodel"] {
        let runs = hog_runs(arm);
        let lower = runs.iter().min().copied().unwrap_or(0);
        eprintln!("lone hog: runs per 3 s round: {arm} {runs:?}, eevdf {eevdf:?} (bound {bound})");
        if lower > bound {
            failures.push(format!(
                "{arm}: the lone hog was put on a CPU {runs:?} times per 3 s round, EEVDF {eevdf:?} \
                 (allowed in the lower round: 250 + 3 x EEVDF's lower = {bound}): wakeups are \
                 preempting it"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The guard against a harmful action table (the wakers' classes get a
/// 100 ms request, the hogs' 100 µs and 20 ms slices): the ground truth is the latency
/// workload's own wakeup p99 in the same boot, under `--no-model` and under
/// the harmful table unguarded. With `--guard on` the guard must suspend
/// the model within seconds, and the workload run after that must be back
/// near `--no-model`'s figure. Two rounds of the three arms, interleaved;
/// each arm's figure is its better round: a stretch where the host
/// emulates slowly only ever adds latency (on a busy CI host one unlucky
/// stretch made the guarded run 8.6 ms against `--no-model`'s 5.8 ms, with
/// the hogs' throughput down a fifth in it).
#[test]
fn the_guard_suspends_a_harmful_model_and_the_tail_returns_to_the_fallbacks() {
    const ROUNDS: u32 = 2;
    let c = vm::Scenario::new("guard")
        .arg("secs", 8)
        .arg("rounds", ROUNDS)
        .arg("detect_secs", 70)
        .timeout(Duration::from_secs(420))
        .run();
    c.assert_exit_ok();
    let p99 = |name: &str| {
        let figures: Vec<f64> = (1..=ROUNDS)
            .map(|r| {
                let block = format!("{name}_{r}");
                let m = c.mark(&format!("run_{block}"));
                assert_eq!(m.i64("rc"), 0, "the {block} workload failed");
                assert_eq!(m.str("state"), "enabled", "{block}: scx_arbor not attached");
                c.json(&block)["latency"]["p99_us"].as_f64().unwrap()
            })
            .collect();
        eprintln!("{name}: wakeup p99 by round {figures:.0?} µs");
        figures.into_iter().fold(f64::INFINITY, f64::min)
    };
    let (nomodel, bad, guarded) = (p99("nomodel"), p99("bad"), p99("guarded"));
    eprintln!(
        "wakeup p99, the better round: --no-model {nomodel:.0} µs, harmful table {bad:.0} µs, \
         guarded {guarded:.0} µs"
    );
    // Without this the test could not tell a guard from none. (Under TCG
    // the workload's p99 carries some 3-5 ms of emulated timer and wakeup
    // cost whatever the policy: the harmful table measured 2.2-3.4x in 4
    // runs. A 16 ms request for the wakers measured 1.4-3x: a sleeper's lag
    // bound grows with its request, 2 x 16 ms, enough to win its deadline
    // back, and the guard then saw 6-7 of 10 pairs worse, no verdict.)
    assert!(
        bad >= 1.3 * nomodel,
        "the harmful table is not clearly worse than --no-model ({bad:.0} vs {nomodel:.0} µs)"
    );
    for r in 1..=ROUNDS {
        let s = c.mark(&format!("suspended_{r}"));
        eprintln!("round {r}: suspended after {} ms", s.i64("ms"));
        assert!(
            s.i64("n") >= 1,
            "round {r}: the guard never suspended the model"
        );
        // A verdict comes after each batch of 10 window pairs (about 10.5
        // s) and needs 9 of 10 pairs worse: in 4 runs with this table the
        // guard suspended after the 1st batch three times (10.3-11.4 s) and
        // after the 5th once (about 52 s). 65 s leaves room for six batches.
        assert!(
            s.i64("ms") <= 65_000,
            "round {r}: suspension took {} ms",
            s.i64("ms")
        );
        let st = c.json(&format!("guard_status_{r}"));
        assert_eq!(st["guard_mode"], "suspended", "round {r}: {st}");
        assert!(st["guard_fallback_decisions"].as_u64().unwrap() > 0);
        assert!(
            st["guard_last_verdict"]
                .as_str()
                .unwrap()
                .contains("suspended"),
            "round {r}: {st}"
        );
    }
    assert!(
        guarded <= 1.2 * nomodel && guarded * 1.2 <= bad,
        "guarded p99 {guarded:.0} µs: not back near --no-model's {nomodel:.0} µs (harmful {bad:.0} µs)"
    );
}
