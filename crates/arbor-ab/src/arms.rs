//! The arms of a comparison: their names, another scheduler given with
//! --arm, and the scheduler options of scx_arbor's own arms.

use std::path::PathBuf;

use serde::Serialize;

/// One arm of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Arm {
    pub name: String,
    /// Scheduler options; None for the EEVDF baseline.
    pub sched_args: Option<Vec<String>>,
    /// The learn arm's model directory.
    pub model_dir: Option<PathBuf>,
    /// Another scheduler's binary (--arm); None for scx_arbor and EEVDF.
    pub exe: Option<PathBuf>,
    /// Another build of scx_arbor (the oracle arm's); None: the one `ab`
    /// runs beside.
    pub arbor_exe: Option<PathBuf>,
}

/// Another sched_ext scheduler given with --arm NAME=COMMAND.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExternalArm {
    pub name: String,
    pub exe: PathBuf,
    pub args: Vec<String>,
}

/// Names the built-in arms take; an --arm may not reuse them.
const RESERVED_ARM_NAMES: [&str; 6] = [BASELINE, DEFAULT, NOMODEL, HEURISTIC, ORACLE, LEARN];

/// Parse --arm NAME=COMMAND.
pub(crate) fn parse_external_arm(s: &str) -> Result<ExternalArm, String> {
    let (name, cmd) = s.split_once('=').ok_or_else(|| {
        format!("{s:?}: expected NAME=COMMAND, e.g. bpfland=/usr/bin/scx_bpfland")
    })?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(format!(
            "arm name {name:?}: use letters, digits, '-', '_' and '.' only"
        ));
    }
    if RESERVED_ARM_NAMES.contains(&name) {
        return Err(format!(
            "arm name {name:?} is taken by a built-in arm ({})",
            RESERVED_ARM_NAMES.join(", ")
        ));
    }
    let mut words = cmd.split_whitespace().map(String::from);
    let exe = words
        .next()
        .ok_or_else(|| format!("--arm {name}: no command after '='"))?;
    Ok(ExternalArm {
        name: name.to_string(),
        exe: exe.into(),
        args: words.collect(),
    })
}

pub const BASELINE: &str = "eevdf";
/// Name of the arm with the user's scheduler options.
pub const DEFAULT: &str = "arbor";
/// Name of the arm with --no-model (--arms nomodel, or --walk-cost).
pub const NOMODEL: &str = "arbor-nomodel";
/// Name of the learning arm (--arms learn).
pub const LEARN: &str = "arbor-learn";
/// Name of the arm with --heuristic (--arms heuristic).
pub const HEURISTIC: &str = "arbor-heuristic";
/// Name of the arm run by an oracle build with --oracle (--arms oracle).
pub const ORACLE: &str = "arbor-oracle";

/// The user's scheduler options with any model choice (--model FILE,
/// --no-model, --heuristic) removed, then `extra`.
fn replace_model_args(args: &[String], extra: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--model" {
            it.next();
        } else if a.starts_with("--model=") || a == "--no-model" || a == "--heuristic" {
        } else {
            out.push(a.clone());
        }
    }
    out.push(extra.into());
    out
}

/// The user's scheduler options with the model choice replaced by --heuristic.
pub fn heuristic_args(args: &[String]) -> Vec<String> {
    replace_model_args(args, "--heuristic")
}

/// The user's scheduler options and --oracle, for an oracle build: where
/// the workload publishes a thread's coming burst the decision is taken
/// from it, elsewhere from the model the options name.
pub fn oracle_args(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = args.iter().filter(|a| *a != "--oracle").cloned().collect();
    out.push("--oracle".into());
    out
}

/// The user's scheduler options with the model choice replaced by --no-model.
pub fn no_model_args(args: &[String]) -> Vec<String> {
    replace_model_args(args, "--no-model")
}

/// The user's scheduler options with whatever sets learning, the model
/// directory or --resume removed, then `--learn on --model-dir DIR --resume`
/// and the learn arm's own options.
pub fn learn_args(args: &[String], dir: &std::path::Path, extra: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--learn" || a == "--model-dir" {
            it.next();
        } else if a.starts_with("--learn=") || a.starts_with("--model-dir=") || a == "--resume" {
        } else {
            out.push(a.clone());
        }
    }
    out.extend(["--learn".into(), "on".into(), "--model-dir".into()]);
    out.push(dir.display().to_string());
    out.push("--resume".into());
    out.extend(extra.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_args_replace_learning_options() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let d = std::path::Path::new("/m");
        assert_eq!(
            learn_args(
                &v(&[
                    "--learn",
                    "shadow",
                    "-v",
                    "--model-dir=/x",
                    "--resume",
                    "--model",
                    "a"
                ]),
                d,
                &v(&["--sample-budget", "0"])
            ),
            v(&[
                "-v",
                "--model",
                "a",
                "--learn",
                "on",
                "--model-dir",
                "/m",
                "--resume",
                "--sample-budget",
                "0"
            ])
        );
    }

    #[test]
    fn heuristic_and_oracle_args() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            heuristic_args(&v(&["--model", "a", "-x", "--no-model"])),
            v(&["-x", "--heuristic"])
        );
        assert_eq!(
            oracle_args(&v(&["--model=a", "--oracle"])),
            v(&["--model=a", "--oracle"])
        );
    }

    #[test]
    fn no_model_args_strips_model() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            no_model_args(&v(&["--model", "a", "-x"])),
            v(&["-x", "--no-model"])
        );
        assert_eq!(
            no_model_args(&v(&["--model=a", "--no-model"])),
            v(&["--no-model"])
        );
    }
}
