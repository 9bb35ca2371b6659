//! The feature schema and burst classes as Rust sees them.
//!
//! `bpf/intf.h` is the single definition; this module gives its numbers names,
//! units and ranges for userspace (CSV headers, model metadata, inspection).

use crate::bpf_intf as intf;

/// Schema version this scheduler's features follow (and new models name).
pub const SCHEMA_VERSION: u32 = intf::arbor_schema_ARBOR_SCHEMA_VERSION;
/// Oldest schema a model may name: each schema only appends features to
/// the one before, so a model of an older schema reads the same features.
pub const SCHEMA_OLDEST: u32 = intf::arbor_schema_ARBOR_SCHEMA_OLDEST;

/// Features of schema `version` (a prefix of [`FEATURES`]), or None for a
/// schema this scheduler does not know.
pub fn features_of_schema(version: u32) -> Option<usize> {
    match version {
        1 => Some(8),
        2 => Some(NR_FEATURES),
        _ => None,
    }
}

/// The decision at a wakeup (`ARBOR_POINT_WAKEUP`): the class of the coming
/// burst, whose outcome the confusion matrices count.
pub const POINT_WAKEUP: u8 = intf::arbor_point_ARBOR_POINT_WAKEUP as u8;

/// Where a decision is made (`enum arbor_point`), by name.
pub const POINT_NAMES: [&str; 3] = ["wakeup", "tick", "waker"];
/// Every feature value is at most this (2^24 - 1), so f32 thresholds compare exactly.
pub const FEATURE_MAX: u32 = intf::arbor_schema_ARBOR_FEATURE_MAX;
/// Number of features.
pub const NR_FEATURES: usize = intf::arbor_feature_ARBOR_NR_FEATURES as usize;
/// Number of burst classes a model predicts.
pub const NR_CLASSES: usize = intf::arbor_class_ARBOR_NR_CLASSES as usize;
/// Row of the action table used when no model is installed.
pub const CLASS_FALLBACK: usize = intf::arbor_class_ARBOR_CLASS_FALLBACK as usize;
/// Rows of the action table: the classes plus the fallback.
pub const NR_ACTIONS: usize = intf::arbor_class_ARBOR_NR_ACTIONS as usize;

/// Ensemble limits enforced by the loader and relied on by the BPF walk.
pub const MAX_TREES: usize = intf::arbor_limits_ARBOR_MAX_TREES as usize;
pub const MAX_NODES: usize = intf::arbor_limits_ARBOR_MAX_NODES as usize;
pub const MAX_LEAVES: usize = intf::arbor_limits_ARBOR_MAX_LEAVES as usize;
pub const MAX_DEPTH: usize = intf::arbor_limits_ARBOR_MAX_DEPTH as usize;
pub const MAX_WALK_STEPS: usize = intf::arbor_limits_ARBOR_MAX_WALK_STEPS as usize;
/// `arbor_node.feature` of a leaf.
pub const LEAF: u16 = intf::arbor_limits_ARBOR_LEAF as u16;

/// A burst still running past this many µs ends as a truncated one.
pub const BURST_TRUNC_US: u32 = intf::arbor_class_bound_ARBOR_BURST_TRUNC_US;

/// One feature of the schema.
#[derive(Debug, Clone, Copy)]
pub struct Feature {
    /// Column and ONNX metadata name.
    pub name: &'static str,
    /// Unit, for humans.
    pub unit: &'static str,
    /// What it measures.
    pub doc: &'static str,
}

/// The features in index order (schema version [`SCHEMA_VERSION`]).
pub const FEATURES: [Feature; NR_FEATURES] = [
    Feature {
        name: "last_burst_us",
        unit: "µs",
        doc: "CPU time of the previous completed burst",
    },
    Feature {
        name: "ewma_burst_us",
        unit: "µs",
        doc: "EWMA (1/4 on the newest) of burst CPU time",
    },
    Feature {
        name: "ewma_sleep_us",
        unit: "µs",
        doc: "EWMA (1/4) of the sleep between bursts",
    },
    Feature {
        name: "wake_rate_hz",
        unit: "Hz",
        doc: "wakeups per second, from an EWMA of the wakeup period",
    },
    Feature {
        name: "voluntary_permille",
        unit: "‰",
        doc: "EWMA share of stops that were voluntary sleeps",
    },
    Feature {
        name: "weight",
        unit: "",
        doc: "scheduling weight (100 = nice 0)",
    },
    Feature {
        name: "nr_cpus_allowed",
        unit: "CPUs",
        doc: "CPUs the task may run on",
    },
    Feature {
        name: "runnable_load",
        unit: "tasks",
        doc: "tasks queued in the DSQ of the task's LLC at decision time",
    },
    Feature {
        name: "elapsed_us",
        unit: "µs",
        doc: "CPU time run in the current burst so far (0 at the wakeup that starts it)",
    },
    Feature {
        name: "wakes_in_burst",
        unit: "wakeups",
        doc: "wakeups the task issued in its current burst so far",
    },
    Feature {
        name: "burst_absdev_us",
        unit: "µs",
        doc: "EWMA (1/4) of |burst - EWMA burst|: how much bursts vary",
    },
];

/// Upper bound (µs, inclusive) of each class but the last, which is open-ended.
pub const CLASS_BOUNDS_US: [u32; NR_CLASSES - 1] = [
    intf::arbor_class_bound_ARBOR_BOUND_TINY_US,
    intf::arbor_class_bound_ARBOR_BOUND_SHORT_US,
    intf::arbor_class_bound_ARBOR_BOUND_MEDIUM_US,
];

/// Class names in index order; the action table has `fallback` after them.
pub const CLASS_NAMES: [&str; NR_CLASSES] = ["tiny", "short", "medium", "long"];

/// Name of an action-table row (a class or the fallback).
pub fn action_name(row: usize) -> &'static str {
    CLASS_NAMES.get(row).copied().unwrap_or("fallback")
}

/// The class of a burst of `burst_us` µs, exactly as the BPF side buckets it.
pub fn class_of_burst(burst_us: u32) -> usize {
    CLASS_BOUNDS_US
        .iter()
        .position(|&b| burst_us <= b)
        .unwrap_or(NR_CLASSES - 1)
}

/// Index of a feature by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

/// The schema as text: features, classes and the BPF walk's limits.
pub fn describe() -> String {
    let mut out = format!(
        "feature schema v{SCHEMA_VERSION}: {NR_FEATURES} unsigned integer features, each at most {FEATURE_MAX} (2^24 - 1)\n"
    );
    out += &format!("{:<3} {:<20} {:<6} meaning\n", "#", "name", "unit");
    for (i, f) in FEATURES.iter().enumerate() {
        out += &format!("{i:<3} {:<20} {:<6} {}\n", f.name, f.unit, f.doc);
    }
    out += "\nclasses (the CPU time of the task's next burst, wakeup to sleep):\n";
    let mut lo = 0;
    for (c, name) in CLASS_NAMES.iter().enumerate() {
        match CLASS_BOUNDS_US.get(c) {
            Some(&hi) => out += &format!("{c}  {name:<7} {lo} .. {hi} µs\n"),
            None => out += &format!("{c}  {name:<7} > {lo} µs\n"),
        }
        lo = CLASS_BOUNDS_US.get(c).copied().unwrap_or(lo);
    }
    out += &format!(
        "{CLASS_FALLBACK}  fallback (action row used when no model is installed)\n\
         a burst reaching {BURST_TRUNC_US} µs is ended as truncated at the next stop\n\
         \nmodel limits: {MAX_TREES} trees, {MAX_NODES} nodes and {MAX_LEAVES} leaves in all, \
         depth {MAX_DEPTH} (at most {MAX_WALK_STEPS} nodes walked per decision)\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_increase_and_bucket_at_edges() {
        assert!(CLASS_BOUNDS_US.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(class_of_burst(0), 0);
        assert_eq!(class_of_burst(250), 0);
        assert_eq!(class_of_burst(251), 1);
        assert_eq!(class_of_burst(1000), 1);
        assert_eq!(class_of_burst(4000), 2);
        assert_eq!(class_of_burst(4001), 3);
        assert_eq!(class_of_burst(FEATURE_MAX), 3);
    }

    #[test]
    fn names_are_unique_and_indexed() {
        for (i, f) in FEATURES.iter().enumerate() {
            assert_eq!(feature_index(f.name), Some(i));
        }
        assert_eq!(action_name(CLASS_FALLBACK), "fallback");
        assert_eq!(action_name(0), "tiny");
    }

    #[test]
    fn description_names_every_feature_and_class() {
        let d = describe();
        for f in FEATURES {
            assert!(d.contains(f.name) && d.contains(f.doc));
        }
        for c in CLASS_NAMES {
            assert!(d.contains(c));
        }
        assert!(d.contains("250 .. 1000 µs") && d.contains("> 4000 µs"));
        assert!(d.contains("16000 µs"));
    }

    #[test]
    fn walk_budget_fits_the_limits() {
        // At least 16 trees at the depth limit, and 128 stumps, can be walked.
        const { assert!(MAX_WALK_STEPS >= 16 * (MAX_DEPTH + 1)) };
        const { assert!(MAX_WALK_STEPS >= MAX_TREES * 2) };
        // Node indices are u16 in arbor_node, with 0xffff reserved.
        assert!(MAX_NODES < LEAF as usize);
    }
}
