#!/usr/bin/env python3
"""Train a boosted burst-class model on a `scx_arbor --record` CSV and ship
it to scx_arbor.

    python3 -m venv ~/.cache/scx_arbor/pyenv
    ~/.cache/scx_arbor/pyenv/bin/pip install -r examples/python/requirements.txt
    sudo scx_arbor --record samples.csv          # run your workload, then Ctrl-C
    ~/.cache/scx_arbor/pyenv/bin/python examples/python/train_boosted.py \\
        --csv samples.csv --out boosted.onnx
    sudo scx_arbor swap boosted.onnx

What it does:
1. Reads the eight schema features and the `actual` class of every sample.
2. Trains a LightGBM classifier (one tree per class and round) with rounds and
   depth chosen to fit scx_arbor's walk budget: classes x rounds x
   (depth + 1) <= 512 nodes walked per decision, at most 128 trees.
3. Exports it to ONNX (onnxmltools, opset ai.onnx.ml <= 3, no ZipMap) and
   adds the schema metadata scx_arbor requires (arbor.schema_version,
   arbor.features).
4. Labels the held-out samples with onnxruntime and runs
   `scx_arbor model verify OUT --rows LABELLED.csv`: scx_arbor's integer
   walk must give onnxruntime's class on every row. The script exits with
   verify's exit status.
"""
import argparse
import csv
import os
import subprocess
import sys

import numpy as np

SCHEMA_VERSION = 1
FEATURES = [
    "last_burst_us",
    "ewma_burst_us",
    "ewma_sleep_us",
    "wake_rate_hz",
    "voluntary_permille",
    "weight",
    "nr_cpus_allowed",
    "runnable_load",
]
CLASS_NAMES = ["tiny", "short", "medium", "long"]
WALK_BUDGET = 512
MAX_TREES = 128


def read_record(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        sys.exit(f"{path}: no samples")
    missing = [c for c in FEATURES + ["actual"] if c not in rows[0]]
    if missing:
        sys.exit(f"{path}: no column {', '.join(missing)} (is it a scx_arbor --record CSV?)")
    x = np.array([[int(r[f]) for f in FEATURES] for r in rows], dtype=np.int64)
    y = np.array([int(r["actual"]) for r in rows], dtype=np.int64)
    return x, y


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csv", required=True, help="samples from scx_arbor --record")
    ap.add_argument("--out", required=True, help="ONNX file to write")
    ap.add_argument("--rounds", type=int, default=15, help="boosting rounds")
    ap.add_argument("--max-depth", type=int, default=3, help="depth of every tree")
    ap.add_argument("--holdout", type=float, default=0.2, help="share held out for checking")
    ap.add_argument("--scx-arbor", default="scx_arbor", help="the scx_arbor binary")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import lightgbm
    import onnxruntime as ort
    from onnxmltools.convert import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    x, y = read_record(a.csv)
    classes = sorted(set(int(c) for c in y))
    if len(classes) < 2:
        sys.exit(f"{a.csv}: every sample is class {CLASS_NAMES[classes[0]]}; record a varied workload")
    per_round = len(classes) if len(classes) > 2 else 1
    trees = per_round * a.rounds
    walk = trees * (a.max_depth + 1)
    if trees > MAX_TREES or walk > WALK_BUDGET:
        sys.exit(f"{a.rounds} rounds x {per_round} trees of depth {a.max_depth} walk {walk} nodes "
                 f"({trees} trees); scx_arbor's budget is {WALK_BUDGET} nodes and {MAX_TREES} "
                 f"trees: lower --rounds or --max-depth")

    rng = np.random.default_rng(a.seed)
    order = rng.permutation(len(x))
    n_test = max(1, int(len(x) * a.holdout))
    test, fit = order[:n_test], order[n_test:]
    model = lightgbm.LGBMClassifier(n_estimators=a.rounds, max_depth=a.max_depth,
                                    num_leaves=2 ** a.max_depth, verbose=-1,
                                    random_state=a.seed)
    model.fit(x[fit].astype(np.float32), y[fit])
    onx = convert_lightgbm(model, initial_types=[("input", FloatTensorType([None, len(FEATURES)]))],
                           zipmap=False, target_opset=15)
    for k, v in (("arbor.schema_version", str(SCHEMA_VERSION)),
                 ("arbor.features", ",".join(FEATURES))):
        p = onx.metadata_props.add()
        p.key, p.value = k, v
    with open(a.out, "wb") as fh:
        fh.write(onx.SerializeToString())

    sess = ort.InferenceSession(a.out, providers=["CPUExecutionProvider"])
    labels = sess.run(None, {sess.get_inputs()[0].name: x[test].astype(np.float32)})[0]
    labels = labels.reshape(-1)
    acc = float(np.mean(labels == y[test]))
    print(f"trained {trees} trees of depth <= {a.max_depth} on {len(fit)} samples; "
          f"held-out accuracy (onnxruntime) {acc:.3f} on {len(test)} samples")
    checked = os.path.splitext(a.out)[0] + ".verify.csv"
    with open(checked, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FEATURES + ["label"])
        for r, lab in zip(x[test], labels):
            w.writerow(list(r) + [int(lab)])
    print(f"wrote {a.out}; checking it with scx_arbor model verify", flush=True)
    rc = subprocess.call([a.scx_arbor, "model", "verify", a.out, "--rows", checked])
    sys.exit(rc)


if __name__ == "__main__":
    main()
