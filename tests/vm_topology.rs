//! The policy on machines of more than one cache or core: an 8-vCPU guest
//! with 2 sockets of 4 cores (CPUs 0-3 and 4-7 share an L3; slow under TCG:
//! one scenario), a 4-vCPU guest of 2 SMT cores, and a 4-vCPU guest of
//! two LLCs of 2 CPUs.

#[path = "common/vm.rs"]
mod vm;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use vm::{Scenario, Shape};

fn counter(st: &serde_json::Value, key: &str) -> u64 {
    st[key]
        .as_u64()
        .unwrap_or_else(|| panic!("status has no unsigned `{key}`: {st}"))
}

fn p99_us(c: &vm::Console, block: &str) -> f64 {
    let v = c.json(block);
    v["latency"]["p99_us"]
        .as_f64()
        .unwrap_or_else(|| panic!("{block}: no latency.p99_us: {v}"))
}

#[test]
fn two_llcs_attach_place_locally_keep_pinned_tasks_running_and_survive_stress() {
    let c = Scenario::new("topology")
        .shape(Shape::TwoSockets)
        .timeout(Duration::from_secs(420))
        .run();
    c.assert_exit_ok();

    // What the guest's sysfs says: two L3 domains.
    let groups: BTreeSet<String> = c
        .marks_tagged("cpu")
        .iter()
        .map(|m| m.str("l3").to_string())
        .collect();
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        vec!["0-3".to_string(), "4-7".to_string()],
        "the guest does not show two LLCs"
    );
    let log = c.block("log:sched.log");
    assert!(
        log.contains("topology: 2 LLCs: [0-3] [4-7]"),
        "scx_arbor did not read the two LLCs:\n{log}"
    );
    assert_eq!(c.mark("attach").str("state"), "enabled");

    // Messaging: most wakeups land in the waker's LLC.
    let start = c.json("status_start");
    let msg = c.json("status_msg");
    assert_eq!(c.mark("hackbench").i64("rc"), 0, "hackbench failed");
    let local = counter(&msg, "wake_llc_local") - counter(&start, "wake_llc_local");
    let remote = counter(&msg, "wake_llc_remote") - counter(&start, "wake_llc_remote");
    eprintln!("hackbench wakeups: {local} in the waker's LLC, {remote} in the other");
    // A few hundred wakeups give the share to within a few percent (874
    // to 1355 seen: how many depends on how often hackbench's readers
    // find their pipe empty).
    assert!(
        local + remote > 400,
        "too few wakeups counted: {local} + {remote}"
    );
    // Most: above 55%, where a placement blind to LLCs would give 50% on
    // two equal LLCs (66-82% seen; a wakeup still goes to an idle CPU in
    // the other LLC when the waker's LLC has none).
    assert!(
        local * 100 > (local + remote) * 55,
        "wakeups not placed in the waker's LLC: {local} local, {remote} remote"
    );

    // Twelve tasks pinned to CPUs 2 and 5 beside the latency mix: none stalls
    // (the 5 s watchdog would eject the scheduler), each crowd completes.
    let pinned = c.mark("pinned_arbor");
    assert_eq!(pinned.str("state"), "enabled", "ejected with pinned tasks");
    assert_eq!(pinned.i64("rc2"), 0, "tasks pinned to CPU 2 failed");
    assert_eq!(pinned.i64("rc5"), 0, "tasks pinned to CPU 5 failed");
    assert_eq!(pinned.i64("lat_rc"), 0, "the latency workload failed");
    let st_pinned = c.json("status_pinned");
    assert!(
        counter(&st_pinned, "pcpu_enqueues") - counter(&msg, "pcpu_enqueues") > 100,
        "pinned tasks did not go through their CPUs' own queues"
    );
    let (eevdf, arbor) = (p99_us(&c, "lat_eevdf"), p99_us(&c, "lat_arbor"));
    eprintln!(
        "latency mix beside 12 pinned tasks, p99: EEVDF {eevdf:.0} µs, scx_arbor {arbor:.0} µs"
    );
    // A guard against gross regressions (a waker waiting out whole slices),
    // not a benchmark: TCG's own p99 noise is around 50%.
    assert!(
        arbor <= 2.0 * eevdf,
        "latency mix p99 {arbor:.0} µs under scx_arbor, more than twice EEVDF's {eevdf:.0} µs"
    );

    // scx CI's stress-ng mix, shortened: still enabled, exit 0, no error.
    let stress = c.mark("stress");
    assert_eq!(stress.i64("rc"), 0, "stress-ng failed under scx_arbor");
    assert_eq!(stress.str("state"), "enabled", "ejected during stress-ng");
    let exit = c.mark("sched_exit");
    assert_eq!(exit.i64("rc"), 0, "scx_arbor must exit 0");
    assert_eq!(exit.str("state"), "disabled");
    let end = c.json("status_end");
    assert_eq!(counter(&end, "walk_errors"), 0);

    // Pinned tasks are not walked by other CPUs: a CPU going idle looks into
    // another CPU's own DSQ only for a wakeup free to move, and a look that
    // finds only tasks bound to that CPU is a miss (the kernel walked past
    // them all). With the pinned crowds and stress-ng's pinned workers
    // queued there, a policy that looked whenever the DSQ was not empty
    // missed 3,815 and 3,905 times in two runs (the fix: 0 and 0); a miss
    // is left only where a wakeup is taken by its own CPU between the
    // count's read and the pull.
    let pulls = counter(&end, "sibling_pulls") - counter(&start, "sibling_pulls");
    let misses = counter(&end, "sibling_pull_misses") - counter(&start, "sibling_pull_misses");
    eprintln!("pulls from a sibling CPU's DSQ: {pulls}, misses {misses}");
    assert!(
        misses <= 50,
        "other CPUs walked past pinned tasks for nothing {misses} times ({pulls} pulls)"
    );
    let dmesg = c.block("dmesg_scx");
    assert!(
        !dmesg.contains("error") && !dmesg.contains("stall"),
        "sched_ext reported a problem:\n{dmesg}"
    );
    assert!(c.errors().is_empty(), "{:?}", c.errors());
}

/// What tests/vm/scenarios/spread.sh measured, per arm summed over the
/// rounds: the crowded samples from the settle time on; scx_arbor's arm
/// must have at least `min_samples` samples in all.
fn crowded_late(c: &vm::Console, min_samples: u64) -> BTreeMap<String, u64> {
    let (mut late, mut samples) = (BTreeMap::new(), BTreeMap::<String, u64>::new());
    for m in c.marks_tagged("spread") {
        eprintln!(
            "{} round {}: {} of {} samples crowded ({} after settling), clear from {} ms",
            m.str("arm"),
            m.str("round"),
            m.u64("crowded"),
            m.u64("samples"),
            m.u64("crowded_late"),
            m.i64("first_clear_ms")
        );
        *late.entry(m.str("arm").into()).or_default() += m.u64("crowded_late");
        *samples.entry(m.str("arm").into()).or_default() += m.u64("samples");
    }
    assert!(
        samples.get("arbor").copied().unwrap_or(0) >= min_samples,
        "too few samples: {samples:?}"
    );
    late
}

/// A counter of scx_arbor's status after its arm, summed over the rounds
/// the scenario ran (each round starts a new instance).
fn over_rounds(c: &vm::Console, key: &str) -> u64 {
    c.marks_tagged("spread")
        .iter()
        .filter(|m| m.str("arm") == "arbor")
        .map(|m| counter(&c.json(&format!("status_arbor_{}", m.str("round"))), key))
        .sum()
}

/// The guest's domains as spread.sh read them from its own sysfs.
fn domains(c: &vm::Console) -> BTreeSet<String> {
    c.marks_tagged("domain")
        .iter()
        .map(|m| m.str("domain").to_string())
        .collect()
}

/// Two hogs started on the two CPUs of one SMT core, then free to run
/// anywhere: from 500 ms after their release on, scx_arbor leaves them on
/// one core while the other idles in no more samples than EEVDF does in the
/// same VM plus three (of about 75: a sample can catch a hog between CPUs),
/// summed over the rounds; and it says it read the SMT topology. The build
/// before SMT-aware placement had 5 such samples against EEVDF's 0 in one
/// run of the same rounds (docs/kernels.md, "SMT"). Ground truth: the
/// guest's own topology files and each hog's CPU from /proc.
#[test]
fn hogs_on_one_smt_core_spread_to_the_idle_core() {
    let c = Scenario::new("spread")
        .shape(Shape::Smt)
        .arg("domain", "core")
        .arg("rounds", 3)
        .timeout(Duration::from_secs(300))
        .run();
    c.assert_exit_ok();
    let cores = domains(&c);
    assert_eq!(cores.len(), 2, "the guest does not show 2 cores: {cores:?}");
    let log = c.block("log:sched.log");
    assert!(
        log.contains("topology: 1 LLCs: [0-3], SMT"),
        "scx_arbor did not read the SMT cores:\n{log}"
    );
    let late = crowded_late(&c, 30);
    eprintln!(
        "smt_moves over the rounds: {}",
        over_rounds(&c, "smt_moves")
    );
    assert!(
        late["arbor"] <= late["eevdf"] + 3,
        "scx_arbor left two hogs on one core while the other idled in {} samples, EEVDF in {}",
        late["arbor"],
        late["eevdf"]
    );
}

/// A guest of four one-CPU LLCs on two NUMA nodes (CPUs 0 and 2 on node
/// 0, 1 and 3 on node 1). scx_arbor orders each LLC's others by the node
/// distances the guest's kernel gives (ground truth: the guest's own
/// /sys/devices/system/node/*/distance and each CPU's node, read by the
/// scenario); an idle CPU looks into the others' queues in that order.
/// Eight hogs started on CPU 0, then free to run anywhere: from 1 s after
/// their release on, scx_arbor leaves an LLC with more than two hogs while
/// another has fewer in no more samples than EEVDF in the same VM plus
/// three, summed over the rounds. Idle CPUs alone take one hog each and
/// leave five on CPU 0: the build without balance_llcs() had 21 such
/// samples of 33 against EEVDF's 9 of 26 (docs/kernels.md).
#[test]
fn four_llcs_on_two_nodes_nearest_first_and_hogs_spread_within_a_second() {
    let c = Scenario::new("spread")
        .shape(Shape::FourLlcsTwoNodes)
        .arg("domain", "llc")
        .arg("hogs", 8)
        .arg("rounds", 2)
        .arg("secs", 3)
        .timeout(Duration::from_secs(300))
        .run();
    c.assert_exit_ok();
    let llcs = domains(&c);
    assert_eq!(
        llcs.into_iter().collect::<Vec<_>>(),
        vec!["0", "1", "2", "3"],
        "the guest does not show four LLCs"
    );
    // scx_arbor numbers the LLCs as scx_utils' topology does (node by
    // node): its log lists each index's CPUs, `4 LLCs: [0] [2] [1] [3]`.
    let log = c.block("log:sched.log");
    let groups = log
        .lines()
        .find_map(|l| l.split("topology: 4 LLCs: ").nth(1))
        .unwrap_or_else(|| panic!("scx_arbor did not read four LLCs:\n{log}"));
    let llc_cpu: Vec<u64> = groups
        .split_whitespace()
        .map(|g| g.trim_matches(|c| c == '[' || c == ']').parse().unwrap())
        .collect();
    assert_eq!(
        llc_cpu.iter().copied().collect::<BTreeSet<u64>>(),
        (0..4).collect(),
        "{groups}"
    );

    // The expected order from the guest's own tables: each LLC looks first
    // at the others on its node, then the rest, each group in index order
    // after it.
    let node_of: BTreeMap<u64, u64> = c
        .marks_tagged("domain")
        .iter()
        .map(|m| (m.u64("cpu"), m.u64("node")))
        .collect();
    let distance: BTreeMap<u64, Vec<u64>> = c
        .marks_tagged("node")
        .iter()
        .map(|m| {
            let row = m
                .str("distance")
                .split(',')
                .map(|d| d.parse().unwrap())
                .collect();
            (m.u64("node"), row)
        })
        .collect();
    assert_eq!(
        distance.len(),
        2,
        "the guest does not show two nodes: {distance:?}"
    );
    assert_ne!(
        node_of[&0], node_of[&1],
        "CPUs 0 and 1 share a node: {node_of:?}"
    );
    let node = |l: u64| node_of[&llc_cpu[l as usize]];
    let expected: Vec<String> = (0..4u64)
        .map(|l| {
            let mut others: Vec<u64> = (1..4).map(|i| (l + i) % 4).collect();
            others.sort_by_key(|&o| distance[&node(l)][node(o) as usize]);
            let o: Vec<String> = others.iter().map(u64::to_string).collect();
            format!("{l}: {}", o.join(" "))
        })
        .collect();
    let line = format!("other LLCs by node distance: {}", expected.join(" | "));
    assert!(log.contains(&line), "expected `{line}` in:\n{log}");

    // 23 to 30 samples per 3 s round seen (one every 100 ms is the most):
    // the sampler shares the emulated CPUs with the hogs.
    let late = crowded_late(&c, 20);
    eprintln!(
        "llc_balance_pulls over the rounds: {}",
        over_rounds(&c, "llc_balance_pulls")
    );
    assert!(
        late["arbor"] <= late["eevdf"] + 3,
        "scx_arbor left more than two hogs in one LLC while another had fewer in {} \
         samples from 1 s after the release on, EEVDF in {}",
        late["arbor"],
        late["eevdf"]
    );
}
