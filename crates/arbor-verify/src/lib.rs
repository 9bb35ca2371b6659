//! `scx_arbor model verify`: the integer walk (the BPF semantics) against
//! tract's float inference of the same ONNX file and against stored labels.
//! tract is linked here only, so the scheduler's binary stays small.
//!
//! * [`tract_run`]: a model loaded and run by tract.
//! * [`verify`]: the agreement per class, and its report.

pub mod cli;
pub mod tract_run;
pub mod verify;

#[cfg(test)]
mod tests {
    use crate::tract_run::TractModel;
    use arbor_model::flat::{flatten, walk};
    use arbor_model::onnx_export::to_bytes;
    use arbor_model::onnx_import::import_bytes;
    use arbor_model::rows::{probe_rows, random_ensemble};

    #[test]
    fn tract_and_the_walker_agree_on_exported_ensembles() {
        for (seed, trees, depth, nc) in [(1, 1, 6, 4), (2, 5, 5, 4), (3, 16, 4, 3), (4, 3, 8, 2)] {
            let e = random_ensemble(seed, trees, depth, nc);
            let bytes = to_bytes(&e).unwrap();
            let back = import_bytes(&bytes).unwrap();
            let flat = flatten(&back.ensemble, 5).unwrap();
            let rows = probe_rows(&e, 500, seed);
            let tract = TractModel::load(&bytes, &back.columns, rows.len()).unwrap();
            let theirs = tract.predict(&rows).unwrap();
            for (r, t) in rows.iter().zip(&theirs) {
                assert_eq!(walk(&flat, r).unwrap().class, *t, "seed {seed} row {r:?}");
            }
        }
    }
}
