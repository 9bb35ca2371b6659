//! What a mis-prediction costs, by direction: the one definition of the
//! cost matrix, and the scores built on it (cost-weighted score, balanced
//! accuracy). `--help` and docs/learning.md print [`table`].
//!
//! Predicting a class above the actual one gives the task a later deadline
//! than its burst needs: a latency-sensitive task waits. That costs 2 per
//! class of distance. Predicting a class below the actual one gives it an
//! early deadline and a short slice it overruns: extra preemptions and
//! context switches, 1 per class of distance.

use arbor_intf::schema::{CLASS_NAMES, NR_CLASSES};

/// Cost of one decision: `COST[predicted][actual]`.
pub const COST: [[u32; NR_CLASSES]; NR_CLASSES] = [
    // actual:  tiny short medium long
    [0, 1, 2, 3], // predicted tiny
    [2, 0, 1, 2], // predicted short
    [4, 2, 0, 1], // predicted medium
    [6, 4, 2, 0], // predicted long
];

/// The largest entry of [`COST`]: a score of 0 means every decision cost this.
pub const MAX_COST: u32 = 6;

/// Counts of decisions by predicted and actual class (model rows only; the
/// fallback row, used when no model is installed, is not a prediction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub m: [[u64; NR_CLASSES]; NR_CLASSES],
}

impl Confusion {
    pub fn add(&mut self, predicted: usize, actual: usize) {
        if predicted < NR_CLASSES && actual < NR_CLASSES {
            self.m[predicted][actual] += 1;
        }
    }

    /// From a `[predicted row][actual class]` matrix such as the BPF
    /// counters'; rows past the classes (the fallback) are left out.
    pub fn from_rows(rows: &[Vec<u64>]) -> Self {
        let mut c = Self::default();
        for (p, row) in rows.iter().take(NR_CLASSES).enumerate() {
            for (a, &n) in row.iter().take(NR_CLASSES).enumerate() {
                c.m[p][a] = n;
            }
        }
        c
    }

    pub fn total(&self) -> u64 {
        self.m.iter().flatten().sum()
    }

    /// Mean cost per decision (None without decisions).
    pub fn mean_cost(&self) -> Option<f64> {
        let n = self.total();
        let cost: u64 = (0..NR_CLASSES)
            .flat_map(|p| (0..NR_CLASSES).map(move |a| (p, a)))
            .map(|(p, a)| self.m[p][a] * u64::from(COST[p][a]))
            .sum();
        (n > 0).then(|| cost as f64 / n as f64)
    }

    /// Cost-weighted score in points: 100 when every decision is right, 0
    /// when every one costs [`MAX_COST`]. Each decision counts once, as it
    /// does for the tasks being scheduled.
    pub fn score(&self) -> Option<f64> {
        self.mean_cost()
            .map(|c| 100.0 * (1.0 - c / f64::from(MAX_COST)))
    }

    /// Balanced accuracy in points: the mean, over the actual classes that
    /// occur, of the share of that class predicted right.
    pub fn balanced_accuracy(&self) -> Option<f64> {
        let recalls: Vec<f64> = (0..NR_CLASSES)
            .filter_map(|a| {
                let n: u64 = (0..NR_CLASSES).map(|p| self.m[p][a]).sum();
                (n > 0).then(|| self.m[a][a] as f64 / n as f64)
            })
            .collect();
        (!recalls.is_empty()).then(|| 100.0 * recalls.iter().sum::<f64>() / recalls.len() as f64)
    }

    /// Plain accuracy in points.
    pub fn accuracy(&self) -> Option<f64> {
        let n = self.total();
        let hit: u64 = (0..NR_CLASSES).map(|c| self.m[c][c]).sum();
        (n > 0).then(|| 100.0 * hit as f64 / n as f64)
    }
}

/// The cost matrix as a markdown table (for docs/learning.md and `--help`).
pub fn table() -> String {
    let mut out = String::from("| predicted \\ actual |");
    for a in CLASS_NAMES {
        out += &format!(" {a} |");
    }
    out += "\n|---|";
    out += &"---|".repeat(NR_CLASSES);
    for (p, row) in COST.iter().enumerate() {
        out += &format!("\n| {} |", CLASS_NAMES[p]);
        for c in row {
            out += &format!(" {c} |");
        }
    }
    out
}

/// The long help of `--learn-margin`: what the score is and the matrix.
pub fn margin_help() -> String {
    format!(
        "Score points (0-100) a candidate must beat the running tree by, on the \
         held-out samples and, with --promote-after-shadow, in shadow. Larger \
         swaps less often on noise.\n\n\
         Score = 100 × (1 − mean cost per decision / {MAX_COST}), with the cost of \
         each decision from this matrix (over-predicting delays a \
         latency-sensitive task: 2 per class; under-predicting costs extra \
         switches: 1 per class):\n\n{}\n\nBalanced accuracy is reported beside it.",
        table()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_is_zero_on_the_diagonal_and_asymmetric_by_direction() {
        for (p, row) in COST.iter().enumerate() {
            for (a, &cost) in row.iter().enumerate() {
                let d = p.abs_diff(a) as u32;
                let want = if p > a { 2 * d } else { d };
                assert_eq!(cost, want, "COST[{p}][{a}]");
            }
        }
        assert_eq!(COST.iter().flatten().max(), Some(&MAX_COST));
    }

    #[test]
    fn scores_from_known_counts() {
        let mut c = Confusion::default();
        assert_eq!(c.score(), None);
        assert_eq!(c.balanced_accuracy(), None);
        // 90 tiny right, 10 long predicted tiny (cost 3 each).
        for _ in 0..90 {
            c.add(0, 0);
        }
        for _ in 0..10 {
            c.add(0, 3);
        }
        assert_eq!(c.accuracy(), Some(90.0));
        // mean cost 30/100 = 0.3; score 100 * (1 - 0.05) = 95.
        assert!((c.score().unwrap() - 95.0).abs() < 1e-9);
        // tiny recall 1, long recall 0.
        assert_eq!(c.balanced_accuracy(), Some(50.0));
        // The other direction costs twice as much.
        let mut d = Confusion::default();
        for _ in 0..90 {
            d.add(3, 3);
        }
        for _ in 0..10 {
            d.add(3, 0);
        }
        assert!((d.score().unwrap() - 90.0).abs() < 1e-9);
        // The fallback row is not a prediction.
        let rows = vec![
            vec![1, 0, 0, 0],
            vec![0; 4],
            vec![0; 4],
            vec![0; 4],
            vec![9; 4],
        ];
        assert_eq!(Confusion::from_rows(&rows).total(), 1);
    }

    #[test]
    fn table_lists_every_class_and_cost() {
        let t = table();
        assert_eq!(t.lines().count(), 2 + NR_CLASSES);
        assert!(t.contains("| long | 6 | 4 | 2 | 0 |"), "{t}");
        assert!(margin_help().contains(&t));
    }
}
