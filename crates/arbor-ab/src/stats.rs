//! Statistics for the A/B comparison: medians, a seeded bootstrap confidence
//! interval for the ratio of medians (arm / baseline), the Mann–Whitney U test
//! (exact permutation distribution for small samples, normal approximation with
//! tie and continuity correction otherwise) and the verdict logic.
//!
//! Everything here is deterministic: the bootstrap uses a small seeded PRNG
//! (SplitMix64), so the same figures and seed always give the same interval.

use arbor_util::rng::SplitMix64;
use serde::Serialize;

/// Which direction of a metric is an improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    /// Smaller values are better (latency, completion time, run delay).
    Lower,
    /// Larger values are better (throughput).
    Higher,
}

/// The outcome of comparing one metric between an arm and the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "better")]
    Better,
    #[serde(rename = "worse")]
    Worse,
    #[serde(rename = "no significant difference")]
    NoSignificantDifference,
    /// The ratio is undefined (baseline median is 0 or a value is not finite).
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoSignificantDifference => "no significant difference",
            Verdict::NotApplicable => "n/a",
        }
    }
}

/// How a p-value was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PMethod {
    /// Exact permutation distribution of U (conditional on ties).
    Exact,
    /// Normal approximation with tie correction and continuity correction.
    Normal,
    /// Not computable (an empty sample).
    None,
}

/// Median of a sample (mean of the two middle values for even n). NaN for an empty sample.
pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    median_sorted(&v)
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Quantile q in [0,1] of a sorted sample, linear interpolation between order
/// statistics (type 7, as R's default and numpy's "linear").
pub fn quantile_sorted(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let q = q.clamp(0.0, 1.0);
    let h = (v.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

/// Percentile-bootstrap confidence interval for median(arm)/median(base).
///
/// Each of `iters` replicates resamples both samples with replacement (rounds are
/// the unit: each arm's rounds are independent), and takes the ratio of the
/// medians; replicates whose baseline median is 0 are dropped. Returns
/// `(lo, hi)` at the two-sided `level` (e.g. 0.95), or None when the ratio is
/// undefined for (almost) all replicates.
pub fn bootstrap_ratio_ci(
    base: &[f64],
    arm: &[f64],
    iters: usize,
    seed: u64,
    level: f64,
) -> Option<(f64, f64)> {
    if base.is_empty() || arm.is_empty() || iters == 0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut ratios = Vec::with_capacity(iters);
    let mut rb = vec![0.0; base.len()];
    let mut ra = vec![0.0; arm.len()];
    for _ in 0..iters {
        for x in rb.iter_mut() {
            *x = base[rng.index_below(base.len())];
        }
        for x in ra.iter_mut() {
            *x = arm[rng.index_below(arm.len())];
        }
        rb.sort_by(|a, b| a.total_cmp(b));
        ra.sort_by(|a, b| a.total_cmp(b));
        let mb = median_sorted(&rb);
        let ma = median_sorted(&ra);
        let r = ma / mb;
        if r.is_finite() {
            ratios.push(r);
        }
    }
    if ratios.len() < iters / 2 {
        return None;
    }
    ratios.sort_by(|a, b| a.total_cmp(b));
    let alpha = (1.0 - level).clamp(0.0, 1.0);
    Some((
        quantile_sorted(&ratios, alpha / 2.0),
        quantile_sorted(&ratios, 1.0 - alpha / 2.0),
    ))
}

/// Result of a two-sided Mann–Whitney U test.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MannWhitney {
    /// U statistic of the first sample (number of pairs (a, b) with a > b, ties count 1/2).
    pub u: f64,
    /// Two-sided p-value.
    pub p: f64,
    pub method: PMethod,
    /// The smallest two-sided p-value this test could give for these sample
    /// sizes and ties (the exact test with n=2 per arm can never reach 0.05).
    pub min_p: f64,
}

/// Mid-ranks (1-based) of the pooled sample; ties get the mean of their ranks.
/// Returns doubled ranks (always integers) and the tie group sizes.
fn doubled_midranks(pooled: &[f64]) -> (Vec<u64>, Vec<usize>) {
    let n = pooled.len();
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| pooled[i].total_cmp(&pooled[j]));
    let mut ranks2 = vec![0u64; n];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[idx[j]] == pooled[idx[i]] {
            j += 1;
        }
        // ranks i+1 ..= j, mean = (i+1+j)/2, doubled = i+1+j
        let r2 = (i + 1 + j) as u64;
        for &k in &idx[i..j] {
            ranks2[k] = r2;
        }
        ties.push(j - i);
        i = j;
    }
    (ranks2, ties)
}

/// Largest pooled sample size for which the exact permutation distribution is used.
pub const EXACT_MAX_N: usize = 50;

/// Two-sided Mann–Whitney U test of `a` against `b`.
///
/// For n_a + n_b <= [`EXACT_MAX_N`] the p-value is exact: the permutation
/// distribution of the rank sum over all C(n, n_a) splits of the pooled
/// mid-ranks (so ties are handled exactly), computed by dynamic programming;
/// p = P(|U − μ| ≥ |U_obs − μ|). Above that, the normal approximation with the
/// tie-corrected variance σ² = n_a n_b / 12 · ((n+1) − Σ(t³−t)/(n(n−1))) and a
/// continuity correction of 1/2 is used.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> MannWhitney {
    let (na, nb) = (a.len(), b.len());
    if na == 0 || nb == 0 {
        return MannWhitney {
            u: f64::NAN,
            p: f64::NAN,
            method: PMethod::None,
            min_p: f64::NAN,
        };
    }
    let pooled: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    let (r2, ties) = doubled_midranks(&pooled);
    let ra2: u64 = r2[..na].iter().sum();
    let u = ra2 as f64 / 2.0 - (na * (na + 1)) as f64 / 2.0;
    let mu = (na * nb) as f64 / 2.0;
    if na + nb <= EXACT_MAX_N {
        let (p, min_p) = exact_p(&r2, na, ra2);
        return MannWhitney {
            u,
            p,
            method: PMethod::Exact,
            min_p,
        };
    }
    let n = (na + nb) as f64;
    let tie_sum: f64 = ties.iter().map(|&t| (t * t * t - t) as f64).sum();
    let var = (na * nb) as f64 / 12.0 * ((n + 1.0) - tie_sum / (n * (n - 1.0)));
    if var <= 0.0 {
        // All values tied: no evidence of any difference.
        return MannWhitney {
            u,
            p: 1.0,
            method: PMethod::Normal,
            min_p: 1.0,
        };
    }
    let sd = var.sqrt();
    let z = ((u - mu).abs() - 0.5).max(0.0) / sd;
    let p = (2.0 * normal_sf(z)).min(1.0);
    let zmax = (mu - 0.5) / sd;
    MannWhitney {
        u,
        p,
        method: PMethod::Normal,
        min_p: (2.0 * normal_sf(zmax)).min(1.0),
    }
}

/// Exact two-sided p for the doubled rank sum `obs2` of a size-`k` subset of
/// the doubled ranks `r2`. Returns (p, smallest attainable p).
fn exact_p(r2: &[u64], k: usize, obs2: u64) -> (f64, f64) {
    let total: u64 = r2.iter().sum();
    let maxs = total as usize;
    // ways[j][s]: number of j-subsets with doubled sum s.
    let mut ways = vec![vec![0f64; maxs + 1]; k + 1];
    ways[0][0] = 1.0;
    for &r in r2 {
        let r = r as usize;
        for j in (1..=k).rev() {
            let (lo, hi) = ways.split_at_mut(j);
            let prev = &lo[j - 1];
            let cur = &mut hi[0];
            for s in (r..=maxs).rev() {
                let w = prev[s - r];
                if w != 0.0 {
                    cur[s] += w;
                }
            }
        }
    }
    let dist = &ways[k];
    let count: f64 = dist.iter().sum();
    // Mean doubled rank sum of a k-subset: k * total / n (as a rational: compare scaled by n).
    let n = r2.len() as u128;
    let centre_n = k as u128 * total as u128; // = mean2 * n
    let dev = |s: usize| -> u128 {
        let sn = s as u128 * n;
        sn.abs_diff(centre_n)
    };
    let obs_dev = dev(obs2 as usize);
    let mut tail = 0.0;
    let mut max_dev = 0u128;
    for (s, &w) in dist.iter().enumerate() {
        if w != 0.0 {
            let d = dev(s);
            if d >= obs_dev {
                tail += w;
            }
            max_dev = max_dev.max(d);
        }
    }
    let mut extreme = 0.0;
    for (s, &w) in dist.iter().enumerate() {
        if w != 0.0 && dev(s) == max_dev {
            extreme += w;
        }
    }
    ((tail / count).min(1.0), (extreme / count).min(1.0))
}

/// Upper tail of the standard normal, P(Z > z) = erfc(z/√2)/2.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (W. J. Cody's rational approximations as in
/// Numerical Recipes' `erfcc`, fractional error < 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

/// Significance level for the verdict.
pub const ALPHA: f64 = 0.05;

/// Verdict for one metric: "better"/"worse" only when the 95% bootstrap CI of
/// the ratio excludes 1 AND the Mann–Whitney p-value is below [`ALPHA`]; the
/// direction comes from the ratio and whether lower or higher is better.
pub fn verdict(ratio: Option<f64>, ci: Option<(f64, f64)>, p: f64, better: Better) -> Verdict {
    let (Some(ratio), Some((lo, hi))) = (ratio, ci) else {
        return Verdict::NotApplicable;
    };
    if !ratio.is_finite() || !lo.is_finite() || !hi.is_finite() {
        return Verdict::NotApplicable;
    }
    let ci_excludes_one = hi < 1.0 || lo > 1.0;
    if !(ci_excludes_one && p < ALPHA) {
        return Verdict::NoSignificantDifference;
    }
    // The CI lies entirely on one side of 1; use it (not the point ratio) for the direction.
    let arm_is_lower = hi < 1.0;
    match (better, arm_is_lower) {
        (Better::Lower, true) | (Better::Higher, false) => Verdict::Better,
        _ => Verdict::Worse,
    }
}

/// Full comparison of one metric: arm against baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub n_baseline: usize,
    pub n_arm: usize,
    pub median_baseline: f64,
    pub median_arm: f64,
    /// median(arm) / median(baseline); None when the baseline median is 0.
    pub ratio: Option<f64>,
    /// 95% percentile-bootstrap CI of the ratio.
    pub ci95: Option<(f64, f64)>,
    /// Two-sided Mann–Whitney U p-value (arm vs baseline).
    pub p_value: f64,
    pub p_method: PMethod,
    /// Smallest p-value attainable with these sample sizes.
    pub min_p: f64,
    pub u: f64,
    pub better: Better,
    pub verdict: Verdict,
}

/// Number of bootstrap replicates per metric.
pub const BOOTSTRAP_ITERS: usize = 10_000;

/// Compare `arm` to `baseline` (one value per round each).
pub fn compare(baseline: &[f64], arm: &[f64], better: Better, seed: u64) -> Comparison {
    let base: Vec<f64> = baseline.iter().copied().filter(|x| x.is_finite()).collect();
    let armv: Vec<f64> = arm.iter().copied().filter(|x| x.is_finite()).collect();
    let mb = median(&base);
    let ma = median(&armv);
    let ratio = {
        let r = ma / mb;
        if r.is_finite() {
            Some(r)
        } else {
            None
        }
    };
    let ci = if ratio.is_some() {
        bootstrap_ratio_ci(&base, &armv, BOOTSTRAP_ITERS, seed, 0.95)
    } else {
        None
    };
    let mw = mann_whitney(&armv, &base);
    Comparison {
        n_baseline: base.len(),
        n_arm: armv.len(),
        median_baseline: mb,
        median_arm: ma,
        ratio,
        ci95: ci,
        p_value: mw.p,
        p_method: mw.method,
        min_p: mw.min_p,
        u: mw.u,
        better,
        verdict: verdict(ratio, ci, mw.p, better),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn median_and_quantile() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        let v = [1.0, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(quantile_sorted(&v, 0.0), 1.0);
        assert_eq!(quantile_sorted(&v, 1.0), 5.0);
        assert_eq!(quantile_sorted(&v, 0.5), 3.0);
        assert!(close(quantile_sorted(&v, 0.9), 4.6, 1e-12));
    }

    #[test]
    fn erfc_reference_values() {
        // Reference values from tables: erfc(0)=1, erfc(1)=0.157299207, erfc(2)=0.004677735
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(2.0), 0.004_677_735, 1e-8));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
        // P(Z > 1.959964) = 0.025
        assert!(close(normal_sf(1.959_964), 0.025, 1e-6));
    }

    #[test]
    fn mann_whitney_exact_separated_3v3() {
        // a entirely below b: U_a = 0; two-sided exact p = 2 / C(6,3) = 0.1
        let r = mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert_eq!(r.u, 0.0);
        assert_eq!(r.method, PMethod::Exact);
        assert!(close(r.p, 0.1, 1e-12), "p={}", r.p);
        assert!(close(r.min_p, 0.1, 1e-12));
        // symmetric
        let r2 = mann_whitney(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]);
        assert_eq!(r2.u, 9.0);
        assert!(close(r2.p, 0.1, 1e-12));
    }

    #[test]
    fn mann_whitney_exact_5v5() {
        // Fully separated 5 vs 5: p = 2/252
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [6.0, 7.0, 8.0, 9.0, 10.0];
        let r = mann_whitney(&a, &b);
        assert!(close(r.p, 2.0 / 252.0, 1e-12));
        // One swap: a = {1,2,3,4,6}, b = {5,7,8,9,10}: U_a = 1.
        // P(U<=1) = (1 + 1)/252 on each side -> two-sided 4/252.
        let r = mann_whitney(&[1.0, 2.0, 3.0, 4.0, 6.0], &[5.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(r.u, 1.0);
        assert!(close(r.p, 4.0 / 252.0, 1e-12), "p={}", r.p);
        // 2 vs 2 can never be significant: min p = 2/6
        let r = mann_whitney(&[1.0, 2.0], &[3.0, 4.0]);
        assert!(close(r.p, 1.0 / 3.0, 1e-12));
        assert!(close(r.min_p, 1.0 / 3.0, 1e-12));
    }

    #[test]
    fn mann_whitney_exact_with_ties() {
        // a = [1,2,2], b = [2,3,3]. Pooled sorted: 1,2,2,2,3,3 -> midranks 1,3,3,3,5.5,5.5
        // R_a = 1+3+3 = 7, U_a = 7 - 6 = 1. Hand enumeration of the 20 splits of
        // {1,3,3,3,5.5,5.5} into 3: rank sums and |sum - 10.5|:
        //   sums <= 7 or >= 14 are as extreme as observed (|7 - 10.5| = 3.5).
        //   {1,3,3}: 3 ways (sum 7); complement {3,5.5,5.5} 3 ways (sum 14) -> 6 / 20 = 0.3
        let r = mann_whitney(&[1.0, 2.0, 2.0], &[2.0, 3.0, 3.0]);
        assert_eq!(r.u, 1.0);
        assert!(close(r.p, 0.3, 1e-12), "p={}", r.p);
        // all tied -> p = 1
        let r = mann_whitney(&[1.0, 1.0], &[1.0, 1.0]);
        assert!(close(r.p, 1.0, 1e-12));
    }

    #[test]
    fn mann_whitney_normal_approximation() {
        // 30 vs 30 fully separated, no ties (n = 60 > EXACT_MAX_N):
        // U = 0, mu = 450, sigma^2 = 900*61/12 = 4575, z = (450-0.5)/67.6387 = 6.6456
        let a: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let b: Vec<f64> = (30..60).map(|i| i as f64).collect();
        let r = mann_whitney(&a, &b);
        assert_eq!(r.method, PMethod::Normal);
        let z: f64 = 449.5 / 4575f64.sqrt();
        assert!(close(r.p, 2.0 * normal_sf(z), 1e-15));
        assert!(r.p < 1e-9 && r.p > 1e-12, "p={}", r.p);
        // Interleaved samples (a = evens, b = odds), n = 60:
        // R_a = sum over i of (2i+1) = 900, U_a = 900 - 465 = 435, |U-mu| = 15,
        // z = 14.5/67.6387 = 0.21438, p = 2*P(Z>0.21438) = 0.83025
        let a: Vec<f64> = (0..30).map(|i| (2 * i) as f64).collect();
        let b: Vec<f64> = (0..30).map(|i| (2 * i + 1) as f64).collect();
        let r = mann_whitney(&a, &b);
        assert_eq!(r.u, 435.0);
        assert!(close(r.p, 0.830_25, 1e-4), "p={}", r.p);
    }

    #[test]
    fn mann_whitney_normal_tie_correction() {
        // 30 vs 30 where a has 15 zeros and 15 twos, b 15 ones and 15 threes.
        // Ties: four groups of 15 -> sum(t^3 - t) = 4*(3375-15) = 13440.
        // var = 900/12 * (61 - 13440/(60*59)) = 75 * (61 - 3.79661) = 4290.254
        // ranks: zeros 8, ones 23, twos 38, threes 53 -> R_a = 15*8+15*38 = 690,
        // U_a = 690 - 465 = 225, |U - 450| = 225, z = 224.5/65.5000 = 3.42748
        let mut a = vec![0.0; 15];
        a.extend(vec![2.0; 15]);
        let mut b = vec![1.0; 15];
        b.extend(vec![3.0; 15]);
        let r = mann_whitney(&a, &b);
        assert_eq!(r.method, PMethod::Normal);
        assert_eq!(r.u, 225.0);
        let var: f64 = 75.0 * (61.0 - 13440.0 / 3540.0);
        let z = 224.5 / var.sqrt();
        assert!(close(z, 3.427_48, 1e-4));
        assert!(close(r.p, 2.0 * normal_sf(z), 1e-15));
        assert!(close(r.p, 6.09e-4, 0.1e-4), "p={}", r.p);
    }

    #[test]
    fn exact_and_normal_agree_roughly_at_moderate_n() {
        // n = 20 vs 20 with a moderate shift: exact and normal p should be close.
        let a: Vec<f64> = (0..20).map(|i| i as f64 * 1.0).collect();
        let b: Vec<f64> = (0..20).map(|i| i as f64 * 1.0 + 6.5).collect();
        let exact = mann_whitney(&a, &b);
        assert_eq!(exact.method, PMethod::Exact);
        // normal approx by hand
        let na = 20.0;
        let mu = na * na / 2.0;
        let sd = (na * na * 41.0 / 12.0f64).sqrt();
        let z = ((exact.u - mu).abs() - 0.5) / sd;
        let pn = 2.0 * normal_sf(z);
        assert!(
            (exact.p - pn).abs() < 0.01,
            "exact {} normal {}",
            exact.p,
            pn
        );
    }

    #[test]
    fn bootstrap_is_deterministic_and_covers_true_ratio() {
        // Synthetic: baseline ~ 100 * (1 + noise), arm = 2x baseline distribution.
        let mut rng = SplitMix64::new(42);
        let base: Vec<f64> = (0..10)
            .map(|_| 100.0 * (1.0 + 0.1 * (rng.next_f64() - 0.5)))
            .collect();
        let arm: Vec<f64> = (0..10)
            .map(|_| 200.0 * (1.0 + 0.1 * (rng.next_f64() - 0.5)))
            .collect();
        let ci = bootstrap_ratio_ci(&base, &arm, 10_000, 7, 0.95).unwrap();
        assert!(ci.0 < 2.0 && 2.0 < ci.1, "ci {:?}", ci);
        assert!(ci.0 > 1.8 && ci.1 < 2.2, "ci too wide {:?}", ci);
        let ci2 = bootstrap_ratio_ci(&base, &arm, 10_000, 7, 0.95).unwrap();
        assert_eq!(ci, ci2);
    }

    #[test]
    fn bootstrap_coverage_over_many_datasets() {
        // Coverage check: with 5 rounds per arm and true ratio 1.5, the 95% CI should
        // contain 1.5 in most of 200 synthetic experiments (percentile bootstrap of a
        // median with n = 5 is a bit liberal; require >= 85%).
        let mut rng = SplitMix64::new(1234);
        let mut covered = 0;
        let trials = 200;
        for t in 0..trials {
            let base: Vec<f64> = (0..5)
                .map(|_| 10.0 * (1.0 + 0.2 * (rng.next_f64() - 0.5)))
                .collect();
            let arm: Vec<f64> = (0..5)
                .map(|_| 15.0 * (1.0 + 0.2 * (rng.next_f64() - 0.5)))
                .collect();
            let (lo, hi) = bootstrap_ratio_ci(&base, &arm, 2000, t, 0.95).unwrap();
            if lo <= 1.5 && 1.5 <= hi {
                covered += 1;
            }
        }
        assert!(covered >= trials * 85 / 100, "covered {covered}/{trials}");
    }

    #[test]
    fn bootstrap_undefined_ratio() {
        assert!(bootstrap_ratio_ci(&[0.0, 0.0], &[1.0, 2.0], 100, 1, 0.95).is_none());
        assert!(bootstrap_ratio_ci(&[], &[1.0], 100, 1, 0.95).is_none());
    }

    #[test]
    fn verdict_logic() {
        use Better::{Higher, Lower};
        use Verdict::{NoSignificantDifference, NotApplicable};
        // CI below 1 and p small: lower is better -> better; higher is better -> worse.
        assert_eq!(
            verdict(Some(0.5), Some((0.4, 0.6)), 0.01, Lower),
            Verdict::Better
        );
        assert_eq!(
            verdict(Some(0.5), Some((0.4, 0.6)), 0.01, Higher),
            Verdict::Worse
        );
        // CI above 1
        assert_eq!(
            verdict(Some(2.0), Some((1.5, 2.5)), 0.01, Lower),
            Verdict::Worse
        );
        assert_eq!(
            verdict(Some(2.0), Some((1.5, 2.5)), 0.01, Higher),
            Verdict::Better
        );
        // CI includes 1 -> nothing, even with small p
        assert_eq!(
            verdict(Some(0.9), Some((0.8, 1.01)), 0.001, Lower),
            NoSignificantDifference
        );
        // CI excludes 1 but p not small -> nothing
        assert_eq!(
            verdict(Some(0.5), Some((0.4, 0.6)), 0.10, Lower),
            NoSignificantDifference
        );
        assert_eq!(
            verdict(Some(0.5), Some((0.4, 0.6)), 0.05, Lower),
            NoSignificantDifference
        );
        // undefined
        assert_eq!(verdict(None, None, 0.01, Lower), NotApplicable);
        assert_eq!(verdict(Some(1.0), None, 0.01, Lower), NotApplicable);
    }

    #[test]
    fn compare_end_to_end() {
        let base = [100.0, 110.0, 95.0, 105.0, 102.0];
        let arm = [50.0, 55.0, 48.0, 52.0, 51.0];
        let c = compare(&base, &arm, Better::Lower, 99);
        assert_eq!(c.median_baseline, 102.0);
        assert_eq!(c.median_arm, 51.0);
        assert!(close(c.ratio.unwrap(), 0.5, 1e-12));
        let (lo, hi) = c.ci95.unwrap();
        assert!(lo <= 0.5 && (0.5..1.0).contains(&hi));
        assert!(close(c.p_value, 2.0 / 252.0, 1e-12));
        assert_eq!(c.verdict, Verdict::Better);
        let c = compare(&base, &arm, Better::Higher, 99);
        assert_eq!(c.verdict, Verdict::Worse);
        // Same distribution -> no significant difference
        let c = compare(&base, &[101.0, 99.0, 108.0, 97.0, 104.0], Better::Lower, 99);
        assert_eq!(c.verdict, Verdict::NoSignificantDifference);
        // Two rounds each: never significant (min p = 1/3)
        let c = compare(&[100.0, 101.0], &[10.0, 11.0], Better::Lower, 1);
        assert_eq!(c.verdict, Verdict::NoSignificantDifference);
        assert!(c.min_p > 0.05);
    }

    #[test]
    fn shuffle_is_permutation_and_seeded() {
        let mut a: Vec<u32> = (0..10).collect();
        let mut b = a.clone();
        SplitMix64::new(5).shuffle(&mut a);
        SplitMix64::new(5).shuffle(&mut b);
        assert_eq!(a, b);
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..10).collect::<Vec<_>>());
    }
}
