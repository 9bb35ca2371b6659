/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel compatibility of scx_arbor, back to Linux 6.12 (the first LTS line
 * with sched_ext).
 *
 * scx/compat.bpf.h (scx_cargo's copy of upstream's header) already covers
 * the renames and signature changes of the kfuncs arbor calls: the 6.13
 * dispatch -> dsq_insert/dsq_move renames (scx_bpf_dispatch,
 * scx_bpf_dispatch_vtime, scx_bpf_consume, scx_bpf_dispatch_from_dsq on
 * 6.12), scx_bpf_now() (6.14; bpf_ktime_get_ns() before: arbor compares its
 * timestamps only with each other), scx_bpf_task_set_slice() (6.19; a write
 * to p->scx.slice before), the DSQ peek (7.1; the first task through the
 * DSQ iterator before) and scx_bpf_reenqueue_local() (called from
 * ops.cpu_release only, as 6.12 requires).
 *
 * What it does not cover is the idle CPU selection, scx_bpf_select_cpu_and()
 * (6.16), which arbor calls from ops.select_cpu and from ops.enqueue. The
 * wrappers below use it where the kernel has it and otherwise:
 *
 *   ops.select_cpu  scx_bpf_select_cpu_dfl(), the same topology-aware
 *                   search (prev's idle core, an idle core in the LLC, ...)
 *                   over p->cpus_ptr, which is what arbor passes anyway;
 *   ops.enqueue     scx_bpf_select_cpu_dfl() may only be called from
 *                   ops.select_cpu before 6.16, so: prev's CPU if it is idle
 *                   (claimed with scx_bpf_test_and_clear_cpu_idle()), else a
 *                   fully idle core, else any idle CPU (scx_bpf_pick_idle_cpu()
 *                   claims what it returns). Without the LLC preference of
 *                   the kernel's search: on a machine with several LLCs a
 *                   re-enqueued task (a preempted or new one) may go to an
 *                   idle CPU of another LLC when prev's is busy.
 *
 * Both return an idle CPU claimed for @p, or a negative value when none was
 * found, as scx_bpf_select_cpu_and() does. The loader logs which of these
 * paths the running kernel takes (src/sched/features.rs).
 */
#ifndef __ARBOR_COMPAT_BPF_H
#define __ARBOR_COMPAT_BPF_H

/* scx_bpf_select_cpu_and(), in either of its forms (6.16, 6.19) */
static __always_inline bool has_select_cpu_and(void)
{
	if (bpf_core_type_exists(struct scx_bpf_select_cpu_and_args))
		return true;
	if (bpf_ksym_exists(scx_bpf_select_cpu_and___compat))
		return true;
	return false;
}

/* An idle CPU for @p from ops.select_cpu, or -EBUSY */
static __always_inline s32 arbor_select_idle_wakeup(struct task_struct *p,
						     s32 prev_cpu,
						     u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	if (has_select_cpu_and())
		return scx_bpf_select_cpu_and(p, prev_cpu, wake_flags,
					      p->cpus_ptr, 0);
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	return is_idle ? cpu : -EBUSY;
}

/* An idle CPU for @p from ops.enqueue, or -EBUSY */
static __always_inline s32 arbor_select_idle_enqueue(struct task_struct *p,
						     s32 prev_cpu)
{
	s32 cpu;

	if (has_select_cpu_and())
		return scx_bpf_select_cpu_and(p, prev_cpu, 0, p->cpus_ptr, 0);
	if (prev_cpu >= 0 && bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, SCX_PICK_IDLE_CORE);
	if (cpu >= 0)
		return cpu;
	return scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
}

#endif /* __ARBOR_COMPAT_BPF_H */
