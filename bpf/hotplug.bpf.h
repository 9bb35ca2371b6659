/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: CPUs that come and go. Which CPUs the loader saw, and what
 * moves off the queues of a CPU going offline (see arbor_cpu_online()).
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_HOTPLUG_BPF_H
#define __ARBOR_HOTPLUG_BPF_H

/* Tasks moved off the queues of a CPU going offline, at most */
#define OFFLINE_MOVE_MAX	8192

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

#endif /* __ARBOR_HOTPLUG_BPF_H */
