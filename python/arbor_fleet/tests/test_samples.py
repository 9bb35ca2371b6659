"""Reading many hosts' files: today's --record CSV and the proposed
directory-mode rows, plain and gzip, host names, and refusals."""

import gzip
import os

import pandas as pd
import pytest

from arbor_fleet import samples, synth

V1 = ("ts_ns,pid,generation,last_burst_us,ewma_burst_us,ewma_sleep_us,wake_rate_hz,"
      "voluntary_permille,weight,nr_cpus_allowed,runnable_load,predicted,actual,burst_us,truncated")


def write(path, text, gz=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = text.encode()
    if gz:
        data = gzip.compress(data)
    with open(path, "wb") as fh:
        fh.write(data)


def test_fixtures_are_what_record_writes(schema, fixture_schema, fixture_glob):
    """The recorded hosts carry --record's header of feature schema 1
    (src/sched/samples.rs csv_header) plus the `workload` column
    make-fixtures.sh appends; schema 1's features are the first of this
    binary's."""
    for f in samples.discover(fixture_glob, schema):
        assert ",".join(f.header) == V1 + ",workload", f.path
    assert V1.split(",")[3:11] == list(fixture_schema.features)
    assert list(schema.features)[:8] == list(fixture_schema.features)


def test_files_of_an_older_schema_train_on_the_features_all_files_have(schema, tmp_path):
    """A file recorded by an older scx_arbor lacks the later features: the
    set is read on the features every file has; a file with none of them
    is refused."""
    newer = list(schema.features)
    head = "ts_ns,pid,generation," + ",".join(newer) + ",predicted,actual,burst_us,truncated"
    row = "1,2,3," + ",".join("7" for _ in newer) + ",1,1,500,0"
    write(str(tmp_path / "new" / "a.csv"), head + "\n" + row + "\n")
    files = samples.discover(str(tmp_path / "*" / "*.csv"), schema)
    assert samples.common_schema(files, schema) == schema
    write(str(tmp_path / "old" / "b.csv"), V1 + "\n7,42,3,1,2,3,4,5,100,2,0,4,2,3000,0\n")
    files = samples.discover(str(tmp_path / "*" / "*.csv"), schema)
    narrow = samples.common_schema(files, schema)
    assert list(narrow.features) == V1.split(",")[3:11]
    assert narrow.version == schema.version
    df = samples.read_all(files, narrow)
    assert list(df.columns) == list(narrow.features) + ["actual", "host", "workload"]
    assert sorted(df["ewma_burst_us"]) == [2, 7]


def test_hosts_from_directories_and_columns_plain_and_gzip(schema, tmp_path):
    write(str(tmp_path / "web1" / "a.csv"), V1 + "\n7,42,3,1,2,3,4,5,100,2,0,4,2,3000,0\n")
    write(str(tmp_path / "web2" / "b.csv.gz"), V1 + "\n8,43,3,10,20,30,40,50,100,2,1,4,0,30,0\n", gz=True)
    v2 = V1 + ",host,kernel,schema_version,workload\n" + \
        "9,44,5,1,1,1,1,1,100,2,0,1,1,500,0,db7,7.3.4,1,oltp\n" + \
        "10,45,5,2,2,2,2,2,100,2,0,1,3,9000,0,db8,7.3.4,1,oltp\n"
    write(str(tmp_path / "collected" / "arbor-db-20261201T000000Z-000001.csv.gz"), v2, gz=True)
    # A file without a newline at the end, and an extra column, still read.
    write(str(tmp_path / "web3" / "c.csv"), "extra," + V1 + "\nx,11,46,1,5,5,5,5,5,100,2,0,4,1,600,0")
    files = samples.discover(str(tmp_path / "**" / "*.csv*"), schema)
    assert [f.compressed for f in files] == [True, False, True, False]
    schema = samples.common_schema(files, schema)
    df = samples.read_all(files, schema).sort_values("ewma_burst_us").reset_index(drop=True)
    assert list(df["host"]) == ["db7", "db8", "web1", "web3", "web2"]
    assert list(df["workload"]) == ["oltp", "oltp", "-", "-", "-"]
    assert list(df["actual"]) == [1, 3, 2, 1, 0]
    assert list(df.columns) == list(schema.features) + ["actual", "host", "workload"]
    assert all(len(f.sha256) == 64 for f in files)


@pytest.mark.parametrize("body,err", [
    ("ts_ns,pid,actual\n1,2,3\n", "no column last_burst_us"),
    (V1 + "\n7,42,3,1,2,3,4,5,100,2,0,4,7,3000,0\n", "actual outside 0..3"),
    (V1 + "\n7,42,3,1,16777216,3,4,5,100,2,0,4,1,3000,0\n", "ewma_burst_us outside 0..16777215"),
    (V1 + ",host,kernel,schema_version\n7,42,3,1,2,3,4,5,100,2,0,4,1,3000,0,h,k,99\n",
     "schema version 99"),
])
def test_refusals_name_the_file_and_the_reason(schema, tmp_path, body, err):
    p = str(tmp_path / "h" / "bad.csv")
    write(p, body)
    with pytest.raises(samples.SampleError, match=err):
        files = samples.discover(p, schema)
        samples.read_all(files, samples.common_schema(files, schema))


def test_no_file_is_an_error(schema, tmp_path):
    with pytest.raises(samples.SampleError, match="no sample file"):
        samples.discover(str(tmp_path / "*.csv"), schema)


def test_fixture_hosts_read_the_same_in_dask_as_in_process(fixture_schema, fixture_glob):
    schema = fixture_schema
    from arbor_fleet.engines.dask_engine import DaskEngine
    files = samples.discover(fixture_glob, schema)
    local = samples.read_all(files, schema)
    assert set(local["host"]) == {"host-a", "host-b", "host-c"}
    assert (local.groupby("host")["workload"].nunique() >= 2).all()
    eng = DaskEngine(workers=2)
    try:
        eng.load(files, schema)
        # One partition per compressed file: never the whole set in one frame.
        assert eng.ddf.npartitions == len(files)
        got = eng.ddf.compute()
    finally:
        eng.close()
    key = list(schema.features) + ["actual", "host", "workload"]
    a = local.sort_values(key).reset_index(drop=True)
    b = got.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.astype({"host": object, "workload": object}),
                                  b.astype({"host": object, "workload": object}), check_dtype=False)


def test_synthetic_fleet_uses_the_proposed_format(arbor_bin, fixture_schema, fixture_glob, tmp_path):
    schema = fixture_schema
    from conftest import run_cli
    p = run_cli(["synth", "--samples", fixture_glob, "--rows", "30000", "--hosts", "6",
                 "--rows-per-file", "2000", "--out", str(tmp_path)], arbor_bin)
    assert p.returncode == 0, p.stderr
    files = samples.discover(str(tmp_path / "*" / "*.csv.gz"), schema)
    assert all(f.has_host and f.has_schema_version for f in files)
    assert list(files[0].header) == synth.v2_columns(schema)
    df = samples.read_all(files, schema)
    assert len(df) == 30000 and df["host"].nunique() == 6
    # Drawn per host: each synthetic host's workloads are its source's.
    src = samples.read_all(samples.discover(fixture_glob, schema), schema)
    for h, g in df.groupby("host"):
        base = h.rsplit("-s", 1)[0]
        assert set(g["workload"]) <= set(src.loc[src["host"] == base, "workload"])
