//! Exact conversion of ONNX floating-point split tests into integer
//! `x <= k` tests.
//!
//! Every feature is an integer `x` in `0..=FEATURE_MAX` (below 2^24), so
//! `f32(x)` (and `f64(x)`) is exactly `x` and every engine's comparison is an
//! exact comparison of reals. For a finite threshold `t`:
//!
//! | mode        | true branch when | integer form            |
//! |-------------|------------------|-------------------------|
//! | BRANCH_LEQ  | x <= t           | x <= floor(t)           |
//! | BRANCH_LT   | x < t            | x <= ceil(t) - 1        |
//! | BRANCH_GT   | x > t            | not (x <= floor(t))     |
//! | BRANCH_GTE  | x >= t           | not (x <= ceil(t) - 1)  |
//!
//! When `k < 0` the test `x <= k` never holds; when `k >= FEATURE_MAX` it
//! always holds: such splits are constant and the importer keeps only the
//! branch that is taken. Infinite thresholds are exact too (`x <= +inf`
//! always holds, `x <= -inf` never). NaN thresholds are refused: every
//! comparison with NaN is false, which is almost certainly an export bug.
//! BRANCH_EQ / BRANCH_NEQ are refused (one `<=` split cannot express them).

use anyhow::{bail, Result};

use arbor_intf::schema::FEATURE_MAX;

/// An ONNX split mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `x <= t`
    Leq,
    /// `x < t`
    Lt,
    /// `x > t`
    Gt,
    /// `x >= t`
    Gte,
}

impl Mode {
    /// Parses `nodes_modes` values; `Ok(None)` for `LEAF`.
    pub fn parse(s: &str) -> Result<Option<Mode>> {
        Ok(Some(match s {
            "LEAF" => return Ok(None),
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_EQ" | "BRANCH_NEQ" => bail!(
                "split mode {s} is not supported: integer trees only test x <= k; re-export the \
                 model with BRANCH_LEQ/LT/GT/GTE splits (scikit-learn, LightGBM and XGBoost do)"
            ),
            other => bail!("unknown split mode {other:?}"),
        }))
    }
}

/// A split test on one integer feature, after conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Test {
    /// The test has the same outcome (true branch taken or not) for every value.
    Always(bool),
    /// The true branch is taken iff `x <= k` (`k < FEATURE_MAX`).
    TrueIfLeq(u32),
    /// The true branch is taken iff `x > k` (`k < FEATURE_MAX`).
    TrueIfGt(u32),
}

/// Converts `x <mode> t` into an integer test, exactly, for `x` in `0..=FEATURE_MAX`.
pub fn convert(mode: Mode, t: f64) -> Result<Test> {
    if t.is_nan() {
        bail!(
            "threshold is NaN: every comparison with NaN is false; fix the exporter or the model"
        );
    }
    // Largest k such that "x <= k" is equivalent to the mode's inclusive/exclusive bound.
    let (k, negate) = match mode {
        Mode::Leq => (t.floor(), false),
        Mode::Lt => (t.ceil() - 1.0, false),
        Mode::Gt => (t.floor(), true),
        Mode::Gte => (t.ceil() - 1.0, true),
    };
    let leq = if k < 0.0 {
        Err(false)
    } else if k >= f64::from(FEATURE_MAX) {
        Err(true)
    } else {
        Ok(k as u32)
    };
    Ok(match (leq, negate) {
        (Err(b), neg) => Test::Always(b != neg),
        (Ok(k), false) => Test::TrueIfLeq(k),
        (Ok(k), true) => Test::TrueIfGt(k),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute-force check of the conversion against f32 comparisons.
    fn check(mode: Mode, t: f32) {
        let test = convert(mode, f64::from(t)).unwrap();
        let xs: Vec<u32> = {
            let k = t.clamp(-4.0, FEATURE_MAX as f32) as i64;
            (k - 3..=k + 3)
                .filter(|&v| (0..=FEATURE_MAX as i64).contains(&v))
                .map(|v| v as u32)
                .chain([0, 1, FEATURE_MAX - 1, FEATURE_MAX])
                .collect()
        };
        for x in xs {
            let xf = x as f32;
            let want = match mode {
                Mode::Leq => xf <= t,
                Mode::Lt => xf < t,
                Mode::Gt => xf > t,
                Mode::Gte => xf >= t,
            };
            let got = match test {
                Test::Always(b) => b,
                Test::TrueIfLeq(k) => x <= k,
                Test::TrueIfGt(k) => x > k,
            };
            assert_eq!(got, want, "{mode:?} t={t} x={x} -> {test:?}");
        }
    }

    #[test]
    fn conversions_are_exact() {
        let ts = [
            -1e30f32,
            -2.5,
            -1.0,
            -0.5,
            -0.0,
            0.0,
            0.25,
            0.5,
            1.0,
            299.5,
            300.0,
            300.00003,
            1e6 + 0.5,
            (FEATURE_MAX - 1) as f32,
            FEATURE_MAX as f32 - 0.5,
            FEATURE_MAX as f32,
            16777216.0,
            3e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        for mode in [Mode::Leq, Mode::Lt, Mode::Gt, Mode::Gte] {
            for &t in &ts {
                check(mode, t);
            }
        }
    }

    #[test]
    fn constant_splits_and_refusals() {
        assert_eq!(convert(Mode::Leq, -0.5).unwrap(), Test::Always(false));
        assert_eq!(convert(Mode::Lt, 0.0).unwrap(), Test::Always(false));
        assert_eq!(
            convert(Mode::Leq, f64::from(FEATURE_MAX)).unwrap(),
            Test::Always(true)
        );
        assert_eq!(convert(Mode::Leq, 2.9).unwrap(), Test::TrueIfLeq(2));
        assert_eq!(convert(Mode::Lt, 3.0).unwrap(), Test::TrueIfLeq(2));
        assert_eq!(convert(Mode::Gte, 3.0).unwrap(), Test::TrueIfGt(2));
        assert!(convert(Mode::Leq, f64::NAN).is_err());
        assert!(Mode::parse("BRANCH_EQ").is_err());
        assert!(Mode::parse("BRANCH_FOO").is_err());
        assert_eq!(Mode::parse("LEAF").unwrap(), None);
    }
}
