"""The scx_arbor binary: every call arbor_fleet makes to it (schema,
annotate, verify, distill, inspect, --help). Nothing here re-implements what
the binary does; its output is parsed where arbor_fleet needs a figure."""

import os
import re
import shutil
import subprocess
from dataclasses import dataclass


class ArborError(RuntimeError):
    """scx_arbor refused or failed; the message carries its output."""


@dataclass(frozen=True)
class Schema:
    """What `scx_arbor schema` prints."""

    version: int
    features: tuple  # names, in schema order
    feature_max: int
    classes: tuple  # names, in index order
    class_bounds_us: tuple  # inclusive upper bound of every class but the last
    max_trees: int
    max_nodes: int
    max_leaves: int
    max_depth: int
    max_walk: int


def find_binary(explicit=None):
    """The scx_arbor binary: --scx-arbor, $ARBOR_BIN, or scx_arbor on PATH."""
    cand = explicit or os.environ.get("ARBOR_BIN") or shutil.which("scx_arbor")
    if not cand or not os.access(cand, os.X_OK):
        raise ArborError(
            f"no scx_arbor binary ({cand or 'not on PATH'}): pass --scx-arbor PATH or set ARBOR_BIN"
        )
    return os.path.abspath(cand)


class Arbor:
    def __init__(self, binary):
        self.binary = binary
        self._schema = None

    def run(self, *args, check=True):
        p = subprocess.run([self.binary, *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            raise ArborError(
                f"scx_arbor {' '.join(map(str, args))} exited {p.returncode}:\n{p.stdout}{p.stderr}"
            )
        return p

    def version(self):
        return self.run("--version").stdout.strip()

    def schema(self):
        if self._schema is None:
            self._schema = parse_schema(self.run("schema").stdout)
        return self._schema

    def annotate(self, src, dst, features, over_limits_ok=False):
        """Annotates; raises if scx_arbor refuses the result, except for its
        size limits when `over_limits_ok` (a model on its way to distill)."""
        out = self.run("model", "annotate", src, dst, "--features", ",".join(features)).stdout
        if over_limits_ok and "still refuses it: the model does not fit the BPF limits" in out:
            return out
        if "scx_arbor accepts it" not in out:
            raise ArborError(f"scx_arbor model annotate: {out.strip()}")
        return out

    def verify_rows(self, model, rows_csv):
        """`model verify MODEL --rows CSV`; raises unless every row agrees."""
        p = self.run("model", "verify", model, "--rows", rows_csv, check=False)
        text = p.stdout + p.stderr
        if p.returncode != 0 or "OK: the integer walker agrees on every row" not in text:
            raise ArborError(f"scx_arbor model verify {model} --rows {rows_csv} failed:\n{text}")
        return text

    def distill(self, big, csv, out, max_depth, min_samples_leaf, holdout=0.2, seed=1):
        return self.run("model", "distill", big, "--csv", csv, "--out", out,
                        "--max-depth", max_depth, "--min-samples-leaf", min_samples_leaf,
                        "--holdout", holdout, "--seed", seed).stdout

    def inspect_summary(self, model):
        return self.run("model", "inspect", model, "--summary").stdout

    def help_text(self):
        return self.run("--help").stdout


def parse_schema(text):
    head = re.search(r"feature schema v(\d+): (\d+) unsigned integer features, each at most (\d+)", text)
    if not head:
        raise ArborError(f"cannot read `scx_arbor schema` output:\n{text}")
    version, n, fmax = map(int, head.groups())
    feature_part, _, class_part = text.partition("\nclasses")
    names = tuple(re.findall(r"^\d+\s+([a-z_]+)\s", feature_part, re.M))
    classes, bounds = [], []
    for m in re.finditer(r"^(\d+)\s+([a-z]+)\s+(?:(\d+) \.\. (\d+) µs|> (\d+) µs)$", class_part, re.M):
        classes.append(m.group(2))
        if m.group(4) is not None:
            bounds.append(int(m.group(4)))
    lim = re.search(r"model limits: (\d+) trees, (\d+) nodes and (\d+) leaves in all, depth (\d+) "
                    r"\(at most (\d+) nodes walked per decision\)", text)
    if len(names) != n or not classes or not lim:
        raise ArborError(f"cannot read `scx_arbor schema` output:\n{text}")
    t, nodes, leaves, depth, walk = map(int, lim.groups())
    return Schema(version, names, fmax, tuple(classes), tuple(bounds), t, nodes, leaves, depth, walk)
