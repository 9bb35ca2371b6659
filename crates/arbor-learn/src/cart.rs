//! Histogram CART over integer features: Gini impurity, optional class
//! weights, leaves holding fixed-point class proportions.
//!
//! Features are binned once ([`super::bins`]); each node then builds a
//! per-feature histogram of class counts over its rows and scans it for the
//! best split. Thresholds are bin edges, i.e. values seen in the data, so the
//! integer tree is exact by construction. Ties between equally good splits
//! go to the lowest feature and then the lowest threshold: training is
//! deterministic.

use anyhow::{ensure, Result};

use super::bins::Binned;
use arbor_intf::schema::{MAX_DEPTH, NR_CLASSES, NR_FEATURES};
use arbor_model::ensemble::{Ensemble, Node, Tree};

/// Fraction bits of the leaf scores (proportions times 2^16).
pub const LEAF_FRAC_BITS: u32 = 16;

/// How to weigh classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClassWeight {
    /// Every sample counts 1.
    #[default]
    None,
    /// Class `c` counts `n / (classes present * n_c)`, as scikit-learn's "balanced".
    Balanced,
}

/// Training parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CartParams {
    /// Largest number of splits on a root-to-leaf path (<= MAX_DEPTH).
    pub max_depth: usize,
    /// Smallest number of samples in a leaf.
    pub min_samples_leaf: usize,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// Bins per feature (2..=256).
    pub max_bins: usize,
}

impl Default for CartParams {
    fn default() -> Self {
        Self {
            max_depth: 8,
            min_samples_leaf: 20,
            class_weight: ClassWeight::None,
            max_bins: 256,
        }
    }
}

/// Weighted Gini impurity times total weight: `W - sum(w_c^2) / W`.
fn gini_mass(w: &[f64; NR_CLASSES]) -> f64 {
    let total: f64 = w.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    total - w.iter().map(|v| v * v).sum::<f64>() / total
}

/// Trains one tree on rows `x` with classes `y` (each `< NR_CLASSES`).
pub fn train(x: &[[u32; NR_FEATURES]], y: &[u8], params: &CartParams) -> Result<Ensemble> {
    ensure!(!x.is_empty(), "no training samples");
    ensure!(
        x.len() == y.len(),
        "{} feature rows but {} labels",
        x.len(),
        y.len()
    );
    ensure!(
        x.len() < u32::MAX as usize,
        "too many samples ({})",
        x.len()
    );
    ensure!(
        params.max_depth <= MAX_DEPTH,
        "max_depth {} is beyond the BPF limit: use max_depth <= {MAX_DEPTH}",
        params.max_depth
    );
    ensure!(
        (2..=256).contains(&params.max_bins),
        "max_bins must be 2..=256"
    );
    let mut counts = [0usize; NR_CLASSES];
    for &c in y {
        ensure!(
            (c as usize) < NR_CLASSES,
            "label {c} is not a class (0..{})",
            NR_CLASSES - 1
        );
        counts[c as usize] += 1;
    }
    let weights: [f64; NR_CLASSES] = match params.class_weight {
        ClassWeight::None => [1.0; NR_CLASSES],
        ClassWeight::Balanced => {
            let present = counts.iter().filter(|&&n| n > 0).count() as f64;
            std::array::from_fn(|c| {
                if counts[c] == 0 {
                    0.0
                } else {
                    x.len() as f64 / (present * counts[c] as f64)
                }
            })
        }
    };
    let binned = Binned::new(x, params.max_bins);
    let mut b = Builder {
        binned: &binned,
        y,
        weights,
        params,
        nodes: Vec::new(),
        hist: vec![[0u32; NR_CLASSES]; 256],
    };
    let mut idx: Vec<u32> = (0..x.len() as u32).collect();
    b.grow(&mut idx, 0);
    let mut e = Ensemble::new(NR_CLASSES, LEAF_FRAC_BITS);
    e.trees.push(Tree { nodes: b.nodes });
    e.validate()
        .map_err(|err| err.context("raise min_samples_leaf or lower max_depth"))?;
    Ok(e)
}

/// Relabels the leaves of a tree trained by [`train`] for the least
/// expected cost ([`super::cost::COST`]) instead of the most likely class:
/// a leaf's score for class `p` becomes `1 - E[cost of predicting p] /
/// MAX_COST` over the leaf's class proportions, so the walk's argmax picks
/// the cheapest class. Mispredicting upwards costs twice as much as
/// downwards, so where classes mix in a leaf this leans to the lower class;
/// a pure leaf keeps its class.
pub fn cost_leaves(e: &Ensemble) -> Ensemble {
    use super::cost::{COST, MAX_COST};
    let mut out = e.clone();
    let one = f64::from(1u32 << LEAF_FRAC_BITS);
    for tree in &mut out.trees {
        for node in &mut tree.nodes {
            if let Node::Leaf { scores } = node {
                let q: [f64; NR_CLASSES] = std::array::from_fn(|c| f64::from(scores[c].max(0)));
                let total: f64 = q.iter().sum();
                if total <= 0.0 {
                    continue;
                }
                *scores = std::array::from_fn(|p| {
                    let cost: f64 = (0..NR_CLASSES)
                        .map(|c| q[c] / total * f64::from(COST[p][c]))
                        .sum();
                    ((1.0 - cost / f64::from(MAX_COST)) * one).round() as i32
                });
            }
        }
    }
    out
}

struct Builder<'a> {
    binned: &'a Binned,
    y: &'a [u8],
    weights: [f64; NR_CLASSES],
    params: &'a CartParams,
    nodes: Vec<Node>,
    hist: Vec<[u32; NR_CLASSES]>,
}

impl Builder<'_> {
    fn weighted(&self, counts: &[u32; NR_CLASSES]) -> [f64; NR_CLASSES] {
        std::array::from_fn(|c| f64::from(counts[c]) * self.weights[c])
    }

    fn leaf(&self, counts: &[u32; NR_CLASSES]) -> Node {
        let w = self.weighted(counts);
        let total: f64 = w.iter().sum();
        let one = f64::from(1u32 << LEAF_FRAC_BITS);
        let scores = std::array::from_fn(|c| {
            if total > 0.0 {
                (w[c] / total * one).round() as i32
            } else {
                0
            }
        });
        Node::Leaf { scores }
    }

    /// Grows the subtree of `rows` (reordered in place); returns its node index.
    fn grow(&mut self, rows: &mut [u32], depth: usize) -> u32 {
        // Iterative over an explicit stack would avoid recursion, but depth is
        // bounded by MAX_DEPTH (24), so recursion is safe.
        let me = self.nodes.len() as u32;
        let mut counts = [0u32; NR_CLASSES];
        for &i in rows.iter() {
            counts[self.y[i as usize] as usize] += 1;
        }
        let n = rows.len();
        let pure = counts.iter().filter(|&&c| c > 0).count() <= 1;
        let min_leaf = self.params.min_samples_leaf.max(1);
        if depth >= self.params.max_depth || n < 2 * min_leaf || pure {
            let leaf = self.leaf(&counts);
            self.nodes.push(leaf);
            return me;
        }
        let parent = gini_mass(&self.weighted(&counts));
        // (gain, feature, bin)
        let mut best: Option<(f64, usize, u8)> = None;
        for f in 0..NR_FEATURES {
            let nb = self.binned.bins[f].edges.len();
            if nb < 2 {
                continue;
            }
            let col = &self.binned.cols[f];
            for h in &mut self.hist[..nb] {
                *h = [0; NR_CLASSES];
            }
            for &i in rows.iter() {
                self.hist[col[i as usize] as usize][self.y[i as usize] as usize] += 1;
            }
            let mut left = [0u32; NR_CLASSES];
            let mut left_n = 0usize;
            for b in 0..nb - 1 {
                let h = self.hist[b];
                for c in 0..NR_CLASSES {
                    left[c] += h[c];
                }
                left_n += h.iter().map(|&v| v as usize).sum::<usize>();
                if h.iter().all(|&v| v == 0) {
                    continue; // same split as the previous bin
                }
                if left_n < min_leaf {
                    continue;
                }
                if n - left_n < min_leaf {
                    break;
                }
                let right: [u32; NR_CLASSES] = std::array::from_fn(|c| counts[c] - left[c]);
                let gain =
                    parent - gini_mass(&self.weighted(&left)) - gini_mass(&self.weighted(&right));
                if gain > 1e-9 && best.is_none_or(|(g, _, _)| gain > g + 1e-12) {
                    best = Some((gain, f, b as u8));
                }
            }
        }
        let Some((_, f, b)) = best else {
            let leaf = self.leaf(&counts);
            self.nodes.push(leaf);
            return me;
        };
        // Partition rows: bin <= b first.
        let col = &self.binned.cols[f];
        let mut split = 0;
        for k in 0..rows.len() {
            if col[rows[k] as usize] <= b {
                rows.swap(k, split);
                split += 1;
            }
        }
        self.nodes.push(Node::Leaf {
            scores: [0; NR_CLASSES],
        });
        let threshold = self.binned.bins[f].edges[b as usize];
        let (l_rows, r_rows) = rows.split_at_mut(split);
        let left = self.grow(l_rows, depth + 1);
        let right = self.grow(r_rows, depth + 1);
        self.nodes[me as usize] = Node::Split {
            feature: f as u16,
            threshold,
            left,
            right,
        };
        me
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_model::flat::{flatten, walk};
    use arbor_util::rng::SplitMix64;

    fn data(n: usize, seed: u64) -> (Vec<[u32; NR_FEATURES]>, Vec<u8>) {
        let mut rng = SplitMix64::new(seed);
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            // At most 256 distinct values per feature: one bin each.
            let r: [u32; NR_FEATURES] = std::array::from_fn(|_| rng.below(250) as u32 * 80);
            // Separable: class from two thresholds on two features.
            let c = match (r[1] <= 5000, r[4] <= 700) {
                (true, true) => 0,
                (true, false) => 1,
                (false, true) => 2,
                (false, false) => 3,
            };
            x.push(r);
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn separable_data_is_learnt_perfectly() {
        let (x, y) = data(5000, 1);
        let params = CartParams {
            max_depth: 4,
            min_samples_leaf: 1,
            ..Default::default()
        };
        let e = train(&x, &y, &params).unwrap();
        let st = e.validate().unwrap();
        assert!(st.max_depth <= 4);
        let flat = flatten(&e, 1).unwrap();
        for (r, &c) in x.iter().zip(&y) {
            assert_eq!(walk(&flat, r).unwrap().class, c as usize);
        }
        // Unseen rows too, since the thresholds fall between the classes' values.
        let (x2, y2) = data(2000, 2);
        let wrong = x2
            .iter()
            .zip(&y2)
            .filter(|(r, &c)| walk(&flat, r).unwrap().class != c as usize)
            .count();
        assert!(wrong < 20, "{wrong} of 2000 unseen rows wrong");
    }

    #[test]
    fn limits_are_respected_and_training_is_deterministic() {
        let (x, mut y) = data(3000, 3);
        let mut rng = SplitMix64::new(9);
        for c in y.iter_mut() {
            if rng.below(4) == 0 {
                *c = rng.below(4) as u8; // noise
            }
        }
        for depth in [0, 1, 3, 6] {
            let p = CartParams {
                max_depth: depth,
                min_samples_leaf: 50,
                ..Default::default()
            };
            let e = train(&x, &y, &p).unwrap();
            let st = e.validate().unwrap();
            assert!(st.max_depth <= depth);
            assert_eq!(e, train(&x, &y, &p).unwrap());
            // Every leaf holds >= 50 samples: count them.
            let flat = flatten(&e, 1).unwrap();
            let mut per_leaf = vec![0usize; flat.nr_leaves as usize];
            for r in &x {
                let mut i = flat.roots[0] as usize;
                while flat.nodes[i].feature != arbor_intf::schema::LEAF {
                    let n = &flat.nodes[i];
                    i = if r[n.feature as usize] <= n.threshold {
                        n.left
                    } else {
                        n.right
                    } as usize;
                }
                per_leaf[flat.nodes[i].left as usize] += 1;
            }
            assert!(per_leaf.iter().all(|&k| k >= 50), "{per_leaf:?}");
        }
        assert!(train(
            &x,
            &y,
            &CartParams {
                max_depth: 25,
                ..Default::default()
            }
        )
        .is_err());
        assert!(train(&x, &y[..10], &CartParams::default()).is_err());
        assert!(train(&[], &[], &CartParams::default()).is_err());
        assert!(train(&x[..1], &[7], &CartParams::default()).is_err());
    }

    #[test]
    fn cost_leaves_pick_the_cheapest_class() {
        // One leaf: 40% tiny, 60% medium. Majority says medium; predicting
        // medium costs 0.4 * 4 = 1.6, short costs 0.4 * 2 + 0.6 * 1 = 1.4,
        // tiny costs 0.6 * 2 = 1.2: tiny is cheapest.
        let x = vec![[0u32; NR_FEATURES]; 10];
        let y = [0, 0, 0, 0, 2, 2, 2, 2, 2, 2];
        let p = CartParams {
            min_samples_leaf: 1,
            ..Default::default()
        };
        let e = train(&x, &y, &p).unwrap();
        assert_eq!(e.predict(&x[0]).unwrap(), 2);
        let c = cost_leaves(&e);
        assert_eq!(c.predict(&x[0]).unwrap(), 0);
        c.validate().unwrap();
        // 30% tiny, 70% long: tiny 0.7 * 3 = 2.1, short 0.3 * 2 + 0.7 * 2
        // = 2.0, medium 0.3 * 4 + 0.7 * 1 = 1.9, long 0.3 * 6 = 1.8: long.
        let y = [0, 0, 0, 3, 3, 3, 3, 3, 3, 3];
        let c = cost_leaves(&train(&x, &y, &p).unwrap());
        assert_eq!(c.predict(&x[0]).unwrap(), 3);
        // A pure leaf keeps its class.
        let c = cost_leaves(&train(&x, &[1; 10], &p).unwrap());
        assert_eq!(c.predict(&x[0]).unwrap(), 1);
    }

    #[test]
    fn balanced_weights_favour_the_rare_class() {
        // 95% class 0 everywhere; class 3 only slightly more likely when f0 is high.
        let mut rng = SplitMix64::new(4);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..4000 {
            let r: [u32; NR_FEATURES] = std::array::from_fn(|_| rng.below(1000) as u32);
            let p3 = if r[0] > 500 { 10 } else { 2 };
            y.push(if rng.below(100) < p3 { 3 } else { 0 });
            x.push(r);
        }
        let plain = train(
            &x,
            &y,
            &CartParams {
                max_depth: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let bal = train(
            &x,
            &y,
            &CartParams {
                max_depth: 2,
                class_weight: ClassWeight::Balanced,
                ..Default::default()
            },
        )
        .unwrap();
        let count3 = |e: &Ensemble| x.iter().filter(|r| e.predict(r).unwrap() == 3).count();
        assert_eq!(count3(&plain), 0);
        assert!(count3(&bal) > 1000);
    }
}
