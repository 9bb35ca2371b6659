"""The in-process engine with LightGBM, and a model beyond the walk budget
distilled by `scx_arbor model distill`."""

import json

from arbor_fleet import export
from conftest import run_cli


def test_lightgbm_local_trains_and_verifies(arbor, arbor_bin, fixture_glob, tmp_path):
    out = tmp_path / "lgb.onnx"
    p = run_cli(["train", "--samples", fixture_glob, "--engine", "local", "--trainer", "lightgbm",
                 "--rounds", "15", "--max-depth", "3", "--holdout-hosts", "host-b",
                 "--out", str(out)], arbor_bin)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.load(open(tmp_path / "lgb.report.json"))
    assert r["trainer"]["name"] == "lightgbm" and r["fit"] == "budget"
    assert "trees: 60 " in arbor.inspect_summary(out)
    assert "OK" in arbor.verify_rows(out, tmp_path / "lgb.verify.csv")


def test_beyond_the_budget_is_distilled(arbor, arbor_bin, fixture_glob, tmp_path):
    out = tmp_path / "big.onnx"
    p = run_cli(["train", "--samples", fixture_glob, "--engine", "local", "--rounds", "60",
                 "--max-depth", "6", "--distill", "--distill-max-depth", "8",
                 "--holdout-hosts", "host-a", "--out", str(out)], arbor_bin)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.load(open(tmp_path / "big.report.json"))
    assert r["fit"] == "distill"
    assert "fidelity" in r["distill"].lower()
    s = arbor.inspect_summary(out)
    assert "trees: 1 " in s  # one CART tree of depth <= 8
    assert export.provenance_of(out)["arbor.fleet.fit"] == "distill"
    assert "OK" in arbor.verify_rows(out, tmp_path / "big.verify.csv")
