/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: CPUs, last-level caches and their queues.
 *
 * Each LLC has one vtime DSQ (id LLC_DSQ_BASE + llc) shared by its CPUs;
 * each CPU has one more (id = the CPU) for tasks that can run there only,
 * so no other CPU ever walks past them. Userspace fills the LLC map from
 * scx_utils::Topology before load. Included by main.bpf.c only.
 */
#ifndef __ARBOR_TOPOLOGY_BPF_H
#define __ARBOR_TOPOLOGY_BPF_H

#define LLC_DSQ_BASE		((u64)ARBOR_MAX_CPUS)

/* Set by userspace before load: number of possible CPU ids */
const volatile u32 nr_cpu_ids = 1;

/* Set by userspace before load: number of LLCs, and each CPU's LLC index */
const volatile u32 nr_llcs = 1;
const volatile u32 cpu_llc[ARBOR_MAX_CPUS];

/*
 * Set by userspace before load: whether any core has more than one CPU
 * (SMT), and for each CPU another CPU of its core (-1: none).
 */
const volatile bool smt_enabled;
const volatile s32 cpu_sibling[ARBOR_MAX_CPUS];

/*
 * Set by userspace before load: the CPUs of LLC l are
 * llc_cpus[llc_first[l] .. llc_first[l] + llc_nr_cpus[l]).
 */
const volatile u32 llc_cpus[ARBOR_MAX_CPUS];
const volatile u32 llc_first[ARBOR_MAX_LLCS];
const volatile u32 llc_nr_cpus[ARBOR_MAX_LLCS];

/*
 * Set by userspace before load: each LLC's other LLCs, nearest first (NUMA
 * distance, then index after it): those of LLC l are
 * llc_order[l * (nr_llcs - 1) .. (l + 1) * (nr_llcs - 1)).
 */
const volatile u8 llc_order[ARBOR_MAX_LLCS * ARBOR_MAX_LLCS];

/*
 * Array indices below are masked as well as checked: clang may merge the
 * checks into arithmetic the verifier cannot follow. ARBOR_MAX_CPUS and
 * ARBOR_MAX_LLCS are powers of two.
 */
#define CPU_IDX(i)		((u32)(i) & (ARBOR_MAX_CPUS - 1))
#define LLC_IDX(i)		((u32)(i) & (ARBOR_MAX_LLCS - 1))

static u32 llc_of(s32 cpu)
{
	if (cpu < 0 || cpu >= ARBOR_MAX_CPUS)
		return 0;
	return cpu_llc[CPU_IDX(cpu)];
}

/* The number of CPUs of LLC @llc (0 for an id out of range) */
static u32 llc_size(u32 llc)
{
	return llc < ARBOR_MAX_LLCS ? llc_nr_cpus[LLC_IDX(llc)] : 0;
}

/*
 * The @i-th CPU of LLC @llc, for i < llc_size(@llc); -1 out of range. The
 * loops over an LLC's CPUs go through it: for i in [0, llc_size(llc)),
 * cpu = llc_cpu(llc, i), stopping at -1.
 */
static s32 llc_cpu(u32 llc, u32 i)
{
	u32 idx;

	if (llc >= ARBOR_MAX_LLCS)
		return -1;
	idx = llc_first[LLC_IDX(llc)] + i;
	if (idx >= ARBOR_MAX_CPUS)
		return -1;
	return llc_cpus[CPU_IDX(idx)];
}

/* The @i-th nearest other LLC of @llc, for i < nr_llcs - 1 */
static u32 llc_nearest(u32 llc, u32 i)
{
	u32 idx = llc * (nr_llcs - 1) + i;

	return llc_order[idx & (ARBOR_MAX_LLCS * ARBOR_MAX_LLCS - 1)];
}

static u64 llc_dsq(s32 cpu)
{
	return LLC_DSQ_BASE + llc_of(cpu);
}

static u64 cpu_dsq(s32 cpu)
{
	return (u64)cpu;
}

/*
 * Online CPUs of each LLC (see cpu_ctx.online). Written in init and by the
 * hotplug callbacks, which the kernel serializes; read on enqueue.
 */
static u32 llc_nr_online[ARBOR_MAX_LLCS];

static bool llc_online(u32 llc)
{
	return llc < ARBOR_MAX_LLCS && READ_ONCE(llc_nr_online[LLC_IDX(llc)]);
}

/*
 * The LLC queue a task last run on @cpu waits in: that of @cpu's LLC, or,
 * while every CPU of it is offline, that of this CPU's LLC (or of the first
 * LLC with a CPU online), so no task waits where no CPU looks.
 */
static u64 served_llc_dsq(s32 cpu)
{
	u32 llc = llc_of(cpu), i;

	if (llc_online(llc))
		return LLC_DSQ_BASE + llc;
	llc = llc_of(bpf_get_smp_processor_id());
	if (llc_online(llc))
		return LLC_DSQ_BASE + llc;
	bpf_for(i, 0, nr_llcs) {
		if (i >= ARBOR_MAX_LLCS)
			break;
		if (llc_online(i))
			return LLC_DSQ_BASE + i;
	}
	return llc_dsq(cpu);
}

/* @p can run on one CPU only: it waits in that CPU's own DSQ */
static bool is_pcpu_task(const struct task_struct *p)
{
	return p->nr_cpus_allowed == 1 || is_migration_disabled(p);
}

/*
 * Whether any CPU @p may use is idle: a few word reads where the kernel's
 * idle selection walks the topology. When every CPU is busy (the case a
 * wakeup preemption is for) the search is skipped.
 */
static bool idle_cpu_exists(const struct task_struct *p)
{
	const struct cpumask *idle = scx_bpf_get_idle_cpumask();
	bool any = bpf_cpumask_intersects(idle, p->cpus_ptr);

	scx_bpf_put_idle_cpumask(idle);
	return any;
}

/*
 * Whether a task running on @cpu would run faster elsewhere: the other CPU
 * of @cpu's core is busy while a whole core that @p may use is idle (two
 * hogs on one core's threads each run at a fraction of a core's speed).
 * Never on a machine without SMT.
 */
static bool smt_contended(const struct task_struct *p, s32 cpu)
{
	const struct cpumask *idle;
	bool contended;
	s32 sibling;

	if (!smt_enabled || cpu < 0 || cpu >= ARBOR_MAX_CPUS)
		return false;
	sibling = cpu_sibling[CPU_IDX(cpu)];
	if (sibling < 0)
		return false;
	idle = scx_bpf_get_idle_cpumask();
	contended = !bpf_cpumask_test_cpu(sibling, idle);
	scx_bpf_put_idle_cpumask(idle);
	if (!contended)
		return false;
	idle = scx_bpf_get_idle_smtmask();
	contended = bpf_cpumask_intersects(idle, p->cpus_ptr);
	scx_bpf_put_idle_cpumask(idle);
	return contended;
}

/*
 * What each CPU is running, for wakeup preemption. Per-CPU storage: a CPU
 * writes its own copy on every switch; other CPUs read it (and claim it)
 * only when looking for a task to preempt.
 */
struct cpu_ctx {
	/* Virtual deadline of the running task; 0 when none is running */
	u64 curr_deadline;
	/* When this CPU last looked for starved tasks (written by it only) */
	u64 last_starve_scan;
	/*
	 * A waker claimed this CPU: the task it preempts is requeued here
	 * (see enqueue). Cleared when the next task starts running.
	 */
	bool wake_preempted;
	/*
	 * Wakeups of tasks free to run elsewhere waiting in this CPU's own
	 * DSQ (the rest of it is tasks bound to this CPU): another CPU looks
	 * there only when this is not 0. Changed by any CPU, atomically.
	 */
	u32 waiting_wakeups;
	/* The CPU is in the topology the loader read (set once, in init) */
	bool known;
	/*
	 * sched_ext runs ops.dispatch on this CPU: it is known and its rq is
	 * online. Set in init and ops.cpu_online, cleared in ops.cpu_offline.
	 * A CPU coming up or going down runs tasks (the idle task wakes the
	 * hotplug control task) while the kernel does not dispatch for it.
	 */
	bool online;
	/*
	 * A higher class (RT, deadline) took this CPU from sched_ext
	 * (ops.cpu_release; cleared by ops.cpu_acquire): the wakeups waiting
	 * in its own DSQ go to the first sibling that dispatches.
	 */
	bool released;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

static struct cpu_ctx *cpu_ctx_of(s32 cpu)
{
	u32 zero = 0;

	return bpf_map_lookup_percpu_elem(&cpu_ctxs, &zero, cpu);
}

/* Whether @cpu takes tasks from its queues (see cpu_ctx.online) */
static bool cpu_serves(s32 cpu)
{
	struct cpu_ctx *c = cpu_ctx_of(cpu);

	return c && READ_ONCE(c->online);
}

/* The deadline @cpu is running at, 0 if none */
static u64 running_deadline(s32 cpu)
{
	struct cpu_ctx *c = cpu_ctx_of(cpu);

	return c ? READ_ONCE(c->curr_deadline) : 0;
}

/* Whether a higher class has @cpu (see cpu_ctx.released) */
static bool cpu_released(s32 cpu)
{
	struct cpu_ctx *c = cpu_ctx_of(cpu);

	return c && READ_ONCE(c->released);
}

/* Wakeups free to run elsewhere that wait in @cpu's own DSQ */
static u32 waiting_wakeups(s32 cpu)
{
	struct cpu_ctx *c = cpu_ctx_of(cpu);

	return c ? READ_ONCE(c->waiting_wakeups) : 0;
}

/* A task that waits in @cpu's own DSQ as a wakeup, or ends its wait (-1) */
static void set_waits_on_cpu(struct task_ctx *tctx, s32 cpu)
{
	struct cpu_ctx *c;

	if (tctx->waits_on_cpu) {
		c = cpu_ctx_of(tctx->waits_on_cpu - 1);
		if (c)
			__sync_fetch_and_sub(&c->waiting_wakeups, 1);
		tctx->waits_on_cpu = 0;
	}
	if (cpu < 0)
		return;
	c = cpu_ctx_of(cpu);
	if (!c)
		return;
	__sync_fetch_and_add(&c->waiting_wakeups, 1);
	tctx->waits_on_cpu = cpu + 1;
}

/*
 * Claim @cpu, seen running at @seen, for a waking task with @deadline: the
 * CPU then shows @deadline, so a second waker looks for another victim.
 * Fails if the CPU switched (or was claimed) since it was seen.
 */
static bool claim_cpu(s32 cpu, u64 seen, u64 deadline)
{
	struct cpu_ctx *c = cpu_ctx_of(cpu);

	if (!c || __sync_val_compare_and_swap(&c->curr_deadline, seen,
					      deadline) != seen)
		return false;
	WRITE_ONCE(c->wake_preempted, true);
	return true;
}

/*
 * The task running on @cpu got a new deadline without a switch (its slice
 * was refilled, or its request ended at a tick): show wakers the new one.
 * A waker that claimed the CPU since keeps its claim: it is on its way
 * into the CPU's local DSQ and preempts anyway.
 */
static void show_running_deadline(s32 cpu, u64 deadline)
{
	struct cpu_ctx *c = cpu_ctx_of(cpu);
	u64 old;

	if (!c || READ_ONCE(c->wake_preempted))
		return;
	old = READ_ONCE(c->curr_deadline);
	if (old)
		__sync_val_compare_and_swap(&c->curr_deadline, old,
					    deadline ?: 1);
}

/*
 * The CPU a waking task with @deadline should preempt: @prev if it runs a
 * later deadline (its caches are warm), else the latest deadline later than
 * @deadline among at most ARBOR_VICTIM_SCAN CPUs of @prev's LLC that @p may
 * use. Returns -1 if none, with *@seen the victim's deadline otherwise.
 */
static s32 find_victim(struct task_struct *p, s32 prev, u64 deadline, u64 *seen)
{
	u32 llc = llc_of(prev), nr, start, i;
	s32 victim = -1;
	u64 latest = deadline, d;

	d = running_deadline(prev);
	if (d && time_before(deadline, d) &&
	    bpf_cpumask_test_cpu(prev, p->cpus_ptr)) {
		*seen = d;
		return prev;
	}

	nr = llc_size(llc);
	if (!nr)
		return -1;
	/* Start at a different CPU on each waking CPU to spread the claims */
	start = bpf_get_smp_processor_id() % nr;
	bpf_for(i, 0, nr) {
		s32 cpu = llc_cpu(llc, (start + i) % nr);

		if (i >= ARBOR_VICTIM_SCAN || cpu < 0)
			break;
		d = running_deadline(cpu);
		if (!d || !time_before(latest, d))
			continue;
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		latest = d;
		victim = cpu;
	}
	*seen = latest;
	return victim;
}

/* Wake the idle CPUs of the LLC whose queue is DSQ @dsq_id */
static void kick_llc(u64 dsq_id)
{
	u32 llc = dsq_id - LLC_DSQ_BASE, nr = llc_size(llc), i;

	bpf_for(i, 0, nr) {
		s32 c = llc_cpu(llc, i);

		if (c < 0)
			break;
		if (cpu_serves(c))
			scx_bpf_kick_cpu(c, SCX_KICK_IDLE);
	}
}

#endif /* __ARBOR_TOPOLOGY_BPF_H */
