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


def test_lead_interval_of_known_costs():
    import numpy as np
    from arbor_fleet.crosshost import lead_interval
    blocks = np.repeat(np.arange(50), 20)
    # Own model costs 1 per decision, the fleet model 0: a lead of 100/6 points, no spread.
    lead, lo, hi, nb = lead_interval(np.zeros(1000), np.ones(1000), blocks)
    assert nb == 50 and abs(lead - 100 / 6) < 1e-9 and abs(lo - lead) < 1e-9 and abs(hi - lead) < 1e-9
    # Equal models: zero lead, an interval around it.
    c = np.random.default_rng(1).integers(0, 3, 1000)
    lead, lo, hi, _ = lead_interval(c, c, blocks)
    assert lead == 0 and lo == 0 and hi == 0
    # Noise: the interval holds the point estimate and has width.
    own = np.random.default_rng(2).integers(0, 3, 1000)
    lead, lo, hi, _ = lead_interval(c, own, blocks)
    assert lo < lead < hi
