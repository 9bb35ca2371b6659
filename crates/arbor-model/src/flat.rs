//! The flat `struct arbor_model` that BPF walks, and a Rust walker with
//! exactly the BPF semantics.
//!
//! Layout produced by [`flatten`]: the nodes of every tree in one array, each
//! tree in depth-first pre-order starting at `roots[t]`, children as absolute
//! `u16` indices; leaf rows numbered in the same order. Every node carries
//! `gen_tag = generation & 0xffff`; `gen_head == gen_tail == generation`.
//! Classes the model never predicts get [`ABSENT_SCORE`] as base score.
//!
//! [`walk`] is the specification of the BPF walk:
//!
//! ```text
//! if gen_head != gen_tail -> Torn
//! if nr_classes == 0 or nr_classes > NR_CLASSES -> Error
//! acc[c] = base_scores[c] (s64) for c < NR_CLASSES; tree = 0; idx = roots[0]; steps = 0
//! repeat MAX_WALK_STEPS times:
//!    if tree >= nr_trees: break
//!    if idx >= nr_nodes or idx >= MAX_NODES: Error
//!    node = nodes[idx]; steps += 1
//!    if node.gen_tag != (u16)gen_head: Torn
//!    if node.feature == LEAF:
//!        if node.left >= nr_leaves (or >= MAX_LEAVES): Error
//!        acc[c] += leaves[node.left][c] for every c; tree += 1
//!        if tree < MAX_TREES: idx = roots[tree]
//!    else:
//!        if node.feature >= NR_FEATURES: Error
//!        idx = x[node.feature] <= node.threshold ? node.left : node.right
//! if tree < nr_trees: Error   (ran out of steps)
//! class = argmax over c < nr_classes of acc[c], ties to the lowest c
//! ```

use anyhow::{ensure, Context, Result};

use super::ensemble::{clamp_threshold, Ensemble, Node, ABSENT_SCORE};
use arbor_intf::bpf_intf::{arbor_model, arbor_node};
use arbor_intf::schema::{
    LEAF, MAX_LEAVES, MAX_NODES, MAX_TREES, MAX_WALK_STEPS, NR_CLASSES, NR_FEATURES,
};

/// Allocates a zeroed `arbor_model` on the heap (it is ~82 KB).
pub fn zeroed_model() -> Box<arbor_model> {
    use zerocopy::FromZeros;
    arbor_model::new_box_zeroed().unwrap_or_else(|_| {
        std::alloc::handle_alloc_error(std::alloc::Layout::new::<arbor_model>())
    })
}

/// Lays an ensemble out as the BPF map value for model `generation`.
///
/// Validates the ensemble first; the flat model then satisfies every check of
/// [`walk`] for every input (no `Error` outcome is reachable).
pub fn flatten(e: &Ensemble, generation: u64) -> Result<Box<arbor_model>> {
    e.validate().context("model does not fit the BPF limits")?;
    let tag = (generation & 0xffff) as u16;
    let mut m = zeroed_model();
    m.gen_head = generation;
    m.gen_tail = generation;
    m.schema_version = e.schema_version;
    m.nr_trees = e.trees.len() as u32;
    m.nr_classes = e.nr_classes as u32;
    m.score_frac_bits = e.score_frac_bits;
    for c in 0..NR_CLASSES {
        m.base_scores[c] = if c < e.nr_classes {
            e.base_scores[c]
        } else {
            ABSENT_SCORE
        };
    }
    let mut nr_nodes = 0usize;
    let mut nr_leaves = 0usize;
    for (t, tree) in e.trees.iter().enumerate() {
        m.roots[t] = nr_nodes as u32;
        // Pre-order: assign absolute indices, then fill.
        let mut order = Vec::with_capacity(tree.nodes.len());
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            order.push(i);
            if let Node::Split { left, right, .. } = &tree.nodes[i] {
                stack.push(*right as usize);
                stack.push(*left as usize);
            }
        }
        let mut abs = vec![0u16; tree.nodes.len()];
        for (k, &i) in order.iter().enumerate() {
            abs[i] = (nr_nodes + k) as u16;
        }
        for &i in &order {
            let slot = nr_nodes;
            nr_nodes += 1;
            m.nodes[slot] = match &tree.nodes[i] {
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => arbor_node {
                    threshold: clamp_threshold(*threshold),
                    feature: *feature,
                    gen_tag: tag,
                    left: abs[*left as usize],
                    right: abs[*right as usize],
                },
                Node::Leaf { scores } => {
                    let row = nr_leaves;
                    nr_leaves += 1;
                    m.leaves[row] = *scores;
                    arbor_node {
                        threshold: 0,
                        feature: LEAF,
                        gen_tag: tag,
                        left: row as u16,
                        right: row as u16,
                    }
                }
            };
        }
    }
    ensure!(nr_nodes <= MAX_NODES && nr_leaves <= MAX_LEAVES);
    m.nr_nodes = nr_nodes as u32;
    m.nr_leaves = nr_leaves as u32;
    Ok(m)
}

/// Why a walk produced no class; the BPF side then uses the fallback row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkFault {
    /// `gen_head != gen_tail` or a node's `gen_tag` is of another generation.
    Torn,
    /// Index out of range, bad feature, or the step budget ran out.
    Error,
}

/// A successful walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// Predicted class.
    pub class: usize,
    /// Nodes visited.
    pub steps: u32,
}

/// One split a walk took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Tree the split belongs to.
    pub tree: usize,
    /// Schema feature it tests.
    pub feature: usize,
    /// The row's value of that feature.
    pub value: u32,
    /// `value <= threshold` goes left.
    pub threshold: u32,
    /// True when the walk went left.
    pub left: bool,
}

/// Walks the flat model on one row, exactly as the BPF policy does.
pub fn walk(m: &arbor_model, x: &[u32; NR_FEATURES]) -> Result<Walk, WalkFault> {
    walk_recording(m, x, None)
}

/// [`walk`], also returning every split taken, in order.
pub fn trace(m: &arbor_model, x: &[u32; NR_FEATURES]) -> Result<(Walk, Vec<Step>), WalkFault> {
    let mut steps = Vec::new();
    let w = walk_recording(m, x, Some(&mut steps))?;
    Ok((w, steps))
}

fn walk_recording(
    m: &arbor_model,
    x: &[u32; NR_FEATURES],
    mut record: Option<&mut Vec<Step>>,
) -> Result<Walk, WalkFault> {
    if m.gen_head != m.gen_tail {
        return Err(WalkFault::Torn);
    }
    let nr_classes = m.nr_classes as usize;
    if nr_classes == 0 || nr_classes > NR_CLASSES {
        return Err(WalkFault::Error);
    }
    let tag = (m.gen_head & 0xffff) as u16;
    let mut acc = [0i64; NR_CLASSES];
    for (a, &b) in acc.iter_mut().zip(m.base_scores.iter()) {
        *a = i64::from(b);
    }
    let mut tree = 0usize;
    let mut idx = m.roots[0] as usize;
    let mut steps = 0u32;
    for _ in 0..MAX_WALK_STEPS {
        if tree >= m.nr_trees as usize {
            break;
        }
        if idx >= m.nr_nodes as usize || idx >= MAX_NODES {
            return Err(WalkFault::Error);
        }
        let node = &m.nodes[idx];
        steps += 1;
        if node.gen_tag != tag {
            return Err(WalkFault::Torn);
        }
        if node.feature == LEAF {
            let leaf = node.left as usize;
            if leaf >= m.nr_leaves as usize || leaf >= MAX_LEAVES {
                return Err(WalkFault::Error);
            }
            for (a, &s) in acc.iter_mut().zip(m.leaves[leaf].iter()) {
                *a += i64::from(s);
            }
            tree += 1;
            if tree < MAX_TREES {
                idx = m.roots[tree] as usize;
            }
        } else {
            let f = node.feature as usize;
            if f >= NR_FEATURES {
                return Err(WalkFault::Error);
            }
            let left = x[f] <= node.threshold;
            if let Some(r) = record.as_deref_mut() {
                r.push(Step {
                    tree,
                    feature: f,
                    value: x[f],
                    threshold: node.threshold,
                    left,
                });
            }
            idx = if left { node.left } else { node.right } as usize;
        }
    }
    if tree < m.nr_trees as usize {
        return Err(WalkFault::Error);
    }
    Ok(Walk {
        class: super::ensemble::argmax(&acc[..nr_classes]),
        steps,
    })
}

/// Bytes of the BPF map value.
pub const MODEL_BYTES: usize = std::mem::size_of::<arbor_model>();

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::Tree;
    use arbor_intf::schema::FEATURE_MAX;

    fn leaf(scores: [i32; NR_CLASSES]) -> Node {
        Node::Leaf { scores }
    }

    /// Two trees: t0 splits f1 <= 10 (class 0 : class 1), t1 splits f3 <= 5 then f0 <= 7.
    fn sample() -> Ensemble {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(Tree {
            nodes: vec![
                Node::Split {
                    feature: 1,
                    threshold: 10,
                    left: 1,
                    right: 2,
                },
                leaf([100, 0, 0, 0]),
                leaf([0, 100, 0, 0]),
            ],
        });
        e.trees.push(Tree {
            nodes: vec![
                Node::Split {
                    feature: 3,
                    threshold: 5,
                    left: 1,
                    right: 2,
                },
                leaf([0, 0, 50, 0]),
                Node::Split {
                    feature: 0,
                    threshold: 7,
                    left: 3,
                    right: 4,
                },
                leaf([0, 0, 0, 150]),
                leaf([0, 0, 0, 0]),
            ],
        });
        e
    }

    fn row(pairs: &[(usize, u32)]) -> [u32; NR_FEATURES] {
        let mut x = [0; NR_FEATURES];
        for &(f, v) in pairs {
            x[f] = v;
        }
        x
    }

    #[test]
    fn layout_is_preorder_with_absolute_children() {
        let m = flatten(&sample(), 0x1_2345).unwrap();
        assert_eq!(m.gen_head, 0x1_2345);
        assert_eq!(m.gen_tail, 0x1_2345);
        assert_eq!(m.nr_trees, 2);
        assert_eq!(m.nr_nodes, 8);
        assert_eq!(m.nr_leaves, 5);
        assert_eq!(&m.roots[..3], &[0, 3, 0]);
        assert!(m.nodes[..8].iter().all(|n| n.gen_tag == 0x2345));
        assert_eq!((m.nodes[3].left, m.nodes[3].right), (4, 5));
        assert_eq!((m.nodes[5].left, m.nodes[5].right), (6, 7));
        assert_eq!(m.nodes[4].feature, LEAF);
        assert_eq!(m.leaves[m.nodes[6].left as usize], [0, 0, 0, 150]);
        assert_eq!(MODEL_BYTES, std::mem::size_of_val(&*m));
    }

    #[test]
    fn walk_matches_ir_and_counts_steps() {
        let e = sample();
        let m = flatten(&e, 7).unwrap();
        // x1 == threshold goes left (class 0 +100), x3 == 5 left (class 2 +50).
        let x = row(&[(1, 10), (3, 5)]);
        assert_eq!(walk(&m, &x), Ok(Walk { class: 0, steps: 4 }));
        // x1 = 11 right: class 1 100; x3 = 6, x0 = 7 left: class 3 150.
        let x = row(&[(1, 11), (3, 6), (0, 7)]);
        assert_eq!(walk(&m, &x), Ok(Walk { class: 3, steps: 5 }));
        let x = row(&[(1, 11), (3, 6), (0, 8)]);
        assert_eq!(walk(&m, &x), Ok(Walk { class: 1, steps: 5 }));
        for a in 0..20 {
            for b in 0..12 {
                let x = row(&[(0, a), (1, b), (3, a / 2)]);
                assert_eq!(walk(&m, &x).unwrap().class, e.predict(&x).unwrap());
            }
        }
    }

    #[test]
    fn trace_records_every_split_taken() {
        let m = flatten(&sample(), 7).unwrap();
        let x = row(&[(1, 11), (3, 6), (0, 7)]);
        let (w, path) = trace(&m, &x).unwrap();
        assert_eq!(w, walk(&m, &x).unwrap());
        let got: Vec<(usize, usize, u32, u32, bool)> = path
            .iter()
            .map(|s| (s.tree, s.feature, s.value, s.threshold, s.left))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 1, 11, 10, false),
                (1, 3, 6, 5, false),
                (1, 0, 7, 7, true)
            ]
        );
    }

    #[test]
    fn ties_go_to_the_lowest_class() {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(Tree {
            nodes: vec![leaf([0, 5, 5, 5])],
        });
        let m = flatten(&e, 1).unwrap();
        assert_eq!(walk(&m, &[0; NR_FEATURES]).unwrap().class, 1);
        e.trees[0].nodes[0] = leaf([0, 0, 0, 0]);
        let m = flatten(&e, 1).unwrap();
        assert_eq!(walk(&m, &[0; NR_FEATURES]).unwrap().class, 0);
    }

    #[test]
    fn absent_classes_never_win() {
        let mut e = Ensemble::new(2, 8);
        e.trees.push(Tree {
            nodes: vec![leaf([-1000, -2000, 0, 0])],
        });
        let m = flatten(&e, 1).unwrap();
        assert_eq!(m.base_scores[2], ABSENT_SCORE);
        assert_eq!(m.nr_classes, 2);
        assert_eq!(walk(&m, &[0; NR_FEATURES]).unwrap().class, 0);
    }

    #[test]
    fn thresholds_at_feature_max_always_go_left() {
        let mut e = Ensemble::new(4, 8);
        e.trees.push(Tree {
            nodes: vec![
                Node::Split {
                    feature: 0,
                    threshold: u32::MAX,
                    left: 1,
                    right: 2,
                },
                leaf([0, 1, 0, 0]),
                leaf([0, 0, 1, 0]),
            ],
        });
        let m = flatten(&e, 1).unwrap();
        assert_eq!(m.nodes[0].threshold, FEATURE_MAX);
        let x = row(&[(0, FEATURE_MAX)]);
        assert_eq!(walk(&m, &x).unwrap().class, 1);
    }

    #[test]
    fn torn_header_and_torn_nodes() {
        let mut m = flatten(&sample(), 0x10001).unwrap();
        let x = row(&[(1, 11), (3, 6)]);
        assert!(walk(&m, &x).is_ok());
        m.gen_tail = 0x10002;
        assert_eq!(walk(&m, &x), Err(WalkFault::Torn));
        m.gen_tail = m.gen_head;
        // A node of the second tree left over from generation 0x0002.
        m.nodes[5].gen_tag = 0x0002;
        assert_eq!(walk(&m, &x), Err(WalkFault::Torn));
        // A row that never visits node 5 is fine.
        assert!(walk(&m, &row(&[(3, 0)])).is_ok());
        // Same low 16 bits, different generation: header check is what catches it.
        let mut m2 = flatten(&sample(), 0x20001).unwrap();
        m2.gen_head = 0x10001;
        assert_eq!(walk(&m2, &x), Err(WalkFault::Torn));
    }

    #[test]
    fn out_of_range_indices_are_errors() {
        let base = flatten(&sample(), 3).unwrap();
        let x = row(&[(1, 11), (3, 6)]);

        let mut m = base.clone();
        m.nodes[0].right = 4000; // beyond nr_nodes
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));

        let mut m = base.clone();
        m.roots[1] = u32::MAX;
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));

        let mut m = base.clone();
        m.nodes[2].left = 5; // leaf row beyond nr_leaves
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));

        let mut m = base.clone();
        m.nodes[0].feature = NR_FEATURES as u16;
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));

        let mut m = base.clone();
        m.nr_classes = 0;
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));

        // A cycle: the root of tree 1 points to itself; the step budget runs out.
        let mut m = base.clone();
        m.nodes[3].left = 3;
        m.nodes[3].right = 3;
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));

        // Fewer nodes claimed than used: the second tree is out of range.
        let mut m = base.clone();
        m.nr_nodes = 3;
        assert_eq!(walk(&m, &x), Err(WalkFault::Error));
        // A zeroed model (generation 0, no trees) predicts class 0 with no steps.
        let mut z = zeroed_model();
        z.nr_classes = 4;
        assert_eq!(walk(&z, &x), Ok(Walk { class: 0, steps: 0 }));
    }

    /// A right-leaning chain of `depth` splits on feature 0: x0 large walks
    /// all of it to the deepest leaf (class 1).
    fn chain(depth: usize) -> Tree {
        let mut nodes = Vec::new();
        for i in 0..depth {
            let b = nodes.len() as u32;
            nodes.push(Node::Split {
                feature: 0,
                threshold: i as u32,
                left: b + 1,
                right: b + 2,
            });
            nodes.push(leaf([1, 0, 0, 0]));
        }
        nodes.push(leaf([0, 1, 0, 0]));
        Tree { nodes }
    }

    #[test]
    fn a_walk_of_exactly_the_budget_completes() {
        use arbor_intf::schema::MAX_DEPTH;
        // 20 chains at the depth limit (500 nodes walked) and one of 11 (12).
        let mut e = Ensemble::new(4, 8);
        e.trees = vec![chain(MAX_DEPTH); 20];
        e.trees.push(chain(11));
        assert_eq!(e.validate().unwrap().walk, MAX_WALK_STEPS);
        let m = flatten(&e, 9).unwrap();
        let w = walk(&m, &row(&[(0, 1000)])).unwrap();
        assert_eq!(w.steps as usize, MAX_WALK_STEPS);
        assert_eq!(w.class, 1);
        // One node more is refused by the loader, and a flat model that
        // claims it anyway runs out of steps in the walk.
        e.trees.push(chain(0));
        assert!(e.validate().is_err());
        let mut m2 = m.clone();
        m2.nr_trees += 1;
        m2.roots[21] = m2.nodes[..m2.nr_nodes as usize]
            .iter()
            .position(|n| n.feature == LEAF)
            .unwrap() as u32;
        assert_eq!(walk(&m2, &row(&[(0, 1000)])), Err(WalkFault::Error));
        // ... while a short walk over the same 22 roots is fine.
        assert!(walk(&m2, &row(&[(0, 0)])).is_ok());
    }

    #[test]
    fn the_tree_limit_is_128_trees() {
        let mut e = Ensemble::new(4, 8);
        e.trees = vec![chain(2); MAX_TREES];
        let m = flatten(&e, 3).unwrap();
        assert_eq!(m.nr_trees as usize, MAX_TREES);
        assert_eq!(walk(&m, &row(&[(0, 1000)])).unwrap().steps, 3 * 128);
    }
}
