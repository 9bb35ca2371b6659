"""`arbor_fleet train`: samples -> engine -> booster -> ONNX -> annotate ->
(distil) -> score on held-out hosts -> provenance -> verify -> report."""

import contextlib
import datetime
import os
import tempfile
import time

import numpy as np
import onnx
import pandas as pd

from . import __version__, budget, evaluate, export, report, samples, split, trainers
from .arbor import Arbor, find_binary
from .samples import log
from .engines import make as make_engine


class Timer:
    """Seconds spent per named step: `with tm("train"): ...`."""

    def __init__(self):
        self.t = {}

    @contextlib.contextmanager
    def __call__(self, name):
        t0 = time.monotonic()
        try:
            yield
        finally:
            self.t[name] = self.t.get(name, 0.0) + time.monotonic() - t0


def write_rows_csv(df, features, path, extra):
    """A CSV scx_arbor reads (`--rows`, `--csv`): the features and `extra` columns."""
    out = pd.DataFrame({f: df[f].to_numpy() for f in features})
    for k, v in extra.items():
        out[k] = np.asarray(v)
    out.to_csv(path, index=False)


def run(a):
    arbor = Arbor(find_binary(a.scx_arbor))
    schema = arbor.schema()
    tm = Timer()
    out = os.path.abspath(a.out)
    stem = out[:-5] if out.endswith(".onnx") else out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    work = tempfile.mkdtemp(prefix="arbor-fleet.", dir=os.path.dirname(out))

    with tm("discover_and_hash"):
        files = samples.discover(a.samples, schema)
        schema = samples.common_schema(files, schema)
    feats = list(schema.features)
    log(f"{len(files)} sample files, {sum(f.bytes for f in files):,} bytes")
    opts = {}
    if a.engine == "dask":
        opts = dict(address=a.dask, workers=a.workers, memory_limit=a.dask_memory_limit)
    elif a.engine == "spark":
        opts = dict(master=a.spark_master, workers=a.workers)
    elif a.engine == "local":
        opts = dict(threads=a.threads)
    with tm("engine_start"):
        eng = make_engine(a.engine, **opts)
    try:
        with tm("read_and_count"):
            eng.load(files, schema)
            cc = eng.class_counts()
        hosts = sorted(cc["host"].unique())
        rows_by_host = cc.groupby("host")["n"].sum().to_dict()
        log(f"{int(cc['n'].sum()):,} rows from hosts {', '.join(hosts)}")
        held = split.choose_holdout(hosts, a.holdout_hosts.split(",") if a.holdout_hosts else None,
                                    a.holdout_share, a.seed)
        train_hosts = [h for h in hosts if h not in held]
        present = cc[cc["host"].isin(train_hosts)]
        classes = sorted(int(c) for c in present.loc[present["n"] > 0, "actual"].unique())
        if len(classes) < 2:
            raise ValueError(f"the training hosts hold only class {classes}: nothing to learn")
        shape = budget.Shape(a.rounds, a.max_depth, len(classes))
        over = budget.problems(shape, schema)
        if over and not a.distill:
            fit = budget.most_rounds(a.max_depth, len(classes), schema)
            raise ValueError(f"{a.rounds} rounds of depth {a.max_depth} on {len(classes)} classes may "
                             f"exceed scx_arbor's limits ({'; '.join(over)}): use at most {fit} "
                             f"rounds of this depth, or --distill")
        params = trainers.Params(trainer=a.trainer, rounds=a.rounds, max_depth=a.max_depth,
                                 learning_rate=a.learning_rate, seed=a.seed, threads=a.threads)
        log(f"training {a.trainer} on {a.engine}: hosts {', '.join(train_hosts)} "
            f"({sum(rows_by_host[h] for h in train_hosts):,} rows), classes {classes}, held out "
            f"{', '.join(held)}")
        with tm("train"):
            model = eng.train(train_hosts, classes, params)

        with tm("export"):
            onx = export.relabel(export.to_onnx(model, a.trainer, len(feats)), classes)
            raw = os.path.join(work, "raw.onnx")
            export.save(onx, raw)
            annotated = os.path.join(work, "annotated.onnx")
            arbor.annotate(raw, annotated, feats, over_limits_ok=a.distill)
        distill_text = None
        final_src = annotated
        if a.distill:
            with tm("distill"):
                d = eng.sample(train_hosts, a.distill_rows, a.seed)
                dcsv = os.path.join(work, "distill.csv")
                write_rows_csv(d, feats, dcsv, {"actual": d["actual"].to_numpy()})
                small = os.path.join(work, "distilled.onnx")
                distill_text = arbor.distill(annotated, dcsv, small, a.distill_max_depth,
                                             a.distill_min_samples_leaf, seed=a.seed)
                final_src = small
            log("distilled:\n" + distill_text.strip())
        summary = arbor.inspect_summary(final_src)  # the loader accepts it (raises if not)
        model_bytes = export.load_bytes(final_src)

        with tm("score"):
            counts = eng.counts(model_bytes, hosts)
        roles = {h: ("holdout" if h in held else "train") for h in hosts}
        scores = report.score_tables(evaluate.matrices(counts), roles)
        log(f"held-out score {scores['holdout']['score']:.2f} on {scores['holdout']['decisions']:,} "
            f"decisions (training hosts {scores['train']['score']:.2f})")

        created = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
        file_list = samples.provenance(files)
        prov = {
            "version": __version__,
            "created": created,
            "engine": eng.describe(),
            "trainer": {"name": a.trainer, "version": trainers.versions()[a.trainer],
                        "params": params.__dict__},
            "fit": "distill" if a.distill else "budget",
            "training_files": file_list,
            "train_hosts": train_hosts,
            "holdout_hosts": held,
            "score_holdout": round(scores["holdout"]["score"], 4),
            "balanced_accuracy_holdout": round(scores["holdout"]["balanced_accuracy"], 4),
            "scx_arbor": arbor.version(),
        }
        with tm("write"):
            final = export.set_provenance(onnx.load(final_src), prov)
            export.save(final, out)
        model_bytes = export.load_bytes(out)

        with tm("verify"):
            v = eng.sample(held, a.verify_rows, a.seed + 1)
            labels = evaluate.predict_frame(evaluate.session(model_bytes), v, feats)
            vcsv = stem + ".verify.csv"
            write_rows_csv(v, feats, vcsv, {"label": labels})
            vtext = arbor.verify_rows(out, vcsv)
        log(f"scx_arbor model verify: {len(v):,} held-out rows agree with onnxruntime")

        r = {
            "model": {"path": out, "sha256": export.sha256_file(out), "bytes": os.path.getsize(out),
                      "summary": next((" ".join(line.split()) for line in summary.splitlines()
                                       if line.startswith("trees:")), summary.strip())},
            "created": created,
            "arbor_fleet": __version__,
            "scx_arbor": prov["scx_arbor"],
            "engine": prov["engine"],
            "trainer": prov["trainer"],
            "fit": prov["fit"],
            "samples": {"pattern": a.samples, "files": file_list, "rows": int(cc["n"].sum())},
            "hosts": {h: {"rows": int(rows_by_host[h]), "role": roles[h]} for h in hosts},
            "classes": classes,
            "train_hosts": train_hosts,
            "holdout_hosts": held,
            "verify": {"rows": len(v), "csv": vcsv, "result": vtext.strip().splitlines()[-1],
                       "output": vtext},
            "distill": distill_text,
            "scores": scores,
            "timings_s": {k: round(x, 3) for k, x in tm.t.items()},
        }
        report.write(r, stem + ".report.json", stem + ".report.md")
        log(f"wrote {out}, {stem}.report.json, {stem}.report.md")
        return r
    finally:
        eng.close()
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)


def add_arguments(p):
    p.add_argument("--samples", required=True, help="glob of sample files (quote it; ** recurses)")
    p.add_argument("--engine", choices=("local", "dask", "spark"), default="local")
    p.add_argument("--dask", metavar="ADDRESS", help="a running Dask scheduler (default: a LocalCluster)")
    p.add_argument("--dask-memory-limit", default="4GiB", help="per LocalCluster worker")
    p.add_argument("--spark-master", default="local[2]", metavar="URL")
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers / XGBoost Spark workers")
    p.add_argument("--threads", type=int, default=0, help="local engine threads (0: library default)")
    p.add_argument("--trainer", choices=trainers.TRAINERS, default="xgboost")
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--max-depth", type=int, default=5)
    p.add_argument("--learning-rate", type=float, default=0.3)
    p.add_argument("--distill", action="store_true",
                   help="train beyond the walk budget and distil with `scx_arbor model distill`")
    p.add_argument("--distill-rows", type=int, default=200_000)
    p.add_argument("--distill-max-depth", type=int, default=8)
    p.add_argument("--distill-min-samples-leaf", type=int, default=20)
    p.add_argument("--holdout-hosts", help="comma-separated hosts to hold out")
    p.add_argument("--holdout-share", type=float, default=0.25)
    p.add_argument("--verify-rows", type=int, default=20_000,
                   help="held-out rows `model verify --rows` checks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="the ONNX file; the report goes beside it")
    p.add_argument("--scx-arbor", help="the scx_arbor binary (default $ARBOR_BIN, then PATH)")


