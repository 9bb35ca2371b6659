"""install.sh is idempotent and fast once the venv is there."""

import os
import subprocess
import sys
import time

from conftest import PKG


def test_second_install_is_a_no_op():
    t0 = time.monotonic()
    p = subprocess.run(["bash", os.path.join(PKG, "install.sh")], capture_output=True, text=True)
    took = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    venv = p.stdout.strip().splitlines()[-1]
    assert os.path.realpath(sys.prefix) == os.path.realpath(venv), (sys.prefix, venv)
    assert took < 10, f"install.sh took {took:.1f} s on a ready venv"
