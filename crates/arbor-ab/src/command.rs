//! A user command as workload (everything after `--`): its wall time and exit
//! status, plus run delay of its process tree.
//!
//! The command runs in its own process group (so it can be stopped as a whole
//! on Ctrl-C). Its wall time runs from spawn to exit, detected by a blocking
//! `waitid(WNOWAIT)` in a helper thread, so it is exact to the µs. Run delay:
//! every 100 ms (and once more right after the command exits, before it is
//! reaped) all tasks of processes in its process group or descending from it
//! are read from `/proc/<pid>/task/<tid>/schedstat`; each task contributes its
//! last reading (tasks are born after the start, so counters start at 0).
//! Tasks that live and die between two samples are missed, and a task's
//! lifetime is approximated by max(time it was seen, cpu + wait time); so the
//! command's run delay is a lower bound, comparable between arms.

use super::rundelay::{RunDelay, SchedStat};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct CommandResult {
    pub argv: Vec<String>,
    pub wall_s: f64,
    /// Exit code, when the command exited normally.
    pub exit_code: Option<i32>,
    /// Signal that ended the command, if any.
    pub signal: Option<i32>,
    pub success: bool,
    #[serde(skip)]
    pub rundelay: RunDelay,
}

impl CommandResult {
    pub fn status_text(&self) -> String {
        match (self.exit_code, self.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "unknown".into(),
        }
    }
}

/// Parses /proc/<pid>/stat into (ppid, pgrp).
fn ppid_pgrp(stat: &str) -> Option<(i32, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let _state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((ppid, pgrp))
}

/// Pids of processes in process group `pgid` or descending from `root`.
pub fn process_tree(proc_root: &Path, root: i32, pgid: i32) -> Vec<i32> {
    let mut parent: HashMap<i32, i32> = HashMap::new();
    let mut members = Vec::new();
    if let Ok(rd) = std::fs::read_dir(proc_root) {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            if let Some((ppid, pgrp)) = ppid_pgrp(&stat) {
                parent.insert(pid, ppid);
                if pgrp == pgid || pid == root {
                    members.push(pid);
                }
            }
        }
    }
    for (&pid, _) in parent.iter() {
        if members.contains(&pid) {
            continue;
        }
        let mut p = pid;
        for _ in 0..64 {
            match parent.get(&p) {
                Some(&pp) if pp == root => {
                    members.push(pid);
                    break;
                }
                Some(&pp) if pp > 1 => p = pp,
                _ => break,
            }
        }
    }
    members.sort_unstable();
    members
}

#[derive(Default)]
struct TreeSampler {
    tasks: HashMap<(i32, i32), (Instant, Instant, SchedStat)>,
}

impl TreeSampler {
    fn sample(&mut self, root: i32) {
        let now = Instant::now();
        for pid in process_tree(Path::new("/proc"), root, root) {
            let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for e in rd.flatten() {
                let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                    continue;
                };
                if let Some(s) = SchedStat::read(&e.path().join("schedstat")) {
                    let ent = self.tasks.entry((pid, tid)).or_insert((now, now, s));
                    ent.1 = now;
                    ent.2 = s;
                }
            }
        }
    }

    fn total(&self) -> RunDelay {
        let mut rd = RunDelay::default();
        for (first, last, s) in self.tasks.values() {
            let seen = last.duration_since(*first).as_nanos() as u64;
            rd.add(*s, seen.max(s.cpu_ns + s.delay_ns));
        }
        rd
    }
}

/// Run `argv` once. `output`: file that receives the command's stdout and
/// stderr (appended), or None for /dev/null.
pub fn run(
    argv: &[String],
    output: Option<&PathBuf>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(String),
) -> Result<CommandResult> {
    anyhow::ensure!(!argv.is_empty(), "empty command");
    let (out, err) = match output {
        Some(p) => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?;
            (Stdio::from(f.try_clone()?), Stdio::from(f))
        }
        None => (Stdio::null(), Stdio::null()),
    };
    let t0 = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("running {:?}", argv))?;
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Wait for exit without reaping, so the final schedstat is still readable.
        loop {
            // SAFETY: zeroed siginfo is a valid out-parameter.
            let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut si,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
        let _ = tx.send(Instant::now());
    });
    let mut sampler = TreeSampler::default();
    let mut killed_at: Option<Instant> = None;
    let end = loop {
        sampler.sample(pid);
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(t) => break t,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break Instant::now(),
            Err(_) => {}
        }
        progress(format!(
            "command running {:.1} s",
            t0.elapsed().as_secs_f64()
        ));
        if stop.load(Ordering::Relaxed) {
            // SAFETY: signal our child's process group.
            match killed_at {
                None => {
                    unsafe { libc::kill(-pid, libc::SIGTERM) };
                    killed_at = Some(Instant::now());
                }
                Some(t) if t.elapsed() > Duration::from_secs(2) => unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                },
                _ => {}
            }
        }
    };
    sampler.sample(pid); // the exited (not yet reaped) process and live descendants
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt;
    Ok(CommandResult {
        argv: argv.to_vec(),
        wall_s: end.duration_since(t0).as_secs_f64(),
        exit_code: status.code(),
        signal: status.signal(),
        success: status.success(),
        rundelay: sampler.total(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_stat() {
        assert_eq!(ppid_pgrp("123 (a b) c) S 45 67 67 0 -1"), Some((45, 67)));
    }

    #[test]
    fn runs_command_and_reports_status() {
        let stop = AtomicBool::new(false);
        let r = run(
            &["sh".into(), "-c".into(), "sleep 0.2; exit 3".into()],
            None,
            &stop,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(r.exit_code, Some(3));
        assert!(!r.success);
        assert!(r.wall_s >= 0.2 && r.wall_s < 5.0, "{}", r.wall_s);
        assert!(r.rundelay.tasks >= 1);
        let r = run(&["true".into()], None, &stop, &mut |_| {}).unwrap();
        assert!(r.success);
        assert!(run(&["/nonexistent/cmd".into()], None, &stop, &mut |_| {}).is_err());
    }

    #[test]
    fn tree_includes_grandchildren() {
        let stop = AtomicBool::new(false);
        // A shell with a child sleep and a busy grandchild.
        let r = run(
            &[
                "sh".into(),
                "-c".into(),
                "(sh -c 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done') ; sleep 0.3".into(),
            ],
            None,
            &stop,
            &mut |_| {},
        )
        .unwrap();
        assert!(r.success);
        assert!(r.rundelay.tasks >= 2, "tasks {}", r.rundelay.tasks);
    }
}
