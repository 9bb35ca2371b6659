"""The score is scx_arbor's: the same matrix as the binary's --help, the
same figures as cost.rs's own unit test, and on real rows the same
decisions `scx_arbor model train` counts."""

import gzip
import re
import shutil

import numpy as np

from arbor_fleet import cost, evaluate, samples


def test_cost_matrix_is_the_binarys(arbor):
    matrix, max_cost = cost.parse_help_table(arbor.help_text())
    assert (matrix == cost.COST).all(), f"--help says\n{matrix}\nwe use\n{cost.COST}"
    assert max_cost == cost.MAX_COST == 6


def test_scores_of_known_counts_as_in_cost_rs():
    # src/learn/cost.rs scores_from_known_counts: 90 tiny right, 10 long predicted tiny.
    m = cost.confusion([0] * 100, [0] * 90 + [3] * 10)
    assert cost.accuracy(m) == 90.0
    assert abs(cost.score(m) - 95.0) < 1e-9
    assert cost.balanced_accuracy(m) == 50.0
    # Over-predicting costs twice as much.
    d = cost.confusion([3] * 100, [3] * 90 + [0] * 10)
    assert abs(cost.score(d) - 90.0) < 1e-9
    # No decisions, no score; the fallback row (4) is not a decision.
    assert cost.score(cost.confusion([], [])) is None
    assert cost.confusion([4, 0], [0, 0]).sum() == 1


def _train_report(text):
    acc = re.search(r"held-out accuracy: (\d+)/(\d+)", text)
    rows = re.findall(r"^\s*(tiny|short|medium|long)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$", text, re.M)
    by_actual = np.array([[int(v) for v in r[1:]] for r in rows])
    return (int(acc.group(1)), int(acc.group(2))), by_actual.T  # -> [predicted][actual]


def test_score_equals_what_model_train_counts_on_the_same_rows(arbor, schema, fixture_glob, tmp_path):
    """`model train --holdout 0` walks its tree over every row and prints the
    confusion matrix, the only input of the score. Our onnxruntime
    predictions of the file it wrote must give the same matrix, so the same
    score; `model verify --rows` checks those predictions are its walk's."""
    src = [f for f in samples.discover(fixture_glob, schema) if f.host == "host-a"][0]
    csv = tmp_path / "host-a.csv"
    with gzip.open(src.path, "rb") as fi, open(csv, "wb") as fo:
        shutil.copyfileobj(fi, fo)
    model = tmp_path / "cart.onnx"
    out = arbor.run("model", "train", "--csv", csv, "--out", model, "--holdout", "0",
                    "--max-depth", "6").stdout
    (right, total), theirs = _train_report(out)
    # The fixture was recorded under an older feature schema: `model train`
    # gives the later features 0 (crates/arbor-model/src/rows.rs,
    # feature_rows) and its model takes every feature of this schema.
    df = samples.read_file(src, samples.common_schema([src], schema))
    x = evaluate.feature_matrix(df, schema.features)
    pred = evaluate.predict(evaluate.session(model.read_bytes()), x)
    ours = cost.confusion(pred, df["actual"].to_numpy())
    assert total == len(df)
    assert (ours == theirs).all(), f"ours\n{ours}\nmodel train's\n{theirs}"
    assert int(np.trace(ours)) == right
    assert cost.score(ours) == cost.score(theirs)
    assert 0 < cost.score(ours) < 100
    labelled = tmp_path / "labelled.csv"
    df.assign(label=pred).to_csv(labelled, index=False)
    assert "OK" in arbor.verify_rows(model, labelled)
