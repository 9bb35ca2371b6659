"""python -m arbor_fleet {train,crosshost,synth} ..."""

import argparse
import sys

from . import crosshost, synth, train
from .arbor import ArborError
from .samples import SampleError


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m arbor_fleet",
                                 description="Train scx_arbor models on many hosts' samples.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    train.add_arguments(sub.add_parser(
        "train", help="train, export, annotate, verify and report a fleet model"))
    crosshost.add_arguments(sub.add_parser(
        "crosshost", help="fleet model against each host's own model on unseen hosts"))
    synth.add_arguments(sub.add_parser(
        "synth", help="a large synthetic fleet drawn from recorded hosts (benchmarks)"))
    a = ap.parse_args(argv)
    try:
        {"train": train.run, "crosshost": crosshost.run, "synth": synth.run}[a.cmd](a)
    except (ArborError, SampleError, ValueError) as e:
        print(f"arbor_fleet {a.cmd}: error: {e}", file=sys.stderr)
        return 1
    return 0
