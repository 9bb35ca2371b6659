"""The boosters' hyper-parameters, the same for every engine, and turning
whatever an engine trained into a local scikit-learn-style model that
onnxmltools exports."""

from dataclasses import dataclass

import numpy as np

TRAINERS = ("xgboost", "lightgbm")


@dataclass(frozen=True)
class Params:
    trainer: str = "xgboost"
    rounds: int = 20
    max_depth: int = 5
    learning_rate: float = 0.3
    max_bin: int = 256
    seed: int = 0
    threads: int = 0  # per worker; 0 = the library's default

    def xgboost(self, n_classes):
        p = dict(n_estimators=self.rounds, max_depth=self.max_depth,
                 learning_rate=self.learning_rate, max_bin=self.max_bin, tree_method="hist",
                 random_state=self.seed)
        if self.threads:
            p["n_jobs"] = self.threads
        return p

    def lightgbm(self):
        p = dict(n_estimators=self.rounds, max_depth=self.max_depth,
                 num_leaves=2 ** self.max_depth, learning_rate=self.learning_rate,
                 max_bin=self.max_bin - 1, random_state=self.seed, verbose=-1,
                 deterministic=True, force_row_wise=True)
        if self.threads:
            p["n_jobs"] = self.threads
        return p


def encode(actual, classes):
    """Labels 0..k-1 in the order of `classes` (the classes present)."""
    return np.searchsorted(np.asarray(classes), np.asarray(actual)).astype(np.int32)


def xgb_local(booster):
    """A local XGBClassifier from any XGBoost booster (Dask, Spark)."""
    import xgboost

    booster = booster.copy()
    # Column names (from a dataframe) would reach the export, which wants f0, f1, ...
    booster.feature_names = None
    booster.feature_types = None
    clf = xgboost.XGBClassifier()
    clf.load_model(bytearray(booster.save_raw("json")))
    return clf


def versions():
    import lightgbm
    import xgboost

    return {"xgboost": xgboost.__version__, "lightgbm": lightgbm.__version__}
