//! Clocks and CPU burns shared by the workloads: the monotonic clock, the
//! calling thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`, which is the
//! kernel's `se.sum_exec_runtime` of the thread), absolute sleeps, bursts
//! of the thread's own CPU time, its kernel thread id and its scheduling
//! policy.

/// CLOCK_MONOTONIC, ns.
pub fn mono_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The calling thread's CPU time (user + system), ns.
pub fn thread_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sleep until the monotonic clock reads `deadline` (ns); a signal does
/// not cut the sleep short.
pub fn sleep_until_ns(deadline: u64) {
    let ts = libc::timespec {
        tv_sec: (deadline / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline % 1_000_000_000) as libc::c_long,
    };
    loop {
        // SAFETY: valid timespec; absolute sleep, no remainder needed.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if r != libc::EINTR {
            break;
        }
    }
}

/// Set the calling thread's timer slack to 1 ns, so that timed sleeps end
/// when asked (the default slack is 50 µs).
pub fn tight_timer_slack() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) on the calling thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
}

/// Burn `ns` of this thread's CPU time (however long that takes on the
/// wall clock); returns the thread's CPU clock at the end.
pub fn burn_cpu(ns: u64) -> u64 {
    let end = thread_cpu_ns() + ns;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    loop {
        let now = thread_cpu_ns();
        if now >= end {
            return now;
        }
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

/// The calling thread's kernel id (what BPF sees as `p->pid`).
pub fn gettid() -> u32 {
    // SAFETY: gettid cannot fail.
    unsafe { libc::gettid() as u32 }
}

/// Make the calling thread SCHED_OTHER (nice unchanged): an RT waker would
/// bypass sched_ext entirely and measure nothing.
pub fn ensure_sched_other() {
    let p = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 = calling thread; valid param.
    unsafe {
        if libc::sched_getscheduler(0) != libc::SCHED_OTHER {
            libc::sched_setscheduler(0, libc::SCHED_OTHER, &p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burn_takes_its_cpu_time() {
        let t0 = thread_cpu_ns();
        let end = burn_cpu(2_000_000);
        assert!(end >= t0 + 2_000_000, "{t0} -> {end}");
        assert!(mono_ns() > 0);
        assert_eq!(gettid() as i32, unsafe { libc::gettid() });
    }
}
