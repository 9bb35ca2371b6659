"""The Spark engine: samples as a Spark dataframe (Spark reads the gzip
files itself), training with xgboost.spark's SparkXGBClassifier (one
XGBoost worker per Spark task slot, barrier mode), scoring with
onnxruntime inside mapInPandas. LightGBM on Spark needs SynapseML's JVM
package, which is not on PyPI: this engine trains XGBoost only."""

from collections import defaultdict
import os
import sys


from .. import evaluate, samples, trainers


class SparkEngine:
    name = "spark"

    def __init__(self, master="local[2]", workers=2, driver_memory="2g"):
        from pyspark.sql import SparkSession

        # Spark's Python workers must run this venv's interpreter, not the system's.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        self.master = master
        self.workers = workers
        self.spark = (SparkSession.builder.master(master).appName("arbor_fleet")
                      .config("spark.driver.memory", driver_memory)
                      .config("spark.ui.enabled", "false")
                      .config("spark.ui.showConsoleProgress", "false")
                      .config("spark.pyspark.python", sys.executable)
                      .config("spark.sql.shuffle.partitions", str(max(2, workers)))
                      .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                      .getOrCreate())
        self.spark.sparkContext.setLogLevel("ERROR")
        self._ship_package()
        self.sdf = None
        self.schema = None
        self._rows_by_host = None

    def _ship_package(self):
        """Executors import arbor_fleet (scoring runs there): ship it as a zip."""
        import shutil
        import tempfile

        pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self._tmp = tempfile.mkdtemp(prefix="arbor-fleet-spark.")
        z = shutil.make_archive(os.path.join(self._tmp, "arbor_fleet"), "zip",
                                root_dir=os.path.dirname(pkg), base_dir=os.path.basename(pkg))
        self.spark.sparkContext.addPyFile(z)

    def describe(self):
        return {"engine": "spark", "master": self.master, "xgboost_workers": self.workers,
                "spark": self.spark.version}

    def load(self, files, schema):
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType

        self.schema = schema
        feats = list(schema.features)
        groups = defaultdict(list)
        for sf in files:
            groups[sf.shape_key].append(sf)
        parts = []
        for fs in groups.values():
            first = fs[0]
            # Header names pick the columns: never a schema by position.
            df = self.spark.read.csv([os.path.abspath(sf.path) for sf in fs], header=True,
                                     inferSchema=False)
            cols = [F.col(f).cast("int").alias(f) for f in feats]
            cols.append(F.col("actual").cast("int").alias("actual"))
            if first.has_host:
                cols.append(F.col("host").cast(StringType()).alias("host"))
            else:
                mapping = {("file://" + os.path.abspath(sf.path)): sf.host for sf in fs}
                m = F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])
                cols.append(m[F.input_file_name()].alias("host"))
            if first.has_workload:
                cols.append(F.coalesce(F.col("workload"), F.lit(samples.NO_WORKLOAD)).alias("workload"))
            else:
                cols.append(F.lit(samples.NO_WORKLOAD).alias("workload"))
            if first.has_schema_version:
                cols.append(F.col("schema_version").cast("int").alias("schema_version"))
            parts.append(df.select(*cols))
        sdf = parts[0]
        for p in parts[1:]:
            sdf = sdf.unionByName(p, allowMissingColumns=True)
        self.sdf = sdf
        self._check()

    def _check(self):
        """The range and schema-version checks the other engines do while reading."""
        from pyspark.sql import functions as F

        feats = list(self.schema.features)
        bad = [F.sum(((F.col(f) < 0) | (F.col(f) > self.schema.feature_max) | F.col(f).isNull())
                     .cast("int")).alias(f) for f in feats]
        bad.append(F.sum(((F.col("actual") < 0) | (F.col("actual") >= len(self.schema.classes))
                          | F.col("actual").isNull()).cast("int")).alias("actual"))
        bad.append(F.sum(F.col("host").isNull().cast("int")).alias("host"))
        if "schema_version" in self.sdf.columns:
            bad.append(F.sum((F.col("schema_version").isNotNull()
                              & (F.col("schema_version") != self.schema.version)).cast("int"))
                       .alias("schema_version"))
        row = self.sdf.agg(*bad).collect()[0].asDict()
        wrong = {k: v for k, v in row.items() if v}
        if wrong:
            raise samples.SampleError(f"rows out of range or unreadable, by column: {wrong}")

    def class_counts(self):
        out = self.sdf.groupBy("host", "actual").count().toPandas().rename(columns={"count": "n"})
        self._rows_by_host = out.groupby("host")["n"].sum().to_dict()
        return out

    def _rows(self, hosts):
        from pyspark.sql import functions as F
        return self.sdf.where(F.col("host").isin(list(hosts)))

    def train(self, train_hosts, classes, params):
        from pyspark.sql import functions as F
        from xgboost.spark import SparkXGBClassifier

        if params.trainer != "xgboost":
            raise ValueError("the spark engine trains xgboost only (LightGBM on Spark is SynapseML, "
                             "a JVM package that is not on PyPI)")
        label = F.lit(None).cast("int")
        for i, c in enumerate(classes):
            label = F.when(F.col("actual") == int(c), F.lit(i)).otherwise(label)
        d = self._rows(train_hosts).withColumn("label", label)
        for f in self.schema.features:
            d = d.withColumn(f, F.col(f).cast("float"))
        p = params.xgboost(len(classes))
        p.pop("random_state", None)
        p.pop("n_jobs", None)
        clf = SparkXGBClassifier(features_col=list(self.schema.features), label_col="label",
                                 num_workers=self.workers, seed=params.seed, **p)
        model = clf.fit(d.repartition(self.workers))
        return trainers.xgb_local(model.get_booster())

    def counts(self, model_bytes, hosts):
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        feats = list(self.schema.features)
        out_schema = StructType([StructField("host", StringType()), StructField("workload", StringType()),
                                 StructField("predicted", LongType()), StructField("actual", LongType()),
                                 StructField("n", LongType())])

        def count(batches):
            sess = evaluate.session(model_bytes)
            for b in batches:
                yield evaluate.count_frame(b, feats, sess)

        c = self._rows(hosts).select(*feats, "actual", "host", "workload").mapInPandas(
            count, out_schema).toPandas()
        return c.groupby(["host", "workload", "predicted", "actual"], as_index=False)["n"].sum()

    def sample(self, hosts, n, seed):
        total = sum(self._rows_by_host.get(h, 0) for h in hosts)
        d = self._rows(hosts).select(*self.schema.features, "actual", "host", "workload")
        if total > n:
            d = d.sample(fraction=min(1.0, 1.2 * n / total), seed=seed)
        out = d.toPandas()
        out = out if len(out) <= n else out.sample(n=n, random_state=seed)
        return out.reset_index(drop=True)

    def close(self):
        import shutil

        self.spark.stop()
        shutil.rmtree(self._tmp, ignore_errors=True)


