//! The two gates a watched model passes, as arithmetic on readings of the
//! counters: the shadow stage (candidate and live model scored on the same
//! bursts) and the canary window (the new generation live against the
//! generation it replaced, over the same length of time before the install).

use arbor_learn::cost::Confusion;
use arbor_proto::status::Status;

/// The thresholds of both gates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Score points the candidate may lose against the live model.
    pub margin: f64,
    /// Bursts a gate needs before it judges.
    pub min_bursts: u64,
    /// How far a scheduling rate (per decision) or the wakeup-wait p99 may
    /// rise over the previous generation's, as a fraction (0.2: 20%).
    pub max_rise: f64,
}

/// Absolute slack on a rate per decision: 0 → 0.4% is not a rise to judge.
const RATE_SLACK: f64 = 0.004;
/// Absolute slack on the wakeup-wait p99, µs (one bucket of the histogram
/// near 100 µs is wider than that).
const WAIT_SLACK_US: f64 = 50.0;

/// A gate's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    /// Not enough bursts yet.
    Wait,
    Pass(String),
    Fail(String),
}

fn points(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// The shadow stage: the candidate's decisions and the live model's over
/// the same bursts. It passes unless its score is below the live model's by
/// more than the margin; a live side without model decisions (no model, or
/// the fallback) has no score to hold against it.
pub fn shadow(candidate: &Confusion, live: &Confusion, lim: &Limits) -> Judgement {
    let n = candidate.total();
    if n < lim.min_bursts {
        return Judgement::Wait;
    }
    let (c, l) = (candidate.score(), live.score());
    let what = format!(
        "shadow over {n} bursts: candidate score {} vs live {}",
        points(c),
        points(l)
    );
    match (c, l) {
        (Some(c), Some(l)) if c < l - lim.margin => {
            Judgement::Fail(format!("{what}: more than {:.1} points worse", lim.margin))
        }
        (None, _) => Judgement::Fail(format!("{what}: the candidate made no decision")),
        _ => Judgement::Pass(what),
    }
}

/// A rate per decision of one counter in a window.
fn per_decision(n: u64, decisions: u64) -> f64 {
    if decisions == 0 {
        0.0
    } else {
        n as f64 / decisions as f64
    }
}

/// The canary window: `after` is what happened since the install, `before`
/// what happened over the same length of time before it (under the
/// previous generation), which walked in shadow meanwhile when it was a
/// model (`previous_in_shadow`). Every check must hold:
/// - the live score is at least the previous generation's less the margin,
///   both scored on the same bursts of the window (the live model's
///   `paired_confusion`, the previous one's `shadow_confusion`): a
///   workload that changes between the windows moves both alike (no check
///   when the previous generation was no model);
/// - no walk error and no torn read;
/// - preemptions, starved runs and fallback decisions per decision, and
///   the wakeup-wait p99, rise by no more than `max_rise`.
pub fn canary(
    before: &Status,
    after: &Status,
    previous_in_shadow: bool,
    lim: &Limits,
) -> Judgement {
    let (a, b) = (&after.metrics, &before.metrics);
    if a.model_outcomes < lim.min_bursts {
        return Judgement::Wait;
    }
    let (score_after, score_before) = if previous_in_shadow {
        (
            Confusion::from_rows(&after.paired_confusion).score(),
            Confusion::from_rows(&after.shadow_confusion).score(),
        )
    } else {
        (Confusion::from_rows(&after.confusion).score(), None)
    };
    let mut failed = Vec::new();
    if let (Some(s), Some(p)) = (score_after, score_before) {
        if s < p - lim.margin {
            failed.push(format!(
                "live score {s:.1} < previous {p:.1} - {:.1}",
                lim.margin
            ));
        }
    }
    if a.walk_errors > 0 {
        failed.push(format!("{} walk errors", a.walk_errors));
    }
    if a.torn_reads > 0 {
        failed.push(format!("{} torn reads", a.torn_reads));
    }
    let rates = [
        ("preemptions", a.preempt_kicks, b.preempt_kicks),
        ("starved runs", a.starved_runs, b.starved_runs),
        (
            "fallback decisions",
            a.decisions_fallback,
            b.decisions_fallback,
        ),
    ];
    for (name, n_after, n_before) in rates {
        let (ra, rb) = (
            per_decision(n_after, a.decisions),
            per_decision(n_before, b.decisions),
        );
        if ra > rb * (1.0 + lim.max_rise) + RATE_SLACK {
            failed.push(format!(
                "{name} per decision {ra:.4} > previous {rb:.4} + {:.0}%",
                100.0 * lim.max_rise
            ));
        }
    }
    let (wa, wb) = (a.wakeup_wait_p99_us, b.wakeup_wait_p99_us);
    if b.wakeup_waits > 0 && wa > wb * (1.0 + lim.max_rise) + WAIT_SLACK_US {
        failed.push(format!(
            "wakeup-wait p99 {wa:.0} us > previous {wb:.0} us + {:.0}%",
            100.0 * lim.max_rise
        ));
    }
    let what = format!(
        "canary over {} bursts: live score {} (previous generation on the same bursts {}), \
         wakeup-wait p99 {wa:.0} us (previous {wb:.0} us before the install)",
        a.model_outcomes,
        points(score_after),
        points(score_before)
    );
    if failed.is_empty() {
        Judgement::Pass(what)
    } else {
        Judgement::Fail(format!("{what}: {}", failed.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_intf::schema::{NR_ACTIONS, NR_CLASSES};

    const LIM: Limits = Limits {
        margin: 1.0,
        min_bursts: 100,
        max_rise: 0.2,
    };

    /// A confusion of `hits` right (all class 0) and `misses` class 3
    /// predicted for class 0 bursts, the costliest mistake.
    fn conf(hits: u64, misses: u64) -> Confusion {
        let mut c = Confusion::default();
        c.m[0][0] = hits;
        c.m[3][0] = misses;
        c
    }

    fn rows(c: &Confusion, nr_rows: usize) -> Vec<Vec<u64>> {
        let mut r = vec![vec![0; NR_CLASSES]; nr_rows];
        for (p, row) in c.m.iter().enumerate() {
            r[p].copy_from_slice(row);
        }
        r
    }

    /// A reading where the live model's outcomes are `hits`/`misses`, both
    /// overall and on the bursts the shadow saw, with preemptions and a
    /// wakeup-wait p99.
    fn reading(hits: u64, misses: u64, preempts: u64, p99: f64) -> Status {
        let c = conf(hits, misses);
        let mut s = Status {
            confusion: rows(&c, NR_ACTIONS),
            paired_confusion: rows(&c, NR_ACTIONS),
            shadow_confusion: rows(&Confusion::default(), NR_CLASSES),
            ..Default::default()
        };
        s.metrics.model_outcomes = hits + misses;
        s.metrics.decisions = hits + misses;
        s.metrics.preempt_kicks = preempts;
        s.metrics.wakeup_waits = 1000;
        s.metrics.wakeup_wait_p99_us = p99;
        s
    }

    #[test]
    fn shadow_waits_for_its_bursts_then_passes_an_equal_candidate() {
        assert_eq!(shadow(&conf(50, 0), &conf(50, 0), &LIM), Judgement::Wait);
        assert!(matches!(
            shadow(&conf(500, 0), &conf(500, 0), &LIM),
            Judgement::Pass(_)
        ));
    }

    #[test]
    fn shadow_fails_a_candidate_worse_by_more_than_the_margin() {
        // 10% of decisions at the largest cost: 10 points below the live model.
        match shadow(&conf(450, 50), &conf(500, 0), &LIM) {
            Judgement::Fail(why) => assert!(why.contains("90.0 vs live 100.0"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Within the margin: 0.5% at the largest cost is 0.5 points.
        assert!(matches!(
            shadow(&conf(995, 5), &conf(1000, 0), &LIM),
            Judgement::Pass(_)
        ));
    }

    #[test]
    fn shadow_against_no_model_passes_on_its_own_decisions() {
        assert!(matches!(
            shadow(&conf(300, 200), &Confusion::default(), &LIM),
            Judgement::Pass(_)
        ));
    }

    /// `after` with the previous generation's shadow outcomes on its bursts.
    fn with_previous(mut after: Status, hits: u64, misses: u64) -> Status {
        after.shadow_confusion = rows(&conf(hits, misses), NR_CLASSES);
        after
    }

    #[test]
    fn canary_keeps_a_generation_that_holds() {
        let before = reading(900, 100, 100, 1000.0);
        let after = with_previous(reading(910, 90, 105, 1100.0), 900, 100);
        assert!(matches!(
            canary(&before, &after, true, &LIM),
            Judgement::Pass(_)
        ));
        let few = reading(50, 0, 0, 0.0);
        assert_eq!(canary(&before, &few, true, &LIM), Judgement::Wait);
    }

    #[test]
    fn canary_rolls_back_a_lower_score_on_the_same_bursts() {
        let before = reading(1000, 0, 0, 1000.0);
        let after = with_previous(reading(800, 200, 0, 1000.0), 1000, 0);
        match canary(&before, &after, true, &LIM) {
            Judgement::Fail(why) => {
                assert!(why.contains("live score 80.0 < previous 100.0"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn canary_compares_scores_on_the_window_not_across_windows() {
        // The workload got harder: the live score fell from 100 to 80
        // between the windows, but the previous generation, on the same
        // bursts, does no better.
        let before = reading(1000, 0, 0, 1000.0);
        let after = with_previous(reading(800, 200, 0, 1000.0), 790, 210);
        assert!(matches!(
            canary(&before, &after, true, &LIM),
            Judgement::Pass(_)
        ));
    }

    #[test]
    fn canary_rolls_back_more_preemptions_or_longer_waits() {
        let before = reading(1000, 0, 100, 1000.0);
        // 10% → 13% preemptions per decision: a 30% rise.
        let after = reading(1000, 0, 130, 1000.0);
        match canary(&before, &after, false, &LIM) {
            Judgement::Fail(why) => assert!(why.contains("preemptions per decision"), "{why}"),
            other => panic!("{other:?}"),
        }
        let after = reading(1000, 0, 100, 1300.0);
        match canary(&before, &after, false, &LIM) {
            Judgement::Fail(why) => assert!(why.contains("wakeup-wait p99 1300"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn canary_rolls_back_walk_errors_and_torn_reads() {
        let before = reading(1000, 0, 0, 1000.0);
        let mut after = reading(1000, 0, 0, 1000.0);
        after.metrics.walk_errors = 1;
        after.metrics.torn_reads = 2;
        match canary(&before, &after, false, &LIM) {
            Judgement::Fail(why) => {
                assert!(
                    why.contains("1 walk errors") && why.contains("2 torn reads"),
                    "{why}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn canary_after_no_model_judges_the_scheduling_figures_only() {
        let mut before = reading(0, 0, 100, 1000.0);
        before.metrics.decisions = 1000;
        before.metrics.decisions_fallback = 1000;
        let after = reading(500, 500, 100, 900.0);
        assert!(matches!(
            canary(&before, &after, false, &LIM),
            Judgement::Pass(_)
        ));
    }
}
