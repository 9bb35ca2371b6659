//! The guard: keeps the model honest on workloads nobody tuned it for.
//!
//! Time is cut into windows (`--guard-window-ms`), and windows into blocks
//! of [`BLOCK`]. In each block one window, at random, is a probe: while the
//! model decides (mode `model`) the probe's decisions take the fallback row;
//! while the model is suspended (mode `suspended`) the probe's take the
//! model's. The probe is paired with another window of its block, also at
//! random, and the pair is compared on the p99 of the wakeup waits counted
//! in each window (waits.bpf.h: from a wakeup to the woken task's first run,
//! what the decisions are for). Each window is counted after its first
//! fifth, when the decisions made in the window before have mostly run out.
//!
//! Switching over time rather than splitting the tasks keeps the two sides
//! from competing for the same CPUs inside one comparison: with a split by
//! task, whichever side hands its tasks the earlier deadlines would look
//! better at the other side's expense.
//!
//! Every `--guard-pairs` pairs make a batch, judged on its own (batches do
//! not overlap, so every verdict rests on fresh windows). A pair counts for
//! the fallback when the model window's p99 exceeds the fallback window's by
//! more than [`MARGIN`], for the model when it is below by more; otherwise
//! it is a tie. The pairs that are not ties are judged by the Wilcoxon
//! signed-rank test on their log ratios (exact: [`signed_rank_p`]): how
//! much worse counts, not only whether, so a pair that went the other way
//! by a little weighs little. While the model decides, p < [`ALPHA`] with
//! the median ratio over the margin suspends it; while it is suspended, the same test the other way round
//! resumes it. A model that is only level with the fallback stays
//! suspended: the fallback costs no walk.
//!
//! While the model decides, every block has its probe: a quarter of the
//! time runs on the fallback, which is at worst what `--no-model` does.
//! While it is suspended, only one block in [`SUSPENDED_PROBE_EVERY`] has
//! one (under 1% of the time on the model, so the tail of the waits is the
//! fallback's), and the first of them comes that many blocks after the
//! suspension: a resume takes minutes, a suspension seconds. A new model
//! (`swap`, `--model-watch`, a promotion by the learner) starts trusted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arbor_intf::bpf_intf::arbor_guard;
use arbor_proto::status::Status;
use arbor_proto::waits;
use arbor_util::rng::SplitMix64;
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use log::{debug, info, warn};

use super::stats::{self, GuardStats};
use super::supervisor::lock;

/// Windows per block: one of them is the probe (a quarter of the time).
pub const BLOCK: usize = 4;
/// A pair is a tie unless one side's p99 is worse by more than this share.
pub const MARGIN: f64 = 0.05;
/// The signed-rank test's level for a verdict.
pub const ALPHA: f64 = 0.02;
/// A window with fewer wakeup waits than this says nothing: its pair is
/// dropped.
pub const MIN_WAITS: u64 = 20;
/// While the model is suspended, one block in this many has a probe.
pub const SUSPENDED_PROBE_EVERY: u64 = 32;

/// Who decides outside the probe windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Model,
    Suspended,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Model => "model",
            Mode::Suspended => "suspended",
        }
    }
}

/// One compared pair: the p99 wakeup wait, µs, of a model window and of a
/// fallback window of the same block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub model_p99: f64,
    pub fallback_p99: f64,
}

impl Pair {
    /// The model window's p99 is more than [`MARGIN`] above the fallback's.
    fn model_worse(&self) -> bool {
        self.model_p99 > self.fallback_p99 * (1.0 + MARGIN)
    }

    /// The model window's p99 is more than [`MARGIN`] below the fallback's.
    fn model_better(&self) -> bool {
        self.model_p99 * (1.0 + MARGIN) < self.fallback_p99
    }
}

/// What a batch decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Keep(String),
    Suspend(String),
    Resume(String),
}

/// The one-sided p of the Wilcoxon signed-rank test that the differences
/// `d` lean positive: P(W >= w) where w is the sum of the ranks of |d| of
/// the positive ones, and W the same sum when each difference is positive
/// or negative with probability 1/2 (the null: which window of a pair was the
/// probe was drawn at random, so under no effect both signs are equally
/// likely). Equal |d| share their mean rank. Exact, by the distribution
/// of W over all 2^n signs; zeros carry no sign and are left out. 1 when
/// nothing is left.
pub fn signed_rank_p(d: &[f64]) -> f64 {
    let mut mags: Vec<(f64, bool)> = d
        .iter()
        .filter(|x| **x != 0.0 && x.is_finite())
        .map(|x| (x.abs(), *x > 0.0))
        .collect();
    if mags.is_empty() {
        return 1.0;
    }
    mags.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Twice the ranks, so that shared mean ranks stay integers: a run of
    // equal magnitudes at ranks i..=j gets i + j each.
    let n = mags.len();
    let mut ranks2 = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && mags[j + 1].0 == mags[i].0 {
            j += 1;
        }
        for r in &mut ranks2[i..=j] {
            *r = (i + 1) + (j + 1);
        }
        i = j + 1;
    }
    let observed: usize = (0..n).filter(|&k| mags[k].1).map(|k| ranks2[k]).sum();
    // dist[s]: P(twice W = s) over the signs of the ranks seen so far.
    let total: usize = ranks2.iter().sum();
    let mut dist = vec![0.0f64; total + 1];
    dist[0] = 1.0;
    let mut reach = 0;
    for &r in &ranks2 {
        for s in (0..=reach).rev() {
            let p = dist[s] / 2.0;
            dist[s] = p;
            dist[s + r] += p;
        }
        reach += r;
    }
    dist[observed..].iter().sum::<f64>().min(1.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The decision rule over batches of pairs (no clock, no BPF: the thread
/// feeds it).
#[derive(Debug, Clone)]
pub struct Rule {
    pub mode: Mode,
    /// Pairs per batch.
    pub pairs: usize,
    batch: Vec<Pair>,
    /// The last batch's figures: the medians of its model and fallback
    /// p99s and the test's p.
    pub last: Option<(f64, f64, f64)>,
}

impl Rule {
    pub fn new(pairs: usize) -> Self {
        Rule {
            mode: Mode::Model,
            pairs: pairs.max(1),
            batch: Vec::new(),
            last: None,
        }
    }

    /// A new model was installed: it starts trusted, with a fresh batch.
    /// Returns the verdict when that ends a suspension.
    pub fn new_model(&mut self, generation: u64) -> Option<Verdict> {
        self.batch.clear();
        (self.mode == Mode::Suspended).then(|| {
            self.mode = Mode::Model;
            Verdict::Resume(format!(
                "model resumed: a new model (generation {generation}) was installed"
            ))
        })
    }

    /// Take one pair; at the end of a batch, its verdict.
    pub fn add(&mut self, pair: Pair) -> Option<Verdict> {
        self.batch.push(pair);
        if self.batch.len() < self.pairs {
            return None;
        }
        let batch = std::mem::take(&mut self.batch);
        let worse = batch.iter().filter(|p| p.model_worse()).count();
        let better = batch.iter().filter(|p| p.model_better()).count();
        // Log ratios of the pairs outside the margin (inside it, a tie):
        // how much worse, not only whether, so a pair that went the other
        // way by a little weighs little.
        let log_ratios: Vec<f64> = batch
            .iter()
            .filter(|p| p.model_worse() || p.model_better())
            .map(|p| (p.model_p99.max(1.0) / p.fallback_p99.max(1.0)).ln())
            .collect();
        let ratio = median(
            batch
                .iter()
                .map(|p| p.model_p99 / p.fallback_p99.max(1.0))
                .collect(),
        );
        let (m, f) = (
            median(batch.iter().map(|p| p.model_p99).collect()),
            median(batch.iter().map(|p| p.fallback_p99).collect()),
        );
        let figures = format!(
            "over {} window pairs the model's wakeup-wait p99 was worse in {worse}, better in {better} \
             (median {m:.0} us against the fallback's {f:.0} us, ratio {ratio:.2})",
            batch.len()
        );
        match self.mode {
            Mode::Model => {
                let p = signed_rank_p(&log_ratios);
                self.last = Some((m, f, p));
                if p < ALPHA && ratio > 1.0 + MARGIN {
                    self.mode = Mode::Suspended;
                    Some(Verdict::Suspend(format!(
                        "model suspended: {figures}, signed-rank test p {p:.3}"
                    )))
                } else {
                    Some(Verdict::Keep(format!("model kept: {figures}, p {p:.3}")))
                }
            }
            Mode::Suspended => {
                let flipped: Vec<f64> = log_ratios.iter().map(|x| -x).collect();
                let p = signed_rank_p(&flipped);
                self.last = Some((m, f, p));
                if p < ALPHA && ratio < 1.0 / (1.0 + MARGIN) {
                    self.mode = Mode::Model;
                    Some(Verdict::Resume(format!(
                        "model resumed: {figures}, signed-rank test p {p:.3}"
                    )))
                } else {
                    Some(Verdict::Keep(format!(
                        "model stays suspended: {figures}, p {p:.3}"
                    )))
                }
            }
        }
    }
}

/// Which window of a block is the probe, and which its partner.
pub fn pick_pair(rng: &mut SplitMix64) -> (usize, usize) {
    let probe = (rng.next_u64() % BLOCK as u64) as usize;
    let other = (rng.next_u64() % (BLOCK as u64 - 1)) as usize;
    (probe, if other >= probe { other + 1 } else { other })
}

/// The guard's switch in BPF (the `guard` map).
pub struct Switch(pub MapHandle);

impl Switch {
    pub fn set(&self, model_off: bool) -> Result<()> {
        // struct arbor_guard: model_off, then padding.
        let mut value = [0u8; std::mem::size_of::<arbor_guard>()];
        value[..4].copy_from_slice(&(model_off as u32).to_ne_bytes());
        self.0
            .update(&0u32.to_ne_bytes(), &value, MapFlags::ANY)
            .context("writing the guard map")
    }
}

/// Sleep `d` unless `stop` is set first; returns whether to go on.
fn nap(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
    false
}

/// The wakeup waits of one window, counted after its first fifth; None
/// when stopped meanwhile.
fn window_waits(
    cpu_stats: &MapHandle,
    window: Duration,
    stop: &AtomicBool,
) -> Result<Option<Vec<u64>>> {
    if !nap(window / 5, stop) {
        return Ok(None);
    }
    let before: Status = stats::read(cpu_stats)?;
    if !nap(window - window / 5, stop) {
        return Ok(None);
    }
    let after = stats::read(cpu_stats)?;
    Ok(Some(waits::since(
        &after.wakeup_wait_hist,
        &before.wakeup_wait_hist,
    )))
}

fn p99(hist: &[u64]) -> Option<f64> {
    (hist.iter().sum::<u64>() >= MIN_WAITS)
        .then(|| waits::quantile(hist, 0.99))
        .flatten()
}

/// The guard's thread body: windows until `stop`, then the model back on.
/// `installed` reads the generation of the model installed last.
pub fn run(
    switch: Switch,
    installed: impl Fn() -> u64,
    cpu_stats: MapHandle,
    window: Duration,
    pairs: usize,
    shared: Arc<Mutex<GuardStats>>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut rule = Rule::new(pairs);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    let mut rng = SplitMix64::new(seed);
    lock(&shared).mode = rule.mode.name().into();
    let mut block: u64 = 0;
    let mut generation = installed();
    let result = (|| -> Result<()> {
        loop {
            block += 1;
            let now = installed();
            if now != generation {
                generation = now;
                if let Some(Verdict::Resume(why)) = rule.new_model(now) {
                    info!("guard: {why}");
                    let mut s = lock(&shared);
                    s.resumes += 1;
                    s.mode = rule.mode.name().into();
                    s.last_verdict = why;
                }
            }
            if rule.mode == Mode::Suspended && !block.is_multiple_of(SUSPENDED_PROBE_EVERY) {
                switch.set(true)?;
                if !nap(window * BLOCK as u32, &stop) {
                    return Ok(());
                }
                continue;
            }
            let (probe, partner) = pick_pair(&mut rng);
            let (mut probe_hist, mut partner_hist) = (None, None);
            for i in 0..BLOCK {
                // Outside the probe the mode decides; the probe takes the
                // other side.
                let model_on = (rule.mode == Mode::Model) != (i == probe);
                switch.set(!model_on)?;
                let Some(h) = window_waits(&cpu_stats, window, &stop)? else {
                    return Ok(());
                };
                if i == probe {
                    probe_hist = Some(h);
                } else if i == partner {
                    partner_hist = Some(h);
                }
            }
            let (Some(probe_hist), Some(partner_hist)) = (probe_hist, partner_hist) else {
                continue;
            };
            let (Some(probe), Some(partner)) = (p99(&probe_hist), p99(&partner_hist)) else {
                continue;
            };
            let pair = match rule.mode {
                Mode::Model => Pair {
                    model_p99: partner,
                    fallback_p99: probe,
                },
                Mode::Suspended => Pair {
                    model_p99: probe,
                    fallback_p99: partner,
                },
            };
            let verdict = rule.add(pair);
            let mut s = lock(&shared);
            s.pairs += 1;
            if let Some((m, f, p)) = rule.last {
                (s.model_p99_us, s.fallback_p99_us, s.p) = (m, f, p);
            }
            match verdict {
                Some(Verdict::Suspend(why)) => {
                    warn!("guard: {why}");
                    // The next probe a whole gap from now.
                    block = 0;
                    s.suspensions += 1;
                    s.last_verdict = why;
                }
                Some(Verdict::Resume(why)) => {
                    info!("guard: {why}");
                    s.resumes += 1;
                    s.last_verdict = why;
                }
                Some(Verdict::Keep(why)) => {
                    debug!("guard: {why}");
                    s.last_verdict = why;
                }
                None => {}
            }
            s.mode = rule.mode.name().into();
        }
    })();
    // Whatever ended the thread, the model decides again: a guard that is
    // gone must not leave it switched off.
    if let Err(e) = switch.set(false) {
        warn!("guard: {e:#}");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same p by brute force: every one of the 2^n sign patterns, its
    /// rank sum computed afresh (ranks by counting, not by sorting).
    fn signed_rank_p_by_enumeration(d: &[f64]) -> f64 {
        let d: Vec<f64> = d.iter().copied().filter(|x| *x != 0.0).collect();
        let n = d.len();
        if n == 0 {
            return 1.0;
        }
        // Mean rank of |d[k]|: 1 + those below + half of the others equal to it.
        let rank = |k: usize| {
            let below = d.iter().filter(|x| x.abs() < d[k].abs()).count() as f64;
            let equal = d.iter().filter(|x| x.abs() == d[k].abs()).count() as f64;
            below + (equal + 1.0) / 2.0
        };
        let ranks: Vec<f64> = (0..n).map(rank).collect();
        let w: f64 = (0..n).filter(|&k| d[k] > 0.0).map(|k| ranks[k]).sum();
        let mut at_least = 0u64;
        for signs in 0u64..(1 << n) {
            let s: f64 = (0..n)
                .filter(|&k| signs >> k & 1 == 1)
                .map(|k| ranks[k])
                .sum();
            at_least += (s >= w - 1e-9) as u64;
        }
        at_least as f64 / (1u64 << n) as f64
    }

    #[test]
    fn signed_rank_p_is_the_exact_tail() {
        // Textbook values, n = 10: all positive, P = 1/1024; only the
        // smallest negative, W = 54, P(W >= 54) = P(W- <= 1) = 2/1024;
        // the two smallest negative, W- = 3: subsets of 1..10 summing to
        // at most 3 are {}, {1}, {2}, {3}, {1,2}: 5/1024.
        let all: Vec<f64> = (1..=10).map(|k| k as f64).collect();
        assert!((signed_rank_p(&all) - 1.0 / 1024.0).abs() < 1e-12);
        let mut one = all.clone();
        one[0] = -1.0;
        assert!((signed_rank_p(&one) - 2.0 / 1024.0).abs() < 1e-12);
        let mut two = one.clone();
        two[1] = -2.0;
        assert!((signed_rank_p(&two) - 5.0 / 1024.0).abs() < 1e-12);
        // Nothing, or only zeros: no evidence.
        assert_eq!(signed_rank_p(&[]), 1.0);
        assert_eq!(signed_rank_p(&[0.0, 0.0]), 1.0);
        // All negative: the upper tail is everything.
        assert!((signed_rank_p(&[-1.0, -2.0, -3.0]) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn signed_rank_p_agrees_with_enumerating_every_sign() {
        let mut rng = SplitMix64::new(17);
        for case in 0..300 {
            let n = 1 + case % 12;
            // Magnitudes from a few levels, so that equal ones (shared
            // ranks) are common, as with p99s read from histogram buckets.
            let d: Vec<f64> = (0..n)
                .map(|_| {
                    let m = (1 + rng.next_u64() % 6) as f64 * 0.25;
                    if rng.next_u64().is_multiple_of(3) {
                        -m
                    } else {
                        m
                    }
                })
                .collect();
            let (fast, slow) = (signed_rank_p(&d), signed_rank_p_by_enumeration(&d));
            assert!((fast - slow).abs() < 1e-12, "{d:?}: {fast} vs {slow}");
        }
    }

    /// Where the sign test needed 9 of 10: eight pairs clearly worse and
    /// two a little better is a suspension by the ranks (W- = 3, p 5/1024);
    /// the same counts with the two better pairs the largest are not.
    #[test]
    fn small_reversals_weigh_little() {
        let pair = |m: f64| Pair {
            model_p99: m,
            fallback_p99: 1000.0,
        };
        let mut rule = Rule::new(10);
        let mut last = None;
        for k in 0..8 {
            last = rule.add(pair(2000.0 + 100.0 * k as f64));
        }
        assert_eq!(last, None);
        rule.add(pair(900.0));
        last = rule.add(pair(880.0));
        assert!(matches!(last, Some(Verdict::Suspend(_))), "{last:?}");

        let mut rule = Rule::new(10);
        for k in 0..8 {
            rule.add(pair(1200.0 + 10.0 * k as f64));
        }
        rule.add(pair(200.0));
        let last = rule.add(pair(250.0));
        assert!(matches!(last, Some(Verdict::Keep(_))), "{last:?}");
        assert_eq!(rule.mode, Mode::Model);
    }

    #[test]
    fn pairs_are_two_distinct_windows_of_the_block_each_equally_often() {
        let mut rng = SplitMix64::new(3);
        let mut seen = [[0u32; BLOCK]; BLOCK];
        for _ in 0..12_000 {
            let (a, b) = pick_pair(&mut rng);
            assert!(a < BLOCK && b < BLOCK && a != b);
            seen[a][b] += 1;
        }
        // 12 ordered pairs, 1000 each on average.
        for (a, row) in seen.iter().enumerate() {
            for (b, &n) in row.iter().enumerate() {
                if a != b {
                    assert!((850..1150).contains(&n), "({a}, {b}): {n}");
                }
            }
        }
    }

    /// A window's p99 with multiplicative noise around `level`.
    fn noisy(rng: &mut SplitMix64, level: f64) -> f64 {
        level * (0.7 + 0.6 * (rng.next_u64() % 1000) as f64 / 1000.0)
    }

    #[test]
    fn a_model_twice_as_slow_is_suspended_after_one_batch_and_resumed_when_it_wins() {
        let mut rng = SplitMix64::new(11);
        let mut rule = Rule::new(10);
        let mut verdicts = Vec::new();
        for _ in 0..10 {
            let pair = Pair {
                model_p99: noisy(&mut rng, 2000.0),
                fallback_p99: noisy(&mut rng, 1000.0),
            };
            verdicts.extend(rule.add(pair));
        }
        assert!(
            matches!(verdicts.as_slice(), [Verdict::Suspend(_)]),
            "{verdicts:?}"
        );
        assert_eq!(rule.mode, Mode::Suspended);
        // Level: it stays suspended.
        for _ in 0..10 {
            let pair = Pair {
                model_p99: noisy(&mut rng, 1000.0),
                fallback_p99: noisy(&mut rng, 1000.0),
            };
            assert!(!matches!(rule.add(pair), Some(Verdict::Resume(_))));
        }
        assert_eq!(rule.mode, Mode::Suspended);
        // Now the model is the faster one: resumed after a batch.
        let mut resumed = false;
        for _ in 0..10 {
            let pair = Pair {
                model_p99: noisy(&mut rng, 500.0),
                fallback_p99: noisy(&mut rng, 1000.0),
            };
            resumed |= matches!(rule.add(pair), Some(Verdict::Resume(_)));
        }
        assert!(resumed);
        assert_eq!(rule.mode, Mode::Model);
    }

    #[test]
    fn a_new_model_ends_a_suspension_and_starts_a_fresh_batch() {
        // Eight of eight worse: p = 1/256.
        let mut rule = Rule::new(8);
        let worse = Pair {
            model_p99: 3000.0,
            fallback_p99: 1000.0,
        };
        for _ in 0..8 {
            rule.add(worse);
        }
        assert_eq!(rule.mode, Mode::Suspended);
        assert!(
            matches!(rule.new_model(7), Some(Verdict::Resume(w)) if w.contains("generation 7"))
        );
        assert_eq!(rule.mode, Mode::Model);
        rule.add(worse);
        assert!(rule.new_model(8).is_none());
        // The pair of the old batch is gone: a verdict needs eight new ones.
        for _ in 0..7 {
            assert_eq!(rule.add(worse), None);
        }
        assert!(matches!(rule.add(worse), Some(Verdict::Suspend(_))));
        assert!(rule.new_model(9).is_some());
        // Already trusted: nothing to resume.
        assert_eq!(rule.new_model(10), None);
    }

    #[test]
    fn a_model_level_with_the_fallback_is_rarely_suspended() {
        // Both sides from the same noisy level: the share of batches that
        // suspend is the test's false-alarm rate, at most ALPHA.
        let mut rng = SplitMix64::new(5);
        let (mut batches, mut suspended) = (0, 0);
        for _ in 0..2000 {
            let mut rule = Rule::new(10);
            let mut v = None;
            for _ in 0..10 {
                v = rule.add(Pair {
                    model_p99: noisy(&mut rng, 1000.0),
                    fallback_p99: noisy(&mut rng, 1000.0),
                });
            }
            batches += 1;
            suspended += matches!(v, Some(Verdict::Suspend(_))) as u32;
        }
        let rate = suspended as f64 / batches as f64;
        assert!(rate <= ALPHA, "false suspensions in {rate:.3} of batches");
    }

    #[test]
    fn a_model_slightly_slower_within_the_margin_is_kept() {
        let mut rule = Rule::new(10);
        let mut last = None;
        for _ in 0..10 {
            last = rule.add(Pair {
                model_p99: 1030.0,
                fallback_p99: 1000.0,
            });
        }
        assert!(matches!(last, Some(Verdict::Keep(_))), "{last:?}");
        assert_eq!(rule.mode, Mode::Model);
    }
}
