/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: where ops.enqueue() puts a task that select_cpu did not
 * place: one-CPU tasks into their CPU's DSQ, a task a waker preempted
 * back behind the waker, and a task moved off a busy SMT core.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_ENQUEUE_BPF_H
#define __ARBOR_ENQUEUE_BPF_H

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

/*
 * @p used its slice up on @prev and dispatch declined to keep it there: its
 * core's other CPU is busy and a whole core is idle (smt_contended()). It
 * goes to a CPU of an idle core; if another CPU took that core meanwhile,
 * it stays on @prev. Either way the CPU is kicked: the kernel leaves the
 * follow-up to the scheduler (SCX_ENQ_LAST).
 */
static void move_off_smt_sibling(struct task_struct *p, struct task_ctx *tctx,
				 struct arbor_cpu_stats *st, s32 prev,
				 u64 enq_flags)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, SCX_PICK_IDLE_CORE);

	if (cpu >= 0)
		st->smt_moves++;
	else
		cpu = prev;
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, tctx->slice_ns, enq_flags);
	scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

#endif /* __ARBOR_ENQUEUE_BPF_H */
