/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: a task's own account. The CPU time it is charged (to its
 * vruntime, its burst and its LLC's V), the end of a burst (features,
 * counters, samples), a wakeup (sleep features, the decision, its place
 * in V) and its deadline, one request past its vruntime.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_TASK_BPF_H
#define __ARBOR_TASK_BPF_H

/* A new request starts: the deadline moves one request past the vruntime */
static void new_deadline(struct task_struct *p, struct task_ctx *tctx)
{
	tctx->deadline = tctx->vruntime +
		scale_by_task_weight_inverse(p, tctx->request_ns);
}

/*
 * The burst ended (the task slept, or it ran past ARBOR_BURST_TRUNC_US):
 * update the features, count the outcome and maybe sample it.
 */
static void end_burst(struct task_struct *p, struct task_ctx *tctx, bool truncated)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	u32 burst_us, actual, old_ewma;

	burst_us = sat_u32(tctx->burst_ns / NSEC_PER_USEC);
	actual = class_of_burst(burst_us);
	/*
	 * A run that nothing interrupted (no other task wanted the CPU, so no
	 * stopping in between) can pass the limit unseen: it still counts.
	 */
	if (burst_us >= ARBOR_BURST_TRUNC_US)
		truncated = true;

	if (st) {
		st->bursts++;
		if (tctx->decided && tctx->daction < ARBOR_NR_ACTIONS) {
			st->confusion[tctx->daction][actual]++;
			if (tctx->shadow < ARBOR_NR_CLASSES) {
				st->shadow_confusion[tctx->shadow][actual]++;
				st->paired_confusion[tctx->daction][actual]++;
			}
		}
	}

	if (st && tctx->decided) {
		maybe_sample(p, tctx, st, tctx->dfeat, tctx->daction,
			     ARBOR_POINT_WAKEUP, tctx->oracle & 1, burst_us,
			     actual, truncated);
		if (tctx->mpoint)
			maybe_sample(p, tctx, st, tctx->mfeat, tctx->maction,
				     tctx->mpoint, (tctx->oracle >> 1) & 1,
				     burst_us, actual, truncated);
	}

	old_ewma = tctx->feat[ARBOR_F_EWMA_BURST_US];
	tctx->feat[ARBOR_F_BURST_ABSDEV_US] =
		ewma(tctx->feat[ARBOR_F_BURST_ABSDEV_US],
		     burst_us > old_ewma ? burst_us - old_ewma :
					   old_ewma - burst_us);
	tctx->feat[ARBOR_F_LAST_BURST_US] = burst_us;
	tctx->feat[ARBOR_F_EWMA_BURST_US] = ewma(old_ewma, burst_us);
	tctx->burst_ns = 0;
	tctx->wakes_in_burst = 0;
	tctx->mpoint = 0;
	tctx->decided = false;
}

/*
 * @p's vruntime and deadline in the virtual time of @llc, with @lag (see
 * place()). Counting it there is clock_join()'s, in runnable.
 */
static void place_task(struct task_struct *p, struct task_ctx *tctx, u32 llc,
		       s64 lag)
{
	tctx->vruntime = place(llc, p->scx.weight, lag);
	tctx->placed_llc = llc;
	new_deadline(p, tctx);
}

/*
 * The task wakes from a sleep: account the sleep that ended, decide its
 * coming burst and place it in the virtual time of @llc with the lag it
 * slept with.
 */
static void wake_up(struct task_struct *p, struct task_ctx *tctx, u32 llc)
{
	u64 now = scx_bpf_now();
	u32 period;

	if (tctx->sleep_start && time_after(now, tctx->sleep_start))
		tctx->feat[ARBOR_F_EWMA_SLEEP_US] =
			ewma(tctx->feat[ARBOR_F_EWMA_SLEEP_US],
			     sat_u32((now - tctx->sleep_start) / NSEC_PER_USEC));
	if (tctx->last_wake && time_after(now, tctx->last_wake)) {
		period = sat_u32((now - tctx->last_wake) / NSEC_PER_USEC);
		tctx->ewma_period_us = ewma(tctx->ewma_period_us, period);
		tctx->feat[ARBOR_F_WAKE_RATE_HZ] =
			sat_u32(1000000 / (tctx->ewma_period_us ?: 1));
	}
	tctx->last_wake = now;
	tctx->woke_at = now ?: 1;
	tctx->burst_ns = 0;
	tctx->wakes_in_burst = 0;
	tctx->asleep = false;

	decide(p, tctx);
	place_task(p, tctx, llc, tctx->vlag);
}

/*
 * Before a task is queued or dispatched: a new task, or one whose burst was
 * truncated, is decided again; a used-up request is followed by the next.
 */
static void refresh_request(struct task_struct *p, struct task_ctx *tctx)
{
	if (!tctx->decided) {
		decide(p, tctx);
		new_deadline(p, tctx);
	}
	if (!time_before(tctx->vruntime, tctx->deadline))
		new_deadline(p, tctx);
}

/*
 * A new task starts one fallback request behind V (CFS's START_DEBIT): it
 * may run once V has moved on by that much, so a fork storm of thousands
 * of tasks queues behind the tasks already waiting instead of in front of
 * them (with no debt, every new task's deadline was as early as that of a
 * task woken with no lag, and a kworker waited out the whole storm).
 */
static s64 new_task_debt(struct task_struct *p)
{
	u32 row = ARBOR_CLASS_FALLBACK;
	struct arbor_action *act = bpf_map_lookup_elem(&actions, &row);
	u64 request = act && act->request_ns ? act->request_ns : DEFAULT_SLICE_NS;

	return (s64)scale_by_task_weight_inverse(p, request);
}

/*
 * @p, placed in the virtual time of one LLC, goes to another (the CPU
 * chosen for it, or the one it runs on, is there): it keeps its lag.
 */
static void move_to_llc(struct task_struct *p, struct task_ctx *tctx, u32 llc)
{
	u64 from = vtime_now(tctx->placed_llc), to = vtime_now(llc);

	tctx->vruntime += to - from;
	tctx->deadline += to - from;
	tctx->placed_llc = llc;
}

/*
 * Charge the CPU time a task used since its last charge, from the kernel's
 * own account (p->se.sum_exec_runtime, kept by update_curr_scx()), to its
 * vruntime, its burst and V. Every ns is charged once, including what the
 * kernel adds after ops.stopping on the way out of a sleep: that goes to
 * the next burst.
 */
static void charge_run(struct task_struct *p, struct task_ctx *tctx)
{
	u64 now = p->se.sum_exec_runtime, ran;

	if (now <= tctx->charged_exec)
		return;
	ran = now - tctx->charged_exec;
	tctx->charged_exec = now;
	tctx->vruntime += scale_by_task_weight_inverse(p, ran);
	tctx->burst_ns += ran;
	if (tctx->llc != NO_LLC)
		vclock_charge(tctx->llc, ran);
}

#endif /* __ARBOR_TASK_BPF_H */
