//! `scx_arbor explain PID`: why a task gets its slice.
//!
//! The running scheduler answers an `explain <pid>` control request
//! ([`answer`]): it opens a pidfd for the task, reads the task's
//! `struct task_ctx` from the BPF task storage through it, walks the live
//! model over the task's current features with the BPF semantics
//! ([`arbor_model::flat::trace`]) and reads the action row of the class.
//! The command prints the reply ([`render`]).

use std::fmt::Write;
use std::mem::offset_of;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};
use serde_json::{json, Value};

use arbor_intf::bpf_intf::{arbor_action, task_ctx};
use arbor_intf::schema::{action_name, FEATURES, NR_ACTIONS, NR_FEATURES};
use arbor_model::ensemble::Ensemble;
use arbor_model::flat::{flatten, trace};

/// pidfd_open flag for a thread's pidfd (Linux 6.9): explain takes tids too.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

fn pidfd_open(pid: u32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, PIDFD_THREAD) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            bail!("no task with pid {pid} (it has exited, or never existed)");
        }
        return Err(e).with_context(|| format!("pidfd_open({pid})"));
    }
    // SAFETY: the syscall returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The scheduling policy's name, and whether sched_ext runs such tasks
/// (scx_arbor takes every fair-class task: it does not set SWITCH_PARTIAL).
fn policy(pid: u32) -> Result<(&'static str, bool)> {
    // SAFETY: sched_getscheduler takes a pid and returns a policy or -1.
    let p = unsafe { libc::sched_getscheduler(pid as libc::pid_t) };
    if p < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("sched_getscheduler({pid})"));
    }
    Ok(match p & !libc::SCHED_RESET_ON_FORK {
        libc::SCHED_OTHER => ("SCHED_OTHER", true),
        libc::SCHED_BATCH => ("SCHED_BATCH", true),
        libc::SCHED_IDLE => ("SCHED_IDLE", true),
        7 => ("SCHED_EXT", true),
        libc::SCHED_FIFO => ("SCHED_FIFO", false),
        libc::SCHED_RR => ("SCHED_RR", false),
        6 => ("SCHED_DEADLINE", false),
        _ => ("unknown", false),
    })
}

fn u32s<const N: usize>(b: &[u8], off: usize) -> [u32; N] {
    std::array::from_fn(|i| {
        let o = off + 4 * i;
        u32::from_ne_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    })
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(a)
}

/// The action row of `class`: (slice_ns, request_ns).
fn action_row(actions: &MapHandle, class: usize) -> Result<(u64, u64)> {
    let v = actions
        .lookup(&(class as u32).to_ne_bytes(), MapFlags::ANY)
        .context("reading the action table")?
        .with_context(|| format!("the action table has no row {class}"))?;
    anyhow::ensure!(v.len() >= std::mem::size_of::<arbor_action>());
    Ok((
        u64_at(&v, offset_of!(arbor_action, slice_ns)),
        u64_at(&v, offset_of!(arbor_action, request_ns)),
    ))
}

/// The running scheduler's answer to `explain <pid>`: the task's state in
/// BPF task storage (`task_ctxs`), and the walk of the live `model` (of
/// `generation`) over its current features.
pub fn answer(
    pid: u32,
    task_ctxs: &MapHandle,
    actions: &MapHandle,
    model: Option<&Ensemble>,
    generation: u64,
) -> Result<Value> {
    let pidfd = pidfd_open(pid)?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let (policy, on_ext) = policy(pid)?;
    if !on_ext {
        bail!("task {pid} ({comm}) is not on sched_ext: its policy is {policy}, which the kernel schedules itself");
    }
    let key = (pidfd.as_raw_fd() as u32).to_ne_bytes();
    let b = task_ctxs
        .lookup(&key, MapFlags::ANY)
        .with_context(|| format!("reading the task storage of {pid}"))?
        .with_context(|| {
            format!("task {pid} ({comm}) has no scx_arbor state: it is not on sched_ext (yet)")
        })?;
    anyhow::ensure!(
        b.len() >= std::mem::size_of::<task_ctx>(),
        "task storage value of {} bytes, expected {}",
        b.len(),
        std::mem::size_of::<task_ctx>()
    );
    let feat: [u32; NR_FEATURES] = u32s(&b, offset_of!(task_ctx, feat));
    let dfeat: [u32; NR_FEATURES] = u32s(&b, offset_of!(task_ctx, dfeat));
    let last_action = b[offset_of!(task_ctx, action)] as usize;
    let last = json!({
        "class": last_action,
        "class_name": action_name(last_action.min(NR_ACTIONS - 1)),
        "generation": u64_at(&b, offset_of!(task_ctx, generation)),
        "features": dfeat,
        "slice_ns": u64_at(&b, offset_of!(task_ctx, slice_ns)),
        "request_ns": u64_at(&b, offset_of!(task_ctx, request_ns)),
        "decided": b[offset_of!(task_ctx, decided)] != 0,
    });
    let Some(model) = model else {
        bail!(
            "no model is installed (scx_arbor runs with --no-model): every task gets the \
             fallback row; task {pid} ({comm}) last got {}",
            action_name(last_action.min(NR_ACTIONS - 1))
        );
    };
    let flat = flatten(model, generation).context("laying out the live model")?;
    let (walk, path) =
        trace(&flat, &feat).map_err(|f| anyhow::anyhow!("the live model's walk failed: {f:?}"))?;
    let (slice_ns, request_ns) = action_row(actions, walk.class)?;
    Ok(json!({
        "pid": pid,
        "comm": comm,
        "policy": policy,
        "generation": generation,
        "features": feat,
        "path": path.iter().map(|s| json!({
            "tree": s.tree,
            "feature": s.feature,
            "value": s.value,
            "threshold": s.threshold,
            "left": s.left,
        })).collect::<Vec<_>>(),
        "walk_steps": walk.steps,
        "class": walk.class,
        "class_name": action_name(walk.class),
        "slice_ns": slice_ns,
        "request_ns": request_ns,
        "last": last,
    }))
}

fn us(ns: u64) -> String {
    format!("{} µs", ns / 1000)
}

fn feature_label(f: usize) -> String {
    let feat = &FEATURES[f];
    if feat.unit.is_empty() {
        feat.name.to_string()
    } else {
        format!("{} ({})", feat.name, feat.unit)
    }
}

fn num(v: &Value, key: &str) -> Result<u64> {
    v[key]
        .as_u64()
        .with_context(|| format!("the reply has no number {key:?}"))
}

fn features(v: &Value) -> Result<Vec<u64>> {
    let a = v
        .as_array()
        .context("the reply has no feature list")?
        .iter()
        .map(|x| x.as_u64().context("a feature is not a number"))
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(a.len() == NR_FEATURES, "{} features in the reply", a.len());
    Ok(a)
}

/// The reply of [`answer`] as text.
pub fn render(v: &Value) -> Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "task {} ({}), {}: live model generation {}",
        num(v, "pid")?,
        v["comm"].as_str().unwrap_or("?"),
        v["policy"].as_str().unwrap_or("?"),
        num(v, "generation")?
    );
    let _ = writeln!(out, "features now:");
    for (f, x) in features(&v["features"])?.iter().enumerate() {
        let _ = writeln!(out, "  {:<28} = {x}", feature_label(f));
    }
    let path = v["path"].as_array().context("the reply has no path")?;
    let _ = writeln!(
        out,
        "path of the live model ({} splits, {} nodes walked):",
        path.len(),
        num(v, "walk_steps")?
    );
    let mut tree = u64::MAX;
    for s in path {
        let t = num(s, "tree")?;
        if t != tree {
            let _ = writeln!(out, "  tree {t}:");
            tree = t;
        }
        let f = num(s, "feature")? as usize;
        anyhow::ensure!(f < NR_FEATURES, "feature {f} in the reply");
        let (value, threshold) = (num(s, "value")?, num(s, "threshold")?);
        let _ = if s["left"].as_bool() == Some(true) {
            writeln!(
                out,
                "    {} = {value} <= {threshold} → left",
                feature_label(f)
            )
        } else {
            writeln!(
                out,
                "    {} = {value} > {threshold} → right",
                feature_label(f)
            )
        };
    }
    let _ = writeln!(
        out,
        "class: {} → slice {}, request {}",
        v["class_name"].as_str().unwrap_or("?"),
        us(num(v, "slice_ns")?),
        us(num(v, "request_ns")?)
    );
    let last = &v["last"];
    let dfeat = features(&last["features"])?;
    let _ = writeln!(
        out,
        "last decision: {} (model generation {}) → slice {}, request {}{}\n  from {}",
        last["class_name"].as_str().unwrap_or("?"),
        num(last, "generation")?,
        us(num(last, "slice_ns")?),
        us(num(last, "request_ns")?),
        if last["decided"].as_bool() == Some(true) {
            ", covering the current burst"
        } else {
            ""
        },
        dfeat
            .iter()
            .enumerate()
            .map(|(f, x)| format!("{}={x}", FEATURES[f].name))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(out)
}
