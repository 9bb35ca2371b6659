/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: where a task goes in virtual time.
 *
 * V, the system's virtual time, is that of an ideal weighted fair share
 * (GPS): it advances by the CPU time charged to any task divided by the
 * total weight of the runnable tasks (in units of nice-0 weight). A task
 * that got exactly its share has vruntime == V. EEVDF's V, the
 * load-weighted average vruntime, is the same quantity when lags sum to
 * zero; this form needs no per-task sum and only two atomics.
 *
 * A task's lag (V - vruntime) is kept across a sleep, clamped to
 * +-lag_limit(): a sleeper neither banks credit by sleeping nor carries a
 * debt forever. Included by main.bpf.c only.
 */
#ifndef __ARBOR_PLACEMENT_BPF_H
#define __ARBOR_PLACEMENT_BPF_H

/*
 * V starts far from 0 so that V - lag never wraps; every comparison uses
 * time_before(), which is wrap-safe anyway.
 */
#define VCLOCK_START		(1ULL << 40)

/* Weight of a nice-0 task in p->scx.weight units */
#define NICE0_WEIGHT		100

/* V, ns of virtual time */
static u64 vclock;

/* Sum of p->scx.weight over runnable tasks (queued or running) */
static u64 runnable_weight;

static u64 vtime_now(void)
{
	return READ_ONCE(vclock);
}

static void vclock_init(void)
{
	vclock = VCLOCK_START;
}

/* A task became runnable with weight @w, or stopped being runnable */
static void runnable_weight_add(u64 w)
{
	__sync_fetch_and_add(&runnable_weight, w);
}

static void runnable_weight_sub(u64 w)
{
	__sync_fetch_and_sub(&runnable_weight, w);
}

/* @ran_ns of CPU time was charged to some task: advance V */
static void vclock_charge(u64 ran_ns)
{
	u64 w = READ_ONCE(runnable_weight);

	if (!w)
		w = NICE0_WEIGHT;
	__sync_fetch_and_add(&vclock, ran_ns * NICE0_WEIGHT / w);
}

/*
 * How far (virtual ns) a task's vruntime may be from V when it wakes:
 * max(2 * request, ARBOR_LAG_FLOOR_US) of CPU time at the task's weight,
 * as EEVDF bounds a sleeper's lag by max(2 * slice, one tick).
 */
static u64 lag_limit(struct task_struct *p, u64 request_ns)
{
	u64 lim = 2 * request_ns;

	if (lim < ARBOR_LAG_FLOOR_US * 1000ULL)
		lim = ARBOR_LAG_FLOOR_US * 1000ULL;
	return scale_by_task_weight_inverse(p, lim);
}

/* The lag of a task at @vruntime, clamped to +-@limit */
static s64 lag_of(u64 vruntime, u64 limit)
{
	s64 lag = (s64)(vtime_now() - vruntime);

	if (lag > (s64)limit)
		return limit;
	if (lag < -(s64)limit)
		return -(s64)limit;
	return lag;
}

/* The vruntime that gives a waking task the lag it went to sleep with */
static u64 place(s64 lag)
{
	return vtime_now() - lag;
}

#endif /* __ARBOR_PLACEMENT_BPF_H */
