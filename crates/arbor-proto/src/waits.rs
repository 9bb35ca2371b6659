//! Wakeup waits as the BPF side counts them: a histogram of the time from a
//! task's wakeup to its first run, in the quarter-octave µs buckets of
//! `enum arbor_wait` (bpf/intf.h), and quantiles read from it.

use arbor_intf::bpf_intf::arbor_wait_ARBOR_WAIT_BUCKETS;

/// Buckets of the histogram.
pub const BUCKETS: usize = arbor_wait_ARBOR_WAIT_BUCKETS as usize;

/// The bucket a wait of `us` µs is counted in (bpf/waits.bpf.h's
/// `wait_bucket()`, as intf.h defines it).
pub fn bucket_of(us: u64) -> usize {
    if us < 4 {
        return us as usize;
    }
    if us >= 1 << 25 {
        return BUCKETS - 1;
    }
    let e = 63 - us.leading_zeros() as u64;
    let b = 4 * (e - 1) + ((us >> (e - 2)) & 3);
    (b as usize).min(BUCKETS - 1)
}

/// The waits bucket `b` holds, µs: `[low, high)`.
pub fn bounds(b: usize) -> (f64, f64) {
    if b < 4 {
        return (b as f64, b as f64 + 1.0);
    }
    let (e, m) = (b as u32 / 4 + 1, b as u64 % 4);
    (((4 + m) << (e - 2)) as f64, ((5 + m) << (e - 2)) as f64)
}

/// The `q` quantile (0..=1) of the waits in `hist`, µs, interpolated
/// linearly inside its bucket; None for an empty histogram.
pub fn quantile(hist: &[u64], q: f64) -> Option<f64> {
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return None;
    }
    // The rank of the quantile among n waits, 1-based (nearest rank).
    let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
    let mut below = 0u64;
    for (b, &c) in hist.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if below + c >= rank {
            let (lo, hi) = bounds(b);
            let within = (rank - below) as f64 / c as f64;
            return Some(lo + (hi - lo) * within);
        }
        below += c;
    }
    None
}

/// `a - b` bucket by bucket (a reading since `b`).
pub fn since(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter()
        .enumerate()
        .map(|(i, v)| v.saturating_sub(b.get(i).copied().unwrap_or(0)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_falls_inside_its_buckets_bounds() {
        let mut us = 0u64;
        while us < 1 << 26 {
            let b = bucket_of(us);
            let (lo, hi) = bounds(b);
            if us < 1 << 25 {
                assert!(
                    lo <= us as f64 && (us as f64) < hi,
                    "{us} µs in bucket {b} [{lo}, {hi})"
                );
            } else {
                assert_eq!(b, BUCKETS - 1);
            }
            us = us + 1 + us / 7;
        }
        // The buckets tile the line: each starts where the last ended.
        for b in 1..BUCKETS {
            assert_eq!(bounds(b).0, bounds(b - 1).1, "bucket {b}");
        }
        // A quarter octave: no bucket past the first four is wider than
        // a quarter of its start.
        for b in 4..BUCKETS {
            let (lo, hi) = bounds(b);
            assert!(hi - lo <= lo / 4.0, "bucket {b}");
        }
    }

    #[test]
    fn quantiles_are_within_a_bucket_of_the_exact_ones() {
        // Waits drawn from a heavy-tailed mix; the exact quantile of the
        // sorted waits against the histogram's.
        let mut rng = arbor_util::rng::SplitMix64::new(7);
        let mut waits: Vec<u64> = (0..20_000)
            .map(|_| {
                let r = rng.next_u64();
                if r.is_multiple_of(10) {
                    2_000 + r % 30_000
                } else {
                    r % 400
                }
            })
            .collect();
        let mut hist = vec![0u64; BUCKETS];
        for &w in &waits {
            hist[bucket_of(w)] += 1;
        }
        waits.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = waits[((q * waits.len() as f64).ceil() as usize).max(1) - 1] as f64;
            let got = quantile(&hist, q).unwrap();
            let (lo, hi) = bounds(bucket_of(exact as u64));
            assert!(
                got >= lo && got <= hi,
                "q {q}: exact {exact}, from the histogram {got}"
            );
        }
        assert_eq!(quantile(&[0; BUCKETS], 0.99), None);
    }
}
