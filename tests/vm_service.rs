//! scx_arbor as a service, in the VM: started exactly as
//! dist/scx_arbor.service starts it (EnvironmentFile, ExecStart, KillSignal),
//! read by a generic scx_stats client (socat, JSON lines: `stats_meta`, then
//! `stats`), read by `--monitor`, and run once per scx_loader mode of
//! dist/scx_loader.toml with the action table each mode asks for.

#[path = "common/dist.rs"]
mod dist;
#[path = "common/vm.rs"]
mod vm;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

/// socat and every library it loads, for the guest.
fn socat_files() -> Vec<PathBuf> {
    let socat = PathBuf::from("/usr/bin/socat");
    assert!(
        socat.exists(),
        "socat is missing on the host: run tests/vm/install-host-deps.sh"
    );
    let out = Command::new("ldd").arg(&socat).output().expect("ldd");
    let mut files = vec![socat];
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let path = match l.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => l.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            files.push(p.into());
        }
    }
    files
}

/// The control socket's decisions (all action rows).
fn status_decisions(v: &Value) -> u64 {
    v["decisions"]
        .as_u64()
        .unwrap_or_else(|| panic!("no decisions in status: {v}"))
}

/// What `status --json` carries beside the fields scx_stats serves.
const STATUS_TABLES: [&str; 5] = [
    "decisions_per_cpu",
    "confusion",
    "shadow_confusion",
    "paired_confusion",
    "wakeup_wait_hist",
];

/// `action NAME slice N µs request M µs` lines of a scheduler log.
fn logged_table(log: &str) -> Vec<(String, u64, u64)> {
    log.lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let i = w.iter().position(|x| *x == "action")?;
            if w.get(i + 2) != Some(&"slice") || w.get(i + 5) != Some(&"request") {
                return None;
            }
            Some((
                w[i + 1].to_string(),
                w[i + 3].parse().ok()?,
                w[i + 6].parse().ok()?,
            ))
        })
        .collect()
}

/// The `NAME N` counter of a `--stats`/`--monitor` line.
fn counter(line: &str, name: &str) -> u64 {
    let w: Vec<&str> = line.split_whitespace().collect();
    let i = w
        .iter()
        .position(|x| *x == name)
        .unwrap_or_else(|| panic!("no {name} in {line:?}"));
    w[i + 1].parse().unwrap()
}

#[test]
fn service_unit_stats_client_and_loader_modes() {
    let unit = dist::unit_keys(&dist::read("scx_arbor.service"));
    let unit_bin = unit["ExecStart"]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let modes = dist::loader_modes(&dist::read("scx_loader.toml"));

    let mut s = vm::Scenario::new("service")
        .timeout(Duration::from_secs(300))
        .file(
            dist::path("scx_arbor.service"),
            "/etc/systemd/system/scx_arbor.service",
        )
        .file(dist::path("scx_arbor.default"), "/etc/default/scx_arbor")
        .file(dist::path("scx_loader.toml"), "/etc/scx_loader/config.toml");
    for f in socat_files() {
        let dest = f.display().to_string();
        s = s.file(f, &dest);
    }
    let c = s.run();
    c.assert_exit_ok();

    // ---- started as the unit starts it ----
    let u = c.mark("unit");
    assert_eq!(u.str("envfile"), "/etc/default/scx_arbor");
    assert_eq!(u.str("bin"), unit_bin);
    let execs = c.marks_tagged("execstart");
    assert_eq!(
        execs[0].str("argv"),
        format!("{unit_bin},"),
        "the shipped default file adds no flags"
    );
    let attaches = c.marks_tagged("attach");
    let exits = c.marks_tagged("sched_exit");
    assert_eq!(attaches.len(), 1 + dist::MODES.len());
    assert_eq!(exits.len(), 1 + dist::MODES.len());
    for (a, e) in attaches.iter().zip(&exits) {
        assert_eq!(a.str("state"), "enabled", "{}", a.line);
        assert!(a.str("ops").starts_with("arbor"), "{}", a.line);
        assert_eq!(e.str("signal"), "INT", "the unit's KillSignal");
        assert_eq!(
            e.i64("rc"),
            0,
            "scx_arbor must exit 0 on SIGINT: {}",
            e.line
        );
        assert_eq!(e.str("sigkilled"), "0");
        assert_eq!(e.str("state"), "disabled", "{}", e.line);
    }

    // ---- a generic scx_stats client ----
    assert_eq!(c.mark("client").i64("rc"), 0, "socat failed");
    let lines: Vec<Value> = c
        .block("stats_client")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 3, "three answers: {lines:?}");
    for l in &lines {
        assert_eq!(l["errno"], 0, "{l}");
    }
    let meta = &lines[0]["args"]["resp"];
    let (s1, s2) = (&lines[1]["args"]["resp"], &lines[2]["args"]["resp"]);
    let tops: Vec<_> = meta
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, m)| m["top"] == "true")
        .collect();
    assert_eq!(tops.len(), 1, "exactly one top struct: {meta}");
    let fields = tops[0].1["fields"].as_object().unwrap();
    for (name, f) in fields {
        assert!(
            f["desc"].as_str().is_some_and(|d| !d.is_empty()),
            "{name} has no desc"
        );
        assert!(
            f["datum"].is_string(),
            "{name} is not a plain datum (OpenMetrics relays take those): {f}"
        );
    }
    let meta_names: BTreeSet<&String> = fields.keys().collect();
    let stat_names: BTreeSet<&String> = s1.as_object().unwrap().keys().collect();
    assert_eq!(meta_names, stat_names, "stats and stats_meta disagree");
    // `status --json` has the same fields, and the tables beside them.
    let status_end = c.json("status_end");
    let status_names: BTreeSet<&String> = status_end
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !STATUS_TABLES.contains(&k.as_str()))
        .collect();
    assert_eq!(
        meta_names, status_names,
        "status --json and scx_stats disagree"
    );
    for table in STATUS_TABLES {
        assert!(status_end[table].is_array(), "no {table} in {status_end}");
    }

    // The first reading is the totals when it was asked: between the
    // control socket's counters just before and just after it; the second
    // is what happened since, so both together lie between the counters
    // after the first and after the second.
    let u = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    let before = status_decisions(&c.json("status_before"));
    let mid = status_decisions(&c.json("status_mid"));
    let end = status_decisions(&c.json("status_end"));
    let (d1, d2) = (u(s1, "decisions"), u(s2, "decisions"));
    eprintln!(
        "decisions: status {before} / stats#1 {d1} / status {mid} / +stats#2 {d2} / status {end}"
    );
    assert!(before <= d1 && d1 <= mid, "{before} <= {d1} <= {mid}");
    assert!(
        mid <= d1 + d2 && d1 + d2 <= end,
        "{mid} <= {} <= {end}",
        d1 + d2
    );
    assert!(d2 > 0, "no decisions under load in the second reading");
    for v in [s1, s2] {
        let classes: u64 = ["tiny", "short", "medium", "long", "fallback"]
            .iter()
            .map(|k| u(v, &format!("decisions_{k}")))
            .sum();
        assert_eq!(classes, u(v, "decisions"));
        assert!(u(v, "model_hits") <= u(v, "model_outcomes"));
        assert_eq!(v["learn_mode"], "off");
    }
    assert!(u(s2, "generation") >= 1, "the default model is installed");
    assert!(u(s1, "bursts") > 0);

    // ---- --monitor and --help-stats ----
    let monitor = c.block("monitor");
    let readings: Vec<&str> = monitor.lines().filter(|l| l.starts_with("gen ")).collect();
    assert!(
        readings.len() >= 3,
        "--monitor 1 for 6 s printed:\n{monitor}"
    );
    assert!(
        readings.iter().all(|l| counter(l, "decisions") > 0),
        "{monitor}"
    );
    let help = c.block("help_stats");
    for name in &meta_names {
        assert!(
            help.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "--help-stats lacks {name}"
        );
    }

    // ---- the scx_loader modes, through the unit with their flags ----
    let mode_marks = c.marks_tagged("mode");
    for (i, mode) in dist::MODES.iter().enumerate() {
        assert_eq!(mode_marks[i].str("name"), *mode);
        let flags = &modes[*mode];
        let mut argv = format!("{unit_bin},");
        for f in flags
            .iter()
            .chain(&["--stats".to_string(), "1".to_string()])
        {
            argv += &format!("{f},");
        }
        assert_eq!(
            execs[i + 1].str("argv"),
            argv,
            "{mode}: ExecStart expansion"
        );

        let log = c.block(&format!("log:mode:{mode}"));
        let (want, no_preempt) = dist::expected(flags, 2);
        let got = logged_table(&log);
        let want: Vec<(String, u64, u64)> = dist::ROWS
            .iter()
            .zip(want)
            .map(|(n, (s, r))| (n.to_string(), s, r))
            .collect();
        assert_eq!(got, want, "{mode}: action table\n{log}");
        let stats: Vec<&str> = log.lines().filter(|l| l.starts_with("gen ")).collect();
        assert!(
            !stats.is_empty(),
            "{mode}: --stats 1 printed nothing:\n{log}"
        );
        let preempts: u64 = stats.iter().map(|l| counter(l, "preempt")).sum();
        let decisions: u64 = stats.iter().map(|l| counter(l, "decisions")).sum();
        eprintln!("{mode}: {decisions} decisions, {preempts} wakeup preemptions");
        if no_preempt {
            assert_eq!(preempts, 0, "{mode}: preempted with --no-wakeup-preempt");
        }
        assert!(decisions > 0, "{mode}: no decisions under load");
    }
}
