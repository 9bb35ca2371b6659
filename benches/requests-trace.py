#!/usr/bin/env python3
"""Where a worker's wakeup waits, from the trace of `tests/vm/run.sh
req-trace` (block `trace`: gzip + base64 of tracefs with sched_waking,
sched_switch and sched_migrate_task).

For every wakeup of a requests worker (comm ab-req-worker): the time from
sched_waking to the sched_switch that runs it. Prints the count, p50, p99
and max, then for the --top N longest (default 12): the CPU that woke it
and its target, the CPU it ran on, every switch on every CPU in the wait
(µs from the waking: next task, previous task, its state — R+ preempted,
S asleep), and the worker's migrations in the wait. With a scheduler that
writes `xw path=P wait_us=W inel=I` lines (bpf_printk), also the long waits
counted per P and I.

Usage: benches/requests-trace.py CONSOLE_LOG [--top N]
"""
import collections
import re
import sys

import tracefs

SWITCH = re.compile(r'prev_comm=(.*?) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+) '
                    r'==> next_comm=(.*?) next_pid=(\d+)')


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    top = int(sys.argv[sys.argv.index('--top') + 1]) if '--top' in sys.argv else 12
    console = sys.argv[1]
    events = tracefs.events(tracefs.trace_lines(tracefs.console_text(console), console))
    paths = collections.defaultdict(list)
    waking, switches, migrations, waits = {}, collections.defaultdict(list), \
        collections.defaultdict(list), []
    for ts, cpu, comm, pid, name, rest in events:
        x = re.search(r'xw path=(\d+) wait_us=(\d+) inel=(\d)', rest)
        if x:
            paths[(int(x.group(1)), int(x.group(3)))].append(int(x.group(2)))
        if name == 'sched_waking':
            m = re.search(r'comm=(\S+) pid=(\d+).*target_cpu=(\d+)', rest)
            if m and m.group(1) == 'ab-req-worker':
                waking[int(m.group(2))] = (ts, cpu, comm, int(m.group(3)))
        elif name == 'sched_migrate_task':
            m = re.search(r'pid=(\d+).*orig_cpu=(\d+) dest_cpu=(\d+)', rest)
            if m:
                migrations[int(m.group(1))].append((ts, int(m.group(2)), int(m.group(3)), comm))
        elif name == 'sched_switch':
            m = SWITCH.search(rest)
            if not m:
                continue
            nxt = int(m.group(5))
            switches[cpu].append((ts, m.group(4), m.group(1), m.group(3)))
            if nxt in waking:
                w = waking.pop(nxt)
                waits.append(((ts - w[0]) * 1e6, w, ts, cpu, nxt))
    if not waits:
        sys.exit('no worker wakeups in the trace')
    vals = sorted(x[0] for x in waits)
    n = len(vals)
    print(f'{n} worker wakeups: p50 {vals[n // 2]:.0f} us, p99 {vals[int(n * 0.99)]:.0f} us, '
          f'max {vals[-1]:.0f} us')
    for wait, (t0, wcpu, wcomm, target), t1, cpu, pid in sorted(waits, key=lambda x: -x[0])[:top]:
        print(f'\nwait {wait:.0f} us: pid {pid} woken on cpu{wcpu} by {wcomm}, '
              f'target cpu{target}, ran on cpu{cpu}')
        for c in sorted(switches):
            seq = [f'{(t - t0) * 1e6:.0f} {nxt}<-{prev}({st})'
                   for t, nxt, prev, st in switches[c] if t0 - 0.002 <= t <= t1]
            print(f'  cpu{c}: ' + ', '.join(seq[:14]))
        mig = [f'{(t - t0) * 1e6:.0f} cpu{o}->cpu{d} by {comm}'
               for t, o, d, comm in migrations[pid] if t0 <= t <= t1]
        print('  migrations: ' + (', '.join(mig) or 'none'))
    if paths:
        print('\nlong waits by path (bpf_printk):')
        for (path, inel), ws in sorted(paths.items()):
            ws.sort()
            print(f'  path {path} placed {"ineligible" if inel else "eligible"}: '
                  f'{len(ws)}, median {ws[len(ws) // 2]} us')


if __name__ == '__main__':
    main()
