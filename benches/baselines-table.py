#!/usr/bin/env python3
"""The table of benches/vm-baselines-grid.sh: for each ab JSON (one grid
cell) and each workload in it, the headline figure's median per arm, the
model's ratio to the heuristic and to --no-model, and the oracle's ratio to
the heuristic (the headroom), each with the Mann-Whitney p that `ab`
computed over the rounds. Ratios < 1 are better for latency figures.

Arms beyond the five (e.g. the grid's `guarded` arm, or another
scheduler) get a column each with their median and their ratio of medians
to --no-model, with an exact two-sided Mann-Whitney p over the rounds
computed here.

Usage: baselines-table.py CELL.json...
"""
import itertools
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


def mann_whitney_p(a, b):
    """Exact two-sided Mann-Whitney p of samples a and b (all splits of the
    pooled values; ties count half)."""
    if not a or not b:
        return None
    pooled = a + b

    def u(x, y):
        return sum(1.0 if i > j else 0.5 if i == j else 0.0 for i in x for j in y)

    center = len(a) * len(b) / 2
    observed = abs(u(a, b) - center)
    hits = total = 0
    for idx in itertools.combinations(range(len(pooled)), len(a)):
        chosen = set(idx)
        x = [pooled[i] for i in idx]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        hits += abs(u(x, y) - center) >= observed - 1e-9
    return hits / total


def other_arms(docs):
    seen = []
    for d in docs:
        for r in d.get("rounds", []):
            a = r.get("arm")
            if a and a not in ARMS and a not in seen:
                seen.append(a)
    return seen


def main(paths):
    docs = []
    for path in paths:
        try:
            docs.append(json.load(open(path)))
        except (OSError, ValueError):
            pass
    others = other_arms(docs)
    print("| cell | workload | headline | " + " | ".join(SHORT[a] for a in ARMS)
          + " | model/heuristic | model/no-model | oracle/heuristic | "
          + "".join(f"{o} | {o}/no-model | " for o in others) + "rounds |")
    print("|" + "---|" * (len(ARMS) + 7 + 2 * len(others)))
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
                       for a in ARMS + others}
            if not any(per_arm.values()):
                continue
            n = min((len(v) for v in per_arm.values() if v), default=0)
            meds = [fmt(median(per_arm[a])) for a in ARMS]
            mh = comparison(summary, "model_vs_heuristic", metric)
            mn = comparison(summary, "model_vs_nomodel", metric)
            oh = comparison(summary, "oracle_vs_heuristic", metric)
            extra = ""
            for o in others:
                mo, base = median(per_arm[o]), median(per_arm["arbor-nomodel"])
                if mo is None or not base:
                    extra += f"{fmt(mo)} | – | "
                    continue
                p = mann_whitney_p(per_arm[o], per_arm["arbor-nomodel"])
                extra += f"{fmt(mo)} | {mo / base:.2f} (p {p:.2f}) | "
            print(f"| {cell} ({nr_cpus} CPUs) | {w} | {label} | " + " | ".join(meds)
                  + f" | {fmt_ratio(mh)} | {fmt_ratio(mn)} | {fmt_ratio(oh)} | {extra}{n} |")


if __name__ == "__main__":
    main(sys.argv[1:])
