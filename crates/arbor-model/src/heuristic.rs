//! The heuristic model: the hand-written rule a learned model must beat,
//! written as a model so that it runs through the same path (import,
//! install, walk, the same actions).
//!
//! Rule: the class of a task's next burst is the class its average burst
//! falls in — `ewma_burst_us` bucketed at the class bounds (250 µs, 1 ms,
//! 4 ms). This is what the published schedulers do with a task's average
//! runtime (scx_lavd's estimated stopping time, bpfland's and cosmos'
//! average-runtime slice). One tree, three splits, four leaves, on one
//! feature (present since schema 1).

use arbor_intf::schema::{feature_index, CLASS_BOUNDS_US, FEATURES, NR_CLASSES, SCHEMA_VERSION};

use crate::ensemble::{Ensemble, Node, Tree};

/// The feature the rule reads.
pub const FEATURE: &str = "ewma_burst_us";

/// The one-tree ensemble of the rule.
pub fn ensemble() -> Ensemble {
    let feature = feature_index(FEATURE).expect("ewma_burst_us is in the schema") as u16;
    let leaf = |class: usize| {
        let mut scores = [0; NR_CLASSES];
        scores[class] = 1;
        Node::Leaf { scores }
    };
    let split = |threshold: u32, left: u32, right: u32| Node::Split {
        feature,
        threshold,
        left,
        right,
    };
    // A balanced tree: the root splits at the short bound; each side once more.
    //   0: x <= short ? 1 : 2
    //   1: x <= tiny ? 3 (tiny) : 4 (short)
    //   2: x <= medium ? 5 (medium) : 6 (long)
    let [tiny, short, medium] = CLASS_BOUNDS_US;
    let nodes = vec![
        split(short, 1, 2),
        split(tiny, 3, 4),
        split(medium, 5, 6),
        leaf(0),
        leaf(1),
        leaf(2),
        leaf(3),
    ];
    Ensemble {
        schema_version: SCHEMA_VERSION,
        feature_names: FEATURES.iter().map(|f| f.name.to_string()).collect(),
        nr_classes: NR_CLASSES,
        score_frac_bits: 0,
        base_scores: [0; NR_CLASSES],
        trees: vec![Tree { nodes }],
    }
}

/// The rule as ONNX bytes (a `TreeEnsembleClassifier` with the schema
/// metadata), for the scheduler's model path.
pub fn onnx_bytes() -> anyhow::Result<Vec<u8>> {
    use prost::Message;
    Ok(crate::onnx_export::to_onnx(&ensemble())?.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_intf::schema::NR_FEATURES;

    /// The classes by their documented bounds (bpf/intf.h: tiny ≤ 250 µs,
    /// short ≤ 1 ms, medium ≤ 4 ms, long above), written out here rather
    /// than taken from the schema constants the tree is built from.
    #[test]
    fn buckets_the_average_burst_at_the_documented_bounds() {
        let e = ensemble();
        e.validate().unwrap();
        let f = feature_index(FEATURE).unwrap();
        let cases = [
            (0, 0),
            (250, 0),
            (251, 1),
            (1000, 1),
            (1001, 2),
            (4000, 2),
            (4001, 3),
            (1_000_000, 3),
        ];
        for (ewma, want) in cases {
            // Every other feature at extremes: the rule must ignore them.
            for other in [0, 123_456] {
                let mut x = [other; NR_FEATURES];
                x[f] = ewma;
                assert_eq!(
                    e.predict(&x).unwrap(),
                    want,
                    "ewma {ewma} µs, others {other}"
                );
            }
        }
    }

    #[test]
    fn round_trips_through_onnx() {
        let bytes = onnx_bytes().unwrap();
        let back = crate::onnx_import::import_bytes(&bytes).unwrap().ensemble;
        assert_eq!(back.schema_version, SCHEMA_VERSION);
        let f = feature_index(FEATURE).unwrap();
        for ewma in [0, 250, 251, 1000, 1001, 4000, 4001, 99_999] {
            let mut x = [7; NR_FEATURES];
            x[f] = ewma;
            assert_eq!(back.predict(&x).unwrap(), ensemble().predict(&x).unwrap());
        }
    }
}
