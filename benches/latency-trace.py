#!/usr/bin/env python3
"""Where a wakeup's latency goes, from a tracefs trace of the latency mix.

Reads the console log of `tests/vm/run.sh latency-trace` (block `trace`,
gzip + base64) and prints, per arm (EEVDF, then scx_arbor: ab runs them in
that order, each with its own waker threads):
  - timer: hrtimer expiry delay of the wakers' sleeps
    (hrtimer_expire_entry now - hrtimer_start expires), i.e. how late the
    interrupt came; no scheduler acts before it
  - wake->run: sched_waking to the sched_switch that runs the waker
  - the wakeups over 1.5 ms, and how many of them are mostly timer delay
  - where the waking happened (idle CPU, the hog, another task)
  - the hogs' migrations and how often they were switched out runnable
  - each CPU's time by task kind over the last 2 s of the arm

Usage: benches/latency-trace.py CONSOLE_LOG
"""
import collections
import re
import sys

import tracefs


def trace_lines(console):
    text = tracefs.console_text(console)
    cfg = re.search(r'ARBOR-MARK config (.*)', text)
    wakers = int(re.search(r'wakers=(\d+)', cfg.group(1)).group(1)) if cfg else None
    return tracefs.trace_lines(text, console), wakers


def q(sorted_vals, f):
    if not sorted_vals:
        return float('nan')
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * f))]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    lines, nwakers = trace_lines(sys.argv[1])
    events = tracefs.events(lines)
    waker_pids = sorted({int(p) for e in events if e[4] == 'sched_waking'
                         for p in re.findall(r'comm=ab-waker pid=(\d+)', e[5])})
    hog_pids = sorted({int(p) for e in events
                       for p in re.findall(r'comm=ab-hog (?:prev_)?pid=(\d+)', e[5])} |
                      {e[3] for e in events if e[2] == 'ab-hog'})
    if not nwakers or len(waker_pids) < 2 * nwakers:
        sys.exit(f'expected 2 x {nwakers} waker threads, found {waker_pids}')
    arm_of = {}
    for i, p in enumerate(waker_pids[:2 * nwakers]):
        arm_of[p] = 'eevdf' if i < nwakers else 'arbor'
    hog_arm = {p: ('eevdf' if i < len(hog_pids) // 2 else 'arbor') for i, p in enumerate(hog_pids)}

    expires = {}     # waker pid -> expiry (ns) of its armed sleep
    fired = {}       # cpu -> hrtimer now (ns) of the latest hrtimer_wakeup expiry
    pending = {}     # waker pid -> (timer delay us, waking ts, waking comm)
    out = collections.defaultdict(list)
    migrations = collections.Counter()
    switched_out = collections.Counter()
    span = collections.defaultdict(lambda: [1e18, 0.0])
    for ts, cpu, comm, pid, name, rest in events:
        if pid in arm_of:
            s = span[arm_of[pid]]
            s[0], s[1] = min(s[0], ts), max(s[1], ts)
        if name == 'hrtimer_start' and pid in arm_of and 'hrtimer_wakeup' in rest:
            expires[pid] = int(re.search(r'expires=(\d+)', rest).group(1))
        elif name == 'hrtimer_expire_entry' and 'hrtimer_wakeup' in rest:
            fired[cpu] = int(re.search(r'now=(\d+)', rest).group(1))
        elif name == 'sched_waking':
            p = int(re.search(r' pid=(\d+)', rest).group(1))
            if p in arm_of and p in expires and cpu in fired:
                delay = (fired.pop(cpu) - expires.pop(p)) / 1e3
                kind = 'idle' if comm == '<idle>' else ('hog' if comm == 'ab-hog' else 'task')
                pending[p] = (delay, ts, kind)
        elif name == 'sched_migrate_task':
            p = int(re.search(r' pid=(\d+)', rest).group(1))
            if p in hog_arm:
                migrations[hog_arm[p]] += 1
        elif name == 'sched_switch':
            prev = int(re.search(r'prev_pid=(\d+)', rest).group(1))
            if prev in hog_arm and 'prev_state=R' in rest:
                switched_out[hog_arm[prev]] += 1
            nxt = int(re.search(r'next_pid=(\d+)', rest).group(1))
            if nxt in pending:
                delay, t0, kind = pending.pop(nxt)
                out[arm_of[nxt]].append((delay, (ts - t0) * 1e6, kind))

    busy = {}
    for arm, (a, b) in span.items():
        a = max(a, b - 2.0)
        cur, last = {}, {}
        acc = collections.defaultdict(collections.Counter)
        for ts, cpu, comm, pid, name, rest in events:
            if name != 'sched_switch':
                continue
            if cpu in cur and ts > a and last[cpu] < b:
                acc[cpu][cur[cpu]] += min(ts, b) - max(last[cpu], a)
            nxt = int(re.search(r'next_pid=(\d+)', rest).group(1))
            cur[cpu] = ('idle' if nxt == 0 else 'waker' if nxt in arm_of
                        else 'hog' if nxt in hog_arm else 'other')
            last[cpu] = ts
        busy[arm] = acc

    print('arm    wakeups | timer delay us p50 p90 p99 | wake->run us p50 p90 p99 | '
          'sum p50 p99 | >1.5ms (timer-dominated) | woken from idle/hog/task | '
          'hog migrations, switched out')
    for arm in ('eevdf', 'arbor'):
        rows = out[arm]
        t = sorted(r[0] for r in rows)
        w = sorted(r[1] for r in rows)
        s = sorted(r[0] + r[1] for r in rows)
        big = [r for r in rows if r[0] + r[1] > 1500]
        kinds = collections.Counter(r[2] for r in rows)
        print(f'{arm:6} {len(rows):7} | {q(t, .5):5.0f} {q(t, .9):5.0f} {q(t, .99):5.0f} | '
              f'{q(w, .5):5.0f} {q(w, .9):5.0f} {q(w, .99):5.0f} | {q(s, .5):5.0f} {q(s, .99):5.0f} | '
              f'{len(big)} ({sum(r[0] > r[1] for r in big)}) | '
              f'{kinds["idle"]}/{kinds["hog"]}/{kinds["task"]} | '
              f'{migrations[arm]}, {switched_out[arm]}')
    for arm in ('eevdf', 'arbor'):
        for cpu in sorted(busy.get(arm, {})):
            c = busy[arm][cpu]
            tot = sum(c.values()) or 1
            print(f'{arm:6} cpu {cpu}: ' + ', '.join(
                f'{k} {100 * v / tot:.1f}%' for k, v in c.most_common()))


if __name__ == '__main__':
    main()
