/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: where a wakeup goes when no CPU is idle. It preempts the
 * task with the latest later deadline, as EEVDF does, unless something
 * queued there goes first; or, when its waker is about to sleep, it
 * waits for the waker's CPU. Queued tasks wait in deadline order.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_WAKEUP_BPF_H
#define __ARBOR_WAKEUP_BPF_H

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
	    !cpu_serves(here) || cpu_released(here) ||
	    !bpf_cpumask_test_cpu(here, p->cpus_ptr))
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

#endif /* __ARBOR_WAKEUP_BPF_H */
