//! The trees of an ONNX tree-ensemble node as its attributes give them,
//! before any conversion: nodes, splits, children and leaf weights, checked
//! for shape.

use std::collections::{BTreeSet, HashMap};

use super::onnx_pb::NodeProto;
use anyhow::{anyhow, bail, ensure, Context, Result};

use super::onnx_attrs::{self as attr, META_FEATURES};
use super::threshold::Mode;

/// One node of an ONNX tree before conversion.
#[derive(Debug, Clone)]
pub(crate) struct RawNode {
    /// `(mode, input column, threshold)` of a split; `None` for a leaf.
    pub(crate) split: Option<(Mode, usize, f64)>,
    /// Local index of the child taken when the test holds.
    pub(crate) on_true: usize,
    /// Local index of the child taken otherwise.
    pub(crate) on_false: usize,
    /// Leaf weights: `(score column, weight)`.
    pub(crate) weights: Vec<(usize, f64)>,
}

/// One ONNX tree.
#[derive(Debug, Clone)]
pub(crate) struct RawTree {
    pub(crate) nodes: Vec<RawNode>,
    pub(crate) root: usize,
}

pub(crate) fn as_index(v: i64, what: &str) -> Result<usize> {
    usize::try_from(v).map_err(|_| anyhow!("{what} {v} is negative"))
}

/// Reads the node and leaf attributes into per-tree node tables.
pub(crate) fn parse_raw(node: &NodeProto, prefix: &str, ncols: usize) -> Result<Vec<RawTree>> {
    let tree_ids = attr::ints(node, "nodes_treeids")?;
    let n = tree_ids.len();
    ensure!(n > 0, "the model has no tree nodes");
    let len_ok = |name: &str, len: usize| -> Result<()> {
        ensure!(len == n, "{name} has {len} entries, nodes_treeids {n}");
        Ok(())
    };
    let node_ids = attr::ints(node, "nodes_nodeids")?;
    len_ok("nodes_nodeids", node_ids.len())?;
    let feats = attr::ints(node, "nodes_featureids")?;
    len_ok("nodes_featureids", feats.len())?;
    let modes = attr::strings(node, "nodes_modes")?;
    len_ok("nodes_modes", modes.len())?;
    let values = attr::reals(node, "nodes_values")?;
    len_ok("nodes_values", values.len())?;
    let trues = attr::ints(node, "nodes_truenodeids")?;
    len_ok("nodes_truenodeids", trues.len())?;
    let falses = attr::ints(node, "nodes_falsenodeids")?;
    len_ok("nodes_falsenodeids", falses.len())?;

    // (tree id, node id) -> (tree index, local index)
    let tree_order: BTreeSet<i64> = tree_ids.iter().copied().collect();
    let tree_index: HashMap<i64, usize> = tree_order
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, i))
        .collect();
    let mut trees: Vec<Vec<usize>> = vec![Vec::new(); tree_order.len()];
    let mut where_is: HashMap<(i64, i64), (usize, usize)> = HashMap::with_capacity(n);
    for i in 0..n {
        let t = tree_index[&tree_ids[i]];
        let local = trees[t].len();
        trees[t].push(i);
        ensure!(
            where_is
                .insert((tree_ids[i], node_ids[i]), (t, local))
                .is_none(),
            "tree {} has two nodes with id {}",
            tree_ids[i],
            node_ids[i]
        );
    }
    let child = |i: usize, id: i64, what: &str| -> Result<usize> {
        match where_is.get(&(tree_ids[i], id)) {
            Some(&(_, local)) => Ok(local),
            None => bail!(
                "tree {} node {}: {what} child {id} does not exist (dangling child id)",
                tree_ids[i],
                node_ids[i]
            ),
        }
    };
    let mut out: Vec<RawTree> = Vec::with_capacity(trees.len());
    for members in &trees {
        let mut nodes = Vec::with_capacity(members.len());
        for &i in members {
            let mode = Mode::parse(&modes[i])
                .with_context(|| format!("tree {} node {}", tree_ids[i], node_ids[i]))?;
            let split = match mode {
                None => None,
                Some(mode) => {
                    let col = as_index(feats[i], "feature id")?;
                    ensure!(
                        col < ncols,
                        "tree {} node {} splits on input column {col} but {META_FEATURES} \
                         names only {ncols} columns",
                        tree_ids[i],
                        node_ids[i]
                    );
                    Some((mode, col, values[i]))
                }
            };
            let (on_true, on_false) = if split.is_some() {
                (child(i, trues[i], "true")?, child(i, falses[i], "false")?)
            } else {
                (0, 0)
            };
            nodes.push(RawNode {
                split,
                on_true,
                on_false,
                weights: Vec::new(),
            });
        }
        // The root is the one node no other node names as a child.
        let mut is_child = vec![false; nodes.len()];
        for nd in &nodes {
            if nd.split.is_some() {
                is_child[nd.on_true] = true;
                is_child[nd.on_false] = true;
            }
        }
        let roots: Vec<usize> = (0..nodes.len()).filter(|&i| !is_child[i]).collect();
        let root = match roots.as_slice() {
            [r] => *r,
            [] => bail!(
                "tree {} has no root: its child ids form a cycle",
                tree_ids[members[0]]
            ),
            many => bail!(
                "tree {} has {} nodes that are nobody's child (expected one root)",
                tree_ids[members[0]],
                many.len()
            ),
        };
        out.push(RawTree { nodes, root });
    }

    // Leaf weights.
    let name = |s: &str| format!("{prefix}_{s}");
    let l_tree = attr::ints(node, &name("treeids"))?;
    let m = l_tree.len();
    let l_node = attr::ints(node, &name("nodeids"))?;
    let l_ids = attr::ints(node, &name("ids"))?;
    let l_w = attr::reals(node, &name("weights"))?;
    ensure!(
        l_node.len() == m && l_ids.len() == m && l_w.len() == m,
        "{prefix}_treeids/nodeids/ids/weights have different lengths ({m}, {}, {}, {})",
        l_node.len(),
        l_ids.len(),
        l_w.len()
    );
    for k in 0..m {
        let &(t, local) = where_is.get(&(l_tree[k], l_node[k])).ok_or_else(|| {
            anyhow!(
                "a leaf weight names tree {} node {}, which does not exist",
                l_tree[k],
                l_node[k]
            )
        })?;
        let nd = &mut out[t].nodes[local];
        ensure!(
            nd.split.is_none(),
            "a leaf weight names tree {} node {}, which is a split",
            l_tree[k],
            l_node[k]
        );
        ensure!(
            l_w[k].is_finite(),
            "tree {} leaf {} has weight {}: refusing non-finite scores",
            l_tree[k],
            l_node[k],
            l_w[k]
        );
        nd.weights.push((as_index(l_ids[k], "class id")?, l_w[k]));
    }
    Ok(out)
}
