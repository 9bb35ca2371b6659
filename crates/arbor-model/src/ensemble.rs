//! The integer tree-ensemble IR: what every importer produces, what the
//! learner trains, what the exporter writes and what [`super::flat`] lays out
//! for the BPF walk.
//!
//! A split sends a row left when `x[feature] <= threshold` (both unsigned
//! integers). A leaf adds its per-class fixed-point scores to the class
//! accumulators, which start at [`Ensemble::base_scores`]; the predicted class
//! is the argmax over `0..nr_classes`, ties going to the lowest index.

use anyhow::{bail, ensure, Result};

use arbor_intf::schema::{
    FEATURES, FEATURE_MAX, MAX_DEPTH, MAX_LEAVES, MAX_NODES, MAX_TREES, MAX_WALK_STEPS, NR_CLASSES,
    NR_FEATURES, SCHEMA_VERSION,
};

/// Base score of a class the model cannot predict: far below any reachable
/// score of a present class (see [`Ensemble::validate`]), so it never wins.
pub const ABSENT_SCORE: i32 = i32::MIN / 4;

/// Largest magnitude a present class may reach (base plus the largest leaf of
/// every tree). Keeping it at 2^28 leaves a margin of 2^28 above
/// [`ABSENT_SCORE`], and keeps every sum far from the i64 accumulator's range.
pub const SCORE_BOUND: i64 = 1 << 28;

/// Reach below which every partial sum of scores is an integer that f32
/// represents exactly (2^24): exported models then compute the same argmax
/// in any f32 engine. Importers stay within it when >= 8 fraction bits allow.
pub const EXACT_F32_BOUND: i64 = 1 << 24;

/// Per-class fixed-point scores.
pub type Scores = [i32; NR_CLASSES];

/// One node of a tree, children referenced by index into [`Tree::nodes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `x[feature] <= threshold` goes to `left`, else `right`.
    Split {
        /// Schema feature index.
        feature: u16,
        /// Inclusive integer threshold; `>= FEATURE_MAX` means always left.
        threshold: u32,
        /// Node index taken when the test holds.
        left: u32,
        /// Node index taken otherwise.
        right: u32,
    },
    /// Adds `scores` to the class accumulators.
    Leaf {
        /// Fixed-point score per class.
        scores: Scores,
    },
}

/// One tree; its root is `nodes[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// The nodes; children must point to later nodes (no cycles).
    pub nodes: Vec<Node>,
}

/// A whole integer ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensemble {
    /// Schema version the features follow.
    pub schema_version: u32,
    /// Feature names of the schema, in index order (for display and export).
    pub feature_names: Vec<String>,
    /// Classes the argmax runs over: `0..nr_classes`.
    pub nr_classes: usize,
    /// Fractional bits of every score (informational: argmax ignores it).
    pub score_frac_bits: u32,
    /// Initial accumulator per class; [`ABSENT_SCORE`] for classes the model never predicts.
    pub base_scores: Scores,
    /// The trees, walked in order.
    pub trees: Vec<Tree>,
}

/// Counts and depth of an ensemble, as [`Ensemble::stats`] reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Number of trees.
    pub trees: usize,
    /// Nodes of all trees, leaves included.
    pub nodes: usize,
    /// Leaves of all trees.
    pub leaves: usize,
    /// Largest number of splits on a root-to-leaf path.
    pub max_depth: usize,
    /// Worst-case nodes walked per decision: the sum over trees of depth + 1.
    pub walk: usize,
}

impl Ensemble {
    /// An empty ensemble over the current schema with `score_frac_bits`.
    pub fn new(nr_classes: usize, score_frac_bits: u32) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            feature_names: FEATURES.iter().map(|f| f.name.to_string()).collect(),
            nr_classes,
            score_frac_bits,
            base_scores: [0; NR_CLASSES],
            trees: Vec::new(),
        }
    }

    /// Counts nodes and leaves and measures depth. Fails on cycles or
    /// dangling child indices.
    pub fn stats(&self) -> Result<Stats> {
        let mut st = Stats {
            trees: self.trees.len(),
            ..Default::default()
        };
        for (t, tree) in self.trees.iter().enumerate() {
            let depth = tree_depth(tree).map_err(|e| e.context(format!("tree {t}")))?;
            st.max_depth = st.max_depth.max(depth);
            st.walk += depth + 1;
            st.nodes += tree.nodes.len();
            st.leaves += tree
                .nodes
                .iter()
                .filter(|n| matches!(n, Node::Leaf { .. }))
                .count();
        }
        Ok(st)
    }

    /// Checks everything the BPF walk relies on. Every error names the limit,
    /// by how much it is exceeded and what to do about it.
    pub fn validate(&self) -> Result<Stats> {
        self.check_header()?;
        ensure!(
            self.trees.len() <= MAX_TREES,
            "model has {} trees, {} more than the limit of {}: train fewer trees \
             (boosting with one tree per class and round: n_estimators * classes <= {}), or \
             distill the model into a smaller one with `scx_arbor model distill`",
            self.trees.len(),
            self.trees.len() - MAX_TREES,
            MAX_TREES,
            MAX_TREES
        );
        let st = self.stats()?;
        ensure!(
            st.nodes <= MAX_NODES,
            "model has {} nodes (leaves included), {} more than the limit of {}: \
             train fewer or shallower trees (lower max_depth / max_leaf_nodes)",
            st.nodes,
            st.nodes - MAX_NODES,
            MAX_NODES
        );
        ensure!(
            st.leaves <= MAX_LEAVES,
            "model has {} leaves, {} more than the limit of {}: train fewer or shallower \
             trees (lower max_depth / max_leaf_nodes)",
            st.leaves,
            st.leaves - MAX_LEAVES,
            MAX_LEAVES
        );
        ensure!(
            st.max_depth <= MAX_DEPTH,
            "a tree is {} splits deep, {} more than the limit of {}: retrain with max_depth <= {}",
            st.max_depth,
            st.max_depth - MAX_DEPTH,
            MAX_DEPTH,
            MAX_DEPTH
        );
        ensure!(
            st.walk <= MAX_WALK_STEPS,
            "a decision walks up to {} nodes (the sum over the {} trees of depth + 1), {} more \
             than the budget of {}: train fewer rounds or shallower trees (e.g. {} trees of \
             depth {} fit), or distill the model into a smaller one with `scx_arbor model \
             distill`",
            st.walk,
            st.trees,
            st.walk - MAX_WALK_STEPS,
            MAX_WALK_STEPS,
            (MAX_WALK_STEPS / (st.max_depth.min(MAX_DEPTH) + 1)).min(MAX_TREES),
            st.max_depth.min(MAX_DEPTH)
        );
        self.check_semantics()?;
        Ok(st)
    }

    /// The schema version, the class count and at least one tree.
    fn check_header(&self) -> Result<()> {
        ensure!(
            self.schema_version == SCHEMA_VERSION,
            "model is for feature schema {} but this scheduler uses schema {}: retrain it on \
             samples recorded by this version",
            self.schema_version,
            SCHEMA_VERSION
        );
        ensure!(
            (1..=NR_CLASSES).contains(&self.nr_classes),
            "model has {} classes; the schema has 1..={}",
            self.nr_classes,
            NR_CLASSES
        );
        ensure!(!self.trees.is_empty(), "model has no trees");
        Ok(())
    }

    /// What an exact prediction needs, whatever the model's size: the
    /// schema, the classes, a well-formed tree structure, split features in
    /// the schema and scores in range. [`Ensemble::validate`] adds the BPF
    /// limits; a model checked only by this can be predicted with
    /// [`Ensemble::predict`] but not installed.
    pub fn check_semantics(&self) -> Result<Stats> {
        self.check_header()?;
        let st = self.stats()?;
        for (t, tree) in self.trees.iter().enumerate() {
            for (i, n) in tree.nodes.iter().enumerate() {
                match n {
                    Node::Split { feature, .. } => ensure!(
                        (*feature as usize) < NR_FEATURES,
                        "tree {t} node {i} splits on feature {feature}, beyond the schema's {} \
                         features",
                        NR_FEATURES
                    ),
                    Node::Leaf { scores } => {
                        for (c, &s) in scores.iter().enumerate().skip(self.nr_classes) {
                            ensure!(
                                s == 0,
                                "tree {t} leaf {i} scores class {c} beyond nr_classes {}",
                                self.nr_classes
                            );
                        }
                    }
                }
            }
        }
        self.check_score_range()?;
        Ok(st)
    }

    /// Schema features some split reads, ascending.
    pub fn used_features(&self) -> Vec<usize> {
        let mut used = [false; NR_FEATURES];
        for t in &self.trees {
            for n in &t.nodes {
                if let Node::Split { feature, .. } = n {
                    if let Some(u) = used.get_mut(*feature as usize) {
                        *u = true;
                    }
                }
            }
        }
        (0..NR_FEATURES).filter(|&f| used[f]).collect()
    }

    /// Largest magnitude any present class score can reach: base plus the
    /// largest leaf magnitude of every tree.
    pub fn score_reach(&self) -> i64 {
        (0..self.nr_classes)
            .filter(|&c| self.base_scores[c] != ABSENT_SCORE)
            .map(|c| self.class_reach(c))
            .max()
            .unwrap_or(0)
    }

    /// Largest |score| class `c` can reach: |base| plus, per tree, the
    /// largest |leaf score| of `c`.
    fn class_reach(&self, c: usize) -> i64 {
        let mut reach = i64::from(self.base_scores[c]).abs();
        for tree in &self.trees {
            reach += tree
                .nodes
                .iter()
                .filter_map(|n| match n {
                    Node::Leaf { scores } => Some(i64::from(scores[c]).abs()),
                    Node::Split { .. } => None,
                })
                .max()
                .unwrap_or(0);
        }
        reach
    }

    /// Every present class must stay within [`SCORE_BOUND`] whatever leaves
    /// are reached, so that an absent class ([`ABSENT_SCORE`]) never wins.
    fn check_score_range(&self) -> Result<()> {
        for c in 0..self.nr_classes {
            if self.base_scores[c] == ABSENT_SCORE {
                for tree in &self.trees {
                    for n in &tree.nodes {
                        if let Node::Leaf { scores } = n {
                            ensure!(
                                scores[c] == 0,
                                "class {c} is absent (base score {ABSENT_SCORE}) but a leaf \
                                 scores it"
                            );
                        }
                    }
                }
                continue;
            }
            let reach = self.class_reach(c);
            ensure!(
                reach <= SCORE_BOUND,
                "class {c} scores can reach {reach}, beyond the bound {SCORE_BOUND}: use fewer \
                 score_frac_bits (now {})",
                self.score_frac_bits
            );
        }
        Ok(())
    }

    /// Reference prediction on the IR (same semantics as the flat walker).
    pub fn predict(&self, x: &[u32; NR_FEATURES]) -> Result<usize> {
        let mut acc = [0i64; NR_CLASSES];
        for (c, a) in acc.iter_mut().enumerate() {
            *a = i64::from(self.base_scores[c]);
        }
        for (t, tree) in self.trees.iter().enumerate() {
            let mut i = 0usize;
            for _ in 0..=tree.nodes.len() {
                match tree.nodes.get(i) {
                    None => bail!("tree {t}: node {i} does not exist"),
                    Some(Node::Leaf { scores }) => {
                        for c in 0..NR_CLASSES {
                            acc[c] += i64::from(scores[c]);
                        }
                        i = usize::MAX;
                        break;
                    }
                    Some(Node::Split {
                        feature,
                        threshold,
                        left,
                        right,
                    }) => {
                        let v = *x
                            .get(*feature as usize)
                            .ok_or_else(|| anyhow::anyhow!("feature {feature} out of range"))?;
                        i = if v <= *threshold { *left } else { *right } as usize;
                    }
                }
            }
            ensure!(i == usize::MAX, "tree {t}: walk did not reach a leaf");
        }
        Ok(argmax(&acc[..self.nr_classes.clamp(1, NR_CLASSES)]))
    }
}

/// Index of the largest value, the lowest index on ties.
pub fn argmax(acc: &[i64]) -> usize {
    let mut best = 0;
    for (c, &v) in acc.iter().enumerate() {
        if v > acc[best] {
            best = c;
        }
    }
    best
}

/// Depth (splits on the longest root-to-leaf path) of one tree, checking that
/// every child index exists and that each node is reached once (a tree, not a
/// graph with cycles or shared subtrees).
pub fn tree_depth(tree: &Tree) -> Result<usize> {
    ensure!(!tree.nodes.is_empty(), "tree has no nodes");
    let n = tree.nodes.len();
    let mut seen = vec![false; n];
    let mut stack = vec![(0usize, 0usize)];
    let mut max_depth = 0;
    let mut visited = 0;
    while let Some((i, d)) = stack.pop() {
        ensure!(i < n, "child index {i} points outside the tree's {n} nodes");
        ensure!(
            !seen[i],
            "node {i} is reached twice (a cycle or a shared subtree)"
        );
        seen[i] = true;
        visited += 1;
        match &tree.nodes[i] {
            Node::Leaf { .. } => max_depth = max_depth.max(d),
            Node::Split { left, right, .. } => {
                stack.push((*left as usize, d + 1));
                stack.push((*right as usize, d + 1));
            }
        }
    }
    ensure!(
        visited == n,
        "{} of the tree's {n} nodes are unreachable from its root",
        n - visited
    );
    Ok(max_depth)
}

/// Clamp a threshold into the feature range: any threshold at or above
/// [`FEATURE_MAX`] sends every valid feature value left.
pub fn clamp_threshold(t: u32) -> u32 {
    t.min(FEATURE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn leaf(c: usize) -> Node {
        let mut scores = [0; NR_CLASSES];
        scores[c] = 256;
        Node::Leaf { scores }
    }

    fn stump(feature: u16, threshold: u32) -> Tree {
        Tree {
            nodes: vec![
                Node::Split {
                    feature,
                    threshold,
                    left: 1,
                    right: 2,
                },
                leaf(0),
                leaf(3),
            ],
        }
    }

    fn deep_chain(depth: usize) -> Tree {
        // A left-leaning chain: split i goes left to a leaf, right to the next split.
        let mut nodes = Vec::new();
        for i in 0..depth {
            let base = nodes.len() as u32;
            nodes.push(Node::Split {
                feature: 0,
                threshold: i as u32,
                left: base + 1,
                right: base + 2,
            });
            nodes.push(leaf(0));
        }
        nodes.push(leaf(1));
        Tree { nodes }
    }

    #[test]
    fn stump_predicts_both_sides() {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(stump(2, 100));
        e.validate().unwrap();
        let mut x = [0; NR_FEATURES];
        x[2] = 100;
        assert_eq!(e.predict(&x).unwrap(), 0);
        x[2] = 101;
        assert_eq!(e.predict(&x).unwrap(), 3);
    }

    #[test]
    fn limits_name_the_excess_and_the_fix() {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(deep_chain(MAX_DEPTH));
        e.validate().unwrap();
        e.trees[0] = deep_chain(MAX_DEPTH + 2);
        let err = format!("{:#}", e.validate().unwrap_err());
        assert!(err.contains("26 splits deep, 2 more"), "{err}");
        assert!(err.contains("max_depth <= 24"), "{err}");

        let mut e = Ensemble::new(4, 8);
        e.trees = vec![stump(0, 1); 128]; // 128 trees walking 2 nodes each: fine
        e.validate().unwrap();
        e.trees = vec![stump(0, 1); 131];
        let err = format!("{:#}", e.validate().unwrap_err());
        assert!(
            err.contains("131 trees, 3 more than the limit of 128"),
            "{err}"
        );

        let mut e = Ensemble::new(4, 8);
        e.trees = vec![deep_chain(24); 20]; // 49 nodes each, 20 x 25 = 500 walked: fine
        assert_eq!(e.validate().unwrap().walk, 500);
        e.trees.push(deep_chain(24)); // 525 walked
        let err = format!("{:#}", e.validate().unwrap_err());
        assert!(
            err.contains("walks up to 525 nodes") && err.contains("13 more than the budget of 512"),
            "{err}"
        );
        assert!(err.contains("20 trees of depth 24 fit"), "{err}");

        // A boosted 4-class model of 60 depth-3 trees (15 rounds) walks 240.
        let mut e = Ensemble::new(4, 8);
        let d3 = Tree {
            nodes: (0..15)
                .map(|i| {
                    if i < 7 {
                        Node::Split {
                            feature: (i % 8) as u16,
                            threshold: 10 * i as u32,
                            left: 2 * i as u32 + 1,
                            right: 2 * i as u32 + 2,
                        }
                    } else {
                        leaf(i % 4)
                    }
                })
                .collect(),
        };
        e.trees = vec![d3; 60];
        let st = e.validate().unwrap();
        assert_eq!((st.max_depth, st.walk, st.nodes), (3, 240, 900));
    }

    #[test]
    fn too_many_nodes_and_leaves() {
        // A balanced tree of depth 13 has 16383 nodes and 8192 leaves.
        fn balanced(depth: usize) -> Tree {
            let mut nodes = Vec::new();
            fn build(nodes: &mut Vec<Node>, d: usize) -> u32 {
                let me = nodes.len();
                if d == 0 {
                    nodes.push(leaf(0));
                } else {
                    nodes.push(leaf(0));
                    let l = build(nodes, d - 1);
                    let r = build(nodes, d - 1);
                    nodes[me] = Node::Split {
                        feature: 1,
                        threshold: 5,
                        left: l,
                        right: r,
                    };
                }
                me as u32
            }
            build(&mut nodes, depth);
            Tree { nodes }
        }
        let mut e = Ensemble::new(4, 8);
        e.trees.push(balanced(13));
        let err = format!("{:#}", e.validate().unwrap_err());
        assert!(err.contains("16383 nodes"), "{err}");
        assert!(err.contains("8191 more than the limit of 8192"), "{err}");
        e.trees = vec![balanced(11), balanced(11)]; // 8190 nodes, 4096 leaves
        e.validate().unwrap();
        e.trees.push(balanced(1)); // 8193 nodes
        let err = format!("{:#}", e.validate().unwrap_err());
        assert!(err.contains("1 more than the limit of 8192"), "{err}");
        e.trees = vec![balanced(11), balanced(11), balanced(0)]; // 8191 nodes, 4097 leaves
        let err = format!("{:#}", e.validate().unwrap_err());
        assert!(
            err.contains("4097 leaves, 1 more than the limit of 4096"),
            "{err}"
        );
    }

    #[test]
    fn cycles_and_dangling_children_are_refused() {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(Tree {
            nodes: vec![
                Node::Split {
                    feature: 0,
                    threshold: 1,
                    left: 0,
                    right: 1,
                },
                leaf(0),
            ],
        });
        assert!(format!("{:#}", e.validate().unwrap_err()).contains("reached twice"));
        e.trees[0].nodes[0] = Node::Split {
            feature: 0,
            threshold: 1,
            left: 1,
            right: 7,
        };
        assert!(format!("{:#}", e.validate().unwrap_err()).contains("outside"));
        e.trees[0].nodes[0] = Node::Split {
            feature: 9,
            threshold: 1,
            left: 1,
            right: 1,
        };
        assert!(e.validate().is_err());
    }

    #[test]
    fn absent_class_bound_is_enforced() {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(stump(0, 1));
        e.base_scores[1] = ABSENT_SCORE;
        e.validate().unwrap();
        e.base_scores[0] = (SCORE_BOUND + 1) as i32;
        assert!(e.validate().is_err());
    }
}
