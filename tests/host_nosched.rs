//! On a kernel without sched_ext, `scx_arbor` must refuse to start with one
//! clear sentence, not a backtrace. Runs on the host on any kernel: the test
//! build reads sched_ext's sysfs directory from ARBOR_DEBUG_SCHED_EXT_SYSFS
//! (feature `debug-torn`), pointed at a directory that does not exist; on a
//! host that really has no sched_ext the plain binary is checked as well.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_scx_arbor");

#[test]
fn refuses_to_start_without_sched_ext() {
    let missing = std::env::temp_dir().join(format!("arbor-no-sched_ext-{}", std::process::id()));
    assert!(!missing.exists());
    check_refusal(Some(&missing));
    if !Path::new("/sys/kernel/sched_ext").exists() {
        check_refusal(None);
    }
}

/// Start `scx_arbor --no-model` on a kernel without sched_ext (`sysfs`: as
/// if the kernel's directory were there) and check its one-line refusal.
fn check_refusal(sysfs: Option<&Path>) {
    let mut cmd = Command::new(BIN);
    if let Some(p) = sysfs {
        cmd.env("ARBOR_DEBUG_SCHED_EXT_SYSFS", p);
    }
    let mut child = cmd
        .arg("--no-model")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {BIN}: {e}"));
    let mut stderr_pipe = child.stderr.take().unwrap();
    let mut stdout_pipe = child.stdout.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout_pipe.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for scx_arbor") {
            break st;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "scx_arbor --no-model was still running after 60 s on a kernel without sched_ext"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = err_reader.join().unwrap();
    let stdout = out_reader.join().unwrap();
    let shown = format!("status: {status}\n--- stderr ---\n{stderr}--- stdout ---\n{stdout}");

    assert!(
        !status.success(),
        "scx_arbor must exit non-zero without sched_ext\n{shown}"
    );
    assert!(
        status.code().is_some(),
        "scx_arbor was killed by a signal\n{shown}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "scx_arbor panicked instead of reporting an error\n{shown}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "want exactly one sentence on stderr, got {} lines\n{shown}",
        lines.len()
    );
    assert!(
        lines[0].contains("has no sched_ext support"),
        "the error must say sched_ext is missing\n{shown}"
    );
}
