/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: how long a woken task waits to run, the measure the guard
 * (src/sched/guard.rs) compares model and fallback decisions on; and the
 * guard's switch. A wait runs from the wakeup (wake_up()) to the task's
 * first ops.running after it, and is counted there, in the histogram of
 * enum arbor_wait (intf.h). Included by main.bpf.c only.
 */
#ifndef __ARBOR_WAITS_BPF_H
#define __ARBOR_WAITS_BPF_H

/* The histogram bucket of a wait of @us µs (enum arbor_wait) */
static u32 wait_bucket(u64 us)
{
	u32 e, b;

	if (us < 4)
		return us;
	if (us >= 1ULL << 25)
		return ARBOR_WAIT_BUCKETS - 1;
	e = log2_u32(us);	/* floor(log2(us)), scx/common.bpf.h */
	b = 4 * (e - 1) + ((us >> (e - 2)) & 3);
	return b < ARBOR_WAIT_BUCKETS ? b : ARBOR_WAIT_BUCKETS - 1;
}

/* @p runs: the wait since its wakeup, if it has not run since, is counted */
static void count_wakeup_wait(struct task_ctx *tctx)
{
	struct arbor_cpu_stats *st;
	u64 now, wait, *slot;
	u32 b;

	if (!tctx->woke_at)
		return;
	now = scx_bpf_now();
	wait = time_after(now, tctx->woke_at) ? now - tctx->woke_at : 0;
	tctx->woke_at = 0;
	st = this_cpu_stats();
	if (!st)
		return;
	st->wakeup_waits++;
	st->wakeup_wait_ns += wait;
	b = wait_bucket(wait / NSEC_PER_USEC);
	/* Bounds the verifier can follow (scx/common.bpf.h) */
	slot = MEMBER_VPTR(*st, .wakeup_wait_hist[b]);
	if (slot)
		(*slot)++;
}

/* Whether the guard has the model off: decisions take the fallback row */
static bool guard_model_off(void)
{
	struct arbor_guard *g = bpf_map_lookup_elem(&guard, &(u32){0});

	return g && g->model_off;
}

#endif /* __ARBOR_WAITS_BPF_H */
