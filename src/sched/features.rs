//! What the running kernel's sched_ext offers scx_arbor, read from its BTF
//! before the BPF object is loaded, and what the scheduler does without
//! each missing piece (the BPF side picks the same paths: bpf/compat.bpf.h
//! and scx/compat.bpf.h). Logged once at start, so a log from an older
//! kernel says which fallbacks ran.

use log::{info, warn};

/// A kernel feature scx_arbor uses where present.
struct Feature {
    /// BTF names (kfuncs or types); the feature is there if any one is.
    names: &'static [&'static str],
    /// The first kernel release with it.
    since: &'static str,
    /// What scx_arbor does without it.
    without: &'static str,
    /// Whether going without changes a policy decision (warn) or only the
    /// mechanism (info).
    changes_policy: bool,
}

const FEATURES: &[Feature] = &[
    Feature {
        names: &["scx_bpf_select_cpu_and_args", "scx_bpf_select_cpu_and"],
        since: "6.16",
        without: "wakeups find idle CPUs with scx_bpf_select_cpu_dfl() (same search); a task \
                  re-enqueued by the kernel (preempted, new) takes prev's CPU if idle, else an \
                  idle core, else any idle CPU, without preferring prev's LLC",
        changes_policy: true,
    },
    Feature {
        names: &["scx_bpf_dsq_insert"],
        since: "6.13",
        without: "the 6.12 names scx_bpf_dispatch*(), scx_bpf_consume() and \
                  scx_bpf_dispatch_from_dsq() are called (same semantics)",
        changes_policy: false,
    },
    Feature {
        names: &["scx_bpf_now"],
        since: "6.14",
        without: "timestamps come from bpf_ktime_get_ns() instead of the cached rq clock \
                  (another clock, but arbor compares its timestamps only with each other)",
        changes_policy: false,
    },
    Feature {
        names: &["scx_bpf_task_set_slice"],
        since: "6.19",
        without: "a running task's slice is written to p->scx.slice directly",
        changes_policy: false,
    },
];

/// Flags of sched_ext_ops.flags that scx_arbor asks for (scx_utils reads
/// them from the kernel's BTF: 0 when absent), with what a kernel without
/// one does.
const FLAGS: &[(&str, &str)] = &[
    (
        "SCX_OPS_ENQ_MIGRATION_DISABLED",
        "a kernel that predates the flag (6.12's do_enqueue_task()) passes migration-disabled \
         tasks to ops.enqueue() anyway, which is what the flag asks for",
    ),
    (
        "SCX_OPS_ALLOW_QUEUED_WAKEUP",
        "a wakeup to another CPU takes that CPU's runqueue lock from the waking CPU (no \
         ttwu queue); scheduling decisions are the same",
    ),
];

/// The log lines for a kernel: `has(name)` says whether its BTF has the
/// name, `flag(name)` the value scx_utils read for an ops flag. Each line
/// is (is a policy change, text).
fn notes(has: &dyn Fn(&str) -> bool, flag: &dyn Fn(&str) -> u64) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    for f in FEATURES {
        if !f.names.iter().any(|n| has(n)) {
            out.push((
                f.changes_policy,
                format!(
                    "kernel lacks {} (Linux {}): {}",
                    f.names[f.names.len() - 1],
                    f.since,
                    f.without
                ),
            ));
        }
    }
    for (name, without) in FLAGS {
        if flag(name) == 0 {
            out.push((false, format!("kernel lacks ops flag {name}: {without}")));
        }
    }
    out
}

/// Log what the running kernel lacks and what scx_arbor does instead.
pub fn log_kernel_features(flag: &dyn Fn(&str) -> u64) {
    // A BTF lookup that fails reads as "absent": the fallback is the safe
    // reading, and the load itself reports a kernel that cannot run us.
    let has = |n: &str| scx_utils::compat::ksym_exists(n).unwrap_or(false);
    let lines = notes(&has, flag);
    if lines.is_empty() {
        info!("kernel features: everything scx_arbor uses is present");
    }
    for (policy, l) in lines {
        if policy {
            warn!("{l}");
        } else {
            info!("{l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kernel-features.py found in the BTF of the matrix kernels.
    const K6_12: &[&str] = &[
        "scx_bpf_select_cpu_dfl",
        "scx_bpf_dispatch",
        "scx_bpf_consume",
    ];
    const K7_2: &[&str] = &[
        "scx_bpf_select_cpu_and_args",
        "scx_bpf_dsq_insert",
        "scx_bpf_now",
        "scx_bpf_task_set_slice",
    ];

    #[test]
    fn a_6_12_kernel_names_every_fallback() {
        let has = |n: &str| K6_12.contains(&n);
        let n = notes(&has, &|_| 0);
        let text: Vec<&str> = n.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(n.len(), 6, "{text:#?}");
        assert!(text[0].contains("scx_bpf_select_cpu_and (Linux 6.16)"));
        assert!(n[0].0, "the idle selection fallback is a policy change");
        assert!(text
            .iter()
            .any(|t| t.contains("SCX_OPS_ALLOW_QUEUED_WAKEUP")));
        assert!(n[1..].iter().all(|(p, _)| !p));
    }

    #[test]
    fn a_current_kernel_needs_no_fallback() {
        let has = |n: &str| K7_2.contains(&n);
        assert!(notes(&has, &|_| 1).is_empty());
    }
}
