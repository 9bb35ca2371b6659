//! The action table: the slice and request of each class and of the
//! fallback, from the defaults, --slice-us and --action, and its BPF map.

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use zerocopy::IntoBytes;

use crate::sched::SchedOpts;
use arbor_intf::bpf_intf::arbor_action;
use arbor_intf::schema::{action_name, NR_ACTIONS};

/// EEVDF's default base slice: 0.75 ms × (1 + ilog2(min(CPUs, 8))), µs.
pub fn eevdf_base_slice_us(nr_cpus: usize) -> u64 {
    let n = nr_cpus.clamp(1, 8) as u64;
    750 * (1 + n.ilog2() as u64)
}

/// The action table: one (slice, request) per class and the fallback.
pub fn action_table(opts: &SchedOpts, nr_cpus: usize) -> Result<[arbor_action; NR_ACTIONS]> {
    let base_us = opts
        .slice_us
        .unwrap_or_else(|| eevdf_base_slice_us(nr_cpus));
    // Class defaults: the request follows the burst the class predicts, so
    // short bursts get early deadlines; the slice leaves room for a burst
    // that runs a little past its class, but never exceeds the base slice.
    // A slice longer than EEVDF's lets a task predicted long run on
    // unchecked while others with earlier deadlines wait: measured in the
    // VM (docs/heuristic.md, "What hurts: long slices"), 8 ms slices made
    // short-request p99 1.5x and fan-out wakeup p99 2x the --no-model arm's
    // for every class-based arm, the oracle's included; capped, the model
    // arm is level with --no-model. A class expresses urgency through its
    // request (its deadline), not through a longer uninterrupted run.
    let defaults_us: [(u64, u64); NR_ACTIONS] = [
        (1000, 250),
        (2000, 1000),
        (4000, 4000),
        (8000, 8000),
        (base_us, base_us),
    ];
    let mut table = defaults_us.map(|(slice, request)| arbor_action {
        slice_ns: slice.min(base_us) * 1000,
        request_ns: request * 1000,
    });
    for spec in &opts.action {
        let (row, slice_us, request_us) = parse_action(spec)?;
        table[row] = arbor_action {
            slice_ns: slice_us * 1000,
            request_ns: request_us * 1000,
        };
    }
    Ok(table)
}

/// Parse `CLASS=SLICE_US:REQUEST_US` (CLASS a name or a row number).
pub fn parse_action(spec: &str) -> Result<(usize, u64, u64)> {
    let err = || {
        format!(
            "bad --action {spec:?}: expected CLASS=SLICE_US:REQUEST_US with CLASS one of {}",
            (0..NR_ACTIONS)
                .map(action_name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let (class, times) = spec.split_once('=').with_context(err)?;
    let row = (0..NR_ACTIONS)
        .find(|&r| action_name(r) == class || r.to_string() == class)
        .with_context(err)?;
    let (slice, request) = times.split_once(':').with_context(err)?;
    let slice: u64 = slice.parse().with_context(err)?;
    let request: u64 = request.parse().with_context(err)?;
    if slice == 0 || request == 0 || slice > 1_000_000 || request > 1_000_000 {
        bail!("{}: times must be 1..=1000000 µs", err());
    }
    Ok((row, slice, request))
}

/// Write the table into the `actions` map.
pub fn fill_actions(actions: &MapHandle, table: &[arbor_action; NR_ACTIONS]) -> Result<()> {
    for (row, a) in table.iter().enumerate() {
        actions
            .update(&(row as u32).to_ne_bytes(), a.as_bytes(), MapFlags::ANY)
            .with_context(|| format!("writing action row {row}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_intf::schema::CLASS_FALLBACK;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        o: SchedOpts,
    }

    #[test]
    fn base_slice_follows_eevdf_scaling() {
        assert_eq!(eevdf_base_slice_us(1), 750);
        assert_eq!(eevdf_base_slice_us(2), 1500);
        assert_eq!(eevdf_base_slice_us(4), 2250);
        assert_eq!(eevdf_base_slice_us(64), 3000);
    }

    /// The class slices are capped at EEVDF's base slice (750 µs × (1 +
    /// log2(min(CPUs, 8))), kernel/sched/fair.c's sysctl_sched_base_slice
    /// scaling), the requests are not.
    #[test]
    fn class_slices_never_exceed_the_base_slice() {
        let t = T::parse_from(["x"]);
        for (cpus, base_us) in [(1, 750), (2, 1500), (4, 2250), (8, 3000), (64, 3000)] {
            let table = action_table(&t.o, cpus).unwrap();
            let slices: Vec<u64> = table.iter().map(|a| a.slice_ns / 1000).collect();
            let requests: Vec<u64> = table.iter().map(|a| a.request_ns / 1000).collect();
            let want: Vec<u64> = [1000, 2000, 4000, 8000, base_us]
                .iter()
                .map(|&s| s.min(base_us))
                .collect();
            assert_eq!(slices, want, "{cpus} CPUs");
            assert_eq!(requests, [250, 1000, 4000, 8000, base_us], "{cpus} CPUs");
        }
        // An explicit --action is taken as given, beyond the cap too.
        let t = T::parse_from(["x", "--action", "long=8000:8000"]);
        assert_eq!(action_table(&t.o, 2).unwrap()[3].slice_ns, 8_000_000);
    }

    #[test]
    fn action_overrides_by_name_and_row() {
        let t = T::parse_from(["x", "--action", "tiny=500:100", "--action", "4=900:800"]);
        let table = action_table(&t.o, 2).unwrap();
        assert_eq!(table[0].slice_ns, 500_000);
        assert_eq!(table[0].request_ns, 100_000);
        assert_eq!(table[CLASS_FALLBACK].slice_ns, 900_000);
        assert_eq!(
            table[1].request_ns, 1_000_000,
            "untouched rows keep defaults"
        );

        let t = T::parse_from(["x", "--slice-us", "2000"]);
        let table = action_table(&t.o, 2).unwrap();
        assert_eq!(table[CLASS_FALLBACK].slice_ns, 2_000_000);

        for bad in ["tiny", "huge=1:1", "tiny=0:5", "tiny=5", "tiny=a:b"] {
            assert!(parse_action(bad).is_err(), "{bad} must be refused");
        }
    }
}
