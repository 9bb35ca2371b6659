//! Host-runnable tests of `scx_arbor ab` (no sched_ext needed).
//!
//! sched_ext is simulated: a fake sysfs directory and a fake
//! "scheduler" (a shell script) that writes `state` and `root/ops` the way the
//! kernel does when a scheduler attaches, and `disabled` when it gets SIGINT.
//! Both arms then really run on this host's EEVDF: an A/A comparison.

use ab::sysfs::{RestoreFile, RunningSched, SchedLaunch, ScxSysfs};
use ab::{AbArgs, AbEnv};
use arbor_ab as ab;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FAKE_SCHED: &str = r#"
root=$1; shift
echo "$$ $*" >> "$root/args.log"
case " $* " in
  *" --fail "*) echo "error: sched_ext_ops.dump() missing, kernel too old?" >&2; exit 1 ;;
esac
if case " $* " in *" --stubborn "*) true;; *) false;; esac; then
  trap '' INT
else
  trap 'echo disabled > "$root/state"; rm -f "$root/root/ops"; exit 0' INT TERM
fi
echo "loading" >&2
# A learning instance "promotes" one generation into its model directory,
# numbered on from what it holds, the way --learn on --resume would.
case " $* " in
  *" --learn on --model-dir "*" --resume "*)
    dir=$(echo " $* " | sed 's/.* --model-dir \([^ ]*\) .*/\1/')
    mkdir -p "$dir"
    n=$(ls "$dir" | grep -c '^gen-.*\.onnx$')
    f=$(printf '%s/gen-%06d' "$dir" $((n + 1)))
    echo onnx > "$f.onnx"
    printf '{"generation":%d,"parent":null,"time":0,"samples":1,"holdout_rows":1,"holdout_score":90.0,"holdout_balanced_accuracy":80.0,"parent_holdout_score":null,"parent_live_score":null,"shadow_score":null,"promoted":true,"installed_as":2}\n' $((n + 1)) > "$f.json" ;;
esac
case " $* " in
  *" --never "*) ;;
  *) ops=arbor_0.1.0_x86_64_unknown_linux_gnu
     case " $* " in *" --ops-name "*) ops=$(echo " $* " | sed 's/.* --ops-name \([^ ]*\) .*/\1/') ;; esac
     sleep 0.1; echo "$ops" > "$root/root/ops"; echo enabled > "$root/state" ;;
esac
while :; do sleep 0.05; done
"#;

/// A fresh fake sched_ext directory with the fake scheduler script.
struct Fake {
    dir: PathBuf,
}

impl Fake {
    fn new(name: &str) -> Fake {
        let dir = std::env::temp_dir().join(format!("ab-test-{}-{}", name, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        std::fs::write(dir.join("state"), "disabled\n").unwrap();
        std::fs::write(dir.join("sched.sh"), FAKE_SCHED).unwrap();
        std::fs::write(dir.join("bpf_stats_enabled"), "0\n").unwrap();
        Fake { dir }
    }

    fn sysfs(&self) -> ScxSysfs {
        ScxSysfs::new(&self.dir)
    }

    fn launch(&self, args: &[&str], timeout_s: f64) -> SchedLaunch {
        SchedLaunch {
            exe: "/bin/sh".into(),
            prefix_args: vec![
                self.dir.join("sched.sh").display().to_string(),
                self.dir.display().to_string(),
            ],
            args: args.iter().map(|s| s.to_string()).collect(),
            ops_prefix: "arbor".into(),
            attach_timeout: Duration::from_secs_f64(timeout_s),
            stop_timeout: Duration::from_secs_f64(timeout_s),
            interrupt: None,
        }
    }

    fn env(&self) -> AbEnv {
        AbEnv {
            sysfs: self.sysfs(),
            sched_exe: "/bin/sh".into(),
            sched_prefix_args: vec![
                self.dir.join("sched.sh").display().to_string(),
                self.dir.display().to_string(),
            ],
            ops_prefix: "arbor".into(),
            prog_prefix: "arbor_".into(),
            bpf_stats_sysctl: self.dir.join("bpf_stats_enabled"),
            // The fake scheduler serves no statistics.
            stats_socket: self.dir.join("no-stats-here"),
            require_root: false,
            install_signal_handler: false,
            stop: Arc::new(AtomicBool::new(false)),
            print: false,
            socket_wait: Duration::ZERO,
        }
    }

    fn args_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("args.log")).unwrap_or_default()
    }

    fn last_pid(&self) -> i32 {
        self.args_log()
            .lines()
            .last()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    ab: AbArgs,
}

fn args(a: &[&str]) -> AbArgs {
    Cli::try_parse_from(std::iter::once("ab").chain(a.iter().copied()))
        .unwrap()
        .ab
}

#[test]
fn refuses_when_another_scheduler_is_attached() {
    let f = Fake::new("busy");
    std::fs::write(f.dir.join("state"), "enabled\n").unwrap();
    std::fs::write(f.dir.join("root/ops"), "bpfland_1.0.0_x86_64\n").unwrap();
    let e = f.sysfs().ensure_idle().unwrap_err().to_string();
    assert!(e.contains("bpfland_1.0.0_x86_64"), "{e}");
    let e = ab::run_with(&args(&["--duration", "0.1"]), &f.env())
        .unwrap_err()
        .to_string();
    assert!(e.contains("another sched_ext scheduler is attached"), "{e}");
    // nothing was started, the foreign scheduler's state is untouched
    assert_eq!(f.sysfs().state().unwrap(), "enabled");
    assert!(f.args_log().is_empty());
}

#[test]
fn refuses_without_sched_ext() {
    let e = ScxSysfs::new("/nonexistent/sched_ext")
        .ensure_idle()
        .unwrap_err();
    assert!(format!("{e:#}").contains("sched_ext"), "{e:#}");
}

#[test]
fn scheduler_start_and_stop() {
    let f = Fake::new("startstop");
    let s = RunningSched::start(&f.sysfs(), &f.launch(&["--model", "m.onnx"], 5.0)).unwrap();
    assert!(f.sysfs().is_attached("arbor"));
    assert!(s.attach_time > Duration::ZERO);
    let pid = f.last_pid();
    assert!(f.args_log().contains("--model m.onnx"));
    s.stop().unwrap();
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
    assert!(!alive(pid), "scheduler child still alive after stop");
}

#[test]
fn guard_drop_restores_eevdf() {
    let f = Fake::new("drop");
    {
        let mut s = RunningSched::start(&f.sysfs(), &f.launch(&[], 5.0)).unwrap();
        s.check_alive().unwrap();
        assert_eq!(f.sysfs().state().unwrap(), "enabled");
        // dropped here without stop(), as on an error or panic
    }
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
    assert!(!alive(f.last_pid()));
}

#[test]
fn guard_drop_on_panic_restores_eevdf() {
    let f = Fake::new("panic");
    let sysfs = f.sysfs();
    let launch = f.launch(&[], 5.0);
    let r = std::panic::catch_unwind(move || {
        let _s = RunningSched::start(&sysfs, &launch).unwrap();
        panic!("workload blew up");
    });
    assert!(r.is_err());
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
    assert!(!alive(f.last_pid()));
}

#[test]
fn failing_scheduler_reports_its_output() {
    let f = Fake::new("fail");
    let e = RunningSched::start(&f.sysfs(), &f.launch(&["--fail"], 5.0))
        .err()
        .expect("must fail");
    let msg = format!("{e:#}");
    assert!(
        msg.contains("exit status 1") && msg.contains("dump() missing"),
        "{msg}"
    );
    assert_eq!(f.sysfs().state().unwrap(), "disabled");
}

#[test]
fn attach_timeout_reports_output_and_cleans_up() {
    let f = Fake::new("never");
    let t0 = Instant::now();
    let e = RunningSched::start(&f.sysfs(), &f.launch(&["--never"], 0.5))
        .err()
        .expect("must time out");
    let msg = format!("{e:#}");
    assert!(
        msg.contains("did not attach within 0.5 s") && msg.contains("loading"),
        "{msg}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(!alive(f.last_pid()), "timed-out scheduler was not stopped");
}

#[test]
fn interrupt_while_waiting_for_attach() {
    let f = Fake::new("intrattach");
    let mut l = f.launch(&["--never"], 30.0);
    let flag = Arc::new(AtomicBool::new(false));
    l.interrupt = Some(flag.clone());
    let f2 = flag.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        f2.store(true, Ordering::SeqCst);
    });
    let t0 = Instant::now();
    let e = RunningSched::start(&f.sysfs(), &l)
        .err()
        .expect("must be interrupted");
    assert!(e.to_string().contains("interrupted"), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    assert!(!alive(f.last_pid()));
}

#[test]
fn scheduler_dying_mid_round_is_detected() {
    let f = Fake::new("dies");
    let mut s = RunningSched::start(&f.sysfs(), &f.launch(&[], 5.0)).unwrap();
    // The kernel kicks the scheduler out (e.g. watchdog): state goes to disabled.
    std::fs::write(f.dir.join("state"), "disabled\n").unwrap();
    let e = s.check_alive().unwrap_err().to_string();
    assert!(e.contains("no longer attached"), "{e}");
    drop(s);
    assert!(!alive(f.last_pid()));
}

#[test]
fn stubborn_scheduler_is_killed_and_reported() {
    let f = Fake::new("stubborn");
    let s = RunningSched::start(&f.sysfs(), &f.launch(&["--stubborn"], 0.5)).unwrap();
    let pid = f.last_pid();
    let e = s.stop().unwrap_err().to_string();
    // The fake cannot play the kernel's part (a killed loader detaches); the
    // guard must say so loudly rather than claim success.
    assert!(
        e.contains("SIGKILL") && e.contains("NOT back on EEVDF"),
        "{e}"
    );
    assert!(!alive(pid));
}

#[test]
fn restore_file_guard() {
    let f = Fake::new("restore");
    let p = f.dir.join("bpf_stats_enabled");
    {
        let _g = RestoreFile::set(&p, "1").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().trim(), "1");
    }
    assert_eq!(std::fs::read_to_string(&p).unwrap().trim(), "0");
    assert!(RestoreFile::set(Path::new("/nonexistent/x"), "1").is_err());
}

#[test]
fn latency_workload_runs_on_host() {
    let cfg = ab::latency::LatencyConfig {
        wakers: 2,
        period_us: vec![2017],
        burst_us: 50,
        hogs: ab::nr_cpus(),
    };
    let stop = AtomicBool::new(false);
    let r = ab::latency::run(
        &cfg,
        Duration::from_millis(200),
        Duration::from_secs(1),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    let s = ab::latency::summarize(&r.samples_ns);
    eprintln!(
        "latency 1 s: {} samples, p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs, missed {}, hogs {} units ({:.0}/s), run delay {:.1} µs/run {:.1} ms/task-s (waker {:.1} µs/run)",
        s.samples, s.p50_us, s.p99_us, s.p999_us, s.max_us, r.missed, r.hog_units, r.hog_units_per_s(),
        r.rundelay.us_per_run(), r.rundelay.ms_per_task_s(), r.rundelay_wakers.us_per_run()
    );
    // 2 wakers at 2017 µs for 1 s: ~990 wakeups, minus missed periods.
    assert!(s.samples > 200, "only {} samples", s.samples);
    assert!(r.samples_ns.iter().all(|&x| x > 0), "a zero latency");
    assert!(s.p50_us > 0.0 && s.p50_us <= s.p99_us && s.p99_us <= s.max_us);
    assert!(r.hog_units > 0 && r.hog_units_per_s() > 0.0);
    assert!(
        (r.measured_s - 1.0).abs() < 0.2,
        "measured {}",
        r.measured_s
    );
    assert!(!ab::latency::histogram(&r.samples_ns).is_empty());
    if r.rundelay.tasks > 0 {
        assert_eq!(r.rundelay.tasks as usize, cfg.wakers + cfg.hogs);
        assert!(r.rundelay.runs > 0);
    }
}

/// Periods per waker from a list: wakeups + missed periods of each waker
/// match its own period (measured on this host under its own scheduler).
#[test]
fn wakers_run_at_their_own_periods() {
    let cfg = ab::latency::LatencyConfig {
        wakers: 5,
        period_us: vec![1009, 3001, 5003],
        burst_us: 20,
        hogs: 1,
    };
    let stop = AtomicBool::new(false);
    let r = ab::latency::run(
        &cfg,
        Duration::from_millis(200),
        Duration::from_millis(1500),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    let periods: Vec<u64> = r.per_waker.iter().map(|w| w.period_us).collect();
    assert_eq!(periods, [1009, 3001, 5003, 1009, 3001]);
    check_waker_counts(&r.per_waker, r.measured_s);
    assert_eq!(
        r.per_waker.iter().map(|w| w.wakeups).sum::<u64>(),
        r.samples_ns.len() as u64
    );
    assert_eq!(r.per_waker.iter().map(|w| w.missed).sum::<u64>(), r.missed);
}

/// Every waker saw one deadline per period of the measured window: either a
/// wakeup or a missed period (host load only moves counts between the two).
fn check_waker_counts(per_waker: &[ab::latency::WakerStats], measured_s: f64) {
    for w in per_waker {
        let expected = measured_s * 1e6 / w.period_us as f64;
        let got = (w.wakeups + w.missed) as f64;
        eprintln!(
            "waker {} period {} µs: {} wakeups + {} missed, expected {expected:.0}; p50 {:.1} µs p99 {:.1} µs",
            w.waker, w.period_us, w.wakeups, w.missed, w.p50_us, w.p99_us
        );
        assert!(
            (got - expected).abs() <= 0.05 * expected + 3.0,
            "waker {} with period {} µs: {got} deadlines in {measured_s:.3} s, expected {expected:.0}",
            w.waker,
            w.period_us
        );
        assert!(w.wakeups > 0, "waker {} never woke", w.waker);
    }
}

/// `scx_arbor workload --period-us LIST` (no root, no sched_ext needed).
#[test]
fn workload_subcommand_takes_a_period_list() {
    let bin = env!("CARGO_BIN_EXE_scx_arbor");
    let run = |extra: &[&str]| {
        std::process::Command::new(bin)
            .args(["workload", "--burst-us", "20", "--hogs", "1"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--secs", "1", "--wakers", "3", "--period-us", "1009,5003"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["period_us"], serde_json::json!([1009, 5003]));
    let per_waker: Vec<ab::latency::WakerStats> = v["per_waker"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| ab::latency::WakerStats {
            waker: w["waker"].as_u64().unwrap() as usize,
            period_us: w["period_us"].as_u64().unwrap(),
            wakeups: w["wakeups"].as_u64().unwrap(),
            missed: w["missed"].as_u64().unwrap(),
            p50_us: w["p50_us"].as_f64().unwrap(),
            p99_us: w["p99_us"].as_f64().unwrap(),
            max_us: w["max_us"].as_f64().unwrap(),
        })
        .collect();
    let periods: Vec<u64> = per_waker.iter().map(|w| w.period_us).collect();
    assert_eq!(periods, [1009, 5003, 1009]);
    check_waker_counts(&per_waker, v["measured_s"].as_f64().unwrap());
    assert_eq!(
        v["latency"]["samples"].as_u64().unwrap(),
        per_waker.iter().map(|w| w.wakeups).sum::<u64>()
    );

    // One value: every waker gets it (as before lists existed).
    let out = run(&["--secs", "0.3", "--wakers", "2", "--period-us", "2017"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["period_us"], serde_json::json!([2017]));
    assert!(v["per_waker"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["period_us"] == 2017));

    for bad in ["0", "1009,0", "1009,,2017", "abc"] {
        let out = run(&["--secs", "0.1", "--period-us", bad]);
        assert!(!out.status.success(), "--period-us {bad} accepted");
    }
}

#[test]
fn messaging_workload_runs_on_host() {
    let cfg = ab::messaging::MessagingConfig {
        groups: 2,
        fds: 5,
        loops: 50,
    };
    let stop = AtomicBool::new(false);
    let r = ab::messaging::run(
        &cfg,
        Duration::from_millis(100),
        Duration::from_millis(500),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    eprintln!(
        "messaging 0.5 s: {} iterations, median {:.2} ms, {:.0} msg/s, run delay {:.1} µs/run",
        r.iterations_s.len(),
        r.median_time_ms(),
        r.messages_per_s(),
        r.rundelay.us_per_run()
    );
    assert!(!r.iterations_s.is_empty());
    assert_eq!(r.messages, r.iterations_s.len() as u64 * 2500);
    assert!(r.median_time_ms() > 0.0 && r.messages_per_s() > 0.0);
}

#[test]
fn workloads_stop_promptly_on_interrupt() {
    let cfg = ab::latency::LatencyConfig {
        wakers: 1,
        period_us: vec![2017],
        burst_us: 50,
        hogs: 1,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        s2.store(true, Ordering::SeqCst);
    });
    let t0 = Instant::now();
    ab::latency::run(
        &cfg,
        Duration::ZERO,
        Duration::from_secs(30),
        &stop,
        &mut |_| {},
    )
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

/// Whole `ab` runs against the fake sched_ext: JSON, SVG, arms, learning,
/// interruption.
#[path = "ab_host/runs.rs"]
mod runs;
