/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_arbor: the interface shared by the BPF policy and the Rust loader.
 *
 * This header is the single definition of the feature schema, the burst
 * classes, the integer tree format walked in BPF, the outcome samples and the
 * statistics. Rust sees it through bindgen (src/bpf_intf.rs).
 */
#ifndef __ARBOR_INTF_H
#define __ARBOR_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;
typedef long long s64;
typedef _Bool bool;
#endif

/*
 * Feature schema. Bump ARBOR_SCHEMA_VERSION whenever a feature's meaning,
 * unit or order changes: every model names the schema it was trained for and
 * a mismatch is refused at load time. Schema 2 appended features 8-10 to
 * schema 1, whose features keep their indices and meaning: a schema-1 model
 * is still accepted (it never looks at the new ones).
 *
 * Every feature is an unsigned integer kept below 2^24 (ARBOR_FEATURE_MAX) so
 * that an f32 threshold t compares exactly as "x <= floor(t)".
 */
enum arbor_schema {
	ARBOR_SCHEMA_VERSION	= 2,
	ARBOR_SCHEMA_OLDEST	= 1,	/* oldest schema a model may name */
	ARBOR_FEATURE_MAX	= (1 << 24) - 1,
};

enum arbor_feature {
	/* CPU time of the task's previous completed burst, µs */
	ARBOR_F_LAST_BURST_US		= 0,
	/* EWMA (1/4 weight on the newest) of burst CPU time, µs */
	ARBOR_F_EWMA_BURST_US		= 1,
	/* EWMA (1/4) of sleep length between bursts, µs */
	ARBOR_F_EWMA_SLEEP_US		= 2,
	/* Wakeups per second, from an EWMA of the wakeup period, Hz */
	ARBOR_F_WAKE_RATE_HZ		= 3,
	/* EWMA share of stops that were voluntary sleeps, per mille */
	ARBOR_F_VOLUNTARY_PERMILLE	= 4,
	/* Scheduling weight (100 = nice 0, 1..10000) */
	ARBOR_F_WEIGHT			= 5,
	/* Number of CPUs the task may run on */
	ARBOR_F_NR_CPUS_ALLOWED		= 6,
	/*
	 * Tasks waiting in the DSQ of the task's LLC at decision time (one
	 * shared queue per last-level cache; on a single-LLC machine, all
	 * queued tasks but those pinned to one CPU)
	 */
	ARBOR_F_RUNNABLE_LOAD		= 7,
	/*
	 * Schema 2: what is known of the burst so far, where a decision is
	 * made in its middle (0 at the wakeup that starts it). CPU time the
	 * task has run in its current burst, µs
	 */
	ARBOR_F_ELAPSED_US		= 8,
	/* Wakeups the task has issued in its current burst (fan-out) */
	ARBOR_F_WAKES_IN_BURST		= 9,
	/* EWMA (1/4) of |burst - EWMA burst|, µs: how much bursts vary */
	ARBOR_F_BURST_ABSDEV_US		= 10,

	ARBOR_NR_FEATURES		= 11,
};

/*
 * Where a decision is made. Each decision walks the model over the task's
 * features then; a burst's outcome sample is sent for its wakeup decision
 * and, if there was one, for its latest decision in the middle.
 */
enum arbor_point {
	/* The wakeup that starts a burst: its request and slice */
	ARBOR_POINT_WAKEUP	= 0,
	/* A tick after the burst outran its class: request and slice again */
	ARBOR_POINT_TICK	= 1,
	/* The task wakes another: whether it ends its burst soon */
	ARBOR_POINT_WAKER	= 2,
};

/*
 * Burst classes: what a model predicts. A task's burst is the CPU time it
 * consumes from a wakeup until it sleeps again (summed over preemptions).
 * A burst that reaches ARBOR_BURST_TRUNC_US is ended (truncated) at the next
 * stop, so CPU hogs get decided again; a run nothing interrupted may pass
 * the limit before that stop comes. Class c holds bursts
 * in (bound[c-1], bound[c]] µs; the last class is open-ended.
 */
enum arbor_class {
	ARBOR_CLASS_TINY	= 0,	/* <= 250 µs */
	ARBOR_CLASS_SHORT	= 1,	/* <= 1000 µs */
	ARBOR_CLASS_MEDIUM	= 2,	/* <= 4000 µs */
	ARBOR_CLASS_LONG	= 3,	/* > 4000 µs */
	ARBOR_NR_CLASSES	= 4,
	/* Built-in constant class used when no model is installed */
	ARBOR_CLASS_FALLBACK	= ARBOR_NR_CLASSES,
	/* Action table rows: the model classes plus the fallback */
	ARBOR_NR_ACTIONS	= ARBOR_NR_CLASSES + 1,
};

enum arbor_class_bound {
	ARBOR_BOUND_TINY_US	= 250,
	ARBOR_BOUND_SHORT_US	= 1000,
	ARBOR_BOUND_MEDIUM_US	= 4000,
	/* A burst still running past this many µs ends as a truncated one */
	ARBOR_BURST_TRUNC_US	= 16000,
};

/*
 * Wakeup waits, the guard's measure of what the decisions are for: the
 * time from a task's wakeup to the moment it first runs, counted in
 * quarter-octave buckets of µs. A wait of w µs goes to bucket w for w < 4,
 * else to 4 * (e - 1) + m, where e = floor(log2 w) and m the two bits
 * below w's leading one; bucket b >= 4 so holds [(4 + m) << (e - 2),
 * (5 + m) << (e - 2)) with e = b / 4 + 1, m = b % 4. Waits past the last
 * bucket's start (about 29 s) go to the last.
 */
enum arbor_wait {
	ARBOR_WAIT_BUCKETS	= 96,
};

/*
 * Tree ensemble limits. What bounds a decision's cost is the number of nodes
 * it walks, not the number of trees: the loader refuses any model whose
 * worst-case walk (the sum over trees of depth + 1) exceeds
 * ARBOR_MAX_WALK_STEPS, and the BPF walk stops and counts a walk error when
 * it would take more steps than that. The BPF walk is one bounded loop over
 * the trees around one bounded loop over a tree's depth.
 */
enum arbor_limits {
	ARBOR_MAX_TREES		= 128,
	ARBOR_MAX_NODES		= 8192,	/* all trees together, leaves included */
	ARBOR_MAX_LEAVES	= 4096,	/* all trees together */
	ARBOR_MAX_DEPTH		= 24,	/* splits on any root-to-leaf path */
	ARBOR_MAX_WALK_STEPS	= 512,	/* nodes walked per decision, at most */
	ARBOR_LEAF		= 0xffff, /* arbor_node.feature of a leaf */
	ARBOR_NO_SHADOW		= 0xff,	/* no shadow model walked */
};

/*
 * Policy constants.
 *
 * Placement follows EEVDF: a task's lag is V - vruntime, where V is the
 * load-weighted average vruntime of the runnable tasks of its LLC
 * (placement.bpf.h); a task runs only while its lag is >= 0. A task keeps
 * its lag across a sleep, bounded to +-max(2 * its request,
 * ARBOR_LAG_FLOOR_US) of CPU time scaled by its weight, so it can neither
 * bank credit by sleeping nor carry a debt forever.
 *
 * Wakeup preemption looks at most ARBOR_VICTIM_SCAN CPUs of the waking
 * task's LLC for a running task with a later deadline. A CPU whose task
 * used its slice up compares its LLC's queue with those of the nearest
 * ARBOR_BALANCE_SCAN other LLCs (dispatch.bpf.h, balance_llcs()).
 */
enum arbor_policy {
	ARBOR_LAG_FLOOR_US	= 4000,	/* one tick at HZ=250 */
	ARBOR_VICTIM_SCAN	= 8,
	ARBOR_BALANCE_SCAN	= 4,
	ARBOR_MAX_CPUS		= 1024,	/* CPU ids the policy can address */
	ARBOR_MAX_LLCS		= 256,	/* last-level caches (one DSQ each) */
};

/*
 * One node of an integer tree. A split sends x to left when
 * x[feature] <= threshold, else to right; left and right are absolute node
 * indices into arbor_model.nodes. A leaf has feature == ARBOR_LEAF and left
 * is its row in arbor_model.leaves. gen_tag is the low 16 bits of the model's
 * generation: the walker checks it on every visited node, so a node left
 * over from another tree is seen and counted as a torn read.
 */
struct arbor_node {
	u32 threshold;
	u16 feature;
	u16 gen_tag;
	u16 left;
	u16 right;
};

/*
 * A whole ensemble, installed atomically as the single element of an inner
 * array map swapped into the model_slot ARRAY_OF_MAPS.
 *
 * Leaves carry per-class scores in signed fixed point (score_frac_bits
 * fractional bits, informational only: argmax does not depend on it). The
 * predicted class is argmax over classes of base_scores[c] + sum over trees
 * of the reached leaf's scores[c]; ties go to the lowest class index.
 * gen_head and gen_tail are written equal; they differ only in a torn copy.
 */
struct arbor_model {
	u64 gen_head;
	u32 schema_version;
	u32 nr_trees;
	u32 nr_classes;
	u32 nr_nodes;
	u32 nr_leaves;
	u32 score_frac_bits;
	u32 roots[ARBOR_MAX_TREES];
	s32 base_scores[ARBOR_NR_CLASSES];
	struct arbor_node nodes[ARBOR_MAX_NODES];
	s32 leaves[ARBOR_MAX_LEAVES][ARBOR_NR_CLASSES];
	u64 gen_tail;
};

/*
 * Action table row: what a class means to the policy. request_ns is the
 * EEVDF request (deadline = vruntime + request * 100 / weight); slice_ns the
 * time slice the task is given when it runs.
 */
struct arbor_action {
	u64 slice_ns;
	u64 request_ns;
};

/*
 * Outcome sample, sent through the samples ring buffer when a burst ends:
 * the features as they were when the class was decided, the decision, and
 * what actually happened.
 */
struct arbor_sample {
	u64 ts_ns;		/* bpf_ktime_get_ns() at the end of the burst */
	u64 generation;		/* model generation that decided (0: none) */
	u32 pid;
	u32 features[ARBOR_NR_FEATURES];
	u32 burst_us;		/* actual burst CPU time, µs, capped */
	u8 predicted;		/* action row used: a class or FALLBACK */
	u8 actual;		/* class of burst_us */
	u8 truncated;		/* 1 iff burst_us >= ARBOR_BURST_TRUNC_US */
	u8 shadow;		/* shadow model's class, or ARBOR_NO_SHADOW */
	u8 point;		/* enum arbor_point of the decision */
	u8 oracle;		/* 1: the decision came from the oracle */
	u8 pad[2];
};

/*
 * Oracle (tests and benchmarks only: the loader enables it only in builds
 * with the `oracle` feature): what a workload knows of a thread's coming
 * CPU use, keyed by thread id in the pinned map `oracle`. end_exec_ns is
 * the value the thread's sum_exec_runtime (its CLOCK_THREAD_CPUTIME_ID)
 * will have when its current or next burst ends.
 */
struct arbor_oracle {
	u64 end_exec_ns;
};

/*
 * Per-CPU counters, summed by userspace. Decisions are counted on the CPU
 * that made them.
 */
struct arbor_cpu_stats {
	u64 decisions[ARBOR_NR_ACTIONS];
	/* confusion[predicted action][actual class], counted at burst end */
	u64 confusion[ARBOR_NR_ACTIONS][ARBOR_NR_CLASSES];
	u64 walk_steps;		/* nodes visited by tree walks */
	u64 walk_errors;	/* walks that left the node array or ran out of steps */
	u64 torn_reads;		/* visited nodes or headers of another generation */
	u64 samples_sent;
	u64 samples_dropped;	/* ring buffer full: the sample was not sent */
	u64 samples_throttled;	/* over this CPU's per-class budget: not sent */
	u64 direct_dispatches;	/* inserted straight into an idle CPU's local DSQ */
	u64 preempt_kicks;	/* wakeups whose earlier deadline preempted a CPU */
	u64 preempt_lost;	/* a chosen victim was claimed by another waker first */
	u64 preempt_queued;	/* wakeups that did not preempt: a task queued
				 * there had an earlier deadline */
	u64 preempted_requeues;	/* preempted tasks put back behind their waker */
	u64 waker_waits;	/* wakeups queued behind a waker that ends soon
				 * (in the LLC's DSQ), or behind the task an
				 * interrupt woke on an idle CPU (in that
				 * CPU's DSQ) */
	u64 wake_llc_local;	/* wakeups placed in the waker CPU's LLC */
	u64 wake_llc_remote;	/* wakeups placed in another LLC */
	u64 pcpu_enqueues;	/* enqueues of tasks that can run on one CPU only */
	u64 sibling_pulls;	/* tasks an idle CPU pulled from the DSQ of
				 * another CPU of its LLC */
	u64 sibling_pull_misses; /* pulls from another CPU's DSQ that found
				  * only tasks bound to that CPU (a walk
				  * past them for nothing) */
	u64 llc_steals;		/* tasks an idle CPU pulled from another LLC's DSQ */
	u64 llc_balance_pulls;	/* tasks a busy CPU pulled from the DSQ of a
				 * busier LLC instead of going on with its
				 * task (which then queues in its own LLC) */
	u64 smt_moves;		/* running tasks moved off a core whose other
				 * CPU was busy to a wholly idle core */
	u64 starved_runs;	/* tasks run out of deadline order past the wait bound */
	u64 tick_decisions;	/* decisions at a tick, the burst past its class */
	u64 waker_decisions;	/* decisions on whether a waker ends soon */
	u64 waker_soon;		/* of those: it does (the wakee waits for it) */
	u64 oracle_decisions;	/* decisions the oracle made (oracle builds) */
	u64 cpu_onlines;	/* CPUs of the topology that came back online */
	u64 cpu_offlines;	/* CPUs that went offline */
	u64 offline_moves;	/* wakeups moved off the DSQ of a CPU going offline */
	u64 vtime;		/* V of this CPU's LLC, virtual ns, when this
				 * CPU last charged a run */
	u64 runnable_weight;	/* runnable weight of that LLC then */
	u64 ineligible_skips;	/* picks that passed over an earlier deadline
				 * whose task had run ahead (lag < 0) */
	u64 bursts;		/* bursts completed (sampled or not) */
	u64 generation;		/* model generation this CPU last walked */
	/*
	 * Shadow model: walked beside the live one on every decision, never
	 * acting. shadow_confusion[shadow class][actual class] at burst end.
	 */
	u64 shadow_generation;	/* shadow generation this CPU last walked */
	u64 shadow_decisions;
	u64 shadow_confusion[ARBOR_NR_CLASSES][ARBOR_NR_CLASSES];
	/* live_confusion over the same bursts, for a like-for-like record */
	u64 paired_confusion[ARBOR_NR_ACTIONS][ARBOR_NR_CLASSES];
	/*
	 * Wakeup waits (enum arbor_wait), each counted at the woken task's
	 * first run, on the CPU it runs on.
	 */
	u64 wakeup_waits;	/* woken tasks that ran */
	u64 wakeup_wait_ns;	/* their waits, summed */
	u64 guard_fallback_decisions;	/* decisions the guard gave the fallback row */
	u64 wakeup_wait_hist[ARBOR_WAIT_BUCKETS];
};

/*
 * The guard's switch (the `guard` map's one element, written by userspace,
 * src/sched/guard.rs): while model_off is set, every decision the model
 * would make takes the fallback row, as without a model.
 */
struct arbor_guard {
	u32 model_off;
	u32 pad;
};

/*
 * Per-task scheduling state and features, kept in BPF task storage
 * (task_ctxs). Here so that userspace (`scx_arbor explain`) can read it.
 */
struct task_ctx {
	u64 vruntime;		/* weighted virtual runtime, ns */
	u64 deadline;		/* virtual deadline, ns */
	u64 slice_ns;		/* slice of the decided class */
	u64 request_ns;		/* request of the decided class */
	u64 charged_exec;	/* p->se.sum_exec_runtime charged so far */
	u64 burst_ns;		/* CPU time of the current burst so far */
	u64 sleep_start;	/* when the task last went to sleep (0: never) */
	u64 last_wake;		/* when the task last woke (0: never) */
	u64 generation;		/* model generation of the decision */
	s64 vlag;		/* lag (V - vruntime) kept across a sleep */
	u64 queued_weight;	/* weight counted in runnable_weight (0: none) */
	u64 queued_at;		/* when it was last put in a DSQ */
	u64 woke_at;		/* when it last woke, until it runs (0: ran) */
	u32 ewma_period_us;	/* EWMA of the wakeup-to-wakeup period */
	u32 waits_on_cpu;	/* 1 + the CPU in whose own DSQ it waits as a
				 * wakeup (see pull_sibling()); 0: none */
	u32 llc;		/* LLC whose virtual time counts it (~0: none) */
	u32 placed_llc;		/* LLC whose virtual time vruntime is in */
	u32 wakes_in_burst;	/* wakeups it issued in its current burst */
	u32 feat[ARBOR_NR_FEATURES];	/* features kept up to date */
	u32 dfeat[ARBOR_NR_FEATURES];	/* features as seen at the wakeup decision */
	u32 mfeat[ARBOR_NR_FEATURES];	/* ... at the latest decision mid-burst */
	u8 action;		/* action row in force (the latest decision's) */
	u8 daction;		/* action row of the wakeup decision */
	u8 maction;		/* action row of the latest mid-burst decision */
	u8 mpoint;		/* its enum arbor_point (0: none this burst) */
	u8 shadow;		/* shadow model's class, or ARBOR_NO_SHADOW */
	u8 oracle;		/* bit 0: the wakeup decision was the oracle's,
				 * bit 1: the mid-burst one */
	bool decided;		/* a decision covers the current burst */
	bool asleep;		/* slept (or never ran): the next wakeup places it */
	bool moved;		/* dequeued without sleeping: placed again when back */
};

#endif /* __ARBOR_INTF_H */
