"""The Spark engine on local[2] (pyspark from PyPI, the machine's Java 17):
SparkXGBClassifier trains, the model verifies exactly on the held-out host.
Fails, not skips, without Java."""

import json
import shutil

import pytest

from conftest import run_cli


def test_spark_local2_trains_and_verifies(arbor, arbor_bin, fixture_glob, tmp_path):
    if not shutil.which("java"):
        pytest.fail("no java on PATH: the Spark engine needs Java 17 (install.sh installs it as root)")
    out = tmp_path / "spark.onnx"
    p = run_cli(["train", "--samples", fixture_glob, "--engine", "spark", "--spark-master", "local[2]",
                 "--holdout-hosts", "host-c", "--out", str(out)], arbor_bin, timeout=1200)
    assert p.returncode == 0, p.stdout + p.stderr[-5000:]
    r = json.load(open(tmp_path / "spark.report.json"))
    assert r["engine"]["engine"] == "spark" and r["engine"]["master"] == "local[2]"
    assert r["verify"]["rows"] == r["hosts"]["host-c"]["rows"]
    assert "OK" in arbor.verify_rows(out, tmp_path / "spark.verify.csv")
