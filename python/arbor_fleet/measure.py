"""python -m arbor_fleet.measure --out RESULT.json -- COMMAND...

Runs COMMAND and samples the resident memory of its whole process tree
(the command, Dask workers, a Spark JVM: every descendant) every 0.2 s;
writes the wall time, the CPU time of the tree (two ways: wait4's, of
the descendants that were waited for, and the sum of every process's own
CPU time as last sampled), the peak of the tree's
summed RSS, the peak of the largest single process, the load average at the
end and the exit code. The figure for "memory stays
bounded" in benches/fleet-train.sh."""

import argparse
import json
import os
import subprocess
import sys
import time

import psutil


def tree_sample(proc, cpu_seen):
    """Summed and largest RSS of the tree now; records each live process's
    own CPU time in cpu_seen[(pid, start time)]."""
    procs = [proc]
    try:
        procs += proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    total = biggest = 0
    for p in procs:
        try:
            with p.oneshot():
                r = p.memory_info().rss
                c = p.cpu_times()
                cpu_seen[(p.pid, p.create_time())] = c.user + c.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += r
        biggest = max(biggest, r)
    return total, biggest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    t0 = time.monotonic()
    child = subprocess.Popen(cmd)
    proc = psutil.Process(child.pid)
    peak_total = peak_one = 0
    cpu_seen = {}
    while True:
        # wait4 reaps the child with the CPU time of every descendant it (and
        # they) waited for: the whole tree's CPU, which a busy host inflates
        # less than it inflates wall time.
        pid, status, ru = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        total, one = tree_sample(proc, cpu_seen)
        peak_total, peak_one = max(peak_total, total), max(peak_one, one)
        time.sleep(a.interval)
    child.returncode = os.waitstatus_to_exitcode(status)
    res = {"command": cmd, "rc": child.returncode, "wall_s": round(time.monotonic() - t0, 2),
           "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
           # The last CPU time sampled of every process seen in the tree: counts
           # descendants nobody waited for (a Spark JVM), misses their last
           # interval and processes shorter than one interval.
           "cpu_s_sampled": round(sum(cpu_seen.values()), 2),
           "load_avg_after": os.getloadavg(),
           "peak_tree_rss_mib": round(peak_total / 2**20, 1),
           "peak_single_process_rss_mib": round(peak_one / 2**20, 1),
           "sample_interval_s": a.interval}
    with open(a.out, "w") as fh:
        json.dump(res, fh, indent=2)
        fh.write("\n")
    print(json.dumps(res), file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
