"""`arbor_fleet crosshost`: does a fleet model beat each host's own model on
hosts neither was trained on? For every target host T: the fleet model is
trained on all other hosts, each other host H's own model on H alone, with
the same trainer and parameters; all are exported to ONNX and scored with
onnxruntime on every row of T. In-process (the samples of a test fleet fit
in memory); the figures are the cost-weighted score of cost.py."""

import json

import numpy as np


from . import cost, evaluate, export, samples, trainers
from .arbor import Arbor, find_binary
from .engines.local import LocalEngine


BOOTSTRAP = 2000
BLOCK_NS = 1_000_000_000


def _row_costs(eng, onx, rows, features):
    pred = evaluate.predict(evaluate.session(onx.SerializeToString()), rows[features].to_numpy())
    return cost.COST[pred, rows["actual"].to_numpy().astype(np.int64)]


def lead_interval(fleet_cost, own_cost, blocks, seed=0):
    """Fleet score minus own score (points) and its 95% paired block-bootstrap interval."""
    _, b = np.unique(blocks, return_inverse=True)
    nb = b.max() + 1
    n = np.bincount(b, minlength=nb).astype(np.float64)
    d = np.bincount(b, weights=(own_cost - fleet_cost).astype(np.float64), minlength=nb)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, nb, (BOOTSTRAP, nb))
    leads = 100.0 / cost.MAX_COST * d[picks].sum(axis=1) / n[picks].sum(axis=1)
    point = 100.0 / cost.MAX_COST * d.sum() / n.sum()
    lo, hi = np.percentile(leads, [2.5, 97.5])
    return float(point), float(lo), float(hi), int(nb)


def _score(eng, onx, hosts):
    c = eng.counts(onx.SerializeToString(), hosts)
    m = sum(evaluate.matrices(c).values())
    return cost.summary(m)


def _model(eng, hosts, params, n_features):
    cc = eng.df[eng.df["host"].isin(hosts)]["actual"].unique()
    classes = sorted(int(c) for c in cc)
    if len(classes) < 2:
        return None, classes
    m = eng.train(hosts, classes, params)
    return export.relabel(export.to_onnx(m, params.trainer, n_features), classes), classes


def run(a):
    schema = Arbor(find_binary(a.scx_arbor)).schema()
    eng = LocalEngine(threads=a.threads)
    files = samples.discover(a.samples, schema)
    schema = samples.common_schema(files, schema)
    eng.schema = schema
    eng.df = samples.read_all(files, schema, keep=("ts_ns",))
    feats = list(schema.features)
    hosts = sorted(eng.df["host"].unique())
    if len(hosts) < 3:
        raise ValueError(f"crosshost needs at least 3 hosts (a fleet of 2 beside the target), have {hosts}")
    params = trainers.Params(trainer=a.trainer, rounds=a.rounds, max_depth=a.max_depth,
                             learning_rate=a.learning_rate, seed=a.seed, threads=a.threads)
    nf = len(schema.features)
    own = {h: _model(eng, [h], params, nf) for h in hosts}
    rows = []
    for t in hosts:
        others = [h for h in hosts if h != t]
        fleet, _ = _model(eng, others, params, nf)
        fs = _score(eng, fleet, [t])
        entry = {"target": t, "rows": fs["decisions"], "fleet": fs, "own": {}}
        trows = eng.df[eng.df["host"] == t]
        blocks = trows["ts_ns"].to_numpy() // BLOCK_NS
        fleet_cost = _row_costs(eng, fleet, trows, feats)
        for h in others:
            onx, classes = own[h]
            if onx is None:
                entry["own"][h] = {"score": None, "note": f"{h} holds only class {classes}"}
                continue
            entry["own"][h] = _score(eng, onx, [t])
            lead, lo, hi, nb = lead_interval(fleet_cost, _row_costs(eng, onx, trows, feats), blocks, a.seed)
            entry["own"][h]["fleet_lead"] = {"points": lead, "ci95": [lo, hi], "blocks": nb}
        beaten = [h for h, s in entry["own"].items()
                  if s["score"] is not None and s["score"] >= fs["score"]]
        entry["fleet_significantly_better_than"] = [
            h for h, s in entry["own"].items() if "fleet_lead" in s and s["fleet_lead"]["ci95"][0] > 0]
        entry["fleet_significantly_worse_than"] = [
            h for h, s in entry["own"].items() if "fleet_lead" in s and s["fleet_lead"]["ci95"][1] < 0]
        entry["fleet_beats_every_own_model"] = not beaten
        entry["own_models_at_least_as_good"] = beaten
        rows.append(entry)
    result = {"samples": a.samples, "trainer": a.trainer, "params": params.__dict__,
              "hosts": hosts, "targets": rows}
    with open(a.out, "w") as fh:
        json.dump(result, fh, indent=2)
        fh.write("\n")
    md = markdown(result)
    with open(a.out[:-5] + ".md" if a.out.endswith(".json") else a.out + ".md", "w") as fh:
        fh.write(md)
    print(md, end="")
    return result


def markdown(r):
    hosts = r["hosts"]
    lines = ["Own models' scores on the target, with the fleet model's lead over each "
             "(points; 95% paired block-bootstrap interval over 1 s blocks).", "",
             "| target host (never trained on) | rows | fleet model | " +
             " | ".join(f"{h}'s own model" for h in hosts) + " | fleet best? |",
             "|---|---|---|" + "---|" * len(hosts) + "---|"]
    for e in r["targets"]:
        cells = []
        for h in hosts:
            if h == e["target"]:
                cells.append("(target)")
            else:
                o = e["own"][h]
                if o["score"] is None:
                    cells.append("—")
                else:
                    ld = o["fleet_lead"]
                    cells.append(f"{o['score']:.2f} (fleet {ld['points']:+.2f}, 95% CI "
                                 f"[{ld['ci95'][0]:+.2f}, {ld['ci95'][1]:+.2f}])")
        verdict = "yes" if e["fleet_beats_every_own_model"] else \
            "no: " + ", ".join(e["own_models_at_least_as_good"]) + " at least as good"
        sig_b, sig_w = e["fleet_significantly_better_than"], e["fleet_significantly_worse_than"]
        verdict += "; significantly better than " + (", ".join(sig_b) or "none")
        verdict += ", worse than " + (", ".join(sig_w) or "none")
        lines.append(f"| {e['target']} | {e['rows']:,} | {e['fleet']['score']:.2f} | "
                     + " | ".join(cells) + f" | {verdict} |")
    return "\n".join(lines) + "\n"


def add_arguments(p):
    p.add_argument("--samples", required=True)
    p.add_argument("--trainer", choices=trainers.TRAINERS, default="xgboost")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--max-depth", type=int, default=5)
    p.add_argument("--learning-rate", type=float, default=0.3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="JSON result; the Markdown table goes beside it")
    p.add_argument("--scx-arbor")


