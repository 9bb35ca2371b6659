"""Predicting with onnxruntime and counting decisions by host and workload.

Used by every engine on its own partitions (a pandas frame at a time), so
the counts of any number of rows take the memory of one partition."""

import numpy as np
import pandas as pd

from . import cost

CHUNK = 1 << 20
COUNT_COLUMNS = ["host", "workload", "predicted", "actual", "n"]


def session(model_bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def predict(sess, x):
    """Labels of an (n, features) array, as onnxruntime gives them."""
    name = sess.get_inputs()[0].name
    out = np.empty(len(x), dtype=np.int64)
    for i in range(0, len(x), CHUNK):
        out[i:i + CHUNK] = sess.run(None, {name: np.ascontiguousarray(
            x[i:i + CHUNK], dtype=np.float32)})[0].reshape(-1)
    return out


def model_features(sess, default):
    """The model's input columns as scx_arbor reads them (its `arbor.features`
    metadata), else `default`."""
    names = sess.get_modelmeta().custom_metadata_map.get("arbor.features")
    return names.split(",") if names else list(default)


def feature_matrix(df, names):
    """The columns `names` of `df` as an (n, features) array. A feature the
    rows lack (recorded by an older scx_arbor) is 0, as scx_arbor's own
    readers take it (crates/arbor-model/src/rows.rs, `feature_rows`): e.g.
    a model `scx_arbor model distill` made from such rows still takes every
    feature of the binary's schema."""
    zeros = np.zeros(len(df), dtype=np.int64)
    return np.stack([df[n].to_numpy() if n in df.columns else zeros for n in names], axis=1)


def predict_frame(sess, df, features):
    """Labels of the rows of `df`, on the model's own input columns
    ([`model_features`], else `features`)."""
    return predict(sess, feature_matrix(df, model_features(sess, features)))


def count_frame(df, features, sess):
    """Decisions of one partition: rows of (host, workload, predicted, actual, n)."""
    if len(df) == 0:
        return pd.DataFrame({c: pd.Series(dtype="str" if c in ("host", "workload") else np.int64)
                             for c in COUNT_COLUMNS})
    pred = predict_frame(sess, df, features)
    g = pd.DataFrame({"host": df["host"].to_numpy(), "workload": df["workload"].to_numpy(),
                      "predicted": pred, "actual": df["actual"].to_numpy().astype(np.int64)})
    out = g.groupby(["host", "workload", "predicted", "actual"], sort=False).size()
    out = out.rename("n").reset_index()
    out["n"] = out["n"].astype(np.int64)
    return out[COUNT_COLUMNS]


def counts_partition(df, features, model_bytes):
    """For engines that ship a function to workers: builds its own session."""
    return count_frame(df, features, session(model_bytes))


def matrices(counts):
    """{(host, workload): 4x4 m[predicted][actual]} from count rows."""
    out = {}
    for (h, w), g in counts.groupby(["host", "workload"]):
        m = np.zeros((cost.NR_CLASSES, cost.NR_CLASSES), dtype=np.int64)
        np.add.at(m, (g["predicted"].to_numpy(), g["actual"].to_numpy()), g["n"].to_numpy())
        out[(h, w)] = m
    return out
