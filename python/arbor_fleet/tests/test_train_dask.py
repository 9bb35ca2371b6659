"""The fleet path end to end on a Dask LocalCluster of 2 workers: three
recorded hosts in, a model out that scx_arbor loads and walks exactly as
onnxruntime predicts on the held-out host, with its provenance and a
report whose scores we recount here."""

import hashlib
import json
import os

import numpy as np
import pytest

from arbor_fleet import cost, evaluate, export, samples
from conftest import run_cli


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import LocalCluster
    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    yield c
    c.close()


@pytest.fixture(scope="module")
def trained(cluster, arbor_bin, fixture_glob, tmp_path_factory):
    out = tmp_path_factory.mktemp("dask") / "fleet.onnx"
    p = run_cli(["train", "--samples", fixture_glob, "--engine", "dask", "--dask",
                 cluster.scheduler_address, "--holdout-hosts", "host-c", "--out", str(out)], arbor_bin)
    assert p.returncode == 0, p.stdout + p.stderr
    return out, p.stdout


def test_model_verifies_exactly_on_the_held_out_host(trained, arbor, schema):
    out, log = trained
    stem = str(out)[:-5]
    # scx_arbor again, outside the pipeline: every held-out row agrees.
    text = arbor.verify_rows(out, stem + ".verify.csv")
    assert "vs the CSV's label column" in text
    r = json.load(open(stem + ".report.json"))
    assert r["verify"]["rows"] == r["hosts"]["host-c"]["rows"]  # all of them (< --verify-rows)
    assert f"{r['verify']['rows']}/{r['verify']['rows']} agree" in text
    s = arbor.inspect_summary(out)
    walked = int(__import__("re").search(r"at most (\d+) \(budget (\d+)\)", s).group(1))
    assert walked <= schema.max_walk


def test_engine_was_the_two_worker_cluster(trained):
    r = json.load(open(str(trained[0])[:-5] + ".report.json"))
    assert r["engine"]["engine"] == "dask" and r["engine"]["workers"] == 2
    assert r["train_hosts"] == ["host-a", "host-b"] and r["holdout_hosts"] == ["host-c"]
    assert r["hosts"]["host-c"]["role"] == "holdout"


def test_provenance_names_the_training_files_and_score(trained, fixture_glob, fixture_schema):
    schema = fixture_schema
    out = trained[0]
    meta = export.provenance_of(out)
    assert meta["arbor.schema_version"] == str(schema.version)
    assert meta["arbor.features"] == ",".join(schema.features)
    files = meta["arbor.fleet.training_files"]
    assert len(files) == 3
    for f in files:
        with open(f["path"], "rb") as fh:
            assert f["sha256"] == hashlib.sha256(fh.read()).hexdigest()
        assert f["host"] == os.path.basename(os.path.dirname(f["path"]))
    assert meta["arbor.fleet.engine"]["engine"] == "dask"
    assert meta["arbor.fleet.trainer"]["name"] == "xgboost"
    assert meta["arbor.fleet.holdout_hosts"] == ["host-c"]
    r = json.load(open(str(out)[:-5] + ".report.json"))
    assert abs(meta["arbor.fleet.score_holdout"] - r["scores"]["holdout"]["score"]) < 1e-3
    # The file's own hash is in the report (the file cannot hold it).
    assert r["model"]["sha256"] == export.sha256_file(out)


def test_report_scores_are_recounted_from_the_rows(trained, fixture_schema, fixture_glob):
    schema = fixture_schema
    out = trained[0]
    r = json.load(open(str(out)[:-5] + ".report.json"))
    df = samples.read_all(samples.discover(fixture_glob, schema), schema)
    pred = evaluate.predict_frame(evaluate.session(export.load_bytes(out)), df, schema.features)
    for h, g in df.assign(pred=pred).groupby("host"):
        m = cost.confusion(g["pred"], g["actual"])
        got = r["scores"]["per_host"][h]
        assert got["decisions"] == len(g)
        assert abs(got["score"] - cost.score(m)) < 1e-9, h
        assert got["confusion_predicted_by_actual"] == m.tolist()
    held = df.assign(pred=pred)[df["host"] == "host-c"]
    for w, g in held.groupby("workload"):
        row = [x for x in r["scores"]["per_workload"] if x["role"] == "holdout" and x["workload"] == w]
        assert len(row) == 1 and abs(row[0]["score"] - cost.score(cost.confusion(g["pred"], g["actual"]))) < 1e-9
    md = open(str(out)[:-5] + ".report.md").read()
    assert "| host-c | holdout |" in md and "## Per workload" in md
    assert np.isfinite(r["scores"]["holdout"]["score"])


def test_over_budget_is_refused_before_training(cluster, arbor_bin, fixture_glob, tmp_path):
    p = run_cli(["train", "--samples", fixture_glob, "--engine", "dask", "--dask",
                 cluster.scheduler_address, "--rounds", "40", "--max-depth", "5",
                 "--out", str(tmp_path / "x.onnx")], arbor_bin)
    assert p.returncode == 1
    assert "use at most 21 rounds of this depth, or --distill" in p.stderr, p.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_lightgbm_dask_trainer(cluster, arbor, arbor_bin, fixture_glob, tmp_path):
    out = tmp_path / "lgb.onnx"
    p = run_cli(["train", "--samples", fixture_glob, "--engine", "dask", "--dask",
                 cluster.scheduler_address, "--trainer", "lightgbm", "--rounds", "15",
                 "--max-depth", "3", "--holdout-hosts", "host-a", "--out", str(out)], arbor_bin)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.load(open(tmp_path / "lgb.report.json"))
    assert r["trainer"]["name"] == "lightgbm" and r["engine"]["engine"] == "dask"
    assert "trees: 60 " in arbor.inspect_summary(out)
    assert "OK" in arbor.verify_rows(out, tmp_path / "lgb.verify.csv")
