/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: the bounded, verifier-safe walk of an integer tree ensemble.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_WALK_BPF_H
#define __ARBOR_WALK_BPF_H

/*
 * Walk the installed ensemble over @feat. Returns the predicted class, or
 * ARBOR_CLASS_FALLBACK when no model is installed or the walk failed. The
 * semantics are those of flat::walk (src/model/flat.rs), which tests them
 * in userspace.
 */
static u32 walk_model(void *slot, const u32 *feat, struct arbor_cpu_stats *st,
		      u64 *gen)
{
	s64 acc[ARBOR_NR_CLASSES];
	struct arbor_model *m;
	u32 nr_trees, nr_nodes, nr_leaves, nr_classes;
	u32 zero = 0, c, best;
	u64 base, steps;
	bool failed = false, torn = false;
	s64 best_score;
	void *inner;
	int t, d;
	u16 tag;

	*gen = 0;
	inner = bpf_map_lookup_elem(slot, &zero);
	if (!inner)
		return ARBOR_CLASS_FALLBACK;
	m = bpf_map_lookup_elem(inner, &zero);
	if (!m)
		return ARBOR_CLASS_FALLBACK;

	if (m->gen_head != m->gen_tail) {
		st->torn_reads++;
		return ARBOR_CLASS_FALLBACK;
	}
	*gen = m->gen_head;
	tag = (u16)m->gen_head;
	nr_trees = m->nr_trees;
	nr_nodes = m->nr_nodes;
	nr_leaves = m->nr_leaves;
	nr_classes = m->nr_classes;
	if (nr_trees > ARBOR_MAX_TREES || !nr_classes ||
	    nr_classes > ARBOR_NR_CLASSES) {
		st->walk_errors++;
		return ARBOR_CLASS_FALLBACK;
	}

	for (c = 0; c < ARBOR_NR_CLASSES; c++)
		acc[c] = m->base_scores[c];

	/*
	 * Count this walk's steps on top of the CPU's running total, read from
	 * the map: a counter starting at a constant 0 would let the verifier
	 * decide the budget test on every iteration, which marks the counter
	 * precise, and the loops would then never converge (one verifier
	 * pass per step).
	 */
	base = st->walk_steps;
	steps = base;

	/*
	 * One tree after the other; within a tree at most ARBOR_MAX_DEPTH
	 * splits and a leaf, and at most ARBOR_MAX_WALK_STEPS nodes in all
	 * (the loader refuses a model whose worst-case walk is longer). Both
	 * loops are open-coded iterators, so the verifier checks each body
	 * once rather than every path.
	 */
	bpf_for(t, 0, nr_trees) {
		bool reached = false;
		u32 idx;

		if (t >= ARBOR_MAX_TREES)
			break;
		idx = m->roots[t];
		bpf_for(d, 0, ARBOR_MAX_DEPTH + 1) {
			struct arbor_node *n;
			u32 leaf, f, k;

			if (idx >= nr_nodes || idx >= ARBOR_MAX_NODES ||
			    steps - base >= ARBOR_MAX_WALK_STEPS)
				break;
			n = &m->nodes[idx];
			steps++;
			if (n->gen_tag != tag) {
				torn = true;
				break;
			}
			if (n->feature == ARBOR_LEAF) {
				leaf = n->left;
				if (leaf >= nr_leaves || leaf >= ARBOR_MAX_LEAVES)
					break;
				for (k = 0; k < ARBOR_NR_CLASSES; k++)
					acc[k] += m->leaves[leaf][k];
				reached = true;
				break;
			}
			f = n->feature;
			if (f >= ARBOR_NR_FEATURES)
				break;
			idx = feat[f] <= n->threshold ? n->left : n->right;
		}
		if (!reached) {
			failed = true;
			break;
		}
	}
	st->walk_steps = steps;

	if (torn) {
		st->torn_reads++;
		return ARBOR_CLASS_FALLBACK;
	}
	if (failed) {
		st->walk_errors++;
		return ARBOR_CLASS_FALLBACK;
	}

	best = 0;
	best_score = acc[0];
	for (c = 1; c < ARBOR_NR_CLASSES; c++) {
		if (c < nr_classes && acc[c] > best_score) {
			best = c;
			best_score = acc[c];
		}
	}
	return best;
}

/*
 * A walk's input and output, on the caller's stack: global functions take
 * pointers to memory of a known size only.
 */
struct walk_io {
	u32 feat[ARBOR_NR_FEATURES];
	u64 gen;
	u32 action;
};

/*
 * The live and the shadow model's walk as global functions: the verifier
 * checks each once, not at every decision point that calls it.
 */
__noinline int walk_live(struct walk_io *io)
{
	struct arbor_cpu_stats *st = this_cpu_stats();

	if (!io)
		return 0;
	io->gen = 0;
	io->action = ARBOR_CLASS_FALLBACK;
	if (!st)
		return 0;
	io->action = walk_model(&model_slot, io->feat, st, &io->gen);
	return 0;
}

__noinline int walk_shadow(struct walk_io *io)
{
	struct arbor_cpu_stats *st = this_cpu_stats();

	if (!io)
		return 0;
	io->gen = 0;
	io->action = ARBOR_CLASS_FALLBACK;
	if (!st)
		return 0;
	io->action = walk_model(&shadow_slot, io->feat, st, &io->gen);
	return 0;
}

#endif /* __ARBOR_WALK_BPF_H */
