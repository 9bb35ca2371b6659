//! What `scx_arbor model verify` does and prints (its options are parsed by
//! scx_arbor's `model_cli`, so that the scheduler's binary does not link
//! this crate, nor tract).

use std::path::Path;

use anyhow::{bail, Context, Result};
use arbor_model::rows::Table;

/// Run `model verify` on `file`: with the rows of the CSV `rows`, else
/// generated ones (`random` random rows beside the probes, from `seed`);
/// print the agreement, fail unless it is perfect.
pub fn run(file: &Path, rows: Option<&Path>, random: usize, seed: u64) -> Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let table = rows.map(Table::read).transpose()?;
    let report = crate::verify::verify(&bytes, table.as_ref(), random, seed)
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
