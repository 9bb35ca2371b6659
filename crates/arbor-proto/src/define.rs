//! The macro that turns the one list of statistics (in [`crate::metrics`])
//! into the [`Metrics`](crate::metrics::Metrics) struct, the summation of
//! the BPF side's per-CPU counters and the change between two readings.

/// Defines `Metrics` from four lists of `name: "description"` (gauges
/// also give their type: `name: u64 "description"`):
///
/// * `cpu_counters`: the `u64` counters of `struct arbor_cpu_stats`
///   (bpf/intf.h), under the same names: summed over CPUs
///   (`add_cpu_counters`) and subtracted between readings. A counter the
///   header lacks does not compile, nor does a `u64` of the header the
///   lists lack (the size check in `status.rs`); a test in `metrics.rs`
///   names the ones that differ.
/// * `cpu_gauges`: the `u64` gauges of `struct arbor_cpu_stats`, same
///   names; how they combine over CPUs is written where the CPUs are read
///   (`status.rs`).
/// * `counters`: counters the scheduler computes (from the per-class rows
///   and matrices, the learner, its own process): subtracted between
///   readings.
/// * `gauges`: values as they are at the reading (shares are recomputed
///   by `Metrics::delta`).
///
/// Every field gets its description as `#[stat(desc)]`, which scx_stats
/// serves in `stats_meta` and `--help-stats` prints.
macro_rules! define_metrics {
    (
        cpu_counters { $($cc:ident: $ccd:tt,)* }
        cpu_gauges { $($cg:ident: $cgd:tt,)* }
        counters { $($c:ident: $cd:tt,)* }
        gauges { $($g:ident: $gt:ident $gd:tt,)* }
    ) => {
        /// The statistics of a running scx_arbor, as scx_stats serves them
        /// (`stats_meta`, `stats`: what `--stats`, `--monitor`, scxtop and the
        /// OpenMetrics relay read) and as the control socket's `status`
        /// answers (beside the matrices, see [`crate::status::Status`]).
        /// Counters are per reading: the first `stats` request on a
        /// connection answers with the totals since the scheduler attached,
        /// each later one with what happened since the previous request on
        /// that connection; `status` answers with the totals. Gauges (marked
        /// so) are the value at the time of the request.
        #[stat_doc]
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
        #[serde(default)]
        #[stat(top, desc = "scx_arbor scheduler statistics")]
        pub struct Metrics {
            $( #[stat(desc = $ccd)] pub $cc: u64, )*
            $( #[stat(desc = $cgd)] pub $cg: u64, )*
            $( #[stat(desc = $cd)] pub $c: u64, )*
            $( #[stat(desc = $gd)] pub $g: $gt, )*
        }

        impl Metrics {
            /// The `u64` fields of `struct arbor_cpu_stats` that Metrics
            /// carries under their own names: the counters, then the gauges.
            pub const CPU_FIELDS: &'static [&'static str] =
                &[$(stringify!($cc),)* $(stringify!($cg),)*];

            /// Adds one CPU's counters (`cpu_counters`).
            pub(crate) fn add_cpu_counters(&mut self, cpu: &arbor_cpu_stats) {
                $( self.$cc += cpu.$cc; )*
            }

            /// Every counter as `self - prev` (0 if it went backwards);
            /// every other field as in `self`.
            pub(crate) fn sub_counters(&self, prev: &Metrics) -> Metrics {
                Metrics {
                    $( $cc: self.$cc.saturating_sub(prev.$cc), )*
                    $( $c: self.$c.saturating_sub(prev.$c), )*
                    ..self.clone()
                }
            }
        }
    };
}

pub(crate) use define_metrics;
