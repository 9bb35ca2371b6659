//! sched_ext sysfs state, the scheduler child process of the scx arms, and the
//! guards that put the system back on EEVDF whatever happens.
//!
//! The sysfs root (normally `/sys/kernel/sched_ext`) and the scheduler
//! executable are parameters, so the start/stop/guard logic is unit-tested
//! against a fake directory and a fake scheduler (a shell script that writes
//! `state` and `root/ops` the way the kernel does).

use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The real sched_ext sysfs directory.
pub const SCX_SYSFS: &str = "/sys/kernel/sched_ext";

/// View of a sched_ext sysfs directory.
#[derive(Clone, Debug)]
pub struct ScxSysfs {
    pub root: PathBuf,
}

impl ScxSysfs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ScxSysfs { root: root.into() }
    }

    /// Contents of `state`, trimmed ("enabled", "disabled", "enabling", "disabling").
    pub fn state(&self) -> Result<String> {
        let p = self.root.join("state");
        let s = std::fs::read_to_string(&p).with_context(|| {
            format!(
                "reading {} (does this kernel have sched_ext, CONFIG_SCHED_CLASS_EXT=y?)",
                p.display()
            )
        })?;
        Ok(s.trim().to_string())
    }

    /// Name of the attached scheduler (`root/ops`), if any.
    pub fn ops(&self) -> Option<String> {
        std::fs::read_to_string(self.root.join("root").join("ops"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// True when the system runs on the kernel's default scheduler.
    pub fn is_disabled(&self) -> bool {
        matches!(self.state().as_deref(), Ok("disabled"))
    }

    /// True when a scheduler whose `ops` name starts with `prefix` is attached.
    pub fn is_attached(&self, prefix: &str) -> bool {
        matches!(self.state().as_deref(), Ok("enabled"))
            && self.ops().map(|o| o.starts_with(prefix)).unwrap_or(false)
    }

    /// Refuse to run unless sched_ext exists and no scheduler is attached.
    pub fn ensure_idle(&self) -> Result<()> {
        let st = self.state()?;
        match st.as_str() {
            "disabled" => Ok(()),
            "enabled" | "enabling" => bail!(
                "another sched_ext scheduler is attached ({}: state {st}, ops {:?}); \
                 stop it first so that the baseline arm really runs on EEVDF",
                self.root.display(),
                self.ops().unwrap_or_else(|| "?".into())
            ),
            other => bail!(
                "sched_ext is in state {other:?} ({}); wait until it reads \"disabled\"",
                self.root.display()
            ),
        }
    }

    /// Poll until `pred` holds, or the timeout ends (then false).
    pub fn wait_until(&self, timeout: Duration, mut pred: impl FnMut(&Self) -> bool) -> bool {
        let start = Instant::now();
        loop {
            if pred(self) {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Bounded buffer holding the last bytes a child wrote (its stdout and stderr).
#[derive(Clone, Default)]
pub struct OutputTail(Arc<Mutex<VecDeque<u8>>>);

const TAIL_BYTES: usize = 16 * 1024;

impl OutputTail {
    fn collect(&self, mut r: impl Read + Send + 'static) {
        let buf = self.0.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let mut b = buf.lock().unwrap();
                        b.extend(&chunk[..n]);
                        while b.len() > TAIL_BYTES {
                            b.pop_front();
                        }
                    }
                }
            }
        });
    }

    pub fn text(&self) -> String {
        let b = self.0.lock().unwrap();
        let v: Vec<u8> = b.iter().copied().collect();
        String::from_utf8_lossy(&v).into_owned()
    }
}

/// How to launch a scheduler arm.
#[derive(Clone, Debug)]
pub struct SchedLaunch {
    /// Executable (normally `std::env::current_exe()`).
    pub exe: PathBuf,
    /// Arguments before the user's scheduler options.
    pub prefix_args: Vec<String>,
    /// The user's scheduler options for this arm.
    pub args: Vec<String>,
    /// `root/ops` must start with this once attached.
    pub ops_prefix: String,
    pub attach_timeout: Duration,
    pub stop_timeout: Duration,
    /// Set by Ctrl-C: give up waiting for the attach.
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// A running scheduler child. Dropping it stops the scheduler (SIGINT, then
/// SIGKILL) and waits until sched_ext reports `disabled`.
pub struct RunningSched {
    child: Option<Child>,
    pub tail: OutputTail,
    sysfs: ScxSysfs,
    launch: SchedLaunch,
    pub attach_time: Duration,
}

impl RunningSched {
    /// Process id of the scheduler child (None once it was reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Spawn the scheduler and wait until it is attached.
    pub fn start(sysfs: &ScxSysfs, launch: &SchedLaunch) -> Result<RunningSched> {
        sysfs.ensure_idle()?;
        let mut cmd = Command::new(&launch.exe);
        cmd.args(&launch.prefix_args)
            .args(&launch.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Own process group: a terminal Ctrl-C reaches only `ab`, which then
            // stops the scheduler in order.
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it makes the kernel send SIGINT to
        // the scheduler if `ab` dies without cleaning up (e.g. SIGKILL).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGINT as libc::c_ulong,
                    0,
                    0,
                    0,
                );
                Ok(())
            });
        }
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning scheduler {}", launch.exe.display()))?;
        let tail = OutputTail::default();
        if let Some(o) = child.stdout.take() {
            tail.collect(o);
        }
        if let Some(e) = child.stderr.take() {
            tail.collect(e);
        }
        let mut rs = RunningSched {
            child: Some(child),
            tail,
            sysfs: sysfs.clone(),
            launch: launch.clone(),
            attach_time: Duration::ZERO,
        };
        loop {
            if sysfs.is_attached(&launch.ops_prefix) {
                rs.attach_time = start.elapsed();
                return Ok(rs);
            }
            if let Some(status) = rs.child.as_mut().unwrap().try_wait()? {
                std::thread::sleep(Duration::from_millis(50)); // let the readers drain
                let out = rs.tail.text();
                rs.child = None;
                bail!(
                    "scheduler `{}` exited with {} before attaching; its output:\n{}",
                    rs.describe(),
                    describe_status(status),
                    indent(&out)
                );
            }
            if launch
                .interrupt
                .as_ref()
                .is_some_and(|f| f.load(Ordering::SeqCst))
            {
                drop(rs); // stops it
                bail!("interrupted while waiting for the scheduler to attach");
            }
            if start.elapsed() >= launch.attach_timeout {
                let (st, ops) = (sysfs.state().unwrap_or_default(), sysfs.ops());
                let msg = format!(
                    "scheduler `{}` did not attach within {:.1} s (state {st:?}, ops {:?}); its output:\n{}",
                    rs.describe(),
                    launch.attach_timeout.as_secs_f64(),
                    ops,
                    indent(&rs.tail.text())
                );
                drop(rs); // stops it
                bail!(msg);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn describe(&self) -> String {
        let mut v = vec![self.launch.exe.display().to_string()];
        v.extend(self.launch.prefix_args.iter().cloned());
        v.extend(self.launch.args.iter().cloned());
        v.join(" ")
    }

    /// Error if the scheduler exited or was detached (e.g. by the watchdog)
    /// during the round: its figures would not be the scheduler's.
    pub fn check_alive(&mut self) -> Result<()> {
        let Some(child) = self.child.as_mut() else {
            bail!("scheduler already stopped");
        };
        if let Some(status) = child.try_wait()? {
            self.child = None;
            bail!(
                "scheduler exited during the round ({}); its output:\n{}",
                describe_status(status),
                indent(&self.tail.text())
            );
        }
        if !self.sysfs.is_attached(&self.launch.ops_prefix) {
            bail!(
                "scheduler is no longer attached (state {:?}, ops {:?}); its output:\n{}",
                self.sysfs.state().unwrap_or_default(),
                self.sysfs.ops(),
                indent(&self.tail.text())
            );
        }
        Ok(())
    }

    /// Stop the scheduler and wait until the system is back on EEVDF.
    pub fn stop(mut self) -> Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<()> {
        let mut problems = Vec::new();
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as libc::pid_t;
            // SAFETY: plain kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGINT) };
            let t0 = Instant::now();
            let mut exited = false;
            while t0.elapsed() < self.launch.stop_timeout {
                if let Ok(Some(_)) = child.try_wait() {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !exited {
                problems.push(format!(
                    "scheduler pid {pid} ignored SIGINT for {:.1} s; sent SIGKILL",
                    self.launch.stop_timeout.as_secs_f64()
                ));
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // Killing the loader closes the struct_ops link: the kernel goes back to EEVDF.
        if !self
            .sysfs
            .wait_until(self.launch.stop_timeout, |s| s.is_disabled())
        {
            problems.push(format!(
                "sched_ext state is still {:?} (ops {:?}): the system is NOT back on EEVDF",
                self.sysfs.state().unwrap_or_default(),
                self.sysfs.ops()
            ));
            bail!(problems.join("; "));
        }
        if !problems.is_empty() {
            log::warn!("{}", problems.join("; "));
        }
        Ok(())
    }
}

impl Drop for RunningSched {
    fn drop(&mut self) {
        // After stop() the child is gone and any problem was already reported.
        if self.child.is_some() {
            if let Err(e) = self.stop_inner() {
                eprintln!("scx_arbor ab: cleanup: {e:#}");
            }
        }
    }
}

/// Restores a sysctl-like file (e.g. /proc/sys/kernel/bpf_stats_enabled) to
/// the value it had when the guard was created.
pub struct RestoreFile {
    path: PathBuf,
    prev: String,
}

impl RestoreFile {
    /// Remember the current value of `path`, then write `value`.
    pub fn set(path: &Path, value: &str) -> Result<RestoreFile> {
        let prev =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        std::fs::write(path, value)
            .with_context(|| format!("writing {value:?} to {}", path.display()))?;
        Ok(RestoreFile {
            path: path.to_path_buf(),
            prev,
        })
    }
}

impl Drop for RestoreFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::write(&self.path, self.prev.trim()) {
            eprintln!(
                "scx_arbor ab: could not restore {}: {e}",
                self.path.display()
            );
        }
    }
}

pub fn describe_status(status: std::process::ExitStatus) -> String {
    if let Some(c) = status.code() {
        format!("exit status {c}")
    } else if let Some(s) = status.signal() {
        format!("signal {s}")
    } else {
        format!("{status}")
    }
}

fn indent(s: &str) -> String {
    if s.trim().is_empty() {
        return "    (no output)".into();
    }
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
