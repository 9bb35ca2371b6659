//! Every metric a round of `scx_arbor ab` can produce: its key, label, unit
//! and which way is better, in table order.

use super::stats::Better;
use serde::Serialize;

/// Definition of one per-round metric.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct MetricDef {
    pub key: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub better: Better,
}

const fn m(
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
) -> MetricDef {
    MetricDef {
        key,
        label,
        unit,
        better,
    }
}

/// Every metric a round can produce, in table order.
pub const METRICS: &[MetricDef] = &[
    m("lat_p50_us", "wakeup latency p50", "µs", Better::Lower),
    m("lat_p99_us", "wakeup latency p99", "µs", Better::Lower),
    m("lat_p999_us", "wakeup latency p99.9", "µs", Better::Lower),
    m("lat_max_us", "wakeup latency max", "µs", Better::Lower),
    m("lat_mean_us", "wakeup latency mean", "µs", Better::Lower),
    m(
        "hog_units_per_s",
        "hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "lat_waker_rundelay_us_per_run",
        "waker run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "lat_rundelay_us_per_run",
        "latency-mix run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "lat_rundelay_ms_per_task_s",
        "latency-mix run delay",
        "ms/task-s",
        Better::Lower,
    ),
    m(
        "msg_time_ms",
        "messaging completion time",
        "ms",
        Better::Lower,
    ),
    m("msg_per_s", "messaging throughput", "msg/s", Better::Higher),
    m(
        "msg_rundelay_us_per_run",
        "messaging run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "msg_rundelay_ms_per_task_s",
        "messaging run delay",
        "ms/task-s",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p50_us",
        "schbench wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p90_us",
        "schbench wakeup p90",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p99_us",
        "schbench wakeup p99",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_wakeup_p999_us",
        "schbench wakeup p99.9",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p50_us",
        "schbench request p50",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p90_us",
        "schbench request p90",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p99_us",
        "schbench request p99",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_request_p999_us",
        "schbench request p99.9",
        "µs",
        Better::Lower,
    ),
    m(
        "sch_requests_per_s",
        "schbench throughput",
        "req/s",
        Better::Higher,
    ),
    m(
        "sch_rundelay_us_per_run",
        "schbench run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p99_us",
        "requests: short request p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p50_us",
        "requests: short request p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p90_us",
        "requests: short request p90",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_p999_us",
        "requests: short request p99.9",
        "µs",
        Better::Lower,
    ),
    m(
        "req_short_max_us",
        "requests: short request max",
        "µs",
        Better::Lower,
    ),
    m(
        "req_long_p50_us",
        "requests: long request p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_long_p99_us",
        "requests: long request p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_long_max_us",
        "requests: long request max",
        "µs",
        Better::Lower,
    ),
    m(
        "req_all_p50_us",
        "requests: all requests p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_all_p99_us",
        "requests: all requests p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_queue_wait_p50_us",
        "requests: queue wait p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_queue_wait_p99_us",
        "requests: queue wait p99",
        "µs",
        Better::Lower,
    ),
    m(
        "req_wakeup_p50_us",
        "requests: worker wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "req_wakeup_p99_us",
        "requests: worker wakeup p99",
        "µs",
        Better::Lower,
    ),
    m("req_per_s", "requests: served", "req/s", Better::Higher),
    m(
        "req_hog_units_per_s",
        "requests: hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "req_rundelay_us_per_run",
        "requests: run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_p99_us",
        "fanout: worker wakeup p99",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_p50_us",
        "fanout: worker wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_p90_us",
        "fanout: worker wakeup p90",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_max_us",
        "fanout: worker wakeup max",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_small_p99_us",
        "fanout: wakeup p99, smallest batch",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_wakeup_large_p99_us",
        "fanout: wakeup p99, largest batch",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_round_p50_us",
        "fanout: round completion p50",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_round_p99_us",
        "fanout: round completion p99",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_burst_p50_us",
        "fanout: dispatcher burst p50",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_burst_p99_us",
        "fanout: dispatcher burst p99",
        "µs",
        Better::Lower,
    ),
    m(
        "fan_hog_units_per_s",
        "fanout: hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "fan_rundelay_us_per_run",
        "fanout: run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_wakeup_p99_us",
        "phases: interactive wakeup p99",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_wakeup_p50_us",
        "phases: interactive wakeup p50",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_wakeup_max_us",
        "phases: interactive wakeup max",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_switch_p50_us",
        "phases: wakeup p50 after a switch",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_switch_p99_us",
        "phases: wakeup p99 after a switch",
        "µs",
        Better::Lower,
    ),
    m(
        "ph_batch_units_per_s",
        "phases: batch throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "ph_hog_units_per_s",
        "phases: hog throughput",
        "units/s",
        Better::Higher,
    ),
    m(
        "ph_rundelay_us_per_run",
        "phases: run delay per run",
        "µs",
        Better::Lower,
    ),
    m("cmd_wall_s", "command wall time", "s", Better::Lower),
    m(
        "sched_cpu_pct",
        "scheduler process CPU",
        "% of a CPU",
        Better::Lower,
    ),
    m(
        "bpf_ns_per_decision",
        "BPF time per decision (all programs)",
        "ns",
        Better::Lower,
    ),
    m(
        "model_score",
        "model cost score on real bursts",
        "points",
        Better::Higher,
    ),
    m(
        "model_balanced_acc_pct",
        "model balanced accuracy",
        "%",
        Better::Higher,
    ),
    m(
        "cmd_rundelay_us_per_run",
        "command run delay per run",
        "µs",
        Better::Lower,
    ),
    m(
        "cmd_rundelay_ms_per_task_s",
        "command run delay",
        "ms/task-s",
        Better::Lower,
    ),
];

#[cfg(test)]
pub fn metric_def(key: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_keys_unique() {
        let mut k: Vec<&str> = METRICS.iter().map(|m| m.key).collect();
        k.sort();
        k.dedup();
        assert_eq!(k.len(), METRICS.len());
        assert_eq!(
            metric_def("hog_units_per_s").unwrap().better,
            Better::Higher
        );
    }

    #[test]
    fn every_family_metric_is_defined_with_the_right_direction() {
        let req = crate::requests::RequestsResult::default().metrics();
        let fan = crate::fanout::FanoutResult::default().metrics(&crate::fanout::FanoutConfig {
            period_us: 1,
            batch: vec![1],
            batch_p: vec![],
            post_us: 0,
            work_us: 1,
            hogs: 0,
            seed: 0,
        });
        let ph = crate::phases::PhasesResult::default().metrics();
        for (k, _) in req.iter().chain(&fan).chain(&ph) {
            let d = metric_def(k).unwrap_or_else(|| panic!("{k} is not in METRICS"));
            let higher = k.ends_with("_per_s");
            assert_eq!(d.better == Better::Higher, higher, "{k}");
        }
    }
}
