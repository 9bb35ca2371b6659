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
}

/// Another sched_ext scheduler given with --arm NAME=COMMAND.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExternalArm {
    pub name: String,
    pub exe: PathBuf,
    pub args: Vec<String>,
}

/// Names the built-in arms take; an --arm may not reuse them.
const RESERVED_ARM_NAMES: [&str; 4] = [BASELINE, DEFAULT, NOMODEL, LEARN];

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

/// The user's scheduler options with any --model FILE removed and --no-model added.
pub fn no_model_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--model" {
            it.next();
        } else if a.starts_with("--model=") || a == "--no-model" {
        } else {
            out.push(a.clone());
        }
    }
    out.push("--no-model".into());
    out
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
