//! The statistics over all completed rounds: every metric of every arm
//! against EEVDF, the pairs of scx_arbor arms, the scheduler's own figures
//! and the BPF programs' cost.

use std::collections::BTreeMap;

use crate::args::AbArgs;
use crate::arms::{Arm, BASELINE, DEFAULT, HEURISTIC, LEARN, NOMODEL, ORACLE};
use crate::report::{self, MetricComparison, RoundRecord, Summary};
use crate::{bpfstats, latency, stats};

/// Statistics over all completed rounds.
pub fn summarize(args: &AbArgs, arms: &[Arm], records: &[RoundRecord]) -> Summary {
    let mut s = Summary {
        baseline: BASELINE.into(),
        ..Default::default()
    };
    let values = |arm: &str, key: &str| -> Vec<f64> {
        records
            .iter()
            .filter(|r| r.arm == arm)
            .filter_map(|r| r.metrics.get(key).copied())
            .filter(|v| v.is_finite())
            .collect()
    };
    let mut min_p_note = None;
    for arm in arms.iter().filter(|a| a.name != BASELINE) {
        for (i, def) in crate::metrics::METRICS.iter().enumerate() {
            let base = values(BASELINE, def.key);
            let a = values(&arm.name, def.key);
            // The scheduler's own figures (CPU, model score) have no EEVDF
            // side; they are in `scheduler` and the arm-pair tables.
            if base.is_empty() {
                continue;
            }
            let seed = args.seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let cmp = stats::compare(&base, &a, def.better, seed);
            if cmp.min_p >= stats::ALPHA
                && min_p_note.is_none()
                && cmp.n_baseline > 0
                && cmp.n_arm > 0
            {
                min_p_note = Some(format!(
                    "with {} vs {} rounds the smallest attainable p is {:.3} >= {}: no verdict can be significant; use --rounds 5 or more",
                    cmp.n_baseline, cmp.n_arm, cmp.min_p, stats::ALPHA
                ));
            }
            s.comparisons.push(MetricComparison {
                metric: def.key.into(),
                label: def.label.into(),
                unit: def.unit.into(),
                baseline: BASELINE.into(),
                arm: arm.name.clone(),
                cmp,
            });
        }
    }
    s.notes.extend(min_p_note);
    // Pairs of scx_arbor arms: what the model changes, what learning changes.
    let has = |n: &str| arms.iter().any(|a| a.name == n);
    let pair = |base: &str, arm: &str, salt: u64| -> Vec<MetricComparison> {
        let mut v = Vec::new();
        for (i, def) in crate::metrics::METRICS.iter().enumerate() {
            let b = values(base, def.key);
            let a = values(arm, def.key);
            if b.is_empty() && a.is_empty() {
                continue;
            }
            let seed = args.seed ^ (i as u64 + salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            v.push(MetricComparison {
                metric: def.key.into(),
                label: def.label.into(),
                unit: def.unit.into(),
                baseline: base.into(),
                arm: arm.into(),
                cmp: stats::compare(&b, &a, def.better, seed),
            });
        }
        v
    };
    if has(NOMODEL) && has(DEFAULT) {
        s.model_vs_nomodel = pair(NOMODEL, DEFAULT, 101);
    }
    if has(HEURISTIC) && has(DEFAULT) {
        s.model_vs_heuristic = pair(HEURISTIC, DEFAULT, 301);
    }
    if has(HEURISTIC) && has(ORACLE) {
        s.oracle_vs_heuristic = pair(HEURISTIC, ORACLE, 401);
    }
    if has(LEARN) && has(DEFAULT) {
        s.learn_vs_default = pair(DEFAULT, LEARN, 201);
    }
    for arm in arms.iter().filter(|a| a.sched_args.is_some()) {
        let med = |key: &str| {
            let v = values(&arm.name, key);
            (!v.is_empty()).then(|| stats::median(&v))
        };
        let n = records.iter().filter(|r| r.arm == arm.name).count();
        if n > 0 {
            s.scheduler.push(report::SchedulerSummary {
                arm: arm.name.clone(),
                rounds: n,
                cpu_pct: med("sched_cpu_pct"),
                model_score: med("model_score"),
                model_balanced_acc_pct: med("model_balanced_acc_pct"),
            });
        }
    }
    s.learn_rounds = records
        .iter()
        .filter_map(|r| {
            r.learn.as_ref().map(|l| report::LearnRound {
                round: r.round,
                info: l.clone(),
            })
        })
        .collect();
    for arm in arms {
        let samples: Vec<u64> = records
            .iter()
            .filter(|r| r.arm == arm.name)
            .flat_map(|r| r.latency_samples_ns.iter().copied())
            .collect();
        if !samples.is_empty() {
            s.latency_pooled
                .insert(arm.name.clone(), latency::summarize(&samples));
        }
    }
    // Decision overhead per program and arm.
    let mut per_round: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for arm in arms.iter().filter(|a| a.sched_args.is_some()) {
        let rs: Vec<&RoundRecord> = records.iter().filter(|r| r.arm == arm.name).collect();
        let tot = bpfstats::totals(rs.iter().flat_map(|r| r.bpf_stats.iter()));
        for (name, t) in tot {
            let pr: Vec<f64> = rs
                .iter()
                .map(|r| {
                    bpfstats::totals(r.bpf_stats.iter())
                        .get(&name)
                        .map(|p| p.avg_ns())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            per_round.insert((arm.name.clone(), name.clone()), pr.clone());
            s.bpf.push(report::BpfProgSummary {
                arm: arm.name.clone(),
                name,
                run_cnt: t.run_cnt,
                run_time_ns: t.run_time_ns,
                avg_ns: t.avg_ns(),
                per_round_avg_ns: pr,
            });
        }
    }
    // Learning's cost per BPF call: the learn arm against the default arm.
    for c in extra_cost_per_program(&s.bpf, &per_round, LEARN, DEFAULT, args.seed ^ 0x1ea7) {
        s.learn_cost.push(report::LearnCost {
            name: c.name,
            avg_ns_learn: c.avg_ns_arm,
            avg_ns_default: c.avg_ns_base,
            extra_ns: c.avg_ns_arm - c.avg_ns_base,
            cmp: c.cmp,
        });
    }
    if args.walk_cost {
        for c in extra_cost_per_program(&s.bpf, &per_round, DEFAULT, NOMODEL, args.seed ^ 0x77) {
            s.walk_cost.push(report::WalkCost {
                name: c.name,
                avg_ns_model: c.avg_ns_arm,
                avg_ns_no_model: c.avg_ns_base,
                walk_ns: c.avg_ns_arm - c.avg_ns_base,
                cmp: c.cmp,
            });
        }
        if s.walk_cost.is_empty() {
            s.notes.push("--walk-cost: no BPF program counters were collected (are the arbor_* struct_ops programs loaded, and bpf_stats_enabled writable?)".into());
        }
    }
    s.failed_commands = records
        .iter()
        .filter(|r| {
            r.command
                .as_ref()
                .map(|c| !c.result.success)
                .unwrap_or(false)
        })
        .count();
    if s.failed_commands > 0 {
        s.notes.push(format!(
            "the command failed in {} arm-rounds (see the exit statuses)",
            s.failed_commands
        ));
    }
    s
}

/// One BPF program's ns/call in `arm` against `base`: the means over all
/// rounds and the per-round comparison (lower is better).
struct ExtraCost {
    name: String,
    avg_ns_arm: f64,
    avg_ns_base: f64,
    cmp: stats::Comparison,
}

/// [`ExtraCost`] of every program that both arms ran.
fn extra_cost_per_program(
    bpf: &[report::BpfProgSummary],
    per_round: &BTreeMap<(String, String), Vec<f64>>,
    arm: &str,
    base: &str,
    seed: u64,
) -> Vec<ExtraCost> {
    bpf.iter()
        .filter(|a| a.arm == arm)
        .filter_map(|a| {
            let b = bpf.iter().find(|x| x.arm == base && x.name == a.name)?;
            let of = |arm: &str| per_round.get(&(arm.to_string(), a.name.clone()));
            Some(ExtraCost {
                name: a.name.clone(),
                avg_ns_arm: a.avg_ns,
                avg_ns_base: b.avg_ns,
                cmp: stats::compare(of(base)?, of(arm)?, stats::Better::Lower, seed),
            })
        })
        .collect()
}
