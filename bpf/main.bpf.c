/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: an EEVDF-style sched_ext policy whose per-task request sizes
 * come from an integer decision-tree ensemble.
 *
 * Each task keeps a weighted vruntime and a virtual deadline
 * (vruntime + request * 100 / weight). Waiting tasks sit in the vtime DSQ of
 * their last-level cache, ordered by deadline, or in their CPU's own DSQ if
 * they can run nowhere else (or wait for that CPU, see waker_ends_soon()).
 * When a task wakes, the ensemble installed in model_slot classifies its
 * coming CPU burst from integer features kept in task storage; the class
 * picks the task's request and time slice from the action table. The task
 * is placed in virtual time with the lag it went to sleep with
 * (placement.bpf.h), goes to an idle CPU if the kernel's topology-aware idle
 * selection finds one, else preempts the running task with the latest later
 * deadline in its LLC, as EEVDF does on wakeup.
 *
 * A burst is the CPU time from a wakeup to the next sleep. The kernel calls
 * ops.stopping(p, false) before ops.quiescent(p, SCX_DEQ_SLEEP), and a
 * dequeue that is not a sleep (affinity, nice or cgroup change) goes
 * through the same stopping, so a burst ends in quiescent, when the kernel
 * says the task sleeps, and nowhere else (but for the truncation of a
 * burst still running past ARBOR_BURST_TRUNC_US).
 *
 * When the burst ends, the (features, decision, actual burst) outcome is sent
 * to userspace through a ring buffer at a configurable rate, for recording
 * and retraining.
 */
#include <scx/common.bpf.h>
#include "compat.bpf.h"
#include "intf.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/* Time units, ns */
#define NSEC_PER_USEC		1000ULL
#define NSEC_PER_MSEC		(1000ULL * NSEC_PER_USEC)

/*
 * The wait bound. EEVDF gives a nice-19 task 1/100 of a nice-0 one's share,
 * and with 200 runnable tasks on 2 CPUs its next turn comes after more than
 * 10 s of waiting: fair, but sched_ext's watchdog ejects a scheduler whose
 * task waits timeout_ms. A task is starved once it has waited twice the
 * time a round over its queue takes (the queue's length times a fallback
 * slice over the CPUs that serve it), and at least STARVE_MIN_NS, at most
 * STARVE_MAX_NS; the longest waiting such task then runs out of deadline
 * order. Each CPU looks for one among the first STARVE_SCAN_MAX tasks of
 * its own DSQ and its LLC's at most every STARVE_SCAN_NS, and again at its
 * next dispatch after it found one.
 */
#define STARVE_MIN_NS		(100ULL * NSEC_PER_MSEC)
#define STARVE_MAX_NS		(1000ULL * NSEC_PER_MSEC)
#define STARVE_SCAN_NS		(20ULL * NSEC_PER_MSEC)
#define STARVE_SCAN_MAX		512
/* Between this CPU's DSQ and its LLC's, the older head after this long */
#define STARVE_NS		STARVE_MIN_NS

/* Tasks of the LLC's queue looked at for one that may run, at most */
#define ELIGIBLE_SCAN		8

/* Tasks moved off the queues of a CPU going offline, at most */
#define OFFLINE_MOVE_MAX	8192

/* Slice used when the action table has not been filled (µs -> ns) */
#define DEFAULT_SLICE_NS	(3ULL * NSEC_PER_MSEC)

/* µs value that every feature saturates at */
#define FEAT_MAX		((u32)ARBOR_FEATURE_MAX)

/* Set by userspace before load: preempt a running task on an earlier-deadline wakeup */
const volatile bool wakeup_preempt = true;

/*
 * Set by userspace before load, in builds with the `oracle` feature only:
 * decide from what the workload published in `oracle` (struct
 * arbor_oracle), where it published something, instead of the model.
 */
const volatile bool oracle_enabled;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, struct arbor_oracle);
} oracle SEC(".maps");

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

/* Per-CPU counters, summed by userspace */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct arbor_cpu_stats);
} cpu_stats SEC(".maps");

/* Per-task scheduling state and features: struct task_ctx in intf.h */

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

#include "walk.bpf.h"
#include "sampling.bpf.h"
#include "placement.bpf.h"
#include "topology.bpf.h"

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
 * of the next class, whatever the model says.
 */
static u32 classify(struct task_struct *p, struct task_ctx *tctx, u32 *feat,
		    bool running, struct arbor_cpu_stats *st, u64 *gen,
		    bool *by_oracle)
{
	s32 known = oracle_class(p, tctx, running);
	struct walk_io io;
	u32 action, floor, i;

	*by_oracle = known >= 0;
	if (known >= 0) {
		*gen = 0;
		st->oracle_decisions++;
		action = known;
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

/* Count where a wakeup went relative to the CPU that woke it */
static void count_wake_llc(struct arbor_cpu_stats *st, s32 cpu)
{
	if (llc_of(cpu) == llc_of(bpf_get_smp_processor_id()))
		st->wake_llc_local++;
	else
		st->wake_llc_remote++;
}

/*
 * Whether a task waiting in DSQ @dsq_id has a deadline before @deadline.
 * A global function: the verifier checks it once, not at every call site.
 */
__noinline bool queued_before(u64 dsq_id, u64 deadline)
{
	struct task_struct *head;

	if (!scx_bpf_dsq_nr_queued(dsq_id))
		return false;
	head = __COMPAT_scx_bpf_dsq_peek(dsq_id);
	return head && time_before(head->scx.dsq_vtime, deadline);
}

/*
 * Preempt the task running on @cpu, seen at deadline @seen, for @p: @p goes
 * to the head of @cpu's local DSQ and the running task back to its queue.
 */
static bool preempt_cpu(struct task_struct *p, struct task_ctx *tctx, s32 cpu,
			u64 seen, u64 enq_flags)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	bool claimed;

	/*
	 * EEVDF preempts for a wakeup only if the wakeup is the pick among
	 * everything runnable there: a task waiting in @cpu's queues with an
	 * earlier deadline runs first (else a stream of wakeups preempting
	 * from here, straight into local DSQs, keeps the CPUs from ever
	 * reaching the queues: a kworker waited 5 s behind 70 sleepers).
	 */
	if (queued_before(llc_dsq(cpu), tctx->deadline) ||
	    queued_before(cpu_dsq(cpu), tctx->deadline)) {
		if (st)
			st->preempt_queued++;
		return false;
	}
	claimed = claim_cpu(cpu, seen, tctx->deadline);

	if (claimed)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tctx->slice_ns,
				   enq_flags | SCX_ENQ_PREEMPT);
	if (st) {
		if (claimed)
			st->preempt_kicks++;
		else
			st->preempt_lost++;
	}
	return claimed;
}

/* @p waits in DSQ @dsq_id in deadline order, stamped for the wait bound */
static void queue_by_deadline(struct task_struct *p, struct task_ctx *tctx,
			      u64 dsq_id, u64 enq_flags)
{
	tctx->queued_at = scx_bpf_now();
	scx_bpf_dsq_insert_vtime(p, dsq_id, tctx->slice_ns, tctx->deadline,
				 enq_flags);
}

/*
 * The waker running here is expected to end its burst soon: the model's
 * class tiny or short (with no model, its average burst within 1 ms). A
 * waker that hands work on and then sleeps (a request handed to a worker)
 * frees this CPU within that burst, so a wakeup that finds no idle CPU
 * stays here, in deadline order with the waker, instead of preempting
 * another CPU in the middle of its task's request. It waits in the LLC's
 * queue, where the first CPU of the LLC to free up takes it. A wakeup from
 * an interrupt sees the interrupted task here, e.g. a hog's long class.
 *
 * An interrupt that found this CPU idle (timers of periodic tasks that
 * expire together) wakes its first task into this CPU, which is then no
 * longer idle; the next ones it wakes wait here too, behind that one, in
 * this CPU's own queue, as EEVDF queues them on this runqueue. In the LLC's
 * queue a busy CPU whose slice ends would take them, preempting its task
 * (a hog) there, which then moves to this CPU: the two trade places, the
 * timers of the tasks woken on the hog's CPU fire there, and each such
 * wakeup preempts the hog again. A CPU that goes idle still takes them
 * (pull_sibling()).
 *
 * Returns whether to keep the wakeup here, and in *@wait_dsq where it waits.
 */
static bool waker_ends_soon(struct task_struct *p, s32 here, s32 prev_cpu,
			    u64 *wait_dsq)
{
	struct task_struct *waker = bpf_get_current_task_btf();
	struct arbor_cpu_stats *st;
	struct task_ctx *wctx;
	u32 action;
	bool soon;

	*wait_dsq = llc_dsq(here);
	if (waker == p || llc_of(here) != llc_of(prev_cpu) ||
	    !cpu_serves(here) || !bpf_cpumask_test_cpu(here, p->cpus_ptr))
		return false;
	if (waker->flags & PF_IDLE) {
		*wait_dsq = cpu_dsq(here);
		return true;
	}
	wctx = lookup_task_ctx(waker);
	if (!wctx || !wctx->decided)
		return false;
	/*
	 * With no model (and no oracle), the rule on the average: a burst
	 * within ARBOR_BOUND_SHORT_US on average. With one, the waker's burst
	 * is classified again from what is known of it now, the CPU time it
	 * has run and the wakeups it has issued in it (a dispatcher that
	 * fans out to many wakees keeps running).
	 */
	if (wctx->action >= ARBOR_NR_CLASSES && !oracle_enabled)
		return wctx->feat[ARBOR_F_EWMA_BURST_US] <= ARBOR_BOUND_SHORT_US;
	st = this_cpu_stats();
	if (!st)
		return false;
	action = decide_mid_burst(waker, wctx, ARBOR_POINT_WAKER, st);
	st->waker_decisions++;
	soon = action <= ARBOR_CLASS_SHORT;
	if (action >= ARBOR_NR_CLASSES)
		soon = wctx->feat[ARBOR_F_EWMA_BURST_US] <= ARBOR_BOUND_SHORT_US;
	if (soon)
		st->waker_soon++;
	return soon;
}

/*
 * The task running here (not an interrupt on an idle CPU) wakes @p: one
 * more wakeup issued in its burst (ARBOR_F_WAKES_IN_BURST). Wakeups of
 * tasks that can run on one CPU only skip select_cpu and are not counted.
 */
static void count_wakeup_issued(struct task_struct *p)
{
	struct task_struct *waker = bpf_get_current_task_btf();
	struct task_ctx *wctx;

	if (waker == p || (waker->flags & PF_IDLE))
		return;
	wctx = lookup_task_ctx(waker);
	if (wctx && wctx->wakes_in_burst < FEAT_MAX)
		wctx->wakes_in_burst++;
}

s32 BPF_STRUCT_OPS(arbor_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct task_ctx *tctx;
	s32 cpu;
	u64 seen, wait_dsq;

	tctx = lookup_task_ctx(p);
	if (!tctx || !st)
		return prev_cpu;
	if (wake_flags & SCX_WAKE_TTWU)
		count_wakeup_issued(p);
	if ((wake_flags & SCX_WAKE_TTWU) && tctx->asleep)
		wake_up(p, tctx, llc_of(prev_cpu));
	refresh_request(p, tctx);

	/*
	 * The kernel's idle selection: prev CPU if its whole core is idle, a
	 * fully idle core in prev's (or, for a sync wakeup, the waker's) LLC,
	 * then node, then anywhere; then any idle CPU in the same order.
	 */
	cpu = idle_cpu_exists(p) ?
		arbor_select_idle_wakeup(p, prev_cpu, wake_flags) : -1;
	if (cpu >= 0) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tctx->slice_ns, 0);
		st->direct_dispatches++;
		goto out;
	}

	/*
	 * No idle CPU: a wakeup with an earlier deadline preempts from here,
	 * straight into the victim's local DSQ, so the wakeup path skips
	 * ops.enqueue. Otherwise enqueue() queues it in prev's LLC (or finds
	 * a CPU that went idle meanwhile).
	 */
	cpu = prev_cpu;
	if (wakeup_preempt && (wake_flags & SCX_WAKE_TTWU) &&
	    eligible(tctx->placed_llc, tctx->vruntime)) {
		s32 here = bpf_get_smp_processor_id(), victim;

		/*
		 * A waker about to sleep: preempt it if @p's deadline is
		 * earlier, else wait for it.
		 */
		if (waker_ends_soon(p, here, prev_cpu, &wait_dsq)) {
			seen = running_deadline(here);
			if (seen && time_before(tctx->deadline, seen) &&
			    preempt_cpu(p, tctx, here, seen, 0)) {
				cpu = here;
				goto out;
			}
			/* Counted before it is queued: see pull_sibling() */
			if (wait_dsq == cpu_dsq(here))
				set_waits_on_cpu(tctx, here);
			queue_by_deadline(p, tctx, wait_dsq, 0);
			st->waker_waits++;
			cpu = here;
			goto out;
		}
		victim = find_victim(p, prev_cpu, tctx->deadline, &seen);

		/* @p is queued on the CPU returned: its local DSQ is the victim's */
		if (victim >= 0 && preempt_cpu(p, tctx, victim, seen, 0))
			cpu = victim;
	}
out:
	if (wake_flags & SCX_WAKE_TTWU)
		count_wake_llc(st, cpu);
	return cpu;
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

void BPF_STRUCT_OPS(arbor_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	u32 llc = llc_of(scx_bpf_task_cpu(p));

	if (!tctx)
		return;

	if (tctx->moved) {
		/*
		 * Back from an affinity, nice or cgroup change: placed again
		 * with the lag it left with, as EEVDF does.
		 */
		tctx->moved = false;
		place_task(p, tctx, llc, tctx->vlag);
	} else if (tctx->asleep) {
		/*
		 * Wakeups that skipped select_cpu (tasks on one CPU) are
		 * placed here; a task that becomes runnable without waking is
		 * new (or was runnable when the scheduler attached).
		 */
		if (enq_flags & SCX_ENQ_WAKEUP) {
			wake_up(p, tctx, llc);
		} else {
			tctx->asleep = false;
			place_task(p, tctx, llc, -new_task_debt(p));
		}
	} else if (tctx->placed_llc != llc) {
		/* select_cpu placed it in prev's LLC and chose a CPU elsewhere */
		move_to_llc(p, tctx, llc);
	}

	tctx->queued_weight = p->scx.weight;
	tctx->llc = llc;
	clock_join(llc, tctx->queued_weight, tctx->vruntime);
}

/* A task that can run on its CPU only: that CPU's own DSQ */
static void enqueue_pcpu(struct task_struct *p, struct task_ctx *tctx,
			 struct arbor_cpu_stats *st, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u64 seen;

	st->pcpu_enqueues++;
	if (scx_bpf_test_and_clear_cpu_idle(cpu)) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tctx->slice_ns,
				   enq_flags);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	seen = running_deadline(cpu);
	if (wakeup_preempt && (enq_flags & SCX_ENQ_WAKEUP) && seen &&
	    eligible(tctx->llc, tctx->vruntime) &&
	    time_before(tctx->deadline, seen) &&
	    preempt_cpu(p, tctx, cpu, seen, enq_flags))
		return;
	queue_by_deadline(p, tctx, cpu_dsq(cpu), enq_flags);
}

/*
 * @p was running here until a waker preempted it (the waker claimed this
 * CPU) and no CPU is idle. If nothing waits in this CPU's or its LLC's
 * queue, @p is what this CPU runs after the waker anyway: it goes back to
 * the local DSQ, behind the waker, and the CPU needs no ops.dispatch when
 * the waker's (short) burst ends. EEVDF keeps a preempted task in its
 * queue the same way. With anything queued it waits there in deadline
 * order, where any CPU can take it.
 */
static bool requeue_preempted(struct task_struct *p, struct task_ctx *tctx,
			      struct arbor_cpu_stats *st, u64 enq_flags)
{
	s32 cpu = scx_bpf_task_cpu(p);
	struct cpu_ctx *cctx;

	if (enq_flags & SCX_ENQ_WAKEUP ||
	    p != (struct task_struct *)bpf_get_current_task_btf())
		return false;
	cctx = cpu_ctx_of(cpu);
	if (!cctx || !READ_ONCE(cctx->wake_preempted))
		return false;
	WRITE_ONCE(cctx->wake_preempted, false);
	if (scx_bpf_dsq_nr_queued(llc_dsq(cpu)) ||
	    scx_bpf_dsq_nr_queued(cpu_dsq(cpu)))
		return false;
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tctx->slice_ns, enq_flags);
	st->preempted_requeues++;
	return true;
}

void BPF_STRUCT_OPS(arbor_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 prev = scx_bpf_task_cpu(p), cpu;
	u64 seen;

	if (!tctx || !st) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, DEFAULT_SLICE_NS, enq_flags);
		return;
	}

	refresh_request(p, tctx);
	if (is_pcpu_task(p)) {
		enqueue_pcpu(p, tctx, st, enq_flags);
		return;
	}

	/*
	 * An idle CPU, chosen as select_cpu chooses (preempted tasks, new
	 * ones); before 6.16 without the LLC preference (compat.bpf.h)
	 */
	cpu = idle_cpu_exists(p) ?
		arbor_select_idle_enqueue(p, prev) : -1;
	if (cpu >= 0) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tctx->slice_ns,
				   enq_flags);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		st->direct_dispatches++;
		return;
	}
	if (requeue_preempted(p, tctx, st, enq_flags))
		return;

	if (wakeup_preempt && (enq_flags & SCX_ENQ_WAKEUP) &&
	    eligible(tctx->llc, tctx->vruntime)) {
		cpu = find_victim(p, prev, tctx->deadline, &seen);
		if (cpu >= 0 && preempt_cpu(p, tctx, cpu, seen, enq_flags))
			return;
	}
	queue_by_deadline(p, tctx, served_llc_dsq(prev), enq_flags);
}

/*
 * The task at the head of a DSQ: its deadline, when it was queued, and
 * whether it may run (lag >= 0 in its LLC)
 */
struct dsq_head {
	bool found;		/* the DSQ was not empty */
	bool eligible;
	u64 deadline;
	u64 queued_at;
};

static void dsq_head(u64 dsq_id, struct dsq_head *h)
{
	struct task_struct *p;
	struct task_ctx *tctx;

	h->found = false;
	h->eligible = false;
	h->deadline = 0;
	h->queued_at = 0;
	/* An empty queue costs one read, not an iterator */
	if (!scx_bpf_dsq_nr_queued(dsq_id))
		return;
	p = __COMPAT_scx_bpf_dsq_peek(dsq_id);
	if (!p)
		return;
	tctx = lookup_task_ctx(p);
	h->deadline = p->scx.dsq_vtime;
	h->queued_at = tctx ? tctx->queued_at : 0;
	h->eligible = !tctx || tctx->llc == NO_LLC ||
		      eligible(tctx->llc, tctx->vruntime);
	h->found = true;
}

/*
 * Whether to serve this CPU's own DSQ before its LLC's: the eligible head,
 * and of two eligible (or two ineligible) heads the earlier deadline;
 * unless a head has waited STARVE_NS, then the one waiting longer. Both
 * queues are in the LLC's virtual time, but a task that can run on one CPU
 * only gets what that CPU can give it; the wait bound keeps its queue and
 * the LLC's from starving each other.
 */
static bool mine_first(const struct dsq_head *mine, const struct dsq_head *shared)
{
	u64 now = scx_bpf_now();
	bool mine_starved = now - mine->queued_at >= STARVE_NS;
	bool shared_starved = now - shared->queued_at >= STARVE_NS;

	if (mine_starved || shared_starved)
		return time_before(mine->queued_at, shared->queued_at);
	if (mine->eligible != shared->eligible)
		return mine->eligible;
	return time_before(mine->deadline, shared->deadline);
}

/* Pull from this CPU's own DSQ or its LLC's, as mine_first() says */
static bool consume_local(s32 cpu, const struct dsq_head *mine,
			  const struct dsq_head *shared)
{
	if (mine->found && (!shared->found || mine_first(mine, shared)) &&
	    scx_bpf_dsq_move_to_local(cpu_dsq(cpu), 0))
		return true;
	if (shared->found && scx_bpf_dsq_move_to_local(llc_dsq(cpu), 0))
		return true;
	return mine->found && scx_bpf_dsq_move_to_local(cpu_dsq(cpu), 0);
}

/* How long a task may wait in DSQ @dsq_id, served by @nr_cpus CPUs */
static u64 starve_bound(u64 dsq_id, u32 nr_cpus)
{
	u32 row = ARBOR_CLASS_FALLBACK;
	struct arbor_action *act = bpf_map_lookup_elem(&actions, &row);
	u64 slice = act && act->slice_ns ? act->slice_ns : DEFAULT_SLICE_NS;
	u64 bound;

	bound = 2 * scx_bpf_dsq_nr_queued(dsq_id) * slice / (nr_cpus ?: 1);
	if (bound < STARVE_MIN_NS)
		return STARVE_MIN_NS;
	if (bound > STARVE_MAX_NS)
		return STARVE_MAX_NS;
	return bound;
}

/*
 * Deadlines order a queue fairly, but a task's turn can be far off (a
 * nice-19 task's request is 100 times longer in virtual time; under an
 * overload every turn is) while the watchdog allows timeout_ms. Run the
 * task that has waited longest, once it has waited past starve_bound():
 * while any task has, the queue is served oldest first. A global
 * function, checked once by the verifier.
 */
__noinline bool run_starved(s32 cpu, u64 dsq_id, u32 nr_cpus)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 now = scx_bpf_now(), oldest;
	bool moved = false;
	s64 pos = -1;
	u32 i;

	if (!scx_bpf_dsq_nr_queued(dsq_id))
		return false;
	oldest = now - starve_bound(dsq_id, nr_cpus);
	/*
	 * Numeric open-coded loops around the DSQ iterator: the verifier
	 * checks each body once, where a counted bpf_for_each() would be
	 * walked up to STARVE_SCAN_MAX times. The first finds the oldest
	 * task past the bound and where it is, the second moves it (if the
	 * queue changed meanwhile, the task found there is left alone).
	 */
	if (!bpf_iter_scx_dsq_new(&it, dsq_id, 0)) {
		bpf_for(i, 0, STARVE_SCAN_MAX) {
			p = bpf_iter_scx_dsq_next(&it);
			if (!p)
				break;
			tctx = lookup_task_ctx(p);
			if (!tctx || !time_before(tctx->queued_at, oldest) ||
			    !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
				continue;
			oldest = tctx->queued_at;
			pos = i;
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
	if (pos < 0)
		return false;

	if (!bpf_iter_scx_dsq_new(&it, dsq_id, 0)) {
		bpf_for(i, 0, STARVE_SCAN_MAX) {
			p = bpf_iter_scx_dsq_next(&it);
			if (!p || i > pos)
				break;
			if (i < pos)
				continue;
			tctx = lookup_task_ctx(p);
			if (tctx && tctx->queued_at == oldest &&
			    scx_bpf_dsq_move(&it, p, SCX_DSQ_LOCAL, 0))
				moved = true;
			break;
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
	return moved;
}

static bool rescue_starved(s32 cpu)
{
	struct arbor_cpu_stats *st;
	struct cpu_ctx *cctx = cpu_ctx_of(cpu);
	u64 now = scx_bpf_now();

	if (!cctx || now - cctx->last_starve_scan < STARVE_SCAN_NS)
		return false;
	cctx->last_starve_scan = now;
	if (!run_starved(cpu, cpu_dsq(cpu), 1) &&
	    !run_starved(cpu, llc_dsq(cpu),
			 llc_nr_online[LLC_IDX(llc_of(cpu))]))
		return false;
	/*
	 * One starved task found: look again at the next dispatch, not in
	 * STARVE_SCAN_NS, so an overload that starves many drains them all.
	 */
	cctx->last_starve_scan = now - STARVE_SCAN_NS;
	st = this_cpu_stats();
	if (st)
		st->starved_runs++;
	return true;
}

/* This CPU's LLC has nothing: pull from the other LLCs, nearest id first */
static bool steal_remote(s32 cpu)
{
	struct arbor_cpu_stats *st;
	u32 llc = llc_of(cpu), i;

	bpf_for(i, 1, nr_llcs) {
		if (i >= ARBOR_MAX_LLCS)
			break;
		if (scx_bpf_dsq_move_to_local(LLC_DSQ_BASE + (llc + i) % nr_llcs, 0)) {
			st = this_cpu_stats();
			if (st)
				st->llc_steals++;
			return true;
		}
	}
	return false;
}

/*
 * Nothing in this CPU's queues: take a task waiting in the own DSQ of
 * another CPU of the LLC (a wakeup queued behind an interrupt's first task
 * there, see waker_ends_soon()). Tasks that can run on that CPU only stay,
 * and a DSQ that holds only such tasks is not looked at: the kernel would
 * walk past every one of them under that DSQ's lock for nothing. The count
 * of waiting wakeups is raised before the wakeup is queued and lowered when
 * it runs, so a DSQ with a wakeup in it is never skipped.
 */
static bool pull_sibling(s32 cpu)
{
	struct arbor_cpu_stats *st;
	u32 llc = llc_of(cpu), first, nr, i;
	bool moved;

	if (llc >= ARBOR_MAX_LLCS)
		return false;
	first = llc_first[LLC_IDX(llc)];
	nr = llc_nr_cpus[LLC_IDX(llc)];
	bpf_for(i, 0, nr) {
		u32 idx = first + i;
		s32 other;

		if (idx >= ARBOR_MAX_CPUS)
			break;
		other = llc_cpus[CPU_IDX(idx)];
		if (other == cpu || !waiting_wakeups(other))
			continue;
		moved = scx_bpf_dsq_move_to_local(cpu_dsq(other), 0);
		st = this_cpu_stats();
		if (st && moved)
			st->sibling_pulls++;
		else if (st)
			st->sibling_pull_misses++;
		if (moved)
			return true;
	}
	return false;
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

/*
 * prev runs on with a fresh slice. The kernel keeps it without calling
 * ops.stopping and ops.running, so its deadline, which refresh_request()
 * may have moved, is shown to wakers here.
 */
static void keep_running(s32 cpu, struct task_struct *prev,
			 struct task_ctx *tctx)
{
	scx_bpf_task_set_slice(prev, tctx->slice_ns);
	show_running_deadline(cpu, tctx->deadline);
}

/*
 * Whether a head goes before the previous task, at @deadline and
 * @eligible: an eligible head before an ineligible task, else the earlier
 * deadline among equals.
 */
static bool head_beats(const struct dsq_head *h, u64 deadline, bool eligible)
{
	if (!h->found)
		return false;
	if (h->eligible != eligible)
		return h->eligible;
	return time_before(h->deadline, deadline);
}

/*
 * No head may run yet (each ran ahead of V): take the first task of the
 * LLC's queue that may, among the first ELIGIBLE_SCAN. EEVDF always has
 * one, the task furthest behind; a deadline-ordered queue shows it only by
 * walking it, so a bounded walk may miss it and the head then runs.
 */
static bool take_eligible(s32 cpu)
{
	struct bpf_iter_scx_dsq it;
	struct arbor_cpu_stats *st;
	struct task_struct *p;
	struct task_ctx *tctx;
	bool moved = false;
	u32 i;

	if (scx_bpf_dsq_nr_queued(llc_dsq(cpu)) < 2)
		return false;
	if (!bpf_iter_scx_dsq_new(&it, llc_dsq(cpu), 0)) {
		bpf_for(i, 0, ELIGIBLE_SCAN) {
			p = bpf_iter_scx_dsq_next(&it);
			if (!p)
				break;
			tctx = lookup_task_ctx(p);
			if (!tctx || tctx->llc == NO_LLC ||
			    !eligible(tctx->llc, tctx->vruntime) ||
			    !bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
				continue;
			if (scx_bpf_dsq_move(&it, p, SCX_DSQ_LOCAL, 0)) {
				moved = true;
				break;
			}
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
	if (moved) {
		st = this_cpu_stats();
		if (st)
			st->ineligible_skips++;
	}
	return moved;
}

void BPF_STRUCT_OPS(arbor_dispatch, s32 cpu, struct task_struct *prev)
{
	struct dsq_head mine, shared;
	struct task_ctx *tctx = NULL;
	bool prev_eligible;

	/*
	 * prev used its slice up but is still runnable; the kernel asks before
	 * it requeues prev, so prev is not in any queue here. Charge its run,
	 * end its burst if past the truncation limit, and keep it if its
	 * deadline is still the earliest: EEVDF picks among all runnable
	 * tasks, the current one included.
	 */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED))
		tctx = lookup_task_ctx(prev);
	if (tctx) {
		charge_run(prev, tctx);
		if (tctx->burst_ns >= ARBOR_BURST_TRUNC_US * NSEC_PER_USEC)
			end_burst(prev, tctx, true);
		refresh_request(prev, tctx);
	}
	if (rescue_starved(cpu))
		return;

	/*
	 * Each head is read once, for prev and for the pick: EEVDF's pick,
	 * the earliest deadline among the tasks that may run (lag >= 0),
	 * prev included.
	 */
	dsq_head(cpu_dsq(cpu), &mine);
	dsq_head(llc_dsq(cpu), &shared);
	if (tctx) {
		prev_eligible = tctx->llc == NO_LLC ||
				eligible(tctx->llc, tctx->vruntime);
		if (!head_beats(&mine, tctx->deadline, prev_eligible) &&
		    !head_beats(&shared, tctx->deadline, prev_eligible)) {
			keep_running(cpu, prev, tctx);
			return;
		}
	}
	if (!mine.eligible && !shared.eligible && shared.found &&
	    take_eligible(cpu))
		return;
	if (consume_local(cpu, &mine, &shared) || pull_sibling(cpu) ||
	    steal_remote(cpu))
		return;

	/* Nothing else to run: let prev go on with a fresh slice */
	if (tctx)
		keep_running(cpu, prev, tctx);
}

void BPF_STRUCT_OPS(arbor_running, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct cpu_ctx *cctx;
	u32 llc;

	if (!tctx)
		return;
	if (tctx->waits_on_cpu)
		set_waits_on_cpu(tctx, -1);
	llc = llc_of(scx_bpf_task_cpu(p));
	if (tctx->llc != NO_LLC && tctx->llc != llc) {
		/* Taken from another LLC's queue: counted here now, same lag */
		clock_leave(tctx->llc, tctx->queued_weight, tctx->vruntime);
		move_to_llc(p, tctx, llc);
		tctx->llc = llc;
		clock_join(llc, tctx->queued_weight, tctx->vruntime);
	}
	cctx = cpu_ctx_of(scx_bpf_task_cpu(p));
	if (cctx) {
		/* A CPU going up or down is no waker's victim */
		WRITE_ONCE(cctx->curr_deadline,
			   READ_ONCE(cctx->online) ? (tctx->deadline ?: 1) : 0);
		WRITE_ONCE(cctx->wake_preempted, false);
	}
}

void BPF_STRUCT_OPS(arbor_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct arbor_cpu_stats *st;
	struct cpu_ctx *cctx;

	cctx = cpu_ctx_of(scx_bpf_task_cpu(p));
	if (cctx)
		WRITE_ONCE(cctx->curr_deadline, 0);
	if (!tctx)
		return;

	/* Charge what this run really took: slices vary per task */
	charge_run(p, tctx);
	st = this_cpu_stats();
	if (st) {
		st->vtime = vtime_now(llc_of(scx_bpf_task_cpu(p)));
		st->runnable_weight = llc_weight(llc_of(scx_bpf_task_cpu(p)));
	}

	/*
	 * Not runnable: a sleep or another kind of dequeue, which quiescent()
	 * tells apart. Runnable: the task was preempted or used its slice up.
	 */
	if (!runnable)
		return;
	tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE] =
		ewma(tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE], 0);
	if (tctx->burst_ns >= ARBOR_BURST_TRUNC_US * NSEC_PER_USEC)
		end_burst(p, tctx, true);
}

/*
 * Charge a long run as it goes, so dispatch compares up-to-date deadlines.
 * A request used up in the middle of a slice is followed by the next one
 * here, as EEVDF's update_curr() does, and wakers see the new deadline.
 */
void BPF_STRUCT_OPS(arbor_tick, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	charge_run(p, tctx);
	redecide_at_tick(p, tctx);
	if (tctx->decided && !time_before(tctx->vruntime, tctx->deadline)) {
		new_deadline(p, tctx);
		show_running_deadline(scx_bpf_task_cpu(p), tctx->deadline);
	}
}

void BPF_STRUCT_OPS(arbor_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	/* The lag it leaves with, then V without it */
	if (tctx->llc != NO_LLC) {
		tctx->vlag = lag_of(tctx->llc, tctx->vruntime,
				    lag_limit(p, tctx->request_ns));
		clock_leave(tctx->llc, tctx->queued_weight, tctx->vruntime);
	}
	tctx->llc = NO_LLC;
	tctx->queued_weight = 0;

	/* An affinity, nice or cgroup change: the burst goes on */
	if (!(deq_flags & SCX_DEQ_SLEEP)) {
		tctx->moved = true;
		return;
	}

	tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE] =
		ewma(tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE], 1000);
	end_burst(p, tctx, false);
	tctx->sleep_start = scx_bpf_now();
	tctx->asleep = true;
}

void BPF_STRUCT_OPS(arbor_enable, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	/* A new task starts at V with no lag, as one already asleep wakes */
	tctx->placed_llc = llc_of(scx_bpf_task_cpu(p));
	tctx->vruntime = vtime_now(tctx->placed_llc);
	tctx->llc = NO_LLC;
	tctx->charged_exec = p->se.sum_exec_runtime;
	tctx->vlag = 0;
	tctx->asleep = true;
	tctx->feat[ARBOR_F_VOLUNTARY_PERMILLE] = 1000;
}

/*
 * Move the tasks of DSQ @from that may run on another CPU than @cpu (the
 * one going offline) to DSQ @to, keeping their deadlines; counted in
 * offline_moves. Returns whether any moved. Tasks bound to @cpu stay: the
 * kernel migrates them with the rest of the dying CPU's tasks.
 */
static bool move_movable(u64 from, u64 to, s32 cpu)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct bpf_iter_scx_dsq it;
	struct task_struct *p;
	struct task_ctx *tctx;
	bool moved = false;
	u32 i;

	if (!st || !scx_bpf_dsq_nr_queued(from))
		return false;
	/*
	 * The count goes to the map, not to a local: a counter from a
	 * constant would be a new verifier state on every iteration.
	 */
	if (!bpf_iter_scx_dsq_new(&it, from, 0)) {
		bpf_for(i, 0, OFFLINE_MOVE_MAX) {
			p = bpf_iter_scx_dsq_next(&it);
			if (!p)
				break;
			if (is_pcpu_task(p) &&
			    bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
				continue;
			scx_bpf_dsq_move_set_vtime(&it, p->scx.dsq_vtime);
			if (!scx_bpf_dsq_move_vtime(&it, p, to, 0))
				continue;
			tctx = lookup_task_ctx(p);
			if (tctx && tctx->waits_on_cpu)
				set_waits_on_cpu(tctx, -1);
			st->offline_moves++;
			moved = true;
		}
	}
	bpf_iter_scx_dsq_destroy(&it);
	return moved;
}

/* Wake the idle CPUs of the LLC whose queue is DSQ @dsq_id */
static void kick_llc(u64 dsq_id)
{
	u32 llc = dsq_id - LLC_DSQ_BASE, first, nr, i;

	if (llc >= ARBOR_MAX_LLCS)
		return;
	first = llc_first[LLC_IDX(llc)];
	nr = llc_nr_cpus[LLC_IDX(llc)];
	bpf_for(i, 0, nr) {
		u32 idx = first + i;
		s32 c;

		if (idx >= ARBOR_MAX_CPUS)
			break;
		c = llc_cpus[CPU_IDX(idx)];
		if (cpu_serves(c))
			scx_bpf_kick_cpu(c, SCX_KICK_IDLE);
	}
}

/*
 * CPU hotplug. With these two callbacks the kernel no longer restarts the
 * scheduler on every hotplug event: a CPU of the topology read at load
 * leaves and comes back with the tasks' state, the model and its
 * generation untouched (suspend and resume take every CPU but one out and
 * back). What waits where no CPU would look any more moves: the wakeups in
 * the leaving CPU's own DSQ, and, when it was the last CPU of its LLC
 * online, the LLC's whole queue, to the queue of an LLC with a CPU online.
 * A CPU the loader never saw has no LLC here: for that one the scheduler
 * asks userspace to restart it, which reads the topology again (what the
 * kernel does by itself without these callbacks).
 */
void BPF_STRUCT_OPS(arbor_cpu_online, s32 cpu)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct cpu_ctx *c = cpu_ctx_of(cpu);
	u32 llc = llc_of(cpu);

	if (!c || !c->known || llc >= ARBOR_MAX_LLCS) {
		scx_bpf_exit(SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG,
			     "CPU %d came online, outside the topology read at load",
			     cpu);
		return;
	}
	WRITE_ONCE(c->curr_deadline, 0);
	if (!c->online) {
		WRITE_ONCE(c->online, true);
		llc_nr_online[LLC_IDX(llc)]++;
	}
	if (st)
		st->cpu_onlines++;
}

void BPF_STRUCT_OPS(arbor_cpu_offline, s32 cpu)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct cpu_ctx *c = cpu_ctx_of(cpu);
	u32 llc = llc_of(cpu);
	bool moved;
	u64 to;

	if (!c || llc >= ARBOR_MAX_LLCS)
		return;
	if (c->online) {
		WRITE_ONCE(c->online, false);
		if (llc_nr_online[LLC_IDX(llc)])
			llc_nr_online[LLC_IDX(llc)]--;
	}
	WRITE_ONCE(c->curr_deadline, 0);

	to = served_llc_dsq(cpu);
	moved = move_movable(cpu_dsq(cpu), to, cpu);
	if (to != llc_dsq(cpu) && move_movable(llc_dsq(cpu), to, cpu))
		moved = true;
	if (moved)
		kick_llc(to);
	if (st)
		st->cpu_offlines++;
}

/* A task leaves sched_ext (or exits): it no longer waits anywhere */
void BPF_STRUCT_OPS(arbor_disable, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (tctx && tctx->waits_on_cpu)
		set_waits_on_cpu(tctx, -1);
}

/* An RT or deadline task took the CPU: requeue what waits in its local DSQ */
void BPF_STRUCT_OPS(arbor_cpu_release, s32 cpu,
		    struct scx_cpu_release_args *args)
{
	scx_bpf_reenqueue_local();
}

s32 BPF_STRUCT_OPS(arbor_init_task, struct task_struct *p,
		   struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->llc = NO_LLC;
	return 0;
}

/*
 * The CPUs of the topology the loader read, which were online then: init
 * runs under the kernel's CPU hotplug lock, and the attach fails (and the
 * loader starts over) if a CPU came or went since the loader read it.
 */
static void mark_known_cpus(void)
{
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	u32 i, nr = 0;
	struct cpu_ctx *c;
	s32 cpu;

	if (nr_llcs && nr_llcs <= ARBOR_MAX_LLCS)
		nr = llc_first[LLC_IDX(nr_llcs - 1)] +
		     llc_nr_cpus[LLC_IDX(nr_llcs - 1)];
	bpf_for(i, 0, nr) {
		if (i >= ARBOR_MAX_CPUS)
			break;
		cpu = llc_cpus[CPU_IDX(i)];
		c = cpu_ctx_of(cpu);
		if (!c)
			continue;
		c->known = true;
		c->online = bpf_cpumask_test_cpu(cpu, online);
		if (c->online)
			llc_nr_online[LLC_IDX(llc_of(cpu))]++;
	}
	scx_bpf_put_cpumask(online);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(arbor_init)
{
	s32 err;
	u32 i;

	vclock_init();
	mark_known_cpus();
	bpf_for(i, 0, nr_cpu_ids) {
		if (i >= ARBOR_MAX_CPUS)
			break;
		err = scx_bpf_create_dsq(cpu_dsq(i), -1);
		if (err) {
			scx_bpf_error("creating the DSQ of CPU %u: %d", i, err);
			return err;
		}
	}
	bpf_for(i, 0, nr_llcs) {
		if (i >= ARBOR_MAX_LLCS)
			break;
		err = scx_bpf_create_dsq(LLC_DSQ_BASE + i, -1);
		if (err) {
			scx_bpf_error("creating the DSQ of LLC %u: %d", i, err);
			return err;
		}
	}
	return 0;
}

/*
 * The exit dump (a stall, an error): each LLC's virtual time and weight,
 * and per task where it stands in it, so a wait can be read off the dump.
 */
void BPF_STRUCT_OPS(arbor_dump, struct scx_dump_ctx *dctx)
{
	u32 i;

	bpf_for(i, 0, nr_llcs) {
		if (i >= ARBOR_MAX_LLCS)
			break;
		scx_bpf_dump("LLC %u: V=%llu W=%llu online=%u queued=%d\n", i,
			     vtime_now(i), llc_weight(i),
			     llc_nr_online[LLC_IDX(i)],
			     scx_bpf_dsq_nr_queued(LLC_DSQ_BASE + i));
	}
}

void BPF_STRUCT_OPS(arbor_dump_task, struct scx_dump_ctx *dctx,
		    struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (!tctx)
		return;
	scx_bpf_dump("arbor: llc=%d v=%llu lag=%lld deadline=%llu request=%llu slice=%llu class=%u queued_at=%llu\n",
		     (s32)tctx->llc, tctx->vruntime,
		     tctx->llc == NO_LLC ? 0 :
		     (s64)(vtime_now(tctx->llc) - tctx->vruntime),
		     tctx->deadline, tctx->request_ns, tctx->slice_ns,
		     tctx->action, tctx->queued_at);
}

void BPF_STRUCT_OPS(arbor_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

/*
 * timeout_ms: a task that waits 5 s for a CPU means the policy is broken;
 * the kernel then ejects scx_arbor and EEVDF takes over (the default is
 * 30 s, long enough to look like a hung machine). ops.flags are set by the
 * loader from what the running kernel supports (compat).
 */
SCX_OPS_DEFINE(arbor_ops,
	       .select_cpu	= (void *)arbor_select_cpu,
	       .enqueue		= (void *)arbor_enqueue,
	       .dispatch	= (void *)arbor_dispatch,
	       .runnable	= (void *)arbor_runnable,
	       .running		= (void *)arbor_running,
	       .stopping	= (void *)arbor_stopping,
	       .tick		= (void *)arbor_tick,
	       .quiescent	= (void *)arbor_quiescent,
	       .enable		= (void *)arbor_enable,
	       .cpu_release	= (void *)arbor_cpu_release,
	       .cpu_online	= (void *)arbor_cpu_online,
	       .cpu_offline	= (void *)arbor_cpu_offline,
	       .disable		= (void *)arbor_disable,
	       .init_task	= (void *)arbor_init_task,
	       .init		= (void *)arbor_init,
	       .exit		= (void *)arbor_exit,
	       .dump		= (void *)arbor_dump,
	       .dump_task	= (void *)arbor_dump_task,
	       .timeout_ms	= 5000,
	       .name		= "arbor");
