"""arbor_fleet: train scx_arbor models on samples pooled from many machines.

Reads `scx_arbor --record` samples of many hosts, trains an XGBoost or
LightGBM classifier in process or on an existing distributed engine (Dask,
Spark) within scx_arbor's walk budget (or distils it with `scx_arbor model
distill`), exports it to ONNX, annotates it with the schema, verifies it
bit-exactly with `scx_arbor model verify --rows` on hosts held out of
training, and writes a report of the cost-weighted score per host and per
workload beside the model. See README.md in this directory.
"""

__version__ = "0.1.0"
