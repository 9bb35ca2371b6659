//! What the BPF side sends to the learner, checked against tasks whose
//! behaviour is known (tests/vm/scenarios/sampling.sh): a periodic waker
//! with a known burst, a hackbench pipe storm of tiny bursts, and
//! scx_arbor's own threads, which must never appear.

#[path = "common/vm.rs"]
mod vm;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

const PERIOD_US: u64 = 10_000;
const BURST_US: u64 = 2_000;
const BUDGET: u64 = 64;
const SECS: u64 = 4;

/// Thread ids listed in mark `tag`'s `tids=` (comma-separated).
fn tids(m: &vm::Mark) -> HashSet<u64> {
    m.str("tids")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("tid"))
        .collect()
}

/// The index of column `name` in a CSV's header line.
fn column(csv: &str, name: &str) -> usize {
    let header = csv.lines().next().unwrap_or_default();
    header
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in the CSV header {header:?}"))
}

/// (tid, samples, mean burst µs) rows of a per_tid block
fn per_tid(text: &str) -> Vec<(u64, u64, u64)> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 3 {
                return None;
            }
            Some((f[0].parse().ok()?, f[1].parse().ok()?, f[2].parse().ok()?))
        })
        .collect()
}

#[test]
fn sampling_skips_scx_arbor_and_keeps_rare_classes_within_the_budget() {
    let c = vm::Scenario::new("sampling")
        .arg("budget", BUDGET)
        .arg("secs", SECS)
        .arg("period_us", PERIOD_US)
        .arg("burst_us", BURST_US)
        .timeout(Duration::from_secs(240))
        .run();
    c.assert_exit_ok();

    // Phase "all": no budget, the waker alone.
    let selfm = &c.marks_tagged("self")[0];
    let own = tids(selfm);
    assert!(own.len() >= 2, "scx_arbor's threads: {own:?}");
    let waker_marks = c.marks_tagged("waker");
    let waker_all = tids(&waker_marks[0]);
    let rows = per_tid(&c.block("per_tid_all_end"));
    eprintln!("samples per thread (tid, n, mean burst µs): {rows:?}; scx_arbor {own:?}");
    for (tid, n, _) in &rows {
        assert!(
            !own.contains(tid),
            "scx_arbor's own thread {tid} was sampled {n} times"
        );
    }
    // The waker: one sample per period, its median burst within 25% of the
    // truth (a burst is CPU time: a spin preempted for long reads longer, as
    // the spin is timed on the wall clock, so the median, not the mean).
    // One wakeup-point sample per burst (mid-burst decisions add their own
    // rows, point 1 or 2).
    let all = c.block("csv_all");
    let (burst_col, point_col) = (column(&all, "burst_us"), column(&all, "point"));
    let mut waker_bursts: Vec<u64> = all
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let tid: u64 = f.get(1)?.parse().ok()?;
            let burst: u64 = f.get(burst_col)?.parse().ok()?;
            let point: u64 = f.get(point_col)?.parse().ok()?;
            (waker_all.contains(&tid) && point == 0).then_some(burst)
        })
        .collect();
    waker_bursts.sort_unstable();
    let n = waker_bursts.len() as u64;
    assert!(n > 0, "no sample of the waker {waker_all:?}: {rows:?}");
    let median = waker_bursts[waker_bursts.len() / 2];
    let periods = SECS * 1_000_000 / PERIOD_US;
    assert!(
        n * 10 >= periods * 8 && n <= periods + 5,
        "waker: {n} samples for {periods} periods"
    );
    assert!(
        median * 4 >= BURST_US * 3 && median * 4 <= BURST_US * 5,
        "waker's median recorded burst {median} µs, truth {BURST_US} µs"
    );
    eprintln!("waker: {n} samples for {periods} periods, median burst {median} µs");

    // Phase "budget": the waker beside a storm of tiny bursts.
    let b = c.mark("budget");
    let secs: f64 = b.f64("secs");
    let nr_cpus = b.u64("nr_cpus");
    let waker = tids(&waker_marks[1]);
    let csv = c.block("csv_budget");
    let burst_col = column(&csv, "burst_us");
    let mut per_class: HashMap<u64, u64> = HashMap::new();
    let (mut total, mut of_waker) = (0u64, 0u64);
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 5 {
            continue;
        }
        let tid: u64 = f[1].parse().expect("pid column");
        let burst: u64 = f[burst_col].parse().expect("burst_us column");
        let class = match burst {
            0..=250 => 0,
            251..=1000 => 1,
            1001..=4000 => 2,
            _ => 3,
        };
        *per_class.entry(class).or_default() += 1;
        total += 1;
        if waker.contains(&tid) {
            of_waker += 1;
        }
    }
    let status = c.json("status_budget");
    let throttled = status["samples_throttled"]
        .as_u64()
        .expect("samples_throttled");
    let bursts = status["bursts"].as_u64().expect("bursts");
    eprintln!(
        "budget {BUDGET}/s/CPU, {secs:.1} s, {nr_cpus} CPUs: {total} samples (class: {per_class:?}), \
         waker {of_waker}, throttled {throttled}, bursts {bursts}"
    );
    // Every CPU's window opens at its first sample: over the run a CPU can
    // send one window's worth more than secs x budget.
    let cap = (BUDGET as f64 * nr_cpus as f64 * (secs + 1.0)).ceil() as u64;
    assert!(total <= cap, "{total} samples over {secs} s, cap {cap}");
    assert!(
        throttled > 0,
        "the storm was never throttled ({bursts} bursts)"
    );
    // Stratified: a class's samples come from its own quarter of the budget,
    // whatever the other classes do. Bursts per actual class are the
    // kernel-side counts (column sums of the confusion matrix).
    let mut bursts_of = [0u64; 4];
    for row in status["confusion"].as_array().expect("confusion") {
        for (c, n) in row.as_array().expect("confusion row").iter().enumerate() {
            bursts_of[c] += n.as_u64().expect("count");
        }
    }
    let one_cpu_quota = BUDGET / 4 * (secs as u64).saturating_sub(1);
    for (c, &bursts_c) in bursts_of.iter().enumerate() {
        let got = per_class.get(&(c as u64)).copied().unwrap_or(0);
        let want = bursts_c.min(one_cpu_quota) * 7 / 10;
        eprintln!(
            "class {c}: {bursts_c} bursts ({:.1}% of all), {got} samples ({:.1}% of samples)",
            100.0 * bursts_c as f64 / bursts_of.iter().sum::<u64>().max(1) as f64,
            100.0 * got as f64 / total.max(1) as f64
        );
        assert!(
            got >= want,
            "class {c}: {got} samples of {bursts_c} bursts, want at least {want}"
        );
    }
    assert!(of_waker > 0, "no sample of the waker under the storm");
    // The tiny class's quarter of the cap above (secs is fractional: it
    // used to be cut to whole seconds here, a bound tighter than the
    // budget's, which a 4.7 s run with full windows broke).
    let tiny = per_class.get(&0).copied().unwrap_or(0);
    let tiny_cap = (BUDGET as f64 / 4.0 * nr_cpus as f64 * (secs + 1.0)).ceil() as u64;
    assert!(
        tiny <= tiny_cap,
        "{tiny} tiny samples over {secs} s: more than the tiny class's quarter of the budget ({tiny_cap})"
    );
}
