/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The floor: the least a fair sched_ext scheduler does, run by
 * `scx_arbor_tools floor` as an arm of `ab` to measure what sched_ext's own
 * path costs on a machine (the kernel's ext class, one BPF program per
 * callback, the moves between DSQs) apart from scx_arbor's policy. Not a
 * scheduler to deploy: no wakeup preemption, no topology, one queue.
 *
 * A waking task goes straight to the idle CPU the kernel's default selection
 * finds; else it waits in one shared DSQ ordered by weighted vruntime, at
 * most one slice behind the clock of the task that last started running (a
 * sleeper's credit). Every slice is slice_ns, which the loader sets to
 * scx_arbor's fallback slice (EEVDF's base slice for the CPU count).
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

#define FLOOR_DSQ	0

const volatile u64 slice_ns = 1500000;

/* Weighted vruntime of the task that last started running */
static u64 vclock;

UEI_DEFINE(uei);

s32 BPF_STRUCT_OPS(floor_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	bool idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &idle);
	if (idle)
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	return cpu;
}

void BPF_STRUCT_OPS(floor_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 vtime = p->scx.dsq_vtime;

	if (time_before(vtime, vclock - slice_ns))
		vtime = vclock - slice_ns;
	scx_bpf_dsq_insert_vtime(p, FLOOR_DSQ, slice_ns, vtime, enq_flags);
}

void BPF_STRUCT_OPS(floor_dispatch, s32 cpu, struct task_struct *prev)
{
	scx_bpf_dsq_move_to_local(FLOOR_DSQ, 0);
}

void BPF_STRUCT_OPS(floor_running, struct task_struct *p)
{
	if (time_before(vclock, p->scx.dsq_vtime))
		vclock = p->scx.dsq_vtime;
}

void BPF_STRUCT_OPS(floor_stopping, struct task_struct *p, bool runnable)
{
	u64 used = slice_ns - p->scx.slice;

	if (p->scx.slice > slice_ns)
		used = 0;
	p->scx.dsq_vtime += used * 100 / p->scx.weight;
}

void BPF_STRUCT_OPS(floor_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vclock;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(floor_init)
{
	return scx_bpf_create_dsq(FLOOR_DSQ, -1);
}

void BPF_STRUCT_OPS(floor_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(floor_ops,
	       .select_cpu	= (void *)floor_select_cpu,
	       .enqueue		= (void *)floor_enqueue,
	       .dispatch	= (void *)floor_dispatch,
	       .running		= (void *)floor_running,
	       .stopping	= (void *)floor_stopping,
	       .enable		= (void *)floor_enable,
	       .init		= (void *)floor_init,
	       .exit		= (void *)floor_exit,
	       .name		= "arbor_floor");
