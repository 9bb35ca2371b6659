"""Leave-hosts-out choice and the walk budget against scx_arbor's loader."""

import numpy as np
import pytest

from arbor_fleet import budget, export, split, trainers


def test_holdout_is_whole_hosts_and_deterministic():
    hosts = [f"h{i}" for i in range(8)]
    a = split.choose_holdout(hosts, share=0.25, seed=3)
    assert len(a) == 2 and a == split.choose_holdout(list(reversed(hosts)), share=0.25, seed=3)
    assert split.choose_holdout(hosts, named=["h5"]) == ["h5"]
    # Adding a host does not reshuffle the others: a held-out host stays held out
    # unless the new one ranks above it.
    assert len(set(a) & set(split.choose_holdout(hosts + ["h8"], share=0.25, seed=3))) >= 1
    with pytest.raises(ValueError, match="at least 2 hosts"):
        split.choose_holdout(["only"])
    with pytest.raises(ValueError, match="not among the hosts"):
        split.choose_holdout(hosts, named=["nope"])
    with pytest.raises(ValueError, match="every host is held out"):
        split.choose_holdout(["a", "b"], named=["a", "b"])


def test_budget_matches_the_loader(arbor, schema, tmp_path):
    """The most rounds budget.py allows at depth 3 on 4 classes load; the
    loader's count of nodes walked is what Shape predicts."""
    r = budget.most_rounds(3, 4, schema)
    assert r == 32  # docs/models.md: 32 rounds of depth 3 on 4 classes is the most that fits
    assert budget.problems(budget.Shape(r + 1, 3, 4), schema)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20000, (4000, len(schema.features))).astype(np.float32)
    y = np.minimum(3, (x[:, 1] // 3000 + (x[:, 4] > 9000)).astype(int))
    import xgboost
    m = xgboost.XGBClassifier(**trainers.Params(rounds=r, max_depth=3).xgboost(4)).fit(x, y)
    raw, ann = tmp_path / "raw.onnx", tmp_path / "m.onnx"
    export.save(export.relabel(export.to_onnx(m, "xgboost", x.shape[1]), [0, 1, 2, 3]), raw)
    arbor.annotate(raw, ann, schema.features)
    s = arbor.inspect_summary(ann)
    assert f"trees: {r * 4} " in s
    walked = int(__import__("re").search(r"at most (\d+) \(budget", s).group(1))
    assert walked <= budget.Shape(r, 3, 4).walk <= schema.max_walk
