/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: an EEVDF-style sched_ext policy whose per-task request sizes
 * come from an integer decision-tree ensemble.
 *
 * Each task keeps a weighted vruntime and a virtual deadline
 * (vruntime + request * 100 / weight). Runnable tasks wait in one shared DSQ
 * ordered by deadline. When a task wakes, the ensemble installed in
 * model_slot classifies its coming CPU burst from integer features kept in
 * task storage; the class picks the task's request and time slice from the
 * action table. A woken task whose deadline beats a running task's preempts
 * it, as EEVDF does on wakeup.
 *
 * When the burst ends, the (features, decision, actual burst) outcome is sent
 * to userspace through a ring buffer at a configurable rate, for recording
 * and retraining.
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/* Time units, ns */
#define NSEC_PER_USEC		1000ULL
#define NSEC_PER_MSEC		(1000ULL * NSEC_PER_USEC)

/* The shared DSQ all queued tasks wait in, ordered by virtual deadline */
#define SHARED_DSQ		0

/* Upper bound on CPU ids scanned for wakeup preemption */
#define MAX_CPUS		1024

/* Slice used when the action table has not been filled (µs -> ns) */
#define DEFAULT_SLICE_NS	(3ULL * NSEC_PER_MSEC)

/* µs value that every feature saturates at */
#define FEAT_MAX		((u32)ARBOR_FEATURE_MAX)

/* Set by userspace before load: preempt a running task on an earlier-deadline wakeup */
const volatile bool wakeup_preempt = true;

/* Set by userspace before load: number of possible CPU ids */
const volatile u32 nr_cpu_ids = 1;

/*
 * Runtime tunables written by userspace through the bss map:
 * send one outcome sample every sample_every bursts (0: none).
 */
volatile u32 sample_every;

/* Current virtual time: the largest vruntime seen starting to run */
static u64 vtime_now;

/* Action table: per class (and the fallback row) the slice and request */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ARBOR_NR_ACTIONS);
	__type(key, u32);
	__type(value, struct arbor_action);
} actions SEC(".maps");

/*
 * The installed model: slot 0 holds an inner array whose single element is a
 * whole struct arbor_model. Userspace installs a new model by filling a fresh
 * inner map and swapping it into the slot, so a walk sees one model or the
 * other, never a mix. An empty slot means "no model": the fallback class.
 */
struct model_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct arbor_model);
};

/*
 * clang emits only a forward declaration for a struct reached through the
 * inner map definition alone; this pointer makes it emit struct arbor_model
 * in full, which libbpf needs to size the inner map.
 */
struct arbor_model *arbor_model_btf_anchor;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, u32);
	__array(values, struct model_map);
} model_slot SEC(".maps");

/*
 * The shadow model: same form as model_slot. Walked beside the live model
 * when present; its class is counted against the outcome but never acts.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, u32);
	__array(values, struct model_map);
} shadow_slot SEC(".maps");

/* Outcome samples for userspace (recording, retraining) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} samples SEC(".maps");

/* Per-CPU counters, summed by userspace */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct arbor_cpu_stats);
} cpu_stats SEC(".maps");

/* What each CPU is running, for wakeup preemption */
struct cpu_ctx {
	/* Virtual deadline of the running task; 0 when none is running */
	u64 curr_deadline;
};

/* Per-CPU running state indexed by CPU id, readable from any CPU */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

/* Per-task scheduling state and features */
struct task_ctx {
	u64 vruntime;		/* weighted virtual runtime, ns */
	u64 deadline;		/* virtual deadline, ns */
	u64 slice_ns;		/* slice of the decided class */
	u64 request_ns;		/* request of the decided class */
	u64 run_start;		/* when the current run began */
	u64 burst_ns;		/* CPU time of the current burst so far */
	u64 sleep_start;	/* when the task last went to sleep (0: never) */
	u64 last_wake;		/* when the task last woke (0: never) */
	u64 generation;		/* model generation of the decision */
	u32 ewma_period_us;	/* EWMA of the wakeup-to-wakeup period */
	u32 feat[ARBOR_NR_FEATURES];	/* features kept up to date */
	u32 dfeat[ARBOR_NR_FEATURES];	/* features as seen at the decision */
	u8 action;		/* action row of the decision */
	u8 shadow;		/* shadow model's class, or ARBOR_NO_SHADOW */
	bool decided;		/* a decision covers the current burst */
	bool sleeping;		/* dequeued to sleep; the burst ends at stopping */
};

/* Task storage holding each task's task_ctx */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

static struct task_ctx *lookup_task_ctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

static struct arbor_cpu_stats *this_cpu_stats(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_stats, &zero);
}

static u32 sat_u32(u64 v)
{
	return v > FEAT_MAX ? FEAT_MAX : (u32)v;
}

/* EWMA with 1/4 weight on the newest value, in integers */
static u32 ewma(u32 old, u32 sample)
{
	return sat_u32(((u64)old * 3 + sample) / 4);
}

static u32 class_of_burst(u32 burst_us)
{
	if (burst_us <= ARBOR_BOUND_TINY_US)
		return ARBOR_CLASS_TINY;
	if (burst_us <= ARBOR_BOUND_SHORT_US)
		return ARBOR_CLASS_SHORT;
	if (burst_us <= ARBOR_BOUND_MEDIUM_US)
		return ARBOR_CLASS_MEDIUM;
	return ARBOR_CLASS_LONG;
}

/*
 * Walk the installed ensemble over @feat. Returns the predicted class, or
 * ARBOR_CLASS_FALLBACK when no model is installed or the walk failed. The
 * semantics are those of src/model/walk.rs, which tests them in userspace.
 */
static u32 walk_model(void *slot, const u32 *feat, struct arbor_cpu_stats *st,
		      u64 *gen)
{
	s64 acc[ARBOR_NR_CLASSES];
	struct arbor_model *m;
	u32 nr_trees, nr_nodes, nr_leaves, nr_classes;
	u32 zero = 0, steps = 0, c, best;
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
	 * One tree after the other; within a tree at most ARBOR_MAX_DEPTH
	 * splits and a leaf. Both loops are open-coded iterators, so the
	 * verifier checks each body once rather than every path.
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

			if (idx >= nr_nodes || idx >= ARBOR_MAX_NODES)
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
	st->walk_steps += steps;

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
 * Classify the burst that is starting and take the class's request and slice.
 * The features are snapshotted so that the outcome sample carries exactly
 * what the decision saw.
 */
static void decide(struct task_struct *p, struct task_ctx *tctx)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct arbor_action *act;
	u32 action, i;
	u64 gen;

	if (!st)
		return;

	tctx->feat[ARBOR_F_WEIGHT] = sat_u32(p->scx.weight);
	tctx->feat[ARBOR_F_NR_CPUS_ALLOWED] = sat_u32(p->nr_cpus_allowed);
	tctx->feat[ARBOR_F_RUNNABLE_LOAD] =
		sat_u32(scx_bpf_dsq_nr_queued(SHARED_DSQ));
	for (i = 0; i < ARBOR_NR_FEATURES; i++)
		tctx->dfeat[i] = tctx->feat[i];

	action = walk_model(&model_slot, tctx->dfeat, st, &gen);
	if (gen)
		st->generation = gen;

	tctx->shadow = ARBOR_NO_SHADOW;
	if (bpf_map_lookup_elem(&shadow_slot, &(u32){0})) {
		u64 sgen;
		u32 shadow = walk_model(&shadow_slot, tctx->dfeat, st, &sgen);

		if (sgen && shadow < ARBOR_NR_CLASSES) {
			tctx->shadow = shadow;
			st->shadow_generation = sgen;
			st->shadow_decisions++;
		}
	}

	act = bpf_map_lookup_elem(&actions, &action);
	if (act && act->slice_ns && act->request_ns) {
		tctx->slice_ns = act->slice_ns;
		tctx->request_ns = act->request_ns;
	} else {
		tctx->slice_ns = DEFAULT_SLICE_NS;
		tctx->request_ns = DEFAULT_SLICE_NS;
	}
	tctx->action = action;
	tctx->generation = gen;
	tctx->decided = true;
	if (action < ARBOR_NR_ACTIONS)
		st->decisions[action]++;
}

/* A new request starts: the deadline moves one request past the vruntime */
static void new_deadline(struct task_struct *p, struct task_ctx *tctx)
{
	tctx->deadline = tctx->vruntime +
		scale_by_task_weight_inverse(p, tctx->request_ns);
}

/*
 * The task wakes: account the sleep that ended, decide its coming burst and
 * place it in virtual time. Like EEVDF, a sleeper keeps at most one request
 * of lag, so it can't bank credit by sleeping.
 */
static void wake_up(struct task_struct *p, struct task_ctx *tctx)
{
	u64 now = scx_bpf_now();
	u64 lag;
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
	tctx->burst_ns = 0;

	decide(p, tctx);

	lag = scale_by_task_weight_inverse(p, tctx->request_ns);
	if (vtime_now > lag && time_before(tctx->vruntime, vtime_now - lag))
		tctx->vruntime = vtime_now - lag;
	new_deadline(p, tctx);
}

/*
 * The burst ended (the task slept, or it ran past ARBOR_BURST_TRUNC_US):
 * update the features, count the outcome and maybe sample it.
 */
static void end_burst(struct task_struct *p, struct task_ctx *tctx, bool truncated)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct arbor_sample *s;
	u32 burst_us, actual, every, i;

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
		if (tctx->decided && tctx->action < ARBOR_NR_ACTIONS) {
			st->confusion[tctx->action][actual]++;
			if (tctx->shadow < ARBOR_NR_CLASSES) {
				st->shadow_confusion[tctx->shadow][actual]++;
				st->paired_confusion[tctx->action][actual]++;
			}
		}
	}

	every = sample_every;
	if (st && tctx->decided && every && !(st->bursts % every)) {
		s = bpf_ringbuf_reserve(&samples, sizeof(*s), 0);
		if (s) {
			s->ts_ns = bpf_ktime_get_ns();
			s->generation = tctx->generation;
			s->pid = p->pid;
			for (i = 0; i < ARBOR_NR_FEATURES; i++)
				s->features[i] = tctx->dfeat[i];
			s->burst_us = burst_us;
			s->predicted = tctx->action;
			s->actual = actual;
			s->truncated = truncated;
			s->shadow = tctx->shadow;
			bpf_ringbuf_submit(s, 0);
			st->samples_sent++;
		} else {
			st->samples_dropped++;
		}
	}

	tctx->feat[ARBOR_F_LAST_BURST_US] = burst_us;
	tctx->feat[ARBOR_F_EWMA_BURST_US] =
		ewma(tctx->feat[ARBOR_F_EWMA_BURST_US], burst_us);
	tctx->burst_ns = 0;
	tctx->decided = false;
}

static struct cpu_ctx *lookup_cpu_ctx(s32 cpu)
{
	u32 key = cpu;

	return bpf_map_lookup_elem(&cpu_ctxs, &key);
}

/*
 * EEVDF's wakeup preemption: if the woken task's deadline is earlier than a
 * running task's on a CPU it may use, preempt the one with the latest
 * deadline. Prefer the task's own CPU when it qualifies.
 */
static void preempt_for(struct task_struct *p, struct task_ctx *tctx,
			struct arbor_cpu_stats *st)
{
	s32 cpu, victim = -1, prev = scx_bpf_task_cpu(p);
	u64 latest = tctx->deadline;
	struct cpu_ctx *cctx;

	cctx = lookup_cpu_ctx(prev);
	if (cctx && cctx->curr_deadline &&
	    time_before(tctx->deadline, cctx->curr_deadline) &&
	    bpf_cpumask_test_cpu(prev, p->cpus_ptr)) {
		victim = prev;
	} else {
		bpf_for(cpu, 0, nr_cpu_ids) {
			if (cpu >= MAX_CPUS)
				break;
			cctx = lookup_cpu_ctx(cpu);
			if (!cctx || !cctx->curr_deadline)
				continue;
			if (!time_before(latest, cctx->curr_deadline))
				continue;
			if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
				continue;
			latest = cctx->curr_deadline;
			victim = cpu;
		}
	}
	if (victim >= 0) {
		scx_bpf_kick_cpu(victim, SCX_KICK_PREEMPT);
		st->preempt_kicks++;
	}
}

s32 BPF_STRUCT_OPS(arbor_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	struct arbor_cpu_stats *st;
	struct task_ctx *tctx;
	bool is_idle = false;
	s32 cpu;

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return prev_cpu;
	if (!tctx->decided)
		wake_up(p, tctx);

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tctx->slice_ns, 0);
		st = this_cpu_stats();
		if (st)
			st->direct_dispatches++;
	}
	return cpu;
}

void BPF_STRUCT_OPS(arbor_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	/* Wakeups that skipped select_cpu (e.g. pinned tasks) decide here */
	if (tctx && (enq_flags & SCX_ENQ_WAKEUP) && !tctx->decided)
		wake_up(p, tctx);
}

void BPF_STRUCT_OPS(arbor_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 cpu;

	if (!tctx || !st) {
		scx_bpf_dsq_insert(p, SHARED_DSQ, DEFAULT_SLICE_NS, enq_flags);
		return;
	}

	/* A new task, or a burst that was truncated: decide again */
	if (!tctx->decided) {
		decide(p, tctx);
		new_deadline(p, tctx);
	}
	/* The request is used up: issue the next one */
	if (!time_before(tctx->vruntime, tctx->deadline))
		new_deadline(p, tctx);

	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, tctx->slice_ns, tctx->deadline,
				 enq_flags);

	/* Wake an idle CPU to pull it, else consider preempting a running task */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	else if (wakeup_preempt && (enq_flags & SCX_ENQ_WAKEUP))
		preempt_for(p, tctx, st);
}

void BPF_STRUCT_OPS(arbor_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_ctx *tctx;

	if (scx_bpf_dsq_move_to_local(SHARED_DSQ, 0))
		return;

	/* Nothing else to run: let prev go on with a fresh slice */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		tctx = lookup_task_ctx(prev);
		scx_bpf_task_set_slice(prev, tctx ? tctx->slice_ns : DEFAULT_SLICE_NS);
	}
}

void BPF_STRUCT_OPS(arbor_running, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct cpu_ctx *cctx;

	if (!tctx)
		return;
	tctx->run_start = scx_bpf_now();
	if (time_before(vtime_now, tctx->vruntime))
		vtime_now = tctx->vruntime;

	cctx = lookup_cpu_ctx(scx_bpf_task_cpu(p));
	if (cctx)
		cctx->curr_deadline = tctx->deadline ?: 1;
}

void BPF_STRUCT_OPS(arbor_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct cpu_ctx *cctx;
	u64 now = scx_bpf_now(), ran = 0;
	u32 permille;

	cctx = lookup_cpu_ctx(scx_bpf_task_cpu(p));
	if (cctx)
		cctx->curr_deadline = 0;
	if (!tctx)
		return;

	/* Charge what this run really took: slices vary per task */
	if (tctx->run_start && time_after(now, tctx->run_start))
		ran = now - tctx->run_start;
	tctx->vruntime += scale_by_task_weight_inverse(p, ran);
	tctx->burst_ns += ran;

	/* Voluntary sleep or preemption: EWMA share in per mille */
	permille = tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE];
	tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE] =
		ewma(permille, !runnable && tctx->sleeping ? 1000 : 0);

	if (!runnable && tctx->sleeping) {
		end_burst(p, tctx, false);
		tctx->sleeping = false;
	} else if (tctx->burst_ns >= ARBOR_BURST_TRUNC_US * NSEC_PER_USEC) {
		end_burst(p, tctx, true);
	}
}

void BPF_STRUCT_OPS(arbor_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (tctx && (deq_flags & SCX_DEQ_SLEEP)) {
		tctx->sleeping = true;
		tctx->sleep_start = scx_bpf_now();
	}
}

void BPF_STRUCT_OPS(arbor_enable, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	tctx->vruntime = vtime_now;
	tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE] = 1000;
}

s32 BPF_STRUCT_OPS(arbor_init_task, struct task_struct *p,
		   struct scx_init_task_args *args)
{
	if (!bpf_task_storage_get(&task_ctxs, p, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE))
		return -ENOMEM;
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(arbor_init)
{
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(arbor_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(arbor_ops,
	       .select_cpu	= (void *)arbor_select_cpu,
	       .enqueue		= (void *)arbor_enqueue,
	       .dispatch	= (void *)arbor_dispatch,
	       .runnable	= (void *)arbor_runnable,
	       .running		= (void *)arbor_running,
	       .stopping	= (void *)arbor_stopping,
	       .quiescent	= (void *)arbor_quiescent,
	       .enable		= (void *)arbor_enable,
	       .init_task	= (void *)arbor_init_task,
	       .init		= (void *)arbor_init,
	       .exit		= (void *)arbor_exit,
	       .name		= "arbor");
