"""A trained booster to an ONNX file scx_arbor reads: onnxmltools export
(TreeEnsembleClassifier, no ZipMap, float input), the schema classes as
labels, and provenance in metadata_props. The schema metadata itself is
added by `scx_arbor model annotate` (arbor.py), not here."""

import hashlib
import json

import onnx

PROVENANCE_PREFIX = "arbor.fleet."


def to_onnx(model, trainer, n_features):
    """An onnx.ModelProto of a local XGBClassifier or LGBMClassifier."""
    from onnxmltools.convert import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    types = [("input", FloatTensorType([None, n_features]))]
    if trainer == "xgboost":
        onx = convert_xgboost(model, initial_types=types, target_opset=15)
    elif trainer == "lightgbm":
        onx = convert_lightgbm(model, initial_types=types, zipmap=False, target_opset=15)
    else:
        raise ValueError(f"unknown trainer {trainer}")
    ops = [n.op_type for n in onx.graph.node]
    if ops.count("TreeEnsembleClassifier") != 1 or "ZipMap" in ops:
        raise ValueError(f"the export is not one TreeEnsembleClassifier without ZipMap: {ops}")
    return onx


def tree_node(onx):
    return next(n for n in onx.graph.node if n.op_type == "TreeEnsembleClassifier")


def relabel(onx, classes):
    """The trainers saw classes 0..k-1 (the classes present, in order);
    the model must answer with the schema's class numbers."""
    node = tree_node(onx)
    for a in node.attribute:
        if a.name == "classlabels_int64s":
            if len(a.ints) != len(classes):
                raise ValueError(f"the export has {len(a.ints)} labels, trained on {len(classes)} classes")
            if list(a.ints) != list(range(len(classes))):
                raise ValueError(f"unexpected export labels {list(a.ints)}")
            del a.ints[:]
            a.ints.extend(int(c) for c in classes)
            return onx
    raise ValueError("the export has no integer class labels")


def set_provenance(onx, props):
    """metadata_props arbor.fleet.KEY = VALUE (JSON for non-strings), replacing older ones."""
    keep = [p for p in onx.metadata_props if not p.key.startswith(PROVENANCE_PREFIX)]
    del onx.metadata_props[:]
    onx.metadata_props.extend(keep)
    for k, v in props.items():
        onx.metadata_props.append(onnx.StringStringEntryProto(
            key=PROVENANCE_PREFIX + k, value=v if isinstance(v, str) else json.dumps(v, sort_keys=True)))
    return onx


def provenance_of(path):
    """The arbor.* metadata of a model file (provenance JSON decoded)."""
    onx = onnx.load(path)
    out = {}
    for p in onx.metadata_props:
        if p.key.startswith("arbor."):
            try:
                out[p.key] = json.loads(p.value) if p.key.startswith(PROVENANCE_PREFIX) else p.value
            except json.JSONDecodeError:
                out[p.key] = p.value
    return out


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read())
    return h.hexdigest()


def save(onx, path):
    onnx.save_model(onx, path)


def load_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()

