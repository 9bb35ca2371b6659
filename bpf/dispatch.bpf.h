/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: what a CPU runs next. EEVDF's pick over the CPU's own DSQ
 * and its LLC's (the eligible task with the earliest deadline, the
 * previous task included), a bounded wait for starved tasks, then the
 * own DSQs of the LLC's other CPUs, then the other LLCs.
 * Included by main.bpf.c only.
 */
#ifndef __ARBOR_DISPATCH_BPF_H
#define __ARBOR_DISPATCH_BPF_H

/*
 * The wait bound. EEVDF gives a nice-19 task 1/100 of a nice-0 one's share,
 * and with 200 runnable tasks on 2 CPUs its next turn comes after more than
 * 10 s of waiting: fair, but sched_ext's watchdog ejects a scheduler whose
 * task waits timeout_ms. A task is starved once it has waited twice the
 * time a round over its queue takes (the queue's length times a fallback
 * slice over the CPUs that serve it), and at least STARVE_MIN_NS, at most
 * STARVE_MAX_NS; the longest waiting such task then runs out of deadline
 * order. Each CPU looks for one among the first STARVE_SCAN_MAX tasks of
 * its own DSQ at most every STARVE_SCAN_NS; the LLC's DSQ is looked at by
 * one of its CPUs per STARVE_SCAN_NS, whichever claims the period first
 * (every CPU walking the shared queue under its lock made dispatch 33x
 * dearer per call at 32 vCPUs than at 2, docs/kernels.md). After a scan
 * found one, the next dispatch looks again.
 */
#define STARVE_MIN_NS		(100ULL * NSEC_PER_MSEC)
#define STARVE_MAX_NS		(1000ULL * NSEC_PER_MSEC)
#define STARVE_SCAN_NS		(20ULL * NSEC_PER_MSEC)
#define STARVE_SCAN_MAX		512
/* Between this CPU's DSQ and its LLC's, the older head after this long */
#define STARVE_NS		STARVE_MIN_NS

/* Tasks of the LLC's queue looked at for one that may run, at most */
#define ELIGIBLE_SCAN		8

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

/* When each LLC's DSQ was last scanned for a starved task */
struct llc_scan {
	u64 last;
} __attribute__((aligned(64)));

static struct llc_scan llc_scans[ARBOR_MAX_LLCS];

/*
 * Whether this CPU scans its LLC's DSQ now: the first to find the period
 * over claims it. CPU clocks differ by a little, so the period is compared
 * signed (a clock behind the claimer's sees it as not over).
 */
static bool claim_llc_scan(u32 llc, u64 now)
{
	struct llc_scan *scan = &llc_scans[LLC_IDX(llc)];
	u64 last = READ_ONCE(scan->last);

	if ((s64)(now - last) < (s64)STARVE_SCAN_NS)
		return false;
	return __sync_bool_compare_and_swap(&scan->last, last, now);
}

static bool rescue_starved(s32 cpu)
{
	struct arbor_cpu_stats *st;
	struct cpu_ctx *cctx = cpu_ctx_of(cpu);
	u32 llc = llc_of(cpu);
	u64 now = scx_bpf_now();
	bool found = false;

	if (!cctx)
		return false;
	if ((s64)(now - cctx->last_starve_scan) >= (s64)STARVE_SCAN_NS) {
		cctx->last_starve_scan = now;
		found = run_starved(cpu, cpu_dsq(cpu), 1);
		/*
		 * One found: look again at the next dispatch, not in
		 * STARVE_SCAN_NS, so an overload that starves many drains
		 * them all.
		 */
		if (found)
			cctx->last_starve_scan = now - STARVE_SCAN_NS;
	}
	if (!found && llc < ARBOR_MAX_LLCS && claim_llc_scan(llc, now)) {
		found = run_starved(cpu, llc_dsq(cpu),
				    llc_nr_online[LLC_IDX(llc)]);
		if (found)
			WRITE_ONCE(llc_scans[LLC_IDX(llc)].last,
				   now - STARVE_SCAN_NS);
	}
	if (!found)
		return false;
	st = this_cpu_stats();
	if (st)
		st->starved_runs++;
	return true;
}

/*
 * prev used its slice up here and may go on; but if a nearby LLC has more
 * tasks waiting per CPU than this one would with prev queued, by at least
 * a task's worth after the move, this CPU takes the head of that LLC's
 * queue instead and prev waits in its own LLC's queue. An idle CPU pulls
 * from other LLCs (steal_remote()), but a busy one never looks: without
 * this, 12 hogs released from LLC A of two 4-CPU LLCs stay 8 to 4, EEVDF's
 * load balancer moves them towards 6 and 6 (docs/kernels.md). With q the
 * queued tasks and c the online CPUs of an LLC (A the busier, B this one),
 * the move is made while (q_A - 1) / c_A >= (q_B + 1) / c_B, so it never
 * goes back: the same test from A's side then fails.
 */
static bool balance_llcs(s32 cpu)
{
	struct arbor_cpu_stats *st;
	u32 llc = llc_of(cpu), i;
	u64 q_b, c_b;

	if (nr_llcs < 2 || llc >= ARBOR_MAX_LLCS)
		return false;
	q_b = scx_bpf_dsq_nr_queued(LLC_DSQ_BASE + llc);
	c_b = READ_ONCE(llc_nr_online[LLC_IDX(llc)]);
	bpf_for(i, 0, nr_llcs - 1) {
		u32 other = llc_nearest(llc, i);
		u64 q_a, c_a;

		if (i >= ARBOR_BALANCE_SCAN || other >= ARBOR_MAX_LLCS)
			break;
		q_a = scx_bpf_dsq_nr_queued(LLC_DSQ_BASE + other);
		c_a = READ_ONCE(llc_nr_online[LLC_IDX(other)]);
		if (!q_a || !c_a || (q_a - 1) * c_b < (q_b + 1) * c_a)
			continue;
		if (scx_bpf_dsq_move_to_local(LLC_DSQ_BASE + other, 0)) {
			st = this_cpu_stats();
			if (st)
				st->llc_balance_pulls++;
			return true;
		}
	}
	return false;
}

/*
 * This CPU's LLC has nothing: pull from the other LLCs, nearest first (the
 * same node's before another node's, by the kernel's node distances)
 */
static bool steal_remote(s32 cpu)
{
	struct arbor_cpu_stats *st;
	u32 llc = llc_of(cpu), i;

	bpf_for(i, 1, nr_llcs) {
		if (i >= ARBOR_MAX_LLCS)
			break;
		if (scx_bpf_dsq_move_to_local(LLC_DSQ_BASE + llc_nearest(llc, i - 1), 0)) {
			st = this_cpu_stats();
			if (st)
				st->llc_steals++;
			return true;
		}
	}
	return false;
}

/*
 * Take a task waiting in the own DSQ of another CPU of the LLC (a wakeup
 * queued behind an interrupt's first task there, see waker_ends_soon()):
 * with @released_only, only from a CPU a higher class has taken (its
 * wakeups have no CPU serving them: they go before this CPU's queues);
 * else from any, when this CPU's queues are empty. Tasks that can run on
 * that CPU only stay, and a DSQ that holds only such tasks is not looked
 * at: the kernel would walk past every one of them under that DSQ's lock
 * for nothing. The count of waiting wakeups is raised before the wakeup
 * is queued and lowered when it runs, so a DSQ with a wakeup in it is
 * never skipped. A global function: dispatch calls it twice, the verifier
 * checks it once.
 */
__noinline bool pull_sibling(s32 cpu, bool released_only)
{
	struct arbor_cpu_stats *st;
	u32 llc = llc_of(cpu), nr = llc_size(llc), i;
	bool moved;

	bpf_for(i, 0, nr) {
		s32 other = llc_cpu(llc, i);

		if (other < 0)
			break;
		if (other == cpu || !waiting_wakeups(other) ||
		    (released_only && !cpu_released(other)))
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

#endif /* __ARBOR_DISPATCH_BPF_H */
