#!/usr/bin/env python3
"""The table of benches/vm-baselines-grid.sh: for each ab JSON (one grid
cell) and each workload in it, the headline figure's median per arm, the
model's ratio to the heuristic and to --no-model, and the oracle's ratio to
the heuristic (the headroom), each with the Mann-Whitney p that `ab`
computed over the rounds. Ratios < 1 are better for latency figures.

Usage: baselines-table.py CELL.json...
"""
import json
import os
import sys

# workload key in the round -> (headline metric, short label)
HEADLINES = {
    "requests": ("req_short_p99_us", "short request p99 µs"),
    "fanout": ("fan_wakeup_p99_us", "worker wakeup p99 µs"),
    "phases": ("ph_wakeup_p99_us", "interactive wakeup p99 µs"),
    "latency": ("lat_p99_us", "wakeup p99 µs"),
    "schbench": ("sch_wakeup_p99_us", "wakeup p99 µs"),
    "messaging": ("msg_time_ms", "time ms"),
}
ARMS = ["eevdf", "arbor", "arbor-heuristic", "arbor-nomodel", "arbor-oracle"]
SHORT = {"eevdf": "EEVDF", "arbor": "model", "arbor-heuristic": "heuristic",
         "arbor-nomodel": "no-model", "arbor-oracle": "oracle"}


def median(v):
    v = sorted(v)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def comparison(summary, table, metric, baseline=None):
    for c in summary.get(table, []):
        if c["metric"] == metric and (baseline is None or c["baseline"] == baseline):
            return c
    return None


def fmt_ratio(c):
    if c is None or c.get("ratio") is None:
        return "–"
    p = c.get("p_value")
    sig = "" if p is None else f" (p {p:.2f})"
    return f"{c['ratio']:.2f}{sig}"


def fmt(v):
    if v is None:
        return "–"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def main(paths):
    print("| cell | workload | headline | " + " | ".join(SHORT[a] for a in ARMS)
          + " | model/heuristic | model/no-model | oracle/heuristic | rounds |")
    print("|" + "---|" * (len(ARMS) + 7))
    for path in paths:
        cell = os.path.splitext(os.path.basename(path))[0]
        try:
            d = json.load(open(path))
        except (OSError, ValueError) as e:
            print(f"| {cell} | (no result: {e}) |")
            continue
        rounds = d.get("rounds", [])
        summary = d.get("summary", {})
        nr_cpus = d.get("nr_cpus")
        for w, (metric, label) in HEADLINES.items():
            per_arm = {a: [r["metrics"][metric] for r in rounds
                           if r["arm"] == a and r.get(w) and r["metrics"].get(metric) is not None]
                       for a in ARMS}
            if not any(per_arm.values()):
                continue
            n = min((len(v) for v in per_arm.values() if v), default=0)
            meds = [fmt(median(per_arm[a])) for a in ARMS]
            mh = comparison(summary, "model_vs_heuristic", metric)
            mn = comparison(summary, "model_vs_nomodel", metric)
            oh = comparison(summary, "oracle_vs_heuristic", metric)
            print(f"| {cell} ({nr_cpus} CPUs) | {w} | {label} | " + " | ".join(meds)
                  + f" | {fmt_ratio(mh)} | {fmt_ratio(mn)} | {fmt_ratio(oh)} | {n} |")


if __name__ == "__main__":
    main(sys.argv[1:])
