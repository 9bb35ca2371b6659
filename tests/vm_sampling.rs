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
    // The waker: one sample per period, its burst within 25% of the truth.
    let (_, n, mean) = rows
        .iter()
        .find(|(t, _, _)| waker_all.contains(t))
        .copied()
        .unwrap_or_else(|| panic!("no sample of the waker {waker_all:?}: {rows:?}"));
    let periods = SECS * 1_000_000 / PERIOD_US;
    assert!(
        n * 10 >= periods * 8 && n <= periods + 5,
        "waker: {n} samples for {periods} periods"
    );
    assert!(
        mean * 4 >= BURST_US * 3 && mean * 4 <= BURST_US * 5,
        "waker's mean recorded burst {mean} µs, truth {BURST_US} µs"
    );

    // Phase "budget": the waker beside a storm of tiny bursts.
    let b = c.mark("budget");
    let secs: f64 = b.f64("secs");
    let nr_cpus = b.u64("nr_cpus");
    let waker = tids(&waker_marks[1]);
    let csv = c.block("csv_budget");
    let mut per_class: HashMap<u64, u64> = HashMap::new();
    let (mut total, mut of_waker) = (0u64, 0u64);
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 5 {
            continue;
        }
        let tid: u64 = f[1].parse().expect("pid column");
        let burst: u64 = f[f.len() - 2].parse().expect("burst_us column");
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
    let throttled = status["samples_throttled"].as_u64().expect("samples_throttled");
    let bursts = status["bursts"].as_u64().expect("bursts");
    eprintln!(
        "budget {BUDGET}/s/CPU, {secs:.1} s, {nr_cpus} CPUs: {total} samples (class: {per_class:?}), \
         waker {of_waker}, throttled {throttled}, bursts {bursts}"
    );
    // Every CPU's window opens at its first sample: over the run a CPU can
    // send one window's worth more than secs x budget.
    let cap = (BUDGET as f64 * nr_cpus as f64 * (secs + 1.0)).ceil() as u64;
    assert!(total <= cap, "{total} samples over {secs} s, cap {cap}");
    assert!(throttled > 0, "the storm was never throttled ({bursts} bursts)");
    // Tiny bursts outnumber the waker's by far, yet a class keeps its quarter.
    let waker_bursts = (secs * 1e6 / PERIOD_US as f64) as u64;
    let quota = BUDGET / 4 * (secs as u64).saturating_sub(1);
    assert!(
        of_waker >= quota.min(waker_bursts / 2),
        "the waker's class kept {of_waker} samples; its quota is about {quota}"
    );
    let tiny = per_class.get(&0).copied().unwrap_or(0);
    assert!(
        tiny <= BUDGET / 4 * nr_cpus * (secs as u64 + 1),
        "{tiny} tiny samples: more than the tiny class's quarter of the budget"
    );
}
