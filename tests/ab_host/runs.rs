//! Whole `scx_arbor ab` runs against the fake sched_ext of the parent
//! module: 2 rounds of several arms, the JSON and SVG they write, other
//! schedulers as arms, the learn arm, interruption and load failures.

use super::*;

/// The whole A/B pipeline against the fake sched_ext: 2 rounds of 3 arms
/// (eevdf, arbor, arbor-nomodel), both built-in workloads and a command,
/// JSON and SVG written, bpf_stats sysctl restored.
#[test]
fn full_run_against_fake_sched_ext_writes_json_and_svg() {
    let f = Fake::new("full");
    let json = f.dir.join("out.json");
    let svg = f.dir.join("out.svg");
    let a = args(&[
        "--rounds",
        "2",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--workload",
        "latency,messaging",
        "--groups",
        "1",
        "--fds",
        "3",
        "--loops",
        "20",
        "--hogs",
        "1",
        "--walk-cost",
        "--order",
        "abba",
        "--arbor-arg=--model",
        "--arbor-arg",
        "m.onnx",
        "--json",
        json.to_str().unwrap(),
        "--plot",
        svg.to_str().unwrap(),
        "--",
        "sh",
        "-c",
        "sleep 0.05; exit 3",
    ]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    assert!(!out.interrupted);
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
    assert_eq!(
        std::fs::read_to_string(f.dir.join("bpf_stats_enabled"))
            .unwrap()
            .trim(),
        "0"
    );
    // The arms got the right scheduler options.
    let log = f.args_log();
    assert_eq!(log.lines().count(), 4, "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.ends_with("--model m.onnx"))
            .count(),
        2,
        "{log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.ends_with(" --no-model") && !l.contains("m.onnx"))
            .count(),
        2,
        "{log}"
    );

    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["tool"], "scx_arbor ab");
    assert_eq!(v["config"]["rounds"], 2);
    let rounds = v["rounds"].as_array().unwrap();
    assert_eq!(rounds.len(), 6);
    // abba: round 1 eevdf, arbor, arbor-nomodel; round 2 reversed
    let order: Vec<&str> = rounds.iter().map(|r| r["arm"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            "eevdf",
            "arbor",
            "arbor-nomodel",
            "arbor-nomodel",
            "arbor",
            "eevdf"
        ]
    );
    for (i, r) in rounds.iter().enumerate() {
        assert_eq!(r["order"], i + 1);
        assert!(r["round"] == 1 || r["round"] == 2);
        let m = &r["metrics"];
        assert!(m["lat_p50_us"].as_f64().unwrap() > 0.0);
        assert!(m["lat_p99_us"].as_f64().unwrap() >= m["lat_p50_us"].as_f64().unwrap());
        assert!(m["hog_units_per_s"].as_f64().unwrap() > 0.0);
        assert!(m["msg_time_ms"].as_f64().unwrap() > 0.0);
        assert!(m["msg_per_s"].as_f64().unwrap() > 0.0);
        assert!(m["cmd_wall_s"].as_f64().unwrap() >= 0.05);
        assert!(!r["latency"]["histogram"].as_array().unwrap().is_empty());
        assert!(r["latency"]["percentiles"]["p999_us"].as_f64().unwrap() > 0.0);
        assert!(!r["messaging"]["iterations_s"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(r["command"]["exit_code"], 3);
        assert_eq!(r["command"]["success"], false);
        if r["arm"] == "eevdf" {
            assert!(r["attach_s"].is_null());
        } else {
            assert!(r["attach_s"].as_f64().unwrap() > 0.0);
        }
    }
    let s = &v["summary"];
    assert_eq!(s["baseline"], "eevdf");
    let cmps = s["comparisons"].as_array().unwrap();
    // 16 metrics x 2 scheduler arms, minus none (every metric was produced;
    // the scheduler's own figures have no EEVDF side and are listed apart)
    assert_eq!(cmps.len(), 2 * 16);
    let sched = s["scheduler"].as_array().unwrap();
    assert_eq!(sched.len(), 2, "{sched:?}");
    for a in sched {
        assert_eq!(a["rounds"], 2);
        assert!(a["cpu_pct"].as_f64().unwrap() < 50.0, "{a}");
        assert!(a["model_score"].is_null(), "the fake has no control socket");
    }
    for c in cmps {
        let verdict = c["verdict"].as_str().unwrap();
        assert!(["better", "worse", "no significant difference", "n/a"].contains(&verdict));
        // 2 rounds per arm can never be significant
        assert!(
            verdict == "no significant difference" || verdict == "n/a",
            "{c}"
        );
        assert!(c["p_value"].as_f64().unwrap() >= 1.0 / 3.0 - 1e-9);
    }
    assert_eq!(s["failed_commands"], 6);
    assert!(s["latency_pooled"]["arbor"]["samples"].as_u64().unwrap() > 0);
    assert!(s["notes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n.as_str().unwrap().contains("smallest attainable p")));

    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") && svg_text.len() > 5000);
    assert!(svg_text.contains("arbor-nomodel") && svg_text.contains("eevdf"));

    // The terminal table renders all of it.
    let t = ab::table::table(&out.summary, &out.rounds, "hdr");
    assert!(t.contains("wakeup latency p99") && t.contains("exit 3") && t.contains("WARNING"));
}

/// The latency grid's usage: a period list and the arbor-nomodel arm. Every
/// arm-round reports each waker with its period, and the summary compares
/// arbor against arbor --no-model as well as both against EEVDF.
#[test]
fn period_list_and_nomodel_arm_through_ab() {
    let f = Fake::new("grid");
    let json = f.dir.join("grid.json");
    let a = args(&[
        "--rounds",
        "1",
        "--duration",
        "0.6",
        "--warmup",
        "0.1",
        "--workload",
        "latency",
        "--wakers",
        "4",
        "--period-us",
        "1009,2017,2503,10007",
        "--hogs",
        "1",
        "--walk-cost",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        v["config"]["period_us"],
        serde_json::json!([1009, 2017, 2503, 10007])
    );
    let rounds = v["rounds"].as_array().unwrap();
    let arms: Vec<&str> = rounds.iter().map(|r| r["arm"].as_str().unwrap()).collect();
    assert_eq!(arms, ["eevdf", "arbor", "arbor-nomodel"]);
    for r in rounds {
        let lat = &r["latency"];
        assert_eq!(
            lat["config"]["period_us"],
            serde_json::json!([1009, 2017, 2503, 10007])
        );
        let pw = lat["per_waker"].as_array().unwrap();
        let periods: Vec<u64> = pw
            .iter()
            .map(|w| w["period_us"].as_u64().unwrap())
            .collect();
        assert_eq!(periods, [1009, 2017, 2503, 10007], "{}", r["arm"]);
        let wakeups: Vec<u64> = pw.iter().map(|w| w["wakeups"].as_u64().unwrap()).collect();
        assert_eq!(
            wakeups.iter().sum::<u64>(),
            lat["percentiles"]["samples"].as_u64().unwrap()
        );
        // the 1009 µs waker woke several times as often as the 10007 µs one
        assert!(wakeups[0] > 4 * wakeups[3].max(1), "{wakeups:?}");
    }
    let s = &v["summary"];
    let by = |arm: &str| {
        s["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["arm"] == arm && c["metric"] == "lat_p99_us")
            .count()
    };
    assert_eq!((by("arbor"), by("arbor-nomodel")), (1, 1));
    let mvn = s["model_vs_nomodel"].as_array().unwrap();
    let p99 = mvn.iter().find(|c| c["metric"] == "lat_p99_us").unwrap();
    assert_eq!(p99["baseline"], "arbor-nomodel");
    assert_eq!(p99["arm"], "arbor");
    let (mb, ma) = (
        p99["median_baseline"].as_f64().unwrap(),
        p99["median_arm"].as_f64().unwrap(),
    );
    assert!((p99["ratio"].as_f64().unwrap() - ma / mb).abs() < 1e-9);
    let t = ab::table::table(&out.summary, &out.rounds, "hdr");
    assert!(
        t.contains("model effect: arbor against arbor --no-model"),
        "{t}"
    );

    // Without the third arm there is no model comparison.
    let a = args(&["--rounds", "1", "--duration", "0.2", "--warmup", "0"]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    assert!(out.summary.model_vs_nomodel.is_empty());
}

/// `--arm NAME=COMMAND`: another scheduler is an arm of its own. It runs
/// with its own arguments only (none of scx_arbor's), may attach under any
/// ops name, is stopped back to `disabled` after each round and is compared
/// with eevdf like scx_arbor.
#[test]
fn another_scheduler_runs_as_an_arm() {
    let f = Fake::new("other");
    let other = format!(
        "other=/bin/sh {} {} --ops-name bpfland_1.1.4 -s 20000",
        f.dir.join("sched.sh").display(),
        f.dir.display()
    );
    let a = args(&[
        "--rounds",
        "2",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--arms",
        "eevdf",
        "--arm",
        &other,
        "--arbor-arg=--no-model",
    ]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    let arms: Vec<&str> = out.rounds.iter().map(|r| r.arm.as_str()).collect();
    assert_eq!(
        arms.iter().filter(|a| **a == "other").count(),
        2,
        "{arms:?}"
    );
    assert_eq!(
        arms.iter().filter(|a| **a == "eevdf").count(),
        2,
        "{arms:?}"
    );
    // Both rounds of the other scheduler, each with its own arguments only.
    let log = f.args_log();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    for l in lines {
        let (_pid, rest) = l.split_once(' ').unwrap();
        assert_eq!(rest, "--ops-name bpfland_1.1.4 -s 20000");
    }
    assert!(f.sysfs().is_disabled());
    for r in out.rounds.iter().filter(|r| r.arm == "other") {
        assert!(r.attach_s.is_some());
        let cpu = r.scheduler.as_ref().map(|s| s.cpu_pct).unwrap();
        assert!(cpu.is_finite(), "the other scheduler's CPU is measured");
    }
    assert!(out
        .summary
        .comparisons
        .iter()
        .any(|c| c.arm == "other" && c.baseline == "eevdf" && c.metric == "lat_p99_us"));

    // A scheduler that never attaches fails the run with its output, and
    // leaves sched_ext disabled.
    let never = format!(
        "stuck=/bin/sh {} {} --never",
        f.dir.join("sched.sh").display(),
        f.dir.display()
    );
    let a = args(&[
        "--rounds",
        "1",
        "--duration",
        "0.2",
        "--arms",
        "eevdf",
        "--arm",
        &never,
        "--attach-timeout",
        "0.5",
    ]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    let e = out.error.unwrap_or_default();
    assert!(
        e.contains("arm stuck") && e.contains("did not attach"),
        "{e}"
    );
    assert!(f.sysfs().is_disabled());
}

/// `--arms eevdf,default,nomodel,learn`: four arms per round; the learn arm
/// runs `--learn on --model-dir DIR --resume` with its own options, every
/// round resumes what the rounds before it promoted, and the summary
/// compares learn with default.
#[test]
fn learn_arm_keeps_its_generations_across_rounds() {
    let f = Fake::new("learn");
    let dir = f.dir.join("learned");
    let json = f.dir.join("learn.json");
    let a = args(&[
        "--rounds",
        "3",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--hogs",
        "1",
        "--arms",
        "eevdf,default,nomodel,learn",
        "--arbor-args",
        "--learn off --model m.onnx",
        "--learn-dir",
        dir.to_str().unwrap(),
        "--learn-arg=--sample-budget",
        "--learn-arg=0",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    assert!(out.error.is_none(), "{:?}", out.error);
    let names: Vec<&str> = out.arms.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["eevdf", "arbor", "arbor-nomodel", "arbor-learn"]);
    // What each scheduler was started with (one line per start).
    let log = f.args_log();
    let learn_lines: Vec<&str> = log.lines().filter(|l| l.contains("--learn on")).collect();
    assert_eq!(learn_lines.len(), 3, "{log}");
    let want = format!(
        "--model m.onnx --learn on --model-dir {} --resume --sample-budget 0",
        dir.display()
    );
    for l in &learn_lines {
        assert!(l.ends_with(&want), "{l:?} does not end with {want:?}");
        assert!(!l.contains("--learn off"), "{l}");
    }
    assert_eq!(
        log.lines()
            .filter(|l| l.ends_with("--learn off --model m.onnx"))
            .count(),
        3,
        "{log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.ends_with("--learn off --no-model"))
            .count(),
        3,
        "{log}"
    );
    // Round by round: resumed what the round before promoted.
    let lr = &out.summary.learn_rounds;
    let seen: Vec<(usize, Option<u64>, Option<u64>, u64)> = lr
        .iter()
        .map(|l| {
            (
                l.round,
                l.info.resumed_generation,
                l.info.newest_generation,
                l.info.promoted,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, None, Some(1), 1),
            (2, Some(1), Some(2), 1),
            (3, Some(2), Some(3), 1)
        ]
    );
    // Every arm against EEVDF, learn against default.
    let lvd = &out.summary.learn_vs_default;
    let p99 = lvd.iter().find(|c| c.metric == "lat_p99_us").unwrap();
    assert_eq!(
        (p99.baseline.as_str(), p99.arm.as_str()),
        ("arbor", "arbor-learn")
    );
    assert_eq!((p99.cmp.n_baseline, p99.cmp.n_arm), (3, 3));
    for arm in ["arbor", "arbor-nomodel", "arbor-learn"] {
        assert!(
            out.summary
                .comparisons
                .iter()
                .any(|c| c.arm == arm && c.metric == "lat_p99_us"),
            "{arm}"
        );
    }
    // The scheduler process's CPU is measured in every scx_arbor arm-round
    // (the fake one sleeps: well under one CPU) and never for EEVDF.
    for r in &out.rounds {
        let cpu = r.metrics.get("sched_cpu_pct").copied();
        if r.arm == "eevdf" {
            assert!(cpu.is_none() && r.scheduler.is_none());
        } else {
            let cpu = cpu.unwrap();
            assert!((0.0..50.0).contains(&cpu), "{}: {cpu}", r.arm);
            // No control socket: no model figures, and no error either.
            assert!(r.scheduler.as_ref().unwrap().model_score.is_none());
        }
    }
    let t = ab::table::table(&out.summary, &out.rounds, "hdr");
    assert!(
        t.contains("learning effect: arbor --learn on against arbor"),
        "{t}"
    );
    assert!(t.contains("#3: 2 -> 3 (+1)"), "{t}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["summary"]["learn_rounds"][2]["resumed_generation"], 2);
    assert_eq!(
        v["arms"][3]["model_dir"].as_str().unwrap(),
        dir.to_str().unwrap()
    );

    // Arms without eevdf are refused; so is --walk-cost without default.
    assert!(ab::run_with(&args(&["--arms", "default,learn"]), &f.env()).is_err());
    assert!(ab::run_with(&args(&["--arms", "eevdf,learn", "--walk-cost"]), &f.env()).is_err());
}

/// An interrupt in the middle of the scheduler arm ends the run promptly,
/// stops the scheduler, and still writes the JSON of the completed rounds.
#[test]
fn interrupt_mid_run_restores_and_writes_partial_json() {
    let f = Fake::new("intr");
    let json = f.dir.join("out.json");
    let a = args(&[
        "--rounds",
        "3",
        "--duration",
        "2",
        "--warmup",
        "0",
        "--hogs",
        "1",
        "--bpf-stats",
        "--json",
        json.to_str().unwrap(),
    ]);
    let env = f.env();
    let stop = env.stop.clone();
    let t0 = Instant::now();
    let h = std::thread::spawn(move || ab::run_with(&a, &env).unwrap());
    // eevdf round 1 takes 2 s; interrupt in the middle of arbor round 1.
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(f.sysfs().state().unwrap(), "enabled");
    assert_eq!(
        std::fs::read_to_string(f.dir.join("bpf_stats_enabled"))
            .unwrap()
            .trim(),
        "1"
    );
    stop.store(true, Ordering::SeqCst);
    let out = h.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
    assert!(out.interrupted);
    assert_eq!(
        out.rounds.len(),
        1,
        "only the completed eevdf round is kept"
    );
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
    assert!(!alive(f.last_pid()));
    assert_eq!(
        std::fs::read_to_string(f.dir.join("bpf_stats_enabled"))
            .unwrap()
            .trim(),
        "0"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["interrupted"], true);
    assert_eq!(v["rounds"].as_array().unwrap().len(), 1);
}

/// An error in a scheduler arm (here: the scheduler cannot load) ends the run
/// with the error recorded and the system on EEVDF.
#[test]
fn scheduler_load_failure_ends_run_cleanly() {
    let f = Fake::new("loadfail");
    let json = f.dir.join("out.json");
    let a = args(&[
        "--rounds",
        "2",
        "--duration",
        "0.3",
        "--warmup",
        "0",
        "--hogs",
        "1",
        "--arbor-arg=--fail",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = ab::run_with(&a, &f.env()).unwrap();
    let e = out.error.clone().expect("error recorded");
    assert!(
        e.contains("dump() missing") && e.contains("round 1 arm arbor"),
        "{e}"
    );
    assert_eq!(out.rounds.len(), 1);
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["error"].as_str().unwrap().contains("dump() missing"));
}
