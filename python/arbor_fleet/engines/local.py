"""The in-process engine: every sample in one pandas frame, the plain
XGBoost / LightGBM trainers. For small fleets and as the reference the
distributed engines are measured against."""

import numpy as np
import pandas as pd

from .. import evaluate, samples, trainers


class LocalEngine:
    name = "local"

    def __init__(self, threads=0):
        self.threads = threads
        self.df = None
        self.schema = None

    def describe(self):
        return {"engine": "local", "threads": self.threads or "default"}

    def load(self, files, schema):
        self.schema = schema
        self.df = samples.read_all(files, schema)

    def class_counts(self):
        return self.df.groupby(["host", "actual"]).size().rename("n").reset_index()

    def _rows(self, hosts):
        return self.df[self.df["host"].isin(hosts)]

    def train(self, train_hosts, classes, params):
        d = self._rows(train_hosts)
        x = d[list(self.schema.features)].to_numpy(dtype=np.float32)
        y = trainers.encode(d["actual"].to_numpy(), classes)
        if params.trainer == "xgboost":
            import xgboost
            m = xgboost.XGBClassifier(**params.xgboost(len(classes)))
        else:
            import lightgbm
            m = lightgbm.LGBMClassifier(**params.lightgbm())
        return m.fit(x, y)

    def counts(self, model_bytes, hosts):
        sess = evaluate.session(model_bytes)
        d = self._rows(hosts)
        parts = [evaluate.count_frame(d.iloc[i:i + evaluate.CHUNK], list(self.schema.features), sess)
                 for i in range(0, max(len(d), 1), evaluate.CHUNK)]
        out = pd.concat(parts, ignore_index=True)
        return out.groupby(["host", "workload", "predicted", "actual"], as_index=False)["n"].sum()

    def sample(self, hosts, n, seed):
        d = self._rows(hosts)
        return d if len(d) <= n else d.sample(n=n, random_state=seed)

    def close(self):
        self.df = None
