//! Quantile binning of integer features for histogram CART.
//!
//! Each feature gets at most `max_bins` bins; bin `b` holds the values
//! `edges[b-1] < x <= edges[b]`, where every edge is a value seen in the
//! data. A split "bin <= b" is therefore exactly the integer test
//! `x <= edges[b]`, for seen and unseen values alike.

use arbor_intf::schema::NR_FEATURES;

/// Bin edges of one feature: inclusive upper values, strictly increasing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureBins {
    /// Inclusive upper value of each bin.
    pub edges: Vec<u32>,
}

impl FeatureBins {
    /// Quantile edges of `values` (any order), at most `max_bins` (1..=256) bins.
    pub fn fit(values: &mut [u32], max_bins: usize) -> Self {
        let max_bins = max_bins.clamp(1, 256);
        values.sort_unstable();
        let n = values.len();
        let mut edges: Vec<u32> = Vec::with_capacity(max_bins);
        if n == 0 {
            return Self {
                edges: vec![u32::MAX],
            };
        }
        // Distinct values if few enough, else values at evenly spaced ranks.
        let mut distinct = values.to_vec();
        distinct.dedup();
        if distinct.len() <= max_bins {
            edges = distinct;
        } else {
            for k in 1..=max_bins {
                let v = values[(n * k / max_bins).saturating_sub(1).min(n - 1)];
                if edges.last() != Some(&v) {
                    edges.push(v);
                }
            }
        }
        // The last bin is open-ended so every value finds a bin.
        if let Some(last) = edges.last_mut() {
            *last = u32::MAX;
        }
        Self { edges }
    }

    /// Bin of value `x`.
    pub fn bin(&self, x: u32) -> u8 {
        self.edges.partition_point(|&e| e < x) as u8
    }
}

/// Rows binned feature by feature (column-major) for cache-friendly histograms.
#[derive(Debug, Clone)]
pub struct Binned {
    /// Per-feature bin edges.
    pub bins: Vec<FeatureBins>,
    /// `cols[f][i]`: bin of row `i` on feature `f`.
    pub cols: Vec<Vec<u8>>,
}

impl Binned {
    /// Bins every feature of `x` with at most `max_bins` bins each.
    pub fn new(x: &[[u32; NR_FEATURES]], max_bins: usize) -> Self {
        let mut bins = Vec::with_capacity(NR_FEATURES);
        let mut cols = Vec::with_capacity(NR_FEATURES);
        let mut scratch = vec![0u32; x.len()];
        for f in 0..NR_FEATURES {
            for (s, r) in scratch.iter_mut().zip(x) {
                *s = r[f];
            }
            let fb = FeatureBins::fit(&mut scratch, max_bins);
            cols.push(x.iter().map(|r| fb.bin(r[f])).collect());
            bins.push(fb);
        }
        Self { bins, cols }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_one_bin_each() {
        let mut v = vec![5, 1, 5, 9, 1, 1];
        let b = FeatureBins::fit(&mut v, 256);
        assert_eq!(b.edges, vec![1, 5, u32::MAX]);
        assert_eq!(b.bin(0), 0);
        assert_eq!(b.bin(1), 0);
        assert_eq!(b.bin(2), 1);
        assert_eq!(b.bin(5), 1);
        assert_eq!(b.bin(6), 2);
        assert_eq!(b.bin(u32::MAX), 2);
    }

    #[test]
    fn many_values_are_capped_and_bins_match_edges() {
        let mut v: Vec<u32> = (0..10_000).map(|i| (i * 7919) % 100_003).collect();
        let orig = v.clone();
        let b = FeatureBins::fit(&mut v, 16);
        assert!(b.edges.len() <= 16);
        assert!(b.edges.windows(2).all(|w| w[0] < w[1]));
        for &x in &orig {
            let k = b.bin(x) as usize;
            assert!(x <= b.edges[k]);
            assert!(k == 0 || x > b.edges[k - 1]);
        }
    }
}
