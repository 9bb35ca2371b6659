"""Inputs of the arbor_fleet tests. A missing input (the scx_arbor binary,
the recorded fixture hosts, Java for Spark) fails the test that needs it:
nothing here skips."""

import glob
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG = os.path.dirname(HERE)
PYTHON_DIR = os.path.dirname(PKG)
REPO = os.path.dirname(PYTHON_DIR)
FIXTURE_GLOB = os.path.join(HERE, "fixtures", "hosts", "*", "samples.csv.gz")
HOSTS = ("host-a", "host-b", "host-c")


def binary():
    for cand in (os.environ.get("ARBOR_BIN"), os.path.join(REPO, "target/release/scx_arbor"),
                 os.path.join(REPO, "target/debug/scx_arbor")):
        if cand and os.access(cand, os.X_OK):
            return os.path.abspath(cand)
    pytest.fail("no scx_arbor binary: set ARBOR_BIN or build it (cargo build --release)")


@pytest.fixture(scope="session")
def arbor_bin():
    return binary()


@pytest.fixture(scope="session")
def arbor(arbor_bin):
    from arbor_fleet.arbor import Arbor
    return Arbor(arbor_bin)


@pytest.fixture(scope="session")
def schema(arbor):
    return arbor.schema()


@pytest.fixture(scope="session")
def fixture_glob():
    found = sorted(glob.glob(FIXTURE_GLOB))
    names = [os.path.basename(os.path.dirname(p)) for p in found]
    if tuple(names) != HOSTS:
        pytest.fail(f"the recorded fixture hosts are missing: {FIXTURE_GLOB} gives {names}, "
                    f"want {HOSTS} (python/arbor_fleet/tests/fixtures/README.md)")
    return FIXTURE_GLOB


@pytest.fixture(scope="session")
def fixture_schema(schema, fixture_glob):
    """The schema narrowed to the features the fixture hosts have: they were
    recorded under feature schema 1, before the binary's later features."""
    from arbor_fleet import samples
    return samples.common_schema(samples.discover(fixture_glob, schema, hash_files=False), schema)


def run_cli(args, arbor_bin, timeout=900):
    """python -m arbor_fleet ARGS in this interpreter; returns the CompletedProcess."""
    env = dict(os.environ, ARBOR_BIN=arbor_bin,
               PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "arbor_fleet", *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=PYTHON_DIR)
