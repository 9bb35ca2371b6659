//! Reference inference through tract, for `model verify` and the tests.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use tract_onnx::prelude::*;

use arbor_intf::schema::{CLASS_NAMES, NR_FEATURES};

/// A model loaded and optimized by tract for a fixed batch size.
pub struct TractModel {
    plan: Arc<TypedRunnableModel>,
    columns: Vec<usize>,
    batch: usize,
}

impl TractModel {
    /// Loads `bytes` with input fact `f32[batch, columns.len()]`.
    /// `columns` is the schema feature of each input column.
    pub fn load(bytes: &[u8], columns: &[usize], batch: usize) -> Result<Self> {
        let plan = tract_onnx::onnx()
            .model_for_read(&mut &bytes[..])
            .and_then(|m| m.with_input_fact(0, f32::fact([batch, columns.len()]).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| anyhow!("{e:#}"))
            .context("tract cannot load the model")?;
        Ok(Self {
            plan,
            columns: columns.to_vec(),
            batch,
        })
    }

    /// Predicted class of each row (exactly `batch` rows).
    pub fn predict(&self, rows: &[[u32; NR_FEATURES]]) -> Result<Vec<usize>> {
        if rows.len() != self.batch {
            bail!("{} rows for a model loaded for {}", rows.len(), self.batch);
        }
        let w = self.columns.len();
        let mut data = Vec::with_capacity(rows.len() * w);
        for r in rows {
            data.extend(self.columns.iter().map(|&f| r[f] as f32));
        }
        let input = Tensor::from_shape(&[rows.len(), w], &data).map_err(|e| anyhow!("{e:#}"))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| anyhow!("{e:#}"))
            .context("tract inference failed")?;
        let labels = out.first().context("tract produced no output")?;
        labels_to_classes(labels)
    }

    /// Predicts any number of rows, in batches (the last one padded).
    pub fn predict_all(&self, rows: &[[u32; NR_FEATURES]]) -> Result<Vec<usize>> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(self.batch) {
            let mut b = chunk.to_vec();
            b.resize(self.batch, [0; NR_FEATURES]);
            let p = self.predict(&b)?;
            out.extend_from_slice(&p[..chunk.len()]);
        }
        Ok(out)
    }
}

/// Converts a label tensor (integers or class-name strings) to schema classes.
fn labels_to_classes(t: &Tensor) -> Result<Vec<usize>> {
    if t.datum_type() == String::datum_type() {
        let v = t
            .to_plain_array_view::<String>()
            .map_err(|e| anyhow!("{e:#}"))?;
        return v
            .iter()
            .map(|s| {
                CLASS_NAMES
                    .iter()
                    .position(|n| n == s)
                    .ok_or_else(|| anyhow!("tract predicted unknown label {s:?}"))
            })
            .collect();
    }
    let t = t.cast_to::<i64>().map_err(|e| anyhow!("{e:#}"))?;
    let v = t
        .to_plain_array_view::<i64>()
        .map_err(|e| anyhow!("{e:#}"))?;
    v.iter()
        .map(|&l| usize::try_from(l).map_err(|_| anyhow!("tract predicted label {l}")))
        .collect()
}
