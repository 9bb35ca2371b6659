/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: where a task goes in virtual time.
 *
 * Each LLC keeps its own virtual time V, EEVDF's load-weighted average
 * vruntime of the runnable tasks counted there (queued in the LLC's DSQ or
 * its CPUs' DSQs, or running on its CPUs):
 *
 *	V = sum(w_i * v_i) / W,	W = sum(w_i)
 *
 * kept without the sum, from the three ways it changes:
 *  - a task of weight w runs for t ns: its v grows by t * 100 / w, so
 *    sum(w_i * v_i) grows by t * 100 and V by t * 100 / W;
 *  - a task joins at v: V' = V + w * (v - V) / (W + w);
 *  - a task leaves from v: V' = V + w * (V - v) / (W - w).
 * A task's lag is V - v; it is eligible to run while its lag is >= 0.
 *
 * A task keeps its lag across a sleep, clamped to +-lag_limit(); placed
 * again, it gets lag * (W + w) / W, so that the lag it has once it is
 * counted is the one it left with (EEVDF's place_entity()). The clocks are
 * per LLC: a CPU touches only its own LLC's two words on the hot path. A
 * task that moves to another LLC keeps its lag there. Included by
 * main.bpf.c only.
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

/* An LLC index that is no LLC: the task is not counted anywhere */
#define NO_LLC			((u32)-1)

/* One LLC's virtual time and the weight it averages over */
struct llc_clock {
	u64 vtime;		/* V, virtual ns */
	u64 weight;		/* W: sum of p->scx.weight of its runnable tasks */
} __attribute__((aligned(64)));

static struct llc_clock llc_clocks[ARBOR_MAX_LLCS];

static struct llc_clock *clock_of(u32 llc)
{
	return &llc_clocks[llc & (ARBOR_MAX_LLCS - 1)];
}

static u64 vtime_now(u32 llc)
{
	return READ_ONCE(clock_of(llc)->vtime);
}

static u64 llc_weight(u32 llc)
{
	return READ_ONCE(clock_of(llc)->weight);
}

static void vclock_init(void)
{
	u32 i;

	bpf_for(i, 0, ARBOR_MAX_LLCS)
		llc_clocks[i & (ARBOR_MAX_LLCS - 1)].vtime = VCLOCK_START;
}

/* @ran_ns of CPU time was charged to a task counted in @llc: advance V */
static void vclock_charge(u32 llc, u64 ran_ns)
{
	struct llc_clock *c = clock_of(llc);
	u64 w = READ_ONCE(c->weight);

	if (!w)
		w = NICE0_WEIGHT;
	__sync_fetch_and_add(&c->vtime, ran_ns * NICE0_WEIGHT / w);
}

/* A task of weight @w is counted in @llc at vruntime @v */
static void clock_join(u32 llc, u64 w, u64 v)
{
	struct llc_clock *c = clock_of(llc);
	s64 shift = (s64)(v - READ_ONCE(c->vtime));
	u64 total = READ_ONCE(c->weight) + w;

	if (total)
		__sync_fetch_and_add(&c->vtime, (u64)(shift * (s64)w / (s64)total));
	__sync_fetch_and_add(&c->weight, w);
}

/* A task of weight @w counted in @llc leaves it from vruntime @v */
static void clock_leave(u32 llc, u64 w, u64 v)
{
	struct llc_clock *c = clock_of(llc);
	s64 lag = (s64)(READ_ONCE(c->vtime) - v);
	u64 total = READ_ONCE(c->weight);

	if (total > w)
		__sync_fetch_and_add(&c->vtime,
				     (u64)(lag * (s64)w / (s64)(total - w)));
	if (total >= w)
		__sync_fetch_and_sub(&c->weight, w);
	else
		__sync_fetch_and_sub(&c->weight, total);
}

/*
 * How far (virtual ns) a task's vruntime may be from V when it wakes:
 * max(2 * its request, ARBOR_LAG_FLOOR_US) of CPU time at the task's weight,
 * as EEVDF bounds a sleeper's lag by max(2 * slice, one tick).
 */
static u64 lag_limit(struct task_struct *p, u64 request_ns)
{
	u64 lim = 2 * request_ns;

	if (lim < ARBOR_LAG_FLOOR_US * 1000ULL)
		lim = ARBOR_LAG_FLOOR_US * 1000ULL;
	return scale_by_task_weight_inverse(p, lim);
}

/* The lag in @llc of a task at @vruntime, clamped to +-@limit */
static s64 lag_of(u32 llc, u64 vruntime, u64 limit)
{
	s64 lag = (s64)(vtime_now(llc) - vruntime);

	if (lag > (s64)limit)
		return limit;
	if (lag < -(s64)limit)
		return -(s64)limit;
	return lag;
}

/*
 * The vruntime at which a task of weight @w joining @llc has lag @lag once
 * counted: lag * (W + w) / W behind V (with nothing else runnable there,
 * V itself: a task alone has no lag).
 */
static u64 place(u32 llc, u64 w, s64 lag)
{
	u64 total = llc_weight(llc);

	if (!total)
		return vtime_now(llc);
	return vtime_now(llc) - (u64)(lag * (s64)(total + w) / (s64)total);
}

/* Whether a task at @vruntime counted in @llc may run: lag >= 0 */
static bool eligible(u32 llc, u64 vruntime)
{
	return !time_before(vtime_now(llc), vruntime);
}

#endif /* __ARBOR_PLACEMENT_BPF_H */
