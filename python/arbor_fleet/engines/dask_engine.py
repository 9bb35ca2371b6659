"""The Dask engine: samples as a dask dataframe (one partition per
compressed file, 64 MB blocks of plain ones), never one pandas frame;
training with XGBoost's or LightGBM's Dask trainers; scoring partition by
partition on the workers. Without --dask ADDRESS it starts a LocalCluster."""

from collections import defaultdict
import os

import numpy as np
import pandas as pd

from .. import evaluate, samples, trainers


def _encode_partition(s, classes):
    return pd.Series(trainers.encode(s.to_numpy(), classes), index=s.index, name="label")


class DaskEngine:
    name = "dask"

    def __init__(self, address=None, workers=2, threads_per_worker=1, memory_limit="4GiB",
                 blocksize="64MB"):
        from dask.distributed import Client, LocalCluster

        self.address = address
        self.blocksize = blocksize
        if address:
            self.cluster = None
            self.client = Client(address)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                        processes=True, memory_limit=memory_limit,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        self.ddf = None
        self.schema = None
        self._rows_by_host = None

    def describe(self):
        info = self.client.scheduler_info()
        ws = info.get("workers", {})
        return {"engine": "dask", "scheduler": self.address or "LocalCluster",
                "workers": len(ws), "threads": sum(w.get("nthreads", 0) for w in ws.values()),
                "memory_limit_per_worker": sorted({w.get("memory_limit") for w in ws.values()})}

    def load(self, files, schema):
        import dask.dataframe as dd

        self.schema = schema
        groups = defaultdict(list)
        for sf in files:
            groups[sf.shape_key].append(sf)
        meta = samples.empty_frame(schema)
        parts = []
        for fs in groups.values():
            first = fs[0]
            cols = samples.usecols(first, schema)
            d = samples.dtypes(schema)
            kw = dict(usecols=cols, dtype={c: d[c] for c in cols},
                      blocksize=None if first.compressed else self.blocksize,
                      compression="gzip" if first.compressed else None)
            host_of_path = None
            if not first.has_host:
                kw["include_path_column"] = "path"
                host_of_path = {}
                for sf in fs:
                    for key in (sf.path, os.path.abspath(sf.path), "file://" + os.path.abspath(sf.path)):
                        host_of_path[key] = sf.host
            ddf = dd.read_csv([sf.path for sf in fs], **kw)
            parts.append(ddf.map_partitions(samples.normalize, schema, host_of_path=host_of_path,
                                            where="a dask partition", meta=meta))
        self.ddf = parts[0] if len(parts) == 1 else dd.concat(parts)

    def class_counts(self):
        c = self.ddf.groupby(["host", "actual"]).size().compute()
        out = c.rename("n").reset_index()
        self._rows_by_host = out.groupby("host")["n"].sum().to_dict()
        return out

    def _rows(self, hosts):
        return self.ddf[self.ddf["host"].isin(list(hosts))]

    def train(self, train_hosts, classes, params):
        d = self._rows(train_hosts)
        x = d[list(self.schema.features)].astype(np.float32)
        y = d["actual"].map_partitions(_encode_partition, list(classes),
                                       meta=pd.Series(dtype=np.int32, name="label"))
        if params.trainer == "xgboost":
            from xgboost import dask as dxgb
            clf = dxgb.DaskXGBClassifier(**params.xgboost(len(classes)))
            clf.client = self.client
            clf.fit(x, y)
            return trainers.xgb_local(clf.get_booster())
        import lightgbm
        # LightGBM's Dask trainer fails on an empty partition ("Input data
        # must be 2 dimensional and non empty"), which the files of held-out
        # hosts leave after the filter: keep the non-empty ones (one more
        # pass over the training rows).
        sizes = x.map_partitions(len).compute()
        keep = [i for i, n in enumerate(sizes) if n > 0]
        x, y = x.partitions[keep], y.partitions[keep]
        clf = lightgbm.DaskLGBMClassifier(client=self.client, **params.lightgbm())
        clf.fit(x, y)
        return clf.to_local()

    def counts(self, model_bytes, hosts):
        feats = list(self.schema.features)
        meta = evaluate.count_frame(samples.empty_frame(self.schema), feats, None)
        c = self._rows(hosts).map_partitions(evaluate.counts_partition, feats, model_bytes,
                                             meta=meta).compute()
        return c.groupby(["host", "workload", "predicted", "actual"], as_index=False)["n"].sum()

    def sample(self, hosts, n, seed):
        total = sum(self._rows_by_host.get(h, 0) for h in hosts)
        d = self._rows(hosts)
        if total > n:
            d = d.sample(frac=min(1.0, 1.2 * n / total), random_state=seed)
        out = d.compute()
        return out if len(out) <= n else out.sample(n=n, random_state=seed)

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
