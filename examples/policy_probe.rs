//! policy_probe: workloads whose truth is measured by the kernel's own clocks,
//! for the scheduling-policy tests in the VM (tests/vm_policy.rs, scenarios
//! tests/vm/scenarios/policy-*.sh). Test tooling, not part of scx_arbor.
//!
//! Every CPU time below is the kernel's sum_exec_runtime of the task: its
//! own `CLOCK_THREAD_CPUTIME_ID`, or /proc/PID/schedstat for another task;
//! never a scheduler's bookkeeping.
//!
//! ```text
//! policy_probe bursts --spin-us 2000 --sleep-us 10000 --count N [--perturb]
//! policy_probe credit --sleep-ms 3000 --spin-ms 1000 [--rounds R] [--hogs N]
//! policy_probe hogs --secs S --nice N1,N2,... [--pin CPU|none]
//! ```
//!
//! Each mode prints one JSON line on stdout at the end (bursts first prints
//! `pid N`, the pid whose bursts are measured) and exits 0; 1 if a system
//! call it relies on failed (the JSON then says which); 2 on a usage or
//! setup error (a message on stderr).
//! Child processes die with their parent (PR_SET_PDEATHSIG), so a killed
//! probe leaves no spinning orphans behind.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::time::Duration;

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

fn usage() -> ! {
    eprintln!(
        "usage:\n  policy_probe bursts --spin-us US --sleep-us US --count N [--perturb]\n  \
         policy_probe credit --sleep-ms MS --spin-ms MS [--rounds R] [--hogs N]\n  \
         policy_probe hogs --secs S --nice N1,N2,... [--pin CPU|none]"
    );
    std::process::exit(2)
}

fn die(msg: &str) -> ! {
    eprintln!("policy_probe: {msg}");
    std::process::exit(2)
}

/// `--key value` options and `--flag` switches of one mode.
struct Opts {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Opts {
    /// Parse `args`; `keys` take a value, `flags` do not; anything else is an error.
    fn parse(args: &[String], keys: &[&str], flags: &[&str]) -> Opts {
        let mut o = Opts {
            values: HashMap::new(),
            flags: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a.strip_prefix("--").unwrap_or_else(|| usage());
            if flags.contains(&name) {
                o.flags.push(name.to_string());
            } else if keys.contains(&name) {
                let v = it
                    .next()
                    .unwrap_or_else(|| die(&format!("--{name} wants a value")));
                o.values.insert(name.to_string(), v.clone());
            } else {
                die(&format!("unknown option {a}"));
            }
        }
        o
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn str(&self, name: &str, default: Option<&str>) -> String {
        match (self.values.get(name), default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => d.to_string(),
            (None, None) => die(&format!("--{name} is required")),
        }
    }

    fn u64(&self, name: &str, default: Option<u64>) -> u64 {
        let d = default.map(|d| d.to_string());
        let v = self.str(name, d.as_deref());
        v.parse()
            .unwrap_or_else(|_| die(&format!("--{name} {v}: not an unsigned integer")))
    }
}

fn clock_ns(clk: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(clk, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({clk})");
    ts.tv_sec as u64 * NS_PER_S + ts.tv_nsec as u64
}

/// CPU time of the calling thread: the kernel's sum_exec_runtime.
fn cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Burn CPU until this thread's CPU clock reaches `target_ns`.
fn spin_to_cpu(target_ns: u64) -> u64 {
    loop {
        let now = cpu_ns();
        if now >= target_ns {
            return now;
        }
    }
}

/// Burn CPU until the monotonic clock reaches `end_ns`.
fn spin_to_wall(end_ns: u64) {
    while mono_ns() < end_ns {
        std::hint::spin_loop();
    }
}

/// nanosleep(2) (std's sleep is a nanosleep loop that resumes after signals).
fn sleep_ns(ns: u64) {
    std::thread::sleep(Duration::from_nanos(ns));
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
}

/// 0 or the errno of a failed call.
fn rc_of(rc: libc::c_int) -> i32 {
    if rc == 0 {
        0
    } else {
        errno()
    }
}

fn current_cpu() -> i32 {
    // SAFETY: no arguments.
    unsafe { libc::sched_getcpu() }
}

fn get_affinity() -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is the empty set; the kernel fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: set is a valid cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        die(&format!("sched_getaffinity: errno {}", errno()));
    }
    set
}

fn set_affinity(set: &libc::cpu_set_t) -> i32 {
    // SAFETY: set is a valid cpu_set_t of the size passed.
    rc_of(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) })
}

fn one_cpu(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET checks nothing but cpu < CPU_SETSIZE, which callers keep.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set
}

fn set_nice(nice: i32) -> i32 {
    // SAFETY: plain system call on this process.
    rc_of(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) })
}

/// (read end, write end) of a new pipe, as Files.
fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        die(&format!("pipe: errno {}", errno()));
    }
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) }
}

/// fork(2); in the child, run `child` and _exit with its code (never returns
/// there). The child is SIGKILLed if its parent dies.
fn fork_child(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: no arguments.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the probe is single-threaded when it forks.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        die(&format!("fork: errno {}", errno()));
    }
    if pid == 0 {
        // SAFETY: plain prctl on this process.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        // SAFETY: no arguments.
        if unsafe { libc::getppid() } != parent {
            // The parent died before the prctl took effect.
            // SAFETY: leave at once.
            unsafe { libc::_exit(9) };
        }
        let code = child();
        // SAFETY: leave at once: no destructors, atexit handlers or stdio
        // flushes of the parent's state.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// waitpid(2); the child's exit code (128 + signal if it was killed).
fn wait_child(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid int to write to.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if rc < 0 && errno() != libc::EINTR {
            die(&format!("waitpid {pid}: errno {}", errno()));
        }
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}

fn read_all(mut f: File) -> String {
    let mut s = String::new();
    f.read_to_string(&mut s)
        .unwrap_or_else(|e| die(&format!("reading a pipe: {e}")));
    s
}

/// write(2) of one short message (<= PIPE_BUF: atomic on a pipe).
fn send(f: &mut File, msg: &str) {
    assert!(msg.len() <= libc::PIPE_BUF, "message too long for a pipe");
    f.write_all(msg.as_bytes())
        .unwrap_or_else(|e| die(&format!("writing a pipe: {e}")));
}

fn json_list<T: std::fmt::Display>(v: &[T]) -> String {
    let items: Vec<String> = v.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(","))
}

fn json_str_list(v: &[String]) -> String {
    let items: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", items.join(","))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = args.split_first() else {
        usage()
    };
    let code = match mode.as_str() {
        "bursts" => bursts(&Opts::parse(
            rest,
            &["spin-us", "sleep-us", "count"],
            &["perturb"],
        )),
        "credit" => credit(&Opts::parse(
            rest,
            &["sleep-ms", "spin-ms", "rounds", "moment-ms", "hogs"],
            &[],
        )),
        "hogs" => hogs(&Opts::parse(rest, &["secs", "nice", "pin"], &[])),
        _ => usage(),
    };
    std::process::exit(code)
}

/// One burst of the bursts worker, as its own clocks saw it.
struct Burst {
    /// CPU time from the wakeup (the first burst: from the fork) to the end
    /// of the spin.
    cpu_ns: u64,
    /// CPU time charged to the worker across the sleep that follows (from
    /// the end of the spin to the first instruction after the wakeup): the
    /// kernel's work to put it to sleep and to wake it up, on either side
    /// of the sleep.
    gap_cpu_ns: u64,
    /// CLOCK_MONOTONIC at the first instruction after the wakeup (the
    /// first burst: the worker's first instruction).
    start_ns: u64,
    /// CLOCK_MONOTONIC at the end of the spin (the sleep follows).
    end_ns: u64,
    event: String,
}

/// bursts: a forked worker runs `count` bursts of exactly `spin-us` of its
/// own CPU time, each followed by a `sleep-us` nanosleep; then a last short
/// burst sends the results and exits (the exit burst, not measured). The
/// first burst is timed from the fork (a new thread's CPU clock starts at 0
/// there), so the whole of it, fork return included, is measured.
///
/// A burst's own CPU time misses the kernel's work just after its wakeup
/// and just before its sleep, which the scheduler sees as part of the
/// burst: each burst's gap_cpu_us says how much CPU the worker was charged
/// across the sleep after it (usually a few µs; more if the VM's vCPU
/// stalled in there).
///
/// --perturb: on burst k with k % 3 == 1, a third of the way in, the worker
/// pins itself to the CPU it runs on, and two thirds in raises its nice by
/// one; on burst k % 3 == 2 it undoes both at the same points. Each is a
/// dequeue and enqueue of the running task that is not a sleep.
fn bursts(o: &Opts) -> i32 {
    let spin_ns = o.u64("spin-us", None) * NS_PER_US;
    let sleep = o.u64("sleep-us", None) * NS_PER_US;
    let count = o.u64("count", None);
    let perturb = o.flag("perturb");
    if count == 0 || spin_ns == 0 {
        die("--count and --spin-us must be positive");
    }

    let (rd, mut wr) = pipe();
    let worker = fork_child(|| {
        let mut start_ns = mono_ns();
        let all = get_affinity();
        let mut out: Vec<Burst> = Vec::with_capacity(count as usize);
        let mut failures = Vec::new();
        let mut start = 0; // the first burst starts at fork: CPU clock 0
        for k in 0..count {
            let mut event = String::from("-");
            if perturb && k % 3 != 0 {
                let (first, second) = if k % 3 == 1 {
                    ("pin", "nice+1")
                } else {
                    ("unpin", "nice-1")
                };
                spin_to_cpu(start + spin_ns / 3);
                let cpu = current_cpu();
                let rc = if k % 3 == 1 {
                    set_affinity(&one_cpu(cpu.max(0) as usize))
                } else {
                    set_affinity(&all)
                };
                if rc != 0 {
                    failures.push(format!("burst {k}: {first}: errno {rc}"));
                }
                spin_to_cpu(start + 2 * spin_ns / 3);
                let rc = set_nice(if k % 3 == 1 { 1 } else { 0 });
                if rc != 0 {
                    failures.push(format!("burst {k}: {second}: errno {rc}"));
                }
                event = format!("{first}@cpu{cpu},{second}");
            }
            let end = spin_to_cpu(start + spin_ns);
            let end_ns = mono_ns();
            let before_sleep = cpu_ns();
            sleep_ns(sleep);
            let after_ns = mono_ns();
            let after = cpu_ns();
            out.push(Burst {
                cpu_ns: end - start,
                gap_cpu_ns: after - before_sleep,
                start_ns,
                end_ns,
                event,
            });
            start_ns = after_ns;
            start = after;
        }
        // The exit burst: a pipe write with nobody waiting on the read end
        // wakes nobody and does not block (far below the pipe's capacity).
        let field = |f: &dyn Fn(&Burst) -> u64| json_list(&out.iter().map(f).collect::<Vec<_>>());
        let events: Vec<String> = out.iter().map(|b| b.event.clone()).collect();
        let msg = format!(
            "\"bursts_cpu_us\":{},\"gap_cpu_us\":{},\"start_ns\":{},\"end_ns\":{},\"exit_start_ns\":{start_ns},\"events\":{},\"failures\":{}",
            field(&|b| b.cpu_ns / NS_PER_US),
            field(&|b| b.gap_cpu_ns / NS_PER_US),
            field(&|b| b.start_ns),
            field(&|b| b.end_ns),
            json_str_list(&events),
            json_str_list(&failures)
        );
        let _ = wr.write_all(msg.as_bytes());
        i32::from(!failures.is_empty())
    });
    drop(wr);
    println!("pid {worker}");
    let _ = std::io::stdout().flush();
    let rc = wait_child(worker);
    let body = read_all(rd);
    if body.is_empty() {
        die(&format!(
            "the bursts worker {worker} sent nothing (exit {rc})"
        ));
    }
    println!(
        "{{\"mode\":\"bursts\",\"pid\":{worker},\"spin_us\":{},\"sleep_us\":{},\"count\":{count},\"sleeps\":{count},\"perturb\":{perturb},\"worker_rc\":{rc},{body}}}",
        spin_ns / NS_PER_US,
        sleep / NS_PER_US,
    );
    i32::from(rc != 0)
}

/// Total CPU time (ns) of task `pid`: the first field of
/// /proc/PID/schedstat, the kernel's sum_exec_runtime.
fn task_cpu_ns(pid: libc::pid_t) -> u64 {
    let path = format!("/proc/{pid}/schedstat");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| die(&format!("cannot read {path}")))
}

/// credit: child A runs a moment, then `rounds` times: sleeps `sleep-ms`;
/// on waking forks a fresh child B at once; both burn CPU until `spin-ms`
/// of wall time after A woke. Reports each one's CPU time (its own clock)
/// in that window, per round and summed, and the ratio A/B.
///
/// --hogs N: N nice-0 busy loops started before A (their CPU time in each
/// window is read from /proc/PID/schedstat by A), so the woken sleeper and
/// the fresh task can be compared with tasks that never slept too.
fn credit(o: &Opts) -> i32 {
    let sleep = o.u64("sleep-ms", None) * NS_PER_MS;
    let spin = o.u64("spin-ms", None) * NS_PER_MS;
    let rounds = o.u64("rounds", Some(1)) as usize;
    let moment = o.u64("moment-ms", Some(20)) * NS_PER_MS;
    let nr_hogs = o.u64("hogs", Some(0)) as usize;
    if rounds == 0 || spin == 0 {
        die("--rounds and --spin-ms must be positive");
    }

    let hogs: Vec<libc::pid_t> = (0..nr_hogs)
        .map(|_| {
            fork_child(|| {
                spin_to_wall(u64::MAX);
                0
            })
        })
        .collect();
    let (rd, mut wr) = pipe();
    let a = fork_child(|| {
        spin_to_wall(mono_ns() + moment);
        for r in 0..rounds {
            let before = mono_ns();
            sleep_ns(sleep);
            let t0 = mono_ns();
            let c0 = cpu_ns();
            let end = t0 + spin;
            let mut wb = wr.try_clone().unwrap_or_else(|e| die(&format!("dup: {e}")));
            let b = fork_child(move || {
                let started = mono_ns();
                spin_to_wall(end);
                // A new thread's CPU clock started at 0 when it was forked.
                let used = cpu_ns();
                send(
                    &mut wb,
                    &format!("b {r} {} {}\n", used, started.saturating_sub(t0)),
                );
                0
            });
            let h0: Vec<u64> = hogs.iter().map(|&h| task_cpu_ns(h)).collect();
            spin_to_wall(end);
            let used = cpu_ns() - c0;
            let h1: Vec<u64> = hogs.iter().map(|&h| task_cpu_ns(h)).collect();
            let late = t0.saturating_sub(before + sleep);
            let brc = wait_child(b);
            let hog_ns: Vec<String> = h0
                .iter()
                .zip(&h1)
                .map(|(x, y)| (y - x).to_string())
                .collect();
            send(
                &mut wr,
                &format!("a {r} {used} {late} {brc} {}\n", hog_ns.join(" ")),
            );
        }
        0
    });
    drop(wr);
    let text = read_all(rd);
    let arc = wait_child(a);
    for &h in &hogs {
        // SAFETY: plain kill of our own child.
        unsafe { libc::kill(h, libc::SIGKILL) };
        wait_child(h);
    }

    let mut a_ns = vec![None; rounds];
    let mut b_ns = vec![None; rounds];
    let mut a_late = vec![0u64; rounds];
    let mut b_delay = vec![0u64; rounds];
    let mut hog_ns = vec![Vec::new(); rounds];
    let mut bad = arc != 0;
    for line in text.lines() {
        let f: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        match (line.split_whitespace().next(), f.as_slice()) {
            (Some("a"), [r, used, late, brc, hogs @ ..])
                if (*r as usize) < rounds && hogs.len() == nr_hogs =>
            {
                let r = *r as usize;
                a_ns[r] = Some(*used);
                a_late[r] = *late;
                hog_ns[r] = hogs.to_vec();
                bad |= *brc != 0;
            }
            (Some("b"), [r, used, delay]) if (*r as usize) < rounds => {
                b_ns[*r as usize] = Some(*used);
                b_delay[*r as usize] = *delay;
            }
            _ => die(&format!("credit: bad report line {line:?}")),
        }
    }
    let mut per_round = Vec::new();
    let (mut sa, mut sb, mut sh) = (0u64, 0u64, 0u64);
    for r in 0..rounds {
        let (Some(x), Some(y)) = (a_ns[r], b_ns[r]) else {
            die(&format!(
                "credit: round {r} is missing a report (A exit {arc})"
            ));
        };
        sa += x;
        sb += y;
        sh += hog_ns[r].iter().sum::<u64>();
        let hog_us: Vec<u64> = hog_ns[r].iter().map(|h| h / NS_PER_US).collect();
        per_round.push(format!(
            "{{\"a_cpu_us\":{},\"b_cpu_us\":{},\"hogs_cpu_us\":{},\"ratio\":{:.4},\"a_wake_late_us\":{},\"b_start_delay_us\":{}}}",
            x / NS_PER_US,
            y / NS_PER_US,
            json_list(&hog_us),
            x as f64 / y.max(1) as f64,
            a_late[r] / NS_PER_US,
            b_delay[r] / NS_PER_US
        ));
    }
    // Mean CPU time of one hog over all windows.
    let hog_mean = if nr_hogs > 0 {
        sh as f64 / nr_hogs as f64
    } else {
        0.0
    };
    println!(
        "{{\"mode\":\"credit\",\"sleep_ms\":{},\"spin_ms\":{},\"hogs\":{nr_hogs},\"rounds\":[{}],\"a_cpu_us\":{},\"b_cpu_us\":{},\"hog_mean_cpu_us\":{},\"ratio\":{:.4},\"a_over_hog\":{:.4},\"a_rc\":{arc}}}",
        sleep / NS_PER_MS,
        spin / NS_PER_MS,
        per_round.join(","),
        sa / NS_PER_US,
        sb / NS_PER_US,
        (hog_mean / NS_PER_US as f64).round(),
        sa as f64 / sb.max(1) as f64,
        if hog_mean > 0.0 { sa as f64 / hog_mean } else { 0.0 }
    );
    i32::from(bad)
}

/// hogs: one busy-loop child per nice value (set in the child), all pinned
/// to one CPU with --pin CPU; they start together and stop at the same
/// wall-clock instant `secs` later. Reports each child's CPU time in that
/// window, read from its own clock.
fn hogs(o: &Opts) -> i32 {
    let secs = o.u64("secs", None);
    let nices: Vec<i32> = o
        .str("nice", None)
        .split(',')
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| die(&format!("--nice: {n:?} is not an integer")))
        })
        .collect();
    let pin = o.str("pin", Some("none"));
    let pin_cpu: Option<usize> = match pin.as_str() {
        "none" => None,
        c => Some(
            c.parse()
                .ok()
                .filter(|&c: &usize| c < libc::CPU_SETSIZE as usize)
                .unwrap_or_else(|| die(&format!("--pin: {c:?} is not a CPU or none"))),
        ),
    };

    let (ready_rd, ready_wr) = pipe();
    let (go_rd, mut go_wr) = pipe();
    let (res_rd, res_wr) = pipe();
    let mut pids = Vec::new();
    for (i, &nice) in nices.iter().enumerate() {
        let (mut ready, mut go, mut res) = (
            ready_wr.try_clone().unwrap(),
            go_rd.try_clone().unwrap(),
            res_wr.try_clone().unwrap(),
        );
        pids.push(fork_child(move || {
            let nice_rc = set_nice(nice);
            let pin_rc = pin_cpu.map_or(0, |c| set_affinity(&one_cpu(c)));
            send(&mut ready, "r");
            let mut end = [0u8; 8];
            if go.read_exact(&mut end).is_err() {
                return 3;
            }
            let c0 = cpu_ns();
            let m0 = mono_ns();
            spin_to_wall(u64::from_ne_bytes(end));
            let used = cpu_ns() - c0;
            let wall = mono_ns() - m0;
            // SAFETY: no arguments.
            let pid = unsafe { libc::getpid() };
            send(
                &mut res,
                &format!(
                    "{i} {pid} {nice_rc} {pin_rc} {used} {wall} {}\n",
                    current_cpu()
                ),
            );
            i32::from(nice_rc != 0 || pin_rc != 0)
        }));
    }
    drop((ready_wr, go_rd, res_wr));
    let mut ready = vec![0u8; nices.len()];
    (&ready_rd)
        .read_exact(&mut ready)
        .unwrap_or_else(|e| die(&format!("hogs: a child never got ready: {e}")));
    let end = mono_ns() + secs * NS_PER_S;
    let go: Vec<u8> = (0..nices.len()).flat_map(|_| end.to_ne_bytes()).collect();
    go_wr
        .write_all(&go)
        .unwrap_or_else(|e| die(&format!("hogs: starting the children: {e}")));
    let rcs: Vec<i32> = pids.iter().map(|&p| wait_child(p)).collect();
    let text = read_all(res_rd);

    let mut rows = vec![None; nices.len()];
    for line in text.lines() {
        let f: Vec<i64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        match f.as_slice() {
            [i, pid, nice_rc, pin_rc, used, wall, cpu] if (*i as usize) < nices.len() => {
                rows[*i as usize] = Some(format!(
                    "{{\"pid\":{pid},\"nice\":{},\"nice_errno\":{nice_rc},\"pin_errno\":{pin_rc},\"cpu_us\":{},\"wall_us\":{},\"last_cpu\":{cpu},\"rc\":{}}}",
                    nices[*i as usize],
                    used / NS_PER_US as i64,
                    wall / NS_PER_US as i64,
                    rcs[*i as usize]
                ));
            }
            _ => die(&format!("hogs: bad report line {line:?}")),
        }
    }
    let mut out = Vec::new();
    for (i, r) in rows.into_iter().enumerate() {
        out.push(r.unwrap_or_else(|| {
            die(&format!(
                "hogs: child {i} (nice {}) sent no report (exit {})",
                nices[i], rcs[i]
            ))
        }));
    }
    println!(
        "{{\"mode\":\"hogs\",\"secs\":{secs},\"pin\":\"{pin}\",\"hogs\":[{}]}}",
        out.join(",")
    );
    i32::from(rcs.iter().any(|&rc| rc != 0))
}
