//! The options of `scx_arbor model verify` and what it prints.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use arbor_model::rows::Table;

/// Compare the integer walker (the BPF semantics) with tract's inference
/// of the ONNX file and with stored labels; exits non-zero unless they
/// agree on every row.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The ONNX model.
    pub file: PathBuf,
    /// CSV of rows whose header names (at least) the features the model
    /// splits on, in any order (e.g. a `--record` CSV); other columns are
    /// ignored and listed. A `label` column, if present, is compared
    /// too. Without it, rows probe every threshold and its ±1
    /// neighbours.
    #[arg(long, value_name = "CSV")]
    pub rows: Option<PathBuf>,
    /// Random rows added to the generated ones (without --rows).
    #[arg(long, default_value_t = 10_000)]
    pub random: usize,
    /// Seed of the generated rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Run `model verify`: print the agreement, fail unless it is perfect.
pub fn run(args: &VerifyArgs) -> Result<()> {
    let file = &args.file;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let table = args.rows.as_deref().map(Table::read).transpose()?;
    let report = crate::verify::verify(&bytes, table.as_ref(), args.random, args.seed)
        .with_context(|| format!("verifying {}", file.display()))?;
    print!("{}", report.text());
    if !report.ok() {
        bail!(
            "{}: the integer walker does not agree on every row",
            file.display()
        );
    }
    Ok(())
}
