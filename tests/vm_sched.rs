//! The scheduler core, tested for real: each test boots the pinned sched_ext
//! kernel in QEMU and runs one guest scenario from tests/vm/scenarios/.
//! Model fixtures: tests/fixtures/models/const_class_K.onnx (always class K).

#[path = "common/vm.rs"]
mod vm;

use std::time::Duration;
use vm::Console;

/// Rows of the action table: tiny, short, medium, long, fallback.
const NR_ACTIONS: usize = 5;
const FALLBACK: usize = 4;
/// Upper bounds (µs, inclusive) of classes 0..2; class 3 is open-ended.
const CLASS_BOUNDS_US: [u64; 3] = [250, 1000, 4000];
const BURST_TRUNC_US: u64 = 16000;
const FEATURE_MAX: u64 = (1 << 24) - 1;
const CSV_HEADER: &str = "ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,wake_rate_hz,voluntary_permille,weight,nr_cpus_allowed,runnable_load,elapsed_us,wakes_in_burst,burst_absdev_us,predicted,actual,burst_us,truncated,point,oracle";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `scx_arbor status --json`, as printed in a block.
struct Status(serde_json::Value);

impl Status {
    fn of(c: &Console, block: &str) -> Status {
        assert_eq!(
            c.block_rc(block),
            Some(0),
            "`scx_arbor status --json` failed in block {block}:\n{}",
            c.block(block)
        );
        Status(c.json(block))
    }

    fn u64(&self, key: &str) -> u64 {
        self.0[key]
            .as_u64()
            .unwrap_or_else(|| panic!("status has no unsigned `{key}`: {}", self.0))
    }

    fn row(v: &serde_json::Value, what: &str) -> [u64; NR_ACTIONS] {
        let a = v
            .as_array()
            .unwrap_or_else(|| panic!("status `{what}` is not an array: {v}"));
        assert_eq!(
            a.len(),
            NR_ACTIONS,
            "status `{what}` must have {NR_ACTIONS} rows: {v}"
        );
        let mut r = [0; NR_ACTIONS];
        for (i, x) in a.iter().enumerate() {
            r[i] = x
                .as_u64()
                .unwrap_or_else(|| panic!("status `{what}`[{i}] is not a u64: {v}"));
        }
        r
    }

    /// Decisions per action row, from the per-class fields (scx_stats'
    /// fields: `status --json` prints them flat).
    fn decisions(&self) -> [u64; NR_ACTIONS] {
        let mut r = [0; NR_ACTIONS];
        for (i, class) in ["tiny", "short", "medium", "long", "fallback"]
            .iter()
            .enumerate()
        {
            r[i] = self.u64(&format!("decisions_{class}"));
        }
        assert_eq!(
            self.u64("decisions"),
            r.iter().sum::<u64>(),
            "decisions must be the sum of the per-class fields: {}",
            self.0
        );
        r
    }

    fn decisions_per_cpu(&self) -> Vec<[u64; NR_ACTIONS]> {
        let a = self.0["decisions_per_cpu"]
            .as_array()
            .unwrap_or_else(|| panic!("status has no `decisions_per_cpu` array: {}", self.0));
        a.iter()
            .enumerate()
            .map(|(cpu, r)| Self::row(r, &format!("decisions_per_cpu[{cpu}]")))
            .collect()
    }
}

fn delta(a: [u64; NR_ACTIONS], b: [u64; NR_ACTIONS]) -> [u64; NR_ACTIONS] {
    let mut d = [0; NR_ACTIONS];
    for i in 0..NR_ACTIONS {
        assert!(
            b[i] >= a[i],
            "decision counter {i} went backwards: {a:?} -> {b:?}"
        );
        d[i] = b[i] - a[i];
    }
    d
}

/// The scheduler attached, and when stopped exited 0 with exit info.
fn assert_clean_exit(c: &Console, signal: &str) {
    let exit = c.mark("sched_exit");
    assert_eq!(exit.str("signal"), signal);
    assert_eq!(
        exit.str("sigkilled"),
        "0",
        "scx_arbor ignored SIG{signal} for 15 s"
    );
    assert_eq!(exit.i64("rc"), 0, "scx_arbor must exit 0 after SIG{signal}");
    assert_eq!(
        exit.str("state"),
        "disabled",
        "sched_ext still enabled after scx_arbor exited"
    );
    let log = c.block("log:sched.log");
    assert!(
        log.contains("EXIT:"),
        "scx_arbor printed no exit info (`EXIT: ...` from uei_report) after SIG{signal}:\n{log}"
    );
}

fn assert_attached(c: &Console) {
    let a = c.mark("attach");
    assert_eq!(a.str("state"), "enabled", "sched_ext never became enabled");
    assert!(
        a.str("ops").starts_with("arbor"),
        "root/ops is {:?}, want arbor*",
        a.str("ops")
    );
}

#[test]
fn attach_enables_arbor() {
    let c = vm::run_scenario("attach", &[], secs(120));
    c.assert_exit_ok();
    assert_eq!(c.mark("before").str("state"), "disabled");
    assert_attached(&c);
    let ms = c.mark("attach").u64("ms");
    // Typically 1.5-4.5 s for a debug build under TCG; 10 s on a loaded host.
    assert!(
        ms <= 10_000,
        "attaching took {ms} ms (want a few seconds at most)"
    );
    let held = c.mark("held");
    assert_eq!(
        held.str("state"),
        "enabled",
        "scheduler was ejected while idle"
    );
    assert_eq!(held.str("alive"), "1");
    let st = Status::of(&c, "status");
    assert_eq!(
        st.u64("generation"),
        0,
        "--no-model must report generation 0"
    );
    assert_clean_exit(&c, "INT");
}

#[test]
fn load_with_constant_model_counts_its_class_on_every_cpu() {
    let c = vm::run_scenario(
        "load",
        &[("model", "const_class_2"), ("load_secs", "12")],
        secs(240),
    );
    c.assert_exit_ok();
    assert_attached(&c);
    let nr_cpus = c.mark("init").u64("nr_cpus") as usize;

    assert_eq!(c.mark("during").str("state"), "enabled");
    let after = c.mark("after_load");
    assert_eq!(
        after.str("state"),
        "enabled",
        "sched_ext was disabled during the load"
    );
    assert_eq!(after.str("alive"), "1", "scx_arbor died during the load");
    for rc in c.mark("load").str("rcs").split(',') {
        assert_eq!(rc, "0", "a workload failed under scx_arbor");
    }

    let start = Status::of(&c, "status_start");
    let end = Status::of(&c, "status_end");
    assert!(
        start.u64("generation") >= 1,
        "the --model given at start is not installed once enabled"
    );
    assert_eq!(end.u64("generation"), start.u64("generation"));

    let per_cpu = end.decisions_per_cpu();
    assert_eq!(
        per_cpu.len(),
        nr_cpus,
        "decisions_per_cpu must have one row per CPU"
    );
    for (cpu, row) in per_cpu.iter().enumerate() {
        assert!(
            row.iter().sum::<u64>() > 0,
            "CPU {cpu} made no decisions: {row:?}"
        );
    }
    let total = end.decisions();
    let mut summed = [0u64; NR_ACTIONS];
    for row in &per_cpu {
        for i in 0..NR_ACTIONS {
            summed[i] += row[i];
        }
    }
    assert_eq!(
        summed, total,
        "decisions must be the sum of decisions_per_cpu"
    );

    let d = delta(start.decisions(), total);
    assert!(
        d[2] > 1000,
        "too few decisions counted in class 2 under load: {d:?}"
    );
    for (i, n) in d.iter().enumerate() {
        if i != 2 {
            assert_eq!(
                *n, 0,
                "a const_class_2 model produced decisions in row {i}: {d:?}"
            );
        }
    }
    assert_eq!(end.u64("walk_errors"), 0);
    assert_eq!(end.u64("torn_reads"), 0);
    assert!(c.errors().is_empty(), "{:?}", c.errors());
    assert_clean_exit(&c, "INT");
}

#[test]
fn sigint_detaches_cleanly() {
    let c = vm::run_scenario("sigint", &[("signal", "INT")], secs(120));
    c.assert_exit_ok();
    assert_attached(&c);
    assert_clean_exit(&c, "INT");
    assert!(
        c.mark("sched_exit").u64("ms") < 5000,
        "detaching took too long"
    );
    assert_eq!(c.mark("after").str("ops"), "none");
}

#[test]
fn sigterm_detaches_cleanly() {
    let c = vm::run_scenario("sigint", &[("signal", "TERM")], secs(120));
    c.assert_exit_ok();
    assert_attached(&c);
    assert_clean_exit(&c, "TERM");
    assert!(
        c.mark("sched_exit").u64("ms") < 5000,
        "detaching took too long"
    );
}

fn class_of_burst(us: u64) -> u64 {
    CLASS_BOUNDS_US
        .iter()
        .position(|&b| us <= b)
        .unwrap_or(CLASS_BOUNDS_US.len()) as u64
}

/// Every row's values within their documented ranges; returns the rows.
fn check_csv(csv: &str, nr_cpus: u64, no_model: bool) -> Vec<Vec<u64>> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(CSV_HEADER), "CSV header");
    let cols: Vec<&str> = CSV_HEADER.split(',').collect();
    let col = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (n, line) in lines.enumerate() {
        let v: Vec<u64> = match line
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<u64>, _>>()
        {
            Ok(v) if v.len() == cols.len() => v,
            _ => {
                bad.push(format!(
                    "row {n}: not {} unsigned integers: {line}",
                    cols.len()
                ));
                continue;
            }
        };
        let mut check = |ok: bool, what: &str| {
            if !ok {
                bad.push(format!("row {n}: {what}: {line}"));
            }
        };
        for f in &cols[3..11] {
            check(v[col(f)] <= FEATURE_MAX, &format!("{f} > 2^24-1"));
        }
        let (pred, actual, burst, trunc) = (
            v[col("predicted")],
            v[col("actual")],
            v[col("burst_us")],
            v[col("truncated")],
        );
        check(v[col("pid")] > 0, "pid 0");
        check(pred <= FALLBACK as u64, "predicted not in 0..=4");
        check(actual <= 3, "actual not in 0..=3");
        check(trunc <= 1, "truncated not 0/1");
        check(burst <= FEATURE_MAX, "burst_us > 2^24-1");
        check(
            actual == class_of_burst(burst),
            "actual is not the class of burst_us (bounds 250/1000/4000 µs)",
        );
        if trunc == 1 {
            check(
                burst >= BURST_TRUNC_US,
                "truncated burst shorter than 16000 µs",
            );
        } else {
            check(
                burst <= BURST_TRUNC_US,
                "untruncated burst longer than 16000 µs",
            );
        }
        check(
            v[col("voluntary_permille")] <= 1000,
            "voluntary_permille > 1000",
        );
        check(
            (1..=10000).contains(&v[col("weight")]),
            "weight not in 1..=10000",
        );
        check(
            (1..=nr_cpus).contains(&v[col("nr_cpus_allowed")]),
            "nr_cpus_allowed not in 1..=nr_cpus",
        );
        check(v[col("ts_ns")] > 0, "ts_ns 0");
        if no_model {
            check(v[col("generation")] == 0, "generation != 0 without a model");
            check(
                pred == FALLBACK as u64,
                "predicted != fallback without a model",
            );
        }
        rows.push(v);
    }
    assert!(
        bad.is_empty(),
        "{} CSV rows out of range; first ones:\n{}",
        bad.len(),
        bad[..bad.len().min(20)].join("\n")
    );
    rows
}

#[test]
fn record_writes_samples_in_range() {
    let c = vm::run_scenario("record", &[("rows", "3000")], secs(180));
    c.assert_exit_ok();
    assert_attached(&c);
    assert_clean_exit(&c, "INT");
    let nr_cpus = c.mark("init").u64("nr_cpus");
    let total = c.mark("csv").u64("rows");
    assert!(
        total >= 1000,
        "only {total} samples recorded in 6 s of load"
    );
    let rows = check_csv(&c.block("csv"), nr_cpus, true);
    assert!(
        rows.len() >= 1000.min(total as usize),
        "sample block has {} rows",
        rows.len()
    );
    let end = Status::of(&c, "status_end");
    assert!(end.u64("samples_sent") > 0, "status counts no samples sent");
    // The workload has both short (hackbench) and long (CPU hog) bursts.
    let actual = CSV_HEADER.split(',').position(|c| c == "actual").unwrap();
    let classes: std::collections::BTreeSet<u64> = rows.iter().map(|r| r[actual]).collect();
    assert!(
        classes.len() >= 2,
        "all recorded bursts fall in one class: {classes:?}"
    );
}

/// `--record-dir` under load: files rotated in real time (every 2 s),
/// each a whole gzip stream that busybox's gunzip reads, with its own
/// header and the host, kernel, schema and workload columns as the guest's
/// `uname` gives them; no `.part` left after SIGINT; and every sample is in
/// exactly one file: the rows are at least the samples the BPF side had
/// sent at the last status before the exit, and at most what it had sent
/// when the scheduler stopped (its exit totals).
#[test]
fn record_dir_rotates_whole_gzip_files_and_loses_no_sample() {
    let c = vm::run_scenario(
        "record-dir",
        &[("rotate_secs", "2"), ("load_secs", "7")],
        secs(180),
    );
    c.assert_exit_ok();
    assert_attached(&c);
    assert_clean_exit(&c, "INT");
    let uname = c.mark("uname");
    let (host, kernel) = (
        uname.str("host").to_string(),
        uname.str("kernel").to_string(),
    );
    let dir = c.mark("dir");
    assert_eq!(dir.u64("parts"), 0, "a .part file was left after the exit");
    let files = c.marks_tagged("file");
    assert!(
        files.len() >= 3 && files.len() as u64 == dir.u64("files"),
        "{} files in 9 s with a new one every 2 s",
        files.len()
    );
    let header = format!("{CSV_HEADER},host,kernel,schema_version,workload");
    let schema = arbor_intf::schema::SCHEMA_VERSION;
    let mut rows = 0;
    for (k, f) in files.iter().enumerate() {
        let name = f.str("name");
        let prefix = format!("arbor-{host}-");
        let suffix = format!("-{:06}.csv.gz", k + 1);
        assert!(
            name.starts_with(&prefix) && name.ends_with(&suffix),
            "{name}"
        );
        let stamp = &name[prefix.len()..name.len() - suffix.len()];
        assert!(
            stamp.len() == 16 && stamp.as_bytes()[8] == b'T' && stamp.ends_with('Z'),
            "{name}: the start time is not YYYYMMDDTHHMMSSZ"
        );
        let head = c.block(&format!("head:{name}"));
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some(header.as_str()), "{name}: header");
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("{name}: no data row"));
        assert!(
            first.ends_with(&format!(",{host},{kernel},{schema},vm test")),
            "{name}: {first}"
        );
        rows += f.u64("rows");
    }
    let end = Status::of(&c, "status_end");
    let sent_before = end.u64("samples_sent");
    assert!(
        end.u64("record_files_written") >= 2,
        "status: {}",
        end.u64("record_files_written")
    );
    let log = c.block("log:sched.log");
    let totals = log
        .lines()
        .find_map(|l| l.split_once("totals: "))
        .unwrap_or_else(|| panic!("no exit totals in the scheduler's log:\n{log}"))
        .1;
    let sent_at_exit: u64 = totals
        .split_once("| samples ")
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no sample count in the totals: {totals}"));
    eprintln!(
        "{} files, {rows} rows; samples sent {sent_before} at the last status, {sent_at_exit} at the exit",
        files.len()
    );
    assert!(
        sent_before > 1000,
        "only {sent_before} samples sent in 7 s of load"
    );
    assert!(
        (sent_before..=sent_at_exit).contains(&rows),
        "{rows} rows in the files; the BPF side sent {sent_before} by the last status and {sent_at_exit} by the exit"
    );
}

/// Generations answered by `swap`, checked strictly increasing and all rc 0.
fn swap_generations(c: &Console, n: usize) -> Vec<(u64, u64)> {
    let swaps = c.marks_tagged("swap");
    assert_eq!(swaps.len(), n, "expected {n} swap attempts");
    let mut out = Vec::new();
    for s in &swaps {
        assert_eq!(s.i64("rc"), 0, "swap refused: {}", s.line);
        out.push((s.u64("class"), s.u64("gen")));
    }
    for w in out.windows(2) {
        assert!(
            w[1].1 > w[0].1,
            "generation did not increase: {} then {}",
            w[0].1,
            w[1].1
        );
    }
    out
}

#[test]
fn swap_many_times_under_load_without_torn_reads() {
    let n = 200;
    let c = vm::run_scenario("swap", &[("swaps", &n.to_string())], secs(420));
    c.assert_exit_ok();
    assert_attached(&c);
    let start = Status::of(&c, "status_start");
    let gens = swap_generations(&c, n);
    assert!(gens[0].1 > start.u64("generation"));
    let (last_class, last_gen) = *gens.last().unwrap();

    let s1 = Status::of(&c, "status_after_swaps");
    let s2 = Status::of(&c, "status_final");
    assert_eq!(
        s2.u64("generation"),
        last_gen,
        "status does not show the last swapped generation"
    );
    let d = delta(s1.decisions(), s2.decisions());
    assert!(
        d[last_class as usize] > 0,
        "no decisions in the last model's class {last_class}: {d:?}"
    );
    for (i, n) in d.iter().enumerate() {
        if i != last_class as usize {
            assert_eq!(
                *n, 0,
                "after the last swap, decisions still land in row {i}: {d:?}"
            );
        }
    }
    let total = s2.decisions();
    assert!(
        total[0] > 0 && total[1] > 0 && total[2] > 0,
        "every installed class decided: {total:?}"
    );
    assert_eq!(total[3], 0, "no model predicted class 3: {total:?}");
    assert_eq!(
        s2.u64("torn_reads"),
        0,
        "a decision saw a half-written tree"
    );
    assert_eq!(s2.u64("walk_errors"), 0);
    assert_eq!(c.mark("after").str("state"), "enabled");
    assert_clean_exit(&c, "INT");
}

#[test]
fn torn_install_is_detected() {
    // Negative control: with --debug-allow-torn-install, `swap --debug-torn`
    // overwrites the live tree in place (half-written while decisions walk
    // it); the torn-read counter must see it.
    let c = vm::run_scenario("swap", &[("swaps", "20"), ("torn", "1")], secs(240));
    c.assert_exit_ok();
    assert_attached(&c);
    let s2 = Status::of(&c, "status_final");
    assert!(
        s2.u64("torn_reads") > 0,
        "torn_reads stayed 0 after 20 torn installs: the counter does not work"
    );
}

#[test]
fn shipped_model_decisions_in_bpf_equal_the_userspace_walk() {
    // Every sampled burst of a VM run under the embedded (non-constant)
    // model: the class the BPF walk chose must be flat::walk's class for the
    // features the decision saw. The walk in userspace is itself checked
    // against tract/onnxruntime by the model tests.
    let c = vm::run_scenario(
        "record",
        &[
            ("model", "embedded"),
            ("load_secs", "4"),
            ("rows", "1000000"),
        ],
        secs(240),
    );
    c.assert_exit_ok();
    assert_attached(&c);
    assert_clean_exit(&c, "INT");
    let nr_cpus = c.mark("init").u64("nr_cpus");
    let total = c.mark("csv").u64("rows") as usize;
    let rows = check_csv(&c.block("csv"), nr_cpus, false);
    assert_eq!(rows.len(), total, "the block must hold every recorded row");
    assert!(total >= 1000, "only {total} samples in 4 s of load");

    let imported = arbor_model::onnx_import::import_bytes(
        scx_arbor::sched::EMBEDDED_MODEL.expect("a default model is embedded"),
    )
    .expect("the embedded model imports");
    let end = Status::of(&c, "status_end");
    let generation = end.u64("generation");
    assert!(generation >= 1, "the embedded model was not installed");
    let flat = arbor_model::flat::flatten(&imported.ensemble, generation)
        .expect("the embedded model flattens");

    let cols: Vec<&str> = CSV_HEADER.split(',').collect();
    let col = |name: &str| cols.iter().position(|c| *c == name).unwrap();
    let first_feature = col("last_burst_us");
    let (gen_col, pred_col) = (col("generation"), col("predicted"));
    let mut per_class = [0usize; NR_ACTIONS];
    let mut wrong = Vec::new();
    for r in &rows {
        assert_eq!(
            r[gen_col], generation,
            "a sample decided by another generation: {r:?}"
        );
        let mut x = [0u32; arbor_intf::schema::NR_FEATURES];
        for (i, v) in x.iter_mut().enumerate() {
            *v = r[first_feature + i] as u32;
        }
        // A burst that has run past a class's bound is at least of the
        // next class, whatever the model says (decisions mid-burst).
        let floor = arbor_intf::schema::class_of_burst(x[8]) as u64;
        let want = (arbor_model::flat::walk(&flat, &x)
            .expect("the userspace walk of the embedded model")
            .class as u64)
            .max(floor);
        per_class[r[pred_col] as usize] += 1;
        if r[pred_col] != want {
            wrong.push(format!(
                "features {x:?}: BPF {} userspace {want}",
                r[pred_col]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} decisions differ from flat::walk; first ones:\n{}",
        wrong.len(),
        rows.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
    assert_eq!(per_class[FALLBACK], 0, "fallback decisions under a model");
    assert!(
        per_class.iter().filter(|&&n| n > 0).count() >= 2,
        "the shipped model chose one class only ({per_class:?}): not a test of the walk"
    );
    assert_eq!(end.u64("walk_errors"), 0);
    assert_eq!(end.u64("torn_reads"), 0);
    eprintln!(
        "decisions per class: {per_class:?} over {} samples",
        rows.len()
    );
}

/// The verifier's work per program (`verified_insns`, logged at attach)
/// against bpf/verifier-insns.txt: a program that grows by more than 20%
/// on the pinned kernel, or that the file does not list, fails until the
/// file is updated (as scx's veristat tracks verifier cost).
#[test]
fn verifier_work_stays_within_the_record() {
    let c = vm::run_scenario("attach", &[], secs(120));
    c.assert_exit_ok();
    assert_attached(&c);
    let kernel = c.mark("init").str("kernel").to_string();
    let log = c.block("log:sched.log");
    let line = log
        .lines()
        .find_map(|l| l.split_once("verified insns: ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("no 'verified insns:' line in the scheduler's log:\n{log}"));
    let measured: Vec<(String, u64)> = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k != "total")
        .map(|(k, v)| (k.to_string(), v.parse().expect("insns count")))
        .collect();
    assert!(
        measured.len() >= 10,
        "expected every arbor_* program, got {measured:?}"
    );

    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf/verifier-insns.txt");
    let record = std::fs::read_to_string(path).expect("reading bpf/verifier-insns.txt");
    let recorded: std::collections::HashMap<String, u64> = record
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() != 3 || f[0] != kernel {
                return None;
            }
            Some((f[1].to_string(), f[2].parse().ok()?))
        })
        .collect();
    let mut bad = Vec::new();
    for (prog, n) in &measured {
        match recorded.get(prog) {
            None => bad.push(format!("{prog}: {n} insns, not in the record for {kernel}")),
            Some(&r) if *n * 100 > r * 120 => bad.push(format!(
                "{prog}: {n} insns, {r} recorded (+{}%)",
                (n - r) * 100 / r.max(1)
            )),
            Some(&r) => eprintln!("{prog}: {n} insns ({r} recorded)"),
        }
    }
    assert!(
        bad.is_empty(),
        "verifier work grew past the record (bpf/verifier-insns.txt); update it if intended:\n{}\nmeasured on {kernel}: {line}",
        bad.join("\n")
    );
}
