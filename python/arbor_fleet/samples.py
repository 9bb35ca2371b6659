"""Finding and reading many hosts' `scx_arbor --record` sample files.

Accepted files (plain or gzip-compressed, told apart by their first bytes,
not their names):

* v1, what `--record FILE` writes today:
  ts_ns,pid,generation,<the schema's features>,predicted,actual,burst_us,truncated
* v2, the proposed directory mode (see docs/fleet.md): the v1 columns
  followed by host,kernel,schema_version; rows of a schema_version newer
  than the binary's are refused.

Files of an older feature schema (fewer feature columns) are read on the
features every file has (`common_schema`).

Any file may carry a `workload` column (a label the operator or the fixture
builder gives the rows); without one, the rows' workload is "-". A host
name comes from the `host` column when there is one, else from the name of
the file's parent directory. Other columns are ignored; a missing feature
`actual` column, a file with none of the features, or a value out of range
is an error naming the file.

Every reader returns the same columns: the features (int32), `actual`
(int8), `host` and `workload` (strings).
"""

import glob
import gzip
import hashlib
import io
import os
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

NO_WORKLOAD = "-"


class SampleError(ValueError):
    pass


@dataclass(frozen=True)
class SampleFile:
    path: str
    compressed: bool
    header: tuple
    host: str  # from the parent directory; rows with a `host` column override it
    sha256: str
    bytes: int

    @property
    def has_host(self):
        return "host" in self.header

    @property
    def has_workload(self):
        return "workload" in self.header

    @property
    def has_schema_version(self):
        return "schema_version" in self.header

    @property
    def shape_key(self):
        """Files with the same key can be read together by one CSV reader."""
        return (self.compressed, self.has_host, self.has_workload, self.has_schema_version)


def _is_gzip(path):
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _open_text(path, compressed):
    return io.TextIOWrapper(gzip.open(path, "rb"), newline="") if compressed else \
        open(path, newline="")


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def discover(pattern, schema, hash_files=True):
    """The sample files a glob names (`**` recurses), checked for the columns
    the training needs. Raises when it names none."""
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
    if not paths:
        raise SampleError(f"no sample file matches {pattern!r}")
    out = []
    for p in paths:
        compressed = _is_gzip(p)
        with _open_text(p, compressed) as fh:
            first = fh.readline().strip()
        header = tuple(c.strip() for c in first.split(","))
        if "actual" not in header or not any(f in header for f in schema.features):
            missing = [c for c in list(schema.features) + ["actual"] if c not in header]
            raise SampleError(f"{p}: no column {', '.join(missing)} (is it a scx_arbor --record CSV?)")
        host = os.path.basename(os.path.dirname(os.path.abspath(p)))
        out.append(SampleFile(p, compressed, header, host, _sha256(p) if hash_files else "",
                              os.path.getsize(p)))
    return out


def common_schema(files, schema):
    """`schema` narrowed to the features every file has, in schema order.
    Files recorded by an older scx_arbor (an older feature schema) lack the
    newer features; a model trained on the features they share is one this
    scx_arbor loads (a model may split on any of the schema's features)."""
    feats = tuple(f for f in schema.features if all(f in sf.header for sf in files))
    if not feats:
        raise SampleError("the sample files share no feature of this scx_arbor's schema")
    dropped = [f for f in schema.features if f not in feats]
    if dropped:
        older = sum(1 for sf in files if any(f not in sf.header for f in dropped))
        log(f"{older} of {len(files)} files lack {', '.join(dropped)} (recorded by an older "
            f"scx_arbor): training on the {len(feats)} features every file has")
    return replace(schema, features=feats)


def log(msg):
    print(f"arbor_fleet: {msg}", flush=True)


def usecols(sf, schema):
    cols = list(schema.features) + ["actual"]
    cols += [c for c in ("host", "workload", "schema_version") if c in sf.header]
    return cols


def dtypes(schema):
    d = {f: "int64" for f in schema.features}
    d.update(actual="int64", schema_version="int64", host="str", workload="str")
    return d


def normalize(df, schema, host_of_path=None, default_host=None, where="?"):
    """Checks ranges and the schema version, sets host and workload, and
    returns the canonical columns. `host_of_path` maps a `path` column
    (dask's include_path_column) to hosts for files without a host column."""
    feats = list(schema.features)
    if "schema_version" in df.columns:
        bad = df["schema_version"] > schema.version
        if bad.any():
            v = df.loc[bad, "schema_version"].iloc[0]
            raise SampleError(f"{where}: rows of schema version {v}; this scx_arbor reads "
                              f"versions up to {schema.version}")
    x = df[feats]
    if len(df) and (((x < 0) | (x > schema.feature_max)).any().any()):
        col = [f for f in feats if ((df[f] < 0) | (df[f] > schema.feature_max)).any()][0]
        raise SampleError(f"{where}: {col} outside 0..{schema.feature_max}")
    if len(df) and ((df["actual"] < 0) | (df["actual"] >= len(schema.classes))).any():
        raise SampleError(f"{where}: actual outside 0..{len(schema.classes) - 1}")
    out = df[feats].astype(np.int32)
    out["actual"] = df["actual"].astype(np.int8)
    if "host" in df.columns:
        out["host"] = df["host"].astype("str")
    elif host_of_path is not None:
        out["host"] = df["path"].astype("str").map(host_of_path).astype("str")
    else:
        out["host"] = pd.Series(default_host, index=df.index, dtype="str")
    if "workload" in df.columns:
        out["workload"] = df["workload"].fillna(NO_WORKLOAD).astype("str")
    else:
        out["workload"] = pd.Series(NO_WORKLOAD, index=df.index, dtype="str")
    return out


def read_file(sf, schema, keep=()):
    """One file into the canonical frame (the local engine and the tests),
    plus the integer columns `keep` (e.g. ts_ns) when asked."""
    cols = usecols(sf, schema) + [c for c in keep if c not in usecols(sf, schema)]
    d = dtypes(schema)
    df = pd.read_csv(sf.path, usecols=cols, dtype={c: d.get(c, "int64") for c in cols},
                     compression="gzip" if sf.compressed else None)
    out = normalize(df, schema, default_host=sf.host, where=sf.path)
    for c in keep:
        out[c] = df[c].to_numpy()
    return out


def read_all(files, schema, keep=()):
    """Every file into one pandas frame: only for the local engine."""
    frames = [read_file(sf, schema, keep) for sf in files]
    return pd.concat(frames, ignore_index=True)


def empty_frame(schema):
    df = pd.DataFrame({f: pd.Series(dtype=np.int32) for f in schema.features})
    df["actual"] = pd.Series(dtype=np.int8)
    df["host"] = pd.Series(dtype="str")
    df["workload"] = pd.Series(dtype="str")
    return df


def provenance(files, rows_by_path=None):
    """The training set as metadata and reports name it."""
    return [{"path": sf.path, "sha256": sf.sha256, "bytes": sf.bytes,
             "host": "(column)" if sf.has_host else sf.host,
             **({"rows": int(rows_by_path.get(sf.path, 0))} if rows_by_path else {})}
            for sf in files]
