"""The whole fleet path: a model trained on a Dask LocalCluster of 2
workers from three recorded hosts, published with its report into the
--model-watch directory of scx_arbor running in the VM (QEMU/TCG, under
CPU hogs and hackbench), goes through the watcher's checks (the report's
sha256, import, model verify against tract), is walked in shadow beside
the live model and judged there. In the same run a deliberately worse
model (every burst "long") is refused in shadow and, with no shadow stage,
installed and rolled back by its canary window."""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, run_cli


@pytest.fixture(scope="module")
def fleet_model(arbor_bin, fixture_glob, tmp_path_factory):
    from dask.distributed import LocalCluster
    out = tmp_path_factory.mktemp("rollout") / "fleet.onnx"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as c:
        # A small ensemble (20 trees of depth 3): the watcher verifies it
        # against tract inside the emulated guest, probing every threshold.
        p = run_cli(["train", "--samples", fixture_glob, "--engine", "dask", "--dask",
                     c.scheduler_address, "--holdout-hosts", "host-c", "--rounds", "5",
                     "--max-depth", "3", "--out", str(out)], arbor_bin)
    assert p.returncode == 0, p.stdout + p.stderr
    return out


def blocks(console):
    """ARBOR-BEGIN NAME ... ARBOR-END NAME rc=N blocks of a console log."""
    out = {}
    for m in re.finditer(r"^ARBOR-BEGIN (\S+)\n(.*?)^ARBOR-END \1 rc=(\d+)", console, re.S | re.M):
        out[m.group(1)] = (m.group(2), int(m.group(3)))
    return out


@pytest.fixture(scope="module")
def vm_run(fleet_model, arbor_bin, tmp_path_factory):
    if shutil.which("qemu-system-x86_64") is None:
        pytest.fail("qemu-system-x86_64 is missing: run tests/vm/install-host-deps.sh")
    out = tmp_path_factory.mktemp("vm")
    report = str(fleet_model)[:-5] + ".report.json"
    cmd = [os.path.join(REPO, "tests/vm/run.sh"), "model-watch", "--bin", arbor_bin,
           "--file", f"{os.path.join(REPO, 'models/default.onnx')}:/models/default.onnx",
           "--file", f"{fleet_model}:/models/fleet.onnx",
           "--file", f"{report}:/models/fleet.report.json",
           "--arg", "fleet=1", "--timeout", "500", "--out", str(out), "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    console = open(out / "console.log", errors="replace").read()
    return blocks(console), fleet_model


def status_of(bl, name):
    text, rc = bl[f"status:{name}"]
    assert rc == 0, text
    return json.loads(text)


def test_fleet_model_passes_the_checks_and_is_judged_in_shadow(vm_run):
    bl, model = vm_run
    st = status_of(bl, "fleet.onnx")
    report = json.load(open(str(model)[:-5] + ".report.json"))
    # The report's sha256 matched (else: rejected before import), and the
    # provenance arbor_fleet wrote reached the status file.
    assert st["sha256"] == report["model"]["sha256"]
    assert json.loads(st["provenance"]["engine"])["engine"] == "dask", st["provenance"]
    # Checked and verified against tract: it reached the shadow stage.
    assert "shadow" in st["times"], st
    assert st["stage"] in ("kept", "rejected", "rolled-back"), st
    if st["stage"] == "rejected":
        assert st["reason"].startswith("shadow over"), st
    print(f"fleet.onnx: {st['stage']}: {st['reason']}")


def test_a_worse_model_is_refused_in_shadow_and_rolled_back_in_its_canary(vm_run):
    bl, _ = vm_run
    long = status_of(bl, "long.onnx")
    assert long["stage"] == "rejected" and long["reason"].startswith("shadow over"), long
    canary = status_of(bl, "long-canary.onnx")
    assert canary["stage"] == "rolled-back" and "live score" in canary["reason"], canary
