//! Reading the files in dist/ the way their consumers do: systemd's unit
//! and EnvironmentFile, scx_loader's TOML mode arrays. Shared by
//! tests/host_dist.rs and tests/vm_service.rs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

pub const MODES: [&str; 5] = ["auto", "gaming", "lowlatency", "powersave", "server"];

pub fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("dist")
        .join(name)
}

pub fn read(name: &str) -> String {
    std::fs::read_to_string(path(name)).unwrap_or_else(|e| panic!("reading dist/{name}: {e}"))
}

/// `Key=value` lines of a unit file (comments and sections skipped; the
/// last one wins, as for systemd's single-valued keys).
pub fn unit_keys(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Each `X_mode = [...]` of scx_loader.toml (a TOML array of strings, which
/// is also a JSON array), by mode name.
pub fn loader_modes(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            let mode = k.trim().strip_suffix("_mode")?;
            let flags: Vec<String> = serde_json::from_str(v.trim())
                .unwrap_or_else(|e| panic!("{mode}_mode is not an array of strings: {e}"));
            Some((mode.to_string(), flags))
        })
        .collect()
}

/// Action table rows (slice µs, request µs) as docs/design.md documents them:
/// tiny, short, medium, long, fallback (EEVDF's base slice on `nr_cpus`);
/// no class slice above the base slice.
pub fn default_table(nr_cpus: u64) -> [(u64, u64); 5] {
    table_with_base(750 * (1 + nr_cpus.clamp(1, 8).ilog2() as u64))
}

/// The default rows with the fallback (and the cap of the class slices) at
/// `base` µs.
fn table_with_base(base: u64) -> [(u64, u64); 5] {
    [
        (1000.min(base), 250),
        (2000.min(base), 1000),
        (4000.min(base), 4000),
        (8000.min(base), 8000),
        (base, base),
    ]
}

pub const ROWS: [&str; 5] = ["tiny", "short", "medium", "long", "fallback"];

/// The table `flags` ask for: defaults, `--action CLASS=SLICE:REQUEST`
/// overrides, `--slice-us` for the fallback row. Also whether wakeup
/// preemption is off.
pub fn expected(flags: &[String], nr_cpus: u64) -> ([(u64, u64); 5], bool) {
    // --slice-us sets the base slice, which caps the default class slices;
    // --action rows are taken as given.
    let mut t = match flags.iter().position(|f| f == "--slice-us") {
        Some(i) => table_with_base(flags.get(i + 1).expect("--slice-us value").parse().unwrap()),
        None => default_table(nr_cpus),
    };
    let mut no_preempt = false;
    let mut it = flags.iter();
    while let Some(f) = it.next() {
        match f.as_str() {
            "--action" => {
                let spec = it.next().expect("--action without a value");
                let (class, times) = spec.split_once('=').expect("CLASS=SLICE:REQUEST");
                let (s, r) = times.split_once(':').expect("SLICE:REQUEST");
                let row = ROWS
                    .iter()
                    .position(|n| *n == class)
                    .unwrap_or_else(|| panic!("unknown class {class}"));
                t[row] = (s.parse().unwrap(), r.parse().unwrap());
            }
            "--slice-us" => {
                it.next();
            }
            "--no-wakeup-preempt" => no_preempt = true,
            other => panic!("flag {other} is not modelled by this test"),
        }
    }
    (t, no_preempt)
}
