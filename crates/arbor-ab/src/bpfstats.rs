//! Decision overhead of the scheduler's BPF programs.
//!
//! With `kernel.bpf_stats_enabled=1` the kernel accumulates `run_time_ns` and
//! `run_cnt` for every BPF program. We read them for scx_arbor's struct_ops
//! programs (names start with `arbor_`, truncated by the kernel to 15
//! characters, e.g. `arbor_select_cp`) through the bpf syscall
//! (`libbpf_rs::query::ProgInfoIter`: BPF_PROG_GET_NEXT_ID,
//! BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD) at the start and the end of
//! the measured window and report the deltas: average ns per call per program.

use serde::Serialize;
use std::collections::BTreeMap;

pub const BPF_STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Counters of one BPF program.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProgStat {
    pub id: u32,
    pub name: String,
    pub run_cnt: u64,
    pub run_time_ns: u64,
}

impl ProgStat {
    pub fn avg_ns(&self) -> f64 {
        if self.run_cnt == 0 {
            f64::NAN
        } else {
            self.run_time_ns as f64 / self.run_cnt as f64
        }
    }
}

/// Current counters of the loaded struct_ops programs whose names start with `prefix`.
pub fn snapshot(prefix: &str) -> Vec<ProgStat> {
    let struct_ops = libbpf_rs::query::ProgInfoIter::default()
        .filter(|p| p.ty == libbpf_rs::ProgramType::StructOps)
        .map(|p| ProgStat {
            id: p.id,
            name: p.name.to_string_lossy().into_owned(),
            run_cnt: p.run_cnt,
            run_time_ns: p.run_time_ns,
        });
    select(struct_ops, prefix)
}

/// The programs whose names start with `prefix`, by name then id.
fn select(progs: impl Iterator<Item = ProgStat>, prefix: &str) -> Vec<ProgStat> {
    let mut v: Vec<ProgStat> = progs.filter(|p| p.name.starts_with(prefix)).collect();
    v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    v
}

/// Per-program increase from `before` to `after` (matched by program id; a
/// program absent from `before` counts from 0).
pub fn delta(before: &[ProgStat], after: &[ProgStat]) -> Vec<ProgStat> {
    let b: BTreeMap<u32, &ProgStat> = before.iter().map(|p| (p.id, p)).collect();
    after
        .iter()
        .map(|a| {
            let (c, t) = b
                .get(&a.id)
                .map(|p| (p.run_cnt, p.run_time_ns))
                .unwrap_or((0, 0));
            ProgStat {
                id: a.id,
                name: a.name.clone(),
                run_cnt: a.run_cnt.saturating_sub(c),
                run_time_ns: a.run_time_ns.saturating_sub(t),
            }
        })
        .collect()
}

/// Sum per program name (several rounds, or several instances).
pub fn totals<'a>(stats: impl IntoIterator<Item = &'a ProgStat>) -> BTreeMap<String, ProgStat> {
    let mut m: BTreeMap<String, ProgStat> = BTreeMap::new();
    for s in stats {
        let e = m.entry(s.name.clone()).or_insert_with(|| ProgStat {
            name: s.name.clone(),
            ..Default::default()
        });
        e.run_cnt += s.run_cnt;
        e.run_time_ns += s.run_time_ns;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: u32, name: &str, c: u64, t: u64) -> ProgStat {
        ProgStat {
            id,
            name: name.into(),
            run_cnt: c,
            run_time_ns: t,
        }
    }

    #[test]
    fn delta_and_totals() {
        let before = vec![p(1, "arbor_enqueue", 10, 1000)];
        let after = vec![
            p(1, "arbor_enqueue", 110, 11_000),
            p(2, "arbor_running", 50, 500),
        ];
        let d = delta(&before, &after);
        assert_eq!(d[0], p(1, "arbor_enqueue", 100, 10_000));
        assert_eq!(d[0].avg_ns(), 100.0);
        assert_eq!(d[1], p(2, "arbor_running", 50, 500));
        let t = totals(d.iter().chain([p(7, "arbor_enqueue", 100, 30_000)].iter()));
        assert_eq!(t["arbor_enqueue"].run_cnt, 200);
        assert_eq!(t["arbor_enqueue"].avg_ns(), 200.0);
        assert!(ProgStat::default().avg_ns().is_nan());
    }

    #[test]
    fn select_keeps_the_prefix_by_name_then_id() {
        let progs = vec![
            p(9, "arbor_tick", 1, 1),
            p(3, "bpfland_enqueu", 1, 1),
            p(8, "arbor_enqueue", 1, 1),
            p(2, "arbor_enqueue", 1, 1),
            p(4, "arbor", 1, 1),
        ];
        let ids: Vec<u32> = select(progs.into_iter(), "arbor_")
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, [2, 8, 9]);
    }
}
