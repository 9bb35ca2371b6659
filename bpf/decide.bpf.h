/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: the decision. What a task's coming burst is (its class, from
 * the installed ensemble over its features, or the oracle's where one is
 * published), taken at its wakeup, again at a tick once the burst outruns
 * its class, and for a waker; the class's action row gives the task its
 * request and slice.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_DECIDE_BPF_H
#define __ARBOR_DECIDE_BPF_H

/* CPU time @p has run in its current burst, ns, as far as the kernel has counted it */
static u64 burst_elapsed_ns(struct task_struct *p, struct task_ctx *tctx)
{
	u64 exec = p->se.sum_exec_runtime;

	return tctx->burst_ns +
	       (exec > tctx->charged_exec ? exec - tctx->charged_exec : 0);
}

/*
 * The class of @p's current burst as the oracle knows it: the CPU time it
 * has run in it plus what the workload said it will still run. -1 where the
 * oracle knows nothing (or only a burst that is over).
 */
static s32 oracle_class(struct task_struct *p, struct task_ctx *tctx,
			bool running)
{
	struct arbor_oracle *o;
	u32 pid = p->pid;
	u64 exec = p->se.sum_exec_runtime, total;

	if (!oracle_enabled)
		return -1;
	o = bpf_map_lookup_elem(&oracle, &pid);
	if (!o || o->end_exec_ns <= exec)
		return -1;
	total = o->end_exec_ns - exec;
	if (running)
		total += burst_elapsed_ns(p, tctx);
	return class_of_burst(sat_u32(total / NSEC_PER_USEC));
}

/*
 * The class of @p's current burst from @feat (the oracle's where it knows
 * it): an action row, ARBOR_CLASS_FALLBACK without a model. *@gen is the
 * deciding model's generation (0: none); *@by_oracle whether the oracle
 * decided. A burst that has already run past a class's bound is at least
 * of the next class, whatever the model says. While the guard has the model
 * off, the fallback row decides (waits.bpf.h).
 */
static __always_inline u32
classify(struct task_struct *p, struct task_ctx *tctx, u32 *feat,
	 bool running, struct arbor_cpu_stats *st, u64 *gen, bool *by_oracle)
{
	s32 known = oracle_class(p, tctx, running);
	struct walk_io io;
	u32 action, floor, i;

	*by_oracle = known >= 0;
	if (known >= 0) {
		*gen = 0;
		st->oracle_decisions++;
		action = known;
	} else if (guard_model_off()) {
		*gen = 0;
		st->guard_fallback_decisions++;
		action = ARBOR_CLASS_FALLBACK;
	} else {
		for (i = 0; i < ARBOR_NR_FEATURES; i++)
			io.feat[i] = feat[i];
		walk_live(&io);
		*gen = io.gen;
		action = io.action;
	}
	floor = class_of_burst(feat[ARBOR_F_ELAPSED_US]);
	if (action < ARBOR_NR_CLASSES && action < floor)
		action = floor;
	return action;
}

/* The action row @action's slice and request become @p's */
static void take_action(struct task_ctx *tctx, u32 action)
{
	struct arbor_action *act = bpf_map_lookup_elem(&actions, &action);

	if (act && act->slice_ns && act->request_ns) {
		tctx->slice_ns = act->slice_ns;
		tctx->request_ns = act->request_ns;
	} else {
		tctx->slice_ns = DEFAULT_SLICE_NS;
		tctx->request_ns = DEFAULT_SLICE_NS;
	}
	tctx->action = action;
}

/* The features that depend on the moment: weight, CPUs, load */
static void refresh_features(struct task_struct *p, struct task_ctx *tctx)
{
	tctx->feat[ARBOR_F_WEIGHT] = sat_u32(p->scx.weight);
	tctx->feat[ARBOR_F_NR_CPUS_ALLOWED] = sat_u32(p->nr_cpus_allowed);
	tctx->feat[ARBOR_F_RUNNABLE_LOAD] =
		sat_u32(scx_bpf_dsq_nr_queued(llc_dsq(scx_bpf_task_cpu(p))));
}

/*
 * Classify the burst that is starting and take the class's request and slice.
 * The features are snapshotted so that the outcome sample carries exactly
 * what the decision saw.
 */
static void decide(struct task_struct *p, struct task_ctx *tctx)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	bool by_oracle;
	u32 action, i;
	u64 gen;

	if (!st)
		return;

	refresh_features(p, tctx);
	tctx->feat[ARBOR_F_ELAPSED_US] = 0;
	tctx->feat[ARBOR_F_WAKES_IN_BURST] = 0;
	for (i = 0; i < ARBOR_NR_FEATURES; i++)
		tctx->dfeat[i] = tctx->feat[i];

	action = classify(p, tctx, tctx->dfeat, false, st, &gen, &by_oracle);
	if (gen)
		st->generation = gen;

	tctx->shadow = ARBOR_NO_SHADOW;
	if (bpf_map_lookup_elem(&shadow_slot, &(u32){0})) {
		struct walk_io io;

		for (i = 0; i < ARBOR_NR_FEATURES; i++)
			io.feat[i] = tctx->dfeat[i];
		walk_shadow(&io);
		if (io.gen && io.action < ARBOR_NR_CLASSES) {
			tctx->shadow = io.action;
			st->shadow_generation = io.gen;
			st->shadow_decisions++;
		}
	}

	take_action(tctx, action);
	tctx->daction = action;
	tctx->mpoint = 0;
	tctx->oracle = by_oracle ? 1 : 0;
	tctx->generation = gen;
	tctx->decided = true;
	if (action < ARBOR_NR_ACTIONS)
		st->decisions[action]++;
}

/*
 * A decision in the middle of @p's burst, at @point, from what is known of
 * the burst so far (its CPU time, the wakeups it issued): the snapshot
 * becomes the burst's mid-burst sample. Returns the action row.
 */
static u32 decide_mid_burst(struct task_struct *p, struct task_ctx *tctx,
			    u32 point, struct arbor_cpu_stats *st)
{
	bool by_oracle;
	u32 action, i;
	u64 gen;

	refresh_features(p, tctx);
	for (i = 0; i < ARBOR_NR_FEATURES; i++)
		tctx->mfeat[i] = tctx->feat[i];
	tctx->mfeat[ARBOR_F_ELAPSED_US] =
		sat_u32(burst_elapsed_ns(p, tctx) / NSEC_PER_USEC);
	tctx->mfeat[ARBOR_F_WAKES_IN_BURST] = tctx->wakes_in_burst;

	action = classify(p, tctx, tctx->mfeat, true, st, &gen, &by_oracle);
	tctx->maction = action;
	tctx->mpoint = point;
	if (by_oracle)
		tctx->oracle |= 2;
	else
		tctx->oracle &= ~2;
	return action;
}

/*
 * At a tick: a burst that has run past the bound of its class (the wakeup
 * decision was too short) is decided again with what is known of it now,
 * and takes the new class's request and slice from its next request on.
 */
static void redecide_at_tick(struct task_struct *p, struct task_ctx *tctx)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	u32 bound, action;

	if (!st || !tctx->decided)
		return;
	if (tctx->action >= ARBOR_NR_CLASSES) {
		/*
		 * No model: nothing to re-decide, but one mid-burst decision
		 * per burst once it runs past the tiny bound, for its sample:
		 * recordings taken without a model then teach the mid-burst
		 * decision too. Its action (the fallback) is not taken.
		 */
		if (tctx->mpoint ||
		    burst_elapsed_ns(p, tctx) <= ARBOR_BOUND_TINY_US * NSEC_PER_USEC)
			return;
		decide_mid_burst(p, tctx, ARBOR_POINT_TICK, st);
		st->tick_decisions++;
		return;
	}
	if (tctx->action >= ARBOR_CLASS_LONG)
		return;
	switch (tctx->action) {
	case ARBOR_CLASS_TINY:
		bound = ARBOR_BOUND_TINY_US;
		break;
	case ARBOR_CLASS_SHORT:
		bound = ARBOR_BOUND_SHORT_US;
		break;
	default:
		bound = ARBOR_BOUND_MEDIUM_US;
		break;
	}
	if (burst_elapsed_ns(p, tctx) <= bound * NSEC_PER_USEC)
		return;
	action = decide_mid_burst(p, tctx, ARBOR_POINT_TICK, st);
	if (action < ARBOR_NR_CLASSES)
		take_action(tctx, action);
	st->tick_decisions++;
}

#endif /* __ARBOR_DECIDE_BPF_H */
