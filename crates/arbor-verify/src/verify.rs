//! Agreement of the integer walker with reference labels: tract's inference
//! of the ONNX file, and/or labels stored in a CSV (`label` column, e.g.
//! onnxruntime's predictions).

use std::fmt::Write;

use anyhow::{Context, Result};

use crate::tract_run::TractModel;
use arbor_intf::schema::{CLASS_NAMES, FEATURES, NR_CLASSES};
use arbor_model::flat::{flatten, walk};
use arbor_model::onnx_import::{import_bytes, Imported, OpKind};
use arbor_model::rows::{probe_rows, Row, Table};

/// Agreement with one reference.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    /// Name of the reference.
    pub reference: String,
    /// `(agreeing, total)` rows per reference class.
    pub per_class: [(usize, usize); NR_CLASSES],
    /// Rows where the reference label is not a class at all.
    pub bad_labels: usize,
}

impl Agreement {
    /// Agreeing rows and total rows.
    pub fn overall(&self) -> (usize, usize) {
        let a = self.per_class.iter().map(|p| p.0).sum();
        let t = self.per_class.iter().map(|p| p.1).sum::<usize>() + self.bad_labels;
        (a, t)
    }

    /// True when every row agrees.
    pub fn perfect(&self) -> bool {
        let (a, t) = self.overall();
        a == t
    }

    fn new(reference: &str, ours: &[usize], theirs: &[usize]) -> Self {
        let mut ag = Agreement {
            reference: reference.into(),
            ..Default::default()
        };
        for (&o, &t) in ours.iter().zip(theirs) {
            match ag.per_class.get_mut(t) {
                Some(p) => {
                    p.1 += 1;
                    p.0 += usize::from(o == t);
                }
                None => ag.bad_labels += 1,
            }
        }
        ag
    }
}

/// The result of [`verify`].
#[derive(Debug)]
pub struct Report {
    /// The imported model.
    pub imported: Imported,
    /// Rows compared.
    pub rows: usize,
    /// Where the rows came from.
    pub rows_source: String,
    /// CSV columns that were not read (not a feature the model splits on,
    /// not `label`).
    pub ignored_columns: Vec<String>,
    /// Walks that faulted (never expected for a freshly flattened model).
    pub walk_faults: usize,
    /// One entry per reference that could be used.
    pub agreements: Vec<Agreement>,
    /// References that could not be used, and why.
    pub skipped: Vec<String>,
}

impl Report {
    /// True when there was at least one reference and every one agreed on every row.
    pub fn ok(&self) -> bool {
        self.walk_faults == 0
            && !self.agreements.is_empty()
            && self.agreements.iter().all(Agreement::perfect)
    }

    /// Human-readable report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Ok(st) = self.imported.ensemble.stats() {
            let _ = writeln!(
                out,
                "model: {:?}, {} trees, {} nodes, depth {}",
                self.imported.op, st.trees, st.nodes, st.max_depth
            );
        }
        let _ = writeln!(out, "rows: {} ({})", self.rows, self.rows_source);
        if !self.ignored_columns.is_empty() {
            let _ = writeln!(
                out,
                "ignored columns (the model does not read them): {}",
                self.ignored_columns.join(", ")
            );
        }
        if self.walk_faults > 0 {
            let _ = writeln!(out, "walk faults: {}", self.walk_faults);
        }
        for ag in &self.agreements {
            let (a, t) = ag.overall();
            let _ = writeln!(
                out,
                "vs {}: {a}/{t} agree ({:.3}%)",
                ag.reference,
                100.0 * a as f64 / t.max(1) as f64
            );
            for (c, &(a, t)) in ag.per_class.iter().enumerate() {
                if t > 0 {
                    let _ = writeln!(out, "  {:<7} {a}/{t}", CLASS_NAMES[c]);
                }
            }
            if ag.bad_labels > 0 {
                let _ = writeln!(out, "  {} reference labels are not classes", ag.bad_labels);
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "skipped: {s}");
        }
        let _ = writeln!(
            out,
            "{}",
            if self.ok() {
                "OK: the integer walker agrees on every row"
            } else if self.agreements.is_empty() {
                "FAILED: no reference to compare with"
            } else {
                "FAILED: disagreement"
            }
        );
        out
    }
}

/// Verifies the model in `bytes` on the rows of `table` (a CSV with the
/// schema's feature columns, and optionally `label`), or, without a table,
/// on rows probing every threshold plus `random` random rows.
pub fn verify(bytes: &[u8], table: Option<&Table>, random: usize, seed: u64) -> Result<Report> {
    let imported = import_bytes(bytes)?;
    let flat = flatten(&imported.ensemble, 1)?;
    let mut ignored_columns = Vec::new();
    let (rows, rows_source, labels): (Vec<Row>, String, Option<Vec<u32>>) = match table {
        Some(t) => {
            let labels = match t.column("label") {
                Ok(_) => Some(t.u32_column("label")?),
                Err(_) => None,
            };
            // Only the features some split reads: every other input column
            // of the model (and every other schema feature) cannot change
            // a prediction, and is 0 in the rows.
            let used = imported.ensemble.used_features();
            let rows = t
                .rows_of(&used)
                .context("the CSV must name every feature the model splits on")?;
            ignored_columns = t
                .header
                .iter()
                .filter(|h| {
                    h.as_str() != "label" && !used.iter().any(|&f| FEATURES[f].name == h.as_str())
                })
                .cloned()
                .collect();
            let names: Vec<&str> = used.iter().map(|&f| FEATURES[f].name).collect();
            let src = format!("from the CSV; the model reads {}", names.join(", "));
            (rows, src, labels)
        }
        None => {
            let rows = probe_rows(&imported.ensemble, random, seed);
            let src = format!(
                "every threshold and its neighbours, plus {random} random rows (seed {seed})"
            );
            (rows, src, None)
        }
    };
    let mut walk_faults = 0;
    let ours: Vec<usize> = rows
        .iter()
        .map(|r| match walk(&flat, r) {
            Ok(w) => w.class,
            Err(_) => {
                walk_faults += 1;
                usize::MAX
            }
        })
        .collect();
    let mut agreements = Vec::new();
    let mut skipped = Vec::new();
    if let Some(labels) = labels {
        let l: Vec<usize> = labels.iter().map(|&v| v as usize).collect();
        agreements.push(Agreement::new("the CSV's label column", &ours, &l));
    }
    if imported.op == OpKind::Regressor {
        skipped.push("tract: it does not implement TreeEnsembleRegressor".into());
    } else if imported.binary_one_column {
        skipped.push(
            "tract: its label output differs from onnxruntime's for binary classifiers with one \
             score column (compare with onnxruntime labels via --rows CSV with a label column)"
                .into(),
        );
    } else if !rows.is_empty() {
        match TractModel::load(bytes, &imported.columns, rows.len().min(4096))
            .and_then(|t| t.predict_all(&rows))
        {
            Ok(theirs) => agreements.push(Agreement::new("tract", &ours, &theirs)),
            Err(e) => skipped.push(format!("tract: {e:#}")),
        }
    }
    if agreements.is_empty() {
        // Still useful: the IR reference walk (catches layout bugs).
        let ir: Vec<usize> = rows
            .iter()
            .map(|r| imported.ensemble.predict(r).unwrap_or(usize::MAX))
            .collect();
        agreements.push(Agreement::new(
            "the IR reference walk (no external reference)",
            &ours,
            &ir,
        ));
    }
    Ok(Report {
        imported,
        rows: rows.len(),
        rows_source,
        ignored_columns,
        walk_faults,
        agreements,
        skipped,
    })
}
