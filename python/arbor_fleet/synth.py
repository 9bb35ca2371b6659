"""`arbor_fleet synth`: a large synthetic fleet drawn from recorded hosts,
for measuring the engines (benches/fleet-train.sh), never for a model.

Each synthetic host copies one recorded host (round robin). Its rows are a
smoothed bootstrap of that host's rows: rows drawn with replacement (so
the joint distribution of features, workload and `actual` class is the
recorded one), then each time-like feature (last_burst_us, ewma_burst_us,
ewma_sleep_us, wake_rate_hz) multiplied by a host factor exp(N(0, 0.05))
fixed per synthetic host (machines of a slightly different speed) and by
a per-row factor exp(N(0, 0.10)), rounded and clipped to the schema range.
The class stays the recorded row's (burst_us, which training does not
read, is drawn uniformly within that class's range). Files are written in the proposed
directory-mode format (docs/fleet.md): OUT/HOST/arbor-HOST-STAMP-SEQ.csv.gz,
rows naming host, kernel and schema_version, generated and written one file
at a time (memory: one file's rows)."""

import os

import numpy as np
import pandas as pd

from . import samples
from .arbor import Arbor, find_binary

JITTERED = ("last_burst_us", "ewma_burst_us", "ewma_sleep_us", "wake_rate_hz")
V2_TAIL = ["host", "kernel", "schema_version"]


def v2_columns(schema):
    return (["ts_ns", "pid", "generation", *schema.features, "predicted", "actual", "burst_us",
             "truncated"] + V2_TAIL + ["workload"])


def write_gzip_csv(df, path):
    """pyarrow's C++ CSV writer (pandas' to_csv is the slow part of 10M
    rows); the header is written by hand, unquoted, as --record writes it."""
    import pyarrow as pa
    import pyarrow.csv as pc

    with pa.CompressedOutputStream(path, "gzip") as fh:
        fh.write((",".join(df.columns) + "\n").encode())
        pc.write_csv(pa.Table.from_pandas(df, preserve_index=False), fh,
                     pc.WriteOptions(include_header=False, quoting_style="none"))


def run(a):
    schema = Arbor(find_binary(a.scx_arbor)).schema()
    files = samples.discover(a.samples, schema, hash_files=False)
    schema = samples.common_schema(files, schema)
    src = samples.read_all(files, schema)
    sources = sorted(src["host"].unique())
    by_host = {h: src[src["host"] == h].reset_index(drop=True) for h in sources}
    rng = np.random.default_rng(a.seed)
    n_hosts = a.hosts
    per_host = a.rows // n_hosts
    written = 0
    for j in range(n_hosts):
        base = sources[j % len(sources)]
        pool = by_host[base]
        host = f"{base}-s{j:03d}"
        hdir = os.path.join(a.out, host)
        os.makedirs(hdir, exist_ok=True)
        host_factor = {f: float(np.exp(rng.normal(0, 0.05))) for f in JITTERED}
        left, seq, ts = per_host + (a.rows % n_hosts if j == n_hosts - 1 else 0), 0, 10**9
        while left > 0:
            n = min(left, a.rows_per_file)
            idx = rng.integers(0, len(pool), n)
            d = pool.iloc[idx].reset_index(drop=True)
            out = pd.DataFrame({"ts_ns": ts + np.arange(n, dtype=np.int64) * 1000,
                                "pid": rng.integers(100, 5000, n), "generation": 0})
            for f in schema.features:
                v = d[f].to_numpy().astype(np.float64)
                if f in JITTERED:
                    v = v * host_factor[f] * np.exp(rng.normal(0, 0.10, n))
                out[f] = np.clip(np.rint(v), 0, schema.feature_max).astype(np.int64)
            out["predicted"] = 4
            out["actual"] = d["actual"].to_numpy()
            bounds = list(schema.class_bounds_us)
            lo = np.array([0] + [b + 1 for b in bounds])
            hi = np.array(bounds + [16000])
            out["burst_us"] = rng.integers(lo[out["actual"]], hi[out["actual"]] + 1)
            out["truncated"] = 0
            out["host"] = host
            out["kernel"] = "synthetic"
            out["schema_version"] = schema.version
            out["workload"] = d["workload"].to_numpy()
            path = os.path.join(hdir, f"arbor-{host}-20261201T000000Z-{seq:06d}.csv.gz")
            write_gzip_csv(out[v2_columns(schema)], path)
            written += n
            left -= n
            seq += 1
            ts += n * 1000
        print(f"{host}: {per_host:,} rows from {base}", flush=True)
    print(f"wrote {written:,} rows for {n_hosts} hosts under {a.out}")


def add_arguments(p):
    p.add_argument("--samples", required=True, help="glob of the recorded hosts' files")
    p.add_argument("--rows", type=int, required=True)
    p.add_argument("--hosts", type=int, default=12)
    p.add_argument("--rows-per-file", type=int, default=250_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--scx-arbor")
