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
 *
 * The parts, by concern, each included here once: topology.bpf.h (CPUs,
 * LLCs, their DSQs), placement.bpf.h (each LLC's V, lag, eligibility),
 * walk.bpf.h (the ensemble walk), sampling.bpf.h (outcomes to userspace),
 * waits.bpf.h (wakeup waits, the guard's switch),
 * decide.bpf.h (a burst's class and action), task.bpf.h (a task's charged
 * time, bursts, wakeups, deadline), wakeup.bpf.h (preemption and waiting
 * for the waker), dispatch.bpf.h (what a CPU runs next), hotplug.bpf.h.
 * Below: the callbacks, a task's first (select_cpu to enable), then the
 * CPUs' (hotplug, release) and the scheduler's (init, dump, exit).
 */
#include <scx/common.bpf.h>
#include "compat.bpf.h"
#include "intf.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

/* Time units, ns */
#define NSEC_PER_USEC		1000ULL
#define NSEC_PER_MSEC		(1000ULL * NSEC_PER_USEC)

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

/* The guard's switch (struct arbor_guard), written by userspace */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct arbor_guard);
} guard SEC(".maps");

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
#include "waits.bpf.h"
#include "decide.bpf.h"
#include "task.bpf.h"
#include "wakeup.bpf.h"
#include "enqueue.bpf.h"
#include "dispatch.bpf.h"
#include "hotplug.bpf.h"

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

void BPF_STRUCT_OPS(arbor_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct arbor_cpu_stats *st = this_cpu_stats();
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 prev = scx_bpf_task_cpu(p), cpu;
	u64 seen;

	if (!tctx || !st) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, DEFAULT_SLICE_NS, enq_flags);
		if (enq_flags & SCX_ENQ_LAST)
			scx_bpf_kick_cpu(prev, SCX_KICK_IDLE);
		return;
	}

	refresh_request(p, tctx);
	if (is_pcpu_task(p)) {
		enqueue_pcpu(p, tctx, st, enq_flags);
		return;
	}
	if (enq_flags & SCX_ENQ_LAST) {
		move_off_smt_sibling(p, tctx, st, prev, enq_flags);
		return;
	}

	/*
	 * With SMT, a task a waker preempted takes a wholly idle core, or
	 * else waits behind the waker on its own CPU: the idle CPU the
	 * kernel's search would give it next may be the other half of a
	 * core that is running a hog.
	 */
	if (smt_enabled && !(enq_flags & SCX_ENQ_WAKEUP) &&
	    p == (struct task_struct *)bpf_get_current_task_btf()) {
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, SCX_PICK_IDLE_CORE);
		if (cpu >= 0)
			goto direct;
		if (requeue_preempted(p, tctx, st, enq_flags))
			return;
	}

	/*
	 * An idle CPU, chosen as select_cpu chooses (preempted tasks, new
	 * ones); before 6.16 without the LLC preference (compat.bpf.h)
	 */
	cpu = idle_cpu_exists(p) ?
		arbor_select_idle_enqueue(p, prev) : -1;
	if (cpu >= 0) {
direct:
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

void BPF_STRUCT_OPS(arbor_dispatch, s32 cpu, struct task_struct *prev)
{
	struct dsq_head mine, shared;
	struct task_ctx *tctx = NULL;
	bool prev_eligible, may_stay;

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
	if (rescue_starved(cpu) || pull_sibling(cpu, true))
		return;

	/*
	 * Each head is read once, for prev and for the pick: EEVDF's pick,
	 * the earliest deadline among the tasks that may run (lag >= 0),
	 * prev included.
	 */
	dsq_head(cpu_dsq(cpu), &mine);
	dsq_head(llc_dsq(cpu), &shared);
	/*
	 * prev may stay unless its core's other CPU is busy while a whole
	 * core is idle. Then this CPU runs what waits here, if anything, and
	 * prev goes to ops.enqueue(), which moves it to that core (with
	 * SCX_ENQ_LAST, set with SMT, when nothing else runs here:
	 * move_off_smt_sibling()).
	 */
	may_stay = tctx && (is_pcpu_task(prev) || !smt_contended(prev, cpu));
	/*
	 * Balance between LLCs at the end of a slice: take a task from a
	 * busier LLC; prev then goes to ops.enqueue() and queues here.
	 */
	if (tctx && !is_pcpu_task(prev) && balance_llcs(cpu))
		return;
	if (tctx) {
		prev_eligible = tctx->llc == NO_LLC ||
				eligible(tctx->llc, tctx->vruntime);
		if (may_stay &&
		    !head_beats(&mine, tctx->deadline, prev_eligible) &&
		    !head_beats(&shared, tctx->deadline, prev_eligible)) {
			keep_running(cpu, prev, tctx);
			return;
		}
	}
	if (!mine.eligible && !shared.eligible && shared.found &&
	    take_eligible(cpu))
		return;
	if (consume_local(cpu, &mine, &shared) || pull_sibling(cpu, false) ||
	    steal_remote(cpu))
		return;

	/* Nothing else to run: let prev go on with a fresh slice */
	if (may_stay)
		keep_running(cpu, prev, tctx);
}

void BPF_STRUCT_OPS(arbor_running, struct task_struct *p)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	struct cpu_ctx *cctx;
	u32 llc;

	if (!tctx)
		return;
	count_wakeup_wait(tctx);
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
/*
 * A higher class (an RT or deadline task) takes @cpu: what is in its local
 * DSQ goes back through enqueue, and the wakeups waiting in its own DSQ
 * (see waker_ends_soon()) are left to its siblings, which take them before
 * their own queues (pull_sibling()); the idle ones are woken for them.
 */
void BPF_STRUCT_OPS(arbor_cpu_release, s32 cpu,
		    struct scx_cpu_release_args *args)
{
	struct cpu_ctx *cctx = cpu_ctx_of(cpu);

	scx_bpf_reenqueue_local();
	if (!cctx)
		return;
	WRITE_ONCE(cctx->released, true);
	if (READ_ONCE(cctx->waiting_wakeups))
		kick_llc(llc_dsq(cpu));
}

/* sched_ext has @cpu back from the higher class */
void BPF_STRUCT_OPS(arbor_cpu_acquire, s32 cpu,
		    struct scx_cpu_acquire_args *args)
{
	struct cpu_ctx *cctx = cpu_ctx_of(cpu);

	if (cctx)
		WRITE_ONCE(cctx->released, false);
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
	       .cpu_acquire	= (void *)arbor_cpu_acquire,
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
