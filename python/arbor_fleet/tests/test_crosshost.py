"""crosshost: every target host is scored by models that never saw it."""

import json

from conftest import run_cli


def test_crosshost_scores_each_host_with_models_that_never_saw_it(arbor_bin, fixture_glob, tmp_path):
    out = tmp_path / "cross.json"
    p = run_cli(["crosshost", "--samples", fixture_glob, "--out", str(out)], arbor_bin)
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.load(open(out))
    assert [t["target"] for t in r["targets"]] == ["host-a", "host-b", "host-c"]
    for t in r["targets"]:
        assert t["target"] not in t["own"]
        assert sorted(t["own"]) == sorted(h for h in r["hosts"] if h != t["target"])
        assert 0 < t["fleet"]["score"] <= 100
        assert t["fleet_beats_every_own_model"] == (not t["own_models_at_least_as_good"])
    md = (tmp_path / "cross.md").read_text()
    assert sum(line.startswith("| host-") for line in md.splitlines()) == 3, md
