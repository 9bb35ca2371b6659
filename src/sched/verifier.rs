//! How much work the kernel's verifier did for each loaded program: its
//! `verified_insns` (instructions processed, BPF_OBJ_GET_INFO_BY_FD), the
//! figure scx's veristat tracks. Logged once at attach; the VM tests compare
//! it with the per-kernel record in bpf/verifier-insns.txt.

use libbpf_rs::query::{ProgInfoIter, ProgramInfo};
use libbpf_rs::ProgramType;

/// Every loaded struct_ops program whose name (as the kernel keeps it, at
/// most 15 bytes) starts with `prefix`, with that name.
pub fn struct_ops_programs(prefix: &str) -> impl Iterator<Item = (String, ProgramInfo)> + '_ {
    ProgInfoIter::default()
        .filter(|p| p.ty == ProgramType::StructOps)
        .filter_map(move |p| {
            let name = p.name.to_string_lossy().into_owned();
            name.starts_with(prefix).then_some((name, p))
        })
}

/// (name, instructions the verifier processed) of every program
/// [`struct_ops_programs`] finds, sorted by name.
pub fn verified_insns(prefix: &str) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = struct_ops_programs(prefix)
        .map(|(name, p)| (name, p.verified_insns))
        .collect();
    v.sort();
    v
}

/// One log line: `name=insns` pairs and their total.
pub fn describe(progs: &[(String, u32)]) -> String {
    let total: u64 = progs.iter().map(|(_, n)| u64::from(*n)).sum();
    let list: Vec<String> = progs.iter().map(|(n, i)| format!("{n}={i}")).collect();
    format!("{} total={total}", list.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_lists_pairs_and_the_total() {
        let progs = vec![
            ("arbor_enqueue".to_string(), 120),
            ("arbor_tick".to_string(), 30),
        ];
        assert_eq!(
            describe(&progs),
            "arbor_enqueue=120 arbor_tick=30 total=150"
        );
    }
}
