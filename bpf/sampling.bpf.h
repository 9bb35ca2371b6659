/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: which burst outcomes go to userspace, and when it is woken.
 *
 * Learning must cost little enough to leave on, so the sample stream is
 * bounded in BPF, before a byte reaches the ring:
 *  - scx_arbor's own threads are never sampled: the consumer would
 *    otherwise record itself waking once per sample;
 *  - one burst in sample_every is considered;
 *  - each CPU sends at most sample_budget samples per second, a quarter
 *    of it per burst class (its actual class), so a flood of one kind of
 *    burst cannot crowd out the rare classes. Samples the budget turns
 *    away are counted (samples_throttled), as are those a full ring
 *    drops (samples_dropped);
 *  - userspace is not woken per sample: it drains the ring on a timer and
 *    is woken early only when the ring is a quarter full. The ring's size
 *    is set by the loader (--sample-ring-kib) and so is the wakeup mark.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_SAMPLING_BPF_H
#define __ARBOR_SAMPLING_BPF_H

/* Default ring size; the loader sets the real one before load */
#define SAMPLES_RING_BYTES	(1U << 20)
#define SAMPLE_WINDOW_NS	(1000ULL * 1000 * 1000)

/* Set by userspace before load: scx_arbor's process id (tgid) */
const volatile u32 arbor_tgid;

/* Set by userspace before load: a quarter of the ring's real size */
const volatile u64 samples_wake_bytes = SAMPLES_RING_BYTES / 4;

/*
 * Runtime tunables written by userspace through the bss map:
 * consider one burst in sample_every (0: none); send at most
 * sample_budget samples per second per CPU (0: no limit).
 */
volatile u32 sample_every;
volatile u32 sample_budget;

/* Outcome samples for userspace (recording, retraining) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SAMPLES_RING_BYTES);
} samples SEC(".maps");

/* Each CPU's budget window: when it opened and what each class took */
struct sample_window {
	u64 start;
	u32 taken[ARBOR_NR_CLASSES];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct sample_window);
} sample_windows SEC(".maps");

/*
 * Whether this CPU's budget has room for one more sample of @class at @now.
 * Every burst of a learning scheduler comes through here, most of them to
 * be turned away, so the check reads no clock of its own.
 */
static bool budget_allows(u32 class, u64 now)
{
	struct sample_window *w;
	u32 budget = sample_budget, quota, zero = 0;

	if (!budget)
		return true;
	w = bpf_map_lookup_elem(&sample_windows, &zero);
	if (!w || class >= ARBOR_NR_CLASSES)
		return false;
	if (now - w->start >= SAMPLE_WINDOW_NS) {
		w->start = now;
		for (u32 c = 0; c < ARBOR_NR_CLASSES; c++)
			w->taken[c] = 0;
	}
	quota = budget / ARBOR_NR_CLASSES ?: 1;
	if (w->taken[class] >= quota)
		return false;
	w->taken[class]++;
	return true;
}

/*
 * Send the outcome of one decision of @p's burst (features @feat, action
 * row @action, made at @point), if the rules above allow.
 */
static __always_inline void
maybe_sample(struct task_struct *p, const struct task_ctx *tctx,
	     struct arbor_cpu_stats *st, const u32 *feat, u32 action, u32 point,
	     u32 by_oracle, u32 burst_us, u32 actual, bool truncated)
{
	struct arbor_sample *s;
	u32 every = sample_every, i;
	u64 flags, now;

	if (!every || p->tgid == arbor_tgid)
		return;
	if (every > 1 && st->bursts % every)
		return;
	/*
	 * The budget window runs on the rq clock, which scx_bpf_now() reads
	 * from the runqueue; the sample's time stamp (rare) stays on
	 * CLOCK_MONOTONIC, which userspace can compare with its own.
	 */
	now = scx_bpf_now();
	if (!budget_allows(actual, now)) {
		st->samples_throttled++;
		return;
	}
	s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
	if (!s) {
		st->samples_dropped++;
		return;
	}
	s->ts_ns = bpf_ktime_get_ns();
	s->generation = tctx->generation;
	s->pid = p->pid;
	for (i = 0; i < ARBOR_NR_FEATURES; i++)
		s->features[i] = feat[i];
	s->burst_us = burst_us;
	s->predicted = action;
	s->actual = actual;
	s->truncated = truncated;
	s->shadow = point == ARBOR_POINT_WAKEUP ? tctx->shadow : ARBOR_NO_SHADOW;
	s->point = point;
	s->oracle = by_oracle;
	s->pad[0] = 0;
	s->pad[1] = 0;
	flags = bpf_ringbuf_query(&samples, BPF_RB_AVAIL_DATA) >=
			samples_wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(s, flags);
	st->samples_sent++;
}

#endif /* __ARBOR_SAMPLING_BPF_H */
