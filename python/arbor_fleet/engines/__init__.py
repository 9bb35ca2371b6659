"""Engines: where the samples are read, the booster trained and the
held-out hosts scored. Each module exposes one class with the same methods:

    load(files, schema)                 read lazily (or not, for local)
    class_counts()                      DataFrame host, actual, n
    train(train_hosts, classes, params) a local XGBClassifier / LGBMClassifier
    counts(model_bytes, hosts)          DataFrame host, workload, predicted, actual, n
    sample(hosts, n, seed)              pandas frame of at most n rows of those hosts
    close()
"""

ENGINES = ("local", "dask", "spark")


def make(name, **opts):
    if name == "local":
        from .local import LocalEngine
        return LocalEngine(**opts)
    if name == "dask":
        from .dask_engine import DaskEngine
        return DaskEngine(**opts)
    if name == "spark":
        from .spark_engine import SparkEngine
        return SparkEngine(**opts)
    raise ValueError(f"unknown engine {name}; have {', '.join(ENGINES)}")
