//! The machine's last-level caches and SMT cores, as the BPF policy sees
//! them: each CPU's LLC index, each LLC's CPUs, each LLC's others nearest
//! first and each CPU's core sibling (bpf/topology.bpf.h).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

use arbor_intf::bpf_intf::arbor_policy_ARBOR_MAX_CPUS as MAX_CPUS;
use arbor_intf::bpf_intf::arbor_policy_ARBOR_MAX_LLCS as MAX_LLCS;

/// CPUs grouped by LLC, indexed the way the BPF side indexes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlcMap {
    /// LLC index (0..nr_llcs) of each CPU id below nr_cpu_ids.
    pub cpu_llc: Vec<u32>,
    /// All CPUs, LLC by LLC, ascending within an LLC.
    pub llc_cpus: Vec<u32>,
    /// Where each LLC's CPUs start in `llc_cpus`.
    pub llc_first: Vec<u32>,
    /// How many CPUs each LLC has.
    pub llc_nr_cpus: Vec<u32>,
    /// Another CPU of each CPU's core, -1 for none (no SMT, or a core
    /// whose other CPUs are not present).
    pub cpu_sibling: Vec<i32>,
    /// For each LLC, the other LLCs nearest first: by the NUMA distance
    /// of their nodes, then by index after this one (l+1, l+2, ... modulo
    /// the count). An idle CPU whose LLC has nothing to run looks into
    /// the other LLCs' queues in this order.
    pub llc_order: Vec<Vec<u32>>,
}

impl LlcMap {
    /// Build the map from (cpu, llc id) pairs; llc ids may be any numbers and
    /// are renumbered 0.. in ascending order. CPU ids below `nr_cpu_ids`
    /// that no pair names (possible but not present) belong to LLC 0.
    pub fn new(nr_cpu_ids: usize, cpus: &[(usize, usize)]) -> Result<Self> {
        if nr_cpu_ids == 0 || nr_cpu_ids > MAX_CPUS as usize {
            bail!(
                "this machine has {nr_cpu_ids} possible CPU ids; scx_arbor supports 1 to {MAX_CPUS}"
            );
        }
        let mut by_llc: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for &(cpu, llc) in cpus {
            if cpu >= nr_cpu_ids {
                bail!("CPU {cpu} is beyond the {nr_cpu_ids} possible CPU ids");
            }
            by_llc.entry(llc).or_default().push(cpu as u32);
        }
        if by_llc.is_empty() {
            bail!("the topology lists no CPUs");
        }
        if by_llc.len() > MAX_LLCS as usize {
            bail!(
                "this machine has {} last-level caches; scx_arbor supports at most {MAX_LLCS}",
                by_llc.len()
            );
        }
        let mut map = LlcMap {
            cpu_llc: vec![0; nr_cpu_ids],
            llc_cpus: Vec::with_capacity(cpus.len()),
            llc_first: Vec::with_capacity(by_llc.len()),
            llc_nr_cpus: Vec::with_capacity(by_llc.len()),
            cpu_sibling: vec![-1; nr_cpu_ids],
            llc_order: Vec::new(),
        };
        for (index, mut members) in by_llc.into_values().enumerate() {
            members.sort_unstable();
            members.dedup();
            map.llc_first.push(map.llc_cpus.len() as u32);
            map.llc_nr_cpus.push(members.len() as u32);
            for &cpu in &members {
                map.cpu_llc[cpu as usize] = index as u32;
            }
            map.llc_cpus.extend(members);
        }
        map.set_distances(&vec![0; map.nr_llcs()], |_, _| 0);
        Ok(map)
    }

    /// Order each LLC's others by distance: `llc_node[l]` is LLC l's NUMA
    /// node, `distance(a, b)` the distance from node a to node b (the
    /// kernel's node distance table). Ties, and a machine of one node,
    /// keep index order after the LLC itself.
    pub fn set_distances(&mut self, llc_node: &[usize], distance: impl Fn(usize, usize) -> usize) {
        let n = self.nr_llcs();
        self.llc_order = (0..n)
            .map(|l| {
                let mut others: Vec<u32> = (1..n).map(|i| ((l + i) % n) as u32).collect();
                // A stable sort: equal distances stay in index order.
                others.sort_by_key(|&o| distance(llc_node[l], llc_node[o as usize]));
                others
            })
            .collect();
    }

    /// Whether some LLC's nearest others are not simply the next indices
    /// (more than one NUMA node with LLCs at different distances).
    pub fn by_distance(&self) -> bool {
        let n = self.nr_llcs();
        self.llc_order.iter().enumerate().any(|(l, o)| {
            o.iter()
                .enumerate()
                .any(|(i, &x)| x as usize != (l + i + 1) % n)
        })
    }

    /// The order as one line for the log: `0: 1 2 3 | 1: 0 3 2 | ...`.
    pub fn describe_order(&self) -> String {
        self.llc_order
            .iter()
            .enumerate()
            .map(|(l, o)| {
                let o: Vec<String> = o.iter().map(u32::to_string).collect();
                format!("{l}: {}", o.join(" "))
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Record the SMT cores: each a list of its CPUs. Each CPU's sibling is
    /// the next CPU of its core (the first after the last), so on a core
    /// of more than two CPUs every CPU still names a busy neighbour's
    /// candidate.
    pub fn set_cores(&mut self, cores: &[Vec<usize>]) -> Result<()> {
        for core in cores {
            for (i, &cpu) in core.iter().enumerate() {
                if cpu >= self.cpu_sibling.len() {
                    bail!(
                        "CPU {cpu} is beyond the {} possible CPU ids",
                        self.cpu_sibling.len()
                    );
                }
                if core.len() > 1 {
                    self.cpu_sibling[cpu] = core[(i + 1) % core.len()] as i32;
                }
            }
        }
        Ok(())
    }

    /// Whether any CPU has a core sibling.
    pub fn smt(&self) -> bool {
        self.cpu_sibling.iter().any(|&s| s >= 0)
    }

    /// The running machine's LLCs, from scx_utils' topology (sysfs).
    ///
    /// A CPU that goes offline while sysfs is being read makes its
    /// topology files vanish under the reader; the read is tried again
    /// (a few times, 50 ms apart) before it counts as an error.
    pub fn of_system(nr_cpu_ids: usize) -> Result<Self> {
        const ATTEMPTS: u32 = 20;
        let mut attempt = 1;
        let topo = loop {
            match scx_utils::Topology::new() {
                Ok(topo) => break topo,
                Err(e) if attempt < ATTEMPTS => {
                    log::debug!("reading the CPU topology (attempt {attempt}): {e:#}");
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(e)
                        .context(format!("reading the CPU topology ({ATTEMPTS} attempts)"))
                }
            }
        };
        let pairs: Vec<(usize, usize)> = topo
            .all_llcs
            .values()
            .flat_map(|llc| llc.all_cpus.keys().map(move |&cpu| (cpu, llc.id)))
            .collect();
        let mut map = Self::new(nr_cpu_ids, &pairs)?;
        // Each LLC index's node, through the index new() gave its CPUs.
        let mut llc_node = vec![0; map.nr_llcs()];
        for llc in topo.all_llcs.values() {
            for &cpu in llc.all_cpus.keys() {
                llc_node[map.cpu_llc[cpu] as usize] = llc.node_id;
            }
        }
        map.set_distances(&llc_node, |a, b| {
            topo.nodes
                .get(&a)
                .and_then(|n| n.distance.get(b).copied())
                .unwrap_or(if a == b { 10 } else { 20 })
        });
        let cores: Vec<Vec<usize>> = topo
            .all_cores
            .values()
            .map(|core| core.cpus.keys().copied().collect())
            .collect();
        map.set_cores(&cores)?;
        Ok(map)
    }

    pub fn nr_llcs(&self) -> usize {
        self.llc_first.len()
    }

    /// One line for the log: `2 LLCs: [0-3] [4-7]`.
    pub fn describe(&self) -> String {
        let groups: Vec<String> = (0..self.nr_llcs())
            .map(|l| {
                let first = self.llc_first[l] as usize;
                let cpus = &self.llc_cpus[first..first + self.llc_nr_cpus[l] as usize];
                format!("[{}]", ranges(cpus))
            })
            .collect();
        let smt = if self.smt() { ", SMT" } else { "" };
        format!("{} LLCs: {}{smt}", self.nr_llcs(), groups.join(" "))
    }
}

/// `0-3,6` for [0, 1, 2, 3, 6] (sorted input).
fn ranges(cpus: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sockets_renumber_llcs_and_group_cpus() {
        // Kernel LLC ids need not start at 0 or be dense.
        let pairs = [
            (4, 7),
            (0, 3),
            (5, 7),
            (1, 3),
            (2, 3),
            (3, 3),
            (6, 7),
            (7, 7),
        ];
        let m = LlcMap::new(8, &pairs).unwrap();
        assert_eq!(m.cpu_llc, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(m.llc_cpus, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(m.llc_first, vec![0, 4]);
        assert_eq!(m.llc_nr_cpus, vec![4, 4]);
        assert_eq!(m.describe(), "2 LLCs: [0-3] [4-7]");
    }

    #[test]
    fn interleaved_llcs_and_absent_cpus() {
        // SMT siblings numbered apart; CPU 5 possible but not present.
        let pairs = [(0, 0), (2, 0), (1, 1), (3, 1), (4, 0)];
        let m = LlcMap::new(6, &pairs).unwrap();
        assert_eq!(m.cpu_llc, vec![0, 1, 0, 1, 0, 0]);
        assert_eq!(m.llc_cpus, vec![0, 2, 4, 1, 3]);
        assert_eq!(m.llc_first, vec![0, 3]);
        assert_eq!(m.llc_nr_cpus, vec![3, 2]);
        assert_eq!(m.describe(), "2 LLCs: [0,2,4] [1,3]");
    }

    #[test]
    fn smt_siblings_name_another_cpu_of_the_core() {
        // Linux numbers SMT siblings apart on x86: core k is {k, k + 4}.
        let pairs: Vec<(usize, usize)> = (0..8).map(|c| (c, 0)).collect();
        let mut m = LlcMap::new(8, &pairs).unwrap();
        assert!(!m.smt());
        m.set_cores(&[vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]])
            .unwrap();
        assert_eq!(m.cpu_sibling, vec![4, 5, 6, 7, 0, 1, 2, 3]);
        assert!(m.smt());
        assert_eq!(m.describe(), "1 LLCs: [0-7], SMT");
        // Cores of one CPU: no sibling; a core of four: a ring.
        let mut m = LlcMap::new(6, &pairs[..6]).unwrap();
        m.set_cores(&[vec![0], vec![1], vec![2, 3, 4, 5]]).unwrap();
        assert_eq!(m.cpu_sibling, vec![-1, -1, 3, 4, 5, 2]);
        assert!(m.set_cores(&[vec![0, 9]]).is_err());
    }

    #[test]
    fn refuses_what_the_bpf_side_cannot_index() {
        assert!(LlcMap::new(0, &[]).is_err());
        assert!(LlcMap::new(2, &[(2, 0)]).is_err());
        assert!(LlcMap::new(MAX_CPUS as usize + 1, &[(0, 0)]).is_err());
        let many: Vec<(usize, usize)> = (0..=MAX_LLCS as usize).map(|c| (c, c)).collect();
        let e = LlcMap::new(many.len(), &many).unwrap_err();
        assert!(format!("{e}").contains("last-level caches"), "{e}");
    }

    #[test]
    fn remote_llcs_nearest_node_first() {
        // Two LLCs per node on two nodes, numbered across the nodes (LLCs 0
        // and 2 on node 0, 1 and 3 on node 1), as a two-socket machine
        // with interleaved cache ids would be; the kernel's SLIT: 10 within
        // a node, 21 across.
        let pairs: Vec<(usize, usize)> = (0..8).map(|c| (c, c / 2)).collect();
        let mut m = LlcMap::new(8, &pairs).unwrap();
        // Without distances: index order after each LLC.
        assert_eq!(
            m.describe_order(),
            "0: 1 2 3 | 1: 2 3 0 | 2: 3 0 1 | 3: 0 1 2"
        );
        assert!(!m.by_distance());
        let slit = [[10, 21], [21, 10]];
        m.set_distances(&[0, 1, 0, 1], |a, b| slit[a][b]);
        assert_eq!(
            m.llc_order,
            vec![vec![2, 1, 3], vec![3, 2, 0], vec![0, 3, 1], vec![1, 0, 2]]
        );
        assert!(m.by_distance());
        // Four nodes, node 0 nearer node 2 than node 1 (a ring): LLC 0 looks
        // at 2, then 1 and 3 (equal, index order after 0).
        let ring = [
            [10, 30, 20, 30],
            [30, 10, 30, 20],
            [20, 30, 10, 30],
            [30, 20, 30, 10],
        ];
        m.set_distances(&[0, 1, 2, 3], |a, b| ring[a][b]);
        assert_eq!(m.llc_order[0], vec![2, 1, 3]);
        assert_eq!(m.llc_order[1], vec![3, 2, 0]);
        // One LLC: nothing to look into.
        let one = LlcMap::new(2, &[(0, 0), (1, 0)]).unwrap();
        assert_eq!(one.llc_order, vec![Vec::<u32>::new()]);
    }
}
