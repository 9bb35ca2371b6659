"""scx_arbor's cost-weighted score, re-implemented from its definition
(src/learn/cost.rs, printed by `scx_arbor --help` under --learn-margin).

A mis-prediction above the actual class delays a latency-sensitive task:
2 per class of distance. One below it costs extra preemptions: 1 per class.
score = 100 x (1 - mean cost per decision / 6): 100 when every decision is
right, 0 when each costs the most. Balanced accuracy is the mean, over the
actual classes that occur, of the share predicted right.

Counts are a 4x4 matrix m[predicted][actual], the layout of cost.rs's
Confusion. Predictions outside the classes (the fallback row) are not
decisions and are left out, as cost.rs does.
"""

import re

import numpy as np

NR_CLASSES = 4
# COST[predicted][actual]
COST = np.array([[2 * (p - a) if p > a else a - p for a in range(NR_CLASSES)]
                 for p in range(NR_CLASSES)], dtype=np.int64)
MAX_COST = int(COST.max())


def confusion(predicted, actual):
    """m[predicted][actual] from two integer arrays (out-of-range pairs dropped)."""
    p = np.asarray(predicted, dtype=np.int64).ravel()
    a = np.asarray(actual, dtype=np.int64).ravel()
    ok = (p >= 0) & (p < NR_CLASSES) & (a >= 0) & (a < NR_CLASSES)
    return np.bincount(p[ok] * NR_CLASSES + a[ok],
                       minlength=NR_CLASSES * NR_CLASSES).reshape(NR_CLASSES, NR_CLASSES)


def mean_cost(m):
    m = np.asarray(m)
    n = int(m.sum())
    return None if n == 0 else float((m * COST).sum()) / n


def score(m):
    """Cost-weighted score in points, or None without decisions."""
    c = mean_cost(m)
    return None if c is None else 100.0 * (1.0 - c / MAX_COST)


def balanced_accuracy(m):
    m = np.asarray(m)
    per_actual = m.sum(axis=0)
    recalls = [m[a, a] / per_actual[a] for a in range(NR_CLASSES) if per_actual[a] > 0]
    return None if not recalls else 100.0 * float(np.mean(recalls))


def accuracy(m):
    m = np.asarray(m)
    n = int(m.sum())
    return None if n == 0 else 100.0 * float(np.trace(m)) / n


def summary(m):
    """The figures a report shows for one set of decisions."""
    m = np.asarray(m)
    return {
        "decisions": int(m.sum()),
        "score": score(m),
        "balanced_accuracy": balanced_accuracy(m),
        "accuracy": accuracy(m),
        "confusion_predicted_by_actual": m.astype(int).tolist(),
    }


def parse_help_table(help_text):
    """COST and MAX_COST as `scx_arbor --help` prints them (for the tests:
    the matrix here must be the binary's)."""
    rows = {}
    for m in re.finditer(r"^\s*\|\s*(tiny|short|medium|long)\s*\|((?:\s*\d+\s*\|){4})\s*$",
                         help_text, re.M):
        rows[m.group(1)] = [int(v) for v in m.group(2).split("|") if v.strip()]
    names = ["tiny", "short", "medium", "long"]
    if sorted(rows) != sorted(names):
        raise ValueError("no cost table in the help text")
    mx = re.search(r"mean cost per decision / (\d+)\)", help_text)
    if not mx:
        raise ValueError("no score definition in the help text")
    return np.array([rows[n] for n in names], dtype=np.int64), int(mx.group(1))
