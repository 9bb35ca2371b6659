"""The report beside a model: JSON for machines, Markdown for people. The
scores are scx_arbor's cost-weighted score (cost.py) per host, per workload
and per host and workload; held-out hosts are the ones that count."""

import json

import numpy as np

from . import cost


def score_tables(matrices, roles):
    """matrices {(host, workload): m}; roles {host: 'train' | 'holdout'}."""
    per_host, per_workload, per_hw = {}, {}, []
    for (h, w), m in sorted(matrices.items()):
        per_host.setdefault(h, np.zeros_like(m))
        per_host[h] += m
        per_workload.setdefault((roles[h], w), np.zeros_like(m))
        per_workload[(roles[h], w)] += m
        per_hw.append({"host": h, "workload": w, "role": roles[h], **cost.summary(m)})
    by_role = {}
    for h, m in per_host.items():
        by_role.setdefault(roles[h], np.zeros_like(m))
        by_role[roles[h]] += m
    return {
        "holdout": cost.summary(by_role["holdout"]) if "holdout" in by_role else None,
        "train": cost.summary(by_role["train"]) if "train" in by_role else None,
        "per_host": {h: {"role": roles[h], **cost.summary(m)} for h, m in sorted(per_host.items())},
        "per_workload": [{"role": r, "workload": w, **cost.summary(m)}
                         for (r, w), m in sorted(per_workload.items())],
        "per_host_workload": per_hw,
    }


def fmt(v, digits=2):
    return "—" if v is None else f"{v:.{digits}f}"


def _score_row(name, s, extra=""):
    return (f"| {name} |{extra} {s['decisions']:,} | {fmt(s['score'])} | "
            f"{fmt(s['balanced_accuracy'])} | {fmt(s['accuracy'])} |")


def markdown(r):
    sc = r["scores"]
    lines = [f"# arbor_fleet model report: `{r['model']['path']}`", "",
             f"- model sha256 `{r['model']['sha256']}` ({r['model']['bytes']:,} bytes)",
             f"- created {r['created']} by arbor_fleet {r['arbor_fleet']} with {r['scx_arbor']}",
             f"- engine: {json.dumps(r['engine'], sort_keys=True)}",
             f"- trainer: {r['trainer']['name']} {r['trainer']['version']}, "
             f"{json.dumps(r['trainer']['params'], sort_keys=True)}",
             f"- fit: {r['fit']}; `scx_arbor model inspect`: {r['model']['summary']}",
             f"- samples: `{r['samples']['pattern']}`, {len(r['samples']['files'])} files, "
             f"{r['samples']['rows']:,} rows, {len(r['hosts'])} hosts",
             f"- trained on hosts {', '.join(r['train_hosts'])}; held out (leave-hosts-out): "
             f"{', '.join(r['holdout_hosts'])}",
             f"- verified: `scx_arbor model verify --rows` on {r['verify']['rows']:,} held-out rows "
             f"labelled by onnxruntime: {r['verify']['result']}",
             "",
             "Score: scx_arbor's cost-weighted score (100 = every decision right, 0 = each "
             "costs the most; `scx_arbor --help`, --learn-margin). Held-out hosts are the "
             "figure that counts; training hosts are shown for contrast.", "",
             "| set | decisions | score | balanced accuracy | accuracy |", "|---|---|---|---|---|"]
    for k in ("holdout", "train"):
        if sc[k]:
            lines.append(_score_row(k, sc[k]))
    lines += ["", "## Per host", "", "| host | role | decisions | score | balanced accuracy | accuracy |",
              "|---|---|---|---|---|---|"]
    for h, s in sc["per_host"].items():
        lines.append(_score_row(h, s, f" {s['role']} |"))
    lines += ["", "## Per workload", "", "| workload | role | decisions | score | balanced accuracy | accuracy |",
              "|---|---|---|---|---|---|"]
    for s in sc["per_workload"]:
        lines.append(_score_row(s["workload"], s, f" {s['role']} |"))
    lines += ["", "## Per host and workload", "",
              "| host | workload | role | decisions | score | balanced accuracy | accuracy |",
              "|---|---|---|---|---|---|---|"]
    for s in sc["per_host_workload"]:
        lines.append(_score_row(s["host"], s, f" {s['workload']} | {s['role']} |"))
    lines += ["", "## Timings (s)", "", "| step | s |", "|---|---|"]
    for k, v in r["timings_s"].items():
        lines.append(f"| {k} | {v:.2f} |")
    if r.get("distill"):
        lines += ["", "## Distillation (`scx_arbor model distill`)", "", "```", r["distill"].strip(), "```"]
    lines += ["", "## Training files", "", "| file | host | sha256 | bytes |", "|---|---|---|---|"]
    for f in r["samples"]["files"]:
        lines.append(f"| `{f['path']}` | {f['host']} | `{f['sha256'][:16]}…` | {f['bytes']:,} |")
    return "\n".join(lines) + "\n"


def write(r, json_path, md_path):
    with open(json_path, "w") as fh:
        json.dump(r, fh, indent=2, sort_keys=False)
        fh.write("\n")
    with open(md_path, "w") as fh:
        fh.write(markdown(r))
